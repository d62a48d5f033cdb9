"""How values are written in the plan's reports: numbers, shares, dates, table cells
(citations: ``gutaxis.report._render.citations``).

Shared by the figures, the template context and the CSV exports, so that a number reads the same
everywhere.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _sig(x: float, digits: int = 2, sign: bool = False) -> str:
    """A number with about ``digits`` significant digits, never in exponent notation."""
    if x is None or not math.isfinite(float(x)):
        return "—"
    x = float(x)
    if abs(x) < 0.5 * 10 ** (-3):
        return "0"
    mag = math.floor(math.log10(abs(x)))
    nd = max(0, digits - 1 - mag)
    s = f"{round(x, nd):{'+' if sign else ''},.{nd}f}"
    return s


def _v(x, nd=1, pct=False) -> str:
    if x is None:
        return "—"
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "—"
    if pct:
        return f"{100 * x:.2f}"
    return f"{x:,.{nd}f}"


def _pct_text(share: float | None, *, about: bool = False) -> str:
    """A share (0-1) as a whole percentage that never claims 100% or 0% when it is not; with
    ``about``, a rounded value says so ("about 30%") and a bound does not ("over 99%")."""
    if share is None:
        return "—"
    p = 100.0 * share
    if 99.5 <= p < 100.0:
        return "over 99%"
    if 0.0 < p < 0.5:
        return "under 1%"
    return f"{'about ' if about else ''}{p:.0f}%"


def _date_text(x) -> str:
    if x is None or x is pd.NaT:
        return ""
    try:
        if pd.isna(x):
            return ""
    except (TypeError, ValueError):
        pass
    try:
        return f"{pd.Timestamp(x):%a %d %b %Y}"
    except (TypeError, ValueError):
        return str(x)


def _row_text(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    s = str(x).strip()
    if isinstance(x, (int, np.integer)) or s.isdigit():
        return f"row {s}"
    return s


def _cell(x) -> str:
    if x is None or x is pd.NaT:
        return ""
    if isinstance(x, (list, tuple)):
        return "; ".join(_cell(v) for v in x if _cell(v))
    try:
        if pd.isna(x):
            return ""
    except (TypeError, ValueError):
        pass
    return str(x).strip()


def _split_candidates(x) -> list[str]:
    if isinstance(x, (list, tuple)):
        return [_cell(v) for v in x if _cell(v)]
    return [c.strip() for c in _cell(x).split(";") if c.strip()]
