"""IAM writes: perform a cluster's :class:`~kops_iam.aws.iam_diff.Write` s, in order.

Each operation is dispatched explicitly (:func:`send`), so every IAM call kops-iam makes
can be found by name in this file. Errors are classified: a concurrent change (worth
another read-apply-verify pass) or a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Final

from kops_iam.aws.errors import error_code
from kops_iam.aws.iam_diff import Write

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_iam import IAMClient

log = logging.getLogger("kops-iam.iam")

#: Error codes that mean another invocation changed the same role meanwhile: the pass is
#: abandoned and the reconciler reads again.
_CONCURRENT_CODES: Final = frozenset(
    {"EntityAlreadyExists", "DeleteConflict", "ConcurrentModification"}
)
#: Operations whose ``NoSuchEntity`` names a missing *policy*, not a vanished role.
_POLICY_LOOKUPS: Final = frozenset(
    {"create_role", "attach_role_policy", "put_role_permissions_boundary"}
)


class ConcurrentChange(Exception):
    """IAM changed under a pass (another invocation at work); read again and retry."""

    def __init__(self, write: Write, completed: Sequence[Write], cause: Exception) -> None:
        self.write = write
        self.completed = tuple(completed)
        super().__init__(f"{write.describe()}: {cause}")


class WriteFailed(Exception):
    """An IAM write failed for good (after botocore's retries)."""

    def __init__(self, write: Write, completed: Sequence[Write], cause: Exception) -> None:
        self.write = write
        self.completed = tuple(completed)
        self.cause = cause
        self.code = error_code(cause)
        super().__init__(f"{write.describe()} failed: {cause}")


def send(iam: IAMClient, write: Write) -> None:
    """Make the one IAM call ``write`` describes. Every IAM write kops-iam makes is here."""
    p = dict(write.params)
    match write.operation:
        case "create_role":
            iam.create_role(**p)
        case "update_assume_role_policy":
            iam.update_assume_role_policy(**p)
        case "put_role_permissions_boundary":
            iam.put_role_permissions_boundary(**p)
        case "delete_role_permissions_boundary":
            iam.delete_role_permissions_boundary(**p)
        case "tag_role":
            iam.tag_role(**p)
        case "untag_role":
            iam.untag_role(**p)
        case "put_role_policy":
            iam.put_role_policy(**p)
        case "delete_role_policy":
            iam.delete_role_policy(**p)
        case "attach_role_policy":
            iam.attach_role_policy(**p)
        case "detach_role_policy":
            iam.detach_role_policy(**p)
        case "create_instance_profile":
            iam.create_instance_profile(**p)
        case "tag_instance_profile":
            iam.tag_instance_profile(**p)
        case "untag_instance_profile":
            iam.untag_instance_profile(**p)
        case "add_role_to_instance_profile":
            iam.add_role_to_instance_profile(**p)
        case "remove_role_from_instance_profile":
            iam.remove_role_from_instance_profile(**p)
        case "delete_instance_profile":
            iam.delete_instance_profile(**p)
        case "delete_role":
            iam.delete_role(**p)
        case _:  # pragma: no cover - Operation is a closed Literal; mypy checks the match
            raise ValueError(f"unknown IAM operation {write.operation!r}")


def execute(
    iam: IAMClient,
    writes: Iterable[Write],
    on_write: Callable[[Write], None] | None = None,
) -> tuple[Write, ...]:
    """Perform ``writes`` in order; return them.

    Idempotent cleanups are tolerated: deleting something already gone is success.

    Raises
    ------
    ConcurrentChange
        IAM no longer looks as it was read (another invocation changed it).
    WriteFailed
        Any other error; ``completed`` lists the writes made before it.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    done: list[Write] = []
    for write in writes:
        try:
            send(iam, write)
        except ClientError as exc:
            code = error_code(exc)
            if code == "NoSuchEntity" and write.operation.startswith(
                ("delete_", "detach_", "remove_")
            ):
                log.info("already gone: %s", write.describe())
            elif (
                code in _CONCURRENT_CODES
                or (code == "NoSuchEntity" and write.operation not in _POLICY_LOOKUPS)
                or (code == "LimitExceeded" and write.operation == "add_role_to_instance_profile")
            ):
                raise ConcurrentChange(write, done, exc) from exc
            else:
                raise WriteFailed(write, done, exc) from exc
        except BotoCoreError as exc:
            raise WriteFailed(write, done, exc) from exc
        done.append(write)
        if on_write is not None:
            on_write(write)
    return tuple(done)
