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
    ``timestamp`` (e.g. ``2024-05-01T08:30``; or ``date`` and ``time``), then either ``text``
    (free text with portion words: "1 cup kimchi", "2 eggs") or ``ndb_no`` + ``grams`` (a USDA
    SR28 item); optional ``grams`` with text (overrides the portion; above 0 and at most 2,000 g
    per entry), ``meal`` (breakfast, lunch, dinner, snack, drink, other), ``note`` (kept with the
    entry), or ``repeat_of`` instead of a food (the timestamp of an earlier meal to log again —
    the "same as yesterday's breakfast" shortcut).
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

:func:`write_log` writes any of them back as CSV or JSON (the export of everything logged) that
reads back as logged.

A log typed in a spreadsheet may have ``date`` and ``time`` columns (or only ``date``) instead of
``timestamp``; they are joined and read by the same rules, and messages name them (``row 4, column
'date' + 'time': ...``). A time on its own may also be written ``8.30``, ``8h30``, ``noon``. A meal
log may call its ``text`` column ``food``.

The parts live in their own modules: reading a file into rows and collecting its problems in
``_log_rows``, and the dates and times in ``_log_dates``; this module keeps the three readers
and :func:`write_log`.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ._csvsafe import csv_safe
from ._log_dates import _TS_HINT, _read_dates
from ._log_dates import YEARS as YEARS  # re-exported (gutaxis.lifestyle.imports reads it here)
from ._log_rows import _blank, _number, _Problems, _records, _text, _unknown_columns
from .stress import PRACTICES, score_pss10
from .symptoms import normalize_symptom

__all__ = [
    "DERIVED_COLUMNS",
    "MEAL_SLOTS",
    "read_meal_log",
    "read_stress_log",
    "read_symptom_log",
    "write_log",
    "write_table",
]

MEAL_SLOTS = ("breakfast", "lunch", "dinner", "snack", "drink", "other")

MAX_GRAMS = 2000.0  # one entry above this is a unit slip (kg, mg) or several foods at once


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
        NaN), ``repeat_of``, ``note`` (or ""), ``source_row``, ``utc_offset`` (minutes, NaN
        where not written).
        ``attrs["source"]`` is the file, ``attrs["date_order"]`` the day/month decision.

    Raises
    ------
    InputError
        Listing every malformed entry (see the module docstring).
    """
    rows, labels, keys, p, probs = _records(path, "timestamp,text,ndb_no,grams,meal")
    names = {k for r in rows for k in r}
    if "food" in names and "text" not in names:  # "Date, Time, Meal, Food" as a spreadsheet diary is typed
        for r in rows:
            r["text"] = r.pop("food", "")
    allowed = {"timestamp", "text", "ndb_no", "grams", "meal", "repeat_of", "note"}
    _unknown_columns(rows, labels, keys, allowed, probs)
    dates, order = _read_dates(rows, labels, keys, ["timestamp", "repeat_of"], dayfirst, probs)
    ts_all, off_all = dates["timestamp"]
    rep_all = dates["repeat_of"][0]
    out = []
    for i, (rec, where, key) in enumerate(zip(rows, labels, keys, strict=True)):
        if _blank(rec.get("timestamp")):
            probs.add(key, f"{where}, column {probs.when_column}: missing", hint=_TS_HINT)
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
        elif rep_given and (text or ndb):  # the repeat copies a whole meal; a food beside it would be lost
            probs.add(
                key,
                f"{where}: both a food and 'repeat_of' given",
                hint="a repeat copies every food of the earlier meal; log any extra food on its own row",
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
                "note": _text(rec.get("note")),
                "source_row": where,
                "utc_offset": off_all.iloc[i],
                "_key": key,
                "_rep": rep_given,
            }
        )
    cols = ["timestamp", "meal", "text", "ndb_no", "grams", "repeat_of", "note", "source_row", "utc_offset"]
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
        if r["note"]:
            copy["note"] = r["note"]
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
            probs.add(key, f"{where}, column {probs.when_column}: missing", hint=_TS_HINT)
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
            probs.add(key, f"{where}, column {probs.when_column}: missing", hint=_TS_HINT)
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


#: columns the readers compute from the others: a log written back leaves them out
DERIVED_COLUMNS = ("date", "source_row", "pss10")


def write_log(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a log as CSV (``.csv``) or JSON (``.json``) that its reader reads back as logged.

    ``write_log(read_meal_log(p), q)`` and ``read_meal_log(q)`` give the same entries (and so
    for stress and symptom logs): the columns a reader derives (``date``, ``source_row``,
    ``pss10``) are left out, and an entry copied by ``repeat_of`` is written as its own food (its
    ``repeat_of`` cell blank, so reading it back does not copy the meal a second time). The rest
    is written as ``write_table`` (in this module) writes it.
    """
    out = df.drop(columns=[c for c in DERIVED_COLUMNS if c in df.columns])
    if "repeat_of" in out.columns:
        food = pd.Series(False, index=out.index)
        for c in ("text", "ndb_no"):
            if c in out.columns:
                food |= out[c].notna() & out[c].astype(str).str.strip().ne("")
        out["repeat_of"] = out["repeat_of"].where(~food)
    return write_table(out, path)


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write any table of this package (a log, resolved meals) as CSV (``.csv``) or JSON (``.json``).

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
