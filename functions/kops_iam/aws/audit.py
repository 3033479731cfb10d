"""Audit events: one EventBridge event per reconcile outcome, always under the size limit.

Building an event is pure (:func:`fit_detail` shrinks a detail until the entry fits);
publishing is :class:`AuditPublisher`, which retries an entry EventBridge did not take and,
when it still cannot, logs the whole event and reports failure. It never raises: a lost
audit event must not hide or undo an IAM change that already happened.

The detail of every event (JSON Schemas in ``schemas/``)::

    schemaVersion, detailType, cluster, bucket, key, versionId, etag, requestId, mode,
    trigger, objectState, summary{...}, changes[...], warnings[...], truncated
    + Spec Rejected: reason, message, errors[{path, message}]
    + Apply Failed:  error{type, code, message, operation}, partial, completedWrites[...]
    + Cluster Deleted: retained
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_events import EventBridgeClient

log = logging.getLogger("kops-iam.audit")

#: ``source`` of every audit event kops-iam puts on the bus.
AUDIT_SOURCE: Final = "kops-iam"


class DetailType:
    """``detail-type`` of each audit event (one per outcome)."""

    SPEC_APPLIED: Final = "Spec Applied"
    SPEC_UNCHANGED: Final = "Spec Unchanged"
    SPEC_PLANNED: Final = "Spec Planned"
    SPEC_REJECTED: Final = "Spec Rejected"
    CLUSTER_DELETED: Final = "Cluster Deleted"
    DRIFT_CORRECTED: Final = "Drift Corrected"
    APPLY_FAILED: Final = "Apply Failed"

    ALL: Final = (
        SPEC_APPLIED,
        SPEC_UNCHANGED,
        SPEC_PLANNED,
        SPEC_REJECTED,
        CLUSTER_DELETED,
        DRIFT_CORRECTED,
        APPLY_FAILED,
    )


def audit_event_pattern() -> dict[str, list[str]]:
    """EventBridge pattern matching every kops-iam audit event."""
    return {"source": [AUDIT_SOURCE]}


#: EventBridge's limit on one PutEvents entry (Source, DetailType, Detail, Resources, Time).
MAX_ENTRY_BYTES: Final = 256 * 1024
#: Bytes ``Time`` counts for in the entry size, per EventBridge's size calculation.
_TIME_BYTES: Final = 14
#: Version of the detail layout; bumped on an incompatible change.
SCHEMA_VERSION: Final = "1"
#: Marker standing in for the part of a list or document cut to fit the size limit.
TRUNCATION_MARKER: Final = "...truncated"

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class AuditEvent:
    """One audit event: detail type, detail and the resources it is about."""

    detail_type: str
    detail: Mapping[str, Any]
    resources: tuple[str, ...] = field(default_factory=tuple)

    def entry(self, bus_name: str) -> dict[str, Any]:
        """The ``PutEvents`` entry for ``bus_name``."""
        return {
            "Source": AUDIT_SOURCE,
            "DetailType": self.detail_type,
            "Detail": json.dumps(self.detail, separators=(",", ":"), default=str),
            "Resources": list(self.resources),
            "EventBusName": bus_name,
        }

    def size(self) -> int:
        """Size EventBridge counts for the entry."""
        return entry_size(self.detail_type, self.detail, self.resources)


def entry_size(detail_type: str, detail: Mapping[str, Any], resources: Sequence[str] = ()) -> int:
    """Bytes EventBridge counts for an entry (UTF-8, compact JSON detail)."""
    body = json.dumps(detail, separators=(",", ":"), default=str).encode("utf-8")
    return (
        _TIME_BYTES
        + len(AUDIT_SOURCE.encode())
        + len(detail_type.encode())
        + len(body)
        + sum(len(r.encode()) for r in resources)
    )


def make_event(
    detail_type: str,
    detail: Mapping[str, Any],
    resources: Sequence[str] = (),
    limit: int = MAX_ENTRY_BYTES,
) -> AuditEvent:
    """Build an event whose entry fits ``limit`` bytes (see :func:`fit_detail`)."""
    fitted = fit_detail(detail_type, detail, resources, limit)
    return AuditEvent(detail_type=detail_type, detail=fitted, resources=tuple(resources))


def fit_detail(
    detail_type: str,
    detail: Mapping[str, Any],
    resources: Sequence[str] = (),
    limit: int = MAX_ENTRY_BYTES,
) -> JSONDict:
    """Return ``detail`` shrunk until the entry fits ``limit`` bytes, marked ``truncated``.

    Steps, each tried only if still too large: drop the full statements of policy diffs and
    the before/after trust documents; cut every list to 50, then 10, then 3 items (a
    marker item says how many were cut); keep only each role's kind, name and action.
    Identity fields (cluster, key, version, request id, reason) always stay.
    """
    result: JSONDict = dict(detail)
    result.setdefault("truncated", False)
    if entry_size(detail_type, result, resources) <= limit:
        return result
    result = copy.deepcopy(result)
    result["truncated"] = True
    steps: list[Callable[[JSONDict], JSONDict]] = [
        _drop_documents,
        lambda d: _cut_lists(d, 50),
        lambda d: _cut_lists(d, 10),
        lambda d: _cut_lists(d, 3),
        _roles_only,
    ]
    for step in steps:
        result = step(result)
        if entry_size(detail_type, result, resources) <= limit:
            return result
    # Last resort: identity only (cannot exceed the limit for any real key and cluster).
    keep = (
        "schemaVersion",
        "detailType",
        "cluster",
        "bucket",
        "key",
        "versionId",
        "etag",
        "requestId",
        "mode",
        "trigger",
        "objectState",
        "summary",
        "reason",
        "retained",
        "partial",
    )
    minimal = {k: result[k] for k in keep if k in result}
    minimal["truncated"] = True
    for list_key in ("changes", "errors", "warnings", "completedWrites"):
        if list_key in result:
            minimal[list_key] = [TRUNCATION_MARKER]
    if "error" in result:
        minimal["error"] = {
            k: str(v)[:1024] for k, v in result["error"].items() if isinstance(v, str | type(None))
        }
    return minimal


def _drop_documents(detail: JSONDict) -> JSONDict:
    for change in detail.get("changes", []):
        if not isinstance(change, dict):
            continue
        for policy in change.get("inlinePolicies", {}).values():
            if isinstance(policy, dict) and "statements" in policy:
                policy["statements"] = TRUNCATION_MARKER
        trust = change.get("trustPolicy")
        if isinstance(trust, dict):
            change["trustPolicy"] = TRUNCATION_MARKER
    for earlier in detail.get("earlierPasses", []):
        if isinstance(earlier, dict):
            earlier["changes"] = TRUNCATION_MARKER
    return detail


def _cut_lists(value: Any, keep: int) -> Any:
    if isinstance(value, list):
        items = [_cut_lists(v, keep) for v in value[:keep]]
        if len(value) > keep:
            items.append(f"{TRUNCATION_MARKER} ({len(value) - keep} more)")
        return items
    if isinstance(value, dict):
        return {k: _cut_lists(v, keep) for k, v in value.items()}
    if isinstance(value, str) and len(value) > 2048:
        return value[:2048] + TRUNCATION_MARKER
    return value


def _roles_only(detail: JSONDict) -> JSONDict:
    changes = detail.get("changes")
    if isinstance(changes, list):
        detail["changes"] = [
            {k: c[k] for k in ("kind", "roleName", "action") if k in c} | {"truncated": True}
            if isinstance(c, dict)
            else c
            for c in changes
        ]
    detail.pop("earlierPasses", None)
    return detail


class AuditPublisher:
    """Puts audit events on one bus; retries, then logs what it could not deliver.

    Parameters
    ----------
    events
        boto3 EventBridge client (botocore retries throttling and 5xx on its own; this class
        also retries entries PutEvents answered with a per-entry failure).
    bus_name
        The audit bus.
    attempts
        PutEvents attempts per event.
    sleep
        Injected for tests; called with the back-off delay in seconds.
    """

    def __init__(
        self,
        events: EventBridgeClient,
        bus_name: str,
        attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        base_delay: float = 0.2,
    ) -> None:
        self._events = events
        self.bus_name = bus_name
        self.attempts = attempts
        self._sleep = sleep
        self._base_delay = base_delay

    def publish(self, event: AuditEvent) -> bool:
        """Put ``event`` on the bus. Return whether EventBridge took it; never raise."""
        entry = event.entry(self.bus_name)
        problem = ""
        for attempt in range(1, self.attempts + 1):
            try:
                response = self._events.put_events(Entries=[entry])  # type: ignore[list-item]
            except Exception as exc:  # noqa: BLE001 - an audit failure must never propagate
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if not response.get("FailedEntryCount"):
                    return True
                failed = response.get("Entries", [{}])[0]
                problem = f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
            log.warning(
                "audit event not delivered (attempt %d of %d): %s",
                attempt,
                self.attempts,
                problem,
                extra={"detail_type": event.detail_type},
            )
            if attempt < self.attempts:
                self._sleep(self._base_delay * 2 ** (attempt - 1))
        log.error(
            "audit event lost after %d attempts: %s",
            self.attempts,
            problem,
            extra={"audit_event": {"detail-type": event.detail_type, "detail": event.detail}},
        )
        return False
