"""The Lambda entry point, ``lambda_handler``: thin glue, light to import.

Cold start is a benchmark target (import at most 1.3 times a bare ``import boto3``), so the module
imports only boto3, Powertools Logger and Metrics and kops-iam's light modules. The Tracer
(it loads the X-Ray SDK), the event models (pydantic), the spec parser (PyYAML) and the
policy catalogue load on the first invocation, inside :class:`Container`, which also builds
the boto3 clients once per container (botocore retry and timeout configuration from
:class:`~kops_iam.application.settings.Settings`).

Besides the events S3 and EventBridge send, it accepts what the failure queue holds (Lambda
on-failure records, EventBridge dead letters), so that failed events can be redriven.

Failure semantics: an invalid spec is a ``Spec Rejected`` audit event and a successful
invocation (retrying cannot fix it); any other failure is an ``Apply Failed`` event and a
raised exception, so Lambda retries the event and its on-failure destination keeps it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from kops_iam.application.settings import Defaults, Settings

if TYPE_CHECKING:  # pragma: no cover - typing only
    from aws_lambda_powertools import Tracer
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from kops_iam.application.reconciler import Outcome, Reconciler

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", Defaults.POWERTOOLS_SERVICE_NAME))
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", Defaults.METRICS_NAMESPACE),
    service=logger.service,
)


class ReconcileFailed(RuntimeError):
    """At least one key of the event could not be reconciled; Lambda retries the event."""


@dataclass(frozen=True)
class Runtime:
    """What an invocation needs: settings, the reconciler and the tracer."""

    settings: Settings
    reconciler: Reconciler
    tracer: Tracer


def build_runtime(
    environ: Mapping[str, str],
    *,
    account_id: str | None = None,
    session: boto3.session.Session | None = None,
) -> Runtime:
    """Build settings, clients, reconciler and tracer from the environment.

    The clients honour the usual AWS variables (``AWS_REGION``, ``AWS_ENDPOINT_URL`` for
    the local emulator, ...). ``session`` lets a test or the emulator share a boto3
    session whose service models are already loaded.
    """
    from aws_lambda_powertools import Tracer

    from kops_iam.application.reconciler import Reconciler

    tracer = Tracer(service=logger.service)  # before the clients: it patches botocore
    settings = Settings.from_env(environ, account_id=account_id)
    session = session or boto3.session.Session()
    config = settings.boto_config()
    reconciler = Reconciler(
        settings,
        iam=session.client("iam", config=config),
        s3=session.client("s3", config=config),
        events=session.client("events", config=config),
        # KMS aliases are resolved in each cluster's region, not the function's.
        kms_factory=lambda region: session.client("kms", region_name=region, config=config),
        route53_factory=lambda: session.client("route53", config=config),
    )
    return Runtime(settings=settings, reconciler=reconciler, tracer=tracer)


class Container:
    """The per-container cache: one :class:`Runtime`, built on the first invocation."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        factory: Callable[..., Runtime] = build_runtime,
    ) -> None:
        self._environ = environ
        self._factory = factory
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()

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


CONTAINER = Container()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Reconcile what ``event`` points at; see the module docstring for the semantics."""
    runtime = CONTAINER.runtime(account_id=_account_id(context))
    return handle(event, context, runtime, metrics)


def handle(
    event: Any, context: Any, runtime: Runtime, metrics: Metrics | None = None
) -> dict[str, Any]:
    """The handler's work, without the Powertools decorators (tests and the emulator).

    Returns a summary: one entry per key reconciled, and what was ignored. ``metrics`` (the
    Lambda passes its Powertools ``Metrics``) receives one count per outcome, the IAM
    writes, lost audit events and, for scheduled runs, clusters scanned and skipped.

    Raises
    ------
    ReconcileFailed
        Some key failed to reconcile (after its ``Apply Failed`` event was published).
    """
    from kops_iam.application.scan import scan_bucket
    from kops_iam.aws.events import UnsupportedEvent, parse_event
    from kops_iam.domain.state_store import spec_key_for

    request_id = getattr(context, "aws_request_id", None) or "local"
    try:
        parsed = parse_event(event)
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
    reconciler = runtime.reconciler
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
        with runtime.tracer.provider.in_subsegment("## reconcile_key") as subsegment:
            subsegment.put_annotation("key", key)
            outcome = reconciler.reconcile_key(key, trigger=obj.trigger, request_id=request_id)
            subsegment.put_annotation("outcome", outcome.detail_type or "ignored")
        logger.append_keys(cluster=outcome.cluster)
        outcomes.append(outcome)
    if parsed.scheduled is not None:
        logger.set_correlation_id(f"schedule:{request_id}")
        deadline = _deadline(context, runtime.settings, reconciler.clock)
        with runtime.tracer.provider.in_subsegment("## reconcile_bucket"):
            report = scan_bucket(
                reconciler,
                request_id=request_id,
                deadline=deadline,
                rotation=parsed.scheduled.rotation,
            )
        outcomes.extend(report.outcomes)
        if metrics is not None:
            metrics.add_metric(name="ClustersScanned", unit=MetricUnit.Count, value=report.keys)
            metrics.add_metric(
                name="ClustersSkipped", unit=MetricUnit.Count, value=len(report.skipped)
            )
    if metrics is not None:
        _record_metrics(metrics, outcomes)
    failures = [o for o in outcomes if o.failed]
    summary = {
        "outcomes": [
            {
                "key": o.key,
                "cluster": o.cluster,
                "detailType": o.detail_type,
                "writes": o.writes,
                "published": o.published,
            }
            for o in outcomes
        ],
        "ignored": ignored,
    }
    if failures:
        first = failures[0]
        raise ReconcileFailed(
            f"{len(failures)} of {len(outcomes)} spec(s) failed to reconcile; "
            f"first: {first.key}: {first.error}"
        ) from first.error
    return summary


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
    return clock() + float(remaining()) / 1000.0 - settings.scan_time_margin_seconds


def _account_id(context: Any) -> str | None:
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None
