"""Parsing the events that invoke the handler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kops_iam.aws.events import (
    DRIFT_CHECK,
    MAX_RECORD_DEPTH,
    DriftCheck,
    ObjectEvent,
    UnsupportedEvent,
    drift_message,
    parse_event,
    queue_identity,
)
from kops_iam_tools.world.events import (
    dead_letter,
    on_failure_record,
    queue_message,
    sqs_event,
    sqs_event_of,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / path).read_text())
    return data


def test_s3_notifications_name_bucket_and_decoded_key() -> None:
    parsed = parse_event(sample("s3/object-created.json"))
    assert parsed.objects == (
        ObjectEvent(
            bucket="kops-iam-specs",
            key="staging.k8s.example.com/config",
            trigger="s3",
            event_name="ObjectCreated:Put",
            version_id="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        ),
    )
    removed = parse_event(sample("s3/object-removed.json"))
    assert removed.objects[0].event_name == "ObjectRemoved:Delete"


def test_keys_are_url_decoded_as_s3_encodes_them() -> None:
    event = sample("s3/object-created.json")
    event["Records"][0]["s3"]["object"]["key"] = "my+cluster%2Bx.example.com%2Fconfig"
    assert parse_event(event).objects[0].key == "my cluster+x.example.com/config"


def test_sqs_wrapped_notifications_are_unwrapped() -> None:
    inner = sample("s3/object-created.json")
    event = {
        "Records": [
            {"eventSource": "aws:sqs", "messageId": "1", "body": json.dumps(inner)},
            {
                "eventSource": "aws:sqs",
                "messageId": "2",
                "body": json.dumps({"Event": "s3:TestEvent"}),
            },
            {"eventSource": "aws:sqs", "messageId": "3", "body": "not json"},
        ]
    }
    parsed = parse_event(event)
    assert [o.key for o in parsed.objects] == ["staging.k8s.example.com/config"]
    assert parsed.ignored[0] == "s3:TestEvent"
    assert parsed.ignored[1].startswith("SQS message 3")


def test_eventbridge_s3_events_and_schedules() -> None:
    created = parse_event(sample("eventbridge/object-created.json"))
    assert created.objects[0].trigger == "eventbridge"
    assert created.objects[0].key == "staging.k8s.example.com/config"
    deleted = parse_event(sample("eventbridge/object-deleted.json"))
    assert deleted.objects[0].event_name == "Object Deleted"
    scheduled = parse_event(sample("eventbridge/scheduled.json"))
    assert scheduled.objects == () and scheduled.scheduled is not None
    assert scheduled.scheduled.event_id == sample("eventbridge/scheduled.json")["id"]


def test_drift_checks_from_the_drift_queue_carry_message_id_and_deliveries() -> None:
    body = drift_message("a.example.com/config", "run-1", 1_700_000_000.5)
    event = sqs_event(body, body | {"key": "b.example.com/config"}, queue="kops-iam-drift-checks")
    event["Records"][1]["attributes"]["ApproximateReceiveCount"] = "3"
    parsed = parse_event(event)
    assert parsed.objects == () and parsed.ignored == ()
    first, second = parsed.checks
    assert first == DriftCheck(
        message_id=event["Records"][0]["messageId"],
        key="a.example.com/config",
        run_id="run-1",
        run_started=1_700_000_000.5,
        receive_count=1,
        receipt_handle="handle-0",
    )
    assert (second.key, second.receive_count) == ("b.example.com/config", 3)


@pytest.mark.parametrize(
    "body",
    [
        {"kind": DRIFT_CHECK, "run": "r", "runStarted": 1.0},
        {"kind": DRIFT_CHECK, "key": "a/config", "runStarted": 1.0},
        {"kind": DRIFT_CHECK, "key": "a/config", "run": "r", "runStarted": "soon"},
        {"kind": DRIFT_CHECK, "key": "a/config", "run": "r", "runStarted": True},
    ],
)
def test_a_malformed_drift_check_is_ignored_not_retried(body: dict[str, Any]) -> None:
    parsed = parse_event(sqs_event(body))
    assert parsed.checks == ()
    assert parsed.ignored[0].startswith("SQS message")


def test_other_s3_records_and_eventbridge_s3_events_are_ignored() -> None:
    event = sample("s3/object-created.json")
    event["Records"][0]["eventName"] = "ObjectTagging:Put"
    assert parse_event(event).ignored == ("ObjectTagging:Put",)
    tags = sample("eventbridge/object-created.json") | {"detail-type": "Object Tags Added"}
    assert parse_event(tags).ignored == ("aws.s3 Object Tags Added",)


@pytest.mark.parametrize(
    "event",
    [
        [],
        {},
        {"Records": "nope"},
        {
            "Records": [
                {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {}}}
            ]
        },
        {"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2"},
        {"detail-type": "Object Created", "source": "aws.s3", "detail": {}},
    ],
)
def test_anything_else_is_unsupported(event: Any) -> None:
    with pytest.raises(UnsupportedEvent):
        parse_event(event)


# --- what the failure queue holds (docs/adr/0072) -------------------------------------------


def test_an_on_failure_record_is_handled_as_the_event_it_carries() -> None:
    # Given the record Lambda's on-failure destination keeps for a failed S3 notification
    original = sample("s3/object-created.json")
    record = on_failure_record(original)

    # When it is parsed (sent as the event, or inside an SQS message)
    direct = parse_event(record)
    queued = parse_event(sqs_event_of(queue_message(record)))

    # Then the work is the original event's, and where it came from is said
    assert direct.objects == queued.objects == parse_event(original).objects
    assert direct.redriven == ("on-failure record: RetriesExhausted after 3 attempt(s)",)


@pytest.mark.parametrize("condition", ["RetriesExhausted", "EventAgeExceeded", "AnyOther"])
def test_any_failure_condition_is_accepted(condition: str) -> None:
    # AWS documents RetriesExhausted; other conditions exist (events too old): all are fine,
    # the reconcile reads the current spec whatever the record says
    record = on_failure_record(sample("eventbridge/scheduled.json"), condition=condition)
    parsed = parse_event(record)
    assert parsed.scheduled is not None
    assert condition in parsed.redriven[0]


def test_a_redriven_record_that_failed_again_is_unwrapped_to_the_original() -> None:
    original = sample("eventbridge/object-created.json")
    twice = on_failure_record(on_failure_record(original), attempts=3)
    parsed = parse_event(twice)
    assert parsed.objects == parse_event(original).objects
    assert len(parsed.redriven) == 2


def test_record_nesting_is_bounded() -> None:
    event: dict[str, Any] = sample("eventbridge/scheduled.json")
    for _ in range(MAX_RECORD_DEPTH + 1):
        event = on_failure_record(event)
    with pytest.raises(UnsupportedEvent, match="more than"):
        parse_event(event)


def test_eventbridge_dead_letters_are_handled_from_their_body_or_an_sqs_event() -> None:
    # Given the drift schedule's event and an S3 event, each kept by a rule's dead-letter queue
    scheduled = sample("eventbridge/scheduled.json")
    created = sample("eventbridge/object-created.json")
    letters = [dead_letter(scheduled, error_code="NO_PERMISSIONS"), dead_letter(created)]

    # When they come back inside one SQS event
    parsed = parse_event(sqs_event_of(*letters))

    # Then both are work again: the full run and the object (a scheduled run was dropped
    # from SQS messages before)
    assert parsed.scheduled is not None
    assert parsed.objects == parse_event(created).objects


def test_an_on_failure_record_of_an_unsupported_event_is_unsupported() -> None:
    with pytest.raises(UnsupportedEvent):
        parse_event(on_failure_record({"detail-type": "Other", "source": "aws.ec2"}))
    with pytest.raises(UnsupportedEvent, match="requestContext"):
        parse_event({"requestContext": "x", "requestPayload": {}})


DRIFT_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/kops-iam-drift"
DRIFT_QUEUE = "kops-iam-drift"


@pytest.mark.parametrize(
    "body",
    [
        sample("eventbridge/scheduled.json"),
        sample("eventbridge/object-deleted.json"),
        sample("eventbridge/object-created.json"),
        sample("s3/object-removed.json"),
    ],
    ids=["scheduled", "object-deleted", "object-created", "s3-notification"],
)
def test_the_drift_queue_carries_drift_checks_only(body: dict[str, Any]) -> None:
    # Given a body that is no drift check, sent to the drift queue (anyone with
    # sqs:SendMessage on it could), next to a real drift check
    event = sqs_event(body, drift_message("a.example.com/config", "run", 1.0), queue=DRIFT_QUEUE)
    # When the function parses what the drift queue's event source hands it
    parsed = parse_event(event, drift_queue=DRIFT_QUEUE_URL)
    # Then the forged body starts nothing (no run, no reconcile), and the check is kept
    assert parsed.objects == () and parsed.scheduled is None
    assert [c.key for c in parsed.checks] == ["a.example.com/config"]
    [ignored] = parsed.ignored
    assert ignored.endswith("the drift queue carries drift checks only"), ignored
    # And the same body from another queue is the event it says it is
    other = parse_event(sqs_event(body, queue="kops-iam-spec-events"), drift_queue=DRIFT_QUEUE_URL)
    assert other.objects or other.scheduled is not None
    # And without a drift queue configured nothing is refused for it
    assert parse_event(sqs_event(body, queue=DRIFT_QUEUE)).ignored == ()


def test_a_queue_of_another_account_with_the_drift_queues_name_is_another_queue() -> None:
    body = sample("eventbridge/scheduled.json")
    event = sqs_event(body, queue=DRIFT_QUEUE, account="210987654321")
    assert parse_event(event, drift_queue=DRIFT_QUEUE_URL).scheduled is not None


@pytest.mark.parametrize(
    ("text", "identity"),
    [
        (DRIFT_QUEUE_URL, ("123456789012", "kops-iam-drift")),
        ("arn:aws:sqs:us-east-1:123456789012:kops-iam-drift", ("123456789012", "kops-iam-drift")),
        ("arn:aws-cn:sqs:cn-north-1:123456789012:q", ("123456789012", "q")),
        ("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", ("123456789012", "q")),
        ("http://localhost:5000/123456789012/q", ("123456789012", "q")),
        ("arn:aws:sns:us-east-1:123456789012:q", None),
        ("arn:aws:sqs:us-east-1:123456789012", None),
        ("arn:aws:sqs:us-east-1::q", None),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/", None),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/q/extra", None),
        ("", None),
    ],
)
def test_queue_identity_names_a_queue_by_account_and_name(
    text: str, identity: tuple[str, str] | None
) -> None:
    assert queue_identity(text) == identity
