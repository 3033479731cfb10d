"""The spec objects in S3: which version is current, its bytes, a cluster's InstanceGroup
objects, and every spec key in a bucket.

Reads only. The size cap is enforced from the HEAD (``ContentLength``) before any byte is
downloaded, and the GET is pinned to the version the HEAD saw (``VersionId`` on a versioned
bucket, ``If-Match`` on the ETag otherwise), so the bytes parsed are always those of the
version the reconciler later verifies against.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kops_iam.aws.errors import S3_MISSING_CODES, error_code
from kops_iam.domain.state_store import (
    MAX_INSTANCE_GROUP_BYTES,
    MAX_INSTANCE_GROUPS,
    SPEC_KEY_SUFFIX,
    cluster_from_key,
    instance_group_from_key,
    instance_group_prefix,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_s3 import S3Client

_CHANGED_CODES = frozenset({"412", "PreconditionFailed", "InvalidObjectState"})


class ObjectTooLarge(Exception):
    """The object is bigger than the operator's cap; it was not downloaded."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"spec object is {size} bytes; the limit is {limit} bytes")


class ObjectChanged(Exception):
    """The object changed (or vanished) between its HEAD and its GET."""


class TooManyInstanceGroups(Exception):
    """A cluster's InstanceGroup objects pass the count or size bound; none was read."""


@dataclass(frozen=True)
class ObjectVersion:
    """One version of a spec object as S3 reports it.

    ``version_id`` is ``None`` on an unversioned bucket; ``etag`` identifies the content.
    """

    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    size: int

    def same_as(self, other: ObjectVersion | None) -> bool:
        """Whether ``other`` is this very version (same version id and ETag)."""
        return (
            other is not None
            and other.key == self.key
            and other.version_id == self.version_id
            and other.etag == self.etag
        )

    def describe(self) -> dict[str, str | None]:
        """``versionId`` and ``etag`` as audit events carry them (quotes stripped)."""
        return {"versionId": self.version_id, "etag": _strip_quotes(self.etag)}


def same_state(a: ObjectVersion | None, b: ObjectVersion | None) -> bool:
    """Whether two HEAD results describe the same state (both absent counts as the same)."""
    if a is None or b is None:
        return a is None and b is None
    return a.same_as(b)


def same_listing(a: tuple[ObjectVersion, ...], b: tuple[ObjectVersion, ...]) -> bool:
    """Whether two listings hold the same objects with the same content (key and ETag)."""
    return [(v.key, v.etag) for v in a] == [(v.key, v.etag) for v in b]


class SpecSource:
    """Spec objects of one bucket.

    Parameters
    ----------
    s3
        boto3 S3 client (injected: Lambda, CLI, emulator and tests each make their own).
    bucket
        The specs bucket.
    max_bytes
        Largest object that will be downloaded.
    """

    def __init__(self, s3: S3Client, bucket: str, max_bytes: int) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.max_bytes = max_bytes

    @property
    def client(self) -> S3Client:
        """The S3 client the reads go through."""
        return self._s3

    def head(self, key: str) -> ObjectVersion | None:
        """Return the current version of ``key``, or ``None`` when it does not exist."""
        from botocore.exceptions import ClientError

        try:
            response = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in S3_MISSING_CODES:
                return None
            raise
        version = response.get("VersionId")
        return ObjectVersion(
            bucket=self.bucket,
            key=key,
            version_id=None if version in (None, "null") else version,
            etag=response.get("ETag"),
            size=int(response.get("ContentLength", 0)),
        )

    def read(self, version: ObjectVersion) -> bytes:
        """Download exactly ``version``'s bytes.

        Raises
        ------
        ObjectTooLarge
            ``version.size`` (from the HEAD) exceeds the cap; nothing was downloaded.
        ObjectChanged
            The object is no longer that version (a newer one replaced it, or it was deleted).
        """
        if version.size > self.max_bytes:
            raise ObjectTooLarge(version.size, self.max_bytes)
        from botocore.exceptions import ClientError

        request: dict[str, Any] = {"Bucket": self.bucket, "Key": version.key}
        if version.version_id:
            request["VersionId"] = version.version_id
        elif version.etag:
            request["IfMatch"] = version.etag
        try:
            response = self._s3.get_object(**request)
        except ClientError as exc:
            if error_code(exc) in S3_MISSING_CODES | _CHANGED_CODES:
                raise ObjectChanged(str(exc)) from exc
            raise
        body = response["Body"]
        try:
            data: bytes = body.read(self.max_bytes + 1)
        finally:
            body.close()
        if len(data) > self.max_bytes:  # the object grew between HEAD and GET
            raise ObjectTooLarge(len(data), self.max_bytes)
        return data

    def current(self, key: str) -> tuple[ObjectVersion, bytes] | None:
        """The current version of ``key`` and its bytes in one GET (``None``: no such key).

        A drift check's read: it verifies nothing afterwards (a check that finds a
        difference hands the cluster to :meth:`head`/:meth:`read`'s read-apply-verify).

        Raises
        ------
        ObjectTooLarge
            The GET's ``ContentLength`` exceeds the cap; the body is not read.
        """
        from botocore.exceptions import ClientError

        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in S3_MISSING_CODES:
                return None
            raise
        body = response["Body"]
        size = int(response.get("ContentLength", 0))
        try:
            if size > self.max_bytes:
                raise ObjectTooLarge(size, self.max_bytes)
            data: bytes = body.read(self.max_bytes + 1)
        finally:
            body.close()
        if len(data) > self.max_bytes:
            raise ObjectTooLarge(len(data), self.max_bytes)
        version = response.get("VersionId")
        return (
            ObjectVersion(
                bucket=self.bucket,
                key=key,
                version_id=None if version in (None, "null") else version,
                etag=response.get("ETag"),
                size=len(data),
            ),
            data,
        )

    def instance_groups(self, cluster: str) -> tuple[ObjectVersion, ...]:
        """The cluster's ``<cluster>/instancegroup/<name>`` objects: one listing, bounded.

        Only direct children are InstanceGroups (kops' layout); the listing is sorted by
        key. Their ETags pin the reads (:meth:`read`) and tell a later listing whether any
        changed.

        Raises
        ------
        TooManyInstanceGroups
            More than :data:`MAX_INSTANCE_GROUPS` objects, or more than
            :data:`MAX_INSTANCE_GROUP_BYTES` together (nothing is downloaded).
        """
        response = self._s3.list_objects_v2(
            Bucket=self.bucket,
            Prefix=instance_group_prefix(cluster),
            Delimiter="/",
            MaxKeys=MAX_INSTANCE_GROUPS + 1,
        )
        found = tuple(
            ObjectVersion(
                bucket=self.bucket,
                key=item["Key"],
                version_id=None,
                etag=item.get("ETag"),
                size=int(item.get("Size", 0)),
            )
            for item in response.get("Contents", [])
            if instance_group_from_key(item.get("Key", ""))
        )
        if len(found) > MAX_INSTANCE_GROUPS or response.get("IsTruncated"):
            raise TooManyInstanceGroups(
                f"{cluster} has more than {MAX_INSTANCE_GROUPS} InstanceGroup objects"
            )
        total = sum(version.size for version in found)
        if total > MAX_INSTANCE_GROUP_BYTES:
            raise TooManyInstanceGroups(
                f"{cluster}'s InstanceGroup objects hold {total:,} bytes together; the limit "
                f"is {MAX_INSTANCE_GROUP_BYTES:,}"
            )
        return tuple(sorted(found, key=lambda version: version.key))

    def spec_keys(self) -> Iterator[str]:
        """Every ``<cluster>/config`` key candidate in the bucket, listed page by page.

        Lists the top-level prefixes only (``Delimiter="/"``): a kops state store holds many
        objects per cluster, and only one of them is the spec. A prefix without a spec is
        skipped by the caller's HEAD.
        """
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Delimiter="/"):
            for prefix in page.get("CommonPrefixes", []):
                key = f"{prefix.get('Prefix', '').rstrip('/')}{SPEC_KEY_SUFFIX}"
                if cluster_from_key(key):
                    yield key


def _strip_quotes(etag: str | None) -> str | None:
    return etag.strip('"') if etag else etag
