"""Foreign diary exports: the Cronometer "servings" CSV and the MyFitnessPal Nutrition Summary.

Columns are matched by header name (case, spacing and the micro sign µ/μ do not matter), never by
position; a UTF-8 BOM, CRLF line ends, quoted cells, extra columns and a semicolon or tab
separator (read from the header line) are fine. UTF-16/32 files are
read; a file that is not UTF-8 is read as Windows-1252 with a warning (``attrs["encoding"]``).
Columns gutaxis does not use are listed in ``attrs["ignored_columns"]`` (with
``attrs["ignored_reasons"]``), never an error. Every bad cell of a file is reported at once, in one
:class:`gutaxis.errors.InputError` listing up to 20 of them as ``row N, column X: value ...``
(header = row 1).

Dates must be ``YYYY-MM-DD`` (what both services write), from 1900 to 2100; day/month order is
never guessed. Both readers return the columns of :func:`gutaxis.lifestyle.read_meal_log` plus ``food_name``,
``amount_text``, ``time_assumed`` and ``nutrients_given`` = True with per-entry nutrients from
the file under gutaxis names (blank cell = NaN, not known; never 0).
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
import warnings
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ._textfile import csv_delimiter, decode_text

__all__ = [
    "DIARY_FORMATS",
    "ENTRY_COLUMNS",
    "detect_diary_format",
    "read_cronometer",
    "read_diary",
    "read_myfitnesspal",
]

DIARY_FORMATS = ("gutaxis", "cronometer", "myfitnesspal")
_ACCEPTED = (
    "accepted: a gutaxis meal log (a 'timestamp' column, or 'date' with an optional 'time', and "
    "'text' or 'food'); a Cronometer 'Servings' export "
    "(Day, Time, Group, Food Name, Amount, Energy (kcal), ...); a MyFitnessPal Nutrition Summary "
    "(Date, Meal, Calories, Fat (g), ...)"
)
_MAX_LISTED = 20
_MAX_KCAL = 10_000.0

# header -> gutaxis column (where two headers give one column, the first present wins)
CRONOMETER_NUTRIENTS = {
    "Energy (kcal)": "energy_kcal",
    "Protein (g)": "protein_g",
    "Carbs (g)": "carbohydrate_g",
    "Fiber (g)": "fiber_g",
    "Sugars (g)": "sugars_g",
    "Added Sugars (g)": "added_sugars_g",
    "Fat (g)": "fat_g",
    "Saturated (g)": "sat_fat_g",
    "Monounsaturated (g)": "mufa_g",
    "Polyunsaturated (g)": "pufa_g",
    "Cholesterol (mg)": "cholesterol_mg",
    "Sodium (mg)": "sodium_mg",
    "Potassium (mg)": "potassium_mg",
    "Calcium (mg)": "calcium_mg",
    "Iron (mg)": "iron_mg",
    "Magnesium (mg)": "magnesium_mg",
    "Zinc (mg)": "zinc_mg",
    "Selenium (µg)": "selenium_ug",
    "Vitamin C (mg)": "vitamin_c_mg",
    "Vitamin D (µg)": "vitamin_d_ug",
    "Vitamin D (IU)": "vitamin_d_ug",
    "Folate (µg)": "folate_dfe_ug",
    "B12 (Cobalamin) (µg)": "vitamin_b12_ug",
    "B6 (Pyridoxine) (mg)": "vitamin_b6_mg",
    "B1 (Thiamine) (mg)": "thiamin_mg",
    "B2 (Riboflavin) (mg)": "riboflavin_mg",
    "B3 (Niacin) (mg)": "niacin_mg",
    "Vitamin E (mg)": "vitamin_e_mg",
    "Vitamin K (µg)": "vitamin_k_ug",
    "Caffeine (mg)": "caffeine_mg",
    "Omega-3 (g)": "omega3_g",
    "Omega-6 (g)": "omega6_g",
    "Alcohol (g)": "alcohol_g",
}
MYFITNESSPAL_NUTRIENTS = {
    "Calories": "energy_kcal",
    "Fat (g)": "fat_g",
    "Saturated Fat": "sat_fat_g",
    "Polyunsaturated Fat": "pufa_g",
    "Monounsaturated Fat": "mufa_g",
    "Cholesterol": "cholesterol_mg",
    "Sodium (mg)": "sodium_mg",
    "Potassium": "potassium_mg",  # MyFitnessPal tracks potassium in mg, like sodium
    "Carbohydrates (g)": "carbohydrate_g",
    "Fiber": "fiber_g",
    "Sugar": "sugars_g",
    "Protein (g)": "protein_g",
}
_FACTORS = {"Vitamin D (IU)": 1.0 / 40.0}  # 1 µg vitamin D = 40 IU
_MFP_PERCENT_DV = ("Vitamin A", "Vitamin C", "Calcium", "Iron")
_OPTIONAL = {"added_sugars_g", "alcohol_g"}  # columns only when the file has them
_MEALS = {"breakfast": "breakfast", "lunch": "lunch", "dinner": "dinner", "snack": "snack", "snacks": "snack"}
#: the columns of every entry a reader returns, before its nutrients
ENTRY_COLUMNS = [
    "timestamp",
    "date",
    "meal",
    "text",
    "food_name",
    "amount_text",
    "ndb_no",
    "grams",
    "time_assumed",
    "source_row",
    "nutrients_given",
]
_HINTS = {
    "date": "dates must be YYYY-MM-DD (ISO 8601, what Cronometer and MyFitnessPal write); gutaxis does not guess "
    "day/month order, so convert the column (e.g. in a spreadsheet) or export again",
    "time": "times look like 8:05 AM or 08:05 (a blank time is placed at noon)",
    "number": "nutrient cells are plain non-negative numbers; leave a cell blank when it is not known",
    "energy": f"more than {_MAX_KCAL:,.0f} kcal in one entry is almost certainly a typo in the amount",
    "text": "every entry needs a food name (or a meal name)",
    "shape": 'quote cells that contain commas, e.g. "Bread, whole wheat"',
}


def _key(name) -> str:
    """Header name for matching: NFKC (µ -> μ), case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", str(name)).casefold().split())


def _text_of(path) -> tuple[str, str, Path]:
    """The file's text and encoding (UTF-8, UTF-16/32, or Windows-1252 with a warning; see ``_textfile``)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("diary file not found", source=p, hint="give the path of the exported .csv file")
    data = p.read_bytes()
    if data[:4] == b"PK\x03\x04":
        raise InputError(
            "this is a ZIP archive, not a CSV file",
            source=p,
            hint="unzip it and give the CSV inside (MyFitnessPal: Nutrition-Summary-...csv)",
        )
    text, encoding = decode_text(data, p)
    return text, encoding, p


def _read_csv(path, header_only: bool = False) -> tuple[list[str], list[tuple[str, list[str]]], Path, str]:
    """Header, non-blank rows (labelled 'row N', header = row 1), path and encoding of a CSV export."""
    text, encoding, p = _text_of(path)
    rows: list[tuple[str, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=csv_delimiter(text))
    try:
        header = next(reader, None)
        start = reader.line_num + 1
        for rec in [] if header_only else reader:
            if any(c.strip() for c in rec):
                rows.append((f"row {start}", rec))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"not a readable CSV file (line {reader.line_num}: {exc})", source=p) from None
    if header is None or not any(h.strip() for h in header):
        raise InputError("empty file: no header line", source=p, hint=_ACCEPTED)
    return [h.strip() for h in header], rows, p, encoding


def _format_of(header: list[str]) -> str | None:
    keys = {_key(h) for h in header}
    if "timestamp" in keys:
        return "gutaxis"
    if {"day", "food name", "amount", "energy (kcal)"} <= keys:
        return "cronometer"
    if {"date", "meal", "calories"} <= keys:
        return "myfitnesspal"
    if "date" in keys and keys & {"text", "food", "ndb_no", "repeat_of"}:
        return "gutaxis"  # typed in a spreadsheet: Date, Time, Meal, Food
    return None


def _unknown_format(header: list[str], p: Path) -> InputError:
    keys = {_key(h) for h in header}
    shown = ", ".join(header[:12]) + (f", ... (+{len(header) - 12} more)" if len(header) > 12 else "")
    why = "not a diary format gutaxis reads"
    if {"day", "group"} <= keys:
        why = "a Cronometer export other than 'Servings' (biometrics, notes or exercise?)"
    elif {"date", "exercise"} <= keys:
        why = "a MyFitnessPal exercise export, not the Nutrition Summary"
    return InputError(f"{why}; header seen: {shown}", source=p, hint=_ACCEPTED)


def detect_diary_format(path: str | os.PathLike) -> str:
    """Which diary a CSV file is: "gutaxis", "cronometer" or "myfitnesspal" (by header names).

    A gutaxis meal log has a ``timestamp`` column, or a ``date`` column (with an optional
    ``time``) and a food column (``text`` or ``food``), as a diary typed in a spreadsheet has.

    Raises :class:`~gutaxis.errors.InputError` naming the file and the header it saw when it is none of them.
    """
    p = Path(path)
    with warnings.catch_warnings():  # the reader chosen warns about the encoding, once
        warnings.simplefilter("ignore")
        text, _, p = _text_of(p)
        if p.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{"):
            return "gutaxis"  # gutaxis logs may also be JSON (read_meal_log reads both)
        header, _, p, _ = _read_csv(p, header_only=True)
    fmt = _format_of(header)
    if fmt is None:
        raise _unknown_format(header, p)
    return fmt


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.kinds: list[str] = []

    def add(self, where: str, col: str | None, value, what: str, kind: str) -> None:
        at = f"{where}, column {col!r}" if col else where
        self.items.append(f"{at}: {value!r} {what}" if value is not None else f"{at}: {what}")
        if kind not in self.kinds:
            self.kinds.append(kind)

    def raise_if_any(self, p: Path, label: str) -> None:
        if not self.items:
            return
        n = len(self.items)
        listed = "; ".join(self.items[:_MAX_LISTED])
        more = f"; and {n - _MAX_LISTED} more" if n > _MAX_LISTED else ""
        raise InputError(
            f"{n} problem{'s' if n > 1 else ''} in this {label} export: {listed}{more}",
            source=p,
            hint="; ".join(_HINTS[k] for k in self.kinds),
        )


def _day(raw: str, where: str, col: str, probs: _Problems):
    from .logs import YEARS

    s = raw.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        probs.add(where, col, raw, "is not a date (YYYY-MM-DD)" if s else "missing date", "date")
        return None
    try:
        d = date.fromisoformat(s)
    except ValueError:
        probs.add(where, col, raw, "is not a calendar date", "date")
        return None
    if not YEARS[0] <= d.year <= YEARS[1]:
        probs.add(where, col, raw, f"is not a plausible date (dates from {YEARS[0]} to {YEARS[1]} are read)", "date")
        return None
    return d


def _time(raw: str, where: str, col: str, probs: _Problems):
    s = " ".join(raw.strip().upper().replace(".", "").split())
    for fmt in ("%I:%M %p", "%I:%M:%S %p", "%I:%M%p", "%H:%M", "%H:%M:%S"):
        try:
            return datetime.strptime(s, fmt).time()
        except ValueError:
            pass
    probs.add(where, col, raw, "is not a time of day", "time")
    return None


def _number(raw: str, where: str, col: str, probs: _Problems, energy: bool) -> float:
    s = raw.strip()
    if not s:
        return np.nan
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", s):  # thousands separators, e.g. 1,250
        s = s.replace(",", "")
    try:
        x = float(s)
    except ValueError:
        x = np.nan
    if not np.isfinite(x):
        probs.add(where, col, raw, "is not a number", "number")
        return np.nan
    if x < 0:
        probs.add(where, col, raw, "is negative", "number")
        return np.nan
    if energy and x > _MAX_KCAL:
        probs.add(where, col, raw, f"kcal is above {_MAX_KCAL:,.0f} for one entry", "energy")
        return np.nan
    return x


def _read_export(
    path, fmt: str, label: str, date_col: str, meal_col: str, nutrients: dict, describe, reasons: dict[str, str]
) -> pd.DataFrame:
    """The shared part of both readers; ``describe(cell, where, probs)`` gives the text fields."""
    header, rows, p, encoding = _read_csv(path)
    found = _format_of(header)
    if found != fmt:
        if found is None:
            raise _unknown_format(header, p)
        raise InputError(
            f"this is a {found} diary, not a {label} export",
            source=p,
            hint="use read_diary(), which detects the format",
        )
    if not rows:
        raise InputError(
            f"no entries: the {label} export has a header but no rows",
            source=p,
            hint="export a date range in which foods were logged",
        )
    idx: dict[str, int] = {}
    for i, h in enumerate(header):
        idx.setdefault(_key(h), i)
    used: dict[str, tuple[int, float]] = {}
    for name, col in nutrients.items():
        pos = idx.get(_key(name))
        if pos is not None and col not in used:
            used[col] = (pos, _FACTORS.get(name, 1.0))
    structural = {_key(c) for c in (date_col, meal_col, "Time", "Food Name", "Amount")}
    used_idx = {i for i, _ in used.values()}
    ignored = [h for i, h in enumerate(header) if i not in used_idx and _key(h) not in structural and h]
    probs = _Problems()
    out = []
    for where, rec in rows:
        if len(rec) > len(header):
            probs.add(where, None, None, f"{len(rec)} values but the header has {len(header)} columns", "shape")
            continue

        def cell(name, rec=rec):
            i = idx.get(_key(name))
            return rec[i].strip() if i is not None and i < len(rec) else ""

        day = _day(cell(date_col), where, date_col, probs)
        raw_time = cell("Time")
        t = _time(raw_time, where, "Time", probs) if raw_time else None
        row = {"time_assumed": not raw_time, "source_row": where, "ndb_no": None, "nutrients_given": True}
        if day is not None and (t is not None or not raw_time):
            row["timestamp"] = pd.Timestamp(datetime.combine(day, t or time(12, 0)))
        row["meal"] = _MEALS.get(cell(meal_col).casefold(), "other")
        row.update(describe(cell, where, probs))
        for col, (i, factor) in used.items():
            row[col] = factor * _number(rec[i] if i < len(rec) else "", where, header[i], probs, col == "energy_kcal")
        out.append(row)
    probs.raise_if_any(p, label)
    core = list(dict.fromkeys(c for c in nutrients.values() if c not in _OPTIONAL or c in used))
    df = pd.DataFrame(out).reindex(columns=ENTRY_COLUMNS + core)
    for c in core:
        df[c] = df[c].astype(float)
    df["grams"] = df["grams"].astype(float)
    df = df.sort_values("timestamp", kind="stable").reset_index(drop=True)
    df["date"] = df["timestamp"].dt.normalize()
    df.attrs.update(
        source=str(p),
        format=fmt,
        encoding=encoding,
        ignored_columns=ignored,
        ignored_reasons={h: reasons.get(h, "not used by gutaxis") for h in ignored},
        missing_columns=[c for c in core if c not in used],
    )
    return df


def _ignored_phrase(ignored: list[str]) -> str:
    if not ignored:
        return "no columns were ignored"
    shown = ", ".join(ignored[:4]) + (", ..." if len(ignored) > 4 else "")
    return f"{len(ignored)} column{'s' if len(ignored) > 1 else ''} gutaxis does not use were ignored ({shown})"


def read_cronometer(path: str | os.PathLike) -> pd.DataFrame:
    """Read a Cronometer "servings" export: one row per food entry.

    Returns
    -------
    pandas.DataFrame
        ``timestamp`` (Day + Time; a blank Time is noon with ``time_assumed`` True), ``date``,
        ``meal`` (Group -> breakfast, lunch, dinner, snack; anything else, e.g. Uncategorized ->
        other), ``text`` ("Food Name, Amount"), ``food_name``, ``amount_text``, ``ndb_no`` (None),
        ``grams`` (the Amount when its unit is g, else NaN), ``time_assumed``, ``source_row``,
        ``nutrients_given`` (True) and the per-entry nutrients of ``CRONOMETER_NUTRIENTS``
        (``energy_kcal``, ``fiber_g``, ``sat_fat_g``, ... ``omega6_g``); ``vitamin_d_ug`` is
        Cronometer's IU / 40; ``added_sugars_g`` and ``alcohol_g`` only when the file has those
        columns. A nutrient the file lacks is NaN and named in ``attrs["missing_columns"]``.

        ``folate_dfe_ug`` assumes Cronometer's "Folate (µg)" is dietary folate equivalents (DFE),
        as Cronometer labels folate in its app; the export header does not say. Were it total
        folate, fortified foods would be understated (folic acid counts 1.7-fold in DFE).

        ``attrs``: ``source``, ``format`` ("cronometer"), ``ignored_columns`` (columns not used),
        ``ignored_reasons``, ``missing_columns``, ``note`` (one sentence for the user).
    """

    def describe(cell, where, probs):
        name, amount = cell("Food Name"), cell("Amount")
        if not name:
            probs.add(where, "Food Name", None, "missing food name", "text")
        m = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*([A-Za-z]+)\.?", amount)
        grams = float(m.group(1)) if m and m.group(2).lower() in ("g", "gram", "grams") else np.nan
        return {
            "text": f"{name}, {amount}" if amount else name,
            "food_name": name or None,
            "amount_text": amount,
            "grams": grams,
        }

    df = _read_export(path, "cronometer", "Cronometer", "Day", "Group", CRONOMETER_NUTRIENTS, describe, {})
    n_assumed = int(df["time_assumed"].sum())
    timed = f"; {n_assumed} entries without a time were placed at noon" if n_assumed else ""
    df.attrs["note"] = (
        f"Read {len(df)} food entries over {df['date'].nunique()} days from Cronometer with the "
        f"nutrients Cronometer gives; {_ignored_phrase(df.attrs['ignored_columns'])}{timed}."
    )
    return df


def read_myfitnesspal(path: str | os.PathLike) -> pd.DataFrame:
    """Read a MyFitnessPal Nutrition Summary: one row per (date, meal) total as in the file.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`read_cronometer` with ``text`` = "<Meal> (MyFitnessPal meal
        total)", ``food_name`` and ``amount_text`` None, ``grams`` NaN, ``timestamp`` from the
        optional Time column (else noon, ``time_assumed`` True), and the nutrients the export
        gives in amounts: ``energy_kcal`` (Calories), ``fat_g``, ``sat_fat_g``, ``pufa_g``,
        ``mufa_g``, ``cholesterol_mg``, ``sodium_mg``, ``potassium_mg`` (MyFitnessPal tracks mg),
        ``carbohydrate_g``, ``fiber_g``, ``sugars_g``, ``protein_g``.

        Vitamin A, Vitamin C, Calcium and Iron are % of daily value in this export; they are not
        converted but dropped and listed in ``attrs["ignored_columns"]`` (reasons in
        ``attrs["ignored_reasons"]``). ``attrs["limited"]`` is True and ``attrs["note"]`` says
        what can and cannot be scored from meal totals.
    """
    reasons = {h: "% of daily value in this export, not an amount; not converted" for h in _MFP_PERCENT_DV}
    reasons["Note"] = "free text, not used"

    def describe(cell, where, probs):
        meal = cell("Meal")
        if not meal:
            probs.add(where, "Meal", None, "missing meal name", "text")
        return {"text": f"{meal} (MyFitnessPal meal total)", "food_name": None, "amount_text": None, "grams": np.nan}

    df = _read_export(path, "myfitnesspal", "MyFitnessPal", "Date", "Meal", MYFITNESSPAL_NUTRIENTS, describe, reasons)
    df.attrs["limited"] = True
    df.attrs["note"] = (
        "MyFitnessPal exports meal totals without food names, so only energy, fiber, sugars, "
        "saturated fat and sodium can be scored; fermented foods, the ultra-processed share "
        "and the inflammatory score cannot."
    )
    return df


def read_diary(path: str | os.PathLike, *, dayfirst: bool | None = None) -> pd.DataFrame:
    """Read any accepted diary, choosing the reader with :func:`detect_diary_format`.

    A gutaxis meal log is read by :func:`gutaxis.lifestyle.read_meal_log` and gets
    ``nutrients_given`` False, ``time_assumed`` False and ``attrs["format"]`` "gutaxis".
    """
    fmt = detect_diary_format(path)
    if fmt == "cronometer":
        return read_cronometer(path)
    if fmt == "myfitnesspal":
        return read_myfitnesspal(path)
    from .logs import read_meal_log

    df = read_meal_log(path, dayfirst=dayfirst)
    df["time_assumed"] = False
    df["nutrients_given"] = False
    df.attrs["format"] = "gutaxis"
    return df
