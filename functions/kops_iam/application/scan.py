"""The scheduled drift run: reconcile every spec in the bucket, a few clusters at a time."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kops_iam.application.audit_details import SCAN_CLUSTER, SCAN_KEY, AuditDetails, Outcome

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kops_iam.application.reconciler import Reconciler

log = logging.getLogger("kops-iam.scan")


@dataclass(frozen=True)
class ScanReport:
    """The result of a scheduled run over the bucket."""

    keys: int
    outcomes: tuple[Outcome, ...]
    #: Keys not started because the run's deadline passed.
    skipped: tuple[str, ...] = ()
    #: Prefixes listed without a spec object (or whose spec vanished meanwhile).
    missing: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[Outcome, ...]:
        """Outcomes of clusters whose reconcile failed."""
        return tuple(o for o in self.outcomes if o.failed)


def scan_bucket(
    reconciler: Reconciler,
    *,
    request_id: str | None = None,
    deadline: float | None = None,
    rotation: int = 0,
) -> ScanReport:
    """Reconcile every spec in the bucket (the scheduled drift run).

    Clusters run ``settings.scan_workers`` at a time. With a ``deadline`` (a value of
    the injected clock), clusters not started by then are skipped and reported; the
    list starts at index ``rotation`` (modulo its length), so successive runs that
    each run out of time still cover every cluster in turn.
    """
    if reconciler.source is None:
        raise RuntimeError("reconcile_bucket needs an S3 client")
    request_id = request_id or str(uuid.uuid4())
    try:
        keys = sorted(reconciler.source.spec_keys())
    except Exception as exc:
        # Without the list no cluster can be checked: say so on the audit trail, then
        # fail the invocation so Lambda retries it.
        AuditDetails(reconciler, SCAN_KEY, SCAN_CLUSTER, "schedule", request_id).failed(
            exc, (), None
        )
        raise
    if keys:
        start = rotation % len(keys)
        keys = keys[start:] + keys[:start]

    def work(key: str) -> Outcome | None:
        if deadline is not None and reconciler.clock() >= deadline:
            return None
        return reconciler.reconcile_key(
            key, trigger="schedule", request_id=request_id, skip_missing=True
        )

    outcomes: list[Outcome] = []
    skipped: list[str] = []
    missing: list[str] = []
    with ThreadPoolExecutor(max_workers=reconciler.settings.scan_workers) as pool:
        for key, outcome in zip(keys, pool.map(work, keys), strict=True):
            if outcome is None:
                skipped.append(key)
            elif outcome.detail_type is None:
                missing.append(key)
            else:
                outcomes.append(outcome)
    if skipped:
        log.warning(
            "scheduled run out of time: %d of %d clusters left for the next run",
            len(skipped),
            len(keys),
            extra={"skipped": skipped[:50]},
        )
    return ScanReport(
        keys=len(keys), outcomes=tuple(outcomes), skipped=tuple(skipped), missing=tuple(missing)
    )
