"""Shared plumbing of the reliability suite: run mode, case budgets and the figures summary.

Modes
-----
``fast`` (default, part of ``make test``/CI): a few hundred cases per property, fixed
seeds (``derandomize``) so CI is reproducible. ``long`` (``KOPS_IAM_RELIABILITY=long``,
``make reliability-long``): at least 10,000 fuzz cases and more faults and races, random
seeds (the seed of a failure is printed by hypothesis).

Figures
-------
Every test records what it did (cases tried, rejected, accepted, faults injected per call
site, races run, privilege checks) with :func:`record`. When ``KOPS_IAM_RELIABILITY_SUMMARY``
names a file, the session writes all figures there as JSON (pytest-xdist workers each write
a fragment next to it; the controller merges them). ``docs/reliability.md`` quotes that file.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MODE_ENV = "KOPS_IAM_RELIABILITY"
SUMMARY_ENV = "KOPS_IAM_RELIABILITY_SUMMARY"

#: ``fast`` or ``long``.
MODE = "long" if os.environ.get(MODE_ENV, "").strip().lower() == "long" else "fast"
LONG = MODE == "long"


def budget(fast: int, long: int) -> int:
    """The number of cases/rounds for the current mode."""
    return long if LONG else fast


_LOCK = threading.Lock()
#: part -> figure name -> value (ints are summed across tests and workers).
_FIGURES: dict[str, dict[str, Any]] = defaultdict(dict)
_TIMINGS: dict[str, float] = defaultdict(float)


def record(part: str, name: str, value: int = 1) -> None:
    """Add ``value`` to the figure ``part.name`` (e.g. ``record("faults", "s3.HeadObject")``)."""
    with _LOCK:
        figures = _FIGURES[part]
        figures[name] = figures.get(name, 0) + value


def record_max(part: str, name: str, value: float) -> None:
    """Keep the largest ``value`` seen for ``part.name`` (e.g. the slowest hostile input)."""
    with _LOCK:
        figures = _FIGURES[part]
        figures[name] = max(figures.get(name, value), value)


@contextmanager
def timed(part: str) -> Iterator[None]:
    """Add the wall time of the block to ``part``'s seconds."""
    start = time.perf_counter()
    try:
        yield
    finally:
        with _LOCK:
            _TIMINGS[part] += time.perf_counter() - start


def snapshot() -> dict[str, Any]:
    with _LOCK:
        return {
            "figures": {part: dict(values) for part, values in _FIGURES.items()},
            "seconds": dict(_TIMINGS),
        }


def merge(into: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Sum two snapshots (max for ``*_max*`` figures)."""
    for part, values in other.get("figures", {}).items():
        target = into.setdefault("figures", {}).setdefault(part, {})
        for name, value in values.items():
            if "max" in name:
                target[name] = max(target.get(name, value), value)
            else:
                target[name] = target.get(name, 0) + value
    for part, seconds in other.get("seconds", {}).items():
        timings = into.setdefault("seconds", {})
        timings[part] = timings.get(part, 0.0) + seconds
    return into


def summary_path() -> Path | None:
    value = os.environ.get(SUMMARY_ENV, "").strip()
    return Path(value) if value else None


def write_fragment(path: Path, worker: str) -> None:
    fragment = path.with_name(f"{path.name}.{worker}.part")
    fragment.parent.mkdir(parents=True, exist_ok=True)
    fragment.write_text(json.dumps(snapshot(), sort_keys=True))


def write_summary(path: Path, outcome: dict[str, int], wall_seconds: float) -> dict[str, Any]:
    """Merge this process's figures with any worker fragments and write the summary."""
    combined = merge({}, snapshot())
    for fragment in sorted(path.parent.glob(f"{path.name}.*.part")):
        combined = merge(combined, json.loads(fragment.read_text()))
        fragment.unlink()
    combined.update(
        {
            "mode": MODE,
            "tests": outcome,
            "wall_seconds": round(wall_seconds, 1),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )
    combined["seconds"] = {k: round(v, 2) for k, v in sorted(combined.get("seconds", {}).items())}
    combined["figures"] = {
        part: dict(sorted(values.items()))
        for part, values in sorted(combined.get("figures", {}).items())
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(combined, indent=2, sort_keys=True) + "\n")
    return combined
