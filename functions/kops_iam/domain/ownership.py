"""Who owns an IAM role or instance profile, and whether one cluster's reconcile may touch it.

Pure: decided from the resource's tags and IAM path alone (docs/adr/0060, 0061).

* kops-iam creates roles and instance profiles under :data:`~kops_iam.domain.naming.
  MANAGED_PATH`, tagged ``kops-iam/managed-by=kops-iam`` and ``kops-iam/cluster=<the full
  cluster name>`` in the create call itself. Role names are truncated as kops truncates them,
  so two clusters can share a name; the cluster tag never is, so it tells them apart.
* A resource kops-iam created before the cluster tag existed carries kops'
  ``KubernetesCluster`` tag, which kops-iam always wrote with the cluster's full name: that
  names its owner until the next write adds the cluster tag.
* Roles created before the managed path existed live at ``/``. The function may only write
  there when the operator says so (``manage_root_path``, or adoption).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from kops_iam.domain.naming import (
    CLUSTER_TAG_KEY,
    KOPS_CLUSTER_TAG_KEY,
    MANAGED_PATH,
    OWNERSHIP_TAG_KEY,
    OWNERSHIP_TAG_VALUE,
    ROOT_PATH,
)
from kops_iam.domain.options import Approval

#: How a resource stands towards the cluster being reconciled.
#:
#: ``mine``: owned by this cluster, at a path the function may write: manage it.
#: ``unmanaged``: not created by kops-iam (no ownership tag): a conflict, unless adopted.
#: ``other-cluster``: created by kops-iam for another cluster: never touched.
#: ``no-owner``: created by kops-iam but naming no cluster (tags removed by hand): never touched.
#: ``root-path``: this cluster's, at ``/`` (made before the managed path), while the
#:   operator has not allowed writes there: reported with the way out, never touched.
#: ``other-path``: this cluster's (or adoptable), at a path the function may not write.
Standing = Literal["mine", "unmanaged", "other-cluster", "no-owner", "root-path", "other-path"]

#: Standings that name a resource the reconcile must leave alone.
UNTOUCHABLE: Final[frozenset[Standing]] = frozenset(
    {"other-cluster", "no-owner", "root-path", "other-path"}
)


def is_managed(tags: Mapping[str, str]) -> bool:
    """Whether kops-iam created the resource (it carries the ownership tag)."""
    return tags.get(OWNERSHIP_TAG_KEY) == OWNERSHIP_TAG_VALUE


def owner_of(tags: Mapping[str, str]) -> str | None:
    """The cluster a kops-iam resource belongs to, or ``None``.

    ``kops-iam/cluster`` when present; for resources kops-iam created before that tag
    existed, kops' ``KubernetesCluster`` tag (which kops-iam always wrote, with the full
    cluster name). ``None`` when the resource is not kops-iam's or names no cluster.
    """
    if not is_managed(tags):
        return None
    return tags.get(CLUSTER_TAG_KEY) or tags.get(KOPS_CLUSTER_TAG_KEY) or None


@dataclass(frozen=True)
class OwnershipRules:
    """What the operator lets the function touch.

    Parameters
    ----------
    path
        IAM path under which kops-iam creates roles and instance profiles.
    adopt
        Take over kops-named resources kops-iam did not create (at ``/`` or ``path``).
    manage_root_path
        Keep managing resources kops-iam created at ``/`` before it created them under
        ``path`` (docs/adr/0061). Adoption implies it: adopted resources stay at ``/``.
    approval
        How a refusal names the setting *its* reader sets (wording only).
    """

    path: str = MANAGED_PATH
    adopt: bool = False
    manage_root_path: bool = False
    approval: Approval = field(default_factory=Approval)

    @property
    def writable_paths(self) -> tuple[str, ...]:
        """The IAM paths the function may write (its own policy says the same)."""
        if self.path == ROOT_PATH or not (self.adopt or self.manage_root_path):
            return (self.path,)
        return (self.path, ROOT_PATH)

    def standing(self, cluster: str, tags: Mapping[str, str], path: str) -> Standing:
        """How a live resource with ``tags`` at ``path`` stands towards ``cluster``."""
        if not is_managed(tags):
            # Adoption can only take over what the function may write.
            return "other-path" if self.adopt and path not in self.writable_paths else "unmanaged"
        owner = owner_of(tags)
        if owner is None:
            return "no-owner"
        if owner != cluster:
            return "other-cluster"
        if path in self.writable_paths:
            return "mine"
        return "root-path" if path == ROOT_PATH else "other-path"

    def explain(
        self,
        standing: Standing,
        *,
        cluster: str,
        what: str,
        tags: Mapping[str, str],
        path: str,
    ) -> str:
        """Why ``what`` (``role NAME`` or ``instance profile NAME``) is left alone, and the
        way out. ``standing`` is one of :data:`UNTOUCHABLE` or ``unmanaged``."""
        if standing == "other-cluster":
            owner = owner_of(tags)
            return (
                f"name collision: {what} belongs to cluster {owner!r}, not to {cluster!r}; "
                "both cluster names give the same IAM name (kops cuts names over 64 "
                "characters to 57 characters and a 6-character hash). kops-iam leaves it "
                "untouched: rename one of the two clusters"
            )
        if standing == "no-owner":
            return (
                f"{what} carries {OWNERSHIP_TAG_KEY}={OWNERSHIP_TAG_VALUE} but no "
                f"{CLUSTER_TAG_KEY} or {KOPS_CLUSTER_TAG_KEY} tag naming its cluster, so "
                "kops-iam cannot tell whose it is and leaves it untouched: if it is "
                f"{cluster!r}'s, tag it {CLUSTER_TAG_KEY}={cluster}"
            )
        if standing == "root-path":
            return (
                f"{what} was created by kops-iam for {cluster!r} at IAM path / , before "
                f"kops-iam created everything under {self.path}; the function may write "
                f"there only when the operator allows it: set {self.approval.manage_root_path} "
                "to keep managing it, or delete it so that kops-iam creates it again under "
                + self.path
            )
        if standing == "other-path":
            return (
                f"{what} is at IAM path {path}, where kops-iam may not write (only "
                f"{' and '.join(self.writable_paths)}); it is left untouched: delete it or "
                "rename the cluster"
            )
        return (
            f"{what} exists and is not managed by kops-iam (no tag "
            f"{OWNERSHIP_TAG_KEY}={OWNERSHIP_TAG_VALUE}); it is left untouched"
        )


@dataclass(frozen=True)
class NameCollision:
    """Two or more clusters whose kops role (and instance profile) names coincide."""

    name: str
    #: (cluster, role kind) of each cluster that wants the name, sorted by cluster.
    holders: tuple[tuple[str, str], ...]

    def message(self, cluster: str) -> str:
        """The error for ``cluster``: the name, the other cluster(s), the way out."""
        others = ", ".join(repr(c) for c, _ in self.holders if c != cluster)
        return (
            f"{self.name} is also the IAM role and instance profile name of cluster {others}: "
            "kops cuts names over 64 characters to 57 characters and a 6-character hash, so "
            "both clusters would need the same role, and kops-iam lets only the first one "
            "applied have it; rename one of the clusters"
        )


def name_collisions(roles: Mapping[str, Mapping[str, str]]) -> tuple[NameCollision, ...]:
    """Role names two or more different clusters want.

    Parameters
    ----------
    roles
        Full cluster name -> role kind -> role name (each cluster once).

    Returns
    -------
    tuple of NameCollision
        One per shared name, sorted by name.
    """
    holders: dict[str, list[tuple[str, str]]] = {}
    for cluster, names in roles.items():
        for kind, name in names.items():
            holders.setdefault(name, []).append((cluster, kind))
    return tuple(
        NameCollision(name, tuple(sorted(found)))
        for name, found in sorted(holders.items())
        if len({cluster for cluster, _ in found}) > 1
    )
