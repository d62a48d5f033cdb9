"""What a plan is built on: a person's diet, stress and gut scores over the weeks logged (:func:`assess`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from .person import Person

__all__ = ["Assessment", "assess", "SCORE_INFO", "PANEL_KEYS"]

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
PANEL_KEYS = ("bifidobacterium", "lactobacillus_group", "butyrate_producers", "faecalibacterium_prausnitzii",
               "akkermansia_muciniphila", "enterobacteriaceae")



# --------------------------------------------------------------------------- assessment
@dataclass
class Assessment:
    """What the plan is built on: scores, the logs resolved and scored, the gut profile, insights."""

    scores: dict
    items: pd.DataFrame | None
    daily: pd.DataFrame
    weekly: pd.DataFrame
    indices: pd.DataFrame | None
    insights: object | None
    foods_note: str
    notes: list[str] = field(default_factory=list)
    filtered: list[dict] = field(default_factory=list)


def assess(person: Person, foods: pd.DataFrame | None = None, *, reference=None, foods_note: str = "",
           insights: bool = True) -> Assessment:
    """Scores of a person over the weeks logged, their gut-profile indices and N-of-1 insights.

    Parameters
    ----------
    person
        :class:`~gutaxis.lifestyle.person.Person` (meal log required).
    foods
        The food table; default :func:`~gutaxis.lifestyle.person.person_foods` (cache, then the
        person's own table).
    reference
        A healthy reference (:class:`gutaxis.measure.HealthyReference` or its JSON path) for
        percentiles of the gut indices (``pct_<index>`` scores).
    """
    from .insights import factor_events, n_of_1, symptom_observations
    from .person import person_foods
    from .scores import daily_scores, nova_energy_share, resolve_meals, weekly_scores

    notes: list[str] = []
    if foods is None:
        foods, foods_note = person_foods(person)
    if person.meals is None or len(person.meals) == 0:
        raise InputError("the meal log is empty", source=person.files.get("meals", "meals"),
                         hint="log at least a few days of meals")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        items = resolve_meals(person.meals, foods)
        daily = daily_scores(items, foods, sex=person.sex, age=person.age, stress=person.stress)
    for w in caught:
        if "left out" not in str(w.message):
            warnings.warn(w.message, w.category, stacklevel=2)
    filtered = list(daily.attrs.get("filtered", []))
    for f in filtered:
        notes.append(f"{f['n']} meal entries left out of the scores: {f['reason']} ({', '.join(map(str, f['ids'][:8]))}"
                     + (" ..." if f["n"] > 8 else "") + ").")
    weekly = weekly_scores(daily)
    ok = items["match_status"].isin(["matched", "given", "low_confidence"]) & items["ndb_no"].notna() & items["grams"].notna()
    used = items[ok]
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
        notes.append(f"Only {100 * share['coverage']:.0f}% of the energy logged has a NOVA group; the ultra-processed "
                     "share is computed on that part.")
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
    s["practice_min_per_day"] = s["practice_min_per_week"] / 7.0 if s["practice_min_per_week"] == s["practice_min_per_week"] else np.nan
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
            notes.append("No healthy reference was given, so the gut panels are not placed in percentiles; rules that "
                         "need them use GMHI alone.")
    # N-of-1
    ins = None
    if insights and person.symptoms is not None and len(person.symptoms):
        ev = factor_events(items, person.stress)
        ob = symptom_observations(person.symptoms)
        ins = n_of_1(ev, ob)
    return Assessment(s, items, daily, weekly, indices, ins, foods_note, notes, filtered)
