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

The parts live in their own modules: the result types (:class:`Plan`, :class:`Suggestion`,
:class:`Withheld`, :class:`SimulatedEffect`, :data:`DISCLAIMER`, :data:`NOT_AVAILABLE`) in
``_plan_types``, and the simulated effect (:func:`simulate_plan_effect`, ``EFFECT_ENDPOINTS``) in
``_plan_effect``; this module builds the plan from the rules and re-exports the rest.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from ._plan_effect import EFFECT_ENDPOINTS as EFFECT_ENDPOINTS  # re-exported
from ._plan_effect import simulate_plan_effect
from ._plan_types import DISCLAIMER, NOT_AVAILABLE, Plan, SimulatedEffect, Suggestion, Withheld, _fmt
from .assessment import PANEL_KEYS as _PANEL_KEYS
from .assessment import SCORE_INFO, Assessment, assess
from .person import FLAGS, NOT_RECOGNISED, Person
from .rules import (
    GRADES,
    _contraindications,
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
