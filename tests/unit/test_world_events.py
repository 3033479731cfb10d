"""The world's event builders: shaped as AWS's samples in events/, read by the handler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kops_iam.aws.events import ObjectEvent, parse_event
from kops_iam_tools.world import events as builders
from kops_iam_tools.world.names import ACCOUNT, DRIFT_RULE

EVENTS = Path(__file__).resolve().parents[2] / "events"
KEY = "staging.k8s.example.com/config"


def sample(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / path).read_text())
    return data


def shape(value: Any) -> Any:
    """The keys of a JSON value, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def assert_within(built: Any, documented: Any, path: str = "") -> None:
    """Every field the builder writes is one AWS's documented sample has, same nesting."""
    if isinstance(built, dict):
        assert isinstance(documented, dict), path
        for key, value in built.items():
            assert key in documented, f"{path}.{key} is not in the sample"
            assert_within(value, documented[key], f"{path}.{key}")
    elif isinstance(built, list) and built:
        assert isinstance(documented, list) and documented, path
        assert_within(built[0], documented[0], f"{path}[0]")


def test_an_s3_notification_is_shaped_as_s3_sends_it_and_read_back() -> None:
    # Given a record for a key S3 would encode (a space and a plus)
    record = builders.s3_record("my cluster+x.example.com/config", version_id="v1", etag="e")
    event = builders.s3_notification(record)
    # Then the key is encoded as S3 encodes it and the handler decodes it
    assert record["s3"]["object"]["key"] == "my+cluster%2Bx.example.com/config"
    assert parse_event(event).objects == (
        ObjectEvent(
            bucket="kops-iam-specs",
            key="my cluster+x.example.com/config",
            trigger="s3",
            event_name="ObjectCreated:Put",
            version_id="v1",
        ),
    )
    # And every field it writes is one of AWS's documented record
    full = builders.s3_record(KEY, version_id="v", etag="e", size=1, sequencer="s")
    assert_within(full, sample("s3/object-created.json")["Records"][0])


def test_sqs_wrapped_notifications_are_unwrapped_by_the_handler() -> None:
    inner = builders.s3_notification(builders.s3_record(KEY))
    event = builders.sqs_event(inner, {"Event": "s3:TestEvent"}, "not json")
    parsed = parse_event(event)
    assert [o.key for o in parsed.objects] == [KEY]
    assert parsed.ignored[0] == "s3:TestEvent"
    assert all(r["eventSource"] == "aws:sqs" for r in event["Records"])


@pytest.mark.parametrize("deleted", [False, True])
def test_eventbridge_object_events_match_the_samples_and_parse(deleted: bool) -> None:
    event = builders.object_event(KEY, version_id="v2", deleted=deleted, etag="e", size=1)
    documented = sample(f"eventbridge/object-{'deleted' if deleted else 'created'}.json")
    assert_within(event, documented)
    [parsed] = parse_event(event).objects
    assert (parsed.key, parsed.trigger, parsed.version_id) == (KEY, "eventbridge", "v2")
    assert parsed.event_name == documented["detail-type"]


def test_the_scheduled_event_matches_the_sample_and_names_the_drift_rule() -> None:
    event = builders.scheduled_event()
    assert shape(event) == shape(sample("eventbridge/scheduled.json"))
    assert event["resources"] == [f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{DRIFT_RULE}"]
    assert parse_event(event).scheduled is not None


def test_an_on_failure_record_keeps_the_event_whose_attempts_all_failed() -> None:
    original = builders.object_event(KEY)
    record = builders.on_failure_record(original, error="ReconcileFailed", message="boom")
    assert record["requestPayload"] == original
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:kops-iam-reconciler:$LATEST")
    assert record["responsePayload"] == {"errorMessage": "boom", "errorType": "ReconcileFailed"}


def test_a_dead_letter_carries_the_event_and_eventbridge_s_attributes() -> None:
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
    original = builders.scheduled_event()
    letter = builders.dead_letter(original, error_code="NO_PERMISSIONS", retry_attempts=0)
    assert json.loads(letter["Body"]) == original
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert set(attributes) == {
        "RULE_ARN",
        "TARGET_ARN",
        "ERROR_CODE",
        "ERROR_MESSAGE",
        "EXHAUSTED_RETRY_CONDITION",
        "RETRY_ATTEMPTS",
    }
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS" and attributes["RETRY_ATTEMPTS"] == "0"
    assert attributes["RULE_ARN"].endswith(f":rule/{DRIFT_RULE}")


def test_queued_messages_reach_the_function_as_an_sqs_event_with_their_attributes() -> None:
    record = builders.on_failure_record(builders.scheduled_event(), condition="EventAgeExceeded")
    letter = builders.dead_letter(builders.scheduled_event())
    event = builders.sqs_event_of(builders.queue_message(record), letter)
    first, second = event["Records"]
    assert json.loads(first["body"])["requestContext"]["condition"] == "EventAgeExceeded"
    assert first["messageAttributes"] == {}
    assert second["messageAttributes"]["ERROR_CODE"] == {
        "stringValue": "ERROR_FROM_TARGET",
        "dataType": "String",
    }
    assert {r["eventSource"] for r in event["Records"]} == {"aws:sqs"}
