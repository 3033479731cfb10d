"""Encrypted etcd volumes: the KMS keys the masters get a grant on."""

from __future__ import annotations

import re
from typing import Literal

from kops_iam.domain.errors import join_path
from kops_iam.domain.spec.checks import SpecChecks
from kops_iam.domain.spec.model import KmsKeyRef

_KMS_KEY_ID = re.compile(
    r"^(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
_KMS_KEY_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"key/(?P<id>[0-9a-f-]+|mrk-[0-9a-f]{32})$"
)
_KMS_ALIAS = re.compile(r"^alias/[a-zA-Z0-9/_-]{1,250}$")
_KMS_ALIAS_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):kms:[a-z0-9-]+:\d{12}:alias/[a-zA-Z0-9/_-]{1,250}$"
)


def etcd_keys(checks: SpecChecks, partition: str, *, strict: bool = False) -> tuple[KmsKeyRef, ...]:
    """The KMS keys the masters get a grant on, in spec order.

    Legacy mode follows the kops page: only keys of members with ``encryptedVolume: true``
    (another key warns). Strict mode follows kops 1.8.0: every member's ``kmsKeyId``,
    ``encryptedVolume`` not consulted, duplicates kept.
    """
    keys: list[KmsKeyRef] = []
    for c_index, cluster in enumerate(checks.fields.get("etcdClusters") or []):
        for m_index, member in enumerate(cluster.etcdMembers):
            base = join_path("spec.etcdClusters", c_index, "etcdMembers", m_index)
            key_field = "kmsKeyID" if member.kmsKeyID is not None else "kmsKeyId"
            key = member.kmsKeyID if member.kmsKeyID is not None else member.kmsKeyId
            if member.kmsKeyID is not None and member.kmsKeyId is not None:
                checks.error(join_path(base, "kmsKeyId"), "give kmsKeyID or kmsKeyId, not both")
            if key is None:
                continue
            path = join_path(base, key_field)
            form = kms_form(checks, path, key, partition)
            if form is None:
                continue
            if member.encryptedVolume is not True and not strict:
                checks.warn(
                    path,
                    "set without encryptedVolume: true, so the volume is not "
                    "encrypted with it and the masters get no KMS grant",
                )
                continue
            keys.append(KmsKeyRef(path, key, form))
    return tuple(keys)


def kms_form(
    checks: SpecChecks, path: str, key: str, partition: str
) -> Literal["arn", "id", "alias"] | None:
    """Whether ``key`` is a key ARN, key id or alias (in the cluster's partition), or an error."""
    arn = _KMS_KEY_ARN.match(key) or _KMS_ALIAS_ARN.match(key)
    if arn:
        if arn.group("partition") != partition:
            checks.error(
                path,
                f"ARN partition {arn.group('partition')!r} does not match the "
                f"cluster's {partition!r}",
            )
            return None
        return "alias" if ":alias/" in key else "arn"
    if _KMS_KEY_ID.match(key):
        return "id"
    if _KMS_ALIAS.match(key):
        return "alias"
    checks.error(path, f"{key!r} is not a KMS key ARN, key id or alias (alias/NAME)")
    return None
