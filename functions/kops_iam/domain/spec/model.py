"""The validated spec: what kops-iam needs to know about a cluster."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from kops_iam.domain.errors import Issue
from kops_iam.domain.model import JSONDict, RoleKind

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
class ClusterSpec:
    """What kops-iam needs to know about a cluster, validated."""

    name: str
    api_version: str
    region: str
    partition: str
    has_bastion: bool
    kms_keys: tuple[KmsKeyRef, ...]
    state_store: tuple[S3Path, ...]
    #: role -> (field path, validated statements)
    additional_policies: Mapping[RoleKind, tuple[str, tuple[JSONDict, ...]]]
    external_policies: Mapping[RoleKind, tuple[str, ...]]
    permissions_boundary: str | None
    cloud_labels: Mapping[str, str]
    warnings: tuple[Issue, ...] = field(default=())
