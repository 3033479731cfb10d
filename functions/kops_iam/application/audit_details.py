"""The audit detail and the outcome of one reconcile: what a reconcile reports, and how.

:class:`AuditDetails` turns what the passes of one ``reconcile_key`` call did (its
:class:`PassResult` s, or the exception that stopped it) into the audit event's detail
(schemas in ``schemas/``), publishes it through the reconciler and returns the
:class:`Outcome` the handler reports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from kops_iam.aws.audit import SCHEMA_VERSION, DetailType
from kops_iam.aws.errors import error_code
from kops_iam.aws.iam_diff import ClusterChanges, Write
from kops_iam.aws.iam_write import WriteFailed
from kops_iam.aws.s3_source import ObjectVersion
from kops_iam.domain.errors import Issue
from kops_iam.domain.model import JSONDict

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kops_iam.application.reconciler import Reconciler

log = logging.getLogger("kops-iam.reconciler")

Trigger = Literal["s3", "eventbridge", "schedule", "cli", "manual"]


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
    #: A drift check put off without an audit event (throttled before any write): its
    #: message goes back to the drift queue and is checked again later.
    deferred: bool = False

    @property
    def failed(self) -> bool:
        """Whether the invocation must fail (so Lambda retries the event)."""
        return self.error is not None


@dataclass
class PassResult:
    """What one read-apply pass did."""

    version: ObjectVersion | None
    changes: ClusterChanges | None = None
    written: tuple[Write, ...] = ()
    rejected: Rejected | None = None
    warnings: tuple[str, ...] = ()


#: ``cluster``/``key`` of the ``Apply Failed`` event of a scheduled run that could not list
#: the bucket (it concerns every cluster).
SCAN_CLUSTER: Final = "*"
SCAN_KEY: Final = "*/config"


class AuditDetails:
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

    def finish(self, current: PassResult, earlier: Sequence[PassResult]) -> Outcome:
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
        self,
        exc: BaseException,
        earlier: Sequence[PassResult],
        current: PassResult | None,
        attempted: ObjectVersion | None = None,
        *,
        retried: bool = True,
    ) -> Outcome:
        """The ``Apply Failed`` event and outcome; ``attempted`` is the version being applied,
        ``retried`` whether the event (or drift check) will be tried again."""
        completed = completed_writes(exc, earlier, current)
        failed_write = exc.write if isinstance(exc, WriteFailed) else None
        version = attempted or (current.version if current is not None else None)
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
            "retried": retried,
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
        current: PassResult,
        earlier: Sequence[PassResult],
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


def completed_writes(
    exc: BaseException, earlier: Sequence[PassResult], current: PassResult | None
) -> list[Write]:
    """The writes a failed ``reconcile_key`` made before ``exc`` stopped it."""
    completed: list[Write] = [w for p in earlier for w in p.written]
    if isinstance(exc, WriteFailed):
        completed.extend(exc.completed)
    elif current is not None and current.written and all(current is not p for p in earlier):
        completed.extend(current.written)
    return completed


def _summary(
    changes: ClusterChanges, written: Sequence[Write], earlier: Sequence[PassResult]
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


def _earlier(p: PassResult) -> JSONDict:
    described = p.version.describe() if p.version is not None else {"versionId": None, "etag": None}
    return {
        **described,
        "writes": [w.describe() for w in p.written],
        "changes": p.changes.summaries() if p.changes is not None else [],
    }


def _operation(exc: BaseException) -> str | None:
    name = getattr(exc, "operation_name", None)
    return str(name) if name else None
