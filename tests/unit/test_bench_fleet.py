"""The fleet benchmark's arithmetic: the CPU split of a period, the latency hook, and the
Lambda model (docs/adr/0116), on hand-made periods."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from support.wire import Calls

from bench import fleet


def period(**changes: object) -> fleet.Period:
    values: dict[str, object] = {
        "clusters": 1000,
        "drifted": 10,
        "workers": 10,
        "latency_s": 0.1,
        "wall_s": 60.0,
        "cpu": fleet.Cpu(
            process=50.0, moto=12.0, poller=2.0, schedule=1.0, snapshot=20.0, snapshot_reads=10
        ),
        "calls": Calls(
            counts={
                "s3:ListObjectsV2": 1001,
                "s3:GetObject": 1000,
                "sqs:SendMessageBatch": 100,
                "iam:GetAccountAuthorizationDetails": 20,
            }
        ),
        "schedule_calls": Calls(counts={"s3:ListObjectsV2": 1, "sqs:SendMessageBatch": 100}),
        "outcomes": {"Spec Unchanged": 990, "Drift Corrected": 10},
        "batches": 20,
        "dead_letters": 0,
        "snapshot_roles": 2000,
    }
    values.update(changes)
    return fleet.Period(**values)  # type: ignore[arg-type]


def test_the_function_s_cpu_is_what_moto_and_the_pollers_did_not_use() -> None:
    cpu = period().cpu
    assert cpu.function == pytest.approx(36.0)
    assert cpu.checks == pytest.approx(15.0)  # schedule and snapshots apart


def test_the_model_adds_schedule_snapshot_and_checks_as_lambda_would_run_them() -> None:
    # Given 1,000 clusters measured: 2 calls per check, 15 ms of function CPU per check,
    # 2 s of parsing per snapshot of 2,000 roles
    p = period()

    # When 10,000 clusters are modelled at 1 s a bulk page, with a full vCPU
    m = fleet.model_minutes(p, clusters=10_000, page_s=1.0, memory_mb=fleet.FULL_VCPU_MB)

    # Then: schedule 10 list pages one by one + 1,000 sends 4 at a time + 10 s CPU;
    # per worker 20 pages + 20 s parsing; 1,000 checks, each max(2 x 100 ms / 4, 15 ms)
    assert m.cpu_scale == 1.0
    assert m.schedule_s == pytest.approx(10 * 0.1 + 1000 * 0.1 / 4 + 10.0)
    assert m.pages_per_snapshot == 20
    assert m.snapshot_s == pytest.approx(20 * 1.0 + 20.0)
    assert m.calls_per_check == pytest.approx(2.0)
    assert m.checks_s == pytest.approx(1000 * 0.05)
    assert m.minutes == pytest.approx((36.0 + 40.0 + 50.0) / 60)


def test_the_model_scales_cpu_by_lambda_s_share_and_follows_the_page_latency() -> None:
    p = period()
    small = fleet.model_minutes(p, memory_mb=512)
    assert small.cpu_scale == pytest.approx(1769 / 512)
    # CPU-bound checks once scaled: 15 ms x 3.46 > 50 ms of latency
    assert small.checks_s == pytest.approx(1000 * 0.015 * 1769 / 512)
    slower = fleet.model_minutes(p, memory_mb=512, page_s=4.0)
    assert (slower.minutes - small.minutes) * 60 == pytest.approx(20 * 3.0)


def test_a_bulk_page_waits_its_own_latency() -> None:
    latency = fleet.Latency()
    latency.seconds, latency.bulk_seconds = 0.0, 0.05
    waited = []
    original = fleet.time.sleep
    fleet.time.sleep = waited.append  # type: ignore[assignment]
    try:
        latency(event_name="before-send.iam.GetAccountAuthorizationDetails")
        latency(event_name="before-send.s3.GetObject")
        latency.seconds = 0.1
        latency(event_name="before-send.s3.GetObject")
    finally:
        fleet.time.sleep = original
    assert waited == [0.05, 0.1]


def test_rows_at_10000_clusters_say_measured_and_model_apart() -> None:
    # Given periods of a run that reached 10,000 clusters
    sizes = (10, 100, 1000, 10_000)
    slows = {s: period(clusters=s, snapshot_roles=2 * s) for s in sizes}
    periods = {s: [period(clusters=s, latency_s=0.025)] for s in sizes}
    applies = {
        s: fleet.ApplyStep(s, min(s, 100), 1.0, 1.0, [10.0, 12.0], Calls(counts={}), 2.0)
        for s in sizes
    }
    memory = fleet.Memory(10_000, 20_000, 200.0, 150.0, 30.0)

    # When the table is made
    rows = fleet._rows(sizes, applies, periods, slows, memory)

    # Then the 10,000-cluster figures are measured, the model says it is one
    by_figure = {r.figure: r for r in rows}
    minutes = next(r for f, r in by_figure.items() if f.startswith("minutes to check"))
    assert minutes.note.startswith("measured: 60.0 s for 10,000 clusters")
    assert minutes.value == "1.00 min"
    model = next(r for f, r in by_figure.items() if f.startswith("MODEL"))
    assert model.note.startswith("MODELLED, not measured (10,000 clusters measured)")
    iam = [r for f, r in by_figure.items() if f.startswith("IAM calls per unchanged")]
    assert len(iam) == 2 and all(r.note.startswith("measured") for r in iam)
    assert all("PROJECTED" not in r.note for r in rows)
    growth = next(r for f, r in by_figure.items() if f.endswith(": time"))
    assert growth.figure == "growth 10 -> 100 -> 1,000 -> 10,000: time"
