"""What a plan is built on: a person's diet, stress and gut scores over the weeks logged (:func:`assess`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InputError
from .person import Person

if TYPE_CHECKING:
    from .insights import Insights

__all__ = [
    "NUTRIENT_INFO",
    "PANEL_KEYS",
    "SCORE_INFO",
    "Assessment",
    "assess",
    "assumed_portions",
    "entries_to_fix",
    "nutrient_intakes",
    "top_foods",
]

#: score name -> (label, unit, target description)
SCORE_INFO = {
    "fiber_g_per_day": ("Fiber", "g/day", "Adequate Intake (IOM 2005)"),
    "fiber_target_g": ("Fiber target", "g/day", ""),
    "fermented_servings_per_day": ("Fermented foods with live cultures", "servings/day", "daily, building up"),
    "upf_energy_share_pct": ("Ultra-processed (NOVA 4) share of energy", "% energy", "no published target"),
    "sugar_pct_energy": ("Sugars (total, proxy for free sugars)", "% energy", "below 10 (WHO 2015)"),
    "sat_fat_pct_energy": ("Saturated fat", "% energy", "below 10 (WHO 2023)"),
    "inflammatory_score": ("Inflammatory-potential score (published DII parameters)", "score", "below 0"),
    "energy_kcal_per_day": ("Energy", "kcal/day", ""),
    "pss10": ("PSS-10 (latest)", "0-40", "US mean about 13"),
    "stress_rating": ("Daily stress rating", "0-10", ""),
    "practice_min_per_week": ("Mind-body practice", "min/week", ""),
    "GMHI": ("GMHI", "index", "above 0"),
    "shannon": ("Shannon diversity", "ln", ""),
    "richness": ("Richness", "taxa", ""),
    "bifidobacterium": ("Bifidobacterium", "% of profile", ""),
    "lactobacillus_group": ("Lactobacillus group", "% of profile", ""),
    "butyrate_producers": ("Butyrate producers", "% of profile", ""),
}
PANEL_KEYS = (
    "bifidobacterium",
    "lactobacillus_group",
    "butyrate_producers",
    "faecalibacterium_prausnitzii",
    "akkermansia_muciniphila",
    "enterobacteriaceae",
)


# --------------------------------------------------------------------------- assessment
@dataclass
class Assessment:
    """What the plan is built on: scores, the logs resolved and scored, the gut profile, insights."""

    scores: dict
    items: pd.DataFrame
    daily: pd.DataFrame
    weekly: pd.DataFrame
    indices: pd.DataFrame | None
    insights: Insights | None
    foods_note: str
    notes: list[str] = field(default_factory=list)
    filtered: list[dict] = field(default_factory=list)
    coverage: dict = field(default_factory=dict)
    to_fix: pd.DataFrame | None = None
    assumed: pd.DataFrame | None = None
    nutrients: pd.DataFrame | None = None
    top_foods: dict = field(default_factory=dict)


def assess(
    person: Person, foods: pd.DataFrame | None = None, *, reference=None, foods_note: str = "", insights: bool = True
) -> Assessment:
    """Scores of a person over the weeks logged, their gut-profile indices and N-of-1 insights.

    Parameters
    ----------
    person
        :class:`~gutaxis.lifestyle.person.Person` (meal log required).
    foods
        The food table; default :func:`~gutaxis.lifestyle.person_foods` (cache, then the
        person's own table).
    reference
        A healthy reference (:class:`gutaxis.HealthyReference` or its JSON path) for
        percentiles of the gut indices (``pct_<index>`` scores).
    """
    from .insights import factor_events, n_of_1, symptom_observations
    from .person import person_foods
    from .scores import daily_scores, nova_energy_share, resolve_meals, weekly_scores

    notes: list[str] = []
    if foods is None:
        foods, foods_note = person_foods(person)
    if person.meals is None or len(person.meals) == 0:
        raise InputError(
            "the meal log is empty", source=person.files.get("meals", "meals"), hint="log at least a few days of meals"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        items = resolve_meals(person.meals, foods)
        daily = daily_scores(items, foods, sex=person.sex, age=person.age, stress=person.stress)
    for w in caught:
        if "left out" not in str(w.message):
            warnings.warn(w.message, w.category, stacklevel=2)
    filtered = list(daily.attrs.get("filtered", []))
    for f in filtered:
        notes.append(
            f"{f['n']} meal entries left out of the scores: {f['reason']} ({', '.join(map(str, f['ids'][:8]))}"
            + (" ..." if f["n"] > 8 else "")
            + ")."
        )
    weekly = weekly_scores(daily)
    if "counted" in items.columns:
        ok = items["counted"].astype(bool)
    else:
        ok = items["match_status"].isin(["matched", "given"]) & items["ndb_no"].notna() & items["grams"].notna()
    used = items[ok]
    from .resolve import coverage as _coverage

    cov = _coverage(items if "counted" in items.columns else items.assign(counted=ok))
    kcal = float(used["energy_kcal"].sum())
    ndays = int((daily["n_used"] > 0).sum())
    s: dict = {"days_logged": ndays, "weeks_logged": round(ndays / 7.0, 1)}
    s["energy_kcal_per_day"] = kcal / ndays if ndays else np.nan
    s["fiber_g_per_day"] = float(daily["fiber_g"].mean()) if ndays else np.nan
    s["fiber_target_g"] = float(daily["fiber_target_g"].iloc[0]) if len(daily) else np.nan
    s["fermented_servings_per_day"] = float(daily["fermented_servings"].mean()) if ndays else np.nan
    share = nova_energy_share(used) if "nova" in used and len(used) else {"share": np.nan, "coverage": np.nan}
    s["upf_energy_share_pct"] = 100.0 * share["share"] if share["share"] == share["share"] else np.nan
    s["nova_coverage_pct"] = 100.0 * share["coverage"] if share["coverage"] == share["coverage"] else np.nan
    if share.get("coverage", 1) == share.get("coverage", 1) and share.get("coverage", 1) < 0.7:
        notes.append(
            f"Only {100 * share['coverage']:.0f}% of the energy logged has a NOVA group; the ultra-processed "
            "share is computed on that part."
        )
    s["sugar_pct_energy"] = 100.0 * 4.0 * float(used["sugars_g"].sum()) / kcal if kcal > 0 else np.nan
    s["sat_fat_pct_energy"] = 100.0 * 9.0 * float(used["sat_fat_g"].sum()) / kcal if kcal > 0 else np.nan
    s["inflammatory_score"] = float(daily["inflammatory_score"].mean()) if ndays else np.nan
    s["inflammatory_n_parameters"] = int(daily["inflammatory_n_parameters"].max()) if ndays else 0
    # stress
    st = person.stress
    s["pss10"] = np.nan
    s["stress_rating"] = np.nan
    s["practice_min_per_week"] = np.nan
    if st is not None and len(st):
        if "pss10" in st and st["pss10"].notna().any():
            s["pss10"] = float(st.dropna(subset=["pss10"]).sort_values("timestamp")["pss10"].iloc[-1])
        if st["rating"].notna().any():
            s["stress_rating"] = float(st["rating"].mean())
        span = max(1, (st["timestamp"].max().normalize() - st["timestamp"].min().normalize()).days + 1)
        s["practice_min_per_week"] = 7.0 * float(st["minutes"].fillna(0).sum()) / span
    s["practice_min_per_day"] = (
        s["practice_min_per_week"] / 7.0 if s["practice_min_per_week"] == s["practice_min_per_week"] else np.nan
    )
    s["probiotic_log10_cfu_per_day"] = 0.0
    # person
    s["age"] = person.age if person.age is not None else np.nan
    s["female"] = np.nan if person.sex is None else float(person.sex == "female")
    s["male"] = np.nan if person.sex is None else float(person.sex == "male")
    s["autoimmune"] = float(person.autoimmune)
    s["has_profile"] = float(person.profile is not None)
    # gut profile
    indices = None
    if person.profile is not None:
        from ..measure import health_indices

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            indices = health_indices(person.profile)
        row = indices.iloc[0]
        for k in ("GMHI", "shannon", "richness", *PANEL_KEYS):
            if k in row.index:
                s[k] = float(row[k])
        notes.extend(str(n) for n in indices.attrs.get("notes", []))
        if reference is not None:
            from ..measure.reference import HealthyReference, percentiles

            ref = HealthyReference.from_json(reference) if not isinstance(reference, HealthyReference) else reference
            pct = percentiles(indices, ref)
            for k, v in pct.iloc[0].items():
                s[f"pct_{k}"] = float(v)
        else:
            notes.append(
                "No healthy reference was given, so the gut panels are not placed in percentiles; rules that "
                "need them use GMHI alone."
            )
    # N-of-1
    ins = None
    if insights and person.symptoms is not None and len(person.symptoms):
        ev = factor_events(items, person.stress)
        ob = symptom_observations(person.symptoms)
        ins = n_of_1(ev, ob)
    weight = getattr(person, "weight_kg", None)
    return Assessment(
        s,
        items,
        daily,
        weekly,
        indices,
        ins,
        foods_note,
        notes,
        filtered,
        coverage=cov,
        to_fix=entries_to_fix(items),
        assumed=assumed_portions(items),
        nutrients=nutrient_intakes(used, ndays, weight),
        top_foods=top_foods(used),
    )


# --------------------------------------------------------------------------- what the dietitian needs
#: nutrient -> (label, unit, reference intake for adults, its source)
NUTRIENT_INFO = {
    "energy_kcal": ("Energy", "kcal/day", "", ""),
    "protein_g": ("Protein", "g/day", "RDA 0.8 g/kg/day", "IOM DRI 2005, doi:10.17226/10490"),
    "fiber_g": ("Fiber", "g/day", "AI 25 g (women), 38 g (men)", "IOM DRI 2005, doi:10.17226/10490"),
    "calcium_mg": ("Calcium", "mg/day", "RDA 1,000-1,200 mg", "IOM 2011, doi:10.17226/13050"),
    "vitamin_d_ug": ("Vitamin D", "µg/day", "RDA 15 µg (20 µg over 70)", "IOM 2011, doi:10.17226/13050"),
    "folate_dfe_ug": ("Folate", "µg DFE/day", "RDA 400 µg DFE (600 in pregnancy)", "IOM 1998, doi:10.17226/6015"),
    "iron_mg": ("Iron", "mg/day", "RDA 18 mg (women 19-50), 8 mg (men, women 51+)", "IOM 2001, doi:10.17226/10026"),
    "sodium_mg": ("Sodium", "mg/day", "below 2,000 mg (WHO 2012)", "WHO 2012, ISBN 978-92-4-150483-6"),
    "alcohol_g": (
        "Alcohol",
        "g/day",
        "none is safest; UK: at most 14 units (112 g) a week",
        "UK CMO 2016, https://www.gov.uk/government/publications/alcohol-consumption-advice-on-low-risk-drinking",
    ),
    "omega3_g": (
        "Omega-3 fatty acids (ALA + EPA + DPA + DHA)",
        "g/day",
        "AI ALA 1.1 g (women), 1.6 g (men)",
        "IOM DRI 2005, doi:10.17226/10490",
    ),
}


def _food_ok(items: pd.DataFrame) -> pd.Series:
    return items["counted"].astype(bool) if "counted" in items.columns else pd.Series(True, index=items.index)


def entries_to_fix(items: pd.DataFrame | None) -> pd.DataFrame:
    """Entries not counted, in the person's own words, with why and the candidates."""
    cols = ["source_row", "date", "text", "item_text", "status", "reason", "candidates"]
    if items is None or len(items) == 0 or "counted" not in items.columns:
        return pd.DataFrame(columns=cols)
    bad = items[~items["counted"].astype(bool)]
    reason = {
        "unmatched": "no food in the USDA tables matches these words",
        "low_confidence": "the closest USDA food may not be what was eaten",
        "no_portion": "the amount could not be turned into grams",
        "implausible": "the amount is not plausible for one entry",
        "unknown_id": "the food id is not in the food tables",
    }
    item_text = bad["item_text"] if "item_text" in bad.columns else bad["text"]
    cands = bad.get("candidates", pd.Series("", index=bad.index)).fillna("").astype(str)
    out = pd.DataFrame(
        {
            "source_row": bad["source_row"].to_numpy(),
            "date": bad["date"].to_numpy(),
            "text": bad["text"].to_numpy(),
            "item_text": item_text.to_numpy(),
            "status": bad["match_status"].to_numpy(),
            "reason": [
                (reason.get(st, st) + (f" ({n})" if n else ""))
                for st, n in zip(
                    bad["match_status"],
                    bad.get("match_note", pd.Series("", index=bad.index)).fillna(""),
                    strict=True,
                )
            ],
            # the person reads food names, not table ids ("09003 APPLES,RAW" -> "APPLES,RAW")
            "candidates": cands.str.replace(r"(^|;\s*)\d{4,8}\s+", r"\1", regex=True).to_numpy(),
        }
    )
    return out.reset_index(drop=True)  # one row per entry, with its row and date


def assumed_portions(items: pd.DataFrame | None) -> pd.DataFrame:
    """Entries counted with an assumed (default) portion: the person's words and what was assumed."""
    cols = ["source_row", "date", "text", "description", "grams", "portion_basis"]
    if items is None or "portion_assumed" not in items.columns:
        return pd.DataFrame(columns=cols)
    sel = items[items["portion_assumed"].astype(bool) & _food_ok(items)]
    return sel[cols].reset_index(drop=True)


def nutrient_intakes(used: pd.DataFrame, ndays: int, weight_kg: float | None = None) -> pd.DataFrame:
    """Mean intake per logged day of the nutrients a dietitian reviews, with references."""
    rows = []
    for key, (label, unit, ref, src) in NUTRIENT_INFO.items():
        if key not in used.columns or ndays == 0:
            per_day, note = np.nan, "not in the food tables used"
        else:
            v = pd.to_numeric(used[key], errors="coerce")
            per_day = float(v.sum()) / ndays
            kcal = pd.to_numeric(used["energy_kcal"], errors="coerce")
            missing = float(kcal[v.isna()].sum()) / float(kcal.sum()) if kcal.sum() > 0 else 0.0
            note = f"no value for foods with {100 * missing:.0f}% of the energy" if missing > 0.005 else ""
        per_kg = per_day / float(weight_kg) if key == "protein_g" and weight_kg and per_day == per_day else np.nan
        rows.append(
            {
                "nutrient": key,
                "label": label,
                "unit": unit,
                "per_day": per_day,
                "per_kg": per_kg,
                "reference": f"{ref} ({src})" if ref else "",
                "coverage_note": note,
            }
        )
    return pd.DataFrame(rows).set_index("nutrient")


def top_foods(used: pd.DataFrame, n: int = 5) -> dict:
    """The foods behind each score: the top ``n`` by their share of the total over the period."""
    out: dict[str, pd.DataFrame] = {}
    if used is None or len(used) == 0:
        return out
    name = used["description"].fillna(used.get("item_text", used["text"])).astype(str)
    for key in ("fiber_g", "energy_kcal", "sugars_g", "sat_fat_g", "sodium_mg"):
        if key not in used.columns:
            continue
        v = pd.to_numeric(used[key], errors="coerce").fillna(0.0)
        total = float(v.sum())
        if total <= 0:
            continue
        g = pd.DataFrame({"food": name, "amount": v, "text": used["text"].astype(str)}).groupby("food", sort=False)
        tab = g.agg(
            amount=("amount", "sum"),
            n_entries=("amount", "size"),
            examples=("text", lambda s: "; ".join(list(dict.fromkeys(s))[:2])),
        )
        tab["share_pct"] = 100.0 * tab["amount"] / total
        out[key] = tab.sort_values("amount", ascending=False).head(n).reset_index()
    return out
