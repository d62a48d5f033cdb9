"""Meal, stress and symptom logs as plain CSV or JSON files, validated entry by entry.

All malformed entries of a file are reported together in one :class:`gutaxis.errors.InputError`:
a first line ``K problems in <file>``, then one line per problem naming the row (CSV line
number, header = line 1) or entry (JSON, 1-based), the column and what is allowed (the first 25;
then ``... and M more``). A file with a single problem gives the one-line message
``<file>: row N, column X: ... — hint``.

Dates and times
    ISO 8601 (``2024-05-01``, ``2024-05-01T08:30``, ``2024-05-01 08:30:15``) is always read as
    written. Day-month forms (``01/12/2026``, ``1.12.2026``, ``01-12-2026``, optionally with a
    time ``08:30`` or ``8:30 am``) follow ``dayfirst``: ``True`` (01/12/2026 = 1 December),
    ``False`` (= January 12), or ``None`` to detect the order from the rows of the same file that
    decide it (13/12/2026 is day-first, 12/13/2026 month-first); a file that decides nothing but
    holds an ambiguous date, or proves both orders, is refused. Month names (``1 Dec 2026``,
    ``Dec 1, 2026``) are read as written. Times are kept as local wall-clock time: a UTC offset
    (``2026-12-01T08:30+01:00``) is recorded in the ``utc_offset`` column (minutes; NaN when
    none), never used to shift the time. ``df.attrs["date_order"]`` says what was decided
    (``"iso"``, ``"unambiguous"``, ``"dayfirst (given)"``,
    ``"dayfirst (detected from row 7: 13/12/2026)"``, ...).

Meal log (:func:`read_meal_log`)
    ``timestamp`` (e.g. ``2024-05-01T08:30``), then either ``text`` (free text with
    portion words: "1 cup kimchi", "2 eggs") or ``ndb_no`` + ``grams`` (a USDA SR28 item);
    optional ``grams`` with text (overrides the portion; above 0 and at most 2,000 g per entry),
    ``meal`` (breakfast, lunch, dinner, snack, drink, other), ``repeat_of`` (the timestamp of an
    earlier meal to log again — the "same as yesterday's breakfast" shortcut).
Stress log (:func:`read_stress_log`)
    ``timestamp`` and any of: ``rating`` (0-10 daily stress), ``practice`` (mindfulness,
    meditation, yoga, breathing, tai chi, relaxation) with ``minutes``, the ten PSS-10 answers
    ``pss_1``…``pss_10`` (0-4, all ten or none).
Symptom log (:func:`read_symptom_log`)
    ``timestamp`` (when noted), ``symptom`` + ``rating`` (0-10) and/or ``bristol`` (stool type
    1-7), optional ``onset`` (when it started; default: the timestamp) and ``note``.

Files are read as UTF-8; a UTF-16 or UTF-32 file with a byte-order mark is decoded as such, UTF-16
without one is recognised, and a file that is not UTF-8 is read as Windows-1252 (Latin-1) with a
warning naming the file (:mod:`gutaxis.lifestyle._textfile`); ``df.attrs["encoding"]`` says which.
Dates are plausible from 1900 to 2100; a date outside is refused naming its row and column (a year
2999 is a typo, not a meal).

A CSV written by :func:`write_log` has text cells that a spreadsheet would run as formulas
(``=HYPERLINK(...)``, ``@...``, ``+...``) prefixed with an apostrophe; the readers drop it again,
so the file reads back as logged (:mod:`gutaxis.lifestyle._csvsafe`).

:func:`write_log` writes any of them back as CSV or JSON (the export of everything logged).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ._csvsafe import csv_safe, unescape_cell
from ._textfile import decode_text
from .stress import PRACTICES, score_pss10
from .symptoms import normalize_symptom

__all__ = ["MEAL_SLOTS", "read_meal_log", "read_stress_log", "read_symptom_log", "write_log"]

MEAL_SLOTS = ("breakfast", "lunch", "dinner", "snack", "drink", "other")

MAX_GRAMS = 2000.0  # one entry above this is a unit slip (kg, mg) or several foods at once
MAX_PROBLEMS = 25  # problems listed in one error; the rest are counted

_TS_HINT = "use ISO 8601, e.g. 2024-05-01T08:30 or 2024-05-01 08:30"
_ORDER_HINT = (
    "pass --dayfirst (UK/European 01/12/2026 = 1 December) or --monthfirst (US 01/12/2026 = "
    "January 12), or write ISO dates such as 2026-12-01 (in Python: dayfirst=True or dayfirst=False)"
)
YEARS = (1900, 2100)  # dates outside are typos (2999 for 2019), not meals


# ----------------------------------------------------------------------------- problems


class _Problems:
    """Problems of one file, reported together (ordered by row; file-wide ones first)."""

    def __init__(self, path: Path):
        self.path = path
        self.encoding = "utf-8"
        self.items: list[tuple[int, int, str, str | None]] = []

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

    The file's encoding is left in ``probs.encoding``.
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
        reader = csv.DictReader(text.splitlines())
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
                        hint='quote text that contains commas, e.g. "1 cup rice, cooked"',
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
    return rows, labels, keys, p, probs


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


# ----------------------------------------------------------------------------- dates

_TIME = (
    r"(?:(?:\s*T\s*|\s+|\s*,\s*)(?P<H>\d{1,2})(?::(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<F>\d{1,9}))?)?)?"
    r"(?:\s*(?P<AP>[ap])\.?\s?m\.?)?)?"
)
_ZONE = r"(?:\s*(?P<Z>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?))?"
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_DATE_FORMS = (
    ("iso", rf"^(?P<Y>\d{{4}})(?P<sep>[-/.])(?P<mo>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}}){_TIME}{_ZONE}$"),
    ("numeric", rf"^(?P<a>\d{{1,2}})(?P<sep>[-/.])(?P<b>\d{{1,2}})(?P=sep)(?P<Y>\d{{4}}){_TIME}{_ZONE}$"),
    (
        "named",
        rf"^{_WEEKDAY}(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+|\s*[-/.]\s*)(?P<mon>[a-z]{{3,9}})\.?"
        rf"(?:\s+|\s*[-/.,]\s*)(?P<Y>\d{{4}}){_TIME}{_ZONE}$",
    ),
    (
        "named",
        rf"^{_WEEKDAY}(?P<mon>[a-z]{{3,9}})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:\s*,\s*|\s+)"
        rf"(?P<Y>\d{{4}}){_TIME}{_ZONE}$",
    ),
)
_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTHS = {
    **{m: i for i, m in enumerate(_MONTH_NAMES, start=1)},
    **{m[:3]: i for i, m in enumerate(_MONTH_NAMES, start=1)},
    "sept": 9,
}
_PARTS = ["kind", "Y", "mo", "d", "a", "b", "H", "M", "S", "F", "AP", "Z"]


def _split_dates(s: pd.Series) -> pd.DataFrame:
    """The parts of every date-time string (one regular expression per written form, vectorised)."""
    comp = pd.DataFrame(index=s.index, columns=_PARTS, dtype=object)
    todo = s.ne("")
    for kind, rx in _DATE_FORMS:
        if not todo.any():
            break
        ext = s[todo].str.extract(rx, flags=re.IGNORECASE)
        idx = ext.index[ext["Y"].notna()]
        if not len(idx):
            continue
        hit = ext.loc[idx]
        comp.loc[idx, "kind"] = kind
        for c in ("Y", "d", "a", "b", "H", "M", "S", "F", "AP", "Z"):
            if c in hit:
                comp.loc[idx, c] = hit[c]
        if kind == "named":
            comp.loc[idx, "mo"] = hit["mon"].str.lower().map(_MONTHS)
        elif kind == "iso":
            comp.loc[idx, "mo"] = hit["mo"]
        todo[idx] = False
    return comp


def _num(x: pd.Series) -> pd.Series:
    return pd.to_numeric(x, errors="coerce").astype(float)


def _assemble(comp: pd.DataFrame, dayfirst: bool) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Wall-clock timestamps (NaT where invalid), UTC offsets in minutes, and the month used."""
    num = comp["kind"].eq("numeric")
    a, b = _num(comp["a"]), _num(comp["b"])
    day = _num(comp["d"]).where(~num, a if dayfirst else b)
    month = _num(comp["mo"]).where(~num, b if dayfirst else a)
    hour, minute, second = _num(comp["H"]), _num(comp["M"]), _num(comp["S"])
    ap = comp["AP"].str.lower()
    bad = hour.notna() & minute.isna() & ap.isna()  # "2026-12-01 08": an hour alone
    bad |= ap.notna() & ~hour.between(1, 12)  # "13:00 pm"
    hour = hour.where(ap.isna(), hour % 12 + 12 * ap.eq("p"))
    micro = _num(comp["F"].str.ljust(6, "0").str[:6])

    def part(x, width):
        return x.fillna(0).astype("int64").astype(str).str.zfill(width)

    text = (
        part(_num(comp["Y"]), 4)
        + "-"
        + part(month, 2)
        + "-"
        + part(day, 2)
        + " "
        + part(hour, 2)
        + ":"
        + part(minute, 2)
        + ":"
        + part(second, 2)
        + "."
        + part(micro, 6)
    )
    text = text.where(comp["kind"].notna() & ~bad, "")
    ts = pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S.%f", errors="coerce")
    return ts, _offsets(comp["Z"]), month


def _offsets(z: pd.Series) -> pd.Series:
    """UTC offsets in minutes (NaN where none is written; -inf where one is written but invalid)."""
    zs = z.fillna("").astype(str).str.upper()
    ext = zs.str.extract(r"^(?P<sign>[+-])(?P<h>\d{2}):?(?P<m>\d{2})?$")
    h, m = _num(ext["h"]), _num(ext["m"]).fillna(0)
    off = (h * 60 + m) * np.where(ext["sign"].eq("-"), -1, 1)
    off = off.where(~((h > 14) | (m > 59)), -np.inf)
    off = off.where(~zs.isin(["Z", "UTC", "GMT"]), 0.0)
    return off.astype(float)


def _first(masks: dict[str, pd.Series]) -> tuple[int, str] | None:
    """(row position, column) of the first True over several columns, or None."""
    best = None
    for c, m in masks.items():
        hits = np.flatnonzero(m.to_numpy(dtype=bool))
        if len(hits) and (best is None or hits[0] < best[0]):
            best = (int(hits[0]), c)
    return best


def _day_month(day: int, month: int, dayfirst: bool) -> str:
    name = _MONTH_NAMES[month - 1].title()
    return f"{day} {name}" if dayfirst else f"{name} {day}"


def _read_dates(rows, labels, keys, cols, dayfirst, probs: _Problems) -> tuple[dict, str]:
    """Parse the date-time columns of one file with one day/month order for the whole file.

    Returns ``{column: (timestamps, utc_offsets)}`` (NaT / NaN where blank or invalid; every
    invalid non-blank value is a problem) and the decision for ``attrs["date_order"]``.
    """
    if dayfirst is not None and dayfirst not in (True, False):
        raise InputError(
            f"dayfirst={dayfirst!r}",
            source=probs.path,
            hint="use True (01/12/2026 = 1 December), False (= January 12) or None (detect)",
        )
    raw = {c: pd.Series([_text(r.get(c)) for r in rows], dtype=object) for c in cols}
    comp = {c: _split_dates(raw[c]) for c in cols}
    proves_d, proves_m, ambiguous = {}, {}, {}
    for c in cols:
        isnum = comp[c]["kind"].eq("numeric")
        a, b = _num(comp[c]["a"]), _num(comp[c]["b"])
        proves_d[c] = isnum & a.between(13, 31) & b.between(1, 12)
        proves_m[c] = isnum & b.between(13, 31) & a.between(1, 12)
        ambiguous[c] = isnum & a.between(1, 12) & b.between(1, 12) & a.ne(b)
    fd, fm, fa = _first(proves_d), _first(proves_m), _first(ambiguous)

    def cite(hit):
        i, c = hit
        return labels[i], c, raw[c].iloc[i]

    order: bool | None
    if dayfirst is not None:
        order = bool(dayfirst)
        decided = f"{'dayfirst' if order else 'monthfirst'} (given)"
    elif fd and fm:
        order, decided = None, "undecided"
        (ld, cd, vd), (lm, cm, vm) = cite(fd), cite(fm)
        probs.add(
            -1,
            f"dates are written both day-first ({ld}, column {cd!r}: {vd!r}) and month-first "
            f"({lm}, column {cm!r}: {vm!r})",
            hint="write every date of the file the same way, or in ISO 8601 (e.g. 2026-12-01); with "
            "--dayfirst or --monthfirst the rows that do not fit are listed",
        )
    elif fd or fm:
        order = bool(fd)
        lab, _, val = cite(fd or fm)
        decided = f"{'dayfirst' if order else 'monthfirst'} (detected from {lab}: {val})"
    elif fa:
        order, decided = None, "undecided"
        lab, c, val = cite(fa)
        x, y = int(_num(comp[c]["a"]).iloc[fa[0]]), int(_num(comp[c]["b"]).iloc[fa[0]])
        probs.add(
            -1,
            f"{lab}, column {c!r}: {val!r} could be {_day_month(x, y, True)} or {_day_month(y, x, False)}, and no "
            "row of the file shows which order its dates use",
            hint=_ORDER_HINT,
        )
    else:
        order = True  # no numeric date needs an order (day == month, or none at all)
        kinds = pd.concat([comp[c]["kind"][raw[c].ne("")] for c in cols])
        decided = "iso" if kinds.eq("iso").all() else "unambiguous"

    out = {}
    for c in cols:
        k, s = comp[c], raw[c]
        year = _num(k["Y"])
        implausible = k["kind"].notna() & ~year.between(*YEARS) & s.ne("")
        for i in np.flatnonzero(implausible.to_numpy(dtype=bool)):
            probs.add(
                keys[i],
                f"{labels[i]}, column {c!r}: {s.iloc[i]!r} is not a plausible date (year "
                f"{int(year.iloc[i])}; dates from {YEARS[0]} to {YEARS[1]} are read)",
                hint="check the year (a typo such as 2999 for 2019?)",
            )
        if order is None:
            ts_d, off, _ = _assemble(k, True)
            ts_m, _, _ = _assemble(k, False)
            same = ts_d.eq(ts_m)
            ts = ts_d.where(same)
            report = ts_d.isna() & ts_m.isna()  # numeric dates wrong in both orders; the rest wait for the order
            month = pd.Series(np.nan, index=k.index)
        else:
            ts, off, month = _assemble(k, order)
            report = ts.isna()
        report &= s.ne("") & ~implausible
        ts = ts.where(~implausible)
        for i in np.flatnonzero(report.to_numpy(dtype=bool)):
            v, where = s.iloc[i], f"{labels[i]}, column {c!r}"
            if order is not None and k["kind"].iloc[i] == "numeric" and month.iloc[i] > 12:
                name = "day-first" if order else "month-first"
                probs.add(
                    keys[i],
                    f"{where}: {v!r} is not a {name} date (there is no month {int(month.iloc[i])})",
                    hint=f"the log is read {decided}; write this date the same way, or in ISO 8601 (e.g. 2026-12-01)",
                )
            elif re.fullmatch(r"\d{1,2}[-/.]\d{1,2}[-/.]\d{2}(?:\D.*)?", v):
                probs.add(
                    keys[i],
                    f"{where}: {v!r} is not a date-time (a two-digit year)",
                    hint="write the year with four digits (01/12/2026), or use ISO 8601 (2026-12-01)",
                )
            else:
                probs.add(keys[i], f"{where}: {v!r} is not a date-time", hint=_TS_HINT)
        for i in np.flatnonzero((off == -np.inf).to_numpy() & ~report.to_numpy(dtype=bool)):
            probs.add(
                keys[i],
                f"{labels[i]}, column {c!r}: {s.iloc[i]!r} has no valid UTC offset",
                hint="offsets run from -12:00 to +14:00, e.g. 2026-12-01T08:30+01:00",
            )
        ts = ts.where(off != -np.inf)
        out[c] = (ts, off.where(off != -np.inf))
    return out, decided


# ----------------------------------------------------------------------------- the three logs


def read_meal_log(path: str | os.PathLike, *, dayfirst: bool | None = None) -> pd.DataFrame:
    """Read a meal log (CSV or JSON); see the module docstring for the columns and dates.

    Parameters
    ----------
    path
        The log file.
    dayfirst
        How to read dates such as 01/12/2026: True = 1 December, False = January 12, None =
        detect from the file (refused when the file does not decide). ISO dates and month names
        are read as written either way.

    Returns
    -------
    pandas.DataFrame
        One row per food entry (repeats expanded): ``timestamp`` (local wall-clock time),
        ``date``, ``meal``, ``text``, ``ndb_no`` (5-digit string or None), ``grams`` (float or
        NaN), ``repeat_of``, ``source_row``, ``utc_offset`` (minutes, NaN where not written).
        ``attrs["source"]`` is the file, ``attrs["date_order"]`` the day/month decision.

    Raises
    ------
    InputError
        Listing every malformed entry (see the module docstring).
    """
    rows, labels, keys, p, probs = _records(path, "timestamp,text,ndb_no,grams,meal")
    allowed = {"timestamp", "text", "ndb_no", "grams", "meal", "repeat_of", "note"}
    _unknown_columns(rows, labels, keys, allowed, probs)
    dates, order = _read_dates(rows, labels, keys, ["timestamp", "repeat_of"], dayfirst, probs)
    ts_all, off_all = dates["timestamp"]
    rep_all = dates["repeat_of"][0]
    out = []
    for i, (rec, where, key) in enumerate(zip(rows, labels, keys, strict=True)):
        if _blank(rec.get("timestamp")):
            probs.add(key, f"{where}, column 'timestamp': missing", hint=_TS_HINT)
        text = _text(rec.get("text"))
        ndb = _text(rec.get("ndb_no"))
        grams = np.nan
        if not _blank(rec.get("grams")):
            grams = _grams(rec["grams"], where, probs, key)
        meal = _text(rec.get("meal")).lower()
        if meal and meal not in MEAL_SLOTS:
            probs.add(
                key,
                f"{where}, column 'meal': {rec['meal']!r} is not allowed",
                hint=f"use one of: {', '.join(MEAL_SLOTS)}",
            )
        rep_given = not _blank(rec.get("repeat_of"))
        if ndb:
            if not re.fullmatch(r"\d{1,5}", ndb):
                probs.add(
                    key,
                    f"{where}, column 'ndb_no': {ndb!r} is not an NDB number",
                    hint="a USDA SR28 NDB number of up to 5 digits, e.g. 09040",
                )
            elif _blank(rec.get("grams")):
                probs.add(
                    key,
                    f"{where}, column 'grams': missing for ndb_no {ndb}",
                    hint="an entry by NDB number needs the grams eaten",
                )
            ndb = ndb.zfill(5)
        if not text and not ndb and not rep_given:
            probs.add(
                key,
                f"{where}: no food given",
                hint="give 'text' (e.g. '1 cup kimchi'), or 'ndb_no' and 'grams', or 'repeat_of'",
            )
        rep = rep_all.iloc[i] if rep_given else None
        out.append(
            {
                "timestamp": ts_all.iloc[i],
                "meal": meal,
                "text": text,
                "ndb_no": ndb or None,
                "grams": grams,
                "repeat_of": rep,
                "source_row": where,
                "utc_offset": off_all.iloc[i],
                "_key": key,
                "_rep": rep_given,
            }
        )
    cols = ["timestamp", "meal", "text", "ndb_no", "grams", "repeat_of", "source_row", "utc_offset"]
    df = pd.DataFrame(out, columns=[*cols, "_key", "_rep"])
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df["repeat_of"] = pd.to_datetime(df["repeat_of"])
    # expand repeats: copy every entry logged at the referenced time to the new time
    base = df[~df["_rep"].astype(bool)]
    expanded = [base]
    for _, r in df[df["_rep"].astype(bool)].iterrows():
        if pd.isna(r["repeat_of"]) or pd.isna(r["timestamp"]):
            continue  # already a problem
        src = base[base["timestamp"] == r["repeat_of"]]
        if src.empty:
            probs.add(
                r["_key"],
                f"{r['source_row']}, column 'repeat_of': no meal was logged at {r['repeat_of']}",
                hint="repeat_of must be the timestamp of an earlier entry in the same log",
            )
            continue
        if r["repeat_of"] >= r["timestamp"]:
            probs.add(
                r["_key"],
                f"{r['source_row']}, column 'repeat_of': {r['repeat_of']} is not before {r['timestamp']}",
                hint="only earlier meals can be repeated",
            )
            continue
        copy = src.copy()
        copy["timestamp"] = r["timestamp"]
        copy["repeat_of"] = r["repeat_of"]
        copy["source_row"] = r["source_row"]
        copy["utc_offset"] = r["utc_offset"]
        if r["meal"]:
            copy["meal"] = r["meal"]
        expanded.append(copy)
    probs.raise_if_any()
    df = pd.concat(expanded, ignore_index=True)[cols] if len(expanded) > 1 else base[cols]
    df = df.sort_values("timestamp", kind="stable").reset_index(drop=True)
    df["utc_offset"] = df["utc_offset"].astype(float)
    df.insert(1, "date", df["timestamp"].dt.normalize())
    df.attrs["source"] = str(p)
    df.attrs["date_order"] = order
    df.attrs["encoding"] = probs.encoding
    return df


def _grams(v, where: str, probs: _Problems, key: int) -> float:
    raw = str(v).strip()
    try:
        x = float(raw)
    except ValueError:
        x = None
    if x is not None and not math.isfinite(x):
        probs.add(
            key, f"{where}, column 'grams': grams={raw} is not a number of grams", hint="grams must be a number above 0"
        )
        return np.nan
    x = _number(v, where, "grams", probs, key, lo=0, allowed="grams must be a number above 0")
    if x == 0:
        probs.add(
            key,
            f"{where}, column 'grams': 0 is not allowed",
            hint="grams must be above 0 (leave the entry out if nothing was eaten)",
        )
        return np.nan
    if x > MAX_GRAMS:
        probs.add(
            key,
            f"{where}, column 'grams': {x:g} g in one entry is not plausible",
            hint="check the unit (g vs kg) or split the entry",
        )
        return np.nan
    return x


def read_stress_log(path: str | os.PathLike, *, dayfirst: bool | None = None) -> pd.DataFrame:
    """Read a stress log (CSV or JSON); see the module docstring for the columns and dates.

    ``dayfirst`` is as in :func:`read_meal_log`.

    Returns
    -------
    pandas.DataFrame
        ``timestamp``, ``date``, ``rating`` (0-10 or NaN), ``practice`` (or ""), ``minutes``
        (or NaN), ``source_row``, ``utc_offset``, ``pss_1``…``pss_10`` and ``pss10`` (total,
        scored with reverse items 4, 5, 7, 8) where a questionnaire was given.
        ``attrs["source"]`` and ``attrs["date_order"]`` as for meals.
    """
    rows, labels, keys, p, probs = _records(path, "timestamp,rating,practice,minutes")
    items = [f"pss_{i}" for i in range(1, 11)]
    allowed = {"timestamp", "rating", "practice", "minutes", "note", *items}
    _unknown_columns(rows, labels, keys, allowed, probs)
    dates, order = _read_dates(rows, labels, keys, ["timestamp"], dayfirst, probs)
    ts_all, off_all = dates["timestamp"]
    out = []
    for i, (rec, where, key) in enumerate(zip(rows, labels, keys, strict=True)):
        if _blank(rec.get("timestamp")):
            probs.add(key, f"{where}, column 'timestamp': missing", hint=_TS_HINT)
        row = {
            "timestamp": ts_all.iloc[i],
            "rating": np.nan,
            "practice": "",
            "minutes": np.nan,
            "source_row": where,
            "utc_offset": off_all.iloc[i],
        }
        if not _blank(rec.get("rating")):
            row["rating"] = _number(
                rec["rating"],
                where,
                "rating",
                probs,
                key,
                lo=0,
                hi=10,
                allowed="the daily stress rating is a number 0 (none) to 10 (worst)",
            )
        prac = _text(rec.get("practice")).lower()
        mins = rec.get("minutes")
        if prac or not _blank(mins):
            if prac not in PRACTICES:
                probs.add(
                    key,
                    f"{where}, column 'practice': {rec.get('practice')!r} is not allowed",
                    hint=f"use one of: {', '.join(PRACTICES)} (with 'minutes')",
                )
            if _blank(mins):
                probs.add(
                    key,
                    f"{where}, column 'minutes': missing for practice {prac!r}",
                    hint="give the minutes practised (0-1440)",
                )
            else:
                row["minutes"] = _number(
                    mins, where, "minutes", probs, key, lo=0, hi=1440, allowed="minutes are a number 0-1440"
                )
            row["practice"] = prac
        given = [not _blank(rec.get(c)) for c in items]
        if any(given):
            if not all(given):
                missing = [c for c, g in zip(items, given, strict=True) if not g]
                probs.add(
                    key,
                    f"{where}: PSS-10 answers missing for {', '.join(missing)}",
                    hint="the PSS-10 has no published rule for prorating missing items; give all ten answers (0-4)",
                )
            else:
                for c in items:
                    row[c] = _number(
                        rec[c],
                        where,
                        c,
                        probs,
                        key,
                        lo=0,
                        hi=4,
                        integer=True,
                        allowed="PSS-10 answers are whole numbers 0 (never) to 4 (very often)",
                    )
        if _blank(rec.get("rating")) and not prac and _blank(mins) and not any(given):
            probs.add(
                key,
                f"{where}: nothing logged",
                hint="give a 'rating' (0-10), a 'practice' with 'minutes', or the ten PSS-10 answers",
            )
        out.append(row)
    probs.raise_if_any()
    df = pd.DataFrame(out, columns=["timestamp", "rating", "practice", "minutes", "source_row", "utc_offset"])
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df["utc_offset"] = df["utc_offset"].astype(float)
    for c in items:
        df[c] = [r.get(c, np.nan) for r in out]
    df["pss10"] = np.nan
    has = df[items].notna().all(axis=1)
    if has.any():
        df.loc[has, "pss10"] = score_pss10(df.loc[has, items].astype(int), source=str(p))["pss10"].to_numpy()
    df = df.sort_values("timestamp", kind="stable").reset_index(drop=True)
    df.insert(1, "date", df["timestamp"].dt.normalize())
    df.attrs["source"] = str(p)
    df.attrs["date_order"] = order
    df.attrs["encoding"] = probs.encoding
    return df


def read_symptom_log(path: str | os.PathLike, *, dayfirst: bool | None = None) -> pd.DataFrame:
    """Read a symptom log (CSV or JSON); see the module docstring for the columns and dates.

    ``dayfirst`` is as in :func:`read_meal_log`.

    Returns
    -------
    pandas.DataFrame
        ``timestamp``, ``onset``, ``date`` (of onset), ``symptom`` (normalised name or ""),
        ``rating`` (0-10 or NaN), ``bristol`` (1-7 or NaN), ``note``, ``source_row``,
        ``utc_offset`` (of the timestamp). ``attrs["source"]`` and ``attrs["date_order"]`` as
        for meals.
    """
    rows, labels, keys, p, probs = _records(path, "timestamp,symptom,rating,bristol")
    allowed = {"timestamp", "symptom", "rating", "bristol", "onset", "note"}
    _unknown_columns(rows, labels, keys, allowed, probs)
    dates, order = _read_dates(rows, labels, keys, ["timestamp", "onset"], dayfirst, probs)
    ts_all, off_all = dates["timestamp"]
    on_all, on_off_all = dates["onset"]
    out = []
    for i, (rec, where, key) in enumerate(zip(rows, labels, keys, strict=True)):
        if _blank(rec.get("timestamp")):
            probs.add(key, f"{where}, column 'timestamp': missing", hint=_TS_HINT)
        ts, off = ts_all.iloc[i], off_all.iloc[i]
        if _blank(rec.get("onset")):
            onset, on_off = ts, off
        else:
            onset, on_off = on_all.iloc[i], on_off_all.iloc[i]
        if pd.notna(ts) and pd.notna(onset):
            shift = pd.Timedelta(0)
            if pd.notna(off) and pd.notna(on_off):  # both offsets written: compare the instants
                shift = pd.Timedelta(minutes=float(off - on_off))
            if onset + shift > ts:
                probs.add(
                    key,
                    f"{where}, column 'onset': {onset} is after the time it was noted ({ts})",
                    hint="onset is when the symptom started, at or before the timestamp",
                )
        sym = "" if _blank(rec.get("symptom")) else normalize_symptom(rec["symptom"])
        rating = np.nan
        if not _blank(rec.get("rating")):
            if not sym:
                probs.add(
                    key,
                    f"{where}, column 'symptom': missing for a rating",
                    hint="name the symptom the rating is for, e.g. bloating",
                )
            rating = _number(
                rec["rating"],
                where,
                "rating",
                probs,
                key,
                lo=0,
                hi=10,
                allowed="symptom ratings are numbers 0 (none) to 10 (worst)",
            )
        elif sym:
            probs.add(
                key,
                f"{where}, column 'rating': missing for symptom {sym!r}",
                hint="rate the symptom 0 (none) to 10 (worst)",
            )
        bristol = np.nan
        if not _blank(rec.get("bristol")):
            bristol = _number(
                rec["bristol"],
                where,
                "bristol",
                probs,
                key,
                lo=1,
                hi=7,
                integer=True,
                allowed="the Bristol stool type is a whole number 1-7",
            )
        if not sym and _blank(rec.get("rating")) and _blank(rec.get("bristol")):
            probs.add(
                key,
                f"{where}: nothing logged",
                hint="give a 'symptom' with a 'rating' (0-10) and/or a 'bristol' type (1-7)",
            )
        note = "" if _blank(rec.get("note")) else str(rec["note"])
        out.append(
            {
                "timestamp": ts,
                "onset": onset,
                "symptom": sym,
                "rating": rating,
                "bristol": bristol,
                "note": note,
                "source_row": where,
                "utc_offset": off,
            }
        )
    probs.raise_if_any()
    df = pd.DataFrame(
        out, columns=["timestamp", "onset", "symptom", "rating", "bristol", "note", "source_row", "utc_offset"]
    )
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df["onset"] = pd.to_datetime(df["onset"])
    df["utc_offset"] = df["utc_offset"].astype(float)
    df = df.sort_values("onset", kind="stable").reset_index(drop=True)
    df.insert(2, "date", df["onset"].dt.normalize())
    df.attrs["source"] = str(p)
    df.attrs["date_order"] = order
    df.attrs["encoding"] = probs.encoding
    return df


def write_log(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a log (or any table from this package) as CSV (``.csv``) or JSON (``.json``).

    Date-times are written in ISO 8601. Where the table has ``timestamp`` and ``utc_offset``
    (as the readers return), the offset is written into the timestamp (``2026-12-01T08:30:00+01:00``,
    the local time as logged) and the ``utc_offset`` column is left out, so the file reads back
    the same. In a CSV, text cells starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return get a leading apostrophe so that a spreadsheet shows them as text (the readers of this
    module drop it).
    """
    p = Path(path)
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%S").where(out[c].notna(), "")
    if "timestamp" in out.columns and "utc_offset" in out.columns:
        off = pd.to_numeric(out["utc_offset"], errors="coerce")
        mins = off.abs().fillna(0).astype("int64")
        suffix = (
            np.where(off < 0, "-", "+")
            + (mins // 60).astype(str).str.zfill(2)
            + ":"
            + (mins % 60).astype(str).str.zfill(2)
        )
        has = off.notna() & out["timestamp"].astype(str).ne("")
        out["timestamp"] = out["timestamp"].astype(str).where(~has, out["timestamp"].astype(str) + suffix)
        out = out.drop(columns="utc_offset")
    if p.suffix.lower() == ".json":
        p.write_text(out.to_json(orient="records", indent=1), encoding="utf-8")
    else:  # text a spreadsheet would run as a formula gets a leading apostrophe (the readers drop it)
        csv_safe(out).to_csv(p, index=False)
    return p
