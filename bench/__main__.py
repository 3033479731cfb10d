"""``python -m bench`` (``make bench``): every figure of issue 7 in one table.

``--quick`` is a smoke run: fewer repetitions and a fleet of 10 -> 50 -> 200 clusters (the
10,000-cluster figures projected from it, and said so). ``--only SECTION`` runs some
sections; ``--json FILE`` also writes the raw figures; ``--profile`` prints where decision
time goes even when its target is met.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import machine
from bench.report import Row, not_measured, render, summary_counts

SECTIONS = ("coldstart", "decision", "package", "calls", "memory", "fleet")


@dataclass(frozen=True)
class Plan:
    """Repetitions per section."""

    coldstart_rounds: int
    decision_rounds: int
    decision_iterations: int
    calls_repeats: int
    latency_repeats: int
    memory_repeats: int
    fleet_sizes: tuple[int, ...]
    fleet_reps: dict[int, int]
    #: seconds after start past which optional repetitions are skipped
    soft_budget_s: float


FULL = Plan(15, 7, 250, 3, 20, 3, (10, 100, 1000, 10000), {10: 3, 100: 3, 1000: 2, 10000: 1}, 420.0)
QUICK = Plan(3, 3, 50, 1, 5, 1, (10, 50, 200), {10: 1, 50: 1, 200: 1}, 40.0)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run, under a minute")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only these")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write raw figures here")
    parser.add_argument("--profile", action="store_true", help="always profile decisions")
    parser.add_argument(
        "--budget",
        type=float,
        metavar="SECONDS",
        help="soft budget instead of the plan's: optional repetitions (and the 25 ms period "
        "of the largest fleet) are skipped past it",
    )
    parser.add_argument(
        "--fleet-sizes",
        metavar="N,N,...",
        help="fleet sizes instead of the plan's (the largest below 10,000 projects the "
        "10,000-cluster figures, and says so)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    plan = QUICK if args.quick else FULL
    chosen = args.only or list(SECTIONS)
    started = time.monotonic()
    deadline = started + (args.budget if args.budget is not None else plan.soft_budget_s)
    info = machine.describe()
    print("kops-iam benchmarks" + (" (quick)" if args.quick else ""), flush=True)
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)

    rows: list[Row] = []
    raw: dict[str, Any] = {"machine": info, "quick": args.quick}
    texts: list[str] = []

    from bench.aws import reconciler_available

    reconciler = reconciler_available()

    def section(name: str, title: str, work: Callable[[], tuple[list[Row], Any]]) -> None:
        if name not in chosen:
            return
        t0 = time.monotonic()
        raw.setdefault("load", {})[name] = round(os.getloadavg()[0], 1)
        print(f"... {title}", file=sys.stderr, flush=True)
        try:
            got, data = work()
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            got, data = [not_measured(title, "all figures", f"failed: {exc!r}"[:300])], None
        rows.extend(got)
        raw[name] = data
        raw.setdefault("seconds", {})[name] = round(time.monotonic() - t0, 1)

    def needs_reconciler(title: str, figures: list[str]) -> tuple[list[Row], None]:
        why = "kops_iam.handler / kops_iam.service not available (reconciler, issue 3)"
        return [not_measured(title, f, why) for f in figures], None

    def coldstart() -> tuple[list[Row], Any]:
        from bench import coldstart

        return coldstart.run(plan.coldstart_rounds, first_event_runs=3 if args.quick else 15)

    def decision() -> tuple[list[Row], Any]:
        from bench import decision

        got, data, text = decision.run(
            plan.decision_rounds, plan.decision_iterations, force_profile=args.profile
        )
        if text:
            texts.append(text)
        return got, data

    def package() -> tuple[list[Row], Any]:
        from bench import package

        return package.run(quick=args.quick)

    def calls() -> tuple[list[Row], Any]:
        if not reconciler:
            return needs_reconciler("reconcile calls", ["calls per reconcile", "latency"])
        from bench import calls

        return calls.run(plan.calls_repeats, plan.latency_repeats)

    def memory() -> tuple[list[Row], Any]:
        if not reconciler:
            return needs_reconciler("memory", ["peak memory per handler event"])
        from bench import memory

        return memory.run(plan.memory_repeats, traced=not args.quick)

    def fleet() -> tuple[list[Row], Any]:
        if not reconciler:
            return needs_reconciler("fleet", ["drift period 10 -> 100 -> 1,000 -> 10,000"])
        from bench import fleet

        sizes = plan.fleet_sizes
        if args.fleet_sizes:
            sizes = tuple(int(n) for n in args.fleet_sizes.split(","))
        return fleet.run(sizes, plan.fleet_reps, deadline=deadline)

    section("coldstart", "cold start", coldstart)
    section("decision", "decision speed", decision)
    section("package", "package size", package)
    section("calls", "reconcile calls and latency", calls)
    section("memory", "memory per event", memory)
    section("fleet", "fleet", fleet)

    print()
    print(render(_ordered(rows)))
    for text in texts:
        print()
        print(text)
    elapsed = time.monotonic() - started
    counts = summary_counts(rows)
    timing = ", ".join(
        f"{k} {v:.0f} s at load {raw['load'][k]}" for k, v in raw.get("seconds", {}).items()
    )
    print()
    print(
        f"targets: {counts.get('met', 0)} met, {counts.get('NOT MET', 0)} not met; "
        f"{counts.get('not measured', 0)} figure(s) not measured; "
        f"{elapsed:.0f} s in all ({timing}); load average at the end "
        + "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    )
    if args.json:
        raw["rows"] = [r.to_dict() for r in rows]
        raw["elapsed_s"] = elapsed
        args.json.write_text(json.dumps(raw, indent=2, default=str))
    return 0


_ORDER = (
    "cold start",
    "decision speed",
    "handler latency",
    "reconcile calls",
    "memory",
    "fleet",
    "fleet spread",
    "package",
)


def _ordered(rows: list[Row]) -> list[Row]:
    """Group rows by section in a fixed order (stable within a section)."""
    rank = {name: i for i, name in enumerate(_ORDER)}
    return sorted(rows, key=lambda r: rank.get(r.section, len(rank)))


if __name__ == "__main__":
    sys.exit(main())
