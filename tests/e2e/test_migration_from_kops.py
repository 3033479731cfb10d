"""The migration walk-through of docs/migrate-from-kops.md, step by step, on the embedded AWS.

A cluster whose IAM kops made (roles, inline policies, instance profiles at path ``/``, kops'
tags) moves to kops-iam without a moment where its instances lose a permission: kops is
told to leave IAM alone (lifecycle overrides, not emulated here: kops is not part of the
emulator), ``kops-iam plan`` shows the adoption first, the function adopts the roles in
place, and from then on edits of the spec reach IAM through the state store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from spec_builders import SAMPLES
from support.served import ServedWorld as World
from support.served import served_world

from kops_iam.aws.audit import DetailType
from kops_iam.domain.naming import OWNERSHIP_TAG_KEY, OWNERSHIP_TAG_VALUE
from kops_iam.domain.pipeline import plan_spec
from kops_iam_tools.cli import main
from kops_iam_tools.emulator import FunctionConfig, Runner

SPEC = SAMPLES / "kops-page-example.yaml"
CLUSTER = "example.k8s.dev"
ROLES = {f"masters.{CLUSTER}", f"nodes.{CLUSTER}"}


def kops_made_the_roles(world: World, spec: bytes) -> None:
    """IAM as ``kops update cluster --yes`` left it: each role with kops' trust policy, tags
    and inline policies, in its instance profile, at path ``/``; no kops-iam tag."""
    iam = world.emulator.iam
    for role in plan_spec(spec).roles.values():
        kops_tags = [
            {"Key": k, "Value": v} for k, v in role.tags.items() if not k.startswith("kops-iam/")
        ]
        iam.create_role(
            RoleName=role.role_name,
            AssumeRolePolicyDocument=json.dumps(role.assume_role_policy),
            Tags=kops_tags,
        )
        for name, document in role.inline_policies.items():
            iam.put_role_policy(
                RoleName=role.role_name, PolicyName=name, PolicyDocument=json.dumps(document)
            )
        iam.create_instance_profile(InstanceProfileName=role.instance_profile_name)
        iam.add_role_to_instance_profile(
            InstanceProfileName=role.instance_profile_name, RoleName=role.role_name
        )


def redeploy(world: World, config: FunctionConfig) -> None:
    """``make deploy CONTEXT='-c kops-iam:...'``: the function with new settings."""
    world.runner.stop()
    world.emulator.function = config
    world.runner = Runner(world.emulator).start()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """The embedded AWS, alone for this module (the function is redeployed in it)."""
    served = served_world()
    current = next(served)
    try:
        yield current
    finally:
        current.runner.stop()  # the runner of the last redeploy
        next(served, None)


@pytest.fixture
def cli(world: World, capsys: pytest.CaptureFixture[str]) -> Any:
    """``kops-iam ARGV --endpoint-url <emulator>``: exit code, stdout, stderr."""

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([*argv, "--endpoint-url", world.emulator.endpoint_url])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_a_kops_cluster_moves_to_kops_iam_in_place(world: World, cli: Any) -> None:
    spec = SPEC.read_bytes()
    # Step 0 - Given the roles kops made for the cluster
    kops_made_the_roles(world, spec)
    arns = {r: world.emulator.iam.get_role(RoleName=r)["Role"]["Arn"] for r in ROLES}
    before = world.snapshot()

    # Step 2 - kops-iam plan: without adoption the roles are someone else's (exit 1) ...
    code, out, err = cli("plan", str(SPEC))
    assert code == 1 and out == ""
    assert f"roles.node: role nodes.{CLUSTER} exists and is not managed by kops-iam" in err
    # ... with adoption, the plan is to take them over: tags only, kops' policies kept
    code, out, err = cli("plan", str(SPEC), "--adopt-existing-roles", "--detailed-exitcode")
    assert code == 2, err
    assert f"update    nodes.{CLUSTER} (node)" in out
    assert f"+ tag {OWNERSHIP_TAG_KEY}={OWNERSHIP_TAG_VALUE}" in out
    assert "put_role_policy" not in out and "create_role" not in out
    code, out, _ = cli("plan", str(SPEC), "--adopt-existing-roles", "--json")
    planned = json.loads(out)
    assert {c["roleName"] for c in planned["changes"]} == ROLES
    assert all(c.get("adopted") for c in planned["changes"])
    assert {w.split()[0] for w in planned["writes"]} == {"tag_role", "tag_instance_profile"}
    assert world.snapshot() == before  # plan wrote nothing

    # Step 3 - deploy with kops-iam:adoptExistingRoles=true, upload the spec unchanged
    redeploy(world, FunctionConfig(adopt_existing_roles=True))
    _, invocation = world.upload(CLUSTER, spec)
    assert invocation.ok, invocation.error
    [event] = world.audit(CLUSTER)
    assert event["detail-type"] == DetailType.SPEC_APPLIED
    detail = event["detail"]
    assert detail["summary"]["rolesUpdated"] == 2 and detail["summary"]["rolesCreated"] == 0
    assert {c["roleName"] for c in detail["changes"] if c.get("adopted")} == ROLES
    # The roles are now owned, in place: same ARNs (path /), same profiles, same policies
    iam = world.emulator.iam
    for role in ROLES:
        found = iam.get_role(RoleName=role)["Role"]
        assert found["Arn"] == arns[role] and found["Path"] == "/"
        tags = {t["Key"]: t["Value"] for t in found["Tags"]}
        assert tags[OWNERSHIP_TAG_KEY] == OWNERSHIP_TAG_VALUE
        assert tags[f"kubernetes.io/cluster/{CLUSTER}"] == "owned"  # kops' tags stay
        profile = iam.get_instance_profile(InstanceProfileName=role)["InstanceProfile"]
        assert [r["RoleName"] for r in profile["Roles"]] == [role]
        assert world.inline(role) == before[role]["inline"]
    code, _, _ = cli("plan", str(SPEC), "--manage-root-path-roles", "--detailed-exitcode")
    assert code == 0  # kops-iam now owns them, at / where they were: nothing left to do
    # (without keeping roles at / managed, they are root-path: reported, never written)
    code, _, err = cli("plan", str(SPEC), "--detailed-exitcode")
    assert code == 1 and "--manage-root-path-roles" in err, err  # the CLI's own flag

    # Step 4 - adoption off again, the adopted roles kept managed at / (docs/adr/0061); the
    # spec's edits now reach IAM through the state store
    redeploy(world, FunctionConfig(manage_root_path_roles=True))
    edited = spec.replace(b'"es:*"', b'"sqs:SendMessage"')
    assert edited != spec
    _, invocation = world.upload(CLUSTER, edited)
    assert invocation.ok, invocation.error
    [event] = world.audit(CLUSTER)
    assert event["detail-type"] == DetailType.SPEC_APPLIED
    [change] = event["detail"]["changes"]
    assert change["roleName"] == f"nodes.{CLUSTER}"
    policy = change["inlinePolicies"][f"additional.nodes.{CLUSTER}"]
    assert policy["actions"] == {"added": ["sqs:SendMessage"], "removed": ["es:*"]}
    # And a drift run finds IAM as the spec says
    world.runner.run_schedule()
    assert world.audit(CLUSTER) == []


def test_walk_through_page_names_the_lifecycle_overrides_kops_accepts() -> None:
    # kops' lifecycles (upup/pkg/fi/lifecycle.go): Sync, Ignore, WarnIfInsufficientAccess,
    # ExistsAndValidates, ExistsAndWarnIfChanges; its IAM tasks (awstasks): IAMRole,
    # IAMRolePolicy, IAMInstanceProfile, IAMInstanceProfileRole.
    page = (Path(__file__).resolve().parents[2] / "docs" / "migrate-from-kops.md").read_text()
    overrides = (
        "--lifecycle-overrides IAMRole=ExistsAndWarnIfChanges,"
        "IAMRolePolicy=ExistsAndWarnIfChanges,IAMInstanceProfile=ExistsAndWarnIfChanges,"
        "IAMInstanceProfileRole=ExistsAndWarnIfChanges"
    )
    assert overrides in page
    assert "ExistingWithParent" in page  # named once, as the value kops refuses
