"""Diary entries -> one row per food eaten, with grams and nutrients, and how much of the diary was counted.

:func:`resolve_diary` runs :class:`~gutaxis.lifestyle.diary.DiaryMatcher` over a meal log
(our own, or a Cronometer/MyFitnessPal import whose rows carry their own nutrients) and
:func:`coverage` says how much of it the scores stand on: the share of entries counted and the
share of the estimated energy counted. An uncounted entry's energy is estimated from its best
candidate at its usual portion, or, without one, from the median energy of the counted entries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .diary import DiaryMatcher
from .fermented import classify_fermented
from .fooddb import FoodDatabase

__all__ = ["COVERAGE_THRESHOLD", "NUTRIENTS", "coverage", "coverage_by_day", "resolve_diary"]

#: nutrients carried per food eaten (per 100 g in the tables, scaled to the grams eaten)
NUTRIENTS = (
    "energy_kcal",
    "fiber_g",
    "sugars_g",
    "sat_fat_g",
    "protein_g",
    "fat_g",
    "carbohydrate_g",
    "calcium_mg",
    "vitamin_d_ug",
    "folate_dfe_ug",
    "iron_mg",
    "sodium_mg",
    "alcohol_g",
    "omega3_g",
    "potassium_mg",
)
COVERAGE_THRESHOLD = 0.8


def resolve_diary(meals: pd.DataFrame, db: FoodDatabase, matcher: DiaryMatcher | None = None) -> pd.DataFrame:
    """One row per food of every diary entry (compound entries give several rows).

    Columns: the log's (``timestamp``, ``date``, ``meal``, ``text`` = the person's own words,
    ``note`` where the log has one, ``source_row``), ``item_text`` (the part of a compound entry), ``food_id`` (also as
    ``ndb_no``), ``description``, ``grams``, ``portion_basis``, ``portion_assumed``,
    ``match_status`` (matched, low_confidence, unmatched, no_portion, implausible, given,
    nutrients_given), ``counted``, ``confidence``, ``match_note``, ``candidates``, the fermented
    fields, ``nova``, and ``NUTRIENTS`` for the grams eaten.
    """
    matcher = matcher or DiaryMatcher(db)
    foods = db.foods
    given_cols = [c for c in NUTRIENTS if c in meals.columns]
    has_given = "nutrients_given" in meals.columns
    rows = []
    for rec in meals.to_dict("records"):
        base = {k: rec.get(k) for k in ("timestamp", "date", "meal", "text", "note", "source_row") if k in rec}
        if has_given and bool(rec.get("nutrients_given")):
            row = dict(
                base,
                item_text=rec.get("text", ""),
                food_id=None,
                description=rec.get("food_name") or None,
                grams=rec.get("grams", np.nan),
                portion_basis="from the imported file",
                portion_assumed=False,
                match_status="nutrients_given",
                confidence=1.0,
                how="import",
                match_note="",
                candidates="",
            )
            row.update({c: rec.get(c, np.nan) for c in given_cols})
            rows.append(row)
            continue
        fid = rec.get("ndb_no") or rec.get("food_id")
        g = rec.get("grams")
        g = np.nan if g is None else float(g)
        if fid:
            fid = str(fid)
            if fid not in foods.index and fid.zfill(5) in foods.index:
                fid = fid.zfill(5)
            known = fid in foods.index
            rows.append(
                dict(
                    base,
                    item_text=rec.get("text") or fid,
                    food_id=fid if known else None,
                    description=str(foods.at[fid, "description"]) if known else None,
                    grams=g,
                    portion_basis="grams given",
                    portion_assumed=False,
                    match_status="given" if known else "unknown_id",
                    confidence=1.0 if known else 0.0,
                    how="given",
                    match_note="" if known else f"food id {fid} is not in the food tables",
                    candidates="",
                )
            )
            continue
        items = matcher.match_entry(rec.get("text", ""))
        for it in items:
            grams = it.grams
            if len(items) == 1 and g == g:  # grams written beside a single food override its portion
                grams = g
            rows.append(
                dict(
                    base,
                    item_text=it.text,
                    food_id=it.food_id,
                    description=it.description,
                    grams=np.nan if grams is None else float(grams),
                    portion_basis="grams given" if (len(items) == 1 and g == g) else it.portion_basis,
                    portion_assumed=bool(it.portion_assumed and not (len(items) == 1 and g == g)),
                    match_status=it.status,
                    confidence=it.confidence,
                    how=it.how,
                    match_note=it.note,
                    candidates=it.as_dict()["candidates"],
                )
            )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    ok_food = out["food_id"].notna() & (foods.index.get_indexer(out["food_id"]) >= 0)  # the index's cached hash
    new: dict = {}  # framed once below: inserting column by column costs more than the arithmetic
    new["counted"] = (out["match_status"].isin(["matched", "given"]) & ok_food & out["grams"].notna()) | (
        out["match_status"] == "nutrients_given"
    )
    idx = out["food_id"].where(ok_food, None)
    sub = foods.reindex(idx.fillna("").to_numpy())
    factor = out["grams"].to_numpy(dtype=float) / 100.0
    given = (out["match_status"] == "nutrients_given").to_numpy()
    for col in NUTRIENTS:
        computed = sub[col].to_numpy(dtype=float) * factor if col in foods.columns else np.full(len(out), np.nan)
        if col in out.columns:  # imported rows keep the file's own numbers
            new[col] = np.where(given, pd.to_numeric(out[col], errors="coerce"), computed)
        else:
            new[col] = computed
    new["nova"] = sub["nova"].to_numpy() if "nova" in foods.columns else pd.NA
    fer_cache: dict = {}
    fid_, live_, serv_ = [], [], []
    for text, desc in zip(out["item_text"].astype(str), out["description"], strict=True):
        key = (text, desc)
        if key not in fer_cache:
            d = None if desc is None or desc != desc else str(desc).upper().replace(", ", ",")
            fer_cache[key] = classify_fermented(text or None, d)
        f = fer_cache[key]
        fid_.append(f["fermented_id"] if f else "")
        live_.append(f["live_cultures"] if f else "")
        serv_.append(f["serving_g"] if f else np.nan)
    new.update(fermented_id=fid_, live_cultures=live_, serving_g=serv_, ndb_no=out["food_id"].to_numpy())
    new_df = pd.DataFrame(new, index=out.index)
    out = pd.concat([out.drop(columns=[c for c in new_df.columns if c in out.columns]), new_df], axis=1)
    out.attrs["source"] = meals.attrs.get("source", "")
    out.attrs["food_tables"] = db.describe()
    return out


def coverage(items: pd.DataFrame, *, threshold: float = COVERAGE_THRESHOLD) -> dict:
    """How much of the diary the scores stand on (entries and estimated energy counted)."""
    if items is None or len(items) == 0:
        return {
            "n_entries": 0,
            "n_counted": 0,
            "share_entries": np.nan,
            "kcal_counted": 0.0,
            "kcal_estimated_total": 0.0,
            "share_energy": np.nan,
            "threshold": threshold,
            "ok": False,
            "message": "nothing was logged",
        }
    # one diary entry = one source row (compound entries give several foods)
    key = (
        items["source_row"].astype(str) + "|" + items["timestamp"].astype(str)
        if {"source_row", "timestamp"} <= set(items.columns)
        else pd.Series(items.index, index=items.index)
    )
    counted = items["counted"].astype(bool)
    entry_ok = counted.groupby(key, sort=False).all()
    n_entries, n_counted = len(entry_ok), int(entry_ok.sum())
    kcal = pd.to_numeric(items["energy_kcal"], errors="coerce")
    kcal_counted = float(kcal[counted].sum())
    typical = float(kcal[counted].median()) if counted.any() else 250.0
    # an uncounted food: its best candidate's energy at its usual portion, else a typical entry's
    kcal_total = kcal_counted + float(kcal[~counted].fillna(typical).sum())
    share_e = n_counted / n_entries if n_entries else np.nan
    share_k = kcal_counted / kcal_total if kcal_total > 0 else np.nan
    ok = bool(share_e >= threshold and (share_k != share_k or share_k >= threshold))
    if ok and n_counted == n_entries:
        msg = f"all {n_entries} entries were counted"
    else:
        msg = (
            (
                f"only {n_counted} of {n_entries} entries could be counted ({100 * share_e:.0f}% of entries, "
                f"about {100 * share_k:.0f}% of energy)"
            )
            if not ok
            else (
                f"{n_counted} of {n_entries} entries counted ({100 * share_e:.0f}% of entries, "
                f"about {100 * share_k:.0f}% of energy)"
            )
        )
    return {
        "n_entries": n_entries,
        "n_counted": n_counted,
        "share_entries": share_e,
        "kcal_counted": kcal_counted,
        "kcal_estimated_total": kcal_total,
        "share_energy": share_k,
        "threshold": threshold,
        "ok": ok,
        "message": msg,
    }


def coverage_by_day(items: pd.DataFrame, *, threshold: float = COVERAGE_THRESHOLD) -> pd.DataFrame:
    """:func:`coverage` for each day at once (vectorised; the diary's day-by-day gate).

    Indexed by ``date``; columns ``n_entries``, ``n_counted``, ``share_entries``,
    ``kcal_counted``, ``kcal_estimated_total``, ``share_energy`` and ``ok``, with the values
    :func:`coverage` gives on that day's rows alone.
    """
    cols = ["n_entries", "n_counted", "share_entries", "kcal_counted", "kcal_estimated_total", "share_energy", "ok"]
    if items is None or len(items) == 0:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="date"))
    day = pd.to_datetime(items["date"]).dt.normalize().rename("date")
    key = (
        items["source_row"].astype(str) + "|" + items["timestamp"].astype(str)
        if {"source_row", "timestamp"} <= set(items.columns)
        else pd.Series(items.index, index=items.index)
    )
    counted = items["counted"].astype(bool)
    entry_ok = counted.groupby([day, key.rename("entry")], sort=False).all()
    n_entries = entry_ok.groupby(level="date").size()
    n_counted = entry_ok.groupby(level="date").sum()
    kcal = pd.to_numeric(items["energy_kcal"], errors="coerce")
    kcal_counted = kcal.where(counted).groupby(day).sum()
    # an uncounted food: the day's median counted entry's energy when it has no estimate (coverage's rule)
    typical = kcal.where(counted).groupby(day).median().where(counted.groupby(day).any(), 250.0)
    fill = day.map(typical)
    kcal_total = kcal_counted + kcal.where(~counted).fillna(fill.where(~counted)).groupby(day).sum()
    out = pd.DataFrame({"n_entries": n_entries, "n_counted": n_counted}).sort_index()
    out["share_entries"] = out["n_counted"] / out["n_entries"]
    out["kcal_counted"] = kcal_counted.reindex(out.index).astype(float)
    out["kcal_estimated_total"] = kcal_total.reindex(out.index).astype(float)
    out["share_energy"] = (out["kcal_counted"] / out["kcal_estimated_total"]).where(out["kcal_estimated_total"] > 0)
    se, sk = out["share_entries"], out["share_energy"]
    out["ok"] = (se >= threshold) & (sk.isna() | (sk >= threshold))
    out.index.name = "date"
    return out[cols]
