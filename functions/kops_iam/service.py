"""The reconciler: one object shared by the Lambda, the CLI, the local emulator and benchmarks.

:class:`Reconciler` takes injected boto3 clients and :class:`~kops_iam.settings.Settings`;
it never builds a client itself. Its entry points:

* :meth:`Reconciler.reconcile_key` - level-triggered reconcile of one spec key: read the
  current object, apply it (or delete the cluster's roles when it is gone), verify the
  object did not change meanwhile, else go round again; publish one audit event.
* :meth:`Reconciler.reconcile_bucket` - the scheduled drift run over every spec.
* :meth:`Reconciler.reconcile_document` - a spec file against live IAM (``kops-iam
  plan``/``apply``): no S3, no audit event.

Why read-apply-verify gives "newest spec wins" without a lock: docs/adr/0020.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from kops_iam.audit import SCHEMA_VERSION, AuditPublisher, make_event
from kops_iam.errors import Issue, SpecInvalid
from kops_iam.model import ClusterPlan, JSONDict
from kops_iam.naming import partition_for_region
from kops_iam.options import Options
from kops_iam.reconcile import (
    ClusterChanges,
    ConcurrentChange,
    Write,
    WriteFailed,
    diff_cluster,
    error_code,
    execute,
    observe_cluster,
)
from kops_iam.settings import Settings
from kops_iam.source import ObjectChanged, ObjectTooLarge, ObjectVersion, SpecSource, same_state
from kops_iam.wiring import DetailType, cluster_from_key

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("kops-iam.service")

Trigger = Literal["s3", "eventbridge", "schedule", "cli", "manual"]
AliasResolver = Callable[[str], str]
Planner = Callable[[bytes, Options, AliasResolver | None], ClusterPlan]


def default_planner(
    data: bytes, options: Options, resolve_alias: AliasResolver | None
) -> ClusterPlan:
    """:func:`kops_iam.core.plan_spec`, imported on first use (keeps cold start light)."""
    from kops_iam.core import plan_spec

    return plan_spec(data, options, resolve_alias)


class Rejected(Exception):
    """The spec cannot be applied as it is; nothing was written. Not retried."""

    def __init__(
        self,
        reason: str,
        message: str,
        errors: Sequence[Issue] = (),
        warnings: Sequence[Issue] = (),
    ) -> None:
        self.reason = reason
        self.message = message
        self.errors = tuple(errors)
        self.warnings = tuple(warnings)
        super().__init__(message)


class NotConverged(Exception):
    """The object kept changing for ``max_passes`` passes; Lambda retries the event."""


@dataclass(frozen=True)
class Outcome:
    """The result of reconciling one spec key.

    ``detail_type`` is ``None`` when nothing was reconciled (a key that is not a spec, a
    scheduled run's key that vanished). ``published`` is ``None`` when no event was due
    (an unchanged spec on a scheduled run), else whether the audit event was delivered.
    ``error`` is set when the reconcile failed: the caller must fail the invocation.
    """

    key: str
    cluster: str | None
    detail_type: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)
    writes: int = 0
    published: bool | None = None
    error: BaseException | None = None

    @property
    def failed(self) -> bool:
        """Whether the invocation must fail (so Lambda retries the event)."""
        return self.error is not None


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


@dataclass(frozen=True)
class DocumentResult:
    """A spec file against live IAM: the plan, the changes, and the writes made."""

    plan: ClusterPlan
    changes: ClusterChanges
    written: tuple[Write, ...]
    passes: int = 1


@dataclass
class _Pass:
    """What one read-apply pass did."""

    version: ObjectVersion | None
    changes: ClusterChanges | None = None
    written: tuple[Write, ...] = ()
    rejected: Rejected | None = None
    warnings: tuple[str, ...] = ()


class Reconciler:
    """Keeps IAM as the specs say. Thread-safe (boto3 clients are).

    Parameters
    ----------
    settings
        Operator settings (bucket, bus, mode, options, adoption, retention, limits).
    iam
        boto3 IAM client.
    s3
        boto3 S3 client (needed by :meth:`reconcile_key` and :meth:`reconcile_bucket`).
    events
        boto3 EventBridge client; without it no audit event is published.
    kms, kms_factory
        boto3 KMS client (or a function making one on first need), to resolve KMS aliases
        named in specs (``DescribeKey``). Without either, an alias is a spec error.
    planner
        ``(bytes, Options, resolve_alias) -> ClusterPlan``; the domain core by default.
    sleep, clock
        Injected for tests (back-off of audit retries and of passes after a concurrent IAM
        change; scheduled-run deadline).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        iam: IAMClient,
        s3: S3Client | None = None,
        events: EventBridgeClient | None = None,
        kms: KMSClient | None = None,
        kms_factory: Callable[[], KMSClient] | None = None,
        planner: Planner | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.iam = iam
        self._kms = kms
        self._kms_factory = kms_factory
        self._kms_lock = threading.Lock()
        self.source = SpecSource(s3, settings.bucket, settings.max_object_bytes) if s3 else None
        self.publisher = (
            AuditPublisher(events, settings.bus_name, settings.audit_attempts, sleep)
            if events is not None
            else None
        )
        self._planner = planner or default_planner
        self.clock = clock
        self._sleep = sleep
        region = s3.meta.region_name if s3 is not None else iam.meta.region_name
        self._partition = partition_for_region(region or "us-east-1")

    # ------------------------------------------------------------------ building blocks

    @property
    def kms(self) -> KMSClient | None:
        """The KMS client, made on first need when a factory was given."""
        if self._kms is None and self._kms_factory is not None:
            with self._kms_lock:
                if self._kms is None:
                    self._kms = self._kms_factory()
        return self._kms

    def resolve_alias(self, alias: str) -> str:
        """Key ARN a KMS alias (name or ARN) points to.

        Raises
        ------
        LookupError
            KMS does not know the alias (reported as a spec error at its field path).
        """
        kms = self.kms
        if kms is None:
            raise LookupError("no KMS client to resolve aliases with")
        from botocore.exceptions import ClientError

        try:
            arn: str = kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
        except ClientError as exc:
            if error_code(exc) in ("NotFoundException", "InvalidArnException"):
                raise LookupError(f"KMS has no key for {alias}") from exc
            raise
        return arn

    def plan_document(self, data: bytes, *, cluster: str | None = None) -> ClusterPlan:
        """Parse, validate and compute the plan of a spec; check it names ``cluster``.

        Raises
        ------
        Rejected
            The spec is invalid (every error with its field path), or names another cluster.
        """
        has_kms = self._kms is not None or self._kms_factory is not None
        resolver = self.resolve_alias if has_kms else None
        try:
            plan = self._planner(data, self.settings.options, resolver)
        except SpecInvalid as exc:
            raise Rejected(
                "invalid-spec",
                f"the spec has {len(exc.errors)} error(s)",
                exc.errors,
                exc.warnings,
            ) from exc
        if cluster is not None and plan.cluster != cluster:
            raise Rejected(
                "cluster-mismatch",
                f"metadata.name {plan.cluster!r} differs from the cluster of the key ({cluster!r})",
                [
                    Issue(
                        "metadata.name",
                        f"must be {cluster!r}, the cluster segment of the object key "
                        f"(the key prefix is the authorization boundary), not {plan.cluster!r}",
                    )
                ],
            )
        return plan

    def changes_for(self, cluster: str, plan: ClusterPlan | None) -> ClusterChanges:
        """Read the cluster's roles from IAM and compute what must change (no write)."""
        observed = observe_cluster(self.iam, cluster, plan)
        return diff_cluster(
            cluster,
            plan,
            observed,
            adopt=self.settings.adopt_existing_roles,
            retain=self.settings.retain_on_delete,
            path=self.settings.role_path,
        )

    def _settle(self, attempt: int) -> None:
        """Pause before re-reading IAM after a concurrent change (IAM is eventually
        consistent: a role just created elsewhere may not be readable yet)."""
        self._sleep(min(0.25 * 2 ** (attempt - 1), 2.0))

    def apply(self, changes: ClusterChanges) -> tuple[Write, ...]:
        """Perform the writes of ``changes`` (see :func:`kops_iam.reconcile.execute`)."""
        return execute(self.iam, changes.writes)

    # ------------------------------------------------------------------ CLI: a spec file

    def reconcile_document(self, data: bytes, *, dry_run: bool) -> DocumentResult:
        """Diff a spec file against live IAM and (unless ``dry_run``) apply it.

        Raises
        ------
        Rejected
            Invalid spec, or a role the spec needs belongs to someone else.
        kops_iam.reconcile.WriteFailed
            An IAM write failed for good.
        NotConverged
            IAM kept changing under every pass.
        """
        plan = self.plan_document(data)
        written: list[Write] = []
        for attempt in range(1, self.settings.max_passes + 1):
            changes = self.changes_for(plan.cluster, plan)
            _raise_conflicts(changes)
            if dry_run:
                return DocumentResult(plan, changes, (), attempt)
            try:
                written.extend(self.apply(changes))
            except ConcurrentChange as exc:
                written.extend(exc.completed)
                self._settle(attempt)
                continue
            return DocumentResult(plan, changes, tuple(written), attempt)
        raise NotConverged(f"IAM kept changing during {self.settings.max_passes} passes")

    # ------------------------------------------------------------------ S3: one key

    def reconcile_key(
        self,
        key: str,
        *,
        trigger: Trigger = "manual",
        request_id: str | None = None,
        skip_missing: bool = False,
    ) -> Outcome:
        """Make IAM match the current object at ``key`` (level-triggered), audit the outcome.

        Each pass HEADs the object, reads exactly that version, applies it (or, when the
        object is gone, deletes the cluster's owned roles), then HEADs again. If the
        object changed meanwhile the pass is repeated, so the last pass of every invocation
        verified that it applied the newest version after its last write.

        Never raises for an AWS or spec problem: a failure is an ``Apply Failed`` event and
        an :class:`Outcome` with ``error`` set, which the caller turns into a failed
        invocation.
        """
        if self.source is None:
            raise RuntimeError("reconcile_key needs an S3 client")
        request_id = request_id or str(uuid.uuid4())
        cluster = cluster_from_key(key)
        if cluster is None:
            log.warning("not a spec key, ignored", extra={"key": key})
            return Outcome(key=key, cluster=None, detail_type=None)
        context = _Context(self, key, cluster, trigger, request_id)
        earlier: list[_Pass] = []
        current: _Pass | None = None
        try:
            for _ in range(self.settings.max_passes):
                context.passes += 1
                before = self.source.head(key)
                if before is None and skip_missing:
                    return Outcome(key=key, cluster=cluster, detail_type=None)
                try:
                    current = self._one_pass(cluster, before)
                except ObjectChanged:
                    continue
                except ConcurrentChange as exc:
                    log.info(
                        "IAM changed under the pass, reading again: %s", exc, extra=context.log
                    )
                    if exc.completed:
                        earlier.append(_Pass(before, None, exc.completed))
                    self._settle(context.passes)
                    continue
                after = self.source.head(key)
                if same_state(before, after):
                    return context.finish(current, earlier)
                log.info("spec changed while applying, going round again", extra=context.log)
                if current.written:
                    earlier.append(current)
            raise NotConverged(
                f"{key} kept changing during {self.settings.max_passes} read-apply-verify passes"
            )
        except Exception as exc:  # noqa: BLE001 - reported as Apply Failed, then re-raised by the caller
            return context.failed(exc, earlier, current)

    def _one_pass(self, cluster: str, version: ObjectVersion | None) -> _Pass:
        assert self.source is not None
        plan: ClusterPlan | None = None
        try:
            if version is not None:
                data = self.source.read(version)
                plan = self.plan_document(data, cluster=cluster)
            changes = self.changes_for(cluster, plan)
            _raise_conflicts(changes)
        except ObjectTooLarge as exc:
            return _Pass(version, rejected=Rejected("too-large", str(exc), [Issue("", str(exc))]))
        except Rejected as exc:
            return _Pass(version, rejected=exc)
        warnings = plan.warnings if plan is not None else ()
        if self.settings.dry_run or not changes.changed:
            return _Pass(version, changes, (), warnings=warnings)
        written = self.apply(changes)
        return _Pass(version, changes, written, warnings=warnings)

    # ------------------------------------------------------------------ S3: the whole bucket

    def reconcile_bucket(
        self,
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
        if self.source is None:
            raise RuntimeError("reconcile_bucket needs an S3 client")
        request_id = request_id or str(uuid.uuid4())
        try:
            keys = sorted(self.source.spec_keys())
        except Exception as exc:
            # Without the list no cluster can be checked: say so on the audit trail, then
            # fail the invocation so Lambda retries it.
            _Context(self, SCAN_KEY, SCAN_CLUSTER, "schedule", request_id).failed(exc, (), None)
            raise
        if keys:
            start = rotation % len(keys)
            keys = keys[start:] + keys[:start]

        def work(key: str) -> Outcome | None:
            if deadline is not None and self.clock() >= deadline:
                return None
            return self.reconcile_key(
                key, trigger="schedule", request_id=request_id, skip_missing=True
            )

        outcomes: list[Outcome] = []
        skipped: list[str] = []
        missing: list[str] = []
        with ThreadPoolExecutor(max_workers=self.settings.scan_workers) as pool:
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

    # ------------------------------------------------------------------ audit

    def publish(
        self, detail_type: str, detail: Mapping[str, Any], resources: Sequence[str]
    ) -> bool | None:
        """Publish one audit event (``None`` when there is no bus client)."""
        if self.publisher is None:
            return None
        return self.publisher.publish(make_event(detail_type, detail, resources))

    def object_arn(self, key: str) -> str:
        """ARN of a spec object (the ``resources`` of its audit events)."""
        return f"arn:{self._partition}:s3:::{self.settings.bucket}/{key}"


#: ``cluster``/``key`` of the ``Apply Failed`` event of a scheduled run that could not list
#: the bucket (it concerns every cluster).
SCAN_CLUSTER: Final = "*"
SCAN_KEY: Final = "*/config"


def _raise_conflicts(changes: ClusterChanges) -> None:
    if changes.conflicts:
        raise Rejected(
            "foreign-role",
            "; ".join(c.reason for c in changes.conflicts),
            [Issue(f"roles.{c.kind}", c.reason) for c in changes.conflicts],
        )


class _Context:
    """Builds the audit detail and outcome of one ``reconcile_key`` call."""

    def __init__(
        self, reconciler: Reconciler, key: str, cluster: str, trigger: Trigger, request_id: str
    ) -> None:
        self.r = reconciler
        self.key = key
        self.cluster = cluster
        self.trigger = trigger
        self.request_id = request_id
        self.log = {"cluster": cluster, "key": key}
        self.passes = 0

    def base(self, detail_type: str, version: ObjectVersion | None, passes: int) -> JSONDict:
        settings = self.r.settings
        described = version.describe() if version is not None else {"versionId": None, "etag": None}
        return {
            "schemaVersion": SCHEMA_VERSION,
            "detailType": detail_type,
            "cluster": self.cluster,
            "bucket": settings.bucket,
            "key": self.key,
            **described,
            "requestId": self.request_id,
            "mode": settings.mode,
            "trigger": self.trigger,
            "objectState": (
                "present"
                if version is not None
                else "unknown"
                if self.cluster == SCAN_CLUSTER
                else "absent"
            ),
            "passes": passes,
        }

    def finish(self, current: _Pass, earlier: Sequence[_Pass]) -> Outcome:
        settings = self.r.settings
        passes = self.passes
        version = current.version
        if current.rejected is not None:
            rejected = current.rejected
            detail_type = DetailType.SPEC_REJECTED
            detail = self.base(detail_type, version, passes) | {
                "reason": rejected.reason,
                "message": rejected.message,
                "errors": [{"path": i.path, "message": i.message} for i in rejected.errors],
                "warnings": [str(w) for w in rejected.warnings],
            }
            if earlier:  # the object changed from a version that was applied
                detail["earlierPasses"] = [_earlier(p) for p in earlier]
            log.warning("spec rejected: %s", rejected.message, extra=self.log)
            return self._outcome(detail_type, detail, current, earlier, publish=True)
        changes = current.changes
        assert changes is not None
        wrote = bool(current.written) or any(p.written for p in earlier)
        if settings.dry_run:
            detail_type = DetailType.SPEC_PLANNED
        elif version is None:
            retained = any(c.action == "retain" for c in changes.roles)
            detail_type = (
                DetailType.CLUSTER_DELETED if wrote or retained else DetailType.SPEC_UNCHANGED
            )
        elif wrote:
            detail_type = (
                DetailType.DRIFT_CORRECTED
                if self.trigger == "schedule"
                else DetailType.SPEC_APPLIED
            )
        else:
            detail_type = DetailType.SPEC_UNCHANGED
        detail = self.base(detail_type, version, passes) | {
            "summary": _summary(changes, current.written, earlier),
            "changes": changes.summaries(),
            "warnings": list(current.warnings),
        }
        if detail_type == DetailType.CLUSTER_DELETED:
            detail["retained"] = settings.retain_on_delete
        if earlier:
            detail["earlierPasses"] = [_earlier(p) for p in earlier]
        quiet = detail_type == DetailType.SPEC_UNCHANGED or (
            detail_type == DetailType.SPEC_PLANNED and not changes.changed
        )
        publish = not (
            quiet and self.trigger == "schedule" and not settings.audit_unchanged_on_schedule
        )
        log.info(
            "%s: %d write(s)",
            detail_type,
            len(current.written),
            extra={**self.log, "passes": passes},
        )
        return self._outcome(detail_type, detail, current, earlier, publish=publish)

    def failed(
        self, exc: BaseException, earlier: Sequence[_Pass], current: _Pass | None
    ) -> Outcome:
        completed: list[Write] = [w for p in earlier for w in p.written]
        failed_write: Write | None = None
        if isinstance(exc, WriteFailed):
            completed.extend(exc.completed)
            failed_write = exc.write
        elif current is not None and current.written and all(current is not p for p in earlier):
            completed.extend(current.written)
        version = current.version if current is not None else None
        detail_type = DetailType.APPLY_FAILED
        cause = exc.cause if isinstance(exc, WriteFailed) else exc
        detail = self.base(detail_type, version, max(self.passes, 1)) | {
            "error": {
                "type": type(cause).__name__,
                "code": error_code(cause) or None,
                "message": str(exc)[:4096],
                "operation": failed_write.describe() if failed_write else _operation(cause),
            },
            "partial": bool(completed),
            "completedWrites": [w.describe() for w in completed],
            "retried": True,
        }
        log.error("reconcile failed: %s", exc, extra=self.log, exc_info=exc)
        published = self.r.publish(detail_type, detail, [self.r.object_arn(self.key)])
        return Outcome(
            key=self.key,
            cluster=self.cluster,
            detail_type=detail_type,
            detail=detail,
            writes=len(completed),
            published=published,
            error=exc,
        )

    def _outcome(
        self,
        detail_type: str,
        detail: JSONDict,
        current: _Pass,
        earlier: Sequence[_Pass],
        *,
        publish: bool,
    ) -> Outcome:
        writes = len(current.written) + sum(len(p.written) for p in earlier)
        published = (
            self.r.publish(detail_type, detail, [self.r.object_arn(self.key)]) if publish else None
        )
        return Outcome(
            key=self.key,
            cluster=self.cluster,
            detail_type=detail_type,
            detail=detail,
            writes=writes,
            published=published,
        )


def _summary(
    changes: ClusterChanges, written: Sequence[Write], earlier: Sequence[_Pass]
) -> JSONDict:
    actions = [c.action for c in changes.roles]
    return {
        "rolesCreated": actions.count("create"),
        "rolesUpdated": actions.count("update"),
        "rolesDeleted": actions.count("delete"),
        "rolesUnchanged": actions.count("unchanged"),
        "rolesRetained": actions.count("retain"),
        "rolesSkipped": actions.count("skip"),
        "writes": len(written) + sum(len(p.written) for p in earlier),
        "plannedWrites": len(changes.writes),
    }


def _earlier(p: _Pass) -> JSONDict:
    described = p.version.describe() if p.version is not None else {"versionId": None, "etag": None}
    return {
        **described,
        "writes": [w.describe() for w in p.written],
        "changes": p.changes.summaries() if p.changes is not None else [],
    }


def _operation(exc: BaseException) -> str | None:
    name = getattr(exc, "operation_name", None)
    return str(name) if name else None
