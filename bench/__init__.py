"""kops-iam benchmark suite: ``python -m bench`` (``make bench``), ``python -m bench --quick``.

Not part of the test suite. Each section measures one figure of issue 7 and returns table
rows; :mod:`bench.__main__` runs them and prints one table. Every figure is the median of
repeated runs with its spread, ratios are measured side by side in the same run, and a
figure that could not be measured says so instead of showing a number.

The AWS the benchmarks measure on is the test world (``tests/support``, see
:mod:`bench.aws`), so ``tests/`` joins the import path here.
"""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if _TESTS not in sys.path:
    sys.path.append(_TESTS)
