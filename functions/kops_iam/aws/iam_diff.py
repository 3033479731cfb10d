"""The IAM diff, pure: plan + observed IAM state -> the writes to make and a readable diff.

No I/O: :func:`diff_cluster` takes what :mod:`kops_iam.aws.iam_read` observed and returns
:class:`ClusterChanges`, whose :class:`Write` s :mod:`kops_iam.aws.iam_write` performs.
Policies are compared in a canonical form (:func:`normalize_policy`).

Tags: on a role kops-iam owns, the plan's tags are the whole tag set (kops' tags, the
spec's ``cloudLabels`` and the ownership tags); any other tag is drift and is removed
(``aws:`` tags excepted, IAM does not let anyone set them). See docs/adr/0021.

Ownership: a role or instance profile is touched only when it belongs to the cluster being
reconciled (:mod:`kops_iam.domain.ownership`; docs/adr/0060, 0061). One that belongs to
another cluster (truncated names can coincide), or sits at a path the function may not
write, is a :class:`RoleConflict` when the plan wants it and is skipped when it does not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import unquote

from kops_iam.aws.iam_read import LiveProfile, LiveRole, Observed
from kops_iam.domain.model import ROLE_KINDS, ClusterPlan, JSONDict, RoleKind, RolePlan
from kops_iam.domain.naming import CLUSTER_TAG_KEY, MANAGED_PATH
from kops_iam.domain.options import Approval
from kops_iam.domain.ownership import UNTOUCHABLE, OwnershipRules, Standing

#: Statement fields whose value is a string or a set of strings (order and case of the
#: list do not matter to IAM).
_SET_FIELDS: Final = ("Action", "NotAction", "Resource", "NotResource")
_PRINCIPAL_FIELDS: Final = ("Principal", "NotPrincipal")
#: IAM's default policy language version when a document has none.
_DEFAULT_VERSION: Final = "2008-10-17"
_TAG_CHUNK: Final = 50

RoleAction = Literal["create", "update", "delete", "unchanged", "retain", "skip"]
#: Why a role or profile the plan needs cannot be written (the ``Spec Rejected`` reason).
ConflictCode = Literal["foreign-role", "name-collision", "unknown-owner", "root-path", "other-path"]
_CONFLICT_CODES: Final[dict[Standing, ConflictCode]] = {
    "unmanaged": "foreign-role",
    "other-cluster": "name-collision",
    "no-owner": "unknown-owner",
    "root-path": "root-path",
    "other-path": "other-path",
}
#: The reason a rejection reports when roles conflict in several ways (most severe first).
CONFLICT_PRECEDENCE: Final[tuple[ConflictCode, ...]] = (
    "name-collision",
    "unknown-owner",
    "root-path",
    "other-path",
    "foreign-role",
)
#: Every IAM write kops-iam makes (boto3 method names; :func:`kops_iam.aws.iam_write.send`).
Operation = Literal[
    "create_role",
    "update_assume_role_policy",
    "put_role_permissions_boundary",
    "delete_role_permissions_boundary",
    "tag_role",
    "untag_role",
    "put_role_policy",
    "delete_role_policy",
    "attach_role_policy",
    "detach_role_policy",
    "create_instance_profile",
    "tag_instance_profile",
    "untag_instance_profile",
    "add_role_to_instance_profile",
    "remove_role_from_instance_profile",
    "delete_instance_profile",
    "delete_role",
]


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


@dataclass(frozen=True)
class Write:
    """One IAM write call: the boto3 method name and its parameters."""

    operation: Operation
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
    code: ConflictCode = "foreign-role"


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
    path: str = MANAGED_PATH,
    manage_root_path: bool = False,
    approval: Approval | None = None,
) -> ClusterChanges:
    """Compute the writes that make IAM match ``plan`` (``None``: the cluster is gone).

    Pure. A role (or instance profile) the plan wants that is not this cluster's to write
    (:class:`~kops_iam.domain.ownership.OwnershipRules`: created by someone else, unless
    ``adopt``; another cluster's; at a path the function may not write) is a
    :class:`RoleConflict`; when the plan does not want it, it is skipped. This cluster's
    roles the plan does not want are deleted, unless the whole cluster is gone and
    ``retain`` is set. New roles and profiles are created under ``path``.
    """
    rules = OwnershipRules(
        path=path, adopt=adopt, manage_root_path=manage_root_path, approval=approval or Approval()
    )
    changes: list[RoleChange] = []
    conflicts: list[RoleConflict] = []
    for kind in ROLE_KINDS:
        seen = observed.get(kind, Observed(role=None, profile=None))
        wanted = plan.roles.get(kind) if plan is not None else None
        if wanted is not None:
            result = diff_role(wanted, seen, cluster=cluster, rules=rules)
            if isinstance(result, RoleConflict):
                conflicts.append(result)
            else:
                changes.append(result)
            continue
        role = seen.role
        if role is None:
            continue
        left_alone = _left_alone(cluster, rules, role, seen.profile)
        if left_alone is not None:
            changes.append(RoleChange(kind, role.name, "skip", diff={"reason": left_alone}))
        elif plan is None and retain:
            changes.append(RoleChange(kind, role.name, "retain", diff={"reason": "retainOnDelete"}))
        else:
            changes.append(removal(kind, role, seen.profile, cluster=cluster, rules=rules))
    return ClusterChanges(cluster=cluster, roles=tuple(changes), conflicts=tuple(conflicts))


def _left_alone(
    cluster: str, rules: OwnershipRules, role: LiveRole, profile: LiveProfile | None
) -> str | None:
    """Why a role the plan does not want must not be deleted (``None``: delete it)."""
    standing = rules.standing(cluster, role.tags, role.path)
    if standing == "unmanaged":
        return "not managed by kops-iam"
    if standing in UNTOUCHABLE:
        return rules.explain(
            standing, cluster=cluster, what=f"role {role.name}", tags=role.tags, path=role.path
        )
    if profile is not None and role.name in profile.roles:
        held = rules.standing(cluster, profile.tags, profile.path)
        if held != "mine":
            return (
                f"instance profile {profile.name} holds it and is not {cluster!r}'s to change: "
                + rules.explain(
                    held,
                    cluster=cluster,
                    what=f"instance profile {profile.name}",
                    tags=profile.tags,
                    path=profile.path,
                )
            )
    return None


def _conflict(
    wanted: RolePlan,
    rules: OwnershipRules,
    cluster: str,
    standing: Standing,
    what: str,
    tags: Mapping[str, str],
    path: str,
) -> RoleConflict:
    return RoleConflict(
        wanted.kind,
        wanted.role_name,
        rules.explain(standing, cluster=cluster, what=what, tags=tags, path=path),
        _CONFLICT_CODES[standing],
    )


def diff_role(
    wanted: RolePlan,
    seen: Observed,
    *,
    cluster: str | None = None,
    rules: OwnershipRules | None = None,
    adopt: bool = False,
    path: str = MANAGED_PATH,
) -> RoleChange | RoleConflict:
    """Writes (and diff) that make one role and its instance profile match ``wanted``.

    ``cluster`` defaults to the plan's ``kops-iam/cluster`` tag; ``rules`` to
    :class:`~kops_iam.domain.ownership.OwnershipRules` with ``adopt`` and ``path``.
    """
    rules = rules or OwnershipRules(path=path, adopt=adopt)
    cluster = cluster or wanted.tags.get(CLUSTER_TAG_KEY)
    if not cluster:
        raise ValueError(f"diff_role: no cluster for {wanted.role_name}")
    role, profile = seen.role, seen.profile
    name = wanted.role_name
    if role is not None:
        standing = rules.standing(cluster, role.tags, role.path)
        if standing in UNTOUCHABLE or (standing == "unmanaged" and not rules.adopt):
            return _conflict(wanted, rules, cluster, standing, f"role {name}", role.tags, role.path)
    if profile is not None:
        standing = rules.standing(cluster, profile.tags, profile.path)
        if standing in UNTOUCHABLE or (standing == "unmanaged" and not rules.adopt):
            what = f"instance profile {profile.name}"
            return _conflict(wanted, rules, cluster, standing, what, profile.tags, profile.path)
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
            "Path": rules.path,
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
                {
                    "InstanceProfileName": profile_name,
                    "Path": rules.path,
                    "Tags": _tag_list(wanted.tags),
                },
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


def removal(
    kind: RoleKind,
    role: LiveRole,
    profile: LiveProfile | None,
    *,
    cluster: str | None = None,
    rules: OwnershipRules | None = None,
) -> RoleChange:
    """Writes that delete an owned role, its policies and its instance profile.

    The instance profile is deleted only when it is empty once the role is out and it is
    ``cluster``'s (by default: the role's owner) under ``rules``.
    """
    rules = rules or OwnershipRules()
    cluster = cluster or role.owner or ""
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
        mine = rules.standing(cluster, profile.tags, profile.path) == "mine"
        if mine and not [r for r in profile.roles if r != name]:
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
    tag_op: Operation = "tag_role" if target == "role" else "tag_instance_profile"
    untag_op: Operation = "untag_role" if target == "role" else "untag_instance_profile"
    upserts = {
        **changes.get("added", {}),
        **{k: v["after"] for k, v in changes.get("changed", {}).items()},
    }
    items = sorted(upserts.items())
    for i in range(0, len(items), _TAG_CHUNK):
        chunk = dict(items[i : i + _TAG_CHUNK])
        writes.append(Write(tag_op, {name_key: name, "Tags": _tag_list(chunk)}))
    removed = sorted(changes.get("removed", {}))
    for i in range(0, len(removed), _TAG_CHUNK):
        writes.append(Write(untag_op, {name_key: name, "TagKeys": removed[i : i + _TAG_CHUNK]}))
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
