"""Order and concurrency: whatever the interleaving, IAM ends on the newest spec object.

Two kinds of proof (docs/adr/0020 explains the mechanism):

* deterministic: a newer version is uploaded, and its own invocation run to completion, at
  *every* AWS call of an older invocation in turn (and a third version inside that one);
* threaded: many versions uploaded while their events, each delivered twice and in any
  order, run concurrently with random pauses between AWS calls, failed invocations retried
  as Lambda would.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from spec_builders import allow, spec
from support.world import ROOT, World, context

from kops_iam.application import handler
from kops_iam.application.reconciler import Outcome, Reconciler
from kops_iam.aws.audit import DetailType
from kops_iam.domain.pipeline import plan_spec

CLUSTER = "race.k8s.example.com"
KEY = f"{CLUSTER}/config"
NODES = f"nodes.{CLUSTER}"
ADDITIONAL = f"additional.{NODES}"


@pytest.fixture(params=["bulk", "per-role"])
def world(world: World, request: pytest.FixtureRequest) -> World:
    """Every proof holds whichever way a reconcile reads IAM (docs/adr/0121)."""
    world.settings = world.with_settings(event_read=request.param)
    return world


def version(i: int) -> str:
    """Version ``i`` of the spec: each differs in its additional policy; some add a bastion
    or drop the additional policy altogether, so creates and deletes race too."""
    if i % 4 == 3:
        return spec(CLUSTER, bastion=True)
    statement = allow("s3:GetObject", resource=f"arn:aws:s3:::bucket-{i}/*", sid=f"V{i}")
    return spec(CLUSTER, additional={"node": [statement]}, bastion=i % 3 == 2)


def assert_iam_matches(world: World, text: str) -> None:
    """IAM holds exactly what ``text`` asks for: a fresh diff finds nothing to write."""
    reconciler = world.reconciler()
    plan = plan_spec(text.encode(), world.settings.options, None)
    changes = reconciler.changes_for(CLUSTER, plan)
    assert changes.writes == (), [w.describe() for w in changes.writes]


def invocation(world: World, on_call: Callable[[int, str], None] | None = None) -> Reconciler:
    """A reconciler with its own S3 and IAM clients, calling ``on_call(n, operation)``
    before its n-th AWS call (counting both clients)."""
    s3, iam = world.client("s3"), world.client("iam")
    if on_call is not None:
        counter = [0]

        def hook(model: Any, **_: Any) -> None:
            counter[0] += 1
            on_call(counter[0], model.name)

        s3.meta.events.register("before-call.s3", hook)
        iam.meta.events.register("before-call.iam", hook)
    return world.reconciler(s3=s3, iam=iam)


def calls_of_one_invocation(world: World) -> int:
    """How many AWS calls an invocation applying version 1 over version 0 makes."""
    seen: list[str] = []
    invocation(world, lambda n, op: seen.append(op)).reconcile_key(KEY)
    return len(seen)


@pytest.fixture
def at_version_0(world: World) -> World:
    world.upload(CLUSTER, version(0))
    world.reconciler().reconcile_key(KEY)
    world.audit()
    return world


def test_a_stale_invocation_overtaken_mid_apply_goes_round_and_ends_on_the_newest(
    at_version_0: World,
) -> None:
    world = at_version_0
    # Given invocation A applying version 1, and version 2 arriving (and fully applied by
    # its own invocation B) just before A's policy write lands
    world.upload(CLUSTER, version(1))
    b_outcomes: list[Outcome] = []

    def interject(n: int, operation: str) -> None:
        if operation == "PutRolePolicy" and not b_outcomes:
            world.upload(CLUSTER, version(2))
            b_outcomes.append(invocation(world).reconcile_key(KEY, request_id="B"))

    # When A runs (its write of version 1 lands after B verified version 2)
    a = invocation(world, interject).reconcile_key(KEY, request_id="A")

    # Then A noticed the newer object, went round again and left IAM at version 2
    assert_iam_matches(world, version(2))
    assert not a.failed and not b_outcomes[0].failed
    head = world.s3.head_object(Bucket=world.bucket, Key=KEY)
    assert a.detail["etag"] == head["ETag"].strip('"') == b_outcomes[0].detail["etag"]
    assert a.detail["passes"] == 2
    # And A's event does not hide the stale write it made and then undid
    [earlier] = a.detail["earlierPasses"]
    assert any(w.startswith("put_role_policy") for w in earlier["writes"])
    assert a.detail_type == DetailType.SPEC_APPLIED


def test_a_newer_version_at_any_call_of_an_older_invocation_wins(world: World) -> None:
    # Given the number of AWS calls an invocation makes
    world.upload(CLUSTER, version(0))
    world.reconciler().reconcile_key(KEY)
    world.upload(CLUSTER, version(1))
    total = calls_of_one_invocation(world)
    assert total > (10 if world.settings.event_read == "per-role" else 5)

    for point in range(1, total + 1):
        # Given IAM at version 0 and invocation A starting on version 1
        world.upload(CLUSTER, version(0))
        world.reconciler().reconcile_key(KEY)
        world.upload(CLUSTER, version(1))
        done: list[Outcome] = []

        def interject(
            n: int, operation: str, point: int = point, done: list[Outcome] = done
        ) -> None:
            if n == point and not done:
                # a newer version arrives and its invocation runs to completion
                world.upload(CLUSTER, version(2))
                done.append(invocation(world).reconcile_key(KEY))

        # When A runs with version 2 interjected before its call number `point`
        outcome = invocation(world, interject).reconcile_key(KEY)

        # Then both invocations succeed and IAM is at version 2
        assert done and not done[0].failed, point
        assert not outcome.failed, (point, outcome.error)
        assert_iam_matches(world, version(2))
    world.audit()


def nested_run(world: World, outer: int, inner: int) -> tuple[Outcome, list[Outcome]]:
    """A applies version 1; before A's call ``outer`` version 2 arrives and B runs; before
    B's call ``inner`` version 3 arrives and C runs to completion. Returns A's outcome and
    C's and B's (in the order they finished)."""
    world.upload(CLUSTER, version(1))
    finished: list[Outcome] = []
    started: set[str] = set()

    def in_b(n: int, operation: str) -> None:
        if n == inner and "C" not in started:
            started.add("C")
            world.upload(CLUSTER, version(3))
            finished.append(invocation(world).reconcile_key(KEY))

    def in_a(n: int, operation: str) -> None:
        if n == outer and "B" not in started:
            started.add("B")
            world.upload(CLUSTER, version(2))
            finished.append(invocation(world, in_b).reconcile_key(KEY))

    return invocation(world, in_a).reconcile_key(KEY), finished


@pytest.mark.parametrize("point", ["early", "late"])
def test_three_versions_nested_at_chosen_points_end_on_the_newest(world: World, point: str) -> None:
    # Given IAM at version 0, and A's calls: B starts before its 4th or its last but one
    world.upload(CLUSTER, version(0))
    world.reconciler().reconcile_key(KEY)
    total = calls_of_one_invocation(world)
    outer = 4 if point == "early" else total - 1
    world.upload(CLUSTER, version(0))
    world.reconciler().reconcile_key(KEY)
    for inner in range(1, total, max(1, total // 5)):
        # When A, B and C run nested (see nested_run)
        a, others = nested_run(world, outer, inner)

        # Then everyone succeeded and IAM holds version 3
        assert len(others) == 2, (outer, inner)
        assert not a.failed and all(not o.failed for o in others), (outer, inner)
        assert_iam_matches(world, version(3))
        world.upload(CLUSTER, version(0))
        world.reconciler().reconcile_key(KEY)
    world.audit()


def test_many_versions_racing_on_threads_end_on_the_newest(world: World) -> None:
    # Given twelve versions uploaded one after another, each event delivered twice, handled
    # by six concurrent "invocations" with random pauses between their AWS calls
    rng = random.Random(20240607)
    versions = 12
    pending: list[dict[str, Any]] = []
    lock = threading.Lock()
    uploads_done = threading.Event()
    failures: list[BaseException] = []
    retried = [0]
    handled = [0]

    def jitter(**_: Any) -> None:
        time.sleep(rng.random() * 0.003)

    def runtime() -> handler.Runtime:
        s3, iam = world.client("s3"), world.client("iam")
        for client, service in ((s3, "s3"), (iam, "iam")):
            client.meta.events.register(f"before-call.{service}", jitter)
        return world.runtime(s3=s3, iam=iam)

    uploaded_etags: set[str] = set()

    def uploader() -> None:
        for i in range(versions):
            response = world.upload(CLUSTER, version(i))
            uploaded_etags.add(response["ETag"].strip('"'))
            notifications = world.notifications()
            with lock:
                pending.extend(notifications * 2)  # at-least-once delivery
                rng.shuffle(pending)
            time.sleep(rng.random() * 0.01)
        uploads_done.set()

    def worker() -> None:
        rt = runtime()
        while True:
            with lock:
                event = pending.pop() if pending else None
            if event is None:
                if uploads_done.is_set():
                    with lock:
                        if not pending:
                            return
                time.sleep(0.002)
                continue
            for attempt in range(3):  # Lambda's async retries
                with lock:
                    handled[0] += 1
                try:
                    handler.handle(event, context(), rt)
                    break
                except handler.ReconcileFailed as exc:
                    retried[0] += 1
                    if attempt == 2:
                        failures.append(exc)

    threads = [threading.Thread(target=uploader)] + [
        threading.Thread(target=worker) for _ in range(6)
    ]

    # When they all run
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # Then no event was lost for good and IAM holds the newest version, exactly
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    assert_iam_matches(world, version(versions - 1))
    # And each invocation (retries included) published exactly one audit event, for a
    # version that really was uploaded
    events = world.audit()
    assert len(events) == handled[0] >= 2 * versions
    assert {e["detail-type"] for e in events} <= {
        DetailType.SPEC_APPLIED,
        DetailType.SPEC_UNCHANGED,
        DetailType.APPLY_FAILED,
    }
    assert {e["detail"]["etag"] for e in events} <= uploaded_etags
    assert sum(e["detail-type"] == DetailType.APPLY_FAILED for e in events) == retried[0]


def test_a_valid_spec_replaced_by_an_invalid_one_mid_apply_reports_both(world: World) -> None:
    # Given invocation A applying a valid spec, replaced by an invalid one after A's first write
    world.upload(CLUSTER, version(1))
    replaced: list[bool] = []

    def interject(n: int, operation: str) -> None:
        if operation == "CreateRole" and not replaced:
            replaced.append(True)
            world.upload(CLUSTER, "spec: [")

    # When A runs
    outcome = invocation(world, interject).reconcile_key(KEY)

    # Then the newest (invalid) object is rejected, and the writes A made for the valid
    # one before noticing are reported, not hidden
    assert outcome.detail_type == DetailType.SPEC_REJECTED
    [earlier] = outcome.detail["earlierPasses"]
    assert any(w.startswith("create_role") for w in earlier["writes"])
    [event] = world.audit()
    schema = json.loads((ROOT / "schemas" / "spec-rejected.json").read_text())
    Draft202012Validator(schema).validate(event)
