"""The bulk read (docs/adr/0111): ``GetAccountAuthorizationDetails`` paginated, kops roles
only, and the very answer the per-role reads give.

moto answers the whole account in one page whatever ``MaxItems`` says (docs/platform.md), so
pagination is tested with a client that cuts moto's answer into pages itself, with
``IsTruncated`` and ``Marker`` as IAM sets them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from spec_builders import allow, spec
from support.world import World

from kops_iam.aws.iam_read import observe_cluster
from kops_iam.aws.iam_snapshot import MAX_PAGE_ITEMS, observe_snapshot, read_snapshot

CLUSTERS = ("a.k8s.example.com", "b.k8s.example.com", "c.k8s.example.com")


class Paged:
    """An IAM client whose ``get_account_authorization_details`` answers ``size`` roles a
    page (moto's single answer, cut), recording each request."""

    def __init__(self, iam: Any, size: int) -> None:
        self._iam = iam
        self._size = size
        self.requests: list[dict[str, Any]] = []

    def get_account_authorization_details(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        assert request["Filter"] == ["Role"] and 1 <= request["MaxItems"] <= MAX_PAGE_ITEMS
        roles = self._iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
        start = int(request.get("Marker", "0"))
        page = roles[start : start + self._size]
        more = start + self._size < len(roles)
        answer: dict[str, Any] = {"RoleDetailList": page, "IsTruncated": more}
        if more:
            answer["Marker"] = str(start + self._size)
        return answer


@pytest.fixture
def applied(world: World) -> World:
    """Three clusters (one with a bastion and additional policies), a role of someone else,
    and hand-made drift on cluster b."""
    for cluster in CLUSTERS:
        extra = {"node": [allow("s3:GetObject")]} if cluster.startswith("a") else None
        world.upload(cluster, spec(cluster, additional=extra, bastion=cluster.startswith("a")))
    world.deliver()
    world.audit()
    trust = {"Version": "2012-10-17", "Statement": []}
    world.inspect_iam.create_role(
        RoleName="ci-deployer", AssumeRolePolicyDocument=json.dumps(trust)
    )
    world.inspect_iam.put_role_policy(
        RoleName="nodes.b.k8s.example.com",
        PolicyName="handmade",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow("ec2:*")]}),
    )
    world.inspect_iam.tag_role(
        RoleName="masters.b.k8s.example.com", Tags=[{"Key": "k", "Value": "v"}]
    )
    return world


@pytest.mark.parametrize("size", [1, 2, 5, MAX_PAGE_ITEMS])
def test_pages_are_read_until_iam_says_the_answer_is_complete(applied: World, size: int) -> None:
    # Given IAM answering `size` roles a page
    iam = Paged(applied.inspect_iam, size)

    # When the snapshot is read
    snapshot = read_snapshot(iam, page_size=MAX_PAGE_ITEMS)  # type: ignore[arg-type]

    # Then every page was asked for, each after the previous one's Marker
    total = 3 * 2 + 1 + 1  # masters and nodes of three clusters, a's bastion, ci-deployer
    assert snapshot.seen == total
    assert snapshot.pages == len(iam.requests) == -(-total // size)
    assert [r.get("Marker") for r in iam.requests] == [None] + [
        str(i * size) for i in range(1, snapshot.pages)
    ]
    # And only kops roles are kept, the same whatever the page size
    assert "ci-deployer" not in snapshot.roles
    whole = read_snapshot(applied.inspect_iam)
    assert whole.pages == 1  # moto: one page, whatever MaxItems says
    assert snapshot.roles == whole.roles


def test_a_truncated_page_without_a_marker_is_an_error(applied: World) -> None:
    class Broken(Paged):
        def get_account_authorization_details(self, **request: Any) -> dict[str, Any]:
            return {**super().get_account_authorization_details(**request), "Marker": None}

    with pytest.raises(RuntimeError, match="without Marker"):
        read_snapshot(Broken(applied.inspect_iam, 2))  # type: ignore[arg-type]


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_the_snapshot_says_what_the_per_role_reads_say(applied: World, cluster: str) -> None:
    # Given the plan of each cluster, and a snapshot of the account
    reconciler = applied.reconciler()
    key = applied.key(cluster)
    found = reconciler.source.current(key)  # type: ignore[union-attr]
    assert found is not None
    plan = reconciler.plan_document(found[1], cluster=cluster)
    snapshot = read_snapshot(applied.inspect_iam)

    # When the cluster is observed from the snapshot and role by role
    bulk = observe_snapshot(snapshot, cluster, plan)
    per_role = observe_cluster(applied.inspect_iam, cluster, plan)

    # Then both see the same roles, policies, tags and profiles (drift included)
    assert bulk == per_role
    # And for a cluster whose spec is gone (plan None) too
    assert observe_snapshot(snapshot, cluster, None) == observe_cluster(
        applied.inspect_iam, cluster, None
    )
