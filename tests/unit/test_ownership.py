"""Ownership bound to the cluster's full name (docs/adr/0060) and to kops-iam's IAM path
(docs/adr/0061): pure decisions, and the diffs they lead to."""

from __future__ import annotations

from typing import Any

import pytest

from kops_iam.application.settings import approval_for
from kops_iam.aws.iam_diff import RoleConflict, diff_cluster, diff_role
from kops_iam.aws.iam_read import LiveProfile, LiveRole, Observed
from kops_iam.domain.model import ClusterPlan, RolePlan
from kops_iam.domain.naming import (
    CLUSTER_TAG_KEY,
    KOPS_CLUSTER_TAG_KEY,
    MANAGED_PATH,
    OWNERSHIP_TAG_KEY,
    OWNERSHIP_TAG_VALUE,
    ROOT_PATH,
)
from kops_iam.domain.ownership import OwnershipRules, owner_of

A = "a.k8s.example.com"
V = "v.k8s.example.com"
SHARED = "nodes.shared-truncated-name-k8s-example-com-abcdef"  # the name both clusters get
TRUST = {"Version": "2012-10-17", "Statement": []}
MAIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "x:Y", "Resource": "*"}],
}


def tags(cluster: str, *, cluster_tag: bool = True) -> dict[str, str]:
    out = {OWNERSHIP_TAG_KEY: OWNERSHIP_TAG_VALUE, KOPS_CLUSTER_TAG_KEY: cluster}
    if cluster_tag:
        out[CLUSTER_TAG_KEY] = cluster
    return out


def plan_for(cluster: str) -> RolePlan:
    return RolePlan(
        kind="node",
        role_name=SHARED,
        instance_profile_name=SHARED,
        assume_role_policy=TRUST,
        permissions_boundary=None,
        tags={**tags(cluster), "Name": SHARED},
        managed_policy_arns=(),
        inline_policies={SHARED: MAIN},
    )


def role(owner_tags: dict[str, str], path: str = MANAGED_PATH, **extra: Any) -> LiveRole:
    return LiveRole(
        name=SHARED,
        path=path,
        trust=TRUST,
        tags={**owner_tags, "Name": SHARED},
        boundary=None,
        inline={SHARED: MAIN},
        managed=frozenset(),
        **extra,
    )


def profile(owner_tags: dict[str, str], path: str = MANAGED_PATH, *roles: str) -> LiveProfile:
    return LiveProfile(name=SHARED, roles=roles, tags={**owner_tags, "Name": SHARED}, path=path)


def cluster_plan(cluster: str) -> ClusterPlan:
    return ClusterPlan(cluster, "aws", "eu-west-1", (), {"node": plan_for(cluster)})


# -- who owns what -------------------------------------------------------------------------


def test_the_cluster_tag_names_the_owner_and_kops_tag_names_it_for_older_roles() -> None:
    assert owner_of(tags(V)) == V
    assert owner_of(tags(V, cluster_tag=False)) == V  # created before kops-iam/cluster
    assert owner_of({**tags(V), KOPS_CLUSTER_TAG_KEY: A}) == V  # the cluster tag wins
    assert owner_of({KOPS_CLUSTER_TAG_KEY: V}) is None  # kops made it: not kops-iam's
    assert owner_of({OWNERSHIP_TAG_KEY: OWNERSHIP_TAG_VALUE}) is None


@pytest.mark.parametrize(
    ("rules", "resource_tags", "path", "expected"),
    [
        (OwnershipRules(), tags(A), MANAGED_PATH, "mine"),
        (OwnershipRules(), tags(V), MANAGED_PATH, "other-cluster"),
        (OwnershipRules(), tags(V, cluster_tag=False), MANAGED_PATH, "other-cluster"),
        (OwnershipRules(), {OWNERSHIP_TAG_KEY: OWNERSHIP_TAG_VALUE}, MANAGED_PATH, "no-owner"),
        (OwnershipRules(), {KOPS_CLUSTER_TAG_KEY: A}, ROOT_PATH, "unmanaged"),
        (OwnershipRules(), tags(A), ROOT_PATH, "root-path"),
        (OwnershipRules(manage_root_path=True), tags(A), ROOT_PATH, "mine"),
        (OwnershipRules(adopt=True), tags(A), ROOT_PATH, "mine"),
        (OwnershipRules(manage_root_path=True), tags(V), ROOT_PATH, "other-cluster"),
        (OwnershipRules(), tags(A), "/elsewhere/", "other-path"),
        (OwnershipRules(adopt=True), {}, "/elsewhere/", "other-path"),
        (OwnershipRules(adopt=True), {}, ROOT_PATH, "unmanaged"),
    ],
)
def test_standing(
    rules: OwnershipRules, resource_tags: dict[str, str], path: str, expected: str
) -> None:
    assert rules.standing(A, resource_tags, path) == expected


# -- a name collision: the plan wants a role another cluster owns --------------------------


@pytest.mark.parametrize(
    "seen",
    [
        Observed(role(tags(V)), profile(tags(V), MANAGED_PATH, SHARED)),
        Observed(role(tags(V, cluster_tag=False)), None),  # V's role from before the tag
        Observed(None, profile(tags(V), MANAGED_PATH)),  # only V's profile exists yet
    ],
    ids=["role-and-profile", "role-before-the-cluster-tag", "profile-only"],
)
def test_another_clusters_role_is_a_name_collision_that_names_both_and_the_way_out(
    seen: Observed,
) -> None:
    # Given the plan of cluster A and IAM holding V's role or profile under the same name
    # When A is diffed, with or without adoption
    for adopt in (False, True):
        result = diff_role(plan_for(A), seen, cluster=A, adopt=adopt)
        # Then it is a conflict (nothing is written), with its own reason
        assert isinstance(result, RoleConflict), result
        assert result.code == "name-collision"
        for needle in (A, V, SHARED, "rename one of the two clusters"):
            assert needle in result.reason, (needle, result.reason)


def test_deleting_a_clusters_spec_never_touches_another_clusters_role() -> None:
    # Given V's role and profile under the name A's node role would have
    seen = Observed(role(tags(V)), profile(tags(V), MANAGED_PATH, SHARED))
    # When A's spec is gone (and when A's plan no longer has nodes)
    for plan in (None, ClusterPlan(A, "aws", "eu-west-1", (), {})):
        changes = diff_cluster(A, plan, {"node": seen})
        # Then V's role is skipped, with the reason, and nothing is written
        assert changes.writes == ()
        [change] = changes.roles
        assert change.action == "skip" and V in change.diff["reason"]


def test_a_profile_of_another_cluster_holding_our_role_keeps_our_role() -> None:
    seen = Observed(role(tags(A)), profile(tags(V), MANAGED_PATH, SHARED))
    changes = diff_cluster(A, None, {"node": seen})
    assert changes.writes == ()
    assert changes.roles[0].action == "skip"
    assert "instance profile" in changes.roles[0].diff["reason"]


def test_a_profile_of_another_cluster_is_never_deleted_with_our_role() -> None:
    seen = Observed(role(tags(A)), profile(tags(V), MANAGED_PATH))  # empty, V's
    changes = diff_cluster(A, None, {"node": seen})
    assert [w.operation for w in changes.writes] == ["delete_role_policy", "delete_role"]


def test_a_role_naming_no_cluster_is_left_alone() -> None:
    seen = Observed(role({OWNERSHIP_TAG_KEY: OWNERSHIP_TAG_VALUE}), None)
    result = diff_role(plan_for(A), seen, cluster=A)
    assert isinstance(result, RoleConflict) and result.code == "unknown-owner"
    assert f"{CLUSTER_TAG_KEY}={A}" in result.reason
    assert diff_cluster(A, None, {"node": seen}).writes == ()


# -- roles created before the cluster tag, and before the managed path ---------------------


def test_an_older_role_of_this_cluster_gets_the_cluster_tag() -> None:
    # Given A's role created by kops-iam before the cluster tag (at the managed path)
    seen = Observed(role(tags(A, cluster_tag=False)), profile(tags(A), MANAGED_PATH, SHARED))
    change = diff_role(plan_for(A), seen, cluster=A)
    # Then it is A's: the next write adds the tag, nothing else changes
    assert not isinstance(change, RoleConflict)
    assert [(w.operation, w.params["Tags"]) for w in change.writes] == [
        ("tag_role", [{"Key": CLUSTER_TAG_KEY, "Value": A}])
    ]


def test_a_root_path_role_is_rejected_with_the_way_out_unless_the_operator_allows_it() -> None:
    # Given A's role created by kops-iam at path / before 0061
    seen = Observed(
        role(tags(A, cluster_tag=False), ROOT_PATH), profile(tags(A), ROOT_PATH, SHARED)
    )
    # Then by default it is a rejection naming the setting, and a deletion skips it
    result = diff_role(plan_for(A), seen, cluster=A)
    assert isinstance(result, RoleConflict) and result.code == "root-path"
    assert "manage-root-path-roles setting" in result.reason and MANAGED_PATH in result.reason
    # And the way out names what the reader sets: the CLI flag, or the stack's context key
    for audience, way_out in (
        ("cli", "set --manage-root-path-roles to"),
        ("stack", "set the CDK context key kops-iam:manageRootPathRoles=true to"),
    ):
        rules = OwnershipRules(approval=approval_for(audience))
        told = diff_role(plan_for(A), seen, cluster=A, rules=rules)
        assert isinstance(told, RoleConflict) and way_out in told.reason, told
    assert diff_cluster(A, None, {"node": seen}).writes == ()
    # With the setting, it is managed in place (and gets the cluster tag)
    changes = diff_cluster(A, cluster_plan(A), {"node": seen}, manage_root_path=True)
    assert not changes.conflicts
    assert [w.operation for w in changes.writes] == ["tag_role"]
    deleted = diff_cluster(A, None, {"node": seen}, manage_root_path=True)
    assert [w.operation for w in deleted.writes][-1] == "delete_role"


def test_new_roles_and_profiles_are_created_under_the_managed_path_with_the_cluster_tag() -> None:
    change = diff_role(plan_for(A), Observed(None, None), cluster=A)
    assert not isinstance(change, RoleConflict)
    created = {w.operation: w.params for w in change.writes}
    for operation in ("create_role", "create_instance_profile"):
        assert created[operation]["Path"] == MANAGED_PATH
        assert {"Key": CLUSTER_TAG_KEY, "Value": A} in created[operation]["Tags"]


def test_a_name_three_clusters_want_names_the_two_others_and_the_way_out() -> None:
    # Given three clusters whose node role names coincide (kops truncates long names)
    from kops_iam.domain.ownership import name_collisions

    roles = {
        "a.example.com": {"node": "nodes.same"},
        "b.example.com": {"node": "nodes.same", "master": "masters.b"},
        "c.example.com": {"node": "nodes.same"},
        "d.example.com": {"node": "nodes.d"},
    }
    (collision,) = name_collisions(roles)
    # Then the error for one of them names the others, why, and what to do
    assert collision.message("b.example.com") == (
        "nodes.same is also the IAM role and instance profile name of cluster "
        "'a.example.com', 'c.example.com': kops cuts names over 64 characters to 57 "
        "characters and a 6-character hash, so both clusters would need the same role, and "
        "kops-iam lets only the first one applied have it; rename one of the clusters"
    )
