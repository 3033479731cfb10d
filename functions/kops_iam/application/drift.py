"""Drift checks on AWS's own fan-out: every cluster, every period, whatever the fleet's size.

* :func:`start_run`: the drift schedule's invocation reads IAM in bulk once
  (``GetAccountAuthorizationDetails``) and leaves the snapshot in the snapshot bucket
  (:class:`~kops_iam.aws.snapshot_store.SnapshotStore`, docs/adr/0117), then lists the
  spec keys and puts one message per cluster on the drift queue (``SendMessageBatch``, ten
  a call).
* :func:`check_batch`: the queue's event source hands the messages to the function in
  batches, at most ``kops-iam:driftConcurrency`` invocations at once (the IAM rate budget).
  A worker compares each cluster's spec with one IAM snapshot per container and run
  (:class:`SnapshotCache`: the period's shared snapshot, or its own bulk read when there is
  none) and reconciles, role by role, only the clusters that differ; with
  ``drift_read = per-role`` it reconciles every cluster role by role, as an event does.
* Failures are per message: the handler reports the checks to try again as batch item
  failures; the queue delivers them again and, after its last delivery, moves them to its
  dead-letter queue. A check throttled before any write is put off quietly (no audit
  event) and the rest of the batch with it; a check that keeps failing is reported on
  the audit trail once, on its last delivery (docs/adr/0112).

Why SQS and an event source rather than Step Functions: docs/adr/0110; the bulk read:
docs/adr/0111.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from kops_iam.application.audit_details import SCAN_CLUSTER, SCAN_KEY, AuditDetails, Outcome
from kops_iam.aws.errors import is_throttling
from kops_iam.aws.events import DriftCheck, drift_message

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_sqs import SQSClient

    from kops_iam.application.reconciler import Reconciler
    from kops_iam.aws.iam_snapshot import IamSnapshot
    from kops_iam.aws.snapshot_store import SnapshotStore

log = logging.getLogger("kops-iam.drift")

#: SQS takes at most ten messages per ``SendMessageBatch``.
SEND_BATCH: Final = 10
#: Rounds of re-sending the entries ``SendMessageBatch`` reported as failed.
SEND_ROUNDS: Final = 3
#: A put-off check comes back after ``base * 2**(deliveries - 1)`` seconds, at most ``cap``
#: (jittered down by up to half, so put-off checks do not come back together).
BACKOFF_BASE_SECONDS: Final = 60
BACKOFF_CAP_SECONDS: Final = 900


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class RunReport:
    """What the schedule's invocation put on the drift queue."""

    run_id: str
    started: float
    clusters: int
    sent: int
    #: kops roles in the snapshot left for the workers (``None``: none was left).
    shared_roles: int | None = None


def start_run(
    reconciler: Reconciler,
    sqs: SQSClient,
    queue_url: str,
    *,
    run_id: str | None = None,
    request_id: str | None = None,
    clock: Callable[[], float] = time.time,
    store: SnapshotStore | None = None,
    snapshots: SnapshotCache | None = None,
) -> RunReport:
    """List every spec key of the bucket and put one drift check per cluster on the queue.

    With a ``store`` (and ``drift_read = bulk``), IAM is first read in bulk once and the
    snapshot written there for the workers (and kept in ``snapshots``, this container's
    cache). A snapshot that cannot be read or written is only a warning: the workers then
    read IAM themselves.

    The listing reads top-level prefixes only (``ListObjectsV2`` with a delimiter: 1,000
    clusters a page). Messages go out ten a call, ``drift_threads`` calls at a time;
    entries SQS reports as failed are sent again. A run that cannot list the bucket is an
    ``Apply Failed`` event for every cluster (``*``); either failure raises, so Lambda
    retries the schedule's event (checks are idempotent: a cluster checked twice is fine).
    """
    if reconciler.source is None:
        raise RuntimeError("start_run needs an S3 client")
    # whole milliseconds, down: the messages carry this start, and the run's own snapshot,
    # taken after it, must count as taken after it
    started = math.floor(clock() * 1000) / 1000
    run_id = run_id or str(uuid.uuid4())
    request_id = request_id or str(uuid.uuid4())
    shared = None
    if store is not None and reconciler.settings.drift_read == "bulk":
        shared = share_snapshot(reconciler, store, snapshots, clock=clock)
    try:
        keys = sorted(reconciler.source.spec_keys())
    except Exception as exc:
        AuditDetails(reconciler, SCAN_KEY, SCAN_CLUSTER, "schedule", request_id).failed(
            exc, (), None
        )
        raise
    entries = [
        {"Id": str(index), "MessageBody": json.dumps(drift_message(key, run_id, started))}
        for index, key in enumerate(keys)
    ]
    chunks = [entries[i : i + SEND_BATCH] for i in range(0, len(entries), SEND_BATCH)]

    def send(chunk: list[dict[str, str]]) -> list[dict[str, str]]:
        for _ in range(SEND_ROUNDS):
            answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=chunk)  # type: ignore[arg-type]
            failed = {f["Id"] for f in answer.get("Failed", [])}
            chunk = [e for e in chunk if e["Id"] in failed]
            if not chunk:
                break
        return chunk

    with ThreadPoolExecutor(max_workers=reconciler.settings.drift_threads) as pool:
        unsent = [e for left in pool.map(send, chunks) for e in left]
    if unsent:
        raise RuntimeError(
            f"{len(unsent)} of {len(entries)} drift checks could not be queued "
            f"(first: {unsent[0]['MessageBody'][:200]})"
        )
    log.info("drift run %s: %d cluster(s) queued", run_id, len(keys))
    return RunReport(
        run_id=run_id,
        started=started,
        clusters=len(keys),
        sent=len(entries),
        shared_roles=None if shared is None else len(shared.roles),
    )


def share_snapshot(
    reconciler: Reconciler,
    store: SnapshotStore,
    snapshots: SnapshotCache | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> IamSnapshot | None:
    """Read IAM in bulk and leave the snapshot in ``store``; ``None`` (and a warning) when
    either fails, so the workers read IAM themselves."""
    from kops_iam.aws.iam_snapshot import read_snapshot

    try:
        snapshot = read_snapshot(reconciler.iam, clock=clock)
    except Exception as exc:  # noqa: BLE001 - the workers fall back to their own read
        log.warning("IAM snapshot for the run failed: workers read IAM themselves: %s", exc)
        return None
    _log_read(snapshot)
    reconciler.note_bulk_pages(snapshot.pages)
    if snapshots is not None:
        snapshots.keep(snapshot)
    try:
        size = store.put(snapshot)
    except Exception as exc:  # noqa: BLE001 - as above
        log.warning("IAM snapshot could not be shared: workers read IAM themselves: %s", exc)
        return None
    log.info("IAM snapshot shared: %d bytes", size)
    return snapshot


def _log_read(snapshot: IamSnapshot) -> None:
    """Log a bulk read of IAM (and the profiles whose tags it could not see)."""
    log.info(
        "IAM snapshot: %d kops role(s) of %d, %d page(s)",
        len(snapshot.roles),
        snapshot.seen,
        snapshot.pages,
    )
    if snapshot.profile_tags_missing:
        log.warning(
            "GetAccountAuthorizationDetails gave %d instance profile(s) without "
            "tags: their tags are taken as planned (docs/adr/0111)",
            snapshot.profile_tags_missing,
        )


# --------------------------------------------------------------------------- the workers


class SnapshotCache:
    """The container's IAM snapshot, shared by the batches it works on.

    A snapshot serves the checks of every run that started before it was taken (so each
    check compares with IAM as it was after its run began), for at most ``max_age``
    seconds; a check of a later run takes a new one: the period's shared snapshot when a
    ``store`` holds one that qualifies, else its own bulk read. One refresh at a time.
    """

    def __init__(self, max_age: float, clock: Callable[[], float] = time.time) -> None:
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: IamSnapshot | None = None
        #: Snapshots read from IAM so far (each one ``pages`` calls).
        self.reads = 0
        #: Times the shared snapshot was asked of the store (one ``GetObject`` each).
        self.loads = 0

    def _serves(self, snapshot: IamSnapshot, run_started: float) -> bool:
        """Taken after the run began, and not too old."""
        return (
            snapshot.taken_at >= run_started and self._clock() - snapshot.taken_at <= self._max_age
        )

    def keep(self, snapshot: IamSnapshot) -> None:
        """Hold ``snapshot`` (the schedule's own, read for the workers)."""
        with self._lock:
            self._snapshot = snapshot

    def get(
        self, iam: IAMClient, run_started: float, store: SnapshotStore | None = None
    ) -> IamSnapshot:
        """A snapshot taken after ``run_started``: the cached one, the shared one in
        ``store``, or a new bulk read.

        No run starts in the future: a later ``run_started`` (a clock's skew, a forged
        message) counts as now, so it cannot make every batch read IAM in bulk anew. A
        shared snapshot that is missing, older than the run or unreadable is passed over.
        """
        from kops_iam.aws.iam_snapshot import read_snapshot

        run_started = min(run_started, self._clock())
        with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and self._serves(snapshot, run_started):
                return snapshot
            if store is not None:
                try:
                    shared = store.get()
                except Exception as exc:  # noqa: BLE001 - read IAM instead
                    log.warning("shared IAM snapshot unreadable: reading IAM: %s", exc)
                    shared = None
                self.loads += 1
                if shared is not None and self._serves(shared, run_started):
                    self._snapshot = shared
                    log.info("IAM snapshot of the run: %d kops role(s)", len(shared.roles))
                    return shared
            snapshot = read_snapshot(iam, clock=self._clock)
            self._snapshot = snapshot
            self.reads += 1
            _log_read(snapshot)
        return snapshot

    @property
    def current(self) -> IamSnapshot | None:
        """The snapshot held now (``None`` before the first check)."""
        return self._snapshot

    def clear(self) -> None:
        """Forget the snapshot (the next check reads a new one)."""
        with self._lock:
            self._snapshot = None


@dataclass(frozen=True)
class BatchReport:
    """What one batch of drift checks came to."""

    #: Checks that came to an outcome (failures among them were audited).
    outcomes: tuple[Outcome, ...]
    #: Checks to deliver again: the batch item failures.
    retry: tuple[DriftCheck, ...]
    #: Of those, the ones put off without an audit event (throttled, out of time, or a
    #: failure before any write on a delivery that is not the last).
    deferred: tuple[DriftCheck, ...]
    throttled: bool = False
    snapshot: IamSnapshot | None = None


def check_batch(
    reconciler: Reconciler,
    checks: Sequence[DriftCheck],
    *,
    snapshots: SnapshotCache | None = None,
    store: SnapshotStore | None = None,
    request_id: str | None = None,
    deadline: float | None = None,
) -> BatchReport:
    """Check a batch of clusters for drift; say which checks to deliver again.

    ``store`` holds the period's shared snapshot (:meth:`SnapshotCache.get`).
    ``deadline`` is a value of ``reconciler.clock``: no check starts after it. Once a check
    is throttled (after botocore's own back-off), the checks not yet started are put off
    too: the run slows down instead of failing (docs/adr/0112).
    """
    settings = reconciler.settings
    request_id = request_id or str(uuid.uuid4())

    def last(check: DriftCheck) -> bool:
        return check.receive_count >= settings.drift_max_receives

    snapshot: IamSnapshot | None = None
    throttled = threading.Event()
    if settings.drift_read == "bulk" and snapshots is not None and checks:
        try:
            snapshot = snapshots.get(
                reconciler.iam, max(c.run_started for c in checks), store=store
            )
            reconciler.note_bulk_pages(snapshot.pages)
        except Exception as exc:
            if is_throttling(exc):
                throttled.set()
                log.warning("IAM snapshot throttled: the batch is put off: %s", exc)
            else:
                log.exception("IAM snapshot failed: checking role by role")

    def work(check: DriftCheck) -> Outcome | None:
        """The check's outcome; ``None``: put off before it started."""
        out_of_time = deadline is not None and reconciler.clock() >= deadline
        if out_of_time or (throttled.is_set() and not last(check)):
            return None
        if snapshot is not None:
            try:
                found = reconciler.check_key(check.key, snapshot, request_id=request_id)
            except Exception as exc:  # noqa: BLE001 - the full reconcile reports it
                if is_throttling(exc) and not last(check):
                    throttled.set()
                    return None
                found = None
            if found is not None:
                return found
        outcome = reconciler.reconcile_key(
            check.key,
            trigger="schedule",
            request_id=request_id,
            skip_missing=True,
            quiet_retry=not last(check),
            retried=not last(check),
        )
        if outcome.deferred and is_throttling(outcome.error):
            throttled.set()
        return outcome

    outcomes: list[Outcome] = []
    retry: list[DriftCheck] = []
    deferred: list[DriftCheck] = []
    threads = max(1, min(settings.drift_threads, len(checks)))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for check, outcome in zip(checks, pool.map(work, checks), strict=True):
            if outcome is None or outcome.deferred:
                retry.append(check)
                deferred.append(check)
            else:
                outcomes.append(outcome)
                if outcome.failed:
                    retry.append(check)
    if deferred:
        log.warning(
            "%d of %d drift check(s) put off%s",
            len(deferred),
            len(checks),
            " (throttled)" if throttled.is_set() else "",
        )
    return BatchReport(
        outcomes=tuple(outcomes),
        retry=tuple(retry),
        deferred=tuple(deferred),
        throttled=throttled.is_set(),
        snapshot=snapshot,
    )


def backoff_seconds(check: DriftCheck, rand: Callable[[], float] = random.random) -> int:
    """How long a put-off check waits before its next delivery (jittered, capped)."""
    ceiling = min(BACKOFF_BASE_SECONDS * 2 ** (check.receive_count - 1), BACKOFF_CAP_SECONDS)
    return int(ceiling * (0.5 + rand() / 2))


def postpone(sqs: SQSClient, queue_url: str, checks: Sequence[DriftCheck]) -> int:
    """Make put-off checks visible again only after their back-off; return how many.

    Best effort: a check whose visibility cannot be changed comes back when the queue's
    visibility timeout ends, as any failed item does.
    """
    entries: list[Any] = [
        {
            "Id": str(index),
            "ReceiptHandle": check.receipt_handle,
            "VisibilityTimeout": backoff_seconds(check),
        }
        for index, check in enumerate(checks)
        if check.receipt_handle
    ]
    changed = 0
    for i in range(0, len(entries), SEND_BATCH):
        chunk = entries[i : i + SEND_BATCH]
        try:
            answer = sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=chunk)
        except Exception as exc:  # noqa: BLE001 - the queue's own timeout applies instead
            log.warning("could not put off %d drift check(s): %s", len(chunk), exc)
            continue
        changed += len(answer.get("Successful", []))
    return changed
