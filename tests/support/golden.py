"""Golden files: committed expected output, compared by a test, rewritten by ``make golden``.

A test renders something and calls :func:`check` with the golden file's path. Normally a
difference fails the test with a unified diff and says to run ``make golden``; with
``KOPS_IAM_GOLDEN=update`` (what ``make golden`` sets) the file is written instead, so a
change to the output shows as a diff of ``tests/golden/`` in review. :func:`stale` finds
golden files whose source is gone (``make golden`` deletes them).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
UPDATE_ENV = "KOPS_IAM_GOLDEN"
#: Whether this run rewrites the golden files (``make golden``).
UPDATING = os.environ.get(UPDATE_ENV, "").strip().lower() == "update"


def check(path: Path, actual: str) -> None:
    """``actual`` must equal the golden file ``path`` (written instead when updating)."""
    name = path.relative_to(ROOT)
    if UPDATING:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != actual:
            path.write_text(actual)
        return
    if not path.exists():
        pytest.fail(f"{name} does not exist: run `make golden` and review the new file")
    expected = path.read_text()
    if expected != actual:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                f"{name} (golden)",
                f"{name} (now)",
            )
        )
        pytest.fail(
            f"{name} differs from the output: if the change is intended, run `make golden` "
            f"and commit the diff of tests/golden/\n{diff}",
            pytrace=False,
        )


def stale(directory: Path, expected: Iterable[Path], pattern: str) -> list[Path]:
    """Golden files in ``directory`` (``pattern``) that no source produces any more;
    deleted when updating."""
    wanted = set(expected)
    extra = sorted(p for p in directory.glob(pattern) if p not in wanted)
    if UPDATING:
        for path in extra:
            path.unlink()
        return []
    return extra
