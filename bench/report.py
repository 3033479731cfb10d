"""Table rows and their rendering: one row per figure, printed as a fixed-width table."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from bench.stats import Summary

Status = Literal["met", "NOT MET", "info", "not measured"]


@dataclass(frozen=True)
class Row:
    """One figure of the table.

    ``value`` is already formatted (median and spread); ``status`` is ``met``/``NOT MET``
    when the figure has a target, ``info`` when it has none, ``not measured`` when the
    harness could not take it (``note`` then says why).
    """

    section: str
    figure: str
    value: str
    ratio: str = ""
    target: str = ""
    status: Status = "info"
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fmt_number(value: float, digits: int = 1) -> str:
    """Format a number with thousands separators and ``digits`` decimals."""
    return f"{value:,.{digits}f}"


def fmt(summary: Summary, unit: str = "", digits: int = 1, spread: str = "range") -> str:
    """Format a summary as ``median unit (min-max, n=N)`` or with the IQR.

    Parameters
    ----------
    summary
        Repeated measurements.
    unit
        Appended after the median (``"ms"``, ``"MB"``, ``"x"``...).
    digits
        Decimals shown.
    spread
        ``"range"`` for min-max, ``"iqr"`` for the interquartile range.
    """
    med = fmt_number(summary.median, digits)
    if spread == "iqr":
        low, high, label = summary.q1, summary.q3, "IQR "
    else:
        low, high, label = summary.minimum, summary.maximum, ""
    suffix = f" {unit}" if unit else ""
    if summary.n == 1:
        return f"{med}{suffix} (n=1)"
    low_text, high_text = fmt_number(low, digits), fmt_number(high, digits)
    return f"{med}{suffix} ({label}{low_text}-{high_text}, n={summary.n})"


def verdict(ok: bool) -> Status:
    """``met`` or ``NOT MET``."""
    return "met" if ok else "NOT MET"


def not_measured(section: str, figure: str, why: str, target: str = "") -> Row:
    """A row saying plainly that a figure was not measured, and why."""
    return Row(section, figure, "n/a", target=target, status="not measured", note=why)


_HEADERS = ("section", "figure", "median (spread)", "ratio", "target", "status")
_NOTE_WIDTH = 110


def render(rows: Sequence[Row]) -> str:
    """Render rows as a plain-text table (notes wrapped under their row)."""
    cells = [(r.section, r.figure, r.value, r.ratio, r.target, r.status) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(_HEADERS)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(_HEADERS, widths, strict=True)), line]
    previous = None
    for row, cell in zip(rows, cells, strict=True):
        if previous is not None and row.section != previous:
            out.append("")
        previous = row.section
        out.append("  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip())
        if row.note:
            out.extend(
                textwrap.wrap(
                    row.note,
                    _NOTE_WIDTH,
                    initial_indent="      -> ",
                    subsequent_indent="        ",
                )
            )
    return "\n".join(out)


def summary_counts(rows: Iterable[Row]) -> dict[str, int]:
    """How many rows have each status."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts
