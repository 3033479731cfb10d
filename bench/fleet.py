"""Fleet: the scheduled drift run over 10 -> 100 -> 1,000 clusters on moto in-process.

One moto account grows from the smallest fleet to the largest: each step uploads the new
clusters' specs and applies them through ``lambda_handler`` (one ``Object Created`` event
each, as S3 would send them: the *first apply* figures), then runs the drift schedule's
event over the whole bucket, repeatedly. Before each drift run about 1% of the clusters
(at least one) lose their node's additional policy "by hand", so every run also corrects
drift. Per run: wall time, AWS calls, IAM writes, and the growth of the process's peak RSS
during the run (``/proc/self/clear_refs`` resets the high-water mark). One more run per size
is traced with :mod:`tracemalloc` (slower, so not timed): the peak of Python allocations
above the start of the run. moto shares the process, so both memory figures include its
transient allocations while it answers; its stored state does not grow during a run.

Growth is judged from calls and time per cluster at each size and the ratios between
sizes, measured in the same process and run.
"""

from __future__ import annotations

import itertools
import math
import random
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from support.wire import Calls

from bench import specs
from bench.aws import BenchWorld, bench_world
from bench.report import Row, fmt, verdict
from bench.stats import summarize
from kops_iam_tools.world.events import object_event, scheduled_event

SECTION = "fleet"
DRIFT_FRACTION = 0.01
#: Lambda's limit, and the margin the reconciler keeps (Settings.scan_time_margin_seconds).
LAMBDA_LIMIT_S = 900.0


@dataclass(frozen=True)
class ApplyStep:
    clusters: int
    wall_s: float
    cpu_s: float
    per_cluster_ms: list[float]
    calls: Calls


@dataclass(frozen=True)
class DriftRun:
    clusters: int
    drifted: int
    wall_s: float
    cpu_s: float  # CPU time of the whole process (function and moto, every thread)
    calls: Calls
    rss_growth_mb: float | None
    traced_peak_mb: float | None
    outcomes: dict[str, int]
    skipped: int


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


def drift_run(world: BenchWorld, size: int, seed: int, trace: bool = False) -> DriftRun:
    """Put drift on ~1% of ``size`` clusters, then run the scheduled event over the bucket.

    With ``trace``, :mod:`tracemalloc` records the peak of Python allocations during the run.
    """
    from kops_iam.domain.naming import additional_policy_name, role_name

    drifted = random.Random(seed).sample(range(size), max(1, round(size * DRIFT_FRACTION)))
    with world.calls.paused():
        for i in drifted:
            role = role_name("node", cluster(i))
            world.iam.delete_role_policy(RoleName=role, PolicyName=additional_policy_name(role))
    world.calls.take()
    tracked = _reset_peak_rss()
    before = _status_kb("VmRSS")
    if trace:
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
    start = time.perf_counter()
    cpu_start = time.process_time()
    result = world.invoke(scheduled_event())
    cpu = time.process_time() - cpu_start
    wall = time.perf_counter() - start
    peak = _status_kb("VmHWM")
    traced = None
    if trace:
        traced = (tracemalloc.get_traced_memory()[1] - base) / 2**20
        tracemalloc.stop()
    calls = world.calls.take()
    outcomes = Counter(str(o.get("detailType")) for o in result.get("outcomes", []))
    growth = (peak - before) / 1024 if tracked and peak and before else None
    return DriftRun(
        clusters=size,
        drifted=len(drifted),
        wall_s=wall,
        cpu_s=cpu,
        calls=calls,
        rss_growth_mb=None if trace else growth,
        traced_peak_mb=traced,
        outcomes=dict(outcomes),
        skipped=size - sum(outcomes.values()),
    )


def run(
    sizes: tuple[int, ...], reps: dict[int, int], deadline: float | None = None
) -> tuple[list[Row], dict[str, object]]:
    """Grow the fleet through ``sizes``; ``reps[size]`` drift runs at each (fewer past
    ``deadline``, a ``time.monotonic()`` value, but always at least one)."""
    text = specs.sample(specs.SMALL)
    applies: dict[int, ApplyStep] = {}
    drifts: dict[int, list[DriftRun]] = {}
    traced: dict[int, DriftRun] = {}
    with bench_world() as world:
        done = 0
        for size in sizes:
            applies[size] = apply_new(world, text, done, size)
            done = size
            drifts[size] = [drift_run(world, size, seed=size * 100)]
            if size <= 100 or deadline is None or time.monotonic() < deadline:
                traced[size] = drift_run(world, size, seed=size * 100 + 99, trace=True)
            for rep in range(1, reps.get(size, 1)):
                if deadline is not None and time.monotonic() > deadline:
                    break
                drifts[size].append(drift_run(world, size, seed=size * 100 + rep))
    rows = _rows(sizes, applies, drifts, traced)
    raw: dict[str, object] = {
        "apply": {
            s: {
                "clusters": a.clusters,
                "wall_s": a.wall_s,
                "cpu_s": a.cpu_s,
                "calls": _flat(a.calls),
            }
            for s, a in applies.items()
        },
        "drift": {
            s: [
                {
                    "wall_s": d.wall_s,
                    "cpu_s": d.cpu_s,
                    "drifted": d.drifted,
                    "rss_growth_mb": d.rss_growth_mb,
                    "outcomes": d.outcomes,
                    "calls": _flat(d.calls),
                }
                for d in runs
            ]
            for s, runs in drifts.items()
        },
        "traced_peak_mb": {s: d.traced_peak_mb for s, d in traced.items()},
    }
    return rows, raw


def _flat(calls: Calls) -> dict[str, int]:
    return dict(sorted(calls.counts.items()))


def _rows(
    sizes: tuple[int, ...],
    applies: dict[int, ApplyStep],
    drifts: dict[int, list[DriftRun]],
    traced: dict[int, DriftRun],
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
                note=f"one Object Created event each; CPU {step.cpu_s * 1000 / step.clusters:.1f} "
                f"ms/cluster (mean); {step.wall_s:.1f} s in all; "
                f"per cluster: IAM "
                f"{c.iam_reads / step.clusters:.1f} reads + {c.iam_writes / step.clusters:.1f} "
                f"writes, S3 {c.s3 / step.clusters:.1f}, EventBridge "
                f"{c.events / step.clusters:.1f}",
            )
        )
    per_cluster_ms: dict[int, float] = {}
    cpu_per_cluster_ms: dict[int, float] = {}
    calls_per_cluster: dict[int, float] = {}
    rss: dict[int, float] = {}
    for size in sizes:
        runs = drifts[size]
        wall = summarize([d.wall_s for d in runs])
        first = runs[0]
        calls = first.calls
        per_cluster_ms[size] = wall.median * 1000 / size
        cpu_per_cluster_ms[size] = summarize([d.cpu_s for d in runs]).median * 1000 / size
        calls_per_cluster[size] = calls.total / size
        growth = [d.rss_growth_mb for d in runs if d.rss_growth_mb is not None]
        rss[size] = summarize(growth).median if growth else float("nan")
        writes = [d.calls.iam_writes for d in runs]
        corrected = [d.outcomes.get("Drift Corrected", 0) for d in runs]
        drifted = [d.drifted for d in runs]
        rows.append(
            Row(
                SECTION,
                f"drift run, {size:,} clusters",
                fmt(wall, "s", 2),
                f"{per_cluster_ms[size]:.1f} ms/cluster",
                note=f"CPU {cpu_per_cluster_ms[size]:.1f} ms/cluster; "
                f"{calls.total:,} calls ({calls_per_cluster[size]:.2f}/cluster: IAM "
                f"{calls.iam_reads:,} reads + {calls.iam_writes} writes, S3 {calls.s3:,}, "
                f"EventBridge {calls.events}); drifted {drifted}, corrected {corrected}, "
                f"IAM writes {writes}; skipped {[d.skipped for d in runs]}; peak RSS growth "
                f"{rss[size]:.1f} MB; outcomes {first.outcomes}",
            )
        )
    peaks = {s: d.traced_peak_mb for s, d in traced.items() if d.traced_peak_mb is not None}
    if len(sizes) >= 2:
        rows.extend(
            _growth(
                sizes, drifts, per_cluster_ms, cpu_per_cluster_ms, calls_per_cluster, rss, peaks
            )
        )
    return rows


def _growth(
    sizes: tuple[int, ...],
    drifts: dict[int, list[DriftRun]],
    per_cluster_ms: dict[int, float],
    cpu_per_cluster_ms: dict[int, float],
    calls_per_cluster: dict[int, float],
    rss: dict[int, float],
    peaks: dict[int, float],
) -> list[Row]:
    pairs = list(itertools.pairwise(sizes))
    walls = {s: summarize([d.wall_s for d in drifts[s]]).median for s in sizes}
    cpus = {s: summarize([d.cpu_s for d in drifts[s]]).median for s in sizes}
    cpu_ratios = " / ".join(f"{cpus[b] / cpus[a]:.1f}x" for a, b in pairs)
    calls = {s: drifts[s][0].calls.total for s in sizes}
    wall_ratios = " / ".join(f"{walls[b] / walls[a]:.1f}x" for a, b in pairs)
    call_ratios = " / ".join(f"{calls[b] / calls[a]:.1f}x" for a, b in pairs)
    size_ratios = " / ".join(f"{b / a:.0f}x" for a, b in pairs)
    rss_ratios = " / ".join(
        f"{rss[b] / rss[a]:.1f}x" if rss[a] > 0 and not math.isnan(rss[b]) else "n/a"
        for a, b in pairs
    )
    big, mid = sizes[-1], sizes[-2]
    # Linear: calls per cluster constant (within 2%) and CPU time per cluster at the largest
    # size no more than 30% above the next size down (the smallest size carries fixed costs).
    # CPU time, not wall time, decides: other processes on the machine stretch wall time.
    calls_flat = abs(calls_per_cluster[big] / calls_per_cluster[mid] - 1) <= 0.02
    cpu_flat = cpu_per_cluster_ms[big] <= 1.3 * cpu_per_cluster_ms[mid]
    exponent = math.log(walls[big] / walls[mid]) / math.log(big / mid)
    cpu_exponent = math.log(cpus[big] / cpus[mid]) / math.log(big / mid)
    return [
        Row(
            SECTION,
            f"growth {' -> '.join(f'{s:,}' for s in sizes)}: calls",
            " / ".join(f"{calls_per_cluster[s]:.2f}" for s in sizes) + " calls/cluster",
            call_ratios,
            "linear",
            verdict(calls_flat),
            note=f"fleet ratios {size_ratios}",
        ),
        Row(
            SECTION,
            f"growth {' -> '.join(f'{s:,}' for s in sizes)}: CPU time",
            " / ".join(f"{cpu_per_cluster_ms[s]:.1f}" for s in sizes) + " ms/cluster",
            cpu_ratios,
            "linear",
            verdict(cpu_flat),
            note=f"CPU ~ clusters^{cpu_exponent:.2f} between {mid:,} and {big:,} (process CPU: "
            "function and moto); moto's own role lookups scan every role (O(roles) per "
            "call), a small superlinear term that real IAM does not have",
        ),
        Row(
            SECTION,
            f"growth {' -> '.join(f'{s:,}' for s in sizes)}: wall time",
            " / ".join(f"{per_cluster_ms[s]:.1f}" for s in sizes) + " ms/cluster",
            wall_ratios,
            note=f"time ~ clusters^{exponent:.2f} between {mid:,} and {big:,}; wall time also "
            "moves with the load other processes put on the machine",
        ),
        Row(
            SECTION,
            f"growth {' -> '.join(f'{s:,}' for s in sizes)}: traced memory peak",
            " / ".join(f"{peaks[s]:.1f}" if s in peaks else "n/a" for s in sizes) + " MB",
            " / ".join(
                f"{peaks[b] / peaks[a]:.1f}x" if a in peaks and b in peaks and peaks[a] else "n/a"
                for a, b in pairs
            ),
            note="tracemalloc peak above the start of one extra drift run per size (moto's "
            "transient allocations included); a size without it ran out of time budget",
        ),
        Row(
            SECTION,
            f"growth {' -> '.join(f'{s:,}' for s in sizes)}: peak RSS growth",
            " / ".join(f"{rss[s]:.1f}" for s in sizes) + " MB",
            rss_ratios,
            note="high-water mark during the run minus RSS before it (moto included)",
        ),
    ]
