"""The cold-path bench's split of the first event into the libraries' floor and kops-iam's
own share (docs/adr/0122): the rows it computes from paired runs, and the floor script
itself (it must run, and load no kops-iam code)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# bench/ is a top-level package of the repository, not part of the installed kops_iam.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.coldstart import FIRST_EVENT_STEPS, FLOOR_BODY, FirstEventRuns, first_event_rows
from bench.report import Row

ROOT = Path(__file__).resolve().parents[2]


def _runs(
    cold: list[float],
    plain: list[float],
    floor: list[float],
    plain_paused: list[float] | None = None,
) -> FirstEventRuns:
    """Runs whose steps sum to ``cold`` per run (all in "import"; the warm plan, which is
    not part of the cold path, set high so that counting it would show)."""
    steps = {name: [0.0] * len(cold) for name in FIRST_EVENT_STEPS}
    steps["import"] = list(cold)
    steps["warm plan"] = [10_000.0] * len(cold)
    return FirstEventRuns(steps, plain, floor, plain_paused or [p * 0.75 for p in plain])


def _row(rows: list[Row], figure: str) -> Row:
    found = [r for r in rows if r.figure == figure]
    assert len(found) == 1, figure
    return found[0]


def test_the_rows_pair_each_run_and_split_it_into_the_floor_and_kops_iams_own_share() -> None:
    # Given three runs: first event 900/1000/800 ms, plain handler 600/600/500 ms beside
    # them, the libraries' floor 780/800/650 ms, the plain handler with the collector paused
    # 450/500/400 ms
    runs = _runs(
        [900.0, 1000.0, 800.0],
        [600.0, 600.0, 500.0],
        [780.0, 800.0, 650.0],
        [450.0, 500.0, 400.0],
    )

    # When the rows are computed
    rows = first_event_rows(runs, boto3_ms=300.0)

    # Then the target row is the median of the per-run ratios (1.5, 1.67, 1.6), not met
    target = _row(rows, "fresh container: import + first-event work vs a plain handler")
    assert target.ratio.startswith("1.60 x")
    assert target.status == "NOT MET"
    assert target.value.startswith("900.0 ms")
    # And the floor is 1.30, 1.33, 1.30 times its plain run
    floor = _row(rows, "fresh container: the libraries' floor vs a plain handler")
    assert floor.ratio.startswith("1.30 x")
    assert floor.status == "info"
    # And kops-iam's own share is what each run spent above its floor: 120, 200, 150 ms,
    # 0.20, 0.33, 0.30 of its plain run
    own = _row(
        rows, "fresh container: kops-iam's own share (first event - floor) vs a plain handler"
    )
    assert own.value.startswith("150.0 ms")
    assert own.ratio.startswith("0.30 x")
    # And like for like, against the plain handler that also pauses the collector, the
    # ratios are 2.0, 2.0, 2.0 (info: the target is against the plain handler as written)
    alike = _row(
        rows,
        "fresh container: like for like, vs a plain handler that also pauses the collector",
    )
    assert alike.value.startswith("450.0 ms")
    assert alike.ratio.startswith("2.00 x")
    assert alike.status == "info"
    # And the whole cold path is also given against a bare boto3 import
    whole = _row(rows, "fresh container: import + everything the first event loads")
    assert whole.ratio == "3.00x boto3 import"


def test_the_target_row_is_met_at_the_line_and_not_above_it() -> None:
    # Given runs whose paired ratios are exactly 1.5 and just above
    at_line = _runs([900.0], [600.0], [700.0])
    above = _runs([901.0], [600.0], [700.0])

    # When the rows are computed, the verdict follows the 1.5x target
    figure = "fresh container: import + first-event work vs a plain handler"
    assert _row(first_event_rows(at_line, 300.0), figure).status == "met"
    assert _row(first_event_rows(above, 300.0), figure).status == "NOT MET"


def test_runs_of_unequal_length_are_refused() -> None:
    # Given a floor run missing (the runs are paired one by one)
    runs = _runs([900.0, 800.0], [600.0, 500.0], [700.0])

    # Then no rows are made from them
    with pytest.raises(ValueError):
        first_event_rows(runs, 300.0)


def test_the_floor_script_runs_and_loads_no_kops_iam_code() -> None:
    # Given the floor's body, followed by a look at what it imported
    probe = FLOOR_BODY + (
        "\nimport json, sys\n"
        "print(json.dumps({'kops_iam': sorted(m for m in sys.modules if m.startswith('kops_iam')),"
        " 'libraries': [m for m in ('boto3', 'pydantic', 'yaml', 'aws_lambda_powertools')"
        " if m in sys.modules], 'collector on': gc.isenabled()}))\n"
    )

    # When it runs in a fresh interpreter from the repository (where the sample spec is)
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )

    # Then it succeeded, loaded each library of the floor and none of kops-iam
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["kops_iam"] == []
    assert seen["libraries"] == ["boto3", "pydantic", "yaml", "aws_lambda_powertools"]
    # And it ran with the collector paused, as the handler's cold path does in Lambda
    assert seen["collector on"] is False
