"""Decision speed: parse + validate + render per spec, on one core, in specs per second.

The pipeline is the domain core's own (``core.plan_spec`` = ``parsing.parse_document`` ->
``spec.validate`` -> ``policy.build_plan``) followed by the ``render`` JSON
(``ClusterPlan.to_dict`` + ``json.dumps``); each phase is timed separately in the same loop
so the table can say where time goes. Everything is timed in CPU time of the measuring
thread (``time.thread_time_ns``), pinned to one core: what one dedicated core sustains, and
not distorted when other processes share the machine (wall-clock throughput is reported
beside it). p50/p99 are per-spec latencies within a round; each figure is the median over
rounds.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import os
import pstats
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bench.machine import APPROVED_ACTIONS, SPECS_DIR
from bench.report import Row, fmt, verdict
from bench.stats import percentile, summarize
from bench.worstcase import OPTIONS as WORST_CASE_OPTIONS
from bench.worstcase import worst_case_spec
from kops_iam.domain.pipeline import plan_spec, read_documents
from kops_iam.domain.policy import build_plan
from kops_iam.domain.spec import validate_documents

SECTION = "decision speed"
TARGET_SPECS_PER_S = 2000.0
#: Specs decided as their operators run them: bastion-all-roles.yaml's bastion asks for
#: ssm:StartSession, an escalation an operator approves (issue 10). Without the approval that
#: sample is rejected and this section measured nothing (so it did from ADR 62 until
#: 2026-12-02). The worst case asks for no escalation: the approval changes nothing there.
OPTIONS = replace(WORST_CASE_OPTIONS, allowed_actions=frozenset(APPROVED_ACTIONS))
PHASES = ("parse", "validate", "plan", "render")


@dataclass(frozen=True)
class Round:
    """One round: every spec decided ``iterations`` times."""

    specs_per_s: float  # per CPU-second of this thread: what one dedicated core sustains
    wall_specs_per_s: float  # per wall second: lower when other processes share the core
    p50_us: float
    p99_us: float
    phase_us: dict[str, float]  # mean per spec


@contextlib.contextmanager
def one_core() -> Iterator[None]:
    """Pin this process to one CPU for the duration (where the OS allows it)."""
    if not hasattr(os, "sched_getaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, before)


def sample_specs() -> list[tuple[str, bytes]]:
    """The valid sample specs shipped in ``events/specs``."""
    return [(p.name, p.read_bytes()) for p in sorted(Path(SPECS_DIR).glob("*.yaml"))]


def decide(data: bytes) -> str:
    """The measured work for one spec: parse, validate, plan, render to JSON."""
    return json.dumps(plan_spec(data, OPTIONS).to_dict())


def _one_round(docs: Sequence[bytes], iterations: int) -> Round:
    clock = time.thread_time_ns
    latencies: list[float] = []
    phases = dict.fromkeys(PHASES, 0)
    wall_start = time.perf_counter_ns()
    start = clock()
    for _ in range(iterations):
        for data in docs:
            t0 = clock()
            documents = read_documents([("", data)])
            t1 = clock()
            spec = validate_documents(documents, OPTIONS)
            t2 = clock()
            plan = build_plan(spec, OPTIONS)
            t3 = clock()
            json.dumps(plan.to_dict())
            t4 = clock()
            latencies.append((t4 - t0) / 1000)
            phases["parse"] += t1 - t0
            phases["validate"] += t2 - t1
            phases["plan"] += t3 - t2
            phases["render"] += t4 - t3
    total_s = (clock() - start) / 1e9
    wall_s = (time.perf_counter_ns() - wall_start) / 1e9
    count = iterations * len(docs)
    return Round(
        specs_per_s=count / total_s,
        wall_specs_per_s=count / wall_s,
        p50_us=percentile(latencies, 50),
        p99_us=percentile(latencies, 99),
        phase_us={k: v / 1000 / count for k, v in phases.items()},
    )


def measure(docs: Sequence[bytes], rounds: int, iterations: int) -> list[Round]:
    """Warm up, then run ``rounds`` rounds on one core."""
    for data in docs:  # warm caches (catalogue load, pydantic adapters) outside the figure
        decide(data)
    with one_core():
        return [_one_round(docs, iterations) for _ in range(rounds)]


def profile(docs: Sequence[bytes], iterations: int, top: int = 15) -> str:
    """cProfile one round; return time by module and the top functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(iterations):
        for data in docs:
            decide(data)
    profiler.disable()
    stats = pstats.Stats(profiler)
    by_module: dict[str, float] = {}
    total = 0.0
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        by_module[_module_of(filename)] = by_module.get(_module_of(filename), 0.0) + tottime
        total += tottime
    lines = [f"own time by module ({iterations * len(docs)} specs, cProfile overhead included):"]
    for module, seconds in sorted(by_module.items(), key=lambda kv: -kv[1])[:12]:
        lines.append(f"  {seconds / total:6.1%}  {module}")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    lines.append(f"top {top} functions by own time:")
    keep = False
    for line in out.getvalue().splitlines():
        if line.strip().startswith("ncalls"):
            keep = True
        if keep and line.strip():
            lines.append("  " + line.replace(str(Path.cwd()) + "/", ""))
    return "\n".join(lines)


def _module_of(filename: str) -> str:
    path = filename.replace("\\", "/")
    for marker in ("/kops_iam/", "/site-packages/"):
        if marker in path:
            rest = path.split(marker, 1)[1]
            if marker == "/kops_iam/":
                return "kops_iam." + rest.removesuffix(".py").replace("/", ".")
            return rest.split("/", 1)[0].removesuffix(".py")
    if path.startswith("<") or path == "~":
        return "builtins (C)"
    return "stdlib:" + Path(path).stem


def run(
    rounds: int, iterations: int, force_profile: bool = False
) -> tuple[list[Row], dict[str, object], str]:
    """Measure samples and the worst case; return rows, raw figures and a profile (or "")."""
    samples = sample_specs()
    worst, sizes = worst_case_spec()
    for _name, data in samples:  # equivalence: the phases are exactly plan_spec
        assert (
            plan_spec(data, OPTIONS).to_dict()
            == build_plan(
                validate_documents(read_documents([("", data)]), OPTIONS), OPTIONS
            ).to_dict()
        )
    sample_rounds = measure([d for _, d in samples], rounds, iterations)
    worst_rounds = measure([worst], rounds, max(1, iterations // 4))
    worst_label = f"worst case ({len(worst) // 1024} KiB, roles at {max(sizes.values()):,}/10,240)"
    rows: list[Row] = []
    raw: dict[str, object] = {"samples": [n for n, _ in samples], "worst_sizes": sizes}
    for label, measured, target in (
        (f"{len(samples)} sample specs", sample_rounds, True),
        (worst_label, worst_rounds, False),
    ):
        tput = summarize([r.specs_per_s for r in measured])
        wall = summarize([r.wall_specs_per_s for r in measured])
        p50 = summarize([r.p50_us for r in measured])
        p99 = summarize([r.p99_us for r in measured])
        raw[label] = [r.__dict__ for r in measured]
        ok = tput.median >= TARGET_SPECS_PER_S
        rows.append(
            Row(
                SECTION,
                f"{label}: throughput (1 core)",
                fmt(tput, "specs/s", 0),
                target=f">= {TARGET_SPECS_PER_S:,.0f} specs/s" if target else "",
                status=verdict(ok) if target else "info",
                note="CPU time of the measuring thread",
            )
        )
        rows.append(Row(SECTION, f"{label}: throughput, wall clock", fmt(wall, "specs/s", 0)))
        rows.append(Row(SECTION, f"{label}: latency p50", fmt(p50, "us", 0)))
        rows.append(Row(SECTION, f"{label}: latency p99", fmt(p99, "us", 0)))
        shares = {k: summarize([r.phase_us[k] for r in measured]).median for k in PHASES}
        phase_total = sum(shares.values())
        rows.append(
            Row(
                SECTION,
                f"{label}: time by phase",
                " / ".join(f"{k} {v:,.0f}" for k, v in shares.items()) + " us",
                " / ".join(f"{v / phase_total:.0%}" for v in shares.values()),
                note="parse = parsing.parse_document, validate = spec.validate (incl. "
                "statements/catalogue/guardrail), plan = policy.build_plan, render = to_dict + "
                "json.dumps; mean per spec",
            )
        )
    text = ""
    if (
        force_profile
        or summarize([r.specs_per_s for r in sample_rounds]).median < TARGET_SPECS_PER_S
    ):
        text = "decision speed profile, sample specs\n" + profile(
            [d for _, d in samples], max(1, iterations // 2)
        )
    return rows, raw, text
