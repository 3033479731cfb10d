"""IAM writes: perform a cluster's :class:`~kops_iam.aws.iam_diff.Write` s, in order.

Each operation is dispatched explicitly (:func:`send`), so every IAM call kops-iam makes
can be found by name in this file. Errors are classified: IAM not yet showing what this very
call sequence created (retried in place, for a bounded time: :class:`PropagationRetry`), a
concurrent change (worth another read-apply-verify pass) or a failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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


#: Codes IAM answers, right after a create, while the new role or profile (or its tags, which
#: the function's own policy conditions read) has not propagated yet (docs/adr/0074).
_PROPAGATION_CODES: Final = frozenset({"NoSuchEntity", "AccessDenied", "AccessDeniedException"})


@dataclass(frozen=True)
class PropagationRetry:
    """Bounded in-place retries of a write on a role or instance profile created earlier in
    the same :func:`execute` call, while IAM does not show it (or its tags) yet.

    IAM is eventually consistent and publishes no delay; a few seconds are typical. A write
    is retried after ``first_delay`` seconds, doubling up to ``max_delay``, until
    ``budget_seconds`` of waiting are used up for the whole call; then the error is
    classified as usual (a new pass, or ``Apply Failed`` and a Lambda retry).
    """

    budget_seconds: float = 30.0
    first_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = time.sleep


def _targets(write: Write) -> set[tuple[str, str]]:
    params = dict(write.params)
    found = set()
    if "RoleName" in params:
        found.add(("role", str(params["RoleName"])))
    if "InstanceProfileName" in params:
        found.add(("profile", str(params["InstanceProfileName"])))
    return found


def _not_yet_visible(write: Write, code: str, message: str, created: set[tuple[str, str]]) -> bool:
    """Whether an error on ``write`` is IAM not yet showing something created just before."""
    mine = _targets(write) & created
    if not mine or code not in _PROPAGATION_CODES:
        return False
    if code == "NoSuchEntity" and write.operation in _POLICY_LOOKUPS:
        # Here NoSuchEntity may name a missing managed policy: only the new entity counts.
        return any(name in message for _, name in mine)
    return True


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
    propagation: PropagationRetry | None = None,
) -> tuple[Write, ...]:
    """Perform ``writes`` in order; return them.

    Idempotent cleanups are tolerated: deleting something already gone is success. With
    ``propagation``, a write on a role or profile created earlier in this call that IAM
    answers with ``NoSuchEntity`` or ``AccessDenied`` is retried in place (bounded).

    Raises
    ------
    ConcurrentChange
        IAM no longer looks as it was read (another invocation changed it).
    WriteFailed
        Any other error; ``completed`` lists the writes made before it.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    done: list[Write] = []
    created: set[tuple[str, str]] = set()
    waited = 0.0  # the budget is for the whole call
    for write in writes:
        delay = propagation.first_delay if propagation else 0.0
        while True:
            try:
                send(iam, write)
                break
            except ClientError as exc:
                message = str(exc.response.get("Error", {}).get("Message", ""))
                if (
                    propagation is not None
                    and waited + delay <= propagation.budget_seconds
                    and _not_yet_visible(write, error_code(exc), message, created)
                ):
                    log.info(
                        "IAM does not show what was just created yet; retrying %s in %.1f s: %s",
                        write.describe(),
                        delay,
                        exc,
                    )
                    propagation.sleep(delay)
                    waited += delay
                    delay = min(delay * 2, propagation.max_delay)
                    continue
                _classify(write, done, exc)
                break  # tolerated (already gone)
            except BotoCoreError as exc:
                raise WriteFailed(write, done, exc) from exc
        if write.operation == "create_role" or write.operation == "create_instance_profile":
            created |= _targets(write)
        done.append(write)
        if on_write is not None:
            on_write(write)
    return tuple(done)


def _classify(write: Write, done: list[Write], exc: Exception) -> None:
    """Return when the error means success (already gone); raise what it means otherwise."""
    code = error_code(exc)
    if code == "NoSuchEntity" and write.operation.startswith(("delete_", "detach_", "remove_")):
        log.info("already gone: %s", write.describe())
        return
    if (
        code in _CONCURRENT_CODES
        or (code == "NoSuchEntity" and write.operation not in _POLICY_LOOKUPS)
        or (code == "LimitExceeded" and write.operation == "add_role_to_instance_profile")
    ):
        raise ConcurrentChange(write, done, exc) from exc
    raise WriteFailed(write, done, exc) from exc
