"""The reconcile-calls bench runs (quick) and its figures are the ones issue 15 asks for:
an unchanged event in at most 4 IAM reads per role and no write (docs/adr/0121)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def test_the_calls_bench_measures_both_reads_and_meets_its_targets(tmp_path: Path) -> None:
    # When the quick calls bench runs (a fresh process: it sets the function's environment)
    out = tmp_path / "calls.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPS_IAM_")}
    subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "calls", "--json", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    rows: list[dict[str, Any]] = json.loads(out.read_text())["rows"]
    calls = [r for r in rows if r["section"] == "reconcile calls"]

    # Then every scenario was measured for both ways of reading, two specs each
    assert len(calls) == 2 * 2 * 4
    assert all(r["status"] != "failed" for r in rows), [r for r in rows if r["status"] == "failed"]
    # And an unchanged event read in bulk meets the target: no write, <= 4 reads per role
    unchanged = [r for r in calls if r["figure"].startswith("unchanged")]
    bulk = [r for r in unchanged if "eventRead=bulk" in r["figure"]]
    assert len(bulk) == 2
    assert all(r["status"] == "met" for r in unchanged), unchanged
    for row in bulk:
        assert row["value"].startswith("IAM 1 reads + 0 writes"), row
        assert float(row["ratio"].split()[0]) <= 4
