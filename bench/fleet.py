"""Fleet: drift periods on the fan-out over 10 -> 100 -> 1,000 -> 10,000 clusters on moto.

One moto account grows from the smallest fleet to the largest. At each step the first
:data:`APPLIED_PER_STEP` new clusters are uploaded and applied through ``lambda_handler``
(one ``Object Created`` event each, as S3 would send them: the *first apply* figures); the
rest are provisioned fast (:func:`support.fleet.provision_clusters`: the reconciler's own
plan and writes, straight into moto's backend; a test proves such a cluster ``Spec
Unchanged``). Then a **drift period** runs as the stack runs it (docs/adr/0110): the
schedule's invocation lists the specs and queues one check per cluster on the drift queue;
``WORKERS`` threads, each a fresh container (its own runtime from ``build_runtime``, so its
own IAM snapshot), drain the same queue the way the event source mapping does (batches of
``Defaults.DRIFT_BATCH_SIZE``, failed items back at once) until it is empty. Before each
period about 1% of the clusters (at least one) lose their node's additional policy "by
hand", so every period also corrects drift.

Every AWS call of the function waits ``latency`` first (a botocore ``before-send`` hook on
the function's session: 25 ms, and 100 ms at the largest fleet), except the bulk read's
pages, which wait :data:`BULK_PAGE_S` (IAM builds a 1,000-role answer on its side: an
assumption, stated with the figures); moto then answers. moto's own time to build those
pages is spent before the period (:func:`prebuild_bulk_answer`), so a page is charged the
assumed latency once, not that plus moto's build time (docs/adr/0117). moto runs at fleet scale
(:mod:`support.moto_scale`: its quadratic answers made linear, repeated bulk answers served
again) and its CPU time is metered per request, so each period splits the process's CPU
into moto's, the bench's poller's and the function's own. Per period: wall time, that CPU
split, the function's calls per service and operation (the world's wire), IAM writes,
outcomes, the dead-letter queue. Memory of one worker: :mod:`tracemalloc` while one fresh
worker reads the snapshot of the largest fleet and checks a batch.

Everything runs in one process on the machine's cores, under one GIL: the measured time
is this simulation's. What Lambda would take is *modelled* from the measured calls, the
function's measured CPU and the assumed latencies, in rows that say so. Quick mode measures
small fleets and projects the 10,000-cluster figures from the largest one it measured
(linear in clusters); each row says whether it was measured, projected or modelled.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import random
import sys
import threading
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass
from typing import Any

from support import moto_scale
from support.wire import Calls

from bench import specs
from bench.aws import BenchWorld, bench_world
from bench.report import Row, fmt, verdict
from bench.stats import summarize
from kops_iam_tools.world.events import object_event, scheduled_event
from kops_iam_tools.world.function import LambdaContext

SECTION = "fleet"
DRIFT_FRACTION = 0.01
#: Concurrent workers (the event source mapping's maximum concurrency in the benchmark).
WORKERS = 10
#: Per-call latency of the growth periods and of the largest fleet's period.
LATENCY_S = 0.025
SLOW_LATENCY_S = 0.100
#: Latency of one ``GetAccountAuthorizationDetails`` page (up to 1,000 roles) in every
#: period: an ASSUMPTION (IAM builds the answer on its side; AWS publishes no figure).
BULK_PAGE_S = 1.0
#: Page latencies the modelled figure is also given for (its sensitivity).
BULK_PAGE_SENSITIVITY = (0.25, 1.0, 4.0)
#: Clusters of each step applied through the function (the rest provisioned fast).
APPLIED_PER_STEP = 100
#: The drift queue's visibility timeout in the stack: 6 x the function's 5-minute timeout.
STACK_VISIBILITY_S = 6 * 300
#: The function's memory in the stack (infra/reconciler.py) and the memory at which Lambda
#: gives a function one full vCPU (AWS documentation): CPU scales with memory below it.
LAMBDA_MEMORY_MB = 512
FULL_VCPU_MB = 1769
#: The issue's targets.
TARGET_FLEET = 10_000
TARGET_IAM_PER_UNCHANGED = 0.1
TARGET_MINUTES = 5.0


@dataclass(frozen=True)
class ApplyStep:
    clusters: int
    applied: int  # through the function (the rest provisioned fast)
    wall_s: float
    cpu_s: float
    per_cluster_ms: list[float]
    calls: Calls
    fast_s: float = 0.0


@dataclass(frozen=True)
class Cpu:
    """Where a period's process CPU went (seconds)."""

    process: float
    moto: float  # moto answering requests (metered per request)
    poller: float  # the bench's pollers (Lambda's event source, played)
    schedule: float  # the function: the schedule's invocation, its shared snapshot apart
    snapshot: float  # the function: IAM snapshots (the schedule's shared one + the workers')
    snapshot_reads: int  # bulk reads of IAM (the schedule's included)
    #: of ``snapshot``: the schedule's bulk read, parse and write of the shared snapshot
    share: float = 0.0
    #: shared snapshots the workers took from S3 (one GetObject each)
    snapshot_loads: int = 0

    @property
    def function(self) -> float:
        """The function's own CPU: everything that is neither moto's nor the poller's."""
        return max(0.0, self.process - self.moto - self.poller)

    @property
    def checks(self) -> float:
        """The function's CPU for the checks themselves (snapshots and schedule apart)."""
        return max(0.0, self.function - self.schedule - self.snapshot)


@dataclass(frozen=True)
class Period:
    clusters: int
    drifted: int
    workers: int
    latency_s: float
    wall_s: float
    cpu: Cpu
    calls: Calls
    schedule_calls: Calls
    outcomes: dict[str, int]
    batches: int
    dead_letters: int
    #: kops roles in a worker's snapshot (0: no worker read one)
    snapshot_roles: int = 0
    bulk_page_s: float = BULK_PAGE_S
    load: float = 0.0
    #: kops roles in the snapshot the schedule shared (``None``: none shared)
    shared_roles: int | None = None
    #: seconds moto took, before the period, to build its bulk answer (not in the period)
    prebuilt_s: float = 0.0

    @property
    def cpu_s(self) -> float:
        return self.cpu.process

    @property
    def snapshot_pages(self) -> int:
        return self.calls.counts.get("iam:GetAccountAuthorizationDetails", 0)

    @property
    def per_role_iam(self) -> int:
        """IAM calls other than the bulk read (the drifted clusters' reconciles)."""
        return self.calls.where("iam") - self.snapshot_pages


@dataclass(frozen=True)
class Memory:
    clusters: int
    roles: int
    peak_mb: float
    retained_mb: float
    wall_s: float


def cluster(index: int) -> str:
    return f"c{index:05d}.fleet.k8s.example.com"


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - no load average here
        return 0.0


def grow(world: BenchWorld, text: str, start: int, stop: int) -> ApplyStep:
    """Clusters ``start..stop-1``: the first :data:`APPLIED_PER_STEP` uploaded and applied
    through ``lambda_handler`` (one event each, as S3 sends them), the rest provisioned fast
    (the reconciler's plan and writes straight to moto: :mod:`support.fleet`)."""
    from support.fleet import provision_clusters  # after bench_world set the environment

    through = min(stop - start, APPLIED_PER_STEP)
    versions = {}
    for i in range(start, start + through):
        versions[i] = world.put_spec(f"{cluster(i)}/config", specs.renamed(text, cluster(i)))
    world.calls.take()
    per_cluster: list[float] = []
    begin = time.perf_counter()
    cpu_begin = time.process_time()
    for i in range(start, start + through):
        t0 = time.perf_counter()
        result = world.invoke(object_event(f"{cluster(i)}/config", version_id=versions[i]))
        per_cluster.append((time.perf_counter() - t0) * 1000)
        kinds = {o.get("detailType") for o in result.get("outcomes", [])}
        if kinds != {"Spec Applied"}:
            raise RuntimeError(f"first apply of {cluster(i)} ended with {kinds}")
    wall = time.perf_counter() - begin
    cpu = time.process_time() - cpu_begin
    calls = world.calls.take()
    fast_begin = time.perf_counter()
    rest = range(start + through, stop)
    provision_clusters(world.world, ((cluster(i), specs.renamed(text, cluster(i))) for i in rest))
    fast = time.perf_counter() - fast_begin
    if world.calls.take().total:
        raise RuntimeError("fast provisioning made calls on the function's wire")
    return ApplyStep(stop - start, through, wall, cpu, per_cluster, calls, fast)


class Latency:
    """Every call of the function's session waits ``seconds`` before moto answers; a page
    of the bulk read waits ``bulk_seconds``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.bulk_seconds = 0.0

    def __call__(self, event_name: str = "", **_: Any) -> None:
        if event_name.endswith(".GetAccountAuthorizationDetails"):
            wait = self.bulk_seconds
        else:
            wait = self.seconds
        if wait:
            time.sleep(wait)


def _install_latency(world: BenchWorld) -> Latency:
    from support.world import FUNCTION_SESSION

    latency = Latency()
    # before the wire's own before-send (which answers with moto): clients made from the
    # session from now on (every worker's runtime) carry it
    FUNCTION_SESSION.events.register_first("before-send", latency)
    return latency


def _drift(world: BenchWorld, size: int, seed: int) -> int:
    from kops_iam.domain.naming import additional_policy_name, role_name

    drifted = random.Random(seed).sample(range(size), max(1, round(size * DRIFT_FRACTION)))
    with world.calls.paused():
        for i in drifted:
            role = role_name("node", cluster(i))
            world.iam.delete_role_policy(RoleName=role, PolicyName=additional_policy_name(role))
    return len(drifted)


def prebuild_bulk_answer(world: BenchWorld) -> tuple[float, int]:
    """Have moto build its ``GetAccountAuthorizationDetails`` pages for the IAM state the
    period will read, before the period: the period then charges each page the assumed
    :data:`BULK_PAGE_S` (IAM's own time to build it) and not moto's time to build it as well.
    The pages are asked exactly as the function asks them (its own :func:`role_pages`),
    through the bench's own uncounted client; returns the seconds it took and the pages."""
    from kops_iam.aws.iam_snapshot import role_pages

    begin = time.perf_counter()
    with world.calls.paused():
        pages = sum(1 for _ in role_pages(world.iam))
    return time.perf_counter() - begin, pages


def _metered_snapshots(max_age: float) -> Any:
    """The function's :class:`SnapshotCache`, with the function's CPU per read metered
    (thread CPU of the reading thread, moto's share taken out)."""
    from kops_iam.application.drift import SnapshotCache

    class MeteredSnapshots(SnapshotCache):
        cpu_s = 0.0

        def get(self, iam: Any, run_started: float, store: Any = None) -> Any:
            before = (self.reads, self.loads)
            cpu = time.thread_time()
            moto = moto_scale.MOTO_CPU.thread_seconds()
            try:
                return super().get(iam, run_started, store)
            finally:
                if (self.reads, self.loads) != before:
                    spent = time.thread_time() - cpu
                    self.cpu_s += spent - (moto_scale.MOTO_CPU.thread_seconds() - moto)

    return MeteredSnapshots(max_age)


class _MeteredShare:
    """The schedule's :func:`~kops_iam.application.drift.share_snapshot`, its CPU metered
    (moto's share taken out) while the bench runs a period."""

    def __init__(self) -> None:
        from kops_iam.application import drift

        self.module = drift
        self.original = drift.share_snapshot
        self.cpu_s = 0.0
        self.reads = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        cpu = time.thread_time()
        moto = moto_scale.MOTO_CPU.thread_seconds()
        try:
            return self.original(*args, **kwargs)
        finally:
            self.reads += 1
            spent = time.thread_time() - cpu
            self.cpu_s += spent - (moto_scale.MOTO_CPU.thread_seconds() - moto)

    def __enter__(self) -> _MeteredShare:
        self.module.share_snapshot = self
        return self

    def __exit__(self, *_: object) -> None:
        self.module.share_snapshot = self.original


def _runtime(world: BenchWorld) -> Any:
    """A fresh container's runtime (``build_runtime``), its snapshot reads metered."""
    from kops_iam.application import handler

    runtime = handler.build_runtime(os.environ, account_id=world.world.account, session=_session())
    max_age = runtime.settings.snapshot_max_age_seconds
    return dataclasses.replace(runtime, snapshots=_metered_snapshots(max_age))


def period(
    world: BenchWorld,
    latency: Latency,
    size: int,
    *,
    seed: int,
    workers: int = WORKERS,
    seconds: float = LATENCY_S,
    bulk_seconds: float = BULK_PAGE_S,
) -> Period:
    """One drift period over ``size`` clusters: schedule, then ``workers`` draining."""
    from kops_iam.application import handler
    from kops_iam.application.settings import Defaults

    drifted = _drift(world, size, seed)
    prebuilt_s, _ = prebuild_bulk_answer(world)
    computed = moto_scale.BULK_ANSWERS.computed
    queue = world.world.drift_queue
    runtimes = [_runtime(world) for _ in range(workers + 1)]
    world.calls.take()
    load = _load()
    latency.seconds = seconds
    latency.bulk_seconds = bulk_seconds
    outcomes: Counter[str] = Counter()
    batches = [0]
    poller_cpu = [0.0]
    lock = threading.Lock()
    poller = threading.Lock()
    errors: list[BaseException] = []
    moto_scale.MOTO_CPU.take()
    start = time.perf_counter()
    cpu_start = time.process_time()
    with _MeteredShare() as share:
        queued = handler.handle(scheduled_event(), LambdaContext(), runtimes[0], None)
    # only the schedule's invocation (and its sending threads) ran so far
    schedule_moto, _ = moto_scale.MOTO_CPU.take()
    schedule_cpu = time.process_time() - cpu_start - schedule_moto - share.cpu_s
    schedule_calls = world.calls.take()
    if queued["drift"]["queued"] != size:
        raise RuntimeError(f"the schedule queued {queued['drift']} for {size} clusters")
    shared = queued["drift"].get("sharedRoles")

    def polled(action: Any) -> Any:
        """The poller's work, its CPU (moto's taken out) counted as the bench's."""
        cpu = time.thread_time()
        moto = moto_scale.MOTO_CPU.thread_seconds()
        with poller:  # Lambda's poller (moto's SQS is not thread-safe); not counted
            result = action()
        spent = time.thread_time() - cpu - (moto_scale.MOTO_CPU.thread_seconds() - moto)
        with lock:
            poller_cpu[0] += spent
        return result

    def take() -> tuple[list[dict[str, Any]], int]:
        """A batch, and (only when there is none) how many checks the queue still holds."""
        messages = queue.receive(Defaults.DRIFT_BATCH_SIZE)
        return messages, (1 if messages else queue.depth())

    def drain(runtime: Any) -> None:
        try:
            while True:
                messages, depth = polled(take)
                if not messages and depth == 0:
                    return
                if not messages:  # others hold the rest: look again soon
                    time.sleep(0.2)
                    continue
                answer = handler.handle(queue.event(messages), LambdaContext(), runtime, None)
                polled(lambda m=messages, a=answer: queue.settle(m, a))
                with lock:
                    batches[0] += 1
                    outcomes.update(str(o["detailType"]) for o in answer["outcomes"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(r,)) for r in runtimes[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    process_cpu = time.process_time() - cpu_start
    moto_cpu = schedule_moto + moto_scale.MOTO_CPU.take()[0]
    latency.seconds = 0.0
    latency.bulk_seconds = 0.0
    if errors:
        raise errors[0]
    calls = world.calls.take()
    dead = len(world.world.drift_dead_letters())
    if moto_scale.BULK_ANSWERS.computed != computed:
        raise RuntimeError("moto built a bulk answer during the period: it was not prebuilt")
    held = [r.snapshots.current for r in runtimes[1:] if r.snapshots and r.snapshots.current]
    cpu = Cpu(
        process=process_cpu,
        moto=moto_cpu,
        poller=poller_cpu[0],
        schedule=max(0.0, schedule_cpu),
        snapshot=share.cpu_s + sum(r.snapshots.cpu_s for r in runtimes[1:]),
        snapshot_reads=share.reads * bool(shared) + sum(r.snapshots.reads for r in runtimes[1:]),
        share=share.cpu_s,
        snapshot_loads=sum(r.snapshots.loads for r in runtimes[1:]),
    )
    return Period(
        clusters=size,
        drifted=drifted,
        workers=workers,
        latency_s=seconds,
        wall_s=wall,
        cpu=cpu,
        calls=_merged(schedule_calls, calls),
        schedule_calls=schedule_calls,
        outcomes=dict(outcomes),
        batches=batches[0],
        dead_letters=dead,
        snapshot_roles=max((len(h.roles) for h in held), default=0),
        bulk_page_s=bulk_seconds,
        load=load,
        shared_roles=shared,
        prebuilt_s=prebuilt_s,
    )


def _progress(what: str, data: object) -> None:
    """One line on stderr per step as it ends (a long run's figures survive its end)."""
    print(f"fleet {what}: {json.dumps(data, default=str)}", file=sys.stderr, flush=True)


def _merged(a: Calls, b: Calls) -> Calls:
    return dataclasses.replace(a, counts=dict(Counter(a.counts) + Counter(b.counts)))


def worker_memory(world: BenchWorld, size: int) -> Memory:
    """Python allocations (:mod:`tracemalloc`) of one fresh worker reading the IAM
    snapshot of ``size`` clusters and checking one batch of them: the traced peak, and
    what is still held after (the snapshot, as a warm container keeps it). Another worker
    reads first, untraced, so moto's answers are computed outside the trace."""
    from kops_iam.application.drift import share_snapshot
    from kops_iam.application.settings import Defaults

    runtime = _runtime(world)
    keys = [f"{cluster(i)}/config" for i in range(min(size, Defaults.DRIFT_BATCH_SIZE))]
    start = time.perf_counter()
    # the schedule's shared snapshot (or, without a snapshot bucket, moto's answers) made
    # first, untraced, so the trace is (nearly) the worker's own allocations
    scheduler = _runtime(world)
    if runtime.store is not None:
        share_snapshot(scheduler.reconciler, runtime.store)
    else:
        scheduler.snapshots.get(runtime.reconciler.iam, 0.0)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        snapshot = runtime.snapshots.get(runtime.reconciler.iam, 0.0, runtime.store)
        for key in keys:
            runtime.reconciler.check_key(key, snapshot)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Memory(
        clusters=size,
        roles=len(snapshot.roles),
        peak_mb=(peak - before) / 2**20,
        retained_mb=(after - before) / 2**20,
        wall_s=time.perf_counter() - start,
    )


def _session() -> Any:
    from support.world import FUNCTION_SESSION

    return FUNCTION_SESSION


def run(
    sizes: tuple[int, ...],
    reps: dict[int, int],
    deadline: float | None = None,
) -> tuple[list[Row], dict[str, object]]:
    """Grow the fleet through ``sizes``. At each size one period at 100 ms (the growth
    figures and the target's latency) and, below the largest, ``reps[size]`` periods at
    25 ms (fewer past ``deadline``, a ``time.monotonic()`` value, but always one); at the
    largest, the memory of one worker, then one period at 25 ms unless past ``deadline``."""
    text = specs.sample(specs.SMALL)
    applies: dict[int, ApplyStep] = {}
    periods: dict[int, list[Period]] = {}
    slow: dict[int, Period] = {}
    big = sizes[-1]
    with bench_world() as world, moto_scale.active():
        from kops_iam.application.settings import Env

        os.environ[Env.DRIFT_QUEUE_URL] = world.world.resources.drift.url
        # The stack hides a received check for 6 x the function's timeout (infra/drift.py);
        # the test world's 30 s would hand a slow batch out twice on this loaded machine.
        world.world.sqs.set_queue_attributes(
            QueueUrl=world.world.resources.drift.url,
            Attributes={"VisibilityTimeout": str(STACK_VISIBILITY_S)},
        )
        latency = _install_latency(world)
        done = 0
        for size in sizes:
            applies[size] = grow(world, text, done, size)
            step = dataclasses.asdict(applies[size])
            _progress(f"grew to {size}", {**step, "per_cluster_ms": None})
            done = size
            slow[size] = period(world, latency, size, seed=size * 100 + 50, seconds=SLOW_LATENCY_S)
            _progress(f"period {size} at 100 ms", _raw(slow[size]))
            periods[size] = []
            wanted = max(1, reps.get(size, 1)) if size != big else 0
            for rep in range(wanted):
                if rep and deadline is not None and time.monotonic() > deadline:
                    break
                periods[size].append(period(world, latency, size, seed=size * 100 + rep))
                _progress(f"period {size} at 25 ms", _raw(periods[size][-1]))
        memory = worker_memory(world, big)
        _progress("memory", dataclasses.asdict(memory))
        if deadline is None or time.monotonic() <= deadline or len(sizes) == 1:
            periods[big].append(period(world, latency, big, seed=big * 100))
            _progress(f"period {big} at 25 ms", _raw(periods[big][-1]))
        bulk = {
            "served": moto_scale.BULK_ANSWERS.served,
            "computed": moto_scale.BULK_ANSWERS.computed,
        }
    rows = _rows(sizes, applies, periods, slow, memory)
    raw: dict[str, object] = {
        "workers": WORKERS,
        "bulk_page_s": BULK_PAGE_S,
        "bulk_answers": bulk,
        "apply": {
            s: {
                "clusters": a.clusters,
                "applied_through_function": a.applied,
                "wall_s": a.wall_s,
                "cpu_s": a.cpu_s,
                "fast_provisioning_s": a.fast_s,
                "calls": _flat(a.calls),
            }
            for s, a in applies.items()
        },
        "periods": {s: [_raw(p) for p in ps] for s, ps in periods.items()},
        "slow": {s: _raw(p) for s, p in slow.items()},
        "memory": dataclasses.asdict(memory),
        "model": {
            f"{page:g}s/page": {
                f"{mb}MB": model_minutes(slow[big], page_s=page, memory_mb=mb).minutes
                for mb in (LAMBDA_MEMORY_MB, FULL_VCPU_MB)
            }
            for page in BULK_PAGE_SENSITIVITY
        },
    }
    return rows, raw


def _raw(p: Period) -> dict[str, object]:
    return {
        "clusters": p.clusters,
        "drifted": p.drifted,
        "workers": p.workers,
        "latency_s": p.latency_s,
        "bulk_page_s": p.bulk_page_s,
        "wall_s": p.wall_s,
        "cpu_s": p.cpu_s,
        "cpu": {**dataclasses.asdict(p.cpu), "function": p.cpu.function, "checks": p.cpu.checks},
        "load_at_start": p.load,
        "batches": p.batches,
        "dead_letters": p.dead_letters,
        "outcomes": p.outcomes,
        "snapshot_roles": p.snapshot_roles,
        "shared_roles": p.shared_roles,
        "bulk_answer_prebuilt_s": p.prebuilt_s,
        "calls": _flat(p.calls),
        "schedule_calls": _flat(p.schedule_calls),
    }


def _flat(calls: Calls) -> dict[str, int]:
    return dict(sorted(calls.counts.items()))


# ------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class Model:
    """Minutes Lambda would take to check ``clusters``: a MODEL, not a measurement."""

    clusters: int
    minutes: float
    schedule_s: float
    snapshot_s: float
    checks_s: float
    cpu_scale: float
    calls_per_check: float
    cpu_per_check_ms: float
    snapshot_cpu_s: float
    pages_per_snapshot: int


def model_minutes(
    p: Period,
    *,
    clusters: int = TARGET_FLEET,
    page_s: float = BULK_PAGE_S,
    memory_mb: int = LAMBDA_MEMORY_MB,
    workers: int = WORKERS,
) -> Model:
    """Lambda's time for one drift period of ``clusters``, from period ``p``'s measured
    calls and function CPU (scaled linearly when ``p`` had fewer clusters):

    * the schedule: its listing pages one after the other, its ``SendMessageBatch`` calls
      ``drift_threads`` at a time, its CPU;
    * with a shared snapshot (docs/adr/0117), the schedule's bulk read too: its pages one
      after the other at ``page_s``, its parsing and writing CPU;
    * then, ``workers`` in parallel, each with ``clusters / workers`` checks: one snapshot
      (the shared one: a GET and its decoding CPU; else its own bulk read: its pages one
      after the other at ``page_s``, its parsing CPU), then its checks,
      ``drift_threads`` at a time, each taking the longer of its calls' latency and its
      CPU (a worker's threads share its CPU).

    CPU measured here is scaled by ``FULL_VCPU_MB / memory_mb`` (Lambda gives a function a
    share of a vCPU proportional to its memory; this machine's core taken as one vCPU).
    Lambda's own overheads (polling, invoking, batch hand-over) are not in it.
    """
    from kops_iam.application.settings import Settings

    threads = Settings().drift_threads
    scale = clusters / p.clusters
    cpu_scale = max(1.0, FULL_VCPU_MB / memory_mb)
    latency = p.latency_s
    sched = p.schedule_calls
    lists = sched.counts.get("s3:ListObjectsV2", 0) * scale
    sends = sched.counts.get("sqs:SendMessageBatch", 0) * scale
    schedule_s = lists * latency + sends * latency / threads + p.cpu.schedule * scale * cpu_scale
    roles = p.snapshot_roles * scale
    pages = max(1, math.ceil(roles / 1000))
    if p.shared_roles is not None:
        # the schedule reads IAM once and shares it (docs/adr/0117): its pages and parsing
        # come before any check; each worker then takes the copy (a GET and its decoding)
        per_read_cpu = p.cpu.share * scale
        schedule_s += pages * page_s + per_read_cpu * cpu_scale
        loads = max(1, p.cpu.snapshot_loads)
        snapshot_s = latency + (p.cpu.snapshot - p.cpu.share) / loads * scale * cpu_scale
    else:
        per_read_cpu = p.cpu.snapshot / max(1, p.cpu.snapshot_reads) * scale
        snapshot_s = pages * page_s + per_read_cpu * cpu_scale
    worker_pages = p.snapshot_pages - sched.counts.get("iam:GetAccountAuthorizationDetails", 0)
    worker_calls = p.calls.total - sched.total - worker_pages
    calls_per_check = worker_calls / p.clusters
    cpu_per_check = p.cpu.checks / p.clusters
    per_worker = clusters / workers
    checks_s = per_worker * max(calls_per_check * latency / threads, cpu_per_check * cpu_scale)
    total = schedule_s + snapshot_s + checks_s
    return Model(
        clusters=clusters,
        minutes=total / 60,
        schedule_s=schedule_s,
        snapshot_s=snapshot_s,
        checks_s=checks_s,
        cpu_scale=cpu_scale,
        calls_per_check=calls_per_check,
        cpu_per_check_ms=cpu_per_check * 1000,
        snapshot_cpu_s=per_read_cpu,
        pages_per_snapshot=pages,
    )


# ------------------------------------------------------------------------------- the rows


def _rows(
    sizes: tuple[int, ...],
    applies: dict[int, ApplyStep],
    periods: dict[int, list[Period]],
    slows: dict[int, Period],
    memory: Memory,
) -> list[Row]:
    rows: list[Row] = []
    start = 0
    big = sizes[-1]
    slow = slows[big]
    for size in sizes:
        step = applies[size]
        per = summarize(step.per_cluster_ms)
        c = step.calls
        fast = step.clusters - step.applied
        rows.append(
            Row(
                SECTION,
                f"first apply, clusters {start + 1:,}-{start + step.applied:,}",
                fmt(per, "ms/cluster", spread="iqr"),
                note=f"one Object Created event each through the function, no latency; "
                f"{step.wall_s:.1f} s in all; per cluster: IAM {c.iam_reads / step.applied:.1f} "
                f"reads + {c.iam_writes / step.applied:.1f} writes, S3 {c.s3 / step.applied:.1f}"
                + (
                    f"; the other {fast:,} clusters of the step provisioned fast in "
                    f"{step.fast_s:.1f} s (the reconciler's plan and writes straight to moto; "
                    "no events, not counted)"
                    if fast
                    else ""
                ),
            )
        )
        start = size
    for size in sizes:
        if periods[size]:
            rows.append(_period_row(periods[size]))
        rows.append(_period_row([slows[size]]))
    measured_big = big >= TARGET_FLEET
    where = "measured" if measured_big else f"PROJECTED from {big:,} clusters"
    # IAM calls per unchanged cluster: unchanged checks make no per-role IAM call (every
    # per-role call is a drifted cluster's reconcile), so theirs are the bulk read's pages.
    at_big = [(p, f"{p.latency_s * 1000:.0f} ms") for p in [*periods[big][:1], slow]]
    for p, label in at_big:
        unchanged = p.clusters - p.drifted
        corrected = p.outcomes.get("Drift Corrected", 0)
        per_unchanged = p.snapshot_pages / unchanged
        value = f"{per_unchanged:.4f}"
        if not measured_big:
            # each worker reads every kops role once: 1,000 roles a page at most
            roles = p.snapshot_roles / p.clusters * TARGET_FLEET
            readers = 1 if p.shared_roles is not None else p.workers
            per_unchanged = readers * math.ceil(roles / 1000) / (TARGET_FLEET * 0.99)
            value = f"{per_unchanged:.4f} (projected; measured {p.snapshot_pages / unchanged:.4f})"
        rows.append(
            Row(
                SECTION,
                f"IAM calls per unchanged cluster per period, {TARGET_FLEET:,} clusters ({label})",
                value,
                target=f"<= {TARGET_IAM_PER_UNCHANGED} at {TARGET_FLEET:,}",
                status=verdict(per_unchanged <= TARGET_IAM_PER_UNCHANGED),
                note=f"{where}: {p.snapshot_pages} GetAccountAuthorizationDetails page(s) by "
                f"{p.cpu.snapshot_reads} bulk read(s) "
                + (
                    f"(the schedule's, shared with the {p.workers} workers through S3: "
                    f"{p.cpu.snapshot_loads} GetObject) "
                    if p.shared_roles is not None
                    else f"of {p.workers} workers "
                )
                + f"({p.snapshot_roles:,} kops roles, 1,000 a page) for {unchanged:,} "
                f"unchanged clusters of {p.clusters:,}; "
                f"the {p.per_role_iam} other IAM calls are the {corrected} drifted clusters' "
                f"reconciles ({p.per_role_iam / max(corrected, 1):.1f} each); all IAM calls "
                f"per cluster {p.calls.where('iam') / p.clusters:.3f}. The cost moved to S3: "
                f"{p.calls.s3 / p.clusters:.2f} S3 calls and "
                f"{p.calls.where('sqs') / p.clusters:.2f} SQS calls per cluster",
            )
        )
    measured = slow.clusters >= TARGET_FLEET
    minutes = slow.wall_s / 60 * (TARGET_FLEET / slow.clusters)
    cpu = slow.cpu
    rows.append(
        Row(
            SECTION,
            f"minutes to check {TARGET_FLEET:,} clusters at 100 ms/call, {slow.workers} workers "
            "(this bench: one process)",
            f"{minutes:.2f} min",
            target=f"<= {TARGET_MINUTES:g}",
            status=verdict(minutes <= TARGET_MINUTES and slow.workers <= 10),
            note=(
                f"measured: {slow.wall_s:.1f} s for {slow.clusters:,} clusters"
                if measured
                else f"PROJECTED (linear) from {slow.wall_s:.1f} s measured for "
                f"{slow.clusters:,} clusters"
            )
            + f", schedule's listing and queueing included, {BULK_PAGE_S:g} s per bulk page; "
            f"{slow.batches} batches. CPU-bound: the process used {cpu.process:.0f} s of CPU "
            f"in it ({cpu.process / slow.wall_s:.2f} cores; load average {slow.load:.1f} at "
            f"its start): the function {cpu.function:.0f} s (of which parsing "
            f"{cpu.snapshot_reads} snapshots {cpu.snapshot:.0f} s), moto {cpu.moto:.0f} s, "
            f"the bench's pollers {cpu.poller:.0f} s; {slow.workers} workers x 4 threads "
            "share one GIL here, where Lambda gives each worker its own CPU; moto built its "
            f"bulk answer before the period ({slow.prebuilt_s:.0f} s, not in it: each page is "
            f"charged {BULK_PAGE_S:g} s instead)",
        )
    )
    rows.append(_model_row(slow))
    every = [p for s in sizes for p in [*periods[s], slows[s]]]
    writes_ok = all(
        p.calls.iam_writes == p.outcomes.get("Drift Corrected", 0) == p.drifted
        and p.dead_letters == 0
        for p in every
    )
    rows.append(
        Row(
            SECTION,
            "IAM writes only for drifted clusters (every period)",
            " / ".join(f"{p.calls.iam_writes} for {p.drifted}" for p in every),
            target="writes = drifted, none left",
            status=verdict(writes_ok),
            note="one PutRolePolicy per drifted cluster, Drift Corrected for each, nothing in "
            "the dead-letter queue (measured, every period of every size)",
        )
    )
    rows.append(
        Row(
            SECTION,
            f"memory of one worker, {memory.clusters:,} clusters",
            f"{memory.peak_mb:.1f} MB peak",
            f"{memory.retained_mb:.1f} MB held",
            target="info",
            note=f"measured (tracemalloc): Python allocations of one fresh worker while it "
            f"reads the IAM snapshot ({memory.roles:,} kops roles) and checks one batch; "
            "peak during it, and held after (the snapshot a warm container keeps); bulk "
            "answers served from the bench's cache, so moto's allocations are nearly out "
            f"of it; the interpreter, libraries and clients (~80 MB RSS) are not; "
            f"{memory.wall_s:.1f} s",
        )
    )
    if len(sizes) >= 2:
        rows.extend(_growth(sizes, {s: [slows[s]] for s in sizes}))
    return rows


def _model_row(slow: Period) -> Row:
    m = model_minutes(slow)
    others = ", ".join(
        f"{page:g} s/page: {model_minutes(slow, page_s=page).minutes:.1f} min"
        for page in BULK_PAGE_SENSITIVITY
        if page != BULK_PAGE_S
    )
    full = model_minutes(slow, memory_mb=FULL_VCPU_MB).minutes
    basis = (
        f"{slow.clusters:,} clusters measured"
        if slow.clusters >= TARGET_FLEET
        else f"{slow.clusters:,} clusters measured, counts scaled to {TARGET_FLEET:,}"
    )
    return Row(
        SECTION,
        f"MODEL: minutes to check {TARGET_FLEET:,} clusters on Lambda at 100 ms/call, "
        f"{WORKERS} workers, {BULK_PAGE_S:g} s/bulk page, {LAMBDA_MEMORY_MB} MB",
        f"{m.minutes:.2f} min",
        target=f"<= {TARGET_MINUTES:g} (model)",
        status=verdict(m.minutes <= TARGET_MINUTES),
        note=f"MODELLED, not measured ({basis}): schedule {m.schedule_s:.0f} s"
        + (
            f" (with the shared snapshot: {m.pages_per_snapshot} pages x {BULK_PAGE_S:g} s + "
            f"{m.snapshot_cpu_s:.1f} s parsing and writing CPU x {m.cpu_scale:.2f}) + per "
            f"worker taking it {m.snapshot_s:.0f} s"
            if slow.shared_roles is not None
            else f" + per worker snapshot {m.snapshot_s:.0f} s ({m.pages_per_snapshot} pages x "
            f"{BULK_PAGE_S:g} s + {m.snapshot_cpu_s:.1f} s parsing CPU x {m.cpu_scale:.2f})"
        )
        + f" + checks {m.checks_s:.0f} s "
        f"({TARGET_FLEET // WORKERS:,} per worker, 4 at a time, each the longer of "
        f"{m.calls_per_check:.2f} calls x 100 ms and {m.cpu_per_check_ms:.1f} ms measured "
        f"function CPU x {m.cpu_scale:.2f}: Lambda's CPU share at {LAMBDA_MEMORY_MB} MB of "
        f"{FULL_VCPU_MB} MB per vCPU). Sensitivity: {others}; "
        f"{full:.1f} min at {FULL_VCPU_MB} MB. Lambda's polling and invoke overheads not in it",
    )


def _period_row(ps: list[Period]) -> Row:
    p = ps[0]
    wall = summarize([x.wall_s for x in ps])
    c = p.calls
    cpu = p.cpu
    return Row(
        SECTION,
        f"drift period, {p.clusters:,} clusters, {p.latency_s * 1000:.0f} ms/call, "
        f"{p.workers} workers",
        fmt(wall, "s", 2),
        f"{wall.median * 1000 / p.clusters:.2f} ms/cluster",
        note=f"{c.total:,} calls ({c.total / p.clusters:.2f}/cluster: IAM "
        f"{c.iam_reads:,} reads [{p.snapshot_pages} bulk] + {c.iam_writes} writes, S3 {c.s3:,}, "
        f"SQS {c.where('sqs'):,}, EventBridge {c.events}); drifted {p.drifted}, outcomes "
        f"{p.outcomes}; {p.batches} batches; dead letters {p.dead_letters}; CPU "
        f"{cpu.process:.1f} s = function {cpu.function:.1f} s (checks "
        f"{cpu.checks / p.clusters * 1000:.1f} ms each, {cpu.snapshot_reads} snapshots "
        f"{cpu.snapshot:.1f} s, schedule {cpu.schedule:.1f} s) + moto {cpu.moto:.1f} s + "
        f"pollers {cpu.poller:.1f} s; load {p.load:.1f} at its start; moto's bulk answer "
        f"built before it in {p.prebuilt_s:.1f} s (not in it: each page is charged "
        f"{p.bulk_page_s:g} s instead)",
    )


def _growth(sizes: tuple[int, ...], periods: dict[int, list[Period]]) -> list[Row]:
    pairs = list(itertools.pairwise(sizes))
    firsts = {s: periods[s][0] for s in sizes}
    latency = firsts[sizes[-1]].latency_s
    calls = {s: firsts[s].calls.total / s for s in sizes}
    walls = {s: summarize([p.wall_s for p in periods[s]]).median / s * 1000 for s in sizes}
    big, mid = sizes[-1], sizes[-2]
    calls_flat = abs(calls[big] / calls[mid] - 1) <= 0.05
    # wall time per cluster at the largest fleet no more than 30% above the next one down
    # (the smallest carries the fixed costs: snapshot, cold workers)
    time_flat = walls[big] <= 1.3 * walls[mid]
    exponent = math.log(
        summarize([p.wall_s for p in periods[big]]).median
        / summarize([p.wall_s for p in periods[mid]]).median
    ) / math.log(big / mid)

    def per(s: int, seconds: float) -> str:
        return f"{seconds / s * 1000:.1f}"

    split = "; ".join(
        f"{s:,}: function {per(s, firsts[s].cpu.function)} (checks "
        f"{per(s, firsts[s].cpu.checks)}, snapshots {per(s, firsts[s].cpu.snapshot)}), moto "
        f"{per(s, firsts[s].cpu.moto)}, pollers {per(s, firsts[s].cpu.poller)}, wall "
        f"{walls[s]:.1f}"
        for s in sizes
    )
    return [
        Row(
            SECTION,
            f"growth {' -> '.join(f'{s:,}' for s in sizes)}: calls",
            " / ".join(f"{calls[s]:.2f}" for s in sizes) + " calls/cluster",
            " / ".join(f"{calls[b] / calls[a]:.2f}x" for a, b in pairs),
            "linear",
            verdict(calls_flat),
            note="calls per cluster constant within 5% between the two largest fleets",
        ),
        Row(
            SECTION,
            f"growth {' -> '.join(f'{s:,}' for s in sizes)}: time",
            " / ".join(f"{walls[s]:.2f}" for s in sizes) + " ms/cluster",
            " / ".join(f"{walls[b] / walls[a]:.2f}x" for a, b in pairs),
            "linear",
            verdict(time_flat),
            note=f"time ~ clusters^{exponent:.2f} between {mid:,} and {big:,} at "
            f"{latency * 1000:.0f} ms/call; wall time also moves with the machine's load",
        ),
        Row(
            SECTION,
            "growth: where the time went (CPU ms per cluster)",
            " / ".join(f"{firsts[s].cpu.process / s * 1000:.1f}" for s in sizes)
            + " ms CPU/cluster",
            target="info",
            note=f"measured per period ({latency * 1000:.0f} ms/call; 'snapshots' grows "
            "until every worker gets a batch, 50 checks each): " + split,
        ),
    ]
