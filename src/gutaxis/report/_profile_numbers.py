"""The profile report's numbers as table cells (``{"raw", "text"}``) and as plain JSON values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._validation import finite_or_none as _finite

__all__ = ["cell", "frame_records", "jsonable"]


def cell(x, kind: str = "index") -> dict:
    """``{"raw": float|None, "text": str}`` for a table cell; ``kind`` index, percent or percentile."""
    v = _finite(x)
    if v is None:
        return {"raw": None, "text": "—"}
    if kind == "percent":
        p = 100.0 * v
        if p == 0:
            text = "0"
        elif p < 0.01:
            text = "<0.01"
        elif p < 10:
            text = f"{p:.2f}"
        else:
            text = f"{p:.1f}"
    elif kind == "percentile" or (float(v).is_integer() and abs(v) < 1e6):
        text = f"{v:.0f}"
    elif abs(v) >= 100:
        text = f"{v:,.0f}"
    else:
        text = f"{v:.3g}" if abs(v) >= 0.001 else f"{v:.2e}"
    return {"raw": v, "text": text}


def jsonable(obj):
    """Plain JSON types; NaN/inf -> None; numpy and pandas scalars unwrapped."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset, pd.Index, np.ndarray)):
        return [jsonable(v) for v in (sorted(obj) if isinstance(obj, (set, frozenset)) else list(obj))]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _finite(obj)
    if obj is None or obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, (str, Path)):
        return str(obj)
    try:
        if pd.isna(obj):
            return None
    except (TypeError, ValueError):
        pass
    return str(obj)


def frame_records(df: pd.DataFrame) -> dict:
    """``{row: {column: value}}`` of ``df`` in plain JSON values."""
    return {str(i): {str(c): jsonable(v) for c, v in row.items()} for i, row in df.iterrows()}
