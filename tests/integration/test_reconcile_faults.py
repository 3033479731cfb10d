"""Failure semantics: transient errors converge, persistent ones fail loudly, audit never lies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from spec_builders import allow, spec
from support.wire import Fault
from support.world import ROOT, World, scheduled_event

from kops_iam.application import handler
from kops_iam.aws.audit import DetailType

CLUSTER = "c1.k8s.example.com"
NODES = f"nodes.{CLUSTER}"


pytestmark = pytest.mark.usefixtures("no_backoff_sleep")


def test_throttled_iam_calls_converge_after_botocore_retries(world: World) -> None:
    # Given IAM throttling the first two PutRolePolicy calls
    fault = world.wire.fail("iam:PutRolePolicy", "throttle", attempts=2)
    world.upload(CLUSTER, spec(additional={"node": [allow("s3:GetObject")]}))

    # When the spec is handled
    [summary] = world.deliver()

    # Then the calls were retried and the result is complete and reported as applied
    assert fault.injected == 2
    assert summary["outcomes"][0]["detailType"] == DetailType.SPEC_APPLIED
    assert set(world.inline(NODES)) == {NODES, f"additional.{NODES}"}
    assert world.calls.count("iam:PutRolePolicy") == 3  # three API calls; retries inside
    [event] = world.audit()
    assert event["detail-type"] == DetailType.SPEC_APPLIED


def test_a_persistent_iam_failure_fails_the_invocation_and_reports_apply_failed(
    world: World,
) -> None:
    # Given IAM failing every attempt to put the additional node policy
    world.wire.faults = [Fault.persistent("iam:PutRolePolicy", status=500, code="ServiceFailure")]
    runtime = world.runtime()
    world.upload(CLUSTER, spec(additional={"node": [allow("s3:GetObject")]}))
    [notification] = world.notifications()

    # When the event is handled, the invocation fails (so Lambda retries it)
    with pytest.raises(handler.ReconcileFailed):
        world.handle(notification, runtime)

    # And an Apply Failed event says what failed and what was already written
    [event] = world.audit()
    assert event["detail-type"] == DetailType.APPLY_FAILED
    detail = event["detail"]
    assert detail["error"]["code"] == "ServiceFailure"
    assert detail["error"]["operation"].startswith("put_role_policy masters.")
    assert detail["partial"] is True
    assert detail["completedWrites"] == [f"create_role masters.{CLUSTER}"]

    # When the fault clears and Lambda retries the same event
    world.wire.faults.clear()
    [summary] = [world.handle(notification, runtime)]

    # Then IAM converges and the retry reports the changes it made
    assert summary["outcomes"][0]["detailType"] == DetailType.SPEC_APPLIED
    assert world.role_names() == {f"masters.{CLUSTER}", NODES}
    assert set(world.inline(NODES)) == {NODES, f"additional.{NODES}"}
    [event] = world.audit()
    assert event["detail-type"] == DetailType.SPEC_APPLIED


def test_a_failing_s3_read_fails_the_invocation_without_touching_iam(world: World) -> None:
    # Given S3 failing every HEAD
    world.wire.faults = [Fault.persistent("s3:HeadObject", status=503, code="SlowDown")]
    world.upload(CLUSTER, spec())
    [notification] = world.notifications()
    world.calls.clear()

    # When the event is handled
    with pytest.raises(handler.ReconcileFailed):
        world.handle(notification)

    # Then nothing was written (a missing object must never be mistaken for a deletion)
    assert world.calls.writes() == []
    [event] = world.audit()
    assert event["detail-type"] == DetailType.APPLY_FAILED
    assert event["detail"]["partial"] is False


def test_an_audit_publish_failure_never_undoes_or_hides_the_iam_change(world: World) -> None:
    # Given an audit bus that does not exist (every put fails)
    runtime = world.runtime(world.with_settings(bus_name="no-such-bus"))
    world.upload(CLUSTER, spec())

    # When the spec is handled
    [summary] = world.deliver(runtime)

    # Then IAM was changed, the invocation succeeded, and the loss is reported
    assert world.role_names() == {f"masters.{CLUSTER}", NODES}
    outcome = summary["outcomes"][0]
    assert outcome["detailType"] == DetailType.SPEC_APPLIED
    assert outcome["published"] is False
    assert world.calls.count("events:PutEvents") == runtime.settings.audit_attempts


def test_a_transient_audit_failure_is_retried_by_the_publisher(world: World) -> None:
    # Given an EventBridge client without botocore retries, failing once
    events = world.client("events", retries={"total_max_attempts": 1, "mode": "standard"})
    world.wire.fail("events:PutEvents", "server-error", status=500, code="InternalFailure")
    world.upload(CLUSTER, spec())
    world.calls.clear()

    # When the spec is handled
    [summary] = world.deliver(world.runtime(events=events))

    # Then the event was put on the second attempt and received once
    assert summary["outcomes"][0]["published"] is True
    assert world.calls.count("events:PutEvents") == 2  # not botocore: the publisher retried
    assert [e["detail-type"] for e in world.audit()] == [DetailType.SPEC_APPLIED]


def test_iam_changing_under_a_pass_makes_the_reconciler_read_again(world: World) -> None:
    # Given a node role that another invocation creates between our read and our write
    iam = world.client("iam")
    other = world.reconciler()
    triggered: list[bool] = []

    def race(**_: Any) -> None:
        if not triggered:
            triggered.append(True)
            other.reconcile_key(f"{CLUSTER}/config", request_id="other")

    iam.meta.events.register("before-call.iam.CreateRole", race)
    world.upload(CLUSTER, spec())
    world.notifications()

    # When our invocation runs (its first CreateRole hits EntityAlreadyExists)
    outcome = world.reconciler(iam=iam).reconcile_key(f"{CLUSTER}/config", request_id="ours")

    # Then it read again, found everything in place, and did not fail
    assert not outcome.failed
    assert outcome.detail_type == DetailType.SPEC_UNCHANGED
    assert outcome.detail["passes"] == 2
    assert world.role_names() == {f"masters.{CLUSTER}", NODES}


def test_a_scheduled_run_that_cannot_list_the_bucket_fails_and_is_audited(world: World) -> None:
    # Given S3 refusing every ListObjectsV2
    world.wire.faults = [Fault.persistent("s3:ListObjectsV2", status=500, code="InternalError")]

    # When the schedule fires, the invocation fails (so Lambda retries it)
    with pytest.raises(Exception, match="InternalError"):
        world.handle(scheduled_event())

    # And the audit trail says the drift run could not look at any cluster
    [event] = world.audit()
    assert event["detail-type"] == DetailType.APPLY_FAILED
    detail = event["detail"]
    assert (detail["cluster"], detail["key"], detail["objectState"]) == ("*", "*/config", "unknown")
    assert detail["trigger"] == "schedule"
    assert detail["error"]["code"] == "InternalError"
    assert detail["partial"] is False and detail["completedWrites"] == []
    schema = json.loads((ROOT / "schemas" / "apply-failed.json").read_text())
    assert not list(Draft202012Validator(schema).iter_errors(event))
