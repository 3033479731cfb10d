"""The validated spec: what kops-iam needs to know about a cluster."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from kops_iam.domain.errors import Issue
from kops_iam.domain.lookups import HostedZoneQuery
from kops_iam.domain.model import JSONDict, RoleKind
from kops_iam.domain.spec.documents import InstanceGroup

#: ``legacy``: the kops page's policies; ``strict``: kops 1.8.0's (docs/adr/0091).
IamMode = Literal["legacy", "strict"]

#: kops tags every role ``kubernetes.io/cluster/<cluster name>=owned``.
CLUSTER_TAG_PREFIX: Final = "kubernetes.io/cluster/"
MAX_TAG_KEY: Final = 128


@dataclass(frozen=True)
class KmsKeyRef:
    """A ``kmsKeyId`` of an encrypted etcd volume, as written, with where it was written."""

    path: str
    value: str
    form: Literal["arn", "id", "alias"]


@dataclass(frozen=True)
class S3Path:
    """An ``s3://bucket/path`` state-store location."""

    bucket: str
    path: str


@dataclass(frozen=True)
class StateStore:
    """Where kops 1.8.0 kept a cluster's state: the spec's values, as written (each a
    ``(field path, URL)``); what is missing kops derived (docs/adr/0092)."""

    config_base: tuple[str, str] | None = None
    key_store: tuple[str, str] | None = None
    secret_store: tuple[str, str] | None = None


@dataclass(frozen=True)
class StrictSpec:
    """What kops 1.8.0's strict builder reads besides the common fields.

    Parameters
    ----------
    container_registry
        ``iam.allowContainerRegistry``.
    hosted_zone_id
        ``spec.dnsZone`` when it is a zone id (no dot).
    hosted_zone
        The zone to look up otherwise; both ``None`` for a gossip cluster (no Route53).
    store
        The state-store locations.
    romana, kuberouter
        ``spec.networking`` selects Romana / kube-router.
    """

    container_registry: bool = False
    hosted_zone_id: str | None = None
    hosted_zone: HostedZoneQuery | None = None
    store: StateStore = field(default_factory=StateStore)
    romana: bool = False
    kuberouter: bool = False


@dataclass(frozen=True)
class ClusterSpec:
    """What kops-iam needs to know about a cluster, validated."""

    name: str
    api_version: str
    region: str
    partition: str
    kms_keys: tuple[KmsKeyRef, ...]
    state_store: tuple[S3Path, ...]
    #: role -> (field path, validated statements)
    additional_policies: Mapping[RoleKind, tuple[str, tuple[JSONDict, ...]]]
    external_policies: Mapping[RoleKind, tuple[str, ...]]
    permissions_boundary: str | None
    cloud_labels: Mapping[str, str]
    warnings: tuple[Issue, ...] = field(default=())
    #: The roles the cluster has (docs/adr/0090): masters and nodes, bastions if any.
    roles: tuple[RoleKind, ...] = ("master", "node")
    #: The InstanceGroups the input held (empty: a Cluster alone).
    instance_groups: tuple[InstanceGroup, ...] = ()
    iam_mode: IamMode = "legacy"
    #: Strict mode's inputs (``None`` in legacy mode).
    strict: StrictSpec | None = None
    #: Path prefix of the Cluster document's fields (``documents[0]`` in a multi-document
    #: file); :meth:`at` adds it.
    source: str = ""

    @property
    def has_bastion(self) -> bool:
        """Whether the cluster has a bastion role."""
        return "bastion" in self.roles

    def at(self, path: str) -> str:
        """A field path of the Cluster document, as reported (with :attr:`source`)."""
        if not self.source:
            return path
        return f"{self.source}.{path}" if path else self.source
