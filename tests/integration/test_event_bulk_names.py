"""An event's bulk read (docs/adr/0121) against answers that name a cluster's roles in more
than one way: a role whose name differs only by case, a role listed twice, a page that
continues without saying it is truncated. In each, the reconcile decides on what the
per-role reads see, never on a role the answer seems to lack or on one of two copies.

AWS's names are not distinguished by case (the ``CreateRole`` reference: "you cannot create
resources named both "MyResource" and "myresource""); moto's are. :class:`CaseBlind` gives
moto AWS's rule for the calls the reads and the create make.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from spec_builders import allow, spec

from kops_iam.application.reconciler import Reconciler
from kops_iam.application.settings import Settings
from kops_iam.aws.iam_read import observe_cluster
from kops_iam.aws.iam_snapshot import observe_cluster_in_one_page
from kops_iam.domain.model import ClusterPlan
from kops_iam.domain.naming import CLUSTER_TAG_KEY, OWNERSHIP_TAG_KEY, OWNERSHIP_TAG_VALUE
from kops_iam.domain.pipeline import plan_spec

CLUSTER = "names.k8s.example.com"
MASTER = f"masters.{CLUSTER}"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})
ADMIN = json.dumps({"Version": "2012-10-17", "Statement": [allow("*")]})


class CaseBlind:
    """moto's IAM, with role names not distinguished by case as in AWS: a read finds the
    role whatever the case of the name asked, a create of a name held in another case is
    ``EntityAlreadyExists``. Every other call goes to ``iam`` as is; the bulk answer can
    be edited by ``edit``. Counts calls."""

    def __init__(self, iam: Any, edit: Any = None) -> None:
        self._iam = iam
        self._edit = edit
        self.calls: Counter[str] = Counter()

    def _held(self, name: str) -> str:
        """The name IAM holds for ``name`` (``name`` itself when none, or when moto holds
        it in that case too)."""
        held = [r for r in self._iam.list_roles()["Roles"] if r["RoleName"] == name]
        for role in held or self._iam.list_roles()["Roles"]:
            if role["RoleName"].lower() == name.lower():
                return str(role["RoleName"])
        return name

    def get_account_authorization_details(self, **request: Any) -> dict[str, Any]:
        self.calls["GetAccountAuthorizationDetails"] += 1
        answer: dict[str, Any] = self._iam.get_account_authorization_details(**request)
        return self._edit(answer) if self._edit is not None else answer

    def get_role(self, RoleName: str) -> Any:
        self.calls["GetRole"] += 1
        return self._iam.get_role(RoleName=self._held(RoleName))

    def get_role_policy(self, RoleName: str, PolicyName: str) -> Any:
        self.calls["GetRolePolicy"] += 1
        return self._iam.get_role_policy(RoleName=self._held(RoleName), PolicyName=PolicyName)

    def create_role(self, RoleName: str, **request: Any) -> Any:
        if self._held(RoleName) != RoleName:
            message = f"Role {RoleName} exists"
            error = {"Error": {"Code": "EntityAlreadyExists", "Message": message}}
            raise ClientError(error, "CreateRole")  # type: ignore[arg-type]
        return self._iam.create_role(RoleName=RoleName, **request)

    def get_paginator(self, operation: str) -> Any:
        paginator = self._iam.get_paginator(operation)
        blind = self

        class Paginator:
            def paginate(self, **request: Any) -> Any:
                blind.calls[operation] += 1
                if "RoleName" in request:
                    request["RoleName"] = blind._held(request["RoleName"])
                return paginator.paginate(**request)

        return Paginator()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._iam, name)


def _plan() -> ClusterPlan:
    return plan_spec(spec(CLUSTER).encode(), Settings().options, None)


def _owned() -> list[dict[str, str]]:
    return [
        {"Key": OWNERSHIP_TAG_KEY, "Value": OWNERSHIP_TAG_VALUE},
        {"Key": CLUSTER_TAG_KEY, "Value": CLUSTER},
    ]


@pytest.fixture
def iam() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1")


def _applied(iam: Any, plan: ClusterPlan) -> None:
    reconciler = Reconciler(Settings(event_read="per-role"), iam=iam)
    reconciler.apply(reconciler.changes_for(plan.cluster, plan))


@pytest.mark.parametrize("deleted", [False, True], ids=["spec", "spec-deleted"])
def test_a_role_named_in_another_case_is_decided_as_the_per_role_reads_decide(
    iam: Any, deleted: bool
) -> None:
    # Given the cluster's master role name held in another case: by someone else (the spec
    # wants the role) or tagged as this cluster's (the spec is deleted)
    tags = _owned() if deleted else []
    iam.create_role(
        RoleName=MASTER.upper(), Path="/kops-iam/", AssumeRolePolicyDocument=TRUST, Tags=tags
    )
    plan = None if deleted else _plan()
    blind = CaseBlind(iam)

    # When an event's reconcile reads IAM in bulk, and another reads role by role
    bulk = Reconciler(Settings(), iam=blind)  # type: ignore[arg-type]
    per_role = Reconciler(Settings(event_read="per-role"), iam=blind)  # type: ignore[arg-type]
    in_bulk = bulk.changes_for(CLUSTER, plan)

    # Then both decide the same: the spec is rejected (the role is not this cluster's),
    # not a create IAM refuses on every pass; a deleted spec's role is deleted, not left
    assert in_bulk == per_role.changes_for(CLUSTER, plan)
    assert blind.calls["GetAccountAuthorizationDetails"] == 1
    if deleted:
        assert [c.action for c in in_bulk.roles] == ["delete"]
    else:
        assert [c.code for c in in_bulk.conflicts] == ["foreign-role"]
        assert f"create_role {MASTER}" not in {w.describe() for w in in_bulk.writes}


def test_a_role_listed_twice_is_read_role_by_role(iam: Any) -> None:
    # Given an applied cluster whose master role got an admin policy by hand
    plan = _plan()
    _applied(iam, plan)
    iam.put_role_policy(RoleName=MASTER, PolicyName="handmade", PolicyDocument=ADMIN)

    def twice(answer: dict[str, Any]) -> dict[str, Any]:
        # an answer listing the role again, without the hand-made policy
        details = answer["RoleDetailList"]
        role = next(d for d in details if d["RoleName"] == MASTER)
        clean = copy.deepcopy(role)
        clean["RolePolicyList"] = [
            p for p in clean["RolePolicyList"] if p["PolicyName"] != "handmade"
        ]
        details.append(clean)
        return answer

    # When an event's reconcile reads IAM from that answer
    reconciler = Reconciler(Settings(), iam=CaseBlind(iam, twice))  # type: ignore[arg-type]
    changes = reconciler.changes_for(CLUSTER, plan)

    # Then it sees what IAM holds: the policy is drift, deleted
    assert changes == Reconciler(Settings(event_read="per-role"), iam=iam).changes_for(
        CLUSTER, plan
    )
    assert [w.describe() for w in changes.writes] == [f"delete_role_policy {MASTER}/handmade"]


def test_a_page_with_a_marker_is_not_the_whole_account(iam: Any) -> None:
    # Given an applied cluster whose spec is deleted, and an answer that continues (Marker)
    # without IsTruncated, the cluster's roles on the page to come
    plan = _plan()
    _applied(iam, plan)

    def first_page(answer: dict[str, Any]) -> dict[str, Any]:
        answer.pop("IsTruncated", None)
        answer["Marker"] = "next"
        answer["RoleDetailList"] = [
            d for d in answer["RoleDetailList"] if not d["RoleName"].endswith(CLUSTER)
        ]
        return answer

    blind = CaseBlind(iam, first_page)

    # When an event's reconcile reads IAM
    reconciler = Reconciler(Settings(), iam=blind)  # type: ignore[arg-type]
    changes = reconciler.changes_for(CLUSTER, None)

    # Then the page is not taken for the account: the roles are read, and deleted
    assert changes == Reconciler(Settings(event_read="per-role"), iam=iam).changes_for(
        CLUSTER, None
    )
    assert [c.action for c in changes.roles] == ["delete", "delete"]


# --------------------------------------------------------------------------- decoys

DECOY_NAMES = {
    "longer": lambda name: f"{name}.evil",
    "shorter": lambda name: name[:-1],
    "upper": str.upper,
    "look-alike": lambda name: name.replace("e", "\u0435", 1),  # Cyrillic e
}


def _decoy(iam: Any, name: str, owned: bool, into_profile: str | None) -> None:
    """A role (and a profile of its name) made by someone else, perhaps tagged as this
    cluster's, perhaps put in ``into_profile`` (which is emptied first)."""
    tags = _owned() if owned else []
    iam.create_role(RoleName=name, Path="/kops-iam/", AssumeRolePolicyDocument=TRUST, Tags=tags)
    iam.put_role_policy(RoleName=name, PolicyName="handmade", PolicyDocument=ADMIN)
    iam.create_instance_profile(InstanceProfileName=name, Path="/kops-iam/", Tags=tags)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    if into_profile is not None:
        held = iam.get_instance_profile(InstanceProfileName=into_profile)["InstanceProfile"]
        for role in held["Roles"]:
            iam.remove_role_from_instance_profile(
                InstanceProfileName=into_profile, RoleName=role["RoleName"]
            )
        iam.add_role_to_instance_profile(InstanceProfileName=into_profile, RoleName=name)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    decoys=st.lists(
        st.tuples(
            st.sampled_from(sorted(DECOY_NAMES)),
            st.sampled_from(["masters", "nodes"]),
            st.booleans(),  # tagged as this cluster's
            st.booleans(),  # put in the cluster's own instance profile
        ),
        min_size=1,
        max_size=3,
        unique_by=lambda d: (d[0], d[1]),
    ),
    drop_tags=st.booleans(),
)
def test_decoys_around_the_clusters_names_are_seen_as_the_per_role_reads_see_them(
    decoys: list[tuple[str, str, bool, bool]], drop_tags: bool
) -> None:
    # Given an applied cluster, and around its names roles and profiles made by someone
    # else: longer or shorter names, the name in capitals or with a look-alike letter,
    # tagged as the cluster's or not, put in the cluster's own instance profile or not
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        plan = _plan()
        _applied(iam, plan)
        for how, prefix, owned, into in decoys:
            own = f"{prefix}.{CLUSTER}"
            with contextlib.suppress(iam.exceptions.ClientError):  # one decoy per profile
                _decoy(iam, DECOY_NAMES[how](own), owned, own if into else None)

        def without_profile_tags(answer: dict[str, Any]) -> dict[str, Any]:
            for role in answer["RoleDetailList"]:
                for profile in role.get("InstanceProfileList", []):
                    profile.pop("Tags", None)
            return answer

        answer = CaseBlind(iam, without_profile_tags if drop_tags else None)
        for wanted in (plan, None):  # the spec, and the spec deleted
            # When the cluster is read in one bulk page, and role by role (moto's names)
            bulk = observe_cluster_in_one_page(answer, CLUSTER, wanted)  # type: ignore[arg-type]

            # Then both see the same roles and profiles
            assert bulk == observe_cluster(iam, CLUSTER, wanted), (decoys, wanted is None)
