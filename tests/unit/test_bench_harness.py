"""The benchmark harness's statistics: median, percentiles and spread on known inputs."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

# bench/ is a top-level package of the repository, not part of the installed kops_iam.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.stats import median, percentile, ratio, summarize


def test_median_percentiles_and_spread_match_hand_computed_values() -> None:
    # Given ten measurements in shuffled order (1..10)
    values = [7.0, 1.0, 10.0, 4.0, 2.0, 9.0, 3.0, 8.0, 5.0, 6.0]

    # When they are summarized
    summary = summarize(values)

    # Then the figures are those of linear interpolation between order statistics
    assert median(values) == 5.5
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 10.0
    assert percentile(values, 99) == pytest.approx(9.91)
    assert percentile(values, 25) == pytest.approx(3.25)
    assert (summary.n, summary.minimum, summary.maximum) == (10, 1.0, 10.0)
    assert (summary.q1, summary.q3) == (pytest.approx(3.25), pytest.approx(7.75))
    assert summary.iqr == pytest.approx(4.5)
    assert summary.scaled(2).median == 11.0
    # Paired ratios are taken run by run, then summarized
    assert ratio([2.0, 9.0, 4.0], [1.0, 3.0, 4.0]).median == 2.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        ratio([1.0], [1.0, 2.0])


def test_make_typecheck_holds_bench_to_the_same_strictness_as_the_function() -> None:
    # Given the project's mypy settings (`make typecheck` runs mypy with no arguments)
    root = Path(__file__).resolve().parents[2]
    mypy = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]

    # Then bench/ is among the files checked, under strict
    assert {"functions/kops_iam", "bench"} <= set(mypy["files"])
    assert mypy["strict"] is True
    # and no override relaxes anything for bench/ (or for the function)
    for override in mypy.get("overrides", []):
        modules = override["module"]
        assert not any(m.split(".")[0] in ("bench", "kops_iam") for m in modules), override
