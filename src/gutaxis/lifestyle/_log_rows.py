"""Reading a log file into rows, and collecting every problem of the file into one error.

:func:`_records` reads a CSV or JSON log (any encoding :mod:`gutaxis.lifestyle._textfile`
recognises; spreadsheet-safe cells unescaped) into one dict per row with a label per row for
messages; :func:`_join_date_and_time` turns separate ``date`` and ``time`` columns (a diary typed
in a spreadsheet) into the ``timestamp`` the readers read; :class:`_Problems` gathers the problems
of a file and raises them together (the first ``MAX_PROBLEMS``, then a count); the cell helpers
read blanks, text and numbers. Used by the readers of :mod:`gutaxis.lifestyle.logs`.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ._csvsafe import unescape_cell
from ._textfile import csv_delimiter, decode_text

MAX_PROBLEMS = 25  # problems listed in one error; the rest are counted


class _Problems:
    """Problems of one file, reported together (ordered by row; file-wide ones first)."""

    def __init__(self, path: Path):
        self.path = path
        self.encoding = "utf-8"
        # the file's own names for a column, where they differ ({"timestamp": "'date' + 'time'"})
        self.shown: dict[str, str] = {}
        self.items: list[tuple[int, int, str, str | None]] = []

    def name(self, column: str) -> str:
        """``column`` as messages name it: as the file wrote it."""
        return self.shown.get(column, repr(column))

    @property
    def when_column(self) -> str:
        """The column a missing timestamp is missing from: ``'date'`` in a file typed with dates."""
        return "'date'" if self.shown else "'timestamp'"

    def add(self, key: int, text: str, hint: str | None = None) -> None:
        self.items.append((key, len(self.items), text, hint))

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        items = sorted(self.items)
        if len(items) == 1:
            _, _, text, hint = items[0]
            raise InputError(text, source=self.path, hint=hint)
        lines = [f"{len(items)} problems in {self.path}"]
        hints_given: set[str] = set()
        for _, _, text, hint in items[:MAX_PROBLEMS]:
            if hint and hint not in hints_given:
                hints_given.add(hint)
                text = f"{text} — {hint}"
            lines.append(text)
        if len(items) > MAX_PROBLEMS:
            lines.append(f"... and {len(items) - MAX_PROBLEMS} more")
        err = InputError("\n".join(lines))
        err.source = str(self.path)
        raise err


# ----------------------------------------------------------------------------- reading the file


def _records(path, example: str) -> tuple[list[dict], list[str], list[int], Path, _Problems]:
    """Rows of a CSV or JSON log as dicts, a label per row for messages and a sort key per row.

    Separate ``date`` and ``time`` columns are joined into ``timestamp`` (:func:`_join_date_and_time`).
    The file's encoding is left in ``probs.encoding``, its names for the joined column in ``probs.shown``.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("log file not found", source=p, hint="give the path of a .csv or .json log")
    text, encoding = decode_text(p.read_bytes(), p)  # UTF-8, UTF-16/32, or Windows-1252 with a warning
    probs = _Problems(p)
    probs.encoding = encoding
    if not text.strip():
        raise InputError(
            "no entries",
            source=p,
            hint=f"the file is empty; a log starts with a header line such as '{example}' "
            "followed by one entry per line",
        )
    fmt = "json" if p.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")) else "csv"
    rows: list[dict] = []
    labels: list[str] = []
    keys: list[int] = []
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
                source=p,
                hint='a JSON log is a list of objects, e.g. [{"timestamp": ..., "text": ...}]',
            ) from None
        if isinstance(data, dict):
            lists = [v for v in data.values() if isinstance(v, list)]
            if len(lists) != 1:
                raise InputError("a JSON log must be a list of entries (or an object holding one list)", source=p)
            data = lists[0]
        if not isinstance(data, list):
            raise InputError("a JSON log must be a list of entries", source=p)
        if not data:
            raise InputError(
                "no entries",
                source=p,
                hint='the JSON list is empty; add entries such as {"timestamp": "2026-12-01T08:30", ...}',
            )
        for i, rec in enumerate(data, start=1):
            if not isinstance(rec, dict):
                probs.add(i, f"entry {i} is not an object", hint='each entry is {"column": value, ...}')
                continue
            rows.append({str(k).strip().lower(): _json_value(v) for k, v in rec.items()})
            labels.append(f"entry {i}")
            keys.append(i)
    else:
        sep = csv_delimiter(text)
        reader = csv.DictReader(text.splitlines(), delimiter=sep)
        try:
            names = [str(n).strip().lower() for n in (reader.fieldnames or [])]
            if not names or all(n == "" for n in names):
                raise InputError(
                    "the first line must name the columns",
                    source=p,
                    hint=f"start the file with a header line such as '{example}'",
                )
            if len(set(names)) != len(names):
                raise InputError(f"duplicate column names in the header: {names}", source=p)
            for rec in reader:
                if None in rec:
                    probs.add(
                        reader.line_num,
                        f"row {reader.line_num}: more values than columns",
                        hint=f'quote text that contains the separator {sep!r}, e.g. "1 cup rice{sep} cooked"',
                    )
                    continue
                vals = list(rec.values())
                if all((v is None or str(v).strip() == "") for v in vals):
                    continue
                rows.append({n: ("" if v is None else unescape_cell(v)) for n, v in zip(names, vals, strict=True)})
                labels.append(f"row {reader.line_num}")
                keys.append(reader.line_num)
        except csv.Error as exc:
            raise InputError(f"not a readable CSV file (line {reader.line_num}: {exc})", source=p) from None
        if not rows and not len(probs):
            raise InputError(
                "no entries",
                source=p,
                hint=f"the file has only the header line; add one entry per line below it (columns: {example})",
            )
    probs.shown = _join_date_and_time(rows)
    return rows, labels, keys, p, probs


# a time typed on its own: "8.30" and "8h30" (UK and French habit), "noon", "midday"
_DOTTED_TIME = re.compile(r"^(\d{1,2})[.h](\d{2})(\s*[ap]\.?\s?m\.?)?$", re.IGNORECASE)
_NAMED_TIMES = {"noon": "12:00", "midday": "12:00", "midnight": "00:00"}


def _join_date_and_time(rows: list[dict]) -> dict[str, str]:
    """Separate ``date`` and ``time`` columns become the ``timestamp`` column, in place.

    A diary typed in a spreadsheet has a Date and a Time column (or only a Date) where a gutaxis
    log has one ``timestamp``. The two cells are joined ("07/12/2026" + "7:40" -> "07/12/2026
    7:40") and read by the same date rules as a timestamp; a blank time leaves the date alone (a
    date-only timestamp). A file that has a ``timestamp`` column is left as it is (a ``date``
    beside it is then an unknown column). Returns how messages should name the column:
    ``{"timestamp": "'date' + 'time'"}`` or ``{"timestamp": "'date'"}``, or ``{}`` when nothing
    was joined.
    """
    names = {k for r in rows for k in r}
    if "timestamp" in names or "date" not in names:
        return {}
    for r in rows:
        day, at = _text(r.pop("date", "")), _text(r.pop("time", ""))
        at = _NAMED_TIMES.get(at.lower(), at)
        m = _DOTTED_TIME.match(at)
        if m:
            at = f"{m.group(1)}:{m.group(2)}{m.group(3) or ''}"
        r["timestamp"] = f"{day} {at}" if day and at else day  # a time without its date is a missing date
    return {"timestamp": "'date' + 'time'" if "time" in names else "'date'"}


def _json_value(v):
    if v is None:
        return ""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # NaN / Infinity literals are refused like the text 'nan' / 'inf'
    return v


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and v.strip() == "")


def _text(v) -> str:
    return "" if _blank(v) else str(v).strip()


def _number(
    v, where: str, col: str, probs: _Problems, key: int, *, lo=None, hi=None, integer=False, allowed: str = ""
) -> float:
    """The value as a float, or NaN after adding a problem."""
    try:
        x = float(str(v).strip())
    except (TypeError, ValueError):
        x = np.nan
    bad = (
        not math.isfinite(x) or (lo is not None and x < lo) or (hi is not None and x > hi) or (integer and x != int(x))
    )
    if bad:
        probs.add(key, f"{where}, column {col!r}: {v!r} is not allowed", hint=allowed)
        return np.nan
    return x


def _unknown_columns(rows, labels, keys, allowed: set[str], probs: _Problems) -> None:
    """One problem per row that first uses an unknown column (not one per row using it)."""
    first: dict[str, int] = {}
    for i, rec in enumerate(rows):
        for k, v in rec.items():
            if k not in allowed and k not in first and not _blank(v):
                first[k] = i
    by_row: dict[int, list[str]] = {}
    for k, i in first.items():
        by_row.setdefault(i, []).append(k)
    for i, extra in by_row.items():
        probs.add(
            keys[i], f"{labels[i]}: unknown column(s) {extra}", hint=f"allowed columns: {', '.join(sorted(allowed))}"
        )
