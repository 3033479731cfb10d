"""How the design spreads a larger fleet across invocations: computed, not measured.

Inputs are the fleet section's measured figures (calls per cluster, time per cluster on
moto) and the deployed configuration (the stack's function timeout, the reconciler's
workers and time margin, the drift schedule). What real AWS would take per call is *not*
measured here (no AWS access): it is an explicit assumption, shown as such, at two values.
AWS does not publish IAM's request-rate limits (they are account-wide and cannot be raised),
so the call rate the design would generate is printed for comparison, not judged.

The scheduled run's stateless rotation (``events.ScheduledRun.rotation``: minutes since the
epoch, modulo the number of keys) is simulated to count how many runs it takes until every
cluster has been reconciled once when one run cannot cover the whole fleet.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bench.machine import ROOT
from bench.report import Row

SECTION = "fleet spread"
LAMBDA_MAX_S = 900.0
#: Assumed latency of one AWS API call from Lambda (not measured here): an optimistic
#: in-region figure and the stack's own planning figure (infra/reconciler.py says ~100 ms).
ASSUMED_CALL_MS = (25.0, 100.0)


@dataclass(frozen=True)
class Deployment:
    timeout_s: float
    schedule_minutes: float
    workers: int
    margin_s: float


def deployment() -> Deployment:
    """The stack's timeout and schedule (read from infra/ source), the reconciler's defaults."""
    from kops_iam.application.settings import Settings

    timeout = LAMBDA_MAX_S
    schedule = 60.0
    try:
        text = (ROOT / "infra" / "reconciler.py").read_text()
        if found := re.search(r"TIMEOUT[^=]*=\s*Duration\.(minutes|seconds)\((\d+)\)", text):
            timeout = float(found.group(2)) * (60 if found.group(1) == "minutes" else 1)
        config = (ROOT / "infra" / "config.py").read_text()
        if found := re.search(r'default="rate\((\d+) (minute|hour|day)s?\)"', config):
            schedule = (
                float(found.group(1)) * {"minute": 1, "hour": 60, "day": 1440}[found.group(2)]
            )
    except OSError:
        pass
    settings = Settings()
    return Deployment(timeout, schedule, settings.scan_workers, settings.scan_time_margin_seconds)


def runs_to_cover(fleet: int, per_run: int, schedule_minutes: float) -> int | None:
    """Runs until every key was reconciled once, with the rotation ``minute % fleet``.

    Returns ``None`` when 10,000 runs do not suffice.
    """
    if per_run >= fleet:
        return 1
    covered = [False] * fleet
    left = fleet
    step = int(schedule_minutes) % fleet
    start = 0
    for run in range(1, 10_001):
        for offset in range(per_run):
            index = (start + offset) % fleet
            if not covered[index]:
                covered[index] = True
                left -= 1
        if left == 0:
            return run
        start = (start + step) % fleet
    return None


def rows(calls_per_cluster: float, moto_ms_per_cluster: float, fleet: int) -> list[Row]:
    """Capacity per invocation and coverage of larger fleets, from measured per-cluster cost."""
    dep = deployment()
    out: list[Row] = []
    for timeout in sorted({dep.timeout_s, LAMBDA_MAX_S}):
        usable = timeout - dep.margin_s
        label = f"{timeout / 60:.0f}-min invocation"
        if timeout == dep.timeout_s:
            label += " (the stack's)"
        moto = usable / (moto_ms_per_cluster / 1000)
        out.append(
            Row(
                SECTION,
                f"clusters per {label}, moto pace",
                f"{moto:,.0f}",
                note=f"({timeout:.0f} s - {dep.margin_s:.0f} s margin) / "
                f"{moto_ms_per_cluster:.1f} ms per cluster measured at {fleet:,} clusters",
            )
        )
        for call_ms in ASSUMED_CALL_MS:
            per_cluster_s = calls_per_cluster * call_ms / 1000 / dep.workers
            capacity = int(usable / per_cluster_s)
            rate = dep.workers / (call_ms / 1000)
            bigger = [1_000, 5_000, 10_000]
            coverage = []
            for size in bigger:
                runs = runs_to_cover(size, capacity, dep.schedule_minutes)
                ideal = math.ceil(size / capacity)
                coverage.append(f"{size:,}: {runs if runs else '>10,000'} run(s) (ideal {ideal})")
            out.append(
                Row(
                    SECTION,
                    f"clusters per {label}, {call_ms:.0f} ms/call (assumed)",
                    f"{capacity:,}",
                    f"{rate:.0f} calls/s",
                    note=f"{calls_per_cluster:.1f} calls per cluster (measured) x {call_ms:.0f} "
                    f"ms / {dep.workers} workers; runs until every cluster was reconciled once "
                    f"with the minute-based rotation and a {dep.schedule_minutes:.0f}-min "
                    f"schedule: " + "; ".join(coverage),
                )
            )
    return out
