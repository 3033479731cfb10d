"""Races: many versions of one spec and many clusters at once, delivered out of order and
twice. The final IAM state of every cluster must equal its newest spec.

Three drivers:

* deterministic shuffles: the events of every version delivered one at a time, in a
  seeded random order, each twice (late and duplicate deliveries);
* deterministic interleavings (``rel_scheduler``): concurrent invocations and uploads
  interleaved at AWS-call granularity by a seeded scheduler, versioned and unversioned
  buckets (version-id and ETag paths);
* free-running threads: many clusters, uploads racing deliveries, no scheduler.

Each invocation's audit events are also checked against the writes moto applied for it.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import rel_scenarios
import rel_support
import support.world as W
from rel_scheduler import Scheduler
from test_fault_injection import check_nothing_lost, check_truthful

PART = "races"
_NAMES = itertools.count()


pytestmark = pytest.mark.usefixtures("no_backoff_sleep", "quiet_logs")


@pytest.fixture(scope="module", params=["versioned", "unversioned"])
def world(request: pytest.FixtureRequest) -> Iterator[W.World]:
    with rel_scenarios.world(kms_key=False, versioned=request.param == "versioned") as world:
        yield world


def _version_text(cluster: str, index: int) -> str:
    """Version ``index`` of a cluster: alternates the two shapes, each variant distinct."""
    return rel_scenarios.spec(cluster, 1 + index % 2, kms=False, marker=index)


_EXPECTED: dict[tuple[bool, int], dict[str, Any]] = {}


def expected_state(world: W.World, index: int) -> dict[str, Any]:
    """IAM state (cluster name as a placeholder) of version ``index`` applied alone."""
    versioned = world.s3.get_bucket_versioning(Bucket=W.BUCKET).get("Status") == "Enabled"
    if (versioned, index) not in _EXPECTED:
        cluster = f"expect{next(_NAMES)}.k8s.example.com"
        version = world.upload_version(cluster, _version_text(cluster, index))
        invocation = world.invoke(W.object_event(world.key(cluster), version))
        assert invocation.raised is None, invocation.raised
        _EXPECTED[(versioned, index)] = world.cluster_state(cluster)
        world.delete(cluster)
    return _EXPECTED[(versioned, index)]


def _check_invocations(world: W.World, invocations: list[tuple[str, W.Invocation]]) -> None:
    """Audit events (drained once, matched by request id) say only what each one did."""
    by_request: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in world.audit():
        by_request[event["detail"]["requestId"]].append(event)
    for cluster, invocation in invocations:
        invocation.audit = by_request.get(invocation.request_id, [])
        check_truthful(invocation, cluster, lost_responses=False)
        check_nothing_lost(invocation)
        assert invocation.raised is None, invocation.raised
        rel_support.record(PART, "invocations")


def test_deterministic_shuffles_converge_to_the_newest_spec(world: W.World) -> None:
    rounds = rel_support.budget(4, 60)
    versions = rel_support.budget(3, 6)
    for seed in range(rounds):
        rng = random.Random(seed)
        cluster = f"shuffle{next(_NAMES)}.k8s.example.com"
        events = []
        for index in range(versions):
            version = world.upload_version(cluster, _version_text(cluster, index))
            events.append(W.object_event(world.key(cluster), version))
        deliveries = events * 2
        rng.shuffle(deliveries)
        invocations = [(cluster, world.invoke(event, concurrent=True)) for event in deliveries]
        _check_invocations(world, invocations)
        assert world.cluster_state(cluster) == expected_state(world, versions - 1), f"seed {seed}"
        rel_support.record(PART, "shuffles")
        rel_support.record(PART, "deliveries", len(deliveries))
        world.delete(cluster)


def test_seeded_interleavings_of_uploads_and_invocations_converge(world: W.World) -> None:
    schedules = rel_support.budget(6, 150)
    versions = rel_support.budget(3, 4)
    for seed in range(schedules):
        run_interleaving(world, seed, versions)


def run_interleaving(world: W.World, seed: int, versions: int) -> None:
    rng = random.Random(seed)
    cluster = f"weave{next(_NAMES)}.k8s.example.com"
    scheduler = Scheduler(seed)
    invocations: list[tuple[str, W.Invocation]] = []
    runtime = world.runtime()
    lock = threading.Lock()
    names = itertools.count()

    def deliver(event: dict[str, Any]) -> None:
        invocation = world.invoke(event, runtime, concurrent=True)
        with lock:
            invocations.append((cluster, invocation))

    def uploader() -> None:
        events = []
        for index in range(versions):
            scheduler.checkpoint("s3:PutObject")
            version = world.upload_version(cluster, _version_text(cluster, index))
            event = W.object_event(world.key(cluster), version)
            events.append(event)
            copies = 2 if rng.random() < 0.5 else 1  # a duplicate delivery
            for _ in range(copies):
                scheduler.spawn(f"inv{next(names)}", lambda e=event: deliver(e))
        # a late redelivery of an old event
        old = rng.choice(events)
        scheduler.spawn(f"inv{next(names)}", lambda: deliver(old))

    world.wire.checkpoint = scheduler.checkpoint
    try:
        scheduler.spawn("uploader", uploader)
        scheduler.run()
    finally:
        world.wire.checkpoint = None
    _check_invocations(world, invocations)
    state = world.cluster_state(cluster)
    assert state == expected_state(world, versions - 1), (
        f"seed {seed}: final IAM state is not the newest spec; trace {scheduler.trace}"
    )
    rel_support.record(PART, "interleavings")
    rel_support.record(PART, "interleaved_invocations", len(invocations))
    rel_support.record(PART, "scheduling_points", scheduler.steps)
    world.delete(cluster)


def test_free_running_threads_over_many_clusters_converge(world: W.World) -> None:
    clusters = [f"many{next(_NAMES)}.k8s.example.com" for _ in range(rel_support.budget(3, 12))]
    versions = rel_support.budget(3, 6)
    rng = random.Random(20260115)
    pending: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()
    runtime = world.runtime()
    results: list[tuple[str, W.Invocation]] = []

    def upload_all(cluster: str) -> None:
        for index in range(versions):
            version = world.upload_version(cluster, _version_text(cluster, index))
            event = W.object_event(world.key(cluster), version)
            with lock:
                pending.extend([(cluster, event), (cluster, event)])  # delivered twice
            time.sleep(rng.random() * 0.01)

    def deliver(cluster: str, event: dict[str, Any]) -> None:
        invocation = world.invoke(event, runtime, concurrent=True)
        with lock:
            results.append((cluster, invocation))

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="lambda") as pool:
        uploads = [pool.submit(upload_all, c) for c in clusters]
        futures = []
        while any(not u.done() for u in uploads) or pending:
            with lock:
                batch, pending[:] = pending[:], []
            rng.shuffle(batch)  # out of order
            futures.extend(pool.submit(deliver, c, e) for c, e in batch)
            time.sleep(0.002)
        for future in [*uploads, *futures]:
            future.result()
    _check_invocations(world, results)
    expected = expected_state(world, versions - 1)
    for cluster in clusters:
        assert world.cluster_state(cluster) == expected, cluster
        world.delete(cluster)
    rel_support.record(PART, "thread_runs")
    rel_support.record(PART, "thread_clusters", len(clusters))
    rel_support.record(PART, "thread_invocations", len(results))
