"""The evidence-graded personal plan: rules chosen by comparing a person's scores with targets.

:func:`assess` turns a :class:`~gutaxis.lifestyle.person.Person` into scores over the weeks logged
(fiber g/day against 25/38 g, fermented servings, the NOVA-4 share of energy, sugars and saturated
fat as % energy, the inflammatory-potential score using the published DII parameters, PSS-10,
stress rating, mind-body practice minutes) and gut-profile indices
(:func:`gutaxis.measure.health_indices`: GMHI, diversity, Bifidobacterium, Lactobacillus group,
butyrate producers; percentiles when a healthy reference is given), plus the N-of-1 insights.

:func:`build_plan` applies the rules of ``gutaxis/data/recommendations.tsv``: a rule is shown when
the person's condition tags match its population and its trigger fires (``fiber_g_per_day <
fiber_target_g``...). Every rule carries an evidence grade (A meta-analysis of RCTs or large RCT
with a clinical outcome; B single RCT or consistent large cohorts; C small trials, biomarker
outcomes or mixed results; G guideline/consensus) and a citation. Contraindications are applied
with the reason stated: a ``withhold`` contraindication (live probiotics under strong
immunosuppression) moves the rule to :attr:`Plan.withheld`; a ``caution`` keeps it with a note.
Rules of kind ``limit`` say what the evidence does *not* support (no specific "RA diet";
probiotics move CRP but not DAS28).

:func:`simulate_plan_effect` runs the plan on the person's twin (:func:`gutaxis.axis.twin`,
:func:`gutaxis.axis.forecast`, imported lazily): median and 5-95 % band of diversity, butyrate,
permeability, IL-6, CRP and disease activity under the usual diet and under the plan. Where the
twin is not available the plan says "simulated effect not available" and shows no numbers.

Everything is framed for a conversation with a clinician or registered dietitian; nothing here
diagnoses or prescribes.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from .assessment import PANEL_KEYS as _PANEL_KEYS
from .assessment import SCORE_INFO, Assessment, assess
from .person import CONDITIONS, FLAGS, Person
from .rules import GRADES, _contraindications, _parse_change, _rules, _split, evaluate_trigger, recommendations

__all__ = ["recommendations", "assess", "Assessment", "build_plan", "Plan", "Suggestion", "Withheld",
           "simulate_plan_effect", "SimulatedEffect", "evaluate_trigger", "GRADES", "DISCLAIMER",
           "NOT_AVAILABLE", "SCORE_INFO"]

DISCLAIMER = ("This plan informs a conversation with your clinician or registered dietitian; it is not a diagnosis "
              "or a prescription. Do not change your treatment because of it.")
NOT_AVAILABLE = "simulated effect not available"


# --------------------------------------------------------------------------- the plan
@dataclass
class Suggestion:
    """A recommendation shown to the person (kind "suggestion") or a statement of what the evidence
    does not support (kind "limit")."""

    id: str
    kind: str
    title: str
    text: str
    population: str
    grade: str
    citation: str
    effect_summary: str
    target: str = ""
    why: str = ""
    cautions: list[str] = field(default_factory=list)
    discuss: str = ""
    simulated_change: str = ""
    simulated_alone: dict | None = None

    @property
    def grade_meaning(self) -> str:
        return GRADES[self.grade]


@dataclass
class Withheld:
    """A rule that would have been shown but is withheld by a contraindication, with the reason."""

    id: str
    title: str
    flag: str
    reason: str
    citation: str
    contraindication_citation: str
    grade: str


@dataclass
class Plan:
    """An evidence-graded personal plan (see :func:`build_plan`)."""

    person: Person
    assessment: Assessment
    suggestions: list[Suggestion]
    limits: list[Suggestion]
    withheld: list[Withheld]
    not_evaluated: list[dict]
    effect: "SimulatedEffect | None" = None
    notes: list[str] = field(default_factory=list)
    disclaimer: str = DISCLAIMER
    params: dict = field(default_factory=dict)

    @property
    def scores(self) -> dict:
        return self.assessment.scores

    def shown(self) -> list[Suggestion]:
        """Every recommendation and limit shown to the person."""
        return list(self.suggestions) + list(self.limits)

    def score_table(self) -> pd.DataFrame:
        """The scores compared with targets: score, label, value, target, unit, status."""
        s = self.scores
        rows = []

        def add(key, target_value=None, better="above", target_text=""):
            label, unit, default_target = SCORE_INFO.get(key, (key, "", ""))
            v = s.get(key, np.nan)
            status = ""
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                status = "not available"
            elif target_value is not None and math.isfinite(float(target_value)):
                ok = v >= target_value if better == "above" else v <= target_value
                status = "meets target" if ok else ("below target" if better == "above" else "above target")
            rows.append({"score": key, "label": label, "value": v, "unit": unit,
                         "target": target_text or default_target, "status": status})

        add("fiber_g_per_day", s.get("fiber_target_g"), "above",
            f"at least {s.get('fiber_target_g', float('nan')):.0f} g/day (Adequate Intake)")
        add("fermented_servings_per_day", None, target_text="daily, building up (trial: about 6/day)")
        add("upf_energy_share_pct", None, target_text="as low as practical (no published numeric target)")
        add("sugar_pct_energy", 10, "below", "below 10% energy (WHO 2015)")
        add("sat_fat_pct_energy", 10, "below", "below 10% energy (WHO 2023)")
        add("inflammatory_score", 0, "below", "below 0 (anti-inflammatory)")
        add("energy_kcal_per_day", None)
        add("pss10", 13, "below", "about 13 or less (US population mean; not a validated cut-off)")
        add("stress_rating", None)
        add("practice_min_per_week", None, target_text="regular practice; trials used several sessions a week")
        if s.get("has_profile"):
            add("GMHI", 0, "above", "above 0")
            add("shannon", None)
            add("richness", None)
            for k in ("bifidobacterium", "lactobacillus_group", "butyrate_producers"):
                add(k, None, target_text="percentile among healthy people (needs a healthy reference)")
        return pd.DataFrame(rows)

    def recommendations_frame(self) -> pd.DataFrame:
        """Everything shown (suggestions and limits) and withheld, one row each, with grade and citation."""
        rows = []
        for sg in self.shown():
            rows.append({"id": sg.id, "kind": sg.kind, "title": sg.title, "text": sg.text, "grade": sg.grade,
                         "citation": sg.citation, "why": sg.why, "cautions": " | ".join(sg.cautions),
                         "effect_summary": sg.effect_summary, "discuss": sg.discuss, "status": "shown"})
        for w in self.withheld:
            rows.append({"id": w.id, "kind": "suggestion", "title": w.title, "text": "", "grade": w.grade,
                         "citation": w.citation, "why": w.reason, "cautions": "", "effect_summary": "",
                         "discuss": "", "status": f"withheld ({w.flag})"})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        eff = self.effect.to_dict() if self.effect is not None else {"available": False, "message": NOT_AVAILABLE}
        return {
            "person": {"id": self.person.id, "synthetic": self.person.synthetic, "sex": self.person.sex,
                       "age": self.person.age, "conditions": self.person.conditions, "flags": self.person.flags},
            "disclaimer": self.disclaimer,
            "scores": {k: _num(v) for k, v in self.scores.items()},
            "suggestions": [asdict(x) for x in self.suggestions],
            "limits": [asdict(x) for x in self.limits],
            "withheld": [asdict(x) for x in self.withheld],
            "not_evaluated": self.not_evaluated,
            "simulated_effect": eff,
            "notes": self.notes,
            "food_table": self.assessment.foods_note,
            "params": self.params,
        }


def _num(v):
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


def _fmt(v, nd=1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:.{nd}f}"


def _why(trigger: str, used: list[str], s: dict) -> str:
    if trigger.strip() in ("", "always"):
        return "shown to everyone with this condition"
    parts = []
    for k in used:
        if k in ("female", "male", "autoimmune", "has_profile"):
            continue
        v = s.get(k)
        label, unit, _ = SCORE_INFO.get(k, (k.replace("pct_", "percentile of ").replace("_", " "), "", ""))
        if k == "age":
            label, unit = "age", "years"
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            continue
        nd = 2 if k in ("GMHI", "inflammatory_score", "fermented_servings_per_day") else (0 if k in ("age", "pss10") else 1)
        if k in _PANEL_KEYS:
            parts.append(f"{label} {100 * v:.2f}% of the profile")
        else:
            parts.append(f"{label} {_fmt(v, nd)}{(' ' + unit) if unit and unit not in ('score', 'index', '0-40', '0-10') else ''}")
    return "your logs: " + "; ".join(parts) + f" (rule: {trigger})" if parts else f"rule: {trigger}"


def build_plan(person: Person, *, foods: pd.DataFrame | None = None, foods_note: str = "", reference=None,
               assessment: Assessment | None = None, simulate: bool = True, days: int = 84, n_draws: int = 200,
               seed: int = 0) -> Plan:
    """Build the evidence-graded plan of a person.

    Parameters
    ----------
    person
        :class:`~gutaxis.lifestyle.person.Person`.
    foods, foods_note
        Food table and a sentence on where it came from (default: :func:`person_foods`).
    reference
        Healthy reference for percentiles of the gut panels (optional).
    assessment
        A ready :func:`assess` result (otherwise computed).
    simulate, days, n_draws, seed
        Run :func:`simulate_plan_effect` on the person's twin over ``days`` days.

    Returns
    -------
    :class:`Plan`: suggestions (graded, cited, with why), limits (what the evidence does not
    support), withheld rules with their reason, rules not evaluated (missing data), the simulated
    effect (or "simulated effect not available").
    """
    a = assessment or assess(person, foods, reference=reference, foods_note=foods_note)
    s = a.scores
    suggestions, limits, withheld, not_eval = [], [], [], []
    for r in _rules().itertuples(index=False):
        tags = _split(r.condition_tags)
        if "any" not in tags and not any(t in person.conditions for t in tags):
            continue
        value, used, missing = evaluate_trigger(r.trigger, s)
        if value is None:
            not_eval.append({"id": r.id, "title": r.title, "grade": r.grade, "citation": r.citation,
                             "missing": missing,
                             "reason": "not evaluated: no value for " + ", ".join(m.replace("_", " ") for m in missing)})
            continue
        if not value:
            continue
        cautions, block = [], None
        for flag, action in _contraindications(r.contraindications):
            if person.flag(flag):
                if action == "withhold":
                    block = flag
                    break
                cautions.append(r.contraindication_reason
                                + (f" ({r.contraindication_citation})" if r.contraindication_citation else ""))
        if block is not None:
            withheld.append(Withheld(r.id, r.title, block,
                                     f"Withheld because you are flagged as {FLAGS[block].split(' (')[0].replace('has ', 'having ')}: "
                                     + r.contraindication_reason, r.citation, r.contraindication_citation, r.grade))
            continue
        sg = Suggestion(r.id, r.kind, r.title, r.text, r.population, r.grade, r.citation, r.effect_summary,
                        target=r.target, why=_why(r.trigger, used, s), cautions=cautions, discuss=r.discuss,
                        simulated_change=r.simulated_change)
        (suggestions if r.kind == "suggestion" else limits).append(sg)
    notes = list(a.notes)
    if person.synthetic:
        notes.insert(0, "SYNTHETIC example person: the data are invented and describe no real person.")
    plan = Plan(person, a, suggestions, limits, withheld, not_eval, None, notes,
                params={"days": days, "n_draws": n_draws, "seed": seed,
                        "rules": "gutaxis/data/recommendations.tsv",
                        "reference": None if reference is None else str(reference)})
    plan.effect = (simulate_plan_effect(person, plan, days=days, n_draws=n_draws, seed=seed) if simulate
                   else SimulatedEffect(False, NOT_AVAILABLE + ": the simulation was switched off (--no-simulate)."))
    return plan


# --------------------------------------------------------------------------- simulated effect
#: endpoints shown, with a plain label
EFFECT_ENDPOINTS = {
    "diversity": "Gut diversity", "butyrate": "Faecal butyrate", "permeability": "Gut permeability (L/M)",
    "il6": "IL-6", "crp": "CRP", "disease_activity": "Disease activity",
}
#: model inputs of the twin <- person scores
_INPUT_OF_SCORE = {
    "fiber_g_per_day": "fiber", "fermented_servings_per_day": "fermented", "upf_energy_share_pct": "upf",
    "sat_fat_pct_energy": "satfat", "practice_min_per_day": "mindbody", "probiotic_log10_cfu_per_day": "probiotic",
}


@dataclass
class SimulatedEffect:
    """The plan's simulated effect on the person's twin, or why it is not available.

    ``summary``: one row per endpoint with unit, usual-diet value, plan value and effect (plan
    minus usual, per model patient) at the end, each as median with 5-95 % band; ``bands``:
    endpoint -> DataFrame over days of ``plan_median/p05/p95`` and ``usual_median/p05/p95``;
    ``per_suggestion``: suggestion id -> {endpoint: (median, p05, p95)} of its effect alone.
    """

    available: bool
    message: str
    days: int = 0
    summary: pd.DataFrame | None = None
    bands: dict = field(default_factory=dict)
    usual_inputs: dict = field(default_factory=dict)
    plan_inputs: dict = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    per_suggestion: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {"available": self.available, "message": self.message, "days": self.days,
               "usual_inputs": self.usual_inputs, "plan_inputs": self.plan_inputs, "assumptions": self.assumptions,
               "caveats": self.caveats, "meta": {k: _num(v) for k, v in self.meta.items()},
               "per_suggestion": self.per_suggestion}
        if self.summary is not None:
            out["summary"] = {str(i): {str(k): _num(v) for k, v in row.items()} for i, row in self.summary.iterrows()}
        return out


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
    if all(isinstance(x, (int, float)) and math.isfinite(float(x)) for x in (kcal, sug)):
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


def simulate_plan_effect(person: Person, plan: Plan, *, days: int = 84, n_draws: int = 200, seed: int = 0) -> SimulatedEffect:
    """Simulate the plan on the person's twin: usual diet vs the plan, over ``days`` days.

    The twin (:func:`gutaxis.axis.twin`) is built from the person's stool profile, PSS-10, usual
    diet (the logged scores) and disease (RA/SLE tags); :func:`gutaxis.axis.forecast` runs every
    model patient of the ensemble under the usual inputs and under the plan's inputs (each shown
    suggestion's ``simulated_change`` applied to the scores). Withheld suggestions change nothing.

    Returns a :class:`SimulatedEffect`; ``available`` is False, with the reason and no numbers,
    where the twin is not part of this gutaxis or cannot be built from these data.
    """
    api = _axis_api()
    if api is None:
        return SimulatedEffect(False, NOT_AVAILABLE + ": this version of gutaxis has no personal twin "
                                                      "(gutaxis.axis.twin / forecast).")
    twin_fn, forecast_fn = api
    s = plan.scores
    changes = {sg.id: _split(sg.simulated_change) for sg in plan.suggestions if sg.simulated_change}
    if not changes:
        return SimulatedEffect(False, NOT_AVAILABLE + ": none of the suggestions shown changes an input of the model "
                                                      "(fiber, fermented foods, ultra-processed share, sugars, saturated "
                                                      "fat, mind-body practice, probiotics).")
    disease = None
    if "RA" in person.conditions:
        disease = "ra"
    elif "SLE" in person.conditions:
        disease = "sle"
    caveats = [
        "The band is the spread among model patients who match your data (5th to 95th percentile), not a "
        "prediction interval for you.",
        "The model is for discussion and hypothesis generation: most of its mechanistic links are quantified in "
        "mice, and the human trials behind its calibration are small (see docs/axis.md).",
    ]
    other = [c for c in person.conditions if c not in ("RA", "SLE")]
    if other:
        caveats.append("The model has no variant for " + ", ".join(CONDITIONS[c] for c in other)
                       + "; it simulates the general gut-immune axis only.")
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
    assumptions.append("Sugars enter the model as grams per day of total sugars (the food table has no added-sugar "
                       "values), so the sugar input is overstated.")
    assumptions.append("Full adherence from day 0; the usual diet is the average of the days logged.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tw = twin_fn(person.profile, pss10=pss, diet=usual, disease=disease, n_draws=n_draws, seed=seed)
            fc = forecast_fn(tw, plan_in, days)
            per = {}
            for sid, cs in changes.items():
                alone = {k: v for k, v in _model_inputs(_apply_changes(s, cs)).items()
                         if abs(v - usual.get(k, np.nan)) > 1e-9 or k not in usual}
                if not alone:
                    continue
                f1 = forecast_fn(tw, alone, days)
                sm = f1.summary()
                per[sid] = {e: (float(sm.at[e, "effect_median"]), float(sm.at[e, "effect_p05"]),
                                float(sm.at[e, "effect_p95"])) for e in EFFECT_ENDPOINTS if e in sm.index}
    except InputError as exc:
        return SimulatedEffect(False, f"{NOT_AVAILABLE}: the twin could not be built from these data ({exc}).",
                               usual_inputs=usual, plan_inputs=plan_in)
    except Exception as exc:  # noqa: BLE001 - the model failing must not cost the person their plan
        return SimulatedEffect(False, f"{NOT_AVAILABLE}: the personal twin failed ({type(exc).__name__}: {exc}).",
                               usual_inputs=usual, plan_inputs=plan_in)
    meta = dict(getattr(tw, "meta", {}) or {})
    meta["n_draws"] = n_draws
    n_pl = meta.get("n_plausible")
    if isinstance(n_pl, (int, np.integer)) and n_pl < max(n_draws // 2, 10):
        # the twin fell back on merely converged candidates: its levels are not physiological for this person
        return SimulatedEffect(
            False, f"{NOT_AVAILABLE}: the model could not match this person's data within plausible physiological "
                   f"ranges (only {n_pl} of {meta.get('n_candidates', '?')} model patients did), so no simulated numbers "
                   "are shown.", usual_inputs=usual, plan_inputs=plan_in, meta=meta)
    summ = fc.summary()
    rows = []
    for e, label in EFFECT_ENDPOINTS.items():
        if e not in summ.index:
            continue
        r = summ.loc[e]
        unit = str(r["unit"])
        if e == "disease_activity":
            label, unit = ({"ra": ("Disease activity (DAS28, model)", "DAS28"),
                            "sle": ("Disease activity (SLEDAI proxy, model)", "SLEDAI proxy")}.get(
                               disease, ("Tissue inflammation (model state)", "Baker p")))
        usual_end = fc.band(e, "usual").iloc[-1]
        rows.append({"endpoint": e, "label": label, "unit": unit, "baseline": float(r["baseline"]),
                     "usual_median": float(usual_end["median"]), "usual_p05": float(usual_end["p05"]),
                     "usual_p95": float(usual_end["p95"]),
                     "plan_median": float(r["value_median"]), "plan_p05": float(r["value_p05"]),
                     "plan_p95": float(r["value_p95"]),
                     "effect_median": float(r["effect_median"]), "effect_p05": float(r["effect_p05"]),
                     "effect_p95": float(r["effect_p95"])})
    table = pd.DataFrame(rows).set_index("endpoint")
    bands = {}
    for e in table.index:
        p, u = fc.band(e, "plan"), fc.band(e, "usual")
        bands[e] = pd.concat([p.add_prefix("plan_"), u.add_prefix("usual_")], axis=1)
    msg = (f"Simulated on {n_draws} model patients that match your data, over {days} days "
           f"({days / 7:.0f} weeks): the plan compared with carrying on as logged.")
    return SimulatedEffect(True, msg, days, table, bands, usual, plan_in, assumptions, caveats, meta, per)


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
    "fiber_g_per_day": "Fiber (g/day)", "fermented_servings_per_day": "Fermented servings per day",
    "upf_energy_share_pct": "Ultra-processed share of energy", "sugar_pct_energy": "Sugars (% energy)",
    "sat_fat_pct_energy": "Saturated fat (% energy)", "practice_min_per_day": "Mind-body practice (min/day)",
    "probiotic_log10_cfu_per_day": "Probiotic dose (log10 CFU/day)",
}
