"""CSV cells that a spreadsheet will not run as formulas: the one helper for every CSV written from user text.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken as a
formula by Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)``, ``=cmd|...``: "CSV
injection", OWASP). Meal text, food names, notes and phrases are the person's own words, so every
CSV gutaxis writes from them goes through :func:`csv_safe` (a copy of the table) or
:func:`safe_cell`: such a cell gets a leading apostrophe (``'=HYPERLINK(...)``), which spreadsheets
show as text. Plain numbers (``-5``, ``+1.5e3``) are left as they are, and so are numeric columns.

The gutaxis readers of these files (meal/stress/symptom logs, personal food tables, aliases)
drop that apostrophe again (:func:`unescape_cell`), so a file written by gutaxis reads back the same.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["FORMULA_TRIGGERS", "csv_safe", "safe_cell", "unescape_cell"]

#: first characters that make a spreadsheet read a cell as a formula
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value):
    """``value`` with a leading apostrophe when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value[:1] in FORMULA_TRIGGERS and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def unescape_cell(value):
    """Undo :func:`safe_cell` (``'=x`` -> ``=x``); anything else is returned unchanged."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in FORMULA_TRIGGERS:
        return value[1:]
    return value


def _safe_labels(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return index.set_levels([_safe_labels(lv) for lv in index.levels])
    if index.dtype == object or pd.api.types.is_string_dtype(index.dtype):
        return index.map(safe_cell)
    return index


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells, column names and index labels are safe to open in a spreadsheet.

    Only text (object/string/categorical) columns change; numbers, dates and booleans are untouched.
    """
    out = df.copy()
    for i in range(len(out.columns)):
        col = out.iloc[:, i]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(object)
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            out.isetitem(i, col.map(safe_cell, na_action="ignore"))
    out.columns = _safe_labels(out.columns)
    out.index = _safe_labels(out.index)
    return out
