"""IAM reads: what IAM holds under one cluster's role names, as plain data.

:func:`observe_cluster` reads a fixed, small number of IAM calls per role (see its
docstring); :class:`LiveRole` and :class:`LiveProfile` are what :mod:`kops_iam.aws.iam_diff`
compares against the plan. Another invocation may change IAM while it is read: something
listed then gone reads as absent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote

from kops_iam.aws.errors import error_code
from kops_iam.domain.model import ROLE_KINDS, ClusterPlan, JSONDict, RoleKind, RolePlan
from kops_iam.domain.naming import ROOT_PATH, role_name
from kops_iam.domain.ownership import is_managed, owner_of

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_iam import IAMClient


@dataclass(frozen=True)
class LiveProfile:
    """An instance profile as IAM holds it."""

    name: str
    roles: tuple[str, ...]
    tags: Mapping[str, str]
    path: str = ROOT_PATH

    @property
    def owned(self) -> bool:
        """Whether kops-iam created it (carries the ownership tag), for whichever cluster."""
        return is_managed(self.tags)

    @property
    def owner(self) -> str | None:
        """The cluster it belongs to (:func:`kops_iam.domain.ownership.owner_of`)."""
        return owner_of(self.tags)


@dataclass(frozen=True)
class LiveRole:
    """A role as IAM holds it: everything kops-iam compares."""

    name: str
    path: str
    trust: JSONDict
    tags: Mapping[str, str]
    boundary: str | None
    inline: Mapping[str, JSONDict]
    managed: frozenset[str]
    #: Names of *other* instance profiles holding the role (read only when deleting it).
    other_profiles: tuple[str, ...] = ()

    @property
    def owned(self) -> bool:
        """Whether kops-iam created it (carries the ownership tag), for whichever cluster."""
        return is_managed(self.tags)

    @property
    def owner(self) -> str | None:
        """The cluster it belongs to (:func:`kops_iam.domain.ownership.owner_of`)."""
        return owner_of(self.tags)


@dataclass(frozen=True)
class Observed:
    """What IAM holds under one role name: the role and the instance profile."""

    role: LiveRole | None
    profile: LiveProfile | None


class Slot(NamedTuple):
    """Where one role kind of a cluster is read: its plan (``None``: not wanted) and the
    names of its role and instance profile."""

    kind: RoleKind
    wanted: RolePlan | None
    role: str
    profile: str


def slots(cluster: str, plan: ClusterPlan | None) -> tuple[Slot, ...]:
    """Each role kind's :class:`Slot`: the plan's names, or kops' names for a kind the plan
    does not want (an owned role there is to be removed)."""
    found: list[Slot] = []
    for kind in ROLE_KINDS:
        wanted = plan.roles.get(kind) if plan is not None else None
        if wanted is not None:
            found.append(Slot(kind, wanted, wanted.role_name, wanted.instance_profile_name))
        else:
            name = role_name(kind, cluster)
            found.append(Slot(kind, None, name, name))
    return tuple(found)


def observe_cluster(
    iam: IAMClient, cluster: str, plan: ClusterPlan | None
) -> dict[RoleKind, Observed]:
    """Read every role (and instance profile) of ``cluster`` kops-iam could manage.

    Reads per role kind: ``GetRole`` (then, when the role exists, ``ListRolePolicies``,
    one ``GetRolePolicy`` per inline policy and ``ListAttachedRolePolicies``), plus
    ``GetInstanceProfile`` for the kinds the plan wants. A kind the plan does not want and
    that has no role costs one read. Deleting an owned role adds
    ``ListInstanceProfilesForRole``.
    """
    observed: dict[RoleKind, Observed] = {}
    for kind, wanted, name, profile_name in slots(cluster, plan):
        role = read_role(iam, name)
        profile = None
        # Another cluster's role (a name collision) is never deleted: no need to read more.
        mine = role is not None and role.owned and role.owner == cluster
        if wanted is not None or mine:
            profile = read_profile(iam, profile_name)
        if wanted is None and role is not None and mine:
            role = _with_other_profiles(iam, role, profile_name)
        observed[kind] = Observed(role=role, profile=profile)
    return observed


def read_role(iam: IAMClient, name: str) -> LiveRole | None:
    """Read one role with its inline policies and attached managed policies.

    Another invocation may delete what is being read meanwhile: a policy listed then gone is
    left out, a role gone after ``GetRole`` reads as absent (as if read a moment later).
    """
    from botocore.exceptions import ClientError

    try:
        role = iam.get_role(RoleName=name)["Role"]
        inline: dict[str, JSONDict] = {}
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy_name in page.get("PolicyNames", []):
                document = _role_policy(iam, name, policy_name)
                if document is not None:
                    inline[policy_name] = document
        managed: set[str] = set()
        for attached in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            managed.update(
                p["PolicyArn"] for p in attached.get("AttachedPolicies", []) if "PolicyArn" in p
            )
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    return LiveRole(name=name, inline=inline, managed=frozenset(managed), **_role_facts(role))


def read_role_facts(iam: IAMClient, role: LiveRole) -> LiveRole | None:
    """``role`` with what ``GetRole`` says of it (path, trust policy, tags, boundary), its
    policies as given; ``None`` when the role is gone. One call."""
    from botocore.exceptions import ClientError

    try:
        found = iam.get_role(RoleName=role.name)["Role"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    return replace(role, **_role_facts(found))


def _role_facts(role: Mapping[str, Any]) -> dict[str, Any]:
    """What ``GetRole`` answers of a role that :class:`LiveRole` keeps."""
    return {
        "path": role.get("Path", "/"),
        "trust": _as_document(role.get("AssumeRolePolicyDocument", {})),
        "tags": {t["Key"]: t["Value"] for t in role.get("Tags", [])},
        "boundary": role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"),
    }


def _role_policy(iam: IAMClient, role: str, policy: str) -> JSONDict | None:
    from botocore.exceptions import ClientError

    try:
        document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    return _as_document(document)


def read_profile(iam: IAMClient, name: str) -> LiveProfile | None:
    """Read one instance profile (its roles and tags)."""
    from botocore.exceptions import ClientError

    try:
        profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    return LiveProfile(
        name=name,
        roles=tuple(r["RoleName"] for r in profile.get("Roles", [])),
        tags={t["Key"]: t["Value"] for t in profile.get("Tags", [])},
        path=profile.get("Path", ROOT_PATH),
    )


def _with_other_profiles(iam: IAMClient, role: LiveRole, own_profile: str) -> LiveRole | None:
    from botocore.exceptions import ClientError

    names: list[str] = []
    try:
        paginator = iam.get_paginator("list_instance_profiles_for_role")
        for page in paginator.paginate(RoleName=role.name):
            names.extend(
                p["InstanceProfileName"]
                for p in page.get("InstanceProfiles", [])
                if p["InstanceProfileName"] != own_profile
            )
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    return replace(role, other_profiles=tuple(names))


def _as_document(value: Any) -> JSONDict:
    if isinstance(value, Mapping):
        return dict(value)
    text = str(value)
    try:
        loaded = json.loads(text)
    except ValueError:
        loaded = json.loads(unquote(text))
    return dict(loaded)
