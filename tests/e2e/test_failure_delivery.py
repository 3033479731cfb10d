"""A reconcile that keeps failing: retried as Lambda retries, then kept in the failure queue."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from spec_builders import spec
from support.served import MISSING_POLICY, served_world
from support.served import ServedWorld as World

from kops_iam.aws.audit import DetailType
from kops_iam_tools.commands.redrive import redrive
from kops_iam_tools.emulator import DELIVERY_ATTEMPTS, FunctionConfig


@pytest.fixture(scope="module")
def failing_world() -> Iterator[World]:
    """Given a function allowed to attach a managed policy that IAM does not have."""
    yield from served_world(function=FunctionConfig(allowed_managed_policies=(MISSING_POLICY,)))


def test_a_failing_apply_is_retried_reported_and_kept_in_the_failure_queue(
    failing_world: World,
) -> None:
    world = failing_world
    # Given a spec whose node role needs the missing managed policy
    cluster = "fail.e2e.example.com"
    body = spec(cluster, externalPolicies={"node": [MISSING_POLICY]})

    # When it is uploaded
    world.emulator.s3.put_object(Bucket=world.bucket, Key=f"{cluster}/config", Body=body)

    # Then the runner invokes the handler once and retries it twice, each time failing
    last = world.runner.wait_for(lambda i: i.attempt >= DELIVERY_ATTEMPTS, 20)
    attempts = [i for i in world.runner.invocations if f"{cluster}/config" in i.keys]
    assert [i.attempt for i in attempts] == [1, 2, 3]
    assert all(not i.ok and "NoSuchEntity" in (i.error or "") for i in attempts)
    assert last is attempts[-1]
    # And each attempt published Apply Failed with the IAM error
    events = world.audit(cluster)
    assert [e["detail-type"] for e in events] == [DetailType.APPLY_FAILED] * 3
    assert {e["detail"]["error"]["code"] for e in events} == {"NoSuchEntity"}
    # And the failure queue holds Lambda's on-failure record of the S3 notification
    [record] = world.emulator.failed_events(wait_seconds=10)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == DELIVERY_ATTEMPTS
    notification = record["requestPayload"]
    assert notification["Records"][0]["s3"]["object"]["key"] == f"{cluster}%2Fconfig"
    assert record["responsePayload"]["errorType"] == "ReconcileFailed"


def test_once_the_cause_is_fixed_kops_iam_redrive_puts_the_event_back(
    failing_world: World,
) -> None:
    world = failing_world
    emulator = world.emulator
    # Given an upload whose three attempts failed, its on-failure record in the failure queue
    cluster = "redrive.e2e.example.com"
    body = spec(cluster, externalPolicies={"node": [MISSING_POLICY]})
    emulator.s3.put_object(Bucket=world.bucket, Key=f"{cluster}/config", Body=body)
    world.runner.wait_for(lambda i: i.attempt >= DELIVERY_ATTEMPTS and cluster in str(i.keys), 20)
    _wait_for_messages(emulator.sqs, emulator.failure_queue_url, 1)
    assert {e["detail-type"] for e in world.audit(cluster)} == {DetailType.APPLY_FAILED}

    # When the operator fixes the cause (the managed policy now exists) and redrives the queue
    emulator.iam.create_policy(
        PolicyName=MISSING_POLICY.rsplit("/", 1)[-1],
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
            }
        ),
    )
    redriven = []
    report = redrive(
        emulator.sqs,
        emulator.failure_queue_url,
        lambda event: redriven.append(world.runner.invoke(event)),
    )

    # Then the function got the original notification back, and the spec is applied
    assert [m.shape for m in report.redriven] == ["on-failure record"]
    [invocation] = redriven
    assert invocation.ok and invocation.keys == (f"{cluster}/config",)
    assert [e["detail-type"] for e in world.audit(cluster)] == [DetailType.SPEC_APPLIED]
    assert world.roles(cluster) == {f"masters.{cluster}", f"nodes.{cluster}"}
    # And the queue is empty
    assert emulator.failed_events() == []


def _wait_for_messages(sqs: Any, url: str, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        if int(attributes["ApproximateNumberOfMessages"]) >= count:
            return
        time.sleep(0.1)
    raise TimeoutError(f"fewer than {count} message(s) in {url}")
