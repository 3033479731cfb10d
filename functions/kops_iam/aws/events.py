"""The events that invoke the reconciler, parsed into what to reconcile.

Accepted shapes (validated with Powertools Parser / pydantic models, built on first use so
importing this module stays cheap):

* S3 event notifications, ``Records[]`` with ``ObjectCreated:*`` / ``ObjectRemoved:*``;
* the same notifications wrapped in SQS messages (``Records[].body``), as a queue or the
  local emulator delivers them;
* S3 events delivered by EventBridge (``Object Created`` / ``Object Deleted``);
* EventBridge scheduled events (``Scheduled Event``): put one drift check per cluster on
  the drift queue;
* drift checks (:func:`drift_message` bodies) as the drift queue's event source delivers
  them: check those clusters for drift;
* what the failure queue holds, so that it can be redriven (docs/adr/0072): the records
  Lambda's on-failure destination writes (the original event is their ``requestPayload``)
  and the events an EventBridge target's dead-letter queue keeps (the event itself), each
  sent as it is or inside an SQS message.

Object keys are URL-decoded (``unquote_plus``) as S3 notifications encode them. Whatever an
event says happened to the object, the reconciler reads the object's current state: the
event only says *which* key to look at.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import unquote_plus

from kops_iam.domain.state_store import INSTANCE_GROUP_DIRECTORY, SPEC_KEY_SUFFIX

#: S3 events (via EventBridge) that trigger a reconcile.
S3_EVENT_SOURCE: Final = "aws.s3"
S3_OBJECT_CREATED: Final = "Object Created"
S3_OBJECT_DELETED: Final = "Object Deleted"


#: The keys whose events reach the function: ``*/config`` and ``*/instancegroup/*``
#: (EventBridge wildcards; S3 notification filters cannot express the second, docs/adr/0093).
SPEC_KEY_FILTERS: Final = (
    {"suffix": SPEC_KEY_SUFFIX},
    {"wildcard": f"*/{INSTANCE_GROUP_DIRECTORY}/*"},
)


def s3_spec_event_pattern(bucket: str) -> dict[str, object]:
    """EventBridge pattern for S3 object created/deleted events on the keys of ``bucket``
    the function reads (a cluster's ``config`` and its InstanceGroups)."""
    return {
        "source": [S3_EVENT_SOURCE],
        "detail-type": [S3_OBJECT_CREATED, S3_OBJECT_DELETED],
        "detail": {
            "bucket": {"name": [bucket]},
            "object": {"key": [dict(f) for f in SPEC_KEY_FILTERS]},
        },
    }


ObjectTrigger = Literal["s3", "eventbridge"]


@dataclass(frozen=True)
class ObjectEvent:
    """An object of the specs bucket was created or deleted."""

    bucket: str
    key: str
    trigger: ObjectTrigger
    event_name: str
    version_id: str | None = None


@dataclass(frozen=True)
class ScheduledRun:
    """A scheduled event: put one drift check per cluster on the drift queue."""

    time: datetime | None
    #: The schedule event's id (names the drift run in its messages).
    event_id: str | None = None


#: ``kind`` of a drift check message (:func:`drift_message`).
DRIFT_CHECK: Final = "kops-iam/drift-check"
DRIFT_MESSAGE_VERSION: Final = 1


def drift_message(key: str, run_id: str, run_started: float) -> dict[str, object]:
    """The body of one drift check: which spec key, and which run put it there (its id and
    start, seconds since the epoch: a worker reads IAM as of after that start)."""
    return {
        "kind": DRIFT_CHECK,
        "v": DRIFT_MESSAGE_VERSION,
        "key": key,
        "run": run_id,
        "runStarted": round(run_started, 3),
    }


@dataclass(frozen=True)
class DriftCheck:
    """One cluster to check for drift, as the drift queue delivered it."""

    message_id: str
    key: str
    run_id: str
    run_started: float
    #: Deliveries of this message so far (1 on the first).
    receive_count: int = 1
    receipt_handle: str | None = None


@dataclass(frozen=True)
class ParsedEvent:
    """What an invocation must do: objects to reconcile, a drift run to start, drift checks
    to make, and what was ignored.

    ``redriven`` describes each failure record the event came wrapped in (empty for an
    event as its source sent it).
    """

    objects: tuple[ObjectEvent, ...] = ()
    scheduled: ScheduledRun | None = None
    checks: tuple[DriftCheck, ...] = ()
    ignored: tuple[str, ...] = ()
    redriven: tuple[str, ...] = ()


def _merge(parts: list[ParsedEvent]) -> ParsedEvent:
    scheduled = next((p.scheduled for p in parts if p.scheduled is not None), None)
    return ParsedEvent(
        objects=tuple(o for p in parts for o in p.objects),
        scheduled=scheduled,
        checks=tuple(c for p in parts for c in p.checks),
        ignored=tuple(i for p in parts for i in p.ignored),
        redriven=tuple(r for p in parts for r in p.redriven),
    )


#: Keys of the invocation record Lambda writes to an on-failure (or on-success) destination.
_INVOCATION_RECORD_KEYS: Final = frozenset({"requestContext", "requestPayload"})
#: A redriven record that failed again is wrapped once more: unwrap this many at most.
MAX_RECORD_DEPTH: Final = 8


class UnsupportedEvent(ValueError):
    """The event is none of the accepted shapes (or fails their validation)."""


def parse_event(event: Any, *, depth: int = 0, drift_queue: str | None = None) -> ParsedEvent:
    """Turn a Lambda event into a :class:`ParsedEvent`.

    ``drift_queue`` is the drift queue's URL: a message from that queue is a drift check
    or nothing. Anyone allowed to send to the queue could otherwise start a drift run or
    stand in for an S3 event, and a body that fails would fail the whole batch with it
    (docs/adr/0115).

    Raises
    ------
    UnsupportedEvent
        Not an S3 notification, an S3 event from EventBridge, a scheduled event, nor a
        failure record or SQS message wrapping one of them.
    """
    if depth > MAX_RECORD_DEPTH:
        raise UnsupportedEvent(f"wrapped in more than {MAX_RECORD_DEPTH} failure records")
    if not isinstance(event, Mapping):
        raise UnsupportedEvent(f"expected a JSON object, got {type(event).__name__}")
    if "Records" in event:
        return _records(event, depth, drift_queue)
    if "detail-type" in event:
        return _eventbridge(event)
    if event.keys() >= _INVOCATION_RECORD_KEYS:
        return _invocation_record(event, depth)
    if event.get("Event") == "s3:TestEvent":
        return ParsedEvent(ignored=("s3:TestEvent",))
    raise UnsupportedEvent(
        "neither S3 Records, an EventBridge event nor a Lambda on-failure record"
    )


def original_event(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event a failure record is about (its innermost ``requestPayload``); any other
    event (an EventBridge dead letter is the event itself) is returned as it is.

    ``kops-iam redrive`` sends this, so a redriven event that fails again is recorded
    around the original, not around the previous record.

    Raises
    ------
    UnsupportedEvent
        The records are nested deeper than :data:`MAX_RECORD_DEPTH`.
    """
    for _ in range(MAX_RECORD_DEPTH + 1):
        payload = event.get("requestPayload")
        if not (event.keys() >= _INVOCATION_RECORD_KEYS and isinstance(payload, Mapping)):
            return event
        event = payload
    raise UnsupportedEvent(f"wrapped in more than {MAX_RECORD_DEPTH} failure records")


def _invocation_record(event: Mapping[str, Any], depth: int) -> ParsedEvent:
    """A Lambda destination record: the event it is about is its ``requestPayload``.

    Any ``condition`` is accepted (``RetriesExhausted``, the one for events too old, ...):
    the reconcile is level-triggered, so handling the original event again is always safe.
    """
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        raise UnsupportedEvent("on-failure record without a requestContext object")
    condition = str(context.get("condition", "unknown"))
    attempts = context.get("approximateInvokeCount", "?")
    inner = parse_event(event.get("requestPayload"), depth=depth + 1)
    note = f"on-failure record: {condition} after {attempts} attempt(s)"
    return ParsedEvent(
        objects=inner.objects,
        scheduled=inner.scheduled,
        ignored=inner.ignored,
        redriven=(note, *inner.redriven),
    )


def queue_identity(url_or_arn: str) -> tuple[str, str] | None:
    """``(account, name)`` of an SQS queue from its URL or its ARN; ``None`` for neither.

    ``https://sqs.<region>.amazonaws.com/<account>/<name>`` and
    ``arn:<partition>:sqs:<region>:<account>:<name>`` name the same queue.
    """
    if url_or_arn.startswith("arn:"):
        parts = url_or_arn.split(":")
        if len(parts) == 6 and parts[2] == "sqs" and parts[4] and parts[5]:
            return parts[4], parts[5]
        return None
    path = url_or_arn.split("://", 1)[-1].split("/")
    if len(path) == 3 and path[1] and path[2]:
        return path[1], path[2]
    return None


def _records(event: Mapping[str, Any], depth: int, drift_queue: str | None = None) -> ParsedEvent:
    from aws_lambda_powertools.utilities.parser import parse
    from pydantic import ValidationError

    models = _models()
    try:
        parsed = parse(event=dict(event), model=models.Records)
    except ValidationError as exc:
        raise UnsupportedEvent(f"not an S3 notification: {exc}") from exc
    parts: list[ParsedEvent] = []  # one per record, in order
    drift_identity = queue_identity(drift_queue) if drift_queue else None
    for record in parsed.Records:
        if record.eventSource == "aws:sqs" and record.body is not None:
            # A queue's message: an S3 notification, or what the failure queue holds (a
            # Lambda on-failure record, an EventBridge dead letter, scheduled runs included).
            try:
                body = json.loads(record.body)
                if isinstance(body, Mapping) and body.get("kind") == DRIFT_CHECK:
                    parts.append(ParsedEvent(checks=(_drift_check(record, body),)))
                    continue
                if drift_identity is not None and drift_identity == queue_identity(
                    record.eventSourceARN or ""
                ):
                    raise ValueError("the drift queue carries drift checks only")
                parts.append(parse_event(body, depth=depth + 1))
            except (ValueError, UnsupportedEvent) as exc:
                parts.append(ParsedEvent(ignored=(f"SQS message {record.messageId}: {exc}",)))
            continue
        if record.s3 is None or record.eventName is None:
            parts.append(ParsedEvent(ignored=(f"record from {record.eventSource}",)))
            continue
        name = record.eventName
        if not name.startswith(("ObjectCreated:", "ObjectRemoved:")):
            parts.append(ParsedEvent(ignored=(name,)))
            continue
        s3 = record.s3
        obj = ObjectEvent(
            bucket=s3.bucket.name,
            key=unquote_plus(s3.object.key),
            trigger="s3",
            event_name=name,
            version_id=s3.object.versionId,
        )
        parts.append(ParsedEvent(objects=(obj,)))
    return _merge(parts)


def _drift_check(record: Any, body: Mapping[str, Any]) -> DriftCheck:
    """A drift check from its SQS record; a malformed one is a ``ValueError`` (ignored:
    retrying cannot mend it)."""
    key, run_id, started = body.get("key"), body.get("run"), body.get("runStarted")
    if not isinstance(key, str) or not key or not isinstance(run_id, str):
        raise ValueError("a drift check names a key and a run")
    if not isinstance(started, int | float) or isinstance(started, bool):
        raise ValueError("a drift check carries its run's start")
    if not record.messageId:
        raise ValueError("a drift check needs its message id")
    attributes = record.attributes or {}
    try:
        receives = int(attributes.get("ApproximateReceiveCount", "1"))
    except ValueError:
        receives = 1
    return DriftCheck(
        message_id=record.messageId,
        key=key,
        run_id=run_id,
        run_started=float(started),
        receive_count=max(receives, 1),
        receipt_handle=record.receiptHandle,
    )


def _eventbridge(event: Mapping[str, Any]) -> ParsedEvent:
    from aws_lambda_powertools.utilities.parser import parse
    from pydantic import ValidationError

    models = _models()
    detail_type = event.get("detail-type")
    source = event.get("source")
    try:
        if source == S3_EVENT_SOURCE and detail_type in (S3_OBJECT_CREATED, S3_OBJECT_DELETED):
            s3_event = parse(event=dict(event), model=models.S3EventBridge)
            obj = s3_event.detail.object
            return ParsedEvent(
                objects=(
                    ObjectEvent(
                        bucket=s3_event.detail.bucket.name,
                        key=unquote_plus(obj.key),
                        trigger="eventbridge",
                        event_name=s3_event.detail_type,
                        version_id=obj.version_id,
                    ),
                )
            )
        if detail_type == "Scheduled Event":
            scheduled = parse(event=dict(event), model=models.Scheduled)
            return ParsedEvent(scheduled=ScheduledRun(time=scheduled.time, event_id=scheduled.id))
    except ValidationError as exc:
        raise UnsupportedEvent(f"malformed {detail_type!r} event: {exc}") from exc
    if source == S3_EVENT_SOURCE:
        return ParsedEvent(ignored=(f"{source} {detail_type}",))
    raise UnsupportedEvent(f"unsupported EventBridge event {source!r} / {detail_type!r}")


@functools.cache
def _models() -> Any:
    """Define the pydantic models once, on first use (pydantic is heavy to import).

    Each is built (its validator made) when it first validates (``defer_build``): an S3
    event from EventBridge never pays for the ``Records`` models, nor a batch of drift
    checks for the EventBridge ones (docs/adr/0118).
    """
    from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
    from pydantic import BaseModel, ConfigDict, Field

    class _Lenient(BaseModel):
        model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    class S3Bucket(_Lenient):
        name: str = Field(min_length=1)

    class S3Object(_Lenient):
        key: str = Field(min_length=1)
        versionId: str | None = None
        eTag: str | None = None
        sequencer: str | None = None

    class S3Entity(_Lenient):
        bucket: S3Bucket
        object: S3Object

    class Record(_Lenient):
        eventSource: str = ""
        eventName: str | None = None
        s3: S3Entity | None = None
        body: str | None = None
        messageId: str | None = None
        receiptHandle: str | None = None
        attributes: dict[str, str] | None = None
        eventSourceARN: str | None = None

    class Records(_Lenient):
        Records: list[Record]

    class EBObject(_Lenient):
        key: str = Field(min_length=1)
        version_id: str | None = Field(default=None, alias="version-id")
        etag: str | None = None

    class EBDetail(_Lenient):
        bucket: S3Bucket
        object: EBObject

    class S3EventBridge(EventBridgeModel):
        model_config = ConfigDict(defer_build=True)
        detail: EBDetail

    class Scheduled(EventBridgeModel):
        model_config = ConfigDict(defer_build=True)
        detail: dict[str, Any] = Field(default_factory=dict)

    class Models:
        pass

    for model in (Records, S3EventBridge, Scheduled):
        setattr(Models, model.__name__, model)
    return Models
