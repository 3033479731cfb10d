"""An event's reconcile reads IAM in one bulk page (docs/adr/0121): what it sees is what the
per-role reads see, whatever IAM holds and whatever the bulk answer leaves out.

The property: for IAM states reached by any sequence of hand-made changes to a cluster's
roles (policies added or removed, tags stripped or rewritten, boundaries set or dropped,
profiles emptied, deleted or shared, roles deleted or taken by name by someone else),
:func:`observe_cluster_in_one_page` answers exactly what
:func:`~kops_iam.aws.iam_read.observe_cluster` answers, for the cluster's plan and for a
deleted spec, also when the bulk answer carries no instance-profile tags, no permissions
boundaries or no role tags (fields AWS documents but has not always returned).
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from spec_builders import allow, spec

from kops_iam.application.reconciler import Reconciler
from kops_iam.application.settings import Settings
from kops_iam.aws.iam_read import Observed, observe_cluster
from kops_iam.aws.iam_snapshot import observe_cluster_in_one_page
from kops_iam.domain.model import ClusterPlan, RoleKind
from kops_iam.domain.pipeline import plan_spec

CLUSTER = "bulk.k8s.example.com"
OTHER = "other.k8s.example.com"
ACCOUNT = "123456789012"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/kops-boundary"
EXTRA_POLICY = f"arn:aws:iam::{ACCOUNT}:policy/handmade"
KINDS = ("master", "node", "bastion")
TRUST = {"Version": "2012-10-17", "Statement": []}
DOCUMENT = json.dumps({"Version": "2012-10-17", "Statement": [allow("ec2:*")]})


class Answer:
    """An IAM client whose bulk answer leaves ``omit`` out (``profile-tags``: no key;
    ``profile-tags-empty``: ``[]``; ``boundary``; ``role-tags``), or is ``truncated``; every
    other call goes to ``iam``. Counts calls."""

    def __init__(self, iam: Any, omit: str = "", *, truncated: bool = False) -> None:
        self._iam = iam
        self._omit = omit
        self._truncated = truncated
        self.calls: Counter[str] = Counter()

    def get_account_authorization_details(self, **request: Any) -> dict[str, Any]:
        self.calls["GetAccountAuthorizationDetails"] += 1
        answer = self._iam.get_account_authorization_details(**request)
        for role in answer["RoleDetailList"]:
            if self._omit == "boundary":
                role.pop("PermissionsBoundary", None)
            if self._omit == "role-tags":
                role.pop("Tags", None)
            for profile in role.get("InstanceProfileList", []):
                if self._omit == "profile-tags":
                    profile.pop("Tags", None)
                if self._omit == "profile-tags-empty":
                    profile["Tags"] = []
        if self._truncated:
            answer.update(IsTruncated=True, Marker="next")
        return answer

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._iam, name)
        if not callable(method) or name.startswith(("get_paginator", "meta")):
            return method
        operation = "".join(part.title() for part in name.split("_"))

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[operation] += 1
            return method(*args, **kwargs)

        return counted


# --------------------------------------------------------------------------- hand-made IAM


def _role(cluster: str, kind: str) -> str:
    return f"{kind}s.{cluster}"


def _untag_owner(iam: Any, cluster: str, kind: str) -> None:
    iam.untag_role(RoleName=_role(cluster, kind), TagKeys=["kops-iam/managed-by"])


def _other_owner(iam: Any, cluster: str, kind: str) -> None:
    tags = [{"Key": "kops-iam/cluster", "Value": OTHER}]
    iam.tag_role(RoleName=_role(cluster, kind), Tags=tags)


def _extra_inline(iam: Any, cluster: str, kind: str) -> None:
    name = _role(cluster, kind)
    iam.put_role_policy(RoleName=name, PolicyName="handmade", PolicyDocument=DOCUMENT)


def _drop_inline(iam: Any, cluster: str, kind: str) -> None:
    name = _role(cluster, kind)
    iam.delete_role_policy(RoleName=name, PolicyName=name)


def _attach(iam: Any, cluster: str, kind: str) -> None:
    iam.attach_role_policy(RoleName=_role(cluster, kind), PolicyArn=EXTRA_POLICY)


def _drop_boundary(iam: Any, cluster: str, kind: str) -> None:
    iam.delete_role_permissions_boundary(RoleName=_role(cluster, kind))


def _set_boundary(iam: Any, cluster: str, kind: str) -> None:
    name = _role(cluster, kind)
    iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=EXTRA_POLICY)


def _trust(iam: Any, cluster: str, kind: str) -> None:
    name = _role(cluster, kind)
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(TRUST))


def _empty_profile(iam: Any, cluster: str, kind: str) -> None:
    name = _role(cluster, kind)
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=name)


def _delete_profile(iam: Any, cluster: str, kind: str) -> None:
    _empty_profile(iam, cluster, kind)
    iam.delete_instance_profile(InstanceProfileName=_role(cluster, kind))


def _untag_profile(iam: Any, cluster: str, kind: str) -> None:
    name = _role(cluster, kind)
    iam.untag_instance_profile(InstanceProfileName=name, TagKeys=["kops-iam/managed-by"])


def _shared_profile(iam: Any, cluster: str, kind: str) -> None:
    profile = f"shared-{_role(cluster, kind)}"
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=_role(cluster, kind))


def _delete_role(iam: Any, cluster: str, kind: str) -> None:
    name = _role(cluster, kind)
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    for profile in iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]:
        iam.remove_role_from_instance_profile(
            InstanceProfileName=profile["InstanceProfileName"], RoleName=name
        )
    iam.delete_role(RoleName=name)


def _strip_profile(iam: Any, profile: str) -> None:
    for role in iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Roles"]:
        iam.remove_role_from_instance_profile(
            InstanceProfileName=profile, RoleName=role["RoleName"]
        )
    iam.delete_instance_profile(InstanceProfileName=profile)


def _taken_by_name(iam: Any, cluster: str, kind: str) -> None:
    _delete_role(iam, cluster, kind)
    iam.create_role(RoleName=_role(cluster, kind), AssumeRolePolicyDocument=json.dumps(TRUST))


CHANGES: dict[str, Callable[[Any, str, str], None]] = {
    "untag-owner": _untag_owner,
    "other-owner": _other_owner,
    "extra-inline": _extra_inline,
    "drop-inline": _drop_inline,
    "attach": _attach,
    "drop-boundary": _drop_boundary,
    "set-boundary": _set_boundary,
    "trust": _trust,
    "empty-profile": _empty_profile,
    "delete-profile": _delete_profile,
    "untag-profile": _untag_profile,
    "shared-profile": _shared_profile,
    "delete-role": _delete_role,
    "taken-by-name": _taken_by_name,
}


def _plan(cluster: str = CLUSTER, *, boundary: bool) -> ClusterPlan:
    text = spec(cluster, additional={"node": [allow("s3:GetObject")]}, bastion=True)
    options = Settings().options
    if boundary:
        options = replace(options, permissions_boundary=BOUNDARY)
    return plan_spec(text.encode(), options, None)


@pytest.fixture(scope="module")
def shared_account() -> Iterator[Any]:
    """One IAM account for the module's examples (each works on a cluster of its own, so
    the others' roles are the rest of the account), with the two customer policies the
    changes use."""
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        for arn in (BOUNDARY, EXTRA_POLICY):
            iam.create_policy(PolicyName=arn.rsplit("/", 1)[1], PolicyDocument=DOCUMENT)
        yield iam


@pytest.fixture
def account(shared_account: Any) -> Any:
    """The account, without the roles of :data:`CLUSTER` a test before left."""
    for kind in KINDS:
        with contextlib.suppress(shared_account.exceptions.NoSuchEntityException):
            _delete_role(shared_account, CLUSTER, kind)
        with contextlib.suppress(shared_account.exceptions.NoSuchEntityException):
            _strip_profile(shared_account, _role(CLUSTER, kind))
    return shared_account


def _unwanted_boundaries_unseen(
    bulk: dict[RoleKind, Observed], per_role: dict[RoleKind, Observed], plan: ClusterPlan | None
) -> tuple[dict[RoleKind, Observed], dict[RoleKind, Observed]]:
    """Both observations, with the boundary of each role whose plan wants none taken out:
    an answer that left boundaries out cannot show one added by hand there (the limit
    docs/adr/0121 states; a boundary only ever narrows a role's permissions)."""

    def unseen(observed: dict[RoleKind, Observed]) -> dict[RoleKind, Observed]:
        out = dict(observed)
        for kind, seen in observed.items():
            wanted = plan.roles.get(kind) if plan is not None else None
            if seen.role is not None and not (wanted and wanted.permissions_boundary):
                out[kind] = replace(seen, role=replace(seen.role, boundary=None))
        return out

    return unseen(bulk), unseen(per_role)


def _applied(iam: Any, plan: ClusterPlan) -> None:
    reconciler = Reconciler(Settings(event_read="per-role"), iam=iam)
    reconciler.apply(reconciler.changes_for(plan.cluster, plan))


_EXAMPLES = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(sorted(CHANGES)), st.sampled_from(KINDS)),
        max_size=4,
    ),
    boundary=st.booleans(),
)
def test_one_page_says_what_the_per_role_reads_say(
    shared_account: Any, changes: list[tuple[str, str]], boundary: bool
) -> None:
    iam = shared_account
    # Given a cluster of its own applied as planned, then changed by hand
    cluster = f"c{next(_EXAMPLES)}.k8s.example.com"
    plan = _plan(cluster, boundary=boundary)
    _applied(iam, plan)
    for change, kind in changes:
        with contextlib.suppress(iam.exceptions.ClientError):  # not possible in this state
            CHANGES[change](iam, cluster, kind)

    for wanted in (plan, None):  # the spec, and the spec deleted
        # When the cluster is read role by role, and in one bulk page
        per_role = observe_cluster(iam, cluster, wanted)
        for omit in ("", "profile-tags", "profile-tags-empty", "boundary", "role-tags"):
            bulk = observe_cluster_in_one_page(Answer(iam, omit), cluster, wanted)  # type: ignore[arg-type]

            # Then both say the same, whatever the answer left out
            if omit == "boundary":  # but a boundary the plan does not want (docs/adr/0121)
                bulk, per_role_seen = _unwanted_boundaries_unseen(bulk, per_role, wanted)
                assert bulk == per_role_seen, (changes, omit, wanted is None)
            else:
                assert bulk == per_role, (changes, omit, wanted is None)
    for kind in KINDS:  # the account keeps the roles of the examples to come only
        with contextlib.suppress(iam.exceptions.NoSuchEntityException):
            _delete_role(iam, cluster, kind)
        for profile in (_role(cluster, kind), f"shared-{_role(cluster, kind)}"):
            with contextlib.suppress(iam.exceptions.NoSuchEntityException):
                _strip_profile(iam, profile)


def test_an_unchanged_cluster_costs_one_read_and_omissions_a_read_each(account: Any) -> None:
    # Given a cluster applied as planned, with a permissions boundary
    plan = _plan(boundary=True)
    _applied(account, plan)
    per_role = observe_cluster(account, CLUSTER, plan)
    expected = {
        "": {"GetAccountAuthorizationDetails": 1},
        # the answer gave no tags for the three profiles: each is read
        "profile-tags": {"GetAccountAuthorizationDetails": 1, "GetInstanceProfile": 3},
        "profile-tags-empty": {"GetAccountAuthorizationDetails": 1, "GetInstanceProfile": 3},
        # no boundary where the plan wants one: each role confirms it
        "boundary": {"GetAccountAuthorizationDetails": 1, "GetRole": 3},
        # no tags: the answer cannot say the roles are this cluster's
        "role-tags": {"GetAccountAuthorizationDetails": 1, "GetRole": 3},
    }
    for omit, calls in expected.items():
        # When the cluster is read from one bulk page
        iam = Answer(account, omit)
        observed = observe_cluster_in_one_page(iam, CLUSTER, plan)  # type: ignore[arg-type]

        # Then it is what the per-role reads see, for the reads listed (3 roles)
        assert observed == per_role
        assert dict(iam.calls) == calls, omit
        assert sum(calls.values()) / 3 <= 4  # issue 15: at most 4 IAM reads per role


def test_an_account_beyond_one_page_is_read_role_by_role_from_then_on(account: Any) -> None:
    # Given an account whose bulk answer takes more than one page
    plan = _plan(boundary=False)
    _applied(account, plan)
    iam = Answer(account, truncated=True)
    reconciler = Reconciler(Settings(), iam=iam)  # type: ignore[arg-type]

    # When one reconcile reads it, then another
    first = reconciler.observe(CLUSTER, plan)
    calls_first = Counter(iam.calls)
    iam.calls.clear()
    second = reconciler.observe(CLUSTER, plan)

    # Then the first read one page, saw it truncated and read role by role; the second
    # did not ask for the page again
    assert first == second == observe_cluster(account, CLUSTER, plan)
    assert calls_first["GetAccountAuthorizationDetails"] == 1
    assert calls_first["GetRole"] == 3
    assert "GetAccountAuthorizationDetails" not in iam.calls
    assert iam.calls["GetRole"] == 3
