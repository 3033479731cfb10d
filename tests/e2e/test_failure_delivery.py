"""A reconcile that keeps failing: retried as Lambda retries, then kept in the failure queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from spec_builders import spec
from support.served import MISSING_POLICY, served_world
from support.served import ServedWorld as World

from kops_iam.aws.audit import DetailType
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
    # And the S3 notification ends in the failure queue (the on-failure destination)
    [notification] = world.emulator.failed_events(wait_seconds=10)
    assert notification["Records"][0]["s3"]["object"]["key"] == f"{cluster}%2Fconfig"
