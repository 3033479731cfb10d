"""The period's IAM snapshot, shared through S3 (docs/adr/0117).

The schedule's invocation reads IAM in bulk once per period and writes the snapshot to one
object, :data:`SNAPSHOT_KEY`, of the stack's snapshot bucket; every drift worker reads that
object instead of reading IAM in bulk itself. One object, overwritten each period: a worker
takes it only when it was taken after its check's run started (and is not too old), so no
message can make a worker compare with an older period's IAM (the message names no object).

Only the function writes the bucket (its policy denies everyone else), so the object is as
trusted as the function's own reads; it is still read defensively
(:func:`~kops_iam.aws.iam_snapshot.load_snapshot` checks its shape and size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from kops_iam.aws.errors import S3_MISSING_CODES, error_code

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_s3 import S3Client

    from kops_iam.aws.iam_snapshot import IamSnapshot

#: The one object holding the latest period's snapshot.
SNAPSHOT_KEY: Final = "drift/iam-snapshot.json.gz"
#: Largest object a worker reads (a 5,000-role account compresses to a few MB).
MAX_SNAPSHOT_BYTES: Final = 256 * 2**20


class SnapshotTooLarge(ValueError):
    """The shared snapshot object is larger than :data:`MAX_SNAPSHOT_BYTES`."""


@dataclass(frozen=True)
class SnapshotStore:
    """The shared snapshot's object: ``PutObject`` by the schedule, ``GetObject`` by the
    workers."""

    s3: S3Client
    bucket: str
    key: str = SNAPSHOT_KEY

    def put(self, snapshot: IamSnapshot) -> int:
        """Write ``snapshot``; return the object's size in bytes."""
        from kops_iam.aws.iam_snapshot import dump_snapshot  # drift work only: not at init

        body = dump_snapshot(snapshot)
        self.s3.put_object(
            Bucket=self.bucket,
            Key=self.key,
            Body=body,
            ContentType="application/gzip",
        )
        return len(body)

    def get(self) -> IamSnapshot | None:
        """The shared snapshot; ``None`` when there is none yet. A malformed or oversized
        object raises :class:`ValueError`."""
        from kops_iam.aws.iam_snapshot import load_snapshot  # drift work only: not at init

        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=self.key)
        except Exception as exc:
            if error_code(exc) in S3_MISSING_CODES:
                return None
            raise
        size = int(answer.get("ContentLength", 0))
        if size > MAX_SNAPSHOT_BYTES:
            answer["Body"].close()
            raise SnapshotTooLarge(f"snapshot object is {size} bytes: over {MAX_SNAPSHOT_BYTES}")
        return load_snapshot(answer["Body"].read(MAX_SNAPSHOT_BYTES + 1))
