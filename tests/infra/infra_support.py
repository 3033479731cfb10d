"""Helpers for the infrastructure tests: context, synthesis and template access.

Synthesis runs cdk-nag (an unacknowledged finding makes it raise). Nothing here needs AWS
or Docker. Imported by ``conftest`` and the test modules (a unique module name, so it never
collides with another directory's ``conftest``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the ``infra`` package lives at the top of the repo

# As the Makefile does: quiet jsii, no CDK phoning home.
for _key, _value in {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "CDK_DISABLE_VERSION_CHECK": "1",
}.items():
    os.environ.setdefault(_key, _value)

#: An existing-bucket deployment exercising every optional setting.
EXISTING_BUCKET = "my-kops-state-store"
EXISTING_CONTEXT: dict[str, Any] = {
    "kops-iam:existingBucketName": EXISTING_BUCKET,
    "kops-iam:existingBucketKmsKeyArn": (
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    ),
    "kops-iam:permissionsBoundaryArn": "arn:aws:iam::123456789012:policy/kops-boundary",
    "kops-iam:allowedActions": "iam:PassRole,ec2:RunInstances",
    "kops-iam:unknownActions": "error",
    "kops-iam:knownActions": ["aidevops:GetAsset"],
    "kops-iam:allowedManagedPolicyArns": [
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "arn:aws:iam::123456789012:policy/kops-extra",
    ],
    "kops-iam:mode": "plan",
    "kops-iam:adoptExistingRoles": "true",
    "kops-iam:retainOnDelete": True,
    "kops-iam:driftSchedule": "rate(30 minutes)",
    "kops-iam:driftConcurrency": "3",
    "kops-iam:driftRead": "per-role",
    "kops-iam:eventRead": "per-role",
    "kops-iam:auditBusName": "kops-audit",
    "kops-iam:auditArchiveRetentionDays": "0",
    "kops-iam:auditLogRetentionDays": 3653,
    "kops-iam:logRetentionDays": 14,
    "kops-iam:alarmEmail": "ops@example.com",
    "kops-iam:reservedConcurrency": "5",
}


def cdk_json_context() -> dict[str, Any]:
    """The context ``cdk.json`` gives the CLI (feature flags and any ``kops-iam:*`` keys)."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def context_with(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``cdk.json``'s context, bundling skipped, plus ``overrides``."""
    return {**cdk_json_context(), "aws:cdk:bundling-stacks": [], **(overrides or {})}


@dataclass(frozen=True)
class Synthesized:
    """One synthesized deployment: the template and cdk-nag's validation report."""

    template: dict[str, Any]
    report: dict[str, Any]
    outdir: Path

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Resources of one CloudFormation type, by logical id."""
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }

    def only(self, resource_type: str) -> dict[str, Any]:
        """Properties of the single resource of ``resource_type``."""
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.values())).get("Properties", {})

    def logical_id(self, resource_type: str, prefix: str) -> str:
        """Logical id of the one ``resource_type`` whose id starts with ``prefix``."""
        matches = [i for i in self.resources(resource_type) if i.startswith(prefix)]
        assert len(matches) == 1, f"{resource_type} {prefix}*: {matches}"
        return matches[0]


def synthesize(overrides: Mapping[str, Any] | None, outdir: Path) -> Synthesized:
    """Build and synthesize the app (cdk-nag included) into ``outdir``."""
    from infra.app import build_app

    build_app(context_with(overrides), outdir=str(outdir)).synth()
    return load(outdir)


def load(outdir: Path) -> Synthesized:
    """Read a cloud assembly written by :func:`synthesize`."""
    from infra.stack import STACK_NAME

    return Synthesized(
        template=json.loads((outdir / f"{STACK_NAME}.template.json").read_text()),
        report=json.loads((outdir / "validation-report.json").read_text()),
        outdir=outdir,
    )


#: The resolution the fake pip reports: the function's closure, the runtime's SDK included.
REPORT = [
    ("aws_lambda_powertools", "3.1.0"),
    ("aws-xray-sdk", "2.14.0"),
    ("boto3", "1.35.0"),
    ("botocore", "1.35.0"),
    ("jmespath", "1.0.1"),
    ("pydantic", "2.9.0"),
    ("python-dateutil", "2.9.0"),
    ("PyYAML", "6.0.2"),
    ("s3transfer", "0.10.0"),
    ("six", "1.16.0"),
    ("urllib3", "2.2.0"),
]


class FakePip:
    """Records pip invocations; writes a resolution report or an installed tree."""

    def __init__(self, payload_bytes: int = 10) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.payload_bytes = payload_bytes

    def __call__(self, *args: str) -> None:
        self.calls.append(args)
        for arg in args:
            if arg.startswith("--report="):
                install = [{"metadata": {"name": n, "version": v}} for n, v in REPORT]
                Path(arg.removeprefix("--report=")).write_text(json.dumps({"install": install}))
            if arg.startswith("--target="):
                target = Path(arg.removeprefix("--target="))
                (target / "bin").mkdir(parents=True)
                (target / "bin" / "some-script").write_text("#!/bin/sh\n")
                (target / "yaml").mkdir()
                (target / "yaml" / "__init__.py").write_bytes(b"x" * self.payload_bytes)
