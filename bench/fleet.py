"""Fleet: drift periods on the fan-out over 10 -> 100 -> 1,000 -> 10,000 clusters on moto.

One moto account grows from the smallest fleet to the largest: each step uploads the new
clusters' specs and applies them through ``lambda_handler`` (one ``Object Created`` event
each, as S3 would send them: the *first apply* figures). Then a **drift period** runs as
the stack runs it (docs/adr/0110): the schedule's invocation lists the specs and queues
one check per cluster on the drift queue; ``WORKERS`` threads, each a fresh container (its
own runtime from ``build_runtime``, so its own IAM snapshot), drain the same queue the
way the event source mapping does (batches of ``Defaults.DRIFT_BATCH_SIZE``, failed items
back at once) until it is empty. Before each period about 1% of the clusters (at least
one) lose their node's additional policy "by hand", so every period also corrects drift.

Every AWS call of the function waits ``latency`` first (a botocore ``before-send`` hook on
the function's session: 25 ms, and 100 ms at the largest fleet), as calls to AWS would;
moto then answers. Per period: wall time, the function's calls per service and operation
(the world's wire), IAM writes, outcomes, the dead-letter queue. Peak memory per worker:
one more period with a single worker traced by :mod:`tracemalloc` (moto's transient
allocations included: an upper bound of what one container holds).

Quick mode measures small fleets and projects the 10,000-cluster figures from the largest
one it measured (linear in clusters); each row says whether it was measured or projected.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
#: The drift queue's visibility timeout in the stack: 6 x the function's 5-minute timeout.
STACK_VISIBILITY_S = 6 * 300
#: The issue's targets.
TARGET_FLEET = 10_000
TARGET_IAM_PER_UNCHANGED = 0.1
TARGET_MINUTES = 5.0


@dataclass(frozen=True)
class ApplyStep:
    clusters: int
    wall_s: float
    cpu_s: float
    per_cluster_ms: list[float]
    calls: Calls


@dataclass(frozen=True)
class Period:
    clusters: int
    drifted: int
    workers: int
    latency_s: float
    wall_s: float
    cpu_s: float  # CPU time of the whole process (function and moto, every thread)
    calls: Calls
    outcomes: dict[str, int]
    batches: int
    dead_letters: int
    traced_peak_mb: float | None = None
    #: kops roles in a worker's snapshot (0: no worker read one)
    snapshot_roles: int = 0

    @property
    def snapshot_pages(self) -> int:
        return self.calls.counts.get("iam:GetAccountAuthorizationDetails", 0)

    @property
    def per_role_iam(self) -> int:
        """IAM calls other than the bulk read (the drifted clusters' reconciles)."""
        return self.calls.where("iam") - self.snapshot_pages


def cluster(index: int) -> str:
    return f"c{index:05d}.fleet.k8s.example.com"


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def apply_new(world: BenchWorld, text: str, start: int, stop: int) -> ApplyStep:
    """Upload and apply clusters ``start..stop-1`` (one event each, as S3 sends them)."""
    versions = {}
    for i in range(start, stop):
        versions[i] = world.put_spec(f"{cluster(i)}/config", specs.renamed(text, cluster(i)))
    world.calls.take()
    per_cluster: list[float] = []
    begin = time.perf_counter()
    cpu_begin = time.process_time()
    for i in range(start, stop):
        t0 = time.perf_counter()
        result = world.invoke(object_event(f"{cluster(i)}/config", version_id=versions[i]))
        per_cluster.append((time.perf_counter() - t0) * 1000)
        kinds = {o.get("detailType") for o in result.get("outcomes", [])}
        if kinds != {"Spec Applied"}:
            raise RuntimeError(f"first apply of {cluster(i)} ended with {kinds}")
    wall = time.perf_counter() - begin
    cpu = time.process_time() - cpu_begin
    return ApplyStep(stop - start, wall, cpu, per_cluster, world.calls.take())


class Latency:
    """Every call of the function's session waits ``seconds`` before moto answers."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, **_: Any) -> None:
        if self.seconds:
            time.sleep(self.seconds)


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


def period(
    world: BenchWorld,
    latency: Latency,
    size: int,
    *,
    seed: int,
    workers: int = WORKERS,
    seconds: float = LATENCY_S,
    trace: bool = False,
) -> Period:
    """One drift period over ``size`` clusters: schedule, then ``workers`` draining."""
    from kops_iam.application import handler
    from kops_iam.application.settings import Defaults

    drifted = _drift(world, size, seed)
    queue = world.world.drift_queue
    runtimes = [
        handler.build_runtime(os.environ, account_id=world.world.account, session=_session())
        for _ in range(workers + 1)
    ]
    world.calls.take()
    if trace:  # the process's RSS high-water mark from here (tracemalloc: 10x slower)
        _reset_peak_rss()
        base_kb = _status_kb("VmRSS") or 0
    latency.seconds = seconds
    outcomes: Counter[str] = Counter()
    batches = [0]
    lock = threading.Lock()
    poller = threading.Lock()
    errors: list[BaseException] = []
    start = time.perf_counter()
    cpu_start = time.process_time()
    queued = handler.handle(scheduled_event(), LambdaContext(), runtimes[0], None)
    if queued["drift"]["queued"] != size:
        raise RuntimeError(f"the schedule queued {queued['drift']} for {size} clusters")

    def drain(runtime: Any) -> None:
        try:
            while True:
                with poller:  # Lambda's poller (moto's SQS is not thread-safe); not counted
                    messages = queue.receive(Defaults.DRIFT_BATCH_SIZE)
                    empty = not messages and queue.depth() == 0
                if empty:
                    return
                if not messages:  # others hold the rest: look again soon
                    time.sleep(0.2)
                    continue
                answer = handler.handle(queue.event(messages), LambdaContext(), runtime, None)
                with poller:
                    queue.settle(messages, answer)
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
    cpu = time.process_time() - cpu_start
    latency.seconds = 0.0
    traced = None
    if trace:
        traced = ((_status_kb("VmHWM") or 0) - base_kb) / 1024
    if errors:
        raise errors[0]
    calls = world.calls.take()
    dead = len(world.world.drift_dead_letters())
    held = [r.snapshots.current for r in runtimes[1:] if r.snapshots and r.snapshots.current]
    return Period(
        clusters=size,
        drifted=drifted,
        workers=workers,
        latency_s=seconds,
        wall_s=wall,
        cpu_s=cpu,
        calls=calls,
        outcomes=dict(outcomes),
        batches=batches[0],
        dead_letters=dead,
        traced_peak_mb=traced,
        snapshot_roles=max((len(h.roles) for h in held), default=0),
    )


def _session() -> Any:
    from support.world import FUNCTION_SESSION

    return FUNCTION_SESSION


def run(
    sizes: tuple[int, ...],
    reps: dict[int, int],
    deadline: float | None = None,
) -> tuple[list[Row], dict[str, object]]:
    """Grow the fleet through ``sizes``; ``reps[size]`` periods at 25 ms at each (fewer
    past ``deadline``, a ``time.monotonic()`` value, but always one); at the largest, one
    period at 100 ms and one traced single-worker period."""
    text = specs.sample(specs.SMALL)
    applies: dict[int, ApplyStep] = {}
    periods: dict[int, list[Period]] = {}
    with bench_world() as world:
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
            applies[size] = apply_new(world, text, done, size)
            done = size
            periods[size] = []
            for rep in range(max(1, reps.get(size, 1))):
                if rep and deadline is not None and time.monotonic() > deadline:
                    break
                periods[size].append(period(world, latency, size, seed=size * 100 + rep))
        big = sizes[-1]
        slow = period(world, latency, big, seed=big * 100 + 50, seconds=SLOW_LATENCY_S)
        traced = period(
            world, latency, big, seed=big * 100 + 99, workers=1, seconds=0.0, trace=True
        )
    rows = _rows(sizes, applies, periods, slow, traced)
    raw: dict[str, object] = {
        "workers": WORKERS,
        "apply": {
            s: {
                "clusters": a.clusters,
                "wall_s": a.wall_s,
                "cpu_s": a.cpu_s,
                "calls": _flat(a.calls),
            }
            for s, a in applies.items()
        },
        "periods": {s: [_raw(p) for p in ps] for s, ps in periods.items()},
        "slow": _raw(slow),
        "traced": _raw(traced),
    }
    return rows, raw


def _raw(p: Period) -> dict[str, object]:
    return {
        "clusters": p.clusters,
        "drifted": p.drifted,
        "workers": p.workers,
        "latency_s": p.latency_s,
        "wall_s": p.wall_s,
        "cpu_s": p.cpu_s,
        "batches": p.batches,
        "dead_letters": p.dead_letters,
        "outcomes": p.outcomes,
        "traced_peak_mb": p.traced_peak_mb,
        "calls": _flat(p.calls),
    }


def _flat(calls: Calls) -> dict[str, int]:
    return dict(sorted(calls.counts.items()))


def _rows(
    sizes: tuple[int, ...],
    applies: dict[int, ApplyStep],
    periods: dict[int, list[Period]],
    slow: Period,
    traced: Period,
) -> list[Row]:
    rows: list[Row] = []
    for size in sizes:
        step = applies[size]
        per = summarize(step.per_cluster_ms)
        c = step.calls
        rows.append(
            Row(
                SECTION,
                f"first apply, clusters {size - step.clusters + 1}-{size}",
                fmt(per, "ms/cluster", spread="iqr"),
                note=f"one Object Created event each, no latency; {step.wall_s:.1f} s in all; "
                f"per cluster: IAM {c.iam_reads / step.clusters:.1f} reads + "
                f"{c.iam_writes / step.clusters:.1f} writes, S3 {c.s3 / step.clusters:.1f}",
            )
        )
    for size in sizes:
        rows.append(_period_row(periods[size]))
    rows.append(_period_row([slow]))
    big = sizes[-1]
    measured_big = big >= TARGET_FLEET
    where = "measured" if measured_big else f"PROJECTED from {big:,} clusters"
    # IAM calls per unchanged cluster: unchanged checks make no per-role IAM call (every
    # per-role call is a drifted cluster's reconcile), so theirs are the bulk read's pages.
    for p, label in ((periods[big][0], f"{LATENCY_S * 1000:.0f} ms"), (slow, "100 ms")):
        unchanged = p.clusters - p.drifted
        corrected = p.outcomes.get("Drift Corrected", 0)
        per_unchanged = p.snapshot_pages / unchanged
        value = f"{per_unchanged:.4f}"
        if not measured_big:
            # each worker reads every kops role once: 1,000 roles a page at most
            roles = p.snapshot_roles / p.clusters * TARGET_FLEET
            per_unchanged = p.workers * math.ceil(roles / 1000) / (TARGET_FLEET * 0.99)
            value = f"{per_unchanged:.4f} (projected; measured {p.snapshot_pages / unchanged:.4f})"
        rows.append(
            Row(
                SECTION,
                f"IAM calls per unchanged cluster per period, {TARGET_FLEET:,} clusters ({label})",
                value,
                target=f"<= {TARGET_IAM_PER_UNCHANGED} at {TARGET_FLEET:,}",
                status=verdict(per_unchanged <= TARGET_IAM_PER_UNCHANGED),
                note=f"{where}: {p.snapshot_pages} GetAccountAuthorizationDetails call(s) by "
                f"{p.workers} workers (one snapshot each, {p.snapshot_roles:,} kops roles; moto "
                f"answers in one page, IAM in pages of at most 1,000) for {unchanged:,} "
                f"unchanged clusters of {p.clusters:,}; "
                f"the {p.per_role_iam} other IAM calls are the {corrected} drifted clusters' "
                f"reconciles ({p.per_role_iam / max(corrected, 1):.1f} each); all IAM calls "
                f"per cluster {p.calls.where('iam') / p.clusters:.3f}. The cost moved to S3: "
                f"{p.calls.s3 / p.clusters:.2f} S3 calls and "
                f"{p.calls.where('sqs') / p.clusters:.2f} SQS calls per cluster",
            )
        )
    minutes = slow.wall_s / 60 * (TARGET_FLEET / slow.clusters)
    rows.append(
        Row(
            SECTION,
            f"minutes to check {TARGET_FLEET:,} clusters at 100 ms/call, {slow.workers} workers",
            f"{minutes:.2f} min",
            target=f"<= {TARGET_MINUTES:g}",
            status=verdict(minutes <= TARGET_MINUTES and slow.workers <= 10),
            note=(
                f"measured: {slow.wall_s:.1f} s for {slow.clusters:,} clusters"
                if slow.clusters == TARGET_FLEET
                else f"PROJECTED (linear) from {slow.wall_s:.1f} s measured for "
                f"{slow.clusters:,} clusters"
            )
            + f", schedule's listing and queueing included; {slow.batches} batches; the "
            "function's process shares 2 CPU cores with moto and every worker thread",
        )
    )
    writes_ok = all(
        p.calls.iam_writes == p.outcomes.get("Drift Corrected", 0) == p.drifted
        and p.dead_letters == 0
        for ps in [*periods.values(), [slow, traced]]
        for p in ps
    )
    rows.append(
        Row(
            SECTION,
            "IAM writes only for drifted clusters (every period)",
            " / ".join(
                f"{p.calls.iam_writes} for {p.drifted}"
                for ps in [*periods.values(), [slow]]
                for p in ps[:1]
            ),
            target="writes = drifted, none left",
            status=verdict(writes_ok),
            note="one PutRolePolicy per drifted cluster, Drift Corrected for each, nothing in "
            "the dead-letter queue (measured, every period of every size)",
        )
    )
    rows.append(
        Row(
            SECTION,
            f"peak memory of one worker, {traced.clusters:,} clusters",
            f"{traced.traced_peak_mb:.1f} MB",
            target="info",
            note="measured: growth of the process's peak RSS (VmHWM after clear_refs) during a "
            "period drained by one worker alone (it holds the IAM snapshot of every kops "
            f"role); moto's transient allocations included; {traced.wall_s:.1f} s without "
            "latency",
        )
    )
    if len(sizes) >= 2:
        rows.extend(_growth(sizes, periods))
    return rows


def _period_row(ps: list[Period]) -> Row:
    p = ps[0]
    wall = summarize([x.wall_s for x in ps])
    c = p.calls
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
        f"{p.cpu_s:.1f} s",
    )


def _growth(sizes: tuple[int, ...], periods: dict[int, list[Period]]) -> list[Row]:
    pairs = list(itertools.pairwise(sizes))
    firsts = {s: periods[s][0] for s in sizes}
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
            f"{LATENCY_S * 1000:.0f} ms/call; wall time also moves with the machine's load",
        ),
    ]
