"""One cluster's roles against IAM: read what is there, compute the writes, perform them.

Three layers, each usable alone:

* pure: :func:`normalize_policy`, :func:`diff_cluster` (desired plan + observed state ->
  :class:`ClusterChanges`: the IAM writes to make and a readable diff);
* reads: :func:`observe_cluster` (a fixed, small number of IAM reads per role);
* writes: :func:`execute` (performs :class:`Write` s in order; classifies errors into a
  concurrent change, worth another read-apply-verify pass, or a failure).

Tags: on a role kops-iam owns, the plan's tags are the whole tag set (kops' tags, the
spec's ``cloudLabels`` and the ownership tag); any other tag is drift and is removed
(``aws:`` tags excepted, IAM does not let anyone set them). See docs/adr/0021.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import unquote

from kops_iam.model import ROLE_KINDS, ClusterPlan, JSONDict, RoleKind, RolePlan
from kops_iam.naming import role_name
from kops_iam.wiring import OWNERSHIP_TAG_KEY, OWNERSHIP_TAG_VALUE

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_iam import IAMClient

log = logging.getLogger("kops-iam.reconcile")

#: Statement fields whose value is a string or a set of strings (order and case of the
#: list do not matter to IAM).
_SET_FIELDS: Final = ("Action", "NotAction", "Resource", "NotResource")
_PRINCIPAL_FIELDS: Final = ("Principal", "NotPrincipal")
#: IAM's default policy language version when a document has none.
_DEFAULT_VERSION: Final = "2008-10-17"
_TAG_CHUNK: Final = 50

RoleAction = Literal["create", "update", "delete", "unchanged", "retain", "skip"]


# --------------------------------------------------------------------------- normalization


def normalize_policy(document: Any) -> JSONDict:
    """Return a canonical form of an IAM policy document, for comparison only.

    Equal canonical forms mean IAM evaluates the documents the same way: a string or a
    one-item list for ``Action``/``Resource`` (and their ``Not`` forms) and principal
    values, the order of those lists, the order of statements, condition values written as
    scalars or lists, and a missing ``Version`` (IAM's default) do not matter. The input may
    be a dict (boto3 decodes IAM's URL-encoded documents), a JSON string or a URL-encoded
    JSON string.
    """
    if isinstance(document, str | bytes):
        text = document.decode("utf-8") if isinstance(document, bytes) else document
        try:
            document = json.loads(text)
        except ValueError:
            document = json.loads(unquote(text))
    if not isinstance(document, Mapping):
        raise ValueError("a policy document must be a JSON object")
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    normalized = [_normalize_statement(s) for s in statements if isinstance(s, Mapping)]
    normalized.sort(key=_canonical_json)
    result: JSONDict = {
        "Version": str(document.get("Version", _DEFAULT_VERSION)),
        "Statement": normalized,
    }
    if "Id" in document:
        result["Id"] = document["Id"]
    return result


def policies_equal(a: Any, b: Any) -> bool:
    """Whether two policy documents are the same once normalized."""
    return normalize_policy(a) == normalize_policy(b)


def _normalize_statement(statement: Mapping[str, Any]) -> JSONDict:
    out: JSONDict = {}
    for key, value in statement.items():
        if key in _SET_FIELDS:
            out[key] = _string_set(value)
        elif key in _PRINCIPAL_FIELDS:
            out[key] = (
                value
                if isinstance(value, str)
                else {k: _string_set(v) for k, v in sorted(dict(value).items())}
            )
        elif key == "Condition" and isinstance(value, Mapping):
            out[key] = {
                op: {k: _string_set(v) for k, v in sorted(dict(block).items())}
                for op, block in sorted(value.items())
            }
        else:
            out[key] = value
    return out


def _string_set(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value]
    return sorted({_scalar(v) for v in items})


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def compact_json(document: Mapping[str, Any]) -> str:
    """Serialize a policy document the way it is sent to IAM (no insignificant whitespace)."""
    return json.dumps(document, separators=(",", ":"))


# --------------------------------------------------------------------------- observed state


@dataclass(frozen=True)
class LiveProfile:
    """An instance profile as IAM holds it."""

    name: str
    roles: tuple[str, ...]
    tags: Mapping[str, str]

    @property
    def owned(self) -> bool:
        """Whether kops-iam created it (carries the ownership tag)."""
        return self.tags.get(OWNERSHIP_TAG_KEY) == OWNERSHIP_TAG_VALUE


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
        """Whether kops-iam created it (carries the ownership tag)."""
        return self.tags.get(OWNERSHIP_TAG_KEY) == OWNERSHIP_TAG_VALUE


@dataclass(frozen=True)
class Observed:
    """What IAM holds under one role name: the role and the instance profile."""

    role: LiveRole | None
    profile: LiveProfile | None


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
    for kind in ROLE_KINDS:
        wanted = plan.roles.get(kind) if plan is not None else None
        name = wanted.role_name if wanted is not None else role_name(kind, cluster)
        role = read_role(iam, name)
        profile_name = wanted.instance_profile_name if wanted is not None else name
        profile = None
        if wanted is not None or (role is not None and role.owned):
            profile = read_profile(iam, profile_name)
        if wanted is None and role is not None and role.owned:
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
    boundary = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    return LiveRole(
        name=name,
        path=role.get("Path", "/"),
        trust=_as_document(role.get("AssumeRolePolicyDocument", {})),
        tags={t["Key"]: t["Value"] for t in role.get("Tags", [])},
        boundary=boundary,
        inline=inline,
        managed=frozenset(managed),
    )


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


# --------------------------------------------------------------------------- changes (pure)


@dataclass(frozen=True)
class Write:
    """One IAM write call: the boto3 method name and its parameters."""

    operation: str
    params: Mapping[str, Any]

    def describe(self) -> str:
        """``operation target`` in words, e.g. ``put_role_policy nodes.c/additional.nodes.c``."""
        target = self.params.get("RoleName") or self.params.get("InstanceProfileName") or ""
        detail = self.params.get("PolicyName") or self.params.get("PolicyArn")
        if self.operation in ("add_role_to_instance_profile", "remove_role_from_instance_profile"):
            detail = self.params.get("RoleName")
            target = self.params.get("InstanceProfileName", "")
        return f"{self.operation} {target}" + (f"/{detail}" if detail else "")


@dataclass(frozen=True)
class RoleChange:
    """What happens to one role: its writes (in order) and a readable diff."""

    kind: RoleKind
    role_name: str
    action: RoleAction
    writes: tuple[Write, ...] = ()
    diff: JSONDict = field(default_factory=dict)

    def summary(self) -> JSONDict:
        """The per-role entry of an audit event."""
        return {"kind": self.kind, "roleName": self.role_name, "action": self.action, **self.diff}


@dataclass(frozen=True)
class RoleConflict:
    """A role kops-iam must not touch (not its own), with the reason."""

    kind: RoleKind
    role_name: str
    reason: str


@dataclass(frozen=True)
class ClusterChanges:
    """Everything that must change for one cluster, role by role."""

    cluster: str
    roles: tuple[RoleChange, ...]
    conflicts: tuple[RoleConflict, ...] = ()

    @property
    def writes(self) -> tuple[Write, ...]:
        """All writes, in the order they must be made."""
        return tuple(w for change in self.roles for w in change.writes)

    @property
    def changed(self) -> bool:
        """Whether any write is needed."""
        return any(change.writes for change in self.roles)

    def summaries(self, *, only_changed: bool = True) -> list[JSONDict]:
        """Per-role diff entries (by default only roles with something to do)."""
        return [
            c.summary()
            for c in self.roles
            if not only_changed or c.writes or c.action in ("retain", "skip")
        ]


def diff_cluster(
    cluster: str,
    plan: ClusterPlan | None,
    observed: Mapping[RoleKind, Observed],
    *,
    adopt: bool = False,
    retain: bool = False,
    path: str = "/",
) -> ClusterChanges:
    """Compute the writes that make IAM match ``plan`` (``None``: the cluster is gone).

    Pure. A role (or instance profile) that exists without the ownership tag is a
    :class:`RoleConflict` when the plan wants it, unless ``adopt``; when the plan does not
    want it, it is left alone. Owned roles the plan does not want are deleted, unless the
    whole cluster is gone and ``retain`` is set.
    """
    changes: list[RoleChange] = []
    conflicts: list[RoleConflict] = []
    for kind in ROLE_KINDS:
        seen = observed.get(kind, Observed(role=None, profile=None))
        wanted = plan.roles.get(kind) if plan is not None else None
        if wanted is not None:
            result = diff_role(wanted, seen, adopt=adopt, path=path)
            if isinstance(result, RoleConflict):
                conflicts.append(result)
            else:
                changes.append(result)
            continue
        role = seen.role
        if role is None:
            continue
        if not role.owned:
            changes.append(
                RoleChange(kind, role.name, "skip", diff={"reason": "not managed by kops-iam"})
            )
        elif plan is None and retain:
            changes.append(RoleChange(kind, role.name, "retain", diff={"reason": "retainOnDelete"}))
        else:
            changes.append(removal(kind, role, seen.profile))
    return ClusterChanges(cluster=cluster, roles=tuple(changes), conflicts=tuple(conflicts))


def diff_role(
    wanted: RolePlan, seen: Observed, *, adopt: bool = False, path: str = "/"
) -> RoleChange | RoleConflict:
    """Writes (and diff) that make one role and its instance profile match ``wanted``."""
    role, profile = seen.role, seen.profile
    name = wanted.role_name
    if role is not None and not role.owned and not adopt:
        return RoleConflict(
            wanted.kind,
            name,
            f"role {name} exists and is not managed by kops-iam "
            f"(no tag {OWNERSHIP_TAG_KEY}={OWNERSHIP_TAG_VALUE}); it is left untouched",
        )
    if profile is not None:
        if not profile.owned and not adopt and role is None:
            return RoleConflict(
                wanted.kind,
                name,
                f"instance profile {profile.name} exists and is not managed by kops-iam",
            )
        strangers = [r for r in profile.roles if r != name]
        if strangers:
            return RoleConflict(
                wanted.kind,
                name,
                f"instance profile {profile.name} holds another role ({', '.join(strangers)})",
            )

    writes: list[Write] = []
    diff: JSONDict = {}
    desired_trust = dict(wanted.assume_role_policy)
    if role is None:
        create: dict[str, Any] = {
            "RoleName": name,
            "Path": path,
            "AssumeRolePolicyDocument": compact_json(desired_trust),
            "Description": f"kops-iam: {wanted.kind} role",
            "Tags": _tag_list(wanted.tags),
        }
        if wanted.permissions_boundary:
            create["PermissionsBoundary"] = wanted.permissions_boundary
        writes.append(Write("create_role", create))
        diff["trustPolicy"] = {"before": None, "after": desired_trust}
        if wanted.permissions_boundary:
            diff["permissionsBoundary"] = {"before": None, "after": wanted.permissions_boundary}
        diff["tags"] = tag_diff({}, wanted.tags)
        live_inline: Mapping[str, JSONDict] = {}
        live_managed: frozenset[str] = frozenset()
    else:
        tag_writes, tags_changed = _tag_writes("role", name, role.tags, wanted.tags)
        writes.extend(tag_writes)
        if tags_changed:
            diff["tags"] = tags_changed
        if not policies_equal(role.trust, desired_trust):
            writes.append(
                Write(
                    "update_assume_role_policy",
                    {"RoleName": name, "PolicyDocument": compact_json(desired_trust)},
                )
            )
            diff["trustPolicy"] = {"before": role.trust, "after": desired_trust}
        if role.boundary != wanted.permissions_boundary:
            if wanted.permissions_boundary:
                writes.append(
                    Write(
                        "put_role_permissions_boundary",
                        {"RoleName": name, "PermissionsBoundary": wanted.permissions_boundary},
                    )
                )
            else:
                writes.append(Write("delete_role_permissions_boundary", {"RoleName": name}))
            diff["permissionsBoundary"] = {
                "before": role.boundary,
                "after": wanted.permissions_boundary,
            }
        live_inline = role.inline
        live_managed = role.managed

    policy_diffs: JSONDict = {}
    for policy_name, document in wanted.inline_policies.items():
        before = live_inline.get(policy_name)
        if before is not None and policies_equal(before, document):
            continue
        writes.append(
            Write(
                "put_role_policy",
                {
                    "RoleName": name,
                    "PolicyName": policy_name,
                    "PolicyDocument": compact_json(document),
                },
            )
        )
        policy_diffs[policy_name] = policy_diff(before, document)
    attach = [arn for arn in wanted.managed_policy_arns if arn not in live_managed]
    writes.extend(Write("attach_role_policy", {"RoleName": name, "PolicyArn": a}) for a in attach)
    for policy_name in sorted(set(live_inline) - set(wanted.inline_policies)):
        writes.append(Write("delete_role_policy", {"RoleName": name, "PolicyName": policy_name}))
        policy_diffs[policy_name] = policy_diff(live_inline[policy_name], None)
    detach = sorted(live_managed - set(wanted.managed_policy_arns))
    writes.extend(Write("detach_role_policy", {"RoleName": name, "PolicyArn": a}) for a in detach)
    if policy_diffs:
        diff["inlinePolicies"] = policy_diffs
    if attach or detach:
        diff["managedPolicies"] = {"attached": attach, "detached": detach}

    profile_name = wanted.instance_profile_name
    profile_diff: JSONDict = {}
    if profile is None:
        writes.append(
            Write(
                "create_instance_profile",
                {"InstanceProfileName": profile_name, "Path": path, "Tags": _tag_list(wanted.tags)},
            )
        )
        profile_diff["created"] = True
    else:
        tag_writes, tags_changed = _tag_writes(
            "instance_profile", profile_name, profile.tags, wanted.tags
        )
        writes.extend(tag_writes)
        if tags_changed:
            profile_diff["tags"] = tags_changed
    if profile is None or name not in profile.roles:
        writes.append(
            Write(
                "add_role_to_instance_profile",
                {"InstanceProfileName": profile_name, "RoleName": name},
            )
        )
        profile_diff["roleAdded"] = name
    if profile_diff:
        diff["instanceProfile"] = {"name": profile_name, **profile_diff}

    if role is not None and not role.owned:
        diff["adopted"] = True
    action: RoleAction = "create" if role is None else ("update" if writes else "unchanged")
    return RoleChange(wanted.kind, name, action, tuple(writes), diff)


def removal(kind: RoleKind, role: LiveRole, profile: LiveProfile | None) -> RoleChange:
    """Writes that delete an owned role, its policies and its instance profile."""
    name = role.name
    writes: list[Write] = []
    diff: JSONDict = {}
    for other in role.other_profiles:
        writes.append(
            Write(
                "remove_role_from_instance_profile",
                {"InstanceProfileName": other, "RoleName": name},
            )
        )
    if profile is not None:
        if name in profile.roles:
            writes.append(
                Write(
                    "remove_role_from_instance_profile",
                    {"InstanceProfileName": profile.name, "RoleName": name},
                )
            )
        if not [r for r in profile.roles if r != name]:
            writes.append(Write("delete_instance_profile", {"InstanceProfileName": profile.name}))
            diff["instanceProfile"] = {"name": profile.name, "deleted": True}
    for arn in sorted(role.managed):
        writes.append(Write("detach_role_policy", {"RoleName": name, "PolicyArn": arn}))
    for policy_name in sorted(role.inline):
        writes.append(Write("delete_role_policy", {"RoleName": name, "PolicyName": policy_name}))
    writes.append(Write("delete_role", {"RoleName": name}))
    if role.inline:
        diff["inlinePolicies"] = {n: policy_diff(d, None) for n, d in sorted(role.inline.items())}
    if role.managed:
        diff["managedPolicies"] = {"attached": [], "detached": sorted(role.managed)}
    return RoleChange(kind, name, "delete", tuple(writes), diff)


def tag_diff(before: Mapping[str, str], after: Mapping[str, str]) -> JSONDict:
    """Readable tag changes: ``added``, ``changed`` (before/after) and ``removed``."""
    added = {k: v for k, v in after.items() if k not in before}
    changed = {
        k: {"before": before[k], "after": v}
        for k, v in after.items()
        if k in before and before[k] != v
    }
    removed = {k: v for k, v in before.items() if k not in after and not k.startswith("aws:")}
    out: JSONDict = {}
    if added:
        out["added"] = added
    if changed:
        out["changed"] = changed
    if removed:
        out["removed"] = removed
    return out


def _tag_writes(
    target: Literal["role", "instance_profile"],
    name: str,
    before: Mapping[str, str],
    after: Mapping[str, str],
) -> tuple[list[Write], JSONDict]:
    changes = tag_diff(before, after)
    writes: list[Write] = []
    name_key = "RoleName" if target == "role" else "InstanceProfileName"
    upserts = {
        **changes.get("added", {}),
        **{k: v["after"] for k, v in changes.get("changed", {}).items()},
    }
    items = sorted(upserts.items())
    for i in range(0, len(items), _TAG_CHUNK):
        chunk = dict(items[i : i + _TAG_CHUNK])
        writes.append(Write(f"tag_{target}", {name_key: name, "Tags": _tag_list(chunk)}))
    removed = sorted(changes.get("removed", {}))
    for i in range(0, len(removed), _TAG_CHUNK):
        writes.append(
            Write(f"untag_{target}", {name_key: name, "TagKeys": removed[i : i + _TAG_CHUNK]})
        )
    return writes, changes


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def policy_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> JSONDict:
    """Readable difference between two versions of one policy.

    ``actions`` and ``resources`` list what was added and removed across all statements.
    An action granted by an ``Allow`` statement appears as is (``s3:GetObject``); others
    say how they are used (``Deny s3:GetObject``, ``Allow NotAction iam:*``). ``statements``
    holds the normalized statements present on one side only.
    """
    old = normalize_policy(before) if before is not None else None
    new = normalize_policy(after) if after is not None else None
    change = "added" if old is None else ("removed" if new is None else "modified")
    old_actions, old_resources = _terms(old)
    new_actions, new_resources = _terms(new)
    old_statements = [_canonical_json(s) for s in (old or {}).get("Statement", [])]
    new_statements = [_canonical_json(s) for s in (new or {}).get("Statement", [])]
    return {
        "change": change,
        "actions": {
            "added": sorted(new_actions - old_actions),
            "removed": sorted(old_actions - new_actions),
        },
        "resources": {
            "added": sorted(new_resources - old_resources),
            "removed": sorted(old_resources - new_resources),
        },
        "statements": {
            "added": [json.loads(s) for s in new_statements if s not in old_statements],
            "removed": [json.loads(s) for s in old_statements if s not in new_statements],
        },
    }


def _terms(document: Mapping[str, Any] | None) -> tuple[set[str], set[str]]:
    actions: set[str] = set()
    resources: set[str] = set()
    for statement in (document or {}).get("Statement", []):
        effect = statement.get("Effect", "Allow")
        for action in statement.get("Action", []):
            actions.add(action if effect == "Allow" else f"{effect} {action}")
        for action in statement.get("NotAction", []):
            actions.add(f"{effect} NotAction {action}")
        resources.update(statement.get("Resource", []))
        resources.update(f"NotResource {r}" for r in statement.get("NotResource", []))
    return actions, resources


# --------------------------------------------------------------------------- writes

#: Error codes that mean another invocation changed the same role meanwhile: the pass is
#: abandoned and the reconciler reads again.
_CONCURRENT_CODES: Final = frozenset(
    {"EntityAlreadyExists", "DeleteConflict", "ConcurrentModification"}
)
#: Operations whose ``NoSuchEntity`` names a missing *policy*, not a vanished role.
_POLICY_LOOKUPS: Final = frozenset(
    {"create_role", "attach_role_policy", "put_role_permissions_boundary"}
)


class ConcurrentChange(Exception):
    """IAM changed under a pass (another invocation at work); read again and retry."""

    def __init__(self, write: Write, completed: Sequence[Write], cause: Exception) -> None:
        self.write = write
        self.completed = tuple(completed)
        super().__init__(f"{write.describe()}: {cause}")


class WriteFailed(Exception):
    """An IAM write failed for good (after botocore's retries)."""

    def __init__(self, write: Write, completed: Sequence[Write], cause: Exception) -> None:
        self.write = write
        self.completed = tuple(completed)
        self.cause = cause
        self.code = error_code(cause)
        super().__init__(f"{write.describe()} failed: {cause}")


def execute(
    iam: IAMClient,
    writes: Iterable[Write],
    on_write: Callable[[Write], None] | None = None,
) -> tuple[Write, ...]:
    """Perform ``writes`` in order; return them.

    Idempotent cleanups are tolerated: deleting something already gone is success.

    Raises
    ------
    ConcurrentChange
        IAM no longer looks as it was read (another invocation changed it).
    WriteFailed
        Any other error; ``completed`` lists the writes made before it.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    done: list[Write] = []
    for write in writes:
        try:
            getattr(iam, write.operation)(**write.params)
        except ClientError as exc:
            code = error_code(exc)
            if code == "NoSuchEntity" and write.operation.startswith(
                ("delete_", "detach_", "remove_")
            ):
                log.info("already gone: %s", write.describe())
            elif (
                code in _CONCURRENT_CODES
                or (code == "NoSuchEntity" and write.operation not in _POLICY_LOOKUPS)
                or (code == "LimitExceeded" and write.operation == "add_role_to_instance_profile")
            ):
                raise ConcurrentChange(write, done, exc) from exc
            else:
                raise WriteFailed(write, done, exc) from exc
        except BotoCoreError as exc:
            raise WriteFailed(write, done, exc) from exc
        done.append(write)
        if on_write is not None:
            on_write(write)
    return tuple(done)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return ""
    return str(response.get("Error", {}).get("Code", ""))
