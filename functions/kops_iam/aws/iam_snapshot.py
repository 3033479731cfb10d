"""IAM in bulk: the account's kops roles in a few calls, for drift checks and events.

:func:`read_snapshot` pages through ``GetAccountAuthorizationDetails`` with
``Filter=["Role"]`` (up to 1,000 roles a page, ``Marker`` until ``IsTruncated`` is false;
IAM may answer fewer than asked, so no page is assumed full) and keeps, of the roles named
as kops names them (:data:`~kops_iam.domain.naming.ROLE_NAME_PREFIXES`), what
:mod:`kops_iam.aws.iam_diff` compares: trust policy, tags, permissions boundary, inline
policies, attached managed policies and the instance profiles holding the role. Policy
documents are kept as compact JSON text (a few KB a role), not as Python dicts, so a
snapshot of 20,000 roles stays within tens of MB.

:func:`observe_snapshot` answers what :func:`~kops_iam.aws.iam_read.observe_cluster`
answers, for one cluster, from the snapshot instead of per-role calls, so the very same
:func:`~kops_iam.aws.iam_diff.diff_cluster` decides whether anything differs.

In a drift check, what the snapshot cannot see reads as "differs" (the caller then reads
and reconciles the cluster role by role): an instance profile that does not hold its role,
and anything changed after the snapshot was taken. An event's reconcile
(:func:`observe_cluster_in_one_page`, docs/adr/0121) reads those things on its own
instead. One thing it may not be given: AWS documents tags on
the instance profiles ``GetAccountAuthorizationDetails`` returns as part of the shape, not
as returned (listing calls such as ``ListInstanceProfiles`` leave tags out). When an answer
has none, the profile's tags are taken as planned and counted
(:attr:`IamSnapshot.profile_tags_missing`): profile tag drift is then seen by event-driven
and per-role reconciles only (docs/adr/0111).

The action cannot be scoped to kops roles: it returns every role of the account, and the
function's policy must allow it on ``"*"`` (docs/adr/0111).

:func:`dump_snapshot` and :func:`load_snapshot` turn a snapshot into bytes and back
(gzip-compressed JSON, versioned), so the schedule's invocation can read IAM once per
period and share it with every worker (docs/adr/0117). :func:`load_snapshot` checks the
shape of what it reads and raises :class:`ValueError` on anything else.
"""

from __future__ import annotations

import gzip
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from kops_iam.aws.iam_read import (
    LiveProfile,
    LiveRole,
    Observed,
    observe_cluster,
    read_profile,
    read_role_facts,
    slots,
)
from kops_iam.domain.model import ClusterPlan, JSONDict, RoleKind, RolePlan
from kops_iam.domain.naming import ROLE_NAME_PREFIXES

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_iam import IAMClient

#: Most items one page may hold (IAM's bound for ``MaxItems``).
MAX_PAGE_ITEMS: Final = 1000
#: Format of :func:`dump_snapshot`'s output (a reader refuses any other).
SNAPSHOT_FORMAT: Final = "kops-iam/iam-snapshot/1"

Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SnapshotProfile:
    """An instance profile holding a role, as the snapshot saw it."""

    name: str
    path: str
    roles: tuple[str, ...]
    #: ``None``: the answer carried no tags for it (see the module docstring).
    tags: Tags | None


@dataclass(frozen=True)
class SnapshotRole:
    """One role, as compact as the comparison allows."""

    name: str
    path: str
    trust: str
    tags: Tags
    boundary: str | None
    inline: tuple[tuple[str, str], ...]
    managed: frozenset[str]
    profiles: tuple[SnapshotProfile, ...] = ()

    def live(self, other_profiles: tuple[str, ...] = ()) -> LiveRole:
        """The role as :mod:`kops_iam.aws.iam_read` would have read it."""
        return LiveRole(
            name=self.name,
            path=self.path,
            trust=_document(self.trust),
            tags=dict(self.tags),
            boundary=self.boundary,
            inline={name: _document(text) for name, text in self.inline},
            managed=self.managed,
            other_profiles=other_profiles,
        )


@dataclass(frozen=True)
class IamSnapshot:
    """The kops roles of the account, read in bulk."""

    roles: Mapping[str, SnapshotRole]
    #: Wall-clock time (seconds since the epoch) before the first page was asked for: the
    #: snapshot shows IAM as it was at this moment or later.
    taken_at: float
    #: ``GetAccountAuthorizationDetails`` calls it took.
    pages: int
    #: Roles the account holds (kops' and everyone else's).
    seen: int
    #: Instance profiles the answer gave without tags.
    profile_tags_missing: int = 0


def is_kops_role(name: str) -> bool:
    """Whether ``name`` is a role name kops gives (``masters.``, ``nodes.``, ``bastions.``)."""
    return name.startswith(ROLE_NAME_PREFIXES)


def read_snapshot(
    iam: IAMClient,
    *,
    page_size: int = MAX_PAGE_ITEMS,
    clock: Callable[[], float] = time.time,
    keep: Callable[[str], bool] = is_kops_role,
) -> IamSnapshot:
    """Read every role of the account (``GetAccountAuthorizationDetails``, paginated) and
    keep those ``keep`` selects by name."""
    taken_at = clock()
    roles: dict[str, SnapshotRole] = {}
    pages = seen = missing = 0
    for page in role_pages(iam, page_size):
        pages += 1
        for detail in page.get("RoleDetailList", []):
            seen += 1
            name = detail.get("RoleName", "")
            if not name or not keep(name):
                continue
            role = snapshot_role(detail)
            missing += sum(1 for p in role.profiles if p.tags is None)
            roles[name] = role
    return IamSnapshot(
        roles=roles, taken_at=taken_at, pages=pages, seen=seen, profile_tags_missing=missing
    )


def role_pages(iam: IAMClient, page_size: int = MAX_PAGE_ITEMS) -> Iterator[Mapping[str, Any]]:
    """The pages of ``GetAccountAuthorizationDetails`` with ``Filter=["Role"]``, one call
    each, ``Marker`` to continue until ``IsTruncated`` is false."""
    if not 1 <= page_size <= MAX_PAGE_ITEMS:
        raise ValueError(f"page_size must be within 1..{MAX_PAGE_ITEMS}")
    marker: str | None = None
    while True:
        request: dict[str, Any] = {"Filter": ["Role"], "MaxItems": page_size}
        if marker:
            request["Marker"] = marker
        page = iam.get_account_authorization_details(**request)
        yield page
        marker = page.get("Marker")
        if not page.get("IsTruncated"):
            return
        if not marker:
            raise RuntimeError("GetAccountAuthorizationDetails: truncated page without Marker")


def snapshot_role(detail: Mapping[str, Any]) -> SnapshotRole:
    """A ``RoleDetail`` of ``GetAccountAuthorizationDetails``, compacted."""
    boundary = (detail.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    return SnapshotRole(
        name=str(detail["RoleName"]),
        path=str(detail.get("Path", "/")),
        trust=_text(detail.get("AssumeRolePolicyDocument", {})),
        tags=_tags(detail.get("Tags", [])),
        boundary=str(boundary) if boundary else None,
        inline=tuple(
            (str(p["PolicyName"]), _text(p.get("PolicyDocument", {})))
            for p in detail.get("RolePolicyList", [])
            if "PolicyName" in p
        ),
        managed=frozenset(
            str(p["PolicyArn"])
            for p in detail.get("AttachedManagedPolicies", [])
            if "PolicyArn" in p
        ),
        profiles=tuple(
            SnapshotProfile(
                name=str(p["InstanceProfileName"]),
                path=str(p.get("Path", "/")),
                roles=tuple(str(r["RoleName"]) for r in p.get("Roles", []) if "RoleName" in r),
                tags=_tags(p["Tags"]) if "Tags" in p else None,
            )
            for p in detail.get("InstanceProfileList", [])
            if "InstanceProfileName" in p
        ),
    )


def observe_snapshot(
    snapshot: IamSnapshot,
    cluster: str,
    plan: ClusterPlan | None,
    *,
    iam: IAMClient | None = None,
) -> dict[RoleKind, Observed]:
    """What :func:`~kops_iam.aws.iam_read.observe_cluster` reads for ``cluster``, taken
    from ``snapshot``.

    Without ``iam`` (a drift check's first look) no AWS call is made: an instance profile
    the answer gave without tags is taken as planned, and one that does not hold its role
    reads as absent (so the cluster differs and is reconciled role by role). With ``iam``
    (a reconcile, :func:`observe_cluster_in_one_page`), what the answer cannot vouch for is
    read on its own, one call each, so the result is what the per-role reads would say:

    * ``GetInstanceProfile`` for a profile the answer does not show holding its role (an
      answer lists profiles only under the roles they hold) or shows without tags (no key,
      or none);
    * ``GetRole`` for a role the answer does not show as this cluster's (its tags decide
      a rejection or an adoption), a role the plan does not want (to be deleted), or one
      without the permissions boundary the plan wants.
    """
    observed: dict[RoleKind, Observed] = {}
    for kind, wanted, name, profile_name in slots(cluster, plan):
        found = snapshot.roles.get(name)
        held = {p.name: p for p in found.profiles} if found is not None else {}
        role = found.live() if found is not None else None
        if iam is not None and role is not None and _unsure(role, wanted, cluster):
            role = read_role_facts(iam, role)
        # as iam_read: another cluster's role (a name collision) is never deleted
        mine = role is not None and role.owned and role.owner == cluster
        profile = None
        if (wanted is not None or mine) and (role is not None or iam is not None):
            seen = held.get(profile_name)
            # with iam: a profile shown without tags is read (kops-iam tags every profile
            # it makes; an answer giving ``[]`` may leave them out as well as no key)
            if seen is not None and seen.tags is not None and (iam is None or seen.tags):
                profile = LiveProfile(
                    name=seen.name, roles=seen.roles, tags=dict(seen.tags), path=seen.path
                )
            elif iam is not None:
                profile = read_profile(iam, profile_name)
            elif seen is not None:  # not in the answer: taken as planned (module docstring)
                tags = dict(wanted.tags) if wanted is not None else {}
                profile = LiveProfile(name=seen.name, roles=seen.roles, tags=tags, path=seen.path)
        if wanted is None and mine and role is not None:
            role = replace(role, other_profiles=tuple(n for n in held if n != profile_name))
        observed[kind] = Observed(role=role, profile=profile)
    return observed


def _unsure(role: LiveRole, wanted: RolePlan | None, cluster: str) -> bool:
    """Whether a reconcile must ask ``GetRole`` what the bulk answer said of ``role``: its
    tags do not show it as this cluster's, the plan no longer wants it (a deletion, rare,
    is decided on what ``GetRole`` says now), or the boundary the plan wants is missing."""
    if wanted is None or not (role.owned and role.owner == cluster):
        return True
    return bool(wanted.permissions_boundary) and role.boundary is None


def observe_cluster_in_one_page(
    iam: IAMClient,
    cluster: str,
    plan: ClusterPlan | None,
    *,
    clock: Callable[[], float] = time.time,
) -> dict[RoleKind, Observed] | None:
    """What :func:`~kops_iam.aws.iam_read.observe_cluster` reads for ``cluster``, from one
    ``GetAccountAuthorizationDetails`` page, or ``None`` when that page does not hold every
    role of the account (the caller then reads role by role).

    One call when the answer vouches for everything, plus the reads
    :func:`observe_snapshot` makes for what it cannot vouch for (docs/adr/0121). A page
    that continues (``IsTruncated`` or a ``Marker``) is not the account. When the page
    names a role of the cluster in another case (IAM's names are not distinguished by
    case: ``GetRole`` and ``CreateRole`` find that role) or lists it twice, it cannot say
    which role the per-role reads find: the cluster is read role by role.
    """
    names = {slot.role for slot in slots(cluster, plan)}
    taken_at = clock()
    page = next(role_pages(iam))
    if page.get("IsTruncated") or page.get("Marker"):
        return None
    details = page.get("RoleDetailList", [])
    folded = {name.casefold() for name in names}
    named = [d for d in details if str(d.get("RoleName", "")).casefold() in folded]
    found = [str(d["RoleName"]) for d in named]
    if len(set(found)) != len(found) or not set(found) <= names:
        return observe_cluster(iam, cluster, plan)
    roles = {str(d["RoleName"]): snapshot_role(d) for d in named}
    snapshot = IamSnapshot(roles=roles, taken_at=taken_at, pages=1, seen=len(details))
    return observe_snapshot(snapshot, cluster, plan, iam=iam)


def _tags(items: Iterable[Mapping[str, Any]]) -> Tags:
    return tuple(sorted((str(t["Key"]), str(t.get("Value", ""))) for t in items if "Key" in t))


def _text(value: Any) -> str:
    """A policy document as compact JSON text (botocore hands over dicts; raw answers are
    URL-encoded JSON)."""
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":"))
    text = str(value)
    try:
        json.loads(text)
    except ValueError:
        text = unquote(text)
        json.loads(text)
    return text


def _document(text: str) -> JSONDict:
    loaded = json.loads(text)
    return dict(loaded) if isinstance(loaded, Mapping) else {}


# --------------------------------------------------------------------------- shared form


def dump_snapshot(snapshot: IamSnapshot) -> bytes:
    """``snapshot`` as gzip-compressed JSON (:func:`load_snapshot` reads it back)."""
    document = {
        "format": SNAPSHOT_FORMAT,
        "takenAt": snapshot.taken_at,
        "pages": snapshot.pages,
        "seen": snapshot.seen,
        "profileTagsMissing": snapshot.profile_tags_missing,
        "roles": [
            [
                role.name,
                role.path,
                role.trust,
                [list(tag) for tag in role.tags],
                role.boundary,
                [list(policy) for policy in role.inline],
                sorted(role.managed),
                [
                    [
                        p.name,
                        p.path,
                        list(p.roles),
                        None if p.tags is None else [list(tag) for tag in p.tags],
                    ]
                    for p in role.profiles
                ],
            ]
            for role in snapshot.roles.values()
        ],
    }
    text = json.dumps(document, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), compresslevel=1, mtime=0)


def load_snapshot(data: bytes) -> IamSnapshot:
    """A snapshot :func:`dump_snapshot` wrote; :class:`ValueError` for anything else.

    The document and each role's name are checked here; a role's other fields when it is
    first looked up (a worker looks up the roles of the clusters it checks, a fraction of
    the account's), with the same :class:`ValueError`.
    """
    try:
        document = json.loads(gzip.decompress(data))
    except (OSError, EOFError, ValueError) as exc:
        raise ValueError(f"not a snapshot: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"not a snapshot in format {SNAPSHOT_FORMAT}")
    try:
        rows: dict[str, list[Any]] = {}
        for row in _items(document["roles"]):
            name = _str(_items(row, 8)[0])
            if name in rows:
                raise ValueError(f"role {name!r} twice")
            rows[name] = row
        return IamSnapshot(
            roles=_Roles(rows),
            taken_at=_number(document["takenAt"]),
            pages=int(_number(document["pages"])),
            seen=int(_number(document["seen"])),
            profile_tags_missing=int(_number(document["profileTagsMissing"])),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a snapshot: {exc!r}") from exc


class _Roles(Mapping[str, SnapshotRole]):
    """A loaded snapshot's roles, each made (and checked) when first looked up."""

    def __init__(self, rows: dict[str, list[Any]]) -> None:
        self._rows = rows
        self._made: dict[str, SnapshotRole] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> SnapshotRole:
        role = self._made.get(name)
        if role is None:
            role = _role(self._rows[name])
            with self._lock:
                self._made[name] = role
        return role

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def _role(row: list[Any]) -> SnapshotRole:
    try:
        name, path, trust, tags, boundary, inline, managed, profiles = row
        return SnapshotRole(
            name=_str(name),
            path=_str(path),
            trust=_str(trust),
            tags=_pairs(tags),
            boundary=None if boundary is None else _str(boundary),
            inline=_pairs(inline),
            managed=frozenset(_str(arn) for arn in _items(managed)),
            profiles=tuple(
                SnapshotProfile(
                    name=_str(p_name),
                    path=_str(p_path),
                    roles=tuple(_str(r) for r in _items(p_roles)),
                    tags=None if p_tags is None else _pairs(p_tags),
                )
                for p_name, p_path, p_roles, p_tags in (_items(p, 4) for p in _items(profiles))
            ),
        )
    except TypeError as exc:
        raise ValueError(f"not a snapshot role: {exc!r}") from exc


def _items(value: Any, length: int | None = None) -> list[Any]:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise ValueError(f"expected a list{f' of {length}' if length else ''}, not {value!r:.80}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, not {value!r:.80}")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a finite number, not {value!r:.80}")
    return float(value)


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple((_str(k), _str(v)) for k, v in (_items(pair, 2) for pair in _items(value)))
