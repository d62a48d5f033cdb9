"""The plan's simulated effect on the person's twin: :func:`simulate_plan_effect`.

Runs the shown suggestions' ``simulated_change`` on the person's twin (:func:`gutaxis.axis.twin`,
:func:`gutaxis.axis.forecast`, imported lazily by ``_axis_api``) against the usual diet, per
suggestion and together; where the evidence found no effect of a step on an endpoint
(``data/evidence_nulls.tsv``), that step's simulated number is replaced by the statement.
Re-exported by :mod:`gutaxis.lifestyle.plan`.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd

from ..errors import InputError
from ._plan_types import NOT_AVAILABLE, Plan, SimulatedEffect, _fmt
from .person import CONDITIONS, Person
from .rules import _parse_change, _split

#: endpoints shown, with a plain label
EFFECT_ENDPOINTS = {
    "diversity": "Gut diversity",
    "butyrate": "Faecal butyrate",
    "permeability": "Gut permeability (L/M)",
    "il6": "IL-6",
    "crp": "CRP",
    "disease_activity": "Disease activity",
}
#: condition tag -> disease variant of the twin, in order of precedence
_DISEASE_VARIANT = {"RA": "ra", "SLE": "sle", "MS": "ms"}
#: disease variant -> (label, unit) of the disease-activity endpoint
_ACTIVITY_LABEL = {
    "ra": ("Disease activity (DAS28, model)", "DAS28"),
    "sle": ("Lupus activity (model estimate on the SLEDAI scale; not a measured SLEDAI)", "SLEDAI points (model)"),
    "ms": ("MS inflammatory activity (model index 0-1; above 0.5 means a relapse in the model; not EDSS)", "index 0-1"),
}
_DEFAULT_ACTIVITY = ("Tissue inflammation (model index 0-1)", "index 0-1")
#: endpoint -> the person's measured marker that is its baseline (the twin observes it)
_ENDPOINT_MARKER = {"crp": "crp", "il6": "il6", "disease_activity": "das28"}
#: model inputs of the twin <- person scores
_INPUT_OF_SCORE = {
    "fiber_g_per_day": "fiber",
    "fermented_servings_per_day": "fermented",
    "upf_energy_share_pct": "upf",
    "sat_fat_pct_energy": "satfat",
    "practice_min_per_day": "mindbody",
    "probiotic_log10_cfu_per_day": "probiotic",
}


def _axis_api():
    """(twin, forecast) of gutaxis.axis, or None where this gutaxis has no personal twin."""
    try:
        import importlib

        axis = importlib.import_module("gutaxis.axis")
        return axis.twin, axis.forecast
    except (ImportError, AttributeError):
        return None


def _model_inputs(s: dict) -> dict:
    out = {}
    for score, inp in _INPUT_OF_SCORE.items():
        v = s.get(score)
        if v is not None and isinstance(v, (int, float)) and math.isfinite(float(v)):
            out[inp] = float(v)
    kcal, sug = s.get("energy_kcal_per_day"), s.get("sugar_pct_energy")
    if (
        isinstance(kcal, (int, float))
        and math.isfinite(float(kcal))
        and isinstance(sug, (int, float))
        and math.isfinite(float(sug))
    ):
        out["sugar"] = float(sug) / 100.0 * float(kcal) / 4.0  # g/day (total sugars as the proxy)
    return out


def _apply_changes(s: dict, changes: list[str]) -> dict:
    new = dict(s)
    for ch in changes:
        score, op, val = _parse_change(ch)
        cur = new.get(score)
        target = float(val) if re.fullmatch(r"\d+(?:\.\d+)?", val) else new.get(val)
        if target is None or not math.isfinite(float(target)):
            continue
        target = float(target)
        if op == "set" or cur is None or not math.isfinite(float(cur)):
            if op in ("set", "max", "min"):
                new[score] = target
            continue
        cur = float(cur)
        new[score] = {"max": max(cur, target), "min": min(cur, target), "mul": cur * target}[op]
    return new


def simulate_plan_effect(
    person: Person, plan: Plan, *, days: int = 84, n_draws: int = 200, seed: int = 0
) -> SimulatedEffect:
    """Simulate the plan on the person's twin: usual diet vs the plan, over ``days`` days.

    The twin (``gutaxis.axis.twin``) is built from the person's stool profile, PSS-10, usual
    diet (the logged scores) and disease (the RA, SLE or MS tag, in that order where several are
    given); ``gutaxis.axis.forecast`` runs every
    model patient of the ensemble under the usual inputs and under the plan's inputs (each shown
    suggestion's ``simulated_change`` applied to the scores). Withheld suggestions change nothing.

    Returns a ``SimulatedEffect``; ``available`` is False, with the reason and no numbers,
    where the twin is not part of this gutaxis or cannot be built from these data.
    """
    api = _axis_api()
    if api is None:
        return SimulatedEffect(
            False, NOT_AVAILABLE + ": this version of gutaxis has no personal twin (gutaxis.axis.twin / forecast)."
        )
    twin_fn, forecast_fn = api
    s = plan.scores
    changes = {sg.id: _split(sg.simulated_change) for sg in plan.suggestions if sg.simulated_change}
    if not changes:
        return SimulatedEffect(
            False,
            NOT_AVAILABLE + ": none of the suggestions shown changes an input of the model "
            "(fiber, fermented foods, ultra-processed share, sugars, saturated "
            "fat, mind-body practice, probiotics).",
        )
    disease = next((_DISEASE_VARIANT[c] for c in _DISEASE_VARIANT if c in person.conditions), None)
    caveats = [
        "The band is the spread among model patients who match your data (5th to 95th percentile), not a "
        "prediction interval for you.",
        "The model is for discussion and hypothesis generation: most of its mechanistic links are quantified in "
        "mice, and the human trials behind its calibration are small (see docs/axis.md).",
    ]
    chosen = next((c for c in _DISEASE_VARIANT if c in person.conditions), None)
    also = [c for c in person.conditions if c in _DISEASE_VARIANT and c != chosen]
    if also and chosen is not None:  # chosen is set whenever also is non-empty
        caveats.append(
            f"The model simulates one disease at a time: {CONDITIONS[chosen]} was simulated, not "
            + ", ".join(CONDITIONS[c] for c in also)
            + "."
        )
    other = [c for c in person.conditions if c not in _DISEASE_VARIANT]
    if other:
        caveats.append(
            "The model has no variant for "
            + ", ".join(CONDITIONS[c] for c in other)
            + (
                "; it simulates the general gut-immune axis only."
                if chosen is None
                else f"; it simulates {CONDITIONS[chosen]} and the general gut-immune axis only."
            )
        )
    usual = _model_inputs(s)
    if person.flag("dmard"):
        usual["dmard"] = 1.0
    pss = s.get("pss10")
    pss = float(pss) if isinstance(pss, (int, float)) and math.isfinite(float(pss)) else None
    all_changes = [c for cs in changes.values() for c in cs]
    plan_scores = _apply_changes(s, all_changes)
    plan_in = _model_inputs(plan_scores)
    plan_in = {k: v for k, v in plan_in.items() if abs(v - usual.get(k, np.nan)) > 1e-9 or k not in usual}
    assumptions = [_assumption(c, s) for c in all_changes]
    assumptions.append(
        "Sugars enter the model as grams per day of total sugars (the food table has no added-sugar "
        "values), so the sugar input is overstated."
    )
    assumptions.append("Full adherence from day 0; the usual diet is the average of the days logged.")
    measured = {str(k).lower(): float(v) for k, v in (getattr(person, "markers", None) or {}).items()}
    model_markers = {k: v for k, v in measured.items() if k in ("crp", "il6", "lbp", "calprotectin", "das28")}
    if measured:
        assumptions.append(
            "Your measured "
            + ", ".join(f"{k.upper()} {v:g}" for k, v in measured.items())
            + " chose the model patients"
            + ("" if model_markers else " (not used: the model has no observation for them)")
            + "."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tw = twin_fn(
                person.profile,
                pss10=pss,
                diet=usual,
                disease=disease,
                n_draws=n_draws,
                seed=seed,
                markers=model_markers or None,
            )
            meta = dict(getattr(tw, "meta", {}) or {})
            meta["n_draws"] = n_draws
            if meta.get("fitted") is False:
                # the twin fell back on merely converged candidates: its levels are not physiological for this person
                return SimulatedEffect(
                    False,
                    f"{NOT_AVAILABLE}: the model could not be fitted to your data (only "
                    f"{meta.get('n_plausible')} of {meta.get('n_candidates', '?')} model patients stayed within "
                    "plausible physiological ranges). This says nothing about your health; it is a limit of "
                    "the model.",
                    usual_inputs=usual,
                    plan_inputs=plan_in,
                    meta=meta,
                )
            fc = forecast_fn(tw, plan_in, days)
            per = {}
            for sid, cs in changes.items():
                alone = {
                    k: v
                    for k, v in _model_inputs(_apply_changes(s, cs)).items()
                    if abs(v - usual.get(k, np.nan)) > 1e-9 or k not in usual
                }
                if not alone:
                    continue
                f1 = forecast_fn(tw, alone, days)
                sm = f1.summary()
                per[sid] = {
                    e: (float(sm.at[e, "effect_median"]), float(sm.at[e, "effect_p05"]), float(sm.at[e, "effect_p95"]))
                    for e in EFFECT_ENDPOINTS
                    if e in sm.index
                }
    except InputError as exc:
        return SimulatedEffect(
            False,
            f"{NOT_AVAILABLE}: the twin could not be built from these data ({exc}).",
            usual_inputs=usual,
            plan_inputs=plan_in,
        )
    except Exception as exc:
        return SimulatedEffect(
            False,
            f"{NOT_AVAILABLE}: the personal twin failed ({type(exc).__name__}: {exc}).",
            usual_inputs=usual,
            plan_inputs=plan_in,
        )
    meta = dict(getattr(tw, "meta", {}) or {})
    meta["n_draws"] = n_draws
    nulls = _evidence_nulls(per, changes)
    if nulls:  # the plan's total on such an endpoint is simulated without the steps the evidence finds no effect of
        for e, sids in nulls.items():
            keep = [c for sid, cs in changes.items() if sid not in sids for c in cs]
            alt_in = {
                k: v
                for k, v in _model_inputs(_apply_changes(s, keep)).items()
                if abs(v - usual.get(k, np.nan)) > 1e-9 or k not in usual
            }
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                alt = forecast_fn(tw, alt_in, days).summary() if alt_in else None
            nulls[e] = (sids, alt)
    summ = fc.summary()
    rows = []
    for e, label in EFFECT_ENDPOINTS.items():
        if e not in summ.index:
            continue
        r = summ.loc[e]
        unit = str(r["unit"])
        if e == "disease_activity":
            label, unit = _ACTIVITY_LABEL.get(disease, _DEFAULT_ACTIVITY) if disease is not None else _DEFAULT_ACTIVITY
        usual_end = fc.band(e, "usual").iloc[-1]
        source, note = "model patient (not measured)", ""
        if _ENDPOINT_MARKER.get(e) in measured:
            source = f"yours: {measured[_ENDPOINT_MARKER[e]]:g} {unit} (measured)"
        elif e == "diversity" and (getattr(tw, "observed", {}) or {}).get("profile"):
            source = f"yours: {tw.observed['profile']['diversity']:.3g} (from your stool profile)"
        if e in nulls:
            sids, alt = nulls[e]
            titles = {sg.id: sg.title for sg in plan.suggestions}
            note = (
                "simulated without "
                + "; ".join(f"'{titles.get(sid, sid)}'" for sid in sids)
                + ", because "
                + "; ".join(_lower_first(_null_rows()[(sid, e)]["statement"]) for sid in sids)
            )
            if alt is not None and e in alt.index:
                r = alt.loc[e]
            else:
                r = r.copy()
                for c in ("value_median", "value_p05", "value_p95"):
                    r[c] = float(usual_end["median" if c == "value_median" else c.split("_")[1]])
                r["effect_median"] = r["effect_p05"] = r["effect_p95"] = 0.0
        rows.append(
            {
                "endpoint": e,
                "label": label,
                "unit": unit,
                "baseline": float(r["baseline"]),
                "baseline_source": source,
                "evidence_note": note,
                "usual_median": float(usual_end["median"]),
                "usual_p05": float(usual_end["p05"]),
                "usual_p95": float(usual_end["p95"]),
                "plan_median": float(r["value_median"]),
                "plan_p05": float(r["value_p05"]),
                "plan_p95": float(r["value_p95"]),
                "effect_median": float(r["effect_median"]),
                "effect_p05": float(r["effect_p05"]),
                "effect_p95": float(r["effect_p95"]),
            }
        )
    table = pd.DataFrame(rows).set_index("endpoint")
    bands = {}
    for e in table.index:
        p, u = fc.band(e, "plan"), fc.band(e, "usual")
        bands[e] = pd.concat([p.add_prefix("plan_"), u.add_prefix("usual_")], axis=1)
    msg = (
        f"Simulated on {n_draws} model patients that match your data, over {days} days "
        f"({days / 7:.0f} weeks): the plan compared with carrying on as logged."
    )
    return SimulatedEffect(
        True, msg, days, table, bands, usual, plan_in, assumptions, caveats, meta, per, fit=_twin_fit(tw, measured, pss)
    )


def _twin_fit(tw, measured: dict, pss) -> pd.DataFrame | None:
    """How close the model patients are to what was measured: one row per observed quantity."""
    if not hasattr(tw, "baseline"):
        return None
    base = tw.baseline()
    rows = []
    prof = (getattr(tw, "observed", {}) or {}).get("profile")
    if prof and "diversity" in base.index:
        rows.append(("Gut diversity (effective number of taxa)", prof["diversity"], base.loc["diversity"]))
    for key, endpoint, label in (
        ("crp", "crp", "CRP (mg/L)"),
        ("il6", "il6", "IL-6 (pg/mL)"),
        ("das28", "disease_activity", "DAS28"),
    ):
        if key in measured and endpoint in base.index:
            rows.append((label, measured[key], base.loc[endpoint]))
    out = [
        {
            "quantity": q,
            "yours": float(v),
            "model_median": float(b["median"]),
            "model_p05": float(b["p05"]),
            "model_p95": float(b["p95"]),
            "within_band": bool(b["p05"] <= v <= b["p95"]),
            "relative_difference": float(b["median"] / v - 1.0) if v else float("nan"),
        }
        for q, v, b in rows
    ]
    if pss is not None:
        out.append(
            {
                "quantity": "PSS-10 (stress load)",
                "yours": float(pss),
                "model_median": float(pss),
                "model_p05": float(pss),
                "model_p95": float(pss),
                "within_band": True,
                "relative_difference": 0.0,
            }
        )
    return pd.DataFrame(
        out,
        columns=["quantity", "yours", "model_median", "model_p05", "model_p95", "within_band", "relative_difference"],
    )


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _null_rows() -> dict:
    from .._data import package_table

    df = package_table("evidence_nulls.tsv", comment="#", dtype=str, keep_default_na=False)
    return {
        (r.suggestion_id, r.endpoint): {"statement": r.statement, "citation": r.citation}
        for r in df.itertuples(index=False)
    }


def _evidence_nulls(per: dict, changes: dict) -> dict:
    """Endpoint -> suggestions shown whose evidence found no effect on it; their step-alone effect on that
    endpoint is replaced by the statement (a simulated number must never contradict the evidence beside it)."""
    out: dict = {}
    for (sid, e), row in _null_rows().items():
        if sid in changes:
            out.setdefault(e, []).append(sid)
            if sid in per and e in per[sid]:
                per[sid][e] = None
                per[sid].setdefault("_evidence", {})[e] = f"{_lower_first(row['statement'])} ({row['citation']})"
    return out


def _assumption(change: str, s: dict) -> str:
    score, op, val = _parse_change(change)
    what = _CHANGE_TEXT.get(score, score.replace("_", " "))
    if re.fullmatch(r"\d+(?:\.\d+)?", val):
        target = f"{float(val):g}"
    else:
        target = f"{val.replace('_', ' ')} ({_fmt(s.get(val), 0)})"
    verb = {"max": "raised to at least", "min": "lowered to at most", "mul": "multiplied by", "set": "set to"}[op]
    return f"{what} {verb} {target}"


_CHANGE_TEXT = {
    "fiber_g_per_day": "Fiber (g/day)",
    "fermented_servings_per_day": "Fermented servings per day",
    "upf_energy_share_pct": "Ultra-processed share of energy",
    "sugar_pct_energy": "Sugars (% energy)",
    "sat_fat_pct_energy": "Saturated fat (% energy)",
    "practice_min_per_day": "Mind-body practice (min/day)",
    "probiotic_log10_cfu_per_day": "Probiotic dose (log10 CFU/day)",
}
