"""Meal, stress and symptom logs as plain CSV or JSON files, validated entry by entry.

Every malformed entry raises :class:`gutaxis.errors.InputError` naming the file, the row (CSV
line number, header = line 1) or entry (JSON, 1-based), the column and what is allowed.

Meal log (:func:`read_meal_log`)
    ``timestamp`` (ISO 8601, e.g. ``2024-05-01T08:30``), then either ``text`` (free text with
    portion words: "1 cup kimchi", "2 eggs") or ``ndb_no`` + ``grams`` (a USDA SR28 item);
    optional ``grams`` with text (overrides the portion), ``meal`` (breakfast, lunch, dinner,
    snack, drink, other), ``repeat_of`` (the timestamp of an earlier meal to log again — the
    "same as yesterday's breakfast" shortcut).
Stress log (:func:`read_stress_log`)
    ``timestamp`` and any of: ``rating`` (0-10 daily stress), ``practice`` (mindfulness,
    meditation, yoga, breathing, tai chi, relaxation) with ``minutes``, the ten PSS-10 answers
    ``pss_1``…``pss_10`` (0-4, all ten or none).
Symptom log (:func:`read_symptom_log`)
    ``timestamp`` (when noted), ``symptom`` + ``rating`` (0-10) and/or ``bristol`` (stool type
    1-7), optional ``onset`` (when it started; default: the timestamp) and ``note``.

:func:`write_log` writes any of them back as CSV or JSON (the export of everything logged).
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .stress import PRACTICES, score_pss10
from .symptoms import normalize_symptom

__all__ = ["read_meal_log", "read_stress_log", "read_symptom_log", "write_log", "MEAL_SLOTS"]

MEAL_SLOTS = ("breakfast", "lunch", "dinner", "snack", "drink", "other")


def _records(path) -> tuple[list[dict], list[str], Path, str]:
    """Rows of a CSV or JSON log as dicts of strings, with a label per row for messages."""
    p = Path(path)
    if not p.is_file():
        raise InputError("log file not found", source=p, hint="give the path of a .csv or .json log")
    text = p.read_text(encoding="utf-8-sig")
    fmt = "json" if p.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")) else "csv"
    rows: list[dict] = []
    labels: list[str] = []
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", source=p,
                             hint="a JSON log is a list of objects, e.g. [{\"timestamp\": ..., \"text\": ...}]") from None
        if isinstance(data, dict):
            lists = [v for v in data.values() if isinstance(v, list)]
            if len(lists) != 1:
                raise InputError("a JSON log must be a list of entries (or an object holding one list)", source=p)
            data = lists[0]
        if not isinstance(data, list):
            raise InputError("a JSON log must be a list of entries", source=p)
        for i, rec in enumerate(data, start=1):
            if not isinstance(rec, dict):
                raise InputError(f"entry {i} is not an object", source=p, hint="each entry is {\"column\": value, ...}")
            rows.append({str(k).strip().lower(): ("" if v is None else v) for k, v in rec.items()})
            labels.append(f"entry {i}")
    else:
        reader = csv.DictReader(text.splitlines())
        if reader.fieldnames is None:
            raise InputError("empty CSV log", source=p, hint="the first line names the columns, e.g. timestamp,text")
        names = [str(n).strip().lower() for n in reader.fieldnames]
        if len(set(names)) != len(names):
            raise InputError(f"duplicate column names in the header: {names}", source=p)
        for rec in reader:
            if None in rec:
                raise InputError(f"row {reader.line_num}: more values than columns", source=p,
                                 hint="quote text that contains commas, e.g. \"1 cup rice, cooked\"")
            vals = list(rec.values())
            if all((v is None or str(v).strip() == "") for v in vals):
                continue
            rows.append({n: ("" if v is None else v) for n, v in zip(names, vals)})
            labels.append(f"row {reader.line_num}")
    return rows, labels, p, fmt


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and v.strip() == "")


def _timestamp(v, where: str, col: str, p: Path) -> pd.Timestamp:
    if _blank(v):
        raise InputError(f"{where}, column {col!r}: missing", source=p,
                         hint="give the date and time in ISO 8601, e.g. 2024-05-01T08:30")
    try:
        ts = pd.Timestamp(str(v).strip())
    except (ValueError, TypeError):
        ts = pd.NaT
    if ts is pd.NaT or pd.isna(ts):
        raise InputError(f"{where}, column {col!r}: {v!r} is not a date-time", source=p,
                         hint="use ISO 8601, e.g. 2024-05-01T08:30 or 2024-05-01 08:30")
    if ts.tzinfo is not None:
        ts = ts.tz_convert(None)
    return ts


def _number(v, where: str, col: str, p: Path, *, lo=None, hi=None, integer=False, allowed: str = "") -> float:
    try:
        x = float(str(v).strip())
    except (TypeError, ValueError):
        x = np.nan
    bad = np.isnan(x) or (lo is not None and x < lo) or (hi is not None and x > hi) or (integer and x != int(x))
    if bad:
        raise InputError(f"{where}, column {col!r}: {v!r} is not allowed", source=p, hint=allowed)
    return x


def _unknown_columns(rows, allowed: set[str], p: Path, labels) -> None:
    for rec, where in zip(rows, labels):
        extra = [k for k in rec if k not in allowed and not _blank(rec[k])]
        if extra:
            raise InputError(f"{where}: unknown column(s) {extra}", source=p,
                             hint=f"allowed columns: {', '.join(sorted(allowed))}")


def read_meal_log(path: str | os.PathLike) -> pd.DataFrame:
    """Read a meal log (CSV or JSON); see the module docstring for the columns.

    Returns
    -------
    pandas.DataFrame
        One row per food entry (repeats expanded): ``timestamp``, ``date``, ``meal``, ``text``,
        ``ndb_no`` (5-digit string or None), ``grams`` (float or NaN), ``repeat_of``,
        ``source_row``. ``attrs["source"]`` is the file.
    """
    rows, labels, p, _ = _records(path)
    allowed = {"timestamp", "text", "ndb_no", "grams", "meal", "repeat_of", "note"}
    _unknown_columns(rows, allowed, p, labels)
    out = []
    for rec, where in zip(rows, labels):
        ts = _timestamp(rec.get("timestamp"), where, "timestamp", p)
        text = "" if _blank(rec.get("text")) else str(rec["text"]).strip()
        ndb = "" if _blank(rec.get("ndb_no")) else str(rec["ndb_no"]).strip()
        grams = np.nan
        if not _blank(rec.get("grams")):
            grams = _number(rec["grams"], where, "grams", p, lo=0, allowed="grams must be a number above 0")
            if grams == 0:
                raise InputError(f"{where}, column 'grams': 0 is not allowed", source=p,
                                 hint="grams must be above 0 (leave the entry out if nothing was eaten)")
        meal = "" if _blank(rec.get("meal")) else str(rec["meal"]).strip().lower()
        if meal and meal not in MEAL_SLOTS:
            raise InputError(f"{where}, column 'meal': {rec['meal']!r} is not allowed", source=p,
                             hint=f"use one of: {', '.join(MEAL_SLOTS)}")
        rep = None
        if not _blank(rec.get("repeat_of")):
            rep = _timestamp(rec["repeat_of"], where, "repeat_of", p)
        if ndb:
            if not re.fullmatch(r"\d{1,5}", ndb):
                raise InputError(f"{where}, column 'ndb_no': {ndb!r} is not an NDB number", source=p,
                                 hint="a USDA SR28 NDB number of up to 5 digits, e.g. 09040")
            if np.isnan(grams):
                raise InputError(f"{where}, column 'grams': missing for ndb_no {ndb}", source=p,
                                 hint="an entry by NDB number needs the grams eaten")
            ndb = ndb.zfill(5)
        if not text and not ndb and rep is None:
            raise InputError(f"{where}: no food given", source=p,
                             hint="give 'text' (e.g. '1 cup kimchi'), or 'ndb_no' and 'grams', or 'repeat_of'")
        out.append({"timestamp": ts, "meal": meal, "text": text, "ndb_no": ndb or None, "grams": grams,
                    "repeat_of": rep, "source_row": where})
    df = pd.DataFrame(out, columns=["timestamp", "meal", "text", "ndb_no", "grams", "repeat_of", "source_row"])
    # expand repeats: copy every entry logged at the referenced time to the new time
    if df["repeat_of"].notna().any():
        base = df[df["repeat_of"].isna()]
        expanded = [base]
        for _, r in df[df["repeat_of"].notna()].iterrows():
            src = base[base["timestamp"] == r["repeat_of"]]
            if src.empty:
                raise InputError(f"{r['source_row']}, column 'repeat_of': no meal was logged at {r['repeat_of']}",
                                 source=p, hint="repeat_of must be the timestamp of an earlier entry in the same log")
            if r["repeat_of"] >= r["timestamp"]:
                raise InputError(f"{r['source_row']}, column 'repeat_of': {r['repeat_of']} is not before {r['timestamp']}",
                                 source=p, hint="only earlier meals can be repeated")
            copy = src.copy()
            copy["timestamp"] = r["timestamp"]
            copy["repeat_of"] = r["repeat_of"]
            copy["source_row"] = r["source_row"]
            if r["meal"]:
                copy["meal"] = r["meal"]
            expanded.append(copy)
        df = pd.concat(expanded, ignore_index=True)
    df = df.sort_values("timestamp", kind="stable").reset_index(drop=True)
    df.insert(1, "date", df["timestamp"].dt.normalize())
    df.attrs["source"] = str(p)
    return df


def read_stress_log(path: str | os.PathLike) -> pd.DataFrame:
    """Read a stress log (CSV or JSON); see the module docstring for the columns.

    Returns
    -------
    pandas.DataFrame
        ``timestamp``, ``date``, ``rating`` (0-10 or NaN), ``practice`` (or ""), ``minutes``
        (or NaN), ``pss_1``…``pss_10`` and ``pss10`` (total, scored with reverse items 4, 5, 7,
        8) where a questionnaire was given, ``source_row``.
    """
    rows, labels, p, _ = _records(path)
    items = [f"pss_{i}" for i in range(1, 11)]
    allowed = {"timestamp", "rating", "practice", "minutes", "note", *items}
    _unknown_columns(rows, allowed, p, labels)
    out = []
    for rec, where in zip(rows, labels):
        ts = _timestamp(rec.get("timestamp"), where, "timestamp", p)
        row = {"timestamp": ts, "rating": np.nan, "practice": "", "minutes": np.nan, "source_row": where}
        if not _blank(rec.get("rating")):
            row["rating"] = _number(rec["rating"], where, "rating", p, lo=0, hi=10,
                                    allowed="the daily stress rating is a number 0 (none) to 10 (worst)")
        prac = "" if _blank(rec.get("practice")) else str(rec["practice"]).strip().lower()
        mins = rec.get("minutes")
        if prac or not _blank(mins):
            if prac not in PRACTICES:
                raise InputError(f"{where}, column 'practice': {rec.get('practice')!r} is not allowed", source=p,
                                 hint=f"use one of: {', '.join(PRACTICES)} (with 'minutes')")
            if _blank(mins):
                raise InputError(f"{where}, column 'minutes': missing for practice {prac!r}", source=p,
                                 hint="give the minutes practised (0-1440)")
            row["practice"] = prac
            row["minutes"] = _number(mins, where, "minutes", p, lo=0, hi=1440,
                                     allowed="minutes are a number 0-1440")
        given = [not _blank(rec.get(c)) for c in items]
        if any(given):
            if not all(given):
                missing = [c for c, g in zip(items, given) if not g]
                raise InputError(
                    f"{where}: PSS-10 answers missing for {', '.join(missing)}", source=p,
                    hint="the PSS-10 has no published rule for prorating missing items; give all ten answers (0-4)")
            for c in items:
                row[c] = _number(rec[c], where, c, p, lo=0, hi=4, integer=True,
                                 allowed="PSS-10 answers are whole numbers 0 (never) to 4 (very often)")
        if np.isnan(row["rating"]) and not prac and not any(given):
            raise InputError(f"{where}: nothing logged", source=p,
                             hint="give a 'rating' (0-10), a 'practice' with 'minutes', or the ten PSS-10 answers")
        out.append(row)
    df = pd.DataFrame(out)
    for c in items:
        if c not in df:
            df[c] = np.nan
    df["pss10"] = np.nan
    has = df[items].notna().all(axis=1)
    if has.any():
        df.loc[has, "pss10"] = score_pss10(df.loc[has, items].astype(int), source=str(p))["pss10"].to_numpy()
    df = df.sort_values("timestamp", kind="stable").reset_index(drop=True)
    df.insert(1, "date", df["timestamp"].dt.normalize())
    df.attrs["source"] = str(p)
    return df


def read_symptom_log(path: str | os.PathLike) -> pd.DataFrame:
    """Read a symptom log (CSV or JSON); see the module docstring for the columns.

    Returns
    -------
    pandas.DataFrame
        ``timestamp``, ``onset``, ``date`` (of onset), ``symptom`` (normalised name or ""),
        ``rating`` (0-10 or NaN), ``bristol`` (1-7 or NaN), ``note``, ``source_row``.
    """
    rows, labels, p, _ = _records(path)
    allowed = {"timestamp", "symptom", "rating", "bristol", "onset", "note"}
    _unknown_columns(rows, allowed, p, labels)
    out = []
    for rec, where in zip(rows, labels):
        ts = _timestamp(rec.get("timestamp"), where, "timestamp", p)
        onset = ts if _blank(rec.get("onset")) else _timestamp(rec["onset"], where, "onset", p)
        if onset > ts:
            raise InputError(f"{where}, column 'onset': {onset} is after the time it was noted ({ts})", source=p,
                             hint="onset is when the symptom started, at or before the timestamp")
        sym = "" if _blank(rec.get("symptom")) else normalize_symptom(rec["symptom"])
        rating = np.nan
        if not _blank(rec.get("rating")):
            if not sym:
                raise InputError(f"{where}, column 'symptom': missing for a rating", source=p,
                                 hint="name the symptom the rating is for, e.g. bloating")
            rating = _number(rec["rating"], where, "rating", p, lo=0, hi=10,
                             allowed="symptom ratings are numbers 0 (none) to 10 (worst)")
        elif sym:
            raise InputError(f"{where}, column 'rating': missing for symptom {sym!r}", source=p,
                             hint="rate the symptom 0 (none) to 10 (worst)")
        bristol = np.nan
        if not _blank(rec.get("bristol")):
            bristol = _number(rec["bristol"], where, "bristol", p, lo=1, hi=7, integer=True,
                              allowed="the Bristol stool type is a whole number 1-7")
        if not sym and np.isnan(bristol):
            raise InputError(f"{where}: nothing logged", source=p,
                             hint="give a 'symptom' with a 'rating' (0-10) and/or a 'bristol' type (1-7)")
        note = "" if _blank(rec.get("note")) else str(rec["note"])
        out.append({"timestamp": ts, "onset": onset, "symptom": sym, "rating": rating, "bristol": bristol,
                    "note": note, "source_row": where})
    df = pd.DataFrame(out, columns=["timestamp", "onset", "symptom", "rating", "bristol", "note", "source_row"])
    df = df.sort_values("onset", kind="stable").reset_index(drop=True)
    df.insert(2, "date", df["onset"].dt.normalize())
    df.attrs["source"] = str(p)
    return df


def write_log(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a log (or any table from this package) as CSV (``.csv``) or JSON (``.json``)."""
    p = Path(path)
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%S").where(out[c].notna(), "")
    if p.suffix.lower() == ".json":
        p.write_text(out.to_json(orient="records", indent=1), encoding="utf-8")
    else:
        out.to_csv(p, index=False)
    return p
