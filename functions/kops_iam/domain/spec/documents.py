"""The documents of one input: exactly one ``Cluster``, any number of ``InstanceGroup``s.

kops writes a cluster as several objects: ``kops get cluster NAME -o yaml`` and the files
given to ``kops create -f`` hold the Cluster followed by its InstanceGroups, and a state store
keeps the Cluster at ``<cluster>/config`` and each InstanceGroup at
``<cluster>/instancegroup/<name>``. This module sorts the documents of such an input and
checks what kops checked before it used them (docs/adr/0090):

* ``apiVersion`` is any form kops wrote: ``kops/v1alpha1``, ``kops/v1alpha2`` (kops up to
  1.14), ``kops.k8s.io/v1alpha1``, ``kops.k8s.io/v1alpha2``, ``kops.k8s.io/v1alpha3``; a
  document without one is read as kops read it (kops 1.5 to 1.17: as v1alpha1);
* exactly one ``kind: Cluster`` (a lone document without ``kind`` is that Cluster, as the
  kops documentation writes it), any number of ``kind: InstanceGroup``, each with a unique
  ``metadata.name`` and a ``spec.role`` (``Master``, ``ControlPlane``, ``Node``, ``Bastion``),
  whose ``kops.k8s.io/cluster`` label, when present, names that Cluster;
* the other kinds kops writes follow ``kops create -f``: ``SSHCredential`` (kops 1.8+) and
  ``Federation`` (kops 1.5 to 1.8) were accepted and change no IAM, so they are a warning;
  ``Keyset`` and every other kops kind made kops fail ("Unhandled kind"), so they are an
  error; a document of another API group (kops 1.25+ keeps it as an addon) is a warning.

Every issue is at its document's path (``documents[2].spec.role`` in a multi-document file,
``instancegroup/nodes.spec.role`` for a state-store object).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kops_iam.domain.errors import Issue, join_path
from kops_iam.domain.model import RoleKind


def _issue(path: str, message: str) -> Issue:
    """A finding of this module (code ``documents``)."""
    return Issue(path, message, "documents")


#: API groups and versions kops wrote (``kops`` was renamed ``kops.k8s.io`` in kops 1.15).
API_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "kops": ("v1alpha1", "v1alpha2"),
    "kops.k8s.io": ("v1alpha1", "v1alpha2", "v1alpha3"),
}
#: kops' label naming the cluster an InstanceGroup belongs to (``kops create -f`` needs it).
CLUSTER_LABEL: Final = "kops.k8s.io/cluster"
#: InstanceGroup ``spec.role`` values and the IAM role each runs with.
INSTANCE_GROUP_ROLES: Final[dict[str, RoleKind]] = {
    "Master": "master",
    "ControlPlane": "master",  # v1alpha3's name for Master
    "Node": "node",
    "Bastion": "bastion",
}
#: Kinds ``kops create -f`` accepted that change no IAM (a warning each).
ACCEPTED_KINDS: Final[dict[str, str]] = {
    "SSHCredential": "kops create -f adds the cluster's SSH public key (kops 1.8+)",
    "Federation": "kops create -f created a federation (kops 1.5 to 1.8)",
}


@dataclass(frozen=True)
class SourceDocument:
    """One parsed document and the path its issues are reported at.

    ``path`` is ``""`` for the only document of a file, ``documents[<index>]`` in a
    multi-document file, ``instancegroup/<name>`` for a state-store InstanceGroup object.
    """

    path: str
    body: Mapping[str, Any]

    def at(self, *parts: str | int) -> str:
        """The path of a field of this document."""
        return join_path(self.path, *parts)


@dataclass(frozen=True)
class InstanceGroup:
    """An InstanceGroup: its name, the IAM role its instances run with, where it was read."""

    name: str
    role: RoleKind
    path: str


@dataclass
class Sorted:
    """The documents of one input, sorted: the Cluster, the InstanceGroups, and the issues."""

    cluster: SourceDocument | None
    instance_groups: list[InstanceGroup]
    errors: list[Issue]
    warnings: list[Issue]


def sort_documents(documents: Sequence[SourceDocument]) -> Sorted:
    """Find the Cluster and the InstanceGroups among ``documents``; check kinds and versions.

    A lone document without ``kind`` is the Cluster (kops' documentation writes the Cluster
    without ``apiVersion`` and ``kind``). The Cluster's own fields are checked elsewhere.
    """
    result = Sorted(None, [], [], [])
    lone = len(documents) == 1
    if lone and documents[0].body.get("kind", "Cluster") != "Cluster":
        kind = documents[0].body.get("kind")
        result.errors.append(
            _issue(
                documents[0].at("kind"),
                f"{kind!r}: the input holds no Cluster; kops-iam reads kind: Cluster (a file may "
                "add the cluster's InstanceGroups after it)",
            )
        )
        return result
    igs: list[tuple[SourceDocument, InstanceGroup | None]] = []
    for doc in documents:
        kind = doc.body.get("kind")
        if kind is None and lone:
            kind = "Cluster"
        # The Cluster's apiVersion is checked with its other fields (spec.header).
        if kind != "Cluster" and not _api_version(doc, result):
            continue
        if kind == "Cluster":
            if result.cluster is not None:
                where = result.cluster.path or "the first document"
                result.errors.append(
                    _issue(
                        doc.at("kind"),
                        f"a second Cluster (the first is {where}); an input describes exactly "
                        "one cluster",
                    )
                )
                continue
            result.cluster = doc
        elif kind == "InstanceGroup":
            igs.append((doc, _instance_group(doc, result)))
        elif kind is None:
            result.errors.append(
                _issue(
                    doc.at("kind"),
                    "required when a file holds several documents: Cluster or InstanceGroup",
                )
            )
        elif isinstance(kind, str) and kind in ACCEPTED_KINDS:
            result.warnings.append(
                _issue(doc.at("kind"), f"{kind}: {ACCEPTED_KINDS[kind]}; no effect on IAM, ignored")
            )
        else:
            shown = kind if isinstance(kind, str) else repr(kind)
            result.errors.append(
                _issue(
                    doc.at("kind"),
                    f'{shown}: kops create -f fails on this kind ("Unhandled kind"); an input '
                    "holds one Cluster and its InstanceGroups (SSHCredential is accepted)",
                )
            )
    if result.cluster is None:
        result.errors.append(
            _issue("", "no kind: Cluster document; an input describes exactly one cluster")
        )
    _check_instance_groups(igs, result)
    return result


def _api_version(doc: SourceDocument, result: Sorted) -> bool:
    """Check ``apiVersion``; ``False`` when the document is not kops' (skip it)."""
    api = doc.body.get("apiVersion")
    if api is None:
        return True  # kops 1.5 to 1.17 read a document without apiVersion as v1alpha1
    if not isinstance(api, str):
        result.errors.append(_issue(doc.at("apiVersion"), f"{api!r} is not an API version"))
        return False
    group, _, version = api.rpartition("/")
    if group in API_GROUPS:
        if version not in API_GROUPS[group]:
            result.errors.append(
                _issue(
                    doc.at("apiVersion"),
                    f"{api!r}: kops wrote {group}/" + ", ".join(API_GROUPS[group]) + " only",
                )
            )
            return False
        return True
    if doc.body.get("kind") in (None, "Cluster", "InstanceGroup"):
        result.errors.append(
            _issue(
                doc.at("apiVersion"),
                f"{api!r} is not a kops API version; expected one of " + ", ".join(api_versions()),
            )
        )
        return False
    result.warnings.append(
        _issue(
            doc.path,
            f"{api} {doc.body.get('kind')!s} is not a kops object (kops 1.25+ keeps such "
            "documents as additional objects of the cluster); no effect on IAM, ignored",
        )
    )
    return False


def api_versions() -> list[str]:
    """Every ``apiVersion`` kops wrote, ``group/version``."""
    return [f"{group}/{version}" for group, versions in API_GROUPS.items() for version in versions]


def _instance_group(doc: SourceDocument, result: Sorted) -> InstanceGroup | None:
    metadata = doc.body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    ok = True
    if not isinstance(name, str) or not name:
        result.errors.append(
            _issue(doc.at("metadata", "name"), "required: the InstanceGroup's name")
        )
        ok = False
    spec = doc.body.get("spec")
    role = spec.get("role") if isinstance(spec, Mapping) else None
    kind: RoleKind | None = None
    if role is None:
        result.errors.append(
            _issue(doc.at("spec", "role"), "required: Master, Node or Bastion (kops validation)")
        )
    elif role == "APIServer":
        result.errors.append(
            _issue(
                doc.at("spec", "role"),
                "APIServer: kops-iam follows kops 1.8.0's roles (Master, Node, Bastion); "
                "API-server nodes came later",
            )
        )
    elif not isinstance(role, str) or role not in INSTANCE_GROUP_ROLES:
        result.errors.append(
            _issue(
                doc.at("spec", "role"),
                f"{role!r} is not an InstanceGroup role; expected "
                + ", ".join(INSTANCE_GROUP_ROLES)
                + " (case matters, as in kops' validation)",
            )
        )
    else:
        kind = INSTANCE_GROUP_ROLES[role]
    iam = spec.get("iam") if isinstance(spec, Mapping) else None
    if isinstance(iam, Mapping) and iam.get("profile") is not None:
        result.warnings.append(
            _issue(
                doc.at("spec", "iam", "profile"),
                "kops 1.10+ runs this group with that existing instance profile; kops-iam "
                "follows kops 1.8.0, which has no such field, and manages the "
                f"{kind or 'group'}'s role as usual",
            )
        )
    if not ok or kind is None:
        return None
    assert isinstance(name, str)
    return InstanceGroup(name=name, role=kind, path=doc.path)


def _check_instance_groups(
    igs: list[tuple[SourceDocument, InstanceGroup | None]], result: Sorted
) -> None:
    cluster = cluster_name(result.cluster)
    seen: dict[str, str] = {}
    for doc, group in igs:
        metadata = doc.body.get("metadata")
        labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
        label = labels.get(CLUSTER_LABEL) if isinstance(labels, Mapping) else None
        if label is not None and cluster is not None and label != cluster:
            result.errors.append(
                _issue(
                    doc.at("metadata", "labels", CLUSTER_LABEL),
                    f"{label!r}: this InstanceGroup belongs to another cluster than {cluster!r}",
                )
            )
            continue
        if group is None:
            continue
        if group.name in seen:
            result.errors.append(
                _issue(
                    doc.at("metadata", "name"),
                    f"InstanceGroup {group.name!r} is defined twice (also at "
                    f"{seen[group.name] or 'the first document'})",
                )
            )
            continue
        seen[group.name] = doc.path
        result.instance_groups.append(group)


def cluster_name(doc: SourceDocument | None) -> str | None:
    """The Cluster document's ``metadata.name`` when it is a string (unchecked)."""
    if doc is None:
        return None
    metadata = doc.body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) else None
