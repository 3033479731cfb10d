"""Throttling is normal: a drift period IAM throttles for most of its deliveries slows down
and converges, without an ``Apply Failed`` storm (docs/adr/0112)."""

from __future__ import annotations

import pytest
from spec_builders import allow, spec
from support.wire import Fault
from support.world import World, scheduled_event

from kops_iam.aws.audit import DetailType

CLUSTERS = [f"t{i:02}.k8s.example.com" for i in range(12)]
DRIFTED = CLUSTERS[::4]  # three of them
BATCH = len(CLUSTERS)  # one batch: every check is throttled on its first deliveries
#: IAM throttles every call until each check has been delivered this many times (of the
#: queue's 6): most of the period, by deliveries.
THROTTLED_DELIVERIES = 4


def nodes(cluster: str) -> str:
    return f"nodes.{cluster}"


def iam_attempts(world: World) -> int:
    return sum(n for site, n in world.wire.attempts.items() if site.startswith("iam:"))


pytestmark = pytest.mark.usefixtures("no_backoff_sleep")


@pytest.mark.parametrize("read", ["bulk", "per-role"])
def test_a_throttled_drift_period_slows_down_and_converges(world: World, read: str) -> None:
    # Given twelve applied clusters, three of them drifted by hand
    for cluster in CLUSTERS:
        world.upload(cluster, spec(cluster, additional={"node": [allow("s3:GetObject")]}))
    world.deliver()
    world.audit()
    for cluster in DRIFTED:
        world.inspect_iam.delete_role_policy(
            RoleName=nodes(cluster), PolicyName=f"additional.{nodes(cluster)}"
        )
    runtime = world.runtime(world.with_settings(drift_read=read))
    world.calls.clear()

    # When the schedule queues the period's checks
    start = world.invoke(scheduled_event(), runtime)
    assert start.raised is None
    # And IAM answers Throttling to every call while the checks' first deliveries run
    throttle = Fault.persistent("iam:*", "throttle")
    world.wire.faults = [throttle]
    invocations = []
    throttled_invocations = 0
    queue = world.drift_queue
    for _ in range(200):
        messages = queue.receive(BATCH)
        if not messages:
            break
        receives = min(int(m["Attributes"]["ApproximateReceiveCount"]) for m in messages)
        if receives > THROTTLED_DELIVERIES:
            world.wire.faults = []  # IAM recovers
        before = iam_attempts(world)
        invocation = world.invoke(queue.event(messages), runtime)
        if world.wire.faults:
            throttled_invocations += 1
            # Then a throttled batch stops calling IAM once a call is throttled (after
            # botocore's own 5 attempts) instead of trying each of its checks in turn: at
            # most one throttled call per thread already under way
            spent = iam_attempts(world) - before
            assert spent <= 5 * runtime.settings.drift_threads, spent
        queue.settle(messages, invocation.summary)
        invocations.append(invocation)
    world.wire.faults = []

    # Then every check came to an end: nothing left, nothing in the dead-letter queue
    assert queue.depth() == 0
    assert world.drift_dead_letters() == []
    assert throttled_invocations == THROTTLED_DELIVERIES
    assert len(invocations) == THROTTLED_DELIVERIES + 1  # then one delivery converged
    assert throttle.injected > 0
    # And while throttled, checks were put off quietly: no Apply Failed at all
    audit = [e for i in invocations for e in i.audit]
    assert DetailType.APPLY_FAILED not in {e["detail-type"] for e in audit}
    assert all(i.raised is None for i in invocations)
    # And the drift was corrected exactly once per drifted cluster, with writes only there
    corrected = sorted(
        e["detail"]["cluster"] for e in audit if e["detail-type"] == DetailType.DRIFT_CORRECTED
    )
    assert corrected == sorted(DRIFTED)
    assert sorted(w for i in invocations for w in i.applied) == sorted(
        f"put_role_policy {nodes(c)}/additional.{nodes(c)}" for c in DRIFTED
    ), [w for i in invocations for w in i.applied]
    for cluster in DRIFTED:
        assert set(world.inline(nodes(cluster))) == {nodes(cluster), f"additional.{nodes(cluster)}"}
