"""Hostile input: structure-aware and raw-byte fuzzing of the spec pipeline and the CLI.

Property, for every input: either it is valid, renders, and every inline policy is accepted
by IAM's grammar (moto ``put_role_policy``) within IAM's limits, granting no escalation the
operator did not approve; or it is rejected with :class:`SpecInvalid` whose every error has
a field path. Anything else (another exception type, a traceback) fails the test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import rel_oracle
import rel_strategies
import rel_support
from hypothesis import given, settings
from moto import mock_aws

from kops_iam.application.settings import approval_for
from kops_iam.domain.errors import SpecInvalid
from kops_iam.domain.options import Options
from kops_iam.domain.parsing import MAX_SPEC_BYTES
from kops_iam.domain.pipeline import validate_spec
from kops_iam_tools import cli

PART = "hostile_input"
PROFILE = "reliability-long" if rel_support.LONG else "reliability-fast"
STRUCTURED = rel_support.budget(300, 10_000)
RAW = rel_support.budget(150, 3_000)
CLI_CASES = rel_support.budget(100, 1_000)


@pytest.fixture(scope="module")
def iam() -> Iterator[Any]:
    """One in-process moto IAM and one client for the whole module (fast: ~2 ms per put)."""
    with mock_aws():
        client = boto3.Session(region_name="us-east-1").client("iam")
        client.create_role(
            RoleName=rel_oracle.FUZZ_ROLE,
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        yield client


def _tally(kind: str, verdict: rel_oracle.Verdict) -> None:
    rel_support.record(PART, f"{kind}.tried")
    rel_support.record(PART, f"{kind}.{'accepted' if verdict.accepted else 'rejected'}")
    if verdict.accepted:
        assert verdict.plan is not None
        rel_support.record(
            PART,
            "iam_put_role_policy_accepted",
            sum(len(role.inline_policies) for role in verdict.plan.roles.values()),
        )


def _judge(kind: str, data: bytes, options: Options, iam: Any) -> rel_oracle.Verdict | None:
    """Judge; a case hitting an already reported bug is counted (``None``), not failed."""
    try:
        return rel_oracle.judge(data, options, iam)
    except rel_oracle.KnownFinding as finding:
        rel_support.record(PART, f"{kind}.tried")
        rel_support.record(PART, f"known_finding.{finding.name}")
        return None


def test_samples_are_accepted_by_the_oracle(iam: Any) -> None:
    # Given the valid samples, When judged, Then each is accepted (the oracle is not vacuous)
    # (with what an operator approves for them: the bastion sample's ssm:StartSession)
    options = Options(
        account_id=rel_strategies.ACCOUNT, allowed_actions=frozenset({"ssm:StartSession"})
    )
    for name, data in rel_strategies.SAMPLE_BYTES.items():
        verdict = rel_oracle.judge(data, options, iam)
        assert verdict.accepted, (name, verdict.errors)


def test_oracle_catches_an_escalation_and_a_pathless_error() -> None:
    # Given a statement granting iam:PassRole through a wildcard, Then the independent
    # matcher sees it (so an accepted plan holding one would fail the property)
    assert rel_oracle.escalations_allowed({"Effect": "Allow", "Action": "iam:Pa*"}) == {
        "iam:PassRole"
    }
    assert "iam:PassRole" in rel_oracle.escalations_allowed(
        {"Effect": "Allow", "NotAction": ["s3:*"]}
    )
    # And a rejection of a parsed document without a field path breaks the property
    from kops_iam.domain.errors import Issue

    with pytest.raises(AssertionError, match="without a field path"):
        rel_oracle.check_rejection(b"kind: Cluster\n", SpecInvalid([Issue("", "bad")]))


def test_oracle_catches_characters_and_arns_iam_would_refuse_in_an_accepted_plan() -> None:
    # Given an accepted plan, tampered as a buggy core could produce it
    import dataclasses

    from kops_iam.domain.pipeline import plan_spec

    options = Options(account_id=rel_strategies.ACCOUNT)
    plan = plan_spec(rel_strategies.SAMPLE_BYTES["kops-page-example.yaml"], options)
    role = plan.roles["node"]
    name = next(iter(role.inline_policies))
    document = json.loads(json.dumps(role.inline_policies[name]))
    document["Statement"][0]["Resource"] = ["arn:aws:s3:::state/prod\u200b.example.com/*"]
    bad_policy = dataclasses.replace(role, inline_policies={name: document})
    bad_arn = dataclasses.replace(
        role, managed_policy_arns=("arn:aws:iam::123456789012:policy/\u0435xtras",)
    )
    # Then the oracle refuses each
    for tampered in (bad_policy, bad_arn):
        broken = dataclasses.replace(plan, roles={**plan.roles, "node": tampered})
        with pytest.raises(AssertionError):
            rel_oracle.check_plan(broken, options, None)


@settings(settings.get_profile(PROFILE), max_examples=STRUCTURED)
@given(case=rel_strategies.hostile_specs())
def test_mutated_specs_are_valid_and_sound_or_rejected_with_paths(
    iam: Any, case: rel_strategies.Case
) -> None:
    # Given a mutated sample spec, When the pipeline runs, Then accepted-and-sound or rejected
    with rel_support.timed(PART):
        verdict = _judge("structured", case.data, case.options, iam)
    if verdict is not None:
        _tally("structured", verdict)
    for mutation in case.mutations:
        rel_support.record(PART, f"mutation.{mutation.split('(')[0]}")


@settings(settings.get_profile(PROFILE), max_examples=RAW)
@given(data=rel_strategies.raw_inputs())
def test_raw_bytes_are_valid_and_sound_or_rejected_with_paths(iam: Any, data: bytes) -> None:
    # Given arbitrary bytes or a byte-mutated sample, Then accepted-and-sound or rejected
    with rel_support.timed(PART):
        verdict = _judge("raw_bytes", data, Options(account_id=rel_strategies.ACCOUNT), iam)
    if verdict is not None:
        _tally("raw_bytes", verdict)


def run_cli(argv: list[str]) -> tuple[int, str]:
    """Run the CLI in-process; return its exit code and everything it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse usage errors exit 2
            code = int(exc.code or 0)
    return code, out.getvalue() + err.getvalue()


def _raw_case(data: bytes) -> rel_strategies.Case:
    return rel_strategies.Case(data, "raw", (), Options(account_id=rel_strategies.ACCOUNT))


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli") / "config"


@settings(settings.get_profile(PROFILE), max_examples=CLI_CASES)
@given(case=rel_strategies.hostile_specs() | rel_strategies.raw_inputs().map(_raw_case))
def test_cli_validate_exits_0_or_1_without_traceback_and_agrees_with_the_core(
    spec_file: Path, case: rel_strategies.Case
) -> None:
    # Given a hostile spec file
    spec_file.write_bytes(case.data)
    argv = ["validate", "--account-id", rel_strategies.ACCOUNT]
    for action in sorted(case.options.allowed_actions):
        argv += ["--allow-action", action]
    if case.options.permissions_boundary:
        argv += ["--permissions-boundary", case.options.permissions_boundary]
    # When `kops-iam validate` runs on it
    with rel_support.timed(PART):
        code, output = run_cli([*argv, str(spec_file)])
    # Then it exits 0 or 1, prints no traceback, and says what the core says
    assert code in (0, 1), (code, output)
    assert "Traceback" not in output, output
    try:
        # the CLI's refusals name its own flags
        validate_spec(case.data, dataclasses.replace(case.options, approval=approval_for("cli")))
        expected = 0
    except SpecInvalid as exc:
        expected = 1
        if len(case.data) > MAX_SPEC_BYTES:  # the CLI reads no further than the cap + 1
            assert f"{spec_file}: the file is " in output and "over the limit" in output
        else:
            for issue in exc.errors:
                assert f"{spec_file}: {issue}" in output
    assert code == expected, output
    rel_support.record(PART, "cli.tried")
    rel_support.record(PART, f"cli.exit_{code}")
