"""Daily and weekly diet scores from a meal log, with targets and their sources.

Per day: fiber (g) against the Adequate Intake (25 g women, 38 g men; 21/30 g over 50; IOM
DRI 2005, doi:10.17226/10490; Reynolds 2019, doi:10.1016/S0140-6736(18)31809-9), fermented
servings (live cultures: yes / varies), the ultra-processed (NOVA 4) share of energy, sugars and
saturated fat as % of energy (WHO: both below 10 %), an inflammatory-potential score using the
published DII parameters, and the stress summary (PSS-10 band, daily rating, practice minutes).

Added sugar is not in USDA SR28, so ``sugar_pct_energy`` uses **total sugars as a proxy** (it
includes the natural sugars of fruit and milk and so overstates free sugars) unless the food
table has an ``added_sugars_g`` column for every food eaten; every result says which in
``sugar_basis``. Entries that could not be matched or converted to grams are reported in
``attrs["filtered"]`` and counted per day, never silently dropped.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from .._data import package_table
from ..errors import InputError
from .dii import N_PARAMETERS, SCORE_LABEL, dii_intakes_from_foods, inflammatory_score
from .fermented import classify_fermented
from .matching import FoodMatcher

__all__ = [
    "SUGAR_PROXY_NOTE",
    "daily_scores",
    "diet_targets",
    "fiber_target",
    "nova_energy_share",
    "resolve_meals",
    "weekly_scores",
]

SUGAR_PROXY_NOTE = (
    "total sugars used as a proxy for added/free sugars (USDA SR28 has no added-sugar values); "
    "it includes the natural sugars of fruit and milk, so it overstates free sugars"
)


class LeftOutWarning(UserWarning):
    """Meal entries were left out of the scores (see ``result.attrs["filtered"]``)."""


def _warning_class() -> type[Warning]:
    """The readers' ``gutaxis.io.FilteredWarning`` when gutaxis.io provides it, else :class:`LeftOutWarning`."""
    try:
        from ..io import FilteredWarning  # type: ignore[attr-defined]

        return FilteredWarning
    except Exception:  # gutaxis.io not available / without FilteredWarning
        return LeftOutWarning


@lru_cache(maxsize=1)
def _targets() -> pd.DataFrame:
    return package_table("diet_targets.tsv", comment="#").set_index("id")


def diet_targets() -> pd.DataFrame:
    """The targets used by the scores, each with its population, note and citation."""
    return _targets().copy()


def _target(id_: str) -> float:
    return float(_targets().at[id_, "value"])


def _age(age) -> float | None:
    """The age in years (None when not given); anything but a number 0-120 is an InputError."""
    if age is None:
        return None
    try:
        x = float(age)
    except (TypeError, ValueError):
        raise InputError(f"age {age!r} is not a number", source="age", hint="give the age in years, e.g. 52") from None
    if not math.isfinite(x) or not 0 <= x <= 120:
        raise InputError(f"age {x:g} is outside 0-120 years", source="age", hint="give the age in years, e.g. 52")
    return x


def fiber_target(sex: str | None = None, age: float | None = None) -> tuple[float, str]:
    """Fiber Adequate Intake (g/day) for a person, and which row of the targets it is.

    Raises :class:`~gutaxis.errors.InputError` for an age that is not a number of years from 0 to 120.
    """
    age = _age(age)
    if sex is None:
        return _target("fiber_women"), (
            "sex not given: 25 g/day used (women's Adequate Intake; the 25-29 g/day "
            "evidence of Reynolds 2019); men 38 g/day"
        )
    s = str(sex).strip().lower()
    if s not in ("female", "f", "woman", "women", "male", "m", "man", "men"):
        raise InputError(f"sex={sex!r}", source="fiber_target", hint="use 'female' or 'male' (or leave it out)")
    female = s in ("female", "f", "woman", "women")
    old = age is not None and float(age) >= 51
    key = ("fiber_women" if female else "fiber_men") + ("_51plus" if old else "")
    return _target(key), key


def resolve_meals(meals: pd.DataFrame, foods, matcher=None) -> pd.DataFrame:
    """Match every meal entry to a USDA item and grams, and add per-entry nutrients.

    With a :class:`~gutaxis.lifestyle.fooddb.FoodDatabase` (FNDDS + SR28 + dishes + your own
    foods) this is :func:`gutaxis.lifestyle.resolve_diary`: compound entries split,
    household portions, one row per food, and a ``counted`` column. With a plain food table
    (an SR28 table, or a person's own table) the single-item SR28 matcher is used as before.

    Returns the meal log with ``ndb_no``, ``description``, ``grams``, ``match_status``
    ("matched", "low_confidence", "unmatched", "given" for NDB entries, "unknown_ndb",
    "nutrients_given" for the rows of an app's export, which keep the file's own nutrients),
    ``confidence``, ``match_note``, ``candidates``, the fermented-food fields
    (``fermented_id``, ``live_cultures``, ``serving_g``), ``nova`` (when the food table has it)
    and ``energy_kcal``, ``fiber_g``, ``sugars_g``, ``sat_fat_g`` for the grams eaten.
    """
    from .fooddb import FoodDatabase

    if isinstance(foods, FoodDatabase):
        from .resolve import resolve_diary

        return resolve_diary(meals, foods, matcher)
    matcher = matcher or FoodMatcher(foods)
    rows = []
    for r in meals.itertuples(index=False):
        d = r._asdict()
        ndb, grams = d.get("ndb_no"), d.get("grams")
        grams = np.nan if grams is None else float(grams)
        rec: dict[str, Any] = {
            "description": None,
            "match_status": "given",
            "confidence": 1.0,
            "match_note": "",
            "candidates": "",
        }
        imported = d.get("nutrients_given")
        if isinstance(imported, bool | np.bool_) and imported:  # an app's export: its own values, not a match
            rec.update(description=d.get("food_name") or None, match_status="nutrients_given")
            ndb = None
        elif ndb:
            if ndb not in foods.index:
                rec.update(
                    match_status="unknown_ndb", confidence=0.0, match_note=f"NDB number {ndb} is not in the food table"
                )
                ndb = None
            else:
                rec["description"] = str(foods.at[ndb, "description"])
        else:
            m = matcher.match(d.get("text", ""))
            ndb = m.ndb_no
            rec.update(
                description=m.description,
                match_status=m.status,
                confidence=m.confidence,
                match_note=m.note,
                candidates="; ".join(f"{c[0]} {c[1]}" for c in m.candidates[:3]),
            )
            if np.isnan(grams) and m.grams is not None:
                grams = float(m.grams)
        d.update(rec)
        d["ndb_no"], d["grams"] = ndb, grams
        fer = classify_fermented(d.get("text") or None, rec["description"])
        d["fermented_id"] = fer["fermented_id"] if fer else ""
        d["live_cultures"] = fer["live_cultures"] if fer else ""
        d["serving_g"] = fer["serving_g"] if fer else np.nan
        rows.append(d)
    out = pd.DataFrame(rows)
    idx = out["ndb_no"].where(out["ndb_no"].isin(foods.index))
    sub = foods.reindex(idx.fillna("").to_numpy())
    factor = out["grams"].to_numpy(dtype=float) / 100.0
    given = out["match_status"].eq("nutrients_given").to_numpy()
    for col in ("energy_kcal", "fiber_g", "sugars_g", "sat_fat_g", "added_sugars_g"):
        if col in foods.columns:  # added sugars only where the food table has them (SR28 does not)
            computed = sub[col].to_numpy(dtype=float) * factor
            # imported rows keep the file's own numbers (a blank cell stays not known), as resolve_diary does
            filed = pd.to_numeric(out[col], errors="coerce").to_numpy() if col in out else np.full(len(out), np.nan)
            out[col] = np.where(given, filed, computed)
    out["nova"] = sub["nova"].to_numpy() if "nova" in foods.columns else pd.NA
    out.attrs["source"] = meals.attrs.get("source", "")
    return out


def nova_energy_share(items: pd.DataFrame) -> dict:
    """Ultra-processed (NOVA 4) share of energy among items with a NOVA group.

    ``items`` needs ``energy_kcal`` and ``nova``. Returns ``share`` (NOVA-4 kcal / kcal of
    items with a known NOVA group; NaN if none), ``coverage`` (kcal with a known group / all
    kcal) and the kcal per NOVA group (``kcal_nova1`` ... ``kcal_nova4``, ``kcal_unknown``).
    """
    e = pd.to_numeric(items["energy_kcal"], errors="coerce").fillna(0.0).to_numpy()
    nova = pd.to_numeric(items["nova"], errors="coerce").to_numpy(dtype=float)
    known = ~np.isnan(nova)
    total, known_kcal = e.sum(), e[known].sum()
    out = {f"kcal_nova{g}": float(e[nova == g].sum()) for g in (1, 2, 3, 4)}
    out["kcal_unknown"] = float(e[~known].sum())
    out["share"] = float(out["kcal_nova4"] / known_kcal) if known_kcal > 0 else np.nan
    out["coverage"] = float(known_kcal / total) if total > 0 else np.nan
    return out


def daily_scores(
    items: pd.DataFrame,
    foods: pd.DataFrame,
    *,
    sex: str | None = None,
    age: float | None = None,
    stress: pd.DataFrame | None = None,
    include_low_confidence: bool = False,
) -> pd.DataFrame:
    """Diet (and stress) scores per day.

    Parameters
    ----------
    items
        :func:`resolve_meals` output (or any table with ``date``, ``ndb_no``, ``grams``,
        ``match_status`` and the nutrient columns).
    foods
        The food table (for the DII nutrients).
    sex, age
        Choose the fiber target (25 g women / 38 g men; 21 / 30 g from 51 years).
    stress
        A stress log (:func:`gutaxis.lifestyle.read_stress_log`) to join its daily summary.
    include_low_confidence
        Count entries whose match was low-confidence (they are flagged per day either way).

    Returns
    -------
    pandas.DataFrame
        Indexed by date. Columns: ``energy_kcal``, ``fiber_g``, ``fiber_target_g``,
        ``fiber_pct_target``, ``fermented_servings`` (live cultures "yes"),
        ``fermented_servings_varies``, ``upf_energy_share`` (NOVA 4 / energy with a NOVA group),
        ``nova_coverage``, ``sugar_pct_energy`` (total sugars, proxy; see ``sugar_basis``),
        ``sat_fat_pct_energy``, ``inflammatory_score`` and ``inflammatory_n_parameters``,
        ``n_entries``, ``n_used``, ``n_low_confidence``, ``n_left_out``; and the stress
        columns when ``stress`` is given. ``attrs["filtered"]`` lists the entries left out.
    """
    age = _age(age)  # checked before any work (the fiber target depends on it)
    if "date" not in items.columns:
        raise InputError("items need a 'date' column", source="daily_scores", hint="pass resolve_meals(...) output")
    from .fooddb import FoodDatabase

    if isinstance(foods, FoodDatabase):
        foods = foods.foods
    status = items.get("match_status", pd.Series("given", index=items.index))
    ok_status = status.isin(["matched", "given"] + (["low_confidence"] if include_low_confidence else []))
    usable = (ok_status & items["ndb_no"].notna() & items["grams"].notna()) | (status == "nutrients_given")
    if "counted" in items.columns:  # resolve_diary decided; low-confidence rows only when asked for
        usable = items["counted"].astype(bool) | (usable & (status == "low_confidence"))
        ok_status = usable | ~status.isin(["unmatched", "low_confidence"])
    left = items[~usable]
    filtered = []
    if len(left):
        reasons = np.where(
            ~ok_status[~usable],
            "no USDA match (or a low-confidence one, not counted)",
            "no grams (portion could not be converted) or an implausible amount",
        )
        for reason in np.unique(reasons):
            ids = (
                left.loc[reasons == reason, "source_row"].tolist()
                if "source_row" in left
                else left.index[reasons == reason].tolist()
            )
            filtered.append({"what": "meal entries", "reason": str(reason), "n": len(ids), "ids": ids})
        examples = ", ".join(repr(str(t)) for t in left.get("text", pd.Series(dtype=str)).astype(str).unique()[:3])
        warnings.warn(
            f"{len(left)} of {len(items)} foods were left out of the scores (for example {examples}): "
            "fix them in your own words or pick a candidate (entries_to_fix.csv; the result's "
            "attrs['filtered'] in Python)",
            _warning_class(),
            stacklevel=2,
        )
    use = items[usable]
    days = pd.Index(sorted(items["date"].unique()), name="date")
    g = use.groupby("date")
    col: dict = {}  # built as a dict and framed once: one insert per column costs more than the arithmetic

    def per_day(series, fill=None):
        v = series.reindex(days)
        return v if fill is None else v.fillna(fill)

    col["n_entries"] = per_day(items.groupby("date").size())
    col["n_used"] = per_day(g.size(), 0).astype(int)
    col["n_low_confidence"] = per_day(items[status == "low_confidence"].groupby("date").size(), 0).astype(int)
    col["n_left_out"] = per_day(left.groupby("date").size(), 0).astype(int)
    sums = (
        g[[c for c in ("energy_kcal", "fiber_g", "sat_fat_g", "sugars_g", "added_sugars_g") if c in use]]
        .sum(min_count=1)
        .reindex(days)
    )
    col["energy_kcal"] = sums["energy_kcal"]
    col["fiber_g"] = sums["fiber_g"]
    target, basis = fiber_target(sex, age)
    col["fiber_target_g"] = pd.Series(target, index=days, dtype=float)
    col["fiber_pct_target"] = 100.0 * col["fiber_g"] / target
    live = use["live_cultures"] if "live_cultures" in use else pd.Series("", index=use.index)
    servings = use["grams"] / use["serving_g"] if "serving_g" in use else pd.Series(np.nan, index=use.index)
    col["fermented_servings"] = per_day(servings.where(live == "yes").groupby(use["date"]).sum(), 0.0)
    col["fermented_servings_varies"] = per_day(servings.where(live == "varies").groupby(use["date"]).sum(), 0.0)
    shares = {d: nova_energy_share(grp) for d, grp in g} if "nova" in use else {}
    col["upf_energy_share"] = per_day(pd.Series({d: v["share"] for d, v in shares.items()}, dtype=float))
    col["nova_coverage"] = per_day(pd.Series({d: v["coverage"] for d, v in shares.items()}, dtype=float))
    kcal_fat, kcal_carb = _target("energy_fat"), _target("energy_carbohydrate")
    added = "added_sugars_g" in use and len(use) and use["added_sugars_g"].notna().all()
    sugar_col = "added_sugars_g" if added else "sugars_g"
    col["sugar_pct_energy"] = 100.0 * kcal_carb * sums[sugar_col] / col["energy_kcal"]
    col["sugar_basis"] = pd.Series("added sugars" if added else "total sugars (proxy)", index=days)
    col["sat_fat_pct_energy"] = 100.0 * kcal_fat * sums["sat_fat_g"] / col["energy_kcal"]
    if len(use):
        intakes = dii_intakes_from_foods(use, foods, by="date")
        dii = inflammatory_score(intakes)
        col["inflammatory_score"] = per_day(dii["score"])
        col["inflammatory_n_parameters"] = per_day(dii["n_parameters"], 0)  # a day without intakes: none
    else:
        col["inflammatory_score"] = pd.Series(np.nan, index=days)
        col["inflammatory_n_parameters"] = pd.Series(0, index=days)
    out = pd.DataFrame(col, index=days)
    if stress is not None and len(stress):
        from .stress import daily_stress

        out = out.join(daily_stress(stress), how="left")
    out.attrs["filtered"] = filtered
    out.attrs["params"] = {
        "fiber_target": basis,
        "sugar": "added sugars from the food table" if added else SUGAR_PROXY_NOTE,
        "sugar_target": "below 10% energy (WHO 2015)",
        "sat_fat_target": "below 10% energy (WHO 2023)",
        "inflammatory_score": (
            f"{SCORE_LABEL}; parameters available out of {N_PARAMETERS} in column inflammatory_n_parameters"
        ),
        "fermented_servings": "grams / serving size of the fermented-food table; live cultures 'yes' only",
        "upf": "NOVA 4 energy / energy of items with a NOVA group (FoodProX/GroceryDB labels); see nova_coverage",
        "include_low_confidence": include_low_confidence,
    }
    return out


_SUM_COLS = (
    "fermented_servings",
    "fermented_servings_varies",
    "practice_min",
    "n_entries",
    "n_used",
    "n_low_confidence",
    "n_left_out",
)


def weekly_scores(daily: pd.DataFrame) -> pd.DataFrame:
    """Weekly summary of :func:`daily_scores` (weeks start on Monday).

    Means over the days logged for rates and amounts per day (``energy_kcal``, ``fiber_g``,
    ``upf_energy_share``, ``sugar_pct_energy``...), weekly totals ``<col>_total`` for counts
    (fermented servings, practice minutes), ``days_logged``, and the last PSS-10 of the week.
    """
    if len(daily) == 0:
        return pd.DataFrame()
    d = daily.copy()
    idx = pd.to_datetime(d.index)
    week = (idx - pd.to_timedelta(idx.weekday, unit="D")).normalize()
    d["week_start"] = week
    num = d.select_dtypes(include="number")
    num = num.assign(week_start=week)
    grp = num.groupby("week_start")
    out = grp.mean()
    for c in _SUM_COLS:
        if c in num:
            out[f"{c}_total"] = grp[c].sum()
    out.insert(0, "days_logged", grp.size())
    if "pss10" in d:
        out["pss10"] = d.groupby("week_start")["pss10"].last()
        from .stress import pss10_band

        out["pss10_band"] = out["pss10"].map(lambda v: pss10_band(v) if pd.notna(v) else "")
    out.attrs = dict(daily.attrs)
    return out
