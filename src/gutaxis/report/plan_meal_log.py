"""What the meal log gives the reports: coverage, entries to fix, assumed portions, nutrients, top foods.

Each comes from the assessment where it carries it; an assessment without these fields is still
reported, with coverage and the entries to fix derived from the match status of the entries. The
``*_frame`` functions give the tables (also written as CSV), the ``*_rows`` / ``*_blocks`` functions
the rows the templates and the PDF show.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import finite_or_none as _finite
from .plan_format import (
    _cell,
    _date_text,
    _pct_text,
    _row_text,
    _split_candidates,
    _v,
)

COVERAGE_THRESHOLD = 0.8
#: top-foods score key -> (title, unit)
TOP_FOOD_SCORES = {
    "fiber_g": ("Fiber", "g"),
    "energy_kcal": ("Energy", "kcal"),
    "sugars_g": ("Sugars (total)", "g"),
    "sat_fat_g": ("Saturated fat", "g"),
    "sodium_mg": ("Sodium", "mg"),
}
TO_FIX_COLUMNS = ["source_row", "date", "text", "item_text", "status", "reason", "candidates"]
ASSUMED_COLUMNS = ["source_row", "date", "text", "description", "grams", "portion_basis"]
_STATUS_TEXT = {
    "unmatched": "not recognised",
    "low_confidence": "unsure which food",
    "no_portion": "no amount",
    "implausible": "amount looks wrong",
    "unknown_ndb": "food code not in the table",
    "unknown_id": "food code not in the table",
}
_COUNTED = ("matched", "given")  # a low-confidence match is never counted silently


def _counted(items: pd.DataFrame) -> pd.Series:
    """Which entries the scores stand on: the ``counted`` column of the resolver, else by match status."""
    if "counted" in items.columns:
        return items["counted"].fillna(False).astype(bool)
    ok = items["match_status"].isin(_COUNTED)
    for c in ("ndb_no", "grams"):
        if c in items:
            ok &= items[c].notna()
    return ok


def _coverage(a) -> dict:
    """The assessment's ``coverage`` (see the coverage gate in :mod:`gutaxis.report.plan`), normalised;
    derived from the match status of the entries where the assessment carries none (then the share of energy
    is unknown)."""
    cov = getattr(a, "coverage", None)
    items = a.items
    if not isinstance(cov, dict) or not cov:  # an assessment built without the gate: the same rule, from its entries
        from ..lifestyle.resolve import coverage

        cov = {**coverage(None if items is None else items.assign(counted=_counted(items))), "derived": True}
    n = int(cov.get("n_entries") or 0)
    counted = int(cov.get("n_counted") or 0)
    se = _finite(cov.get("share_entries"))
    if se is None and n:
        se = counted / n
    sk = _finite(cov.get("share_energy"))
    threshold = _finite(cov.get("threshold")) or COVERAGE_THRESHOLD
    ok = cov.get("ok")
    ok = bool(ok) if ok is not None else bool(se is not None and se >= threshold and (sk is None or sk >= threshold))
    complete = bool(n and counted >= n and (sk is None or sk >= 0.995))
    parts = [f"{_pct_text(se)} of entries"] if se is not None else []
    if sk is not None:
        parts.append(f"{_pct_text(sk, about=True)} of energy")
    shares = f" ({', '.join(parts)})" if parts else ""
    msg = str(cov.get("message") or "").strip()
    if n:
        you = (
            f"{'Only ' if not ok else ''}{counted} of {n} foods "
            f"{'could be' if not ok else 'you logged were'} counted{shares}"
        )
        client = (
            f"{'Only ' if not ok else ''}{counted} of {n} food entries the client logged "
            f"{'could be' if not ok else 'were'} counted{shares}"
        )
    else:
        you = client = (msg[:1].upper() + msg[1:]) if msg else "No food entries were logged"
    if not ok:
        you += ": these numbers are not your diet."
        client += (
            ": the diet scores below are not the client's diet and were not judged against targets "
            f"(at least {threshold:.0%} of entries and of energy must be counted)."
        )
    elif complete:
        you = f"All {n} foods you logged were counted."
        client = f"All {n} food entries the client logged were counted."
    else:
        you += "; the others are listed under “Foods to check”."
        client += "; the others are listed under “Entries to check”."
    return {
        "ok": ok,
        "gated": not ok,
        "complete": complete,
        "n_entries": n,
        "n_counted": counted,
        "share_entries": se,
        "share_energy": sk,
        "threshold": threshold,
        "message": msg,
        "kcal_counted": _finite(cov.get("kcal_counted")),
        "kcal_estimated_total": _finite(cov.get("kcal_estimated_total")),
        "statement": you,
        "statement_client": client,
        "derived": bool(cov.get("derived", False)),
    }


def _to_fix_frame(a) -> pd.DataFrame:
    """``a.to_fix``, or the entries the matcher could not count where the assessment has none."""
    df = getattr(a, "to_fix", None)
    if isinstance(df, pd.DataFrame):
        out = df.copy()
    else:
        from ..lifestyle.assessment import entries_to_fix

        items = a.items
        if items is None or not len(items):
            return pd.DataFrame(columns=TO_FIX_COLUMNS)
        out = entries_to_fix(items.assign(counted=_counted(items)))
    for c in TO_FIX_COLUMNS:
        if c not in out:
            out[c] = ""
    return out.reset_index(drop=True)


def _to_fix_rows(df: pd.DataFrame) -> list[dict]:
    rows = []
    for r in df.to_dict("records"):
        text, part = _cell(r.get("text")), _cell(r.get("item_text"))
        status = _cell(r.get("status"))
        rows.append(
            {
                "row": _row_text(r.get("source_row")),
                "date": _date_text(r.get("date")),
                "text": text,
                "item_text": part if part and part != text else "",
                "status": status,
                "status_text": _STATUS_TEXT.get(status, status.replace("_", " ")),
                "reason": _cell(r.get("reason")),
                "candidates": _split_candidates(r.get("candidates")),
            }
        )
        c = rows[-1]["candidates"]
        rows[-1]["did_you_mean"] = (", ".join(c[:-1]) + " or " + c[-1]) if len(c) > 1 else (c[0] if c else "")
    return rows


def _assumed_frame(a) -> pd.DataFrame:
    df = getattr(a, "assumed", None)
    out = df.copy() if isinstance(df, pd.DataFrame) else pd.DataFrame(columns=ASSUMED_COLUMNS)
    for c in ASSUMED_COLUMNS:
        if c not in out:
            out[c] = ""
    return out.reset_index(drop=True)


def _assumed_rows(df: pd.DataFrame) -> list[dict]:
    return [
        {
            "row": _row_text(r.get("source_row")),
            "date": _date_text(r.get("date")),
            "text": _cell(r.get("text")),
            "description": _cell(r.get("description")),
            "grams": _v(r.get("grams"), 0),
            "basis": _cell(r.get("portion_basis")),
        }
        for r in df.to_dict("records")
    ]


def _nutrients_frame(a) -> pd.DataFrame | None:
    """``a.nutrients``; where the assessment has none, energy and fiber from its scores."""
    df = getattr(a, "nutrients", None)
    if isinstance(df, pd.DataFrame):
        return df
    s = a.scores
    rows = {
        "energy_kcal": {
            "label": "Energy",
            "unit": "kcal/day",
            "per_day": s.get("energy_kcal_per_day", np.nan),
            "per_kg": np.nan,
            "reference": "",
            "coverage_note": "",
        },
        "fiber_g": {
            "label": "Fiber",
            "unit": "g/day",
            "per_day": s.get("fiber_g_per_day", np.nan),
            "per_kg": np.nan,
            "reference": (
                f"Adequate Intake {s['fiber_target_g']:.0f} g/day (IOM 2005)"
                if _finite(s.get("fiber_target_g")) is not None
                else "Adequate Intake (IOM 2005)"
            ),
            "coverage_note": "",
        },
    }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "nutrient"
    return out


def _nutrient_rows(df: pd.DataFrame | None) -> list[dict]:
    if df is None:
        return []
    rows = []
    for key, r in df.iterrows():
        unit = _cell(r.get("unit"))
        per_day = _finite(r.get("per_day"))
        nd = 1 if per_day is None else (0 if abs(per_day) >= 100 else 1 if abs(per_day) >= 1 else 2)
        per_kg = _finite(r.get("per_kg"))
        rows.append(
            {
                "key": str(key),
                "label": _cell(r.get("label")) or str(key),
                "unit": unit,
                "per_day": _v(per_day, nd),
                "raw": per_day,
                "per_kg": "" if per_kg is None else f"{per_kg:.2f} g/kg/day",
                "reference": _cell(r.get("reference")),
                "coverage_note": _cell(r.get("coverage_note")),
            }
        )
    return rows


def _top_foods(a) -> dict:
    """``a.top_foods``; where the assessment has none, computed from the counted entries."""
    tf = getattr(a, "top_foods", None)
    if isinstance(tf, dict) and tf:
        return tf
    from ..lifestyle.assessment import top_foods

    items = a.items
    if items is None or not len(items) or "description" not in items:
        return {}
    return top_foods(items[_counted(items) & items["description"].notna()])


def _top_food_blocks(tf: dict) -> list[dict]:
    blocks = []
    for key, (title, unit) in TOP_FOOD_SCORES.items():
        df = tf.get(key)
        if not isinstance(df, pd.DataFrame) or not len(df):
            continue
        rows = []
        for r in df.head(5).to_dict("records"):
            ex = r.get("examples")
            if isinstance(ex, (list, tuple, np.ndarray)):
                ex = [_cell(e) for e in ex]
            else:  # the person's words, joined by "; " (or " | ")
                ex = [e.strip() for e in _cell(ex).split(" | " if " | " in _cell(ex) else "; ")]
            amount = _finite(r.get("amount"))
            rows.append(
                {
                    "food": _cell(r.get("food")),
                    "examples": [e for e in ex if e][:2],
                    "amount": "—" if amount is None else f"{amount:,.{0 if unit in ('kcal', 'mg') else 1}f} {unit}",
                    "share": _v(r.get("share_pct"), 0) + " %" if _finite(r.get("share_pct")) is not None else "—",
                    "n": _cell(r.get("n_entries")),
                }
            )
        blocks.append({"key": key, "title": title, "unit": unit, "rows": rows})
    return blocks


def _top_foods_frame(tf: dict) -> pd.DataFrame:
    frames = []
    for key, df in tf.items():
        if isinstance(df, pd.DataFrame) and len(df):
            d = df.copy()
            if "examples" in d:
                d["examples"] = d["examples"].map(
                    lambda e: " | ".join(map(str, e)) if isinstance(e, (list, tuple, np.ndarray)) else _cell(e)
                )
            d.insert(0, "rank", range(1, len(d) + 1))
            d.insert(0, "score", key)
            frames.append(d)
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["score", "rank", "food", "examples", "amount", "share_pct", "n_entries"])
    )
