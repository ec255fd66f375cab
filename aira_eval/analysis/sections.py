"""What a report is made of: sections holding tables and figures, and number formatting.

A :class:`Table` keeps its numbers (``data``, tidy, written to CSV and Parquet so nothing must
be retyped) apart from what is shown (``display``, strings); a :class:`Figure` its PDF and PNG
files. A :class:`Section` that has nothing to show says why in ``empty``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class Table:
    """One table: numbers, their display, a caption (what, n, interval method)."""

    name: str
    title: str
    caption: str
    data: pd.DataFrame
    display: pd.DataFrame


@dataclass
class Figure:
    """One figure: its files by format (``pdf``, ``png``) and a caption."""

    name: str
    title: str
    caption: str
    files: dict[str, Path] = field(default_factory=dict)


@dataclass
class Section:
    """A report section: tables, figures, notes; ``empty`` says why there is nothing."""

    key: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    empty: str | None = None
    error: str | None = None
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    data: dict[str, pd.DataFrame] = field(default_factory=dict)  # figure data, exported only
    code: list[str] = field(default_factory=list)  # verbatim lines (formulas, commands)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(float(value))


def _style(values: list[float], digits: int) -> str:
    """One format for numbers shown together: fixed decimals in the usual range,
    significant digits when the largest is tiny or huge."""
    big = max((abs(v) for v in values), default=0.0)
    if big == 0 or 10 ** -digits <= big < 1e4:
        return f".{digits}f"
    return f".{digits}g"


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for a table; ``—`` when missing."""
    if not _finite(value):
        return "—"
    v = float(value)  # type: ignore[arg-type]
    return format(v, _style([v], digits))


def fmt_ci(est: float | None, lo: float | None, hi: float | None, digits: int = 3) -> str:
    """``0.610 [0.550, 0.670]`` (one format for the three); the estimate alone when the
    interval is missing."""
    if not _finite(est):
        return "—"
    if not (_finite(lo) and _finite(hi)):
        return fmt(est, digits)
    vals = [float(est), float(lo), float(hi)]  # type: ignore[arg-type]
    style = _style(vals, digits)
    return f"{format(vals[0], style)} [{format(vals[1], style)}, {format(vals[2], style)}]"


def fmt_p(p: float | None) -> str:
    """A p-value: three decimals, ``<0.001`` below."""
    if not _finite(p):
        return "—"
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"  # type: ignore[arg-type]


def is_text_column(values: pd.Series) -> bool:
    """True when a display column holds words (left-aligned), not numbers (right-aligned)."""
    numeric = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "-", "—", "<", "ref", "")
    return not all(str(v).strip().startswith(numeric) or str(v).strip() == "" for v in values)


def alignments(frame: pd.DataFrame) -> list[str]:
    """``l``/``r`` per display column: the first column and word columns left."""
    return ["l" if i == 0 or is_text_column(frame[c]) else "r"
            for i, c in enumerate(frame.columns)]

