"""Each role belongs to exactly one cluster (issue 10, docs/adr/0060, 0061), on moto.

Two different cluster names can give the same kops role name (truncation keeps 57
characters and a 30-bit hash); ``collisions`` finds such pairs. Before the fix, the second
cluster's spec, uploaded at its *own* key, retagged the first cluster's role and wrote its
policies into it, scheduled runs flip-flopped it, and deleting the second spec deleted it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from collisions import colliding_pair
from spec_builders import allow, spec
from support.world import World

from kops_iam.aws.audit import DetailType
from kops_iam.domain.naming import (
    CLUSTER_TAG_KEY,
    MANAGED_PATH,
    OWNERSHIP_TAG_KEY,
    OWNERSHIP_TAG_VALUE,
    role_name,
)

VICTIM, ATTACKER = colliding_pair("node")
SHARED = role_name("node", VICTIM)
#: What the attacker's spec tries to get into the victim's node role.
GRAB = allow("secretsmanager:GetSecretValue", resource="*", sid="Grab")


def test_the_pair_really_collides() -> None:
    assert VICTIM != ATTACKER and role_name("node", ATTACKER) == SHARED
    assert role_name("master", VICTIM) != role_name("master", ATTACKER)


def _apply(world: World, cluster: str, body: str) -> list[dict[str, Any]]:
    world.upload(cluster, body)
    world.deliver()
    return world.audit()


def test_a_colliding_cluster_cannot_take_over_another_clusters_role(world: World) -> None:
    # Given cluster V applied, its node role owned by V
    [applied] = _apply(world, VICTIM, spec(VICTIM))
    assert applied["detail-type"] == DetailType.SPEC_APPLIED
    before = world.snapshot()
    world.calls.clear()

    # When cluster A, whose node role name is the same, uploads a spec at its own key
    [event] = _apply(world, ATTACKER, spec(ATTACKER, additional={"node": [GRAB]}))

    # Then it is rejected with its own reason, nothing at all is written, V's role unchanged
    assert event["detail-type"] == DetailType.SPEC_REJECTED
    detail = event["detail"]
    assert detail["reason"] == "name-collision"
    assert world.calls.writes() == []
    assert world.snapshot() == before
    assert world.tags(SHARED)[CLUSTER_TAG_KEY] == VICTIM
    # And the message names both clusters, the role and the way out
    [error] = detail["errors"]
    assert error["path"] == "roles.node"
    for needle in (VICTIM, ATTACKER, SHARED, "rename one of the two clusters"):
        assert needle in error["message"], needle


def test_scheduled_runs_report_the_collision_and_do_not_flip_flop(world: World) -> None:
    # Given both specs in the bucket, V's applied first
    _apply(world, VICTIM, spec(VICTIM))
    _apply(world, ATTACKER, spec(ATTACKER, additional={"node": [GRAB]}))
    before = world.snapshot()
    world.calls.clear()

    # When three drift periods run (the schedule, then the drift queue's checks)
    for _ in range(3):
        events = world.drift_run().audit
        # Then each run reports the collision (and nothing about V, which is in order)
        assert [(e["detail-type"], e["detail"]["cluster"]) for e in events] == [
            (DetailType.SPEC_REJECTED, ATTACKER)
        ]
        assert events[0]["detail"]["reason"] == "name-collision"
    # And IAM never changed: no write at all, V's role as V's spec says
    assert world.calls.writes() == []
    assert world.snapshot() == before


@pytest.mark.parametrize("first", ["victim", "attacker"])
def test_deleting_one_spec_never_touches_the_other_clusters_role(world: World, first: str) -> None:
    # Given two colliding clusters: whichever was applied first owns the shared node role
    owner, other = (VICTIM, ATTACKER) if first == "victim" else (ATTACKER, VICTIM)
    _apply(world, owner, spec(owner))
    _apply(world, other, spec(other))
    owners_role = json.dumps(world.snapshot()[SHARED], sort_keys=True, default=str)
    world.calls.clear()

    # When the other cluster's spec is deleted
    world.delete(other)
    world.deliver()
    [event] = world.audit()

    # Then the shared role (and its profile) is still the owner's, untouched
    assert json.dumps(world.snapshot()[SHARED], sort_keys=True, default=str) == owners_role
    assert world.tags(SHARED)[CLUSTER_TAG_KEY] == owner
    profile = world.inspect_iam.get_instance_profile(InstanceProfileName=SHARED)
    assert [r["RoleName"] for r in profile["InstanceProfile"]["Roles"]] == [SHARED]
    changes = {c["roleName"]: c for c in event["detail"]["changes"]}
    assert changes[SHARED]["action"] == "skip" and owner in changes[SHARED]["reason"]


def test_the_owner_cluster_is_recorded_in_the_create_calls(world: World) -> None:
    _apply(world, VICTIM, spec(VICTIM))
    for name in (role_name("master", VICTIM), SHARED):
        role = world.inspect_iam.get_role(RoleName=name)["Role"]
        assert role["Path"] == MANAGED_PATH
        assert role["Arn"].endswith(f":role{MANAGED_PATH}{name}")
        assert world.tags(name)[CLUSTER_TAG_KEY] == VICTIM
        answer = world.inspect_iam.get_instance_profile(InstanceProfileName=name)
        assert answer["InstanceProfile"]["Path"] == MANAGED_PATH
        tags = {t["Key"]: t["Value"] for t in answer["InstanceProfile"]["Tags"]}
        assert tags[CLUSTER_TAG_KEY] == VICTIM
    # in the create call itself: no separate tagging call was needed
    assert "iam:TagRole" not in world.calls.writes()
    assert "iam:TagInstanceProfile" not in world.calls.writes()


# -- upgrade: roles kops-iam created before the cluster tag and the managed path ------------

LEGACY = "legacy.k8s.example.com"


def _legacy_roles(world: World) -> None:
    """What kops-iam before 0060/0061 left: path /, ownership and kops tags, no cluster tag."""
    trust = json.dumps(
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
    )
    for kind in ("master", "node"):
        name = role_name(kind, LEGACY)
        tags = [
            {"Key": OWNERSHIP_TAG_KEY, "Value": OWNERSHIP_TAG_VALUE},
            {"Key": "KubernetesCluster", "Value": LEGACY},
            {"Key": "Name", "Value": name},
            {"Key": f"kubernetes.io/cluster/{LEGACY}", "Value": "owned"},
        ]
        world.inspect_iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, Tags=tags)
        world.inspect_iam.create_instance_profile(InstanceProfileName=name, Tags=tags)
        world.inspect_iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)


def test_roles_owned_before_the_managed_path_are_rejected_with_the_way_out(world: World) -> None:
    # Given roles kops-iam created at path / before the upgrade
    _legacy_roles(world)
    before = world.snapshot()
    world.calls.clear()

    # When their spec is reconciled by the upgraded function (default settings)
    [event] = _apply(world, LEGACY, spec(LEGACY))

    # Then nothing is written and the rejection says what to do (never an AccessDenied)
    assert world.calls.writes() == []
    assert world.snapshot() == before
    assert event["detail-type"] == DetailType.SPEC_REJECTED
    assert event["detail"]["reason"] == "root-path"
    assert "manage-root-path-roles setting (true)" in event["detail"]["message"]


def test_roles_owned_before_the_managed_path_are_kept_when_the_operator_allows(
    world: World,
) -> None:
    # Given roles kops-iam created at path / and an operator keeping them managed in place
    _legacy_roles(world)
    runtime = world.runtime(world.with_settings(manage_root_path_roles=True))

    # When the spec (now with a bastion) is applied
    world.upload(LEGACY, spec(LEGACY, bastion=True))
    world.deliver(runtime)
    [event] = world.audit()

    # Then the old roles stay at / and gain the cluster tag; the new one is created under
    # the managed path
    assert event["detail-type"] == DetailType.SPEC_APPLIED
    for kind in ("master", "node"):
        name = role_name(kind, LEGACY)
        assert world.inspect_iam.get_role(RoleName=name)["Role"]["Path"] == "/"
        assert world.tags(name)[CLUSTER_TAG_KEY] == LEGACY
    bastion = world.inspect_iam.get_role(RoleName=role_name("bastion", LEGACY))["Role"]
    assert bastion["Path"] == MANAGED_PATH

    # And deleting the spec deletes them all
    world.delete(LEGACY)
    world.deliver(runtime)
    assert world.role_names() == set()
