"""kops naming: role names, truncation, ownership tags and path, partitions, the EC2 principal.

Ownership (docs/adr/0060, 0061): kops-iam creates every role and instance profile under
:data:`MANAGED_PATH`, tagged :data:`OWNERSHIP_TAG_KEY` and :data:`CLUSTER_TAG_KEY` (the
full name of the cluster it belongs to), in the create call itself.
"""

from __future__ import annotations

import base64
from typing import Final

from kops_iam.domain.model import RoleKind

MAX_ROLE_NAME: Final = 64

#: Tag that marks a role or instance profile as created (and so owned) by kops-iam.
OWNERSHIP_TAG_KEY: Final = "kops-iam/managed-by"
OWNERSHIP_TAG_VALUE: Final = "kops-iam"
#: Tag naming the cluster (its full, untruncated name) a role or instance profile belongs to.
#: Role names are truncated (two clusters can share one); this tag never is.
CLUSTER_TAG_KEY: Final = "kops-iam/cluster"
#: kops' own tag on a cluster's IAM resources; kops-iam always wrote it too, so it names the
#: owner of roles kops-iam created before :data:`CLUSTER_TAG_KEY` existed.
KOPS_CLUSTER_TAG_KEY: Final = "KubernetesCluster"
#: Tags kops-iam itself puts on every role and instance profile (besides ``Name``, kops'
#: ``KubernetesCluster`` and ``kubernetes.io/cluster/<name>``).
OWN_TAG_KEYS: Final = (OWNERSHIP_TAG_KEY, CLUSTER_TAG_KEY)
#: IAM path of every role and instance profile kops-iam creates. A path never changes, and
#: the function's write rights name only this path (docs/adr/0061).
MANAGED_PATH: Final = "/kops-iam/"
#: The path of roles kops itself (and kops-iam before 0061) creates.
ROOT_PATH: Final = "/"

#: Role name prefixes kops uses; the function's own IAM rights are scoped to them.
ROLE_NAME_PREFIXES: Final = ("masters.", "nodes.", "bastions.")
_HASH_LENGTH: Final = 6

_FNV32_OFFSET: Final = 0x811C9DC5
_FNV32_PRIME: Final = 0x01000193

_ROLE_PREFIX: Final[dict[RoleKind, str]] = {
    "master": "masters",
    "node": "nodes",
    "bastion": "bastions",
}


def fnv1a_32(data: bytes) -> int:
    """32-bit FNV-1a hash."""
    value = _FNV32_OFFSET
    for byte in data:
        value ^= byte
        value = (value * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def truncate_name(name: str, max_length: int = MAX_ROLE_NAME) -> str:
    """Truncate ``name`` the way kops does.

    Names of ``max_length`` characters or fewer are kept. Longer ones keep their first
    ``max_length - 7`` characters, then ``-``, then the first 6 characters of the lower-cased
    base32hex (RFC 4648) encoding of the FNV-1a hash of the full name.
    """
    if len(name) <= max_length:
        return name
    digest = fnv1a_32(name.encode("utf-8")).to_bytes(4, "big")
    suffix = base64.b32hexencode(digest).decode("ascii").lower()[:_HASH_LENGTH]
    return f"{name[: max_length - _HASH_LENGTH - 1]}-{suffix}"


def kops_role_arn_patterns(partition: str, account: str) -> list[str]:
    """ARN patterns of every role a kops cluster may run with: everything under
    :data:`MANAGED_PATH`, and kops-named roles at any other path (kops' own, hand-made)."""
    base = f"arn:{partition}:iam::{account}:role"
    return [
        f"{base}{MANAGED_PATH}*",
        *(f"{base}/{prefix}*" for prefix in ROLE_NAME_PREFIXES),
        *(f"{base}/*/{prefix}*" for prefix in ROLE_NAME_PREFIXES),
    ]


def role_name(kind: RoleKind, cluster: str) -> str:
    """Name shared by the role, its instance profile and its main inline policy."""
    return truncate_name(f"{_ROLE_PREFIX[kind]}.{cluster}")


def additional_policy_name(role: str) -> str:
    """Name of the inline policy holding a role's ``additionalPolicies``."""
    return f"additional.{role}"


def partition_for_region(region: str) -> str:
    """AWS partition of a region: ``aws``, ``aws-cn`` or ``aws-us-gov``."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def ec2_service_principal(partition: str) -> str:
    """The EC2 service principal roles trust (``ec2.amazonaws.com.cn`` in China)."""
    return "ec2.amazonaws.com.cn" if partition == "aws-cn" else "ec2.amazonaws.com"
