"""Dates and times of a log: the date-time columns of a file, read with one day/month order.

:func:`_read_dates` reads ISO 8601, day-month forms (``dayfirst`` given, or detected from the
rows of the file that decide it) and month names, keeps local wall-clock time with the UTC
offset apart, and refuses implausible years (``YEARS``); see the docstring of
:mod:`gutaxis.lifestyle.logs` for the rules.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import InputError
from ._log_rows import _Problems, _text

_TS_HINT = "use ISO 8601, e.g. 2024-05-01T08:30 or 2024-05-01 08:30"
_ORDER_HINT = (
    "pass --dayfirst (UK/European 01/12/2026 = 1 December) or --monthfirst (US 01/12/2026 = "
    "January 12), or write ISO dates such as 2026-12-01 (in Python: dayfirst=True or dayfirst=False)"
)
YEARS = (1900, 2100)  # dates outside are typos (2999 for 2019), not meals


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
    Messages name each column as the file does (``probs.name``).
    """
    col = probs.name

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
            f"dates are written both day-first ({ld}, column {col(cd)}: {vd!r}) and month-first "
            f"({lm}, column {col(cm)}: {vm!r})",
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
            f"{lab}, column {col(c)}: {val!r} could be {_day_month(x, y, True)} or {_day_month(y, x, False)}, and no "
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
                f"{labels[i]}, column {col(c)}: {s.iloc[i]!r} is not a plausible date (year "
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
            v, where = s.iloc[i], f"{labels[i]}, column {col(c)}"
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
                f"{labels[i]}, column {col(c)}: {s.iloc[i]!r} has no valid UTC offset",
                hint="offsets run from -12:00 to +14:00, e.g. 2026-12-01T08:30+01:00",
            )
        ts = ts.where(off != -np.inf)
        out[c] = (ts, off.where(off != -np.inf))
    return out, decided
