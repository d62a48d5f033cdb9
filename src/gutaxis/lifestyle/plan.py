"""The evidence-graded personal plan: rules chosen by comparing a person's scores with targets.

:func:`assess` turns a :class:`~gutaxis.lifestyle.person.Person` into scores over the weeks logged
(fiber g/day against 25/38 g, fermented servings, the NOVA-4 share of energy, sugars and saturated
fat as % energy, the inflammatory-potential score using the published DII parameters, PSS-10,
stress rating, mind-body practice minutes) and gut-profile indices
(:func:`gutaxis.measure.health_indices`: GMHI, diversity, Bifidobacterium, Lactobacillus group,
butyrate producers; percentiles when a healthy reference is given), plus the N-of-1 insights.

:func:`build_plan` applies the rules of ``gutaxis/data/recommendations.tsv``: a rule is shown when
the person's condition tags match its population and its trigger fires (``fiber_g_per_day <
fiber_target_g``...; triggers may also read the flags in force, ``pregnant == 1``). Every rule
carries an evidence grade (A meta-analysis of RCTs or large RCT with a clinical outcome; B single
RCT or consistent large cohorts; C small trials, biomarker outcomes or mixed results; G
guideline/consensus) and a citation. Contraindications are applied with the reason stated, the
reason of that flag (a rule may give one reason per flag) and, where a medication set the flag,
the medication: a ``withhold`` contraindication (live probiotics under strong immunosuppression,
e.g. from mycophenolate) moves the rule to :attr:`Plan.withheld`; a ``caution`` keeps it with a
note. Rules of kind ``limit`` say what the evidence does *not* support (no specific "RA diet";
probiotics move CRP but not DAS28). Where the assessment says too little of the meal log could
be counted (``coverage["ok"]`` False), the rules that read a diet score are not judged
(:attr:`Plan.not_evaluated`, reason ``"not judged: ..."``).

:func:`simulate_plan_effect` runs the plan on the person's twin (:func:`gutaxis.axis.twin`,
:func:`gutaxis.axis.forecast`, imported lazily): median and 5-95 % band of diversity, butyrate,
permeability, IL-6, CRP and disease activity (DAS28 for RA, the SLEDAI proxy for SLE, the model's
effector activity for MS) under the usual diet and under the plan. Where the twin is not
available the plan says "simulated effect not available" and shows no numbers.

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
from .person import CONDITIONS, FLAGS, NOT_RECOGNISED, Person
from .rules import (
    GRADES,
    _contraindications,
    _parse_change,
    _rules,
    _split,
    evaluate_trigger,
    recommendations,
)

__all__ = [
    "DIET_SCORES",
    "DISCLAIMER",
    "GRADES",
    "NOT_AVAILABLE",
    "SCORE_INFO",
    "Assessment",
    "Plan",
    "SimulatedEffect",
    "Suggestion",
    "Withheld",
    "assess",
    "build_plan",
    "evaluate_trigger",
    "recommendations",
    "simulate_plan_effect",
]

DISCLAIMER = (
    "This plan informs a conversation with your clinician or registered dietitian; it is not a diagnosis "
    "or a prescription. Do not change your treatment because of it."
)
NOT_AVAILABLE = "simulated effect not available"
#: scores computed from the meal log: a rule reading one is not judged when too little of the log was counted
DIET_SCORES = (
    "fiber_g_per_day",
    "fiber_target_g",
    "fermented_servings_per_day",
    "upf_energy_share_pct",
    "sugar_pct_energy",
    "sat_fat_pct_energy",
    "inflammatory_score",
    "energy_kcal_per_day",
)
#: a flag as said of the person ("Withheld because you are flagged as ...")
_FLAG_PHRASE = {
    "strong_immunosuppression": "strongly immunosuppressed",
    "central_venous_catheter": "having a central venous catheter",
    "bowel_stricture": "having a bowel stricture or past bowel obstruction",
    "dmard": "taking a DMARD",
    "pregnant": "pregnant",
    "kidney_disease": "having chronic kidney disease",
    "methotrexate": "taking methotrexate",
    "glucocorticoid": "taking a steroid (glucocorticoid) such as prednisolone",
}


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
    set_by: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """An evidence-graded personal plan (see :func:`build_plan`)."""

    person: Person
    assessment: Assessment
    suggestions: list[Suggestion]
    limits: list[Suggestion]
    withheld: list[Withheld]
    not_evaluated: list[dict]
    effect: SimulatedEffect | None = None
    notes: list[str] = field(default_factory=list)
    disclaimer: str = DISCLAIMER
    params: dict = field(default_factory=dict)

    @property
    def scores(self) -> dict:
        return self.assessment.scores

    @property
    def medications(self) -> list[dict]:
        """The person's medications as kept (see :func:`gutaxis.lifestyle.person.read_medications`)."""
        return self.person.medications

    def flag_sources(self) -> dict[str, list[str]]:
        """Every flag in force -> ``"stated"`` and/or the medications that set it."""
        return self.person.flag_sources()

    def medications_frame(self) -> pd.DataFrame:
        """One row per medication for the dietitian: as given, dose, daily dose (mg), drug,
        recognised, flags set, the note and its citations."""
        rows = [
            {
                "medication": m["name"],
                "dose": m["dose"],
                "frequency": m["frequency"],
                "daily_dose_mg": m["daily_dose_mg"],
                "drug": m["drug"] or "",
                "drug_class": m["drug_class"],
                "recognised": m["recognised"],
                "flags": ", ".join(m["flags"]),
                "note": m["note"],
                "citation": " | ".join(m["citations"]),
            }
            for m in self.person.medications
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "medication",
                "dose",
                "frequency",
                "daily_dose_mg",
                "drug",
                "drug_class",
                "recognised",
                "flags",
                "note",
                "citation",
            ],
        )

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
            rows.append(
                {
                    "score": key,
                    "label": label,
                    "value": v,
                    "unit": unit,
                    "target": target_text or default_target,
                    "status": status,
                }
            )

        add(
            "fiber_g_per_day",
            s.get("fiber_target_g"),
            "above",
            f"at least {s.get('fiber_target_g', float('nan')):.0f} g/day (Adequate Intake)",
        )
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
            rows.append(
                {
                    "id": sg.id,
                    "kind": sg.kind,
                    "title": sg.title,
                    "text": sg.text,
                    "grade": sg.grade,
                    "citation": sg.citation,
                    "why": sg.why,
                    "cautions": " | ".join(sg.cautions),
                    "effect_summary": sg.effect_summary,
                    "discuss": sg.discuss,
                    "status": "shown",
                }
            )
        for w in self.withheld:
            rows.append(
                {
                    "id": w.id,
                    "kind": "suggestion",
                    "title": w.title,
                    "text": "",
                    "grade": w.grade,
                    "citation": w.citation,
                    "why": w.reason,
                    "cautions": "",
                    "effect_summary": "",
                    "discuss": "",
                    "status": f"withheld ({w.flag})",
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        eff = self.effect.to_dict() if self.effect is not None else {"available": False, "message": NOT_AVAILABLE}
        p = self.person
        meds = [{k: (_num(v) if k in ("dose_mg", "daily_dose_mg") else v) for k, v in m.items()} for m in p.medications]
        return {
            "person": {
                "id": p.id,
                "synthetic": p.synthetic,
                "sex": p.sex,
                "age": p.age,
                "conditions": p.conditions,
                "flags": p.flags_in_force(),
                "flags_stated": p.flags,
                "flag_sources": p.flag_sources(),
                "flags_from_medications": p.medication_flags,
                "medications": meds,
                "notes": p.notes,
            },
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


def _flag_phrase(flag: str) -> str:
    return _FLAG_PHRASE.get(flag) or FLAGS[flag].split(" (")[0].replace("has ", "having ")


def _set_by(person: Person, flag: str) -> list[str]:
    """The medications that set a flag (empty where it was only stated)."""
    return list(person.medication_flags.get(flag, []))


def _flagged(person: Person, flag: str) -> str:
    meds = _set_by(person, flag)
    return f"flagged as {_flag_phrase(flag)}" + (f" (set by your medication: {', '.join(meds)})" if meds else "")


def _for_flag(text: str, flag: str) -> str:
    """The part of a contraindication reason/citation for one flag: parts separated by ``||``, each
    ``[flag,flag] text``; a part without ``[..]`` applies to the flags not named."""
    default = ""
    for part in (p.strip() for p in str(text or "").split("||")):
        if not part:
            continue
        m = re.match(r"\[([A-Za-z_,\s]+)\]\s*(.*)\Z", part, re.DOTALL)
        if m:
            if flag in [f.strip() for f in m.group(1).split(",")]:
                return m.group(2).strip()
        elif not default:
            default = part
    return default


def _why(trigger: str, used: list[str], s: dict, person: Person | None = None) -> str:
    if trigger.strip() in ("", "always"):
        return "shown to everyone with this condition"
    flags = [k for k in used if k in FLAGS]
    used = [k for k in used if k not in FLAGS]
    lead = ""
    if flags and person is not None:
        on = [f for f in flags if person.flag(f)]
        lead = "you are " + "; ".join(_flagged(person, f) for f in on) if on else ""
        if not used:
            return lead + f" (rule: {trigger})" if lead else f"rule: {trigger}"
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
        nd = (
            2
            if k in ("GMHI", "inflammatory_score", "fermented_servings_per_day")
            else (0 if k in ("age", "pss10") else 1)
        )
        if k in _PANEL_KEYS:
            parts.append(f"{label} {100 * v:.2f}% of the profile")
        else:
            parts.append(
                f"{label} {_fmt(v, nd)}"
                f"{(' ' + unit) if unit and unit not in ('score', 'index', '0-40', '0-10') else ''}"
            )
    if lead:
        parts.insert(0, lead)
        return "; ".join(parts) + f" (rule: {trigger})"
    return "your logs: " + "; ".join(parts) + f" (rule: {trigger})" if parts else f"rule: {trigger}"


def build_plan(
    person: Person,
    *,
    foods: pd.DataFrame | None = None,
    foods_note: str = "",
    reference=None,
    assessment: Assessment | None = None,
    simulate: bool = True,
    days: int = 84,
    n_draws: int = 200,
    seed: int = 0,
) -> Plan:
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
    support), withheld rules with their reason, rules not evaluated (missing data, or diet rules
    not judged because too little of the meal log was counted), the simulated effect (or
    "simulated effect not available"). Flags set by medications act as stated flags and are
    named with their medication wherever they withhold or caution a rule.
    """
    a = assessment or assess(person, foods, reference=reference, foods_note=foods_note)
    s = dict(a.scores)
    for f in FLAGS:  # triggers may read the flags in force
        s[f] = 1.0 if person.flag(f) else 0.0
    cov_raw = getattr(a, "coverage", None)
    cov: dict = cov_raw if isinstance(cov_raw, dict) else {}
    gated = not bool(cov.get("ok", True))
    suggestions: list[Suggestion] = []
    limits: list[Suggestion] = []
    withheld: list[Withheld] = []
    not_eval: list[dict] = []
    for r in _rules().itertuples(index=False):
        tags = _split(r.condition_tags)
        if "any" not in tags and not any(t in person.conditions for t in tags):
            continue
        if gated:
            reads = evaluate_trigger(r.trigger, {}, strict=True)[1]
            diet = [k for k in reads if k in DIET_SCORES]
            if diet:
                not_eval.append(
                    {
                        "id": r.id,
                        "title": r.title,
                        "grade": r.grade,
                        "citation": r.citation,
                        "missing": [],
                        "diet_scores": diet,
                        "reason": f"not judged: {cov.get('message') or 'too little of the meal log could be counted'}",
                    }
                )
                continue
        value, used, missing = evaluate_trigger(r.trigger, s)
        if value is None:
            not_eval.append(
                {
                    "id": r.id,
                    "title": r.title,
                    "grade": r.grade,
                    "citation": r.citation,
                    "missing": missing,
                    "reason": "not evaluated: no value for " + ", ".join(m.replace("_", " ") for m in missing),
                }
            )
            continue
        if not value:
            continue
        cautions, block = [], None
        for flag, action in _contraindications(r.contraindications):
            if person.flag(flag):
                reason = _for_flag(r.contraindication_reason, flag)
                cite = _for_flag(r.contraindication_citation, flag)
                if action == "withhold":
                    block = (flag, reason, cite)
                    break
                meds = _set_by(person, flag)
                cautions.append(
                    (f"Because of your medication ({', '.join(meds)}): " if meds else "")
                    + reason
                    + (f" ({cite})" if cite else "")
                )
        if block is not None:
            flag, reason, cite = block
            withheld.append(
                Withheld(
                    r.id,
                    r.title,
                    flag,
                    f"Withheld because you are {_flagged(person, flag)}: " + reason,
                    r.citation,
                    cite,
                    r.grade,
                    _set_by(person, flag),
                )
            )
            continue
        sg = Suggestion(
            r.id,
            r.kind,
            r.title,
            r.text,
            r.population,
            r.grade,
            r.citation,
            r.effect_summary,
            target=r.target,
            why=_why(r.trigger, used, s, person),
            cautions=cautions,
            discuss=r.discuss,
            simulated_change=r.simulated_change,
        )
        (suggestions if r.kind == "suggestion" else limits).append(sg)
    notes = list(a.notes)
    if person.synthetic:
        notes.insert(0, "SYNTHETIC example person: the data are invented and describe no real person.")
    notes.extend(_medication_notes(person))
    plan = Plan(
        person,
        a,
        suggestions,
        limits,
        withheld,
        not_eval,
        None,
        notes,
        params={
            "days": days,
            "n_draws": n_draws,
            "seed": seed,
            "rules": "gutaxis/data/recommendations.tsv",
            "reference": None if reference is None else str(reference),
        },
    )
    plan.effect = (
        simulate_plan_effect(person, plan, days=days, n_draws=n_draws, seed=seed)
        if simulate
        else SimulatedEffect(False, NOT_AVAILABLE + ": the simulation was switched off (--no-simulate).")
    )
    return plan


def _medication_notes(person: Person) -> list[str]:
    """Plan notes on the medications: flags they set, names not recognised, rules not judged."""
    out = []
    for flag, meds in person.medication_flags.items():
        out.append(f"Flag '{flag.replace('_', ' ')}' set by your medication: {', '.join(meds)}.")
    for m in person.medications:
        if not m["recognised"]:
            out.append(f"Medication '{m['name']}': {NOT_RECOGNISED}.")
            continue
        said = []
        for rule in m["rules"]:
            if not rule["applied"] and ("could not be judged" in rule["reason"] or "local" in rule["reason"]):
                line = f"Medication '{m['name']}' ({rule['drug']}): {rule['reason']}."
                if "local" in rule["reason"]:
                    line = f"Medication '{m['name']}' ({rule['drug']}): {rule['reason'].split(': ', 1)[-1]}."
                if line not in said:
                    said.append(line)
        out.extend(said)
    return out


# --------------------------------------------------------------------------- simulated effect
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
    fit: pd.DataFrame | None = None

    def to_dict(self) -> dict:
        out = {
            "available": self.available,
            "message": self.message,
            "days": self.days,
            "usual_inputs": self.usual_inputs,
            "plan_inputs": self.plan_inputs,
            "assumptions": self.assumptions,
            "caveats": self.caveats,
            "meta": {k: _num(v) for k, v in self.meta.items()},
            "per_suggestion": self.per_suggestion,
            "fit": None if self.fit is None else self.fit.to_dict(orient="records"),
        }
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
