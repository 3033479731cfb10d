"""The Lambda entry point, ``lambda_handler``: thin glue, light to import.

The module imports only boto3, Powertools Logger and Metrics and kops-iam's light modules.
Everything else a first event needs (settings, the iam/s3/events clients, the event models,
the spec parser and the policy catalogue) is built on the first invocation, inside
:class:`Container`, once per container; the SQS client only when a drift run or a drift
batch needs it. Where that one-time work runs, and why the X-Ray SDK is not part of it:
docs/adr/0113. In Lambda, the garbage collector waits until the first invocation has ended
(docs/adr/0122).

Besides the events S3 and EventBridge send, it accepts what the failure queue holds (Lambda
on-failure records, EventBridge dead letters), so that failed events can be redriven.

Failure semantics: an invalid spec is a ``Spec Rejected`` audit event and a successful
invocation (retrying cannot fix it); any other failure of an S3 event is an ``Apply
Failed`` event and a raised exception, so Lambda retries the event and its on-failure
destination keeps it. Drift checks fail per message instead: the answer lists them as
``batchItemFailures`` and the drift queue delivers them again (docs/adr/0110, 0112).
"""

from __future__ import annotations

import gc
import os

#: In Lambda, the cold path runs without CPython's cyclic garbage collector, which the
#: first invocation's end turns back on (:meth:`Container.end_cold_start`). Loading boto3,
#: pydantic, the clients and the domain creates ~100,000 long-lived objects, and the
#: collector would scan them over and over while they load: ~0.2 s of a ~0.9 s cold path,
#: for no garbage found. Lambda's managed runtimes set ``AWS_EXECUTION_ENV`` to
#: ``AWS_Lambda_<runtime>``; the tools and the tests do not, and keep Python's default.
#: docs/adr/0122.
GC_DEFERRED_AT_IMPORT = (
    os.environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_") and gc.isenabled()
)
if GC_DEFERRED_AT_IMPORT:
    gc.disable()

# The imports come after the collector is paused, on purpose (ruff: E402 for this file).
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from kops_iam.application.settings import Defaults, Settings

if TYPE_CHECKING:  # pragma: no cover - typing only
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_sqs import SQSClient

    from kops_iam.application.drift import SnapshotCache
    from kops_iam.application.reconciler import Outcome, Reconciler
    from kops_iam.aws.events import ParsedEvent
    from kops_iam.aws.snapshot_store import SnapshotStore

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", Defaults.POWERTOOLS_SERVICE_NAME))
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", Defaults.METRICS_NAMESPACE),
    service=logger.service,
)


class ReconcileFailed(RuntimeError):
    """At least one key of the event could not be reconciled; Lambda retries the event."""


@dataclass(frozen=True)
class Runtime:
    """What an invocation needs: settings, the reconciler, the container's IAM snapshot
    cache, the period's shared snapshot (when the stack has a snapshot bucket) and, for
    drift runs and batches, an SQS client (made on first use)."""

    settings: Settings
    reconciler: Reconciler
    snapshots: SnapshotCache | None = None
    store: SnapshotStore | None = None
    sqs_factory: Callable[[], SQSClient] | None = None
    _sqs: list[SQSClient] = field(default_factory=list, repr=False, compare=False)

    def sqs(self) -> SQSClient:
        """The SQS client (one per runtime)."""
        if not self._sqs:
            if self.sqs_factory is None:
                raise RuntimeError("this runtime has no SQS client (no drift queue)")
            self._sqs.append(self.sqs_factory())
        return self._sqs[0]


def build_runtime(
    environ: Mapping[str, str],
    *,
    account_id: str | None = None,
    session: boto3.session.Session | None = None,
) -> Runtime:
    """Build settings, clients and reconciler from the environment.

    The clients honour the usual AWS variables (``AWS_REGION``, ``AWS_ENDPOINT_URL`` for
    the local emulator, ...). ``session`` lets a test or the emulator share a boto3
    session whose service models are already loaded.
    """
    from kops_iam.application.drift import SnapshotCache
    from kops_iam.application.reconciler import Reconciler

    settings = Settings.from_env(environ, account_id=account_id)
    session = session or boto3.session.Session()
    s3 = session.client("s3", config=settings.boto_config("s3"))
    reconciler = Reconciler(
        settings,
        iam=session.client("iam", config=settings.boto_config("iam")),
        s3=s3,
        events=session.client("events", config=settings.boto_config("events")),
        # KMS aliases are resolved in each cluster's region, not the function's.
        kms_factory=lambda region: session.client(
            "kms", region_name=region, config=settings.boto_config("kms")
        ),
        route53_factory=lambda: session.client("route53", config=settings.boto_config("route53")),
    )
    store = None
    if settings.snapshot_bucket:
        from kops_iam.aws.snapshot_store import SnapshotStore

        store = SnapshotStore(s3, settings.snapshot_bucket)
    return Runtime(
        settings=settings,
        reconciler=reconciler,
        snapshots=SnapshotCache(settings.snapshot_max_age_seconds),
        store=store,
        sqs_factory=lambda: session.client("sqs", config=settings.boto_config("sqs")),
    )


class Container:
    """The per-container cache: one :class:`Runtime`, built on the first invocation."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        factory: Callable[..., Runtime] = build_runtime,
        *,
        gc_deferred: bool = False,
    ) -> None:
        self._environ = environ
        self._factory = factory
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()
        self._gc_deferred = gc_deferred

    def end_cold_start(self) -> None:
        """Once the first invocation has ended, freeze what the cold path made and turn the
        garbage collector back on, if it was paused at import (docs/adr/0122).

        ``gc.freeze`` moves every object alive now (modules, classes, models, clients,
        caches) to the permanent generation: later collections never scan them again, so
        the work skipped on the cold path is not paid later. What it cannot free is any
        cyclic garbage of the cold path itself (measured: none, +0.4 MB of RSS).
        """
        with self._lock:
            if not self._gc_deferred:
                return
            self._gc_deferred = False
        gc.freeze()
        gc.enable()

    def runtime(self, account_id: str | None = None) -> Runtime:
        """The container's runtime (built once)."""
        with self._lock:
            if self._runtime is None:
                environ = self._environ if self._environ is not None else os.environ
                self._runtime = self._factory(environ, account_id=account_id)
            return self._runtime

    def install(self, runtime: Runtime | None) -> None:
        """Use ``runtime`` (tests, the local emulator); ``None`` rebuilds on next use."""
        with self._lock:
            self._runtime = runtime


CONTAINER = Container(gc_deferred=GC_DEFERRED_AT_IMPORT)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Reconcile what ``event`` points at; see the module docstring for the semantics."""
    try:
        runtime = CONTAINER.runtime(account_id=_account_id(context))
        return handle(event, context, runtime, metrics)
    finally:
        CONTAINER.end_cold_start()


def handle(
    event: Any, context: Any, runtime: Runtime, metrics: Metrics | None = None
) -> dict[str, Any]:
    """The handler's work, without the Powertools decorators (tests and the emulator).

    Returns a summary: one entry per key reconciled or checked, what was ignored, and for
    drift batches the ``batchItemFailures`` the drift queue's event source reads.
    ``metrics`` (the Lambda passes its Powertools ``Metrics``) receives one count per
    outcome, the IAM writes, lost audit events, and the drift figures.

    Raises
    ------
    ReconcileFailed
        Some key of an S3 event failed to reconcile (after its ``Apply Failed`` event was
        published), or a drift run could not be queued.
    """
    from kops_iam.aws.events import UnsupportedEvent, parse_event

    request_id = getattr(context, "aws_request_id", None) or "local"
    try:
        parsed = parse_event(event, drift_queue=runtime.settings.drift_queue_url)
    except UnsupportedEvent as exc:
        # Retrying cannot make an unknown event known: log it, report it, do not fail.
        logger.error("unsupported event ignored", extra={"reason": str(exc)[:2000]})
        if metrics is not None:
            metrics.add_metric(name="UnsupportedEvents", unit=MetricUnit.Count, value=1)
        return {"outcomes": [], "ignored": [str(exc)[:500]]}
    if parsed.redriven:
        # Taken back from the failure queue (kops-iam redrive, docs/adr/0072).
        logger.info("redriven event", extra={"redriven": list(parsed.redriven)})
        if metrics is not None:
            metrics.add_metric(name="RedrivenEvents", unit=MetricUnit.Count, value=1)
    outcomes, ignored = _objects(parsed, runtime, request_id)
    summary: dict[str, Any] = {}
    if parsed.scheduled is not None:
        summary["drift"] = _start_run(parsed, runtime, request_id, metrics)
    checked: list[Outcome] = []
    if parsed.checks:
        checked, failures = _check(parsed, context, runtime, request_id, metrics)
        summary["batchItemFailures"] = [{"itemIdentifier": i} for i in failures]
    if metrics is not None:
        _record_metrics(metrics, outcomes + checked)
    summary = {
        "outcomes": [_entry(o) for o in outcomes]
        + [_entry(o) for o in checked if o.detail_type is not None],
        "ignored": ignored,
        **summary,
    }
    failed = [o for o in outcomes if o.failed]
    if failed:
        first = failed[0]
        raise ReconcileFailed(
            f"{len(failed)} of {len(outcomes)} spec(s) failed to reconcile; "
            f"first: {first.key}: {first.error}"
        ) from first.error
    return summary


def _objects(
    parsed: ParsedEvent, runtime: Runtime, request_id: str
) -> tuple[list[Outcome], list[str]]:
    """Reconcile the clusters whose objects the event names (S3 events)."""
    from kops_iam.domain.state_store import spec_key_for

    bucket = runtime.settings.bucket
    outcomes: list[Outcome] = []
    ignored = list(parsed.ignored)
    seen: set[str] = set()
    for obj in parsed.objects:
        if obj.bucket != bucket:
            logger.warning(
                "event for another bucket ignored", extra={"bucket": obj.bucket, "key": obj.key}
            )
            ignored.append(f"s3://{obj.bucket}/{obj.key}")
            continue
        # An InstanceGroup object's event reconciles its cluster (docs/adr/0093).
        key = spec_key_for(obj.key) or obj.key
        if key in seen:  # level-triggered: one reconcile per cluster covers every record
            continue
        seen.add(key)
        logger.set_correlation_id(f"s3://{bucket}/{key}")
        logger.append_keys(key=key, event_name=obj.event_name, object_key=obj.key)
        outcome = runtime.reconciler.reconcile_key(key, trigger=obj.trigger, request_id=request_id)
        logger.append_keys(cluster=outcome.cluster)
        outcomes.append(outcome)
    return outcomes, ignored


def _start_run(
    parsed: ParsedEvent, runtime: Runtime, request_id: str, metrics: Metrics | None
) -> dict[str, Any]:
    """The drift schedule's event: one drift check per cluster onto the drift queue."""
    from kops_iam.application.drift import start_run

    assert parsed.scheduled is not None
    queue_url = runtime.settings.drift_queue_url
    if not queue_url:
        raise ReconcileFailed(
            "a drift run needs the drift queue (KOPS_IAM_DRIFT_QUEUE_URL is not set)"
        )
    logger.set_correlation_id(f"schedule:{request_id}")
    run = start_run(
        runtime.reconciler,
        runtime.sqs(),
        queue_url,
        run_id=parsed.scheduled.event_id or request_id,
        request_id=request_id,
        store=runtime.store,
        snapshots=runtime.snapshots,
    )
    if metrics is not None:
        metrics.add_metric(name="DriftChecksQueued", unit=MetricUnit.Count, value=run.sent)
    return {
        "run": run.run_id,
        "clusters": run.clusters,
        "queued": run.sent,
        "sharedRoles": run.shared_roles,
    }


def _check(
    parsed: ParsedEvent, context: Any, runtime: Runtime, request_id: str, metrics: Metrics | None
) -> tuple[list[Outcome], list[str]]:
    """A batch of drift checks; returns their outcomes and the message ids to retry."""
    from kops_iam.application.drift import check_batch, postpone

    reconciler = runtime.reconciler
    logger.set_correlation_id(f"drift:{request_id}")
    report = check_batch(
        reconciler,
        parsed.checks,
        snapshots=runtime.snapshots,
        store=runtime.store,
        request_id=request_id,
        deadline=_deadline(context, runtime.settings, reconciler.clock),
    )
    if report.deferred and runtime.settings.drift_queue_url and runtime.sqs_factory is not None:
        postpone(runtime.sqs(), runtime.settings.drift_queue_url, report.deferred)
    if metrics is not None:
        metrics.add_metric(name="DriftChecks", unit=MetricUnit.Count, value=len(parsed.checks))
        metrics.add_metric(
            name="DriftChecksPutOff", unit=MetricUnit.Count, value=len(report.deferred)
        )
        metrics.add_metric(
            name="DriftChecksFailed",
            unit=MetricUnit.Count,
            value=len(report.retry) - len(report.deferred),
        )
        if report.throttled:
            metrics.add_metric(name="DriftBatchesThrottled", unit=MetricUnit.Count, value=1)
    return list(report.outcomes), [c.message_id for c in report.retry]


def _entry(outcome: Outcome) -> dict[str, Any]:
    return {
        "key": outcome.key,
        "cluster": outcome.cluster,
        "detailType": outcome.detail_type,
        "writes": outcome.writes,
        "published": outcome.published,
    }


def _record_metrics(metrics: Metrics, outcomes: list[Outcome]) -> None:
    counts: dict[str, int] = {}
    writes = 0
    lost = 0
    for outcome in outcomes:
        if outcome.detail_type:
            name = outcome.detail_type.replace(" ", "")
            counts[name] = counts.get(name, 0) + 1
        writes += outcome.writes
        lost += outcome.published is False
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.add_metric(name="IamWrites", unit=MetricUnit.Count, value=writes)
    if lost:
        metrics.add_metric(name="AuditPublishFailed", unit=MetricUnit.Count, value=lost)


def _deadline(context: Any, settings: Settings, clock: Callable[[], float]) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return clock() + float(remaining()) / 1000.0 - settings.drift_time_margin_seconds


def _account_id(context: Any) -> str | None:
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None
