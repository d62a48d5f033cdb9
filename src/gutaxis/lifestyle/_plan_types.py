"""What a personal plan holds: :class:`Plan`, its suggestions, withheld rules and simulated effect.

The result types of :func:`gutaxis.lifestyle.plan.build_plan` (:class:`Suggestion`,
:class:`Withheld`, :class:`Plan`, :class:`SimulatedEffect`), the plan's disclaimer and the
"not available" phrase, and the helpers that format their values. Re-exported by
:mod:`gutaxis.lifestyle.plan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .assessment import SCORE_INFO, Assessment
from .person import Person
from .rules import GRADES

DISCLAIMER = (
    "This plan informs a conversation with your clinician or registered dietitian; it is not a diagnosis "
    "or a prescription. Do not change your treatment because of it."
)
NOT_AVAILABLE = "simulated effect not available"


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
