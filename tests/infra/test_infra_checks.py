"""cdk-nag (AwsSolutions) and cfn-lint on the synthesized templates of both bucket modes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint
from infra_support import Synthesized, context_with

from infra.nag import acknowledge

#: Deliberately ignored: CDK writes explicit DependsOn next to GetAtt (docs/adr/0013).
CFN_LINT_IGNORED = ["W3005"]

#: Every acknowledged finding (rule id, detail) per bucket mode. A new one must be added
#: here on purpose, with its reason next to the construct.
COMMON = {
    "AwsSolutions-SQS3",
    # the drift snapshot bucket: one object the function alone rewrites (docs/adr/0117)
    "AwsSolutions-S1",
    "AwsSolutions-L1",
    "AwsSolutions-IAM5[Resource::*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:*:<AWS::AccountId>:key/*]",
    # kops names, read at any path (written at / only when the operator allows it)
    *(
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:{kind}/{p}.*]"
        for kind in ("role", "instance-profile")
        for p in ("masters", "nodes", "bastions", "*/masters", "*/nodes", "*/bastions")
    ),
    # everything under kops-iam's own path (docs/adr/0061)
    *(
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:{kind}/kops-iam/*]"
        for kind in ("role", "instance-profile")
    ),
}
OWN_ONLY = {
    "AwsSolutions-IAM5[Resource::<SpecsBucketA7588205.Arn>/*/config]",
    "AwsSolutions-IAM5[Resource::<SpecsBucketA7588205.Arn>/*/instancegroup/*]",
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    "AWSLambdaBasicExecutionRole]",
}
EXISTING_ONLY = {
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::my-kops-state-store/*/config]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::my-kops-state-store/*/instancegroup/*]",
}


def _report(deployed: Synthesized) -> dict[str, object]:
    [plugin] = deployed.report["pluginReports"]
    assert plugin["pluginName"] == "AwsSolutions"
    return dict(plugin)


def test_cdk_nag_passes_with_no_open_finding(deployment: Synthesized) -> None:
    report = _report(deployment)
    assert report["conclusion"] == "success"
    assert report["violations"] == []


def test_every_acknowledgement_is_expected_and_has_a_reason(
    own_bucket: Synthesized, existing_bucket: Synthesized
) -> None:
    for deployed, expected in (
        (own_bucket, COMMON | OWN_ONLY),
        (existing_bucket, COMMON | EXISTING_ONLY),
    ):
        suppressed = _report(deployed)["suppressedViolations"]
        assert isinstance(suppressed, list)
        # The log-group stream wildcard's id carries a generated logical id: match by prefix.
        names = {
            v["ruleName"] for v in suppressed if ":log-group:<ReconcilerLog" not in v["ruleName"]
        }
        assert names == expected
        for violation in suppressed:
            assert len(violation["reason"].split()) >= 8, violation["ruleName"]


def test_an_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    # Given the app plus one resource breaking an AwsSolutions rule (a queue without TLS-only)
    from aws_cdk import Stack, aws_sqs

    from infra.app import build_app

    app = build_app(context_with(), outdir=str(tmp_path))
    aws_sqs.Queue(Stack(app, "Extra"), "Plain", encryption=aws_sqs.QueueEncryption.SQS_MANAGED)

    # When it is synthesized, Then synthesis fails and names the rule
    with pytest.raises(Exception, match="AwsSolutions-SQS4"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert "AwsSolutions-SQS4" in rules


def test_an_acknowledgement_needs_a_reason() -> None:
    from aws_cdk import App

    with pytest.raises(ValueError, match="needs a reason"):
        acknowledge(App(), "AwsSolutions-S1", "  ")


def test_cfn_lint_passes(deployment: Synthesized) -> None:
    matches = lint(
        json.dumps(deployment.template),
        config=ManualArgs(ignore_checks=CFN_LINT_IGNORED, regions=["us-east-1", "eu-west-1"]),
    )
    assert [str(m) for m in matches] == []
