"""Small, pure statistics helpers: median, percentiles and spread of repeated runs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the ``pct``-th percentile of ``values`` by linear interpolation.

    The same definition as NumPy's default (``method="linear"``): the rank
    ``pct / 100 * (n - 1)`` between the two nearest sorted values.

    Parameters
    ----------
    values
        At least one number, in any order.
    pct
        Percentile in ``[0, 100]``.

    Raises
    ------
    ValueError
        ``values`` is empty or ``pct`` is outside ``[0, 100]``.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be within [0, 100], not {pct}")
    ordered = sorted(values)
    rank = pct / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    """Return the median of ``values`` (mean of the two middle values when even)."""
    return percentile(values, 50)


@dataclass(frozen=True)
class Summary:
    """Repeated measurements of one figure: median, extremes and interquartile range."""

    n: int
    median: float
    minimum: float
    maximum: float
    q1: float
    q3: float

    @property
    def iqr(self) -> float:
        """Interquartile range ``q3 - q1``."""
        return self.q3 - self.q1

    def scaled(self, factor: float) -> Summary:
        """Return the same summary with every value multiplied by ``factor`` (> 0)."""
        return Summary(
            self.n,
            self.median * factor,
            self.minimum * factor,
            self.maximum * factor,
            self.q1 * factor,
            self.q3 * factor,
        )


def summarize(values: Sequence[float]) -> Summary:
    """Summarize repeated measurements of one figure.

    Raises
    ------
    ValueError
        ``values`` is empty.
    """
    return Summary(
        n=len(values),
        median=median(values),
        minimum=min(values),
        maximum=max(values),
        q1=percentile(values, 25),
        q3=percentile(values, 75),
    )


def ratio(numerators: Sequence[float], denominators: Sequence[float]) -> Summary:
    """Summarize paired ratios ``numerators[i] / denominators[i]`` (runs side by side).

    Raises
    ------
    ValueError
        The sequences differ in length or are empty, or a denominator is zero.
    """
    if len(numerators) != len(denominators):
        raise ValueError("paired ratios need as many numerators as denominators")
    if any(d == 0 for d in denominators):
        raise ValueError("ratio with a zero denominator")
    return summarize([n / d for n, d in zip(numerators, denominators, strict=True)])
