"""The context the plan's templates (and the PDF) are rendered from: :func:`_context`.

It gathers the suggestions (readdressed to the clinician for the dietitian summary), score cards and
the score table, withheld and not-judged rules, the weekly table, diary patterns, data quality, the
gut profile, the simulated effect, medications and methods. Under the coverage gate (too little of
the meal log counted) the diet scores are "not judged", diet rules are held back and no simulated
effect is shown.
"""

from __future__ import annotations

import math

import pandas as pd

from ..lifestyle.plan import DIET_SCORES as _PLAN_DIET_SCORES
from ..lifestyle.plan import DISCLAIMER, GRADES, NOT_AVAILABLE, Plan
from ._render import citations
from .plan_figures import _GRADE_COLOR
from .plan_format import _cell, _sig, _v
from .plan_meal_log import (
    _assumed_frame,
    _assumed_rows,
    _coverage,
    _nutrient_rows,
    _nutrients_frame,
    _to_fix_frame,
    _to_fix_rows,
    _top_food_blocks,
    _top_foods,
)

#: scores computed from the meal log: judged against targets only when enough of the log was counted
#: (the plan's own list, so the report and the plan's rules never disagree on which scores are gated)
DIET_SCORES = frozenset(_PLAN_DIET_SCORES)
NOT_JUDGED = "not judged"


def _medications(person) -> list[dict]:
    """The person's medications as kept by :func:`gutaxis.lifestyle.person.read_medications` (dicts
    with ``name``, ``dose``, ``frequency``, ``drug``, ``drug_class``, ``recognised``, ``flags``,
    ``note``, ``citations``, ``assumptions``); plain strings or partial dicts are shown as given."""
    meds = getattr(person, "medications", None) or []
    out = []
    for m in meds:
        if not isinstance(m, dict):
            m = {"name": _cell(m)}
        flags = m.get("flags") or []
        if isinstance(flags, dict):
            flags = [k for k, v in flags.items() if v]
        elif isinstance(flags, str):
            flags = [f.strip() for f in flags.replace(";", ",").split(",") if f.strip()]
        dose = _cell(m.get("dose") if m.get("dose") is not None else m.get("dose_text"))
        freq = _cell(m.get("frequency"))
        if freq and freq not in dose:
            dose = f"{dose} {freq}".strip()
        drug = _cell(m.get("drug"))
        klass = _cell(m.get("drug_class"))
        cites = m.get("citations") or []
        if isinstance(cites, str):
            cites = [cites]
        out.append(
            {
                "name": _cell(m.get("name")) or "—",
                "dose": dose,
                "drug": (f"{drug} ({klass})" if drug and klass else drug or klass),
                "recognised": m.get("recognised", True) is not False,
                "flags": [str(f).replace("_", " ") for f in flags],
                "note": _cell(m.get("note") or m.get("notes")),
                "assumptions": [_cell(x) for x in (m.get("assumptions") or []) if _cell(x)],
                "citations": [c for x in cites for c in citations(_cell(x))],
            }
        )
    return out


def _diet_rule_ids() -> set[str]:
    """Ids of the rules whose trigger reads a score computed from the meal log."""
    from ..lifestyle.rules import _rules, evaluate_trigger

    out = set()
    for r in _rules().itertuples(index=False):
        _, used, missing = evaluate_trigger(r.trigger, {})
        if DIET_SCORES & set(used + list(missing)):
            out.add(r.id)
    return out


def _client(text: str) -> str:
    """A sentence written to the person, readdressed to the clinician."""
    import re

    t = str(text)
    for a, b in (
        ("your logs", "the client's logs"),
        ("Your logs", "The client's logs"),
        ("you are", "the client is"),
        ("You are", "The client is"),
        ("your target", "the client's target"),
    ):
        t = t.replace(a, b)
    return re.sub(r"\byour\b", "the client's", t)


def _score_rows(plan: Plan, *, gated: bool = False) -> list[dict]:
    """The score table's rows; with ``gated`` (too little of the meal log counted) the diet scores
    carry "not judged" instead of their comparison with the target."""
    t = plan.score_table()
    rows = []
    nd = {
        "fermented_servings_per_day": 2,
        "inflammatory_score": 2,
        "GMHI": 2,
        "shannon": 2,
        "pss10": 0,
        "energy_kcal_per_day": 0,
        "richness": 0,
        "practice_min_per_week": 0,
    }
    for r in t.itertuples(index=False):
        panel = r.score in ("bifidobacterium", "lactobacillus_group", "butyrate_producers")
        status = r.status
        cls = {"meets target": "ok", "below target": "warn", "above target": "warn"}.get(status, "")
        judged = not (gated and r.score in DIET_SCORES)
        if not judged:
            status, cls = NOT_JUDGED, "nj"
        rows.append(
            {
                "key": r.score,
                "label": r.label,
                "value": _v(r.value, nd.get(r.score, 1), pct=panel),
                "raw": None
                if not isinstance(r.value, (int, float)) or not math.isfinite(float(r.value))
                else float(r.value),
                "unit": r.unit,
                "target": r.target,
                "status": status,
                "cls": cls,
                "judged": judged,
                "diet": r.score in DIET_SCORES,
            }
        )
    return rows


def _effect_rows(plan: Plan) -> list[dict]:
    eff = plan.effect
    if eff is None or not eff.available or eff.summary is None:
        return []
    rows = []

    def band(m, lo, hi, nd=3, sign=False):
        if _sig(lo, nd, sign) == _sig(hi, nd, sign):  # no spread among the model patients: one number, not a band
            return _sig(m, nd, sign)
        return f"{_sig(m, nd, sign)} ({_sig(lo, nd, sign)} to {_sig(hi, nd, sign)})"

    for e, r in eff.summary.iterrows():
        rows.append(
            {
                "endpoint": e,
                "label": r["label"],
                "unit": r["unit"],
                "source": str(r.get("baseline_source", "model patient") or "model patient"),
                "note": str(r.get("evidence_note", "") or ""),
                "usual": band(r["usual_median"], r["usual_p05"], r["usual_p95"]),
                "plan": band(r["plan_median"], r["plan_p05"], r["plan_p95"]),
                "effect": band(r["effect_median"], r["effect_p05"], r["effect_p95"], 2, True),
            }
        )
    return rows


def _fit_rows(plan: Plan) -> list[dict]:
    """How close the model patients are to the person's own measurements."""
    eff = plan.effect
    fit = getattr(eff, "fit", None) if eff is not None else None
    if fit is None or not len(fit):
        return []
    return [
        {
            "quantity": r.quantity,
            "yours": _sig(r.yours, 3),
            "model": f"{_sig(r.model_median, 3)} ({_sig(r.model_p05, 3)} to {_sig(r.model_p95, 3)})",
            "within": "yes" if r.within_band else "no",
        }
        for r in fit.itertuples(index=False)
    ]


def _alone_text(plan: Plan, sid: str) -> str:
    eff = plan.effect
    if eff is None or not eff.available or sid not in eff.per_suggestion:
        return ""
    labels = {
        "il6": ("IL-6", "pg/mL"),
        "crp": ("CRP", "mg/L"),
        "diversity": ("diversity", "taxa"),
        "butyrate": ("butyrate", "mM"),
        "disease_activity": ("disease activity", ""),
        "permeability": ("permeability", "L/M"),
    }
    parts = []
    evidence = eff.per_suggestion[sid].get("_evidence", {})
    for e in ("diversity", "butyrate", "il6", "crp", "disease_activity"):
        if e in evidence:
            parts.append(f"{labels[e][0]}: not simulated, because {evidence[e]}")
            continue
        if e in eff.per_suggestion[sid] and eff.per_suggestion[sid][e] is not None:
            m, lo, hi = eff.per_suggestion[sid][e]
            lab, unit = labels[e]
            if max(abs(m), abs(lo), abs(hi)) < 5e-4:
                parts.append(f"{lab}: no change")
                continue
            parts.append(
                f"{lab} {_sig(m, 2, True)} ({_sig(lo, 2, True)} to {_sig(hi, 2, True)}){(' ' + unit) if unit else ''}"
            )
    return (
        f"Simulated effect of this step alone after {eff.days // 7} weeks (median, 5-95% band): "
        + "; ".join(parts)
        + "."
    )


def _context(plan: Plan, *, now: str, files: list[dict]) -> dict:
    from .. import __version__
    from ..lifestyle.dii import N_PARAMETERS, SCORE_LABEL
    from ..lifestyle.stress import PSS10_BAND_CAVEAT

    p, a, s = plan.person, plan.assessment, plan.scores
    d = a.daily
    start, end = pd.to_datetime(d.index.min()), pd.to_datetime(d.index.max())
    period = f"{start:%d %b %Y} to {end:%d %b %Y}"
    cov = _coverage(a)
    gated = cov["gated"]
    diet_rules = _diet_rule_ids() if gated else set()
    # not judged: rules the plan itself held back (reason "not judged: ...") and, where the plan was
    # built before the coverage gate, the diet rules it would otherwise headline
    not_judged = [
        {"id": n.get("id", ""), "title": n.get("title", ""), "reason": n.get("reason", "")}
        for n in plan.not_evaluated
        if str(n.get("reason", "")).startswith("not judged")
    ]
    not_evaluated = [n for n in plan.not_evaluated if not str(n.get("reason", "")).startswith("not judged")]
    sugg = []
    for sg in plan.suggestions:
        if sg.id in diet_rules:
            not_judged.append(
                {"id": sg.id, "title": sg.title, "reason": "not judged: too few of the foods logged could be counted"}
            )
            continue
        sugg.append(
            {
                "id": sg.id,
                "title": sg.title,
                "text": sg.text,
                "grade": sg.grade,
                "grade_meaning": sg.grade_meaning,
                "why": sg.why,
                "target": sg.target,
                "effect": sg.effect_summary,
                "cautions": sg.cautions,
                "citations": citations(sg.citation),
                "citation": sg.citation,
                "discuss": sg.discuss,
                "population": sg.population,
                "alone": "" if gated else _alone_text(plan, sg.id),
                "why_client": _client(sg.why),
                "cautions_client": [_client(c) for c in sg.cautions],
            }
        )
    limits = [
        {
            "id": x.id,
            "title": x.title,
            "text": x.text,
            "grade": x.grade,
            "grade_meaning": x.grade_meaning,
            "citations": citations(x.citation),
            "citation": x.citation,
            "effect": x.effect_summary,
        }
        for x in plan.limits
    ]
    withheld = [
        {
            "id": w.id,
            "title": w.title,
            "reason": w.reason,
            "reason_client": _client(w.reason),
            "grade": w.grade,
            "citations": citations(w.citation),
            "citation": w.citation,
            "contra_citations": citations(w.contraindication_citation),
            "contra_citation": w.contraindication_citation,
        }
        for w in plan.withheld
    ]
    weekly = []
    w = a.weekly
    for ws, r in w.iterrows():
        weekly.append(
            {
                "week": f"{pd.Timestamp(ws):%d %b}",
                "days": int(r["days_logged"]),
                "energy": _v(r.get("energy_kcal"), 0),
                "fiber": _v(r.get("fiber_g")),
                "fermented": _v(r.get("fermented_servings_total"), 1),
                "upf": _v(100 * r["upf_energy_share"] if pd.notna(r.get("upf_energy_share")) else None, 0),
                "sugar": _v(r.get("sugar_pct_energy")),
                "satfat": _v(r.get("sat_fat_pct_energy")),
                "dii": _v(r.get("inflammatory_score"), 2),
                "stress": _v(r.get("stress_rating")),
                "practice": _v(r.get("practice_min_total"), 0),
                "pss10": _v(r.get("pss10"), 0),
            }
        )
    ins = a.insights
    insights = None
    if ins is not None:
        sig = ins.significant
        insights = {
            "statement": ins.statement,
            "findings": ins.findings,
            "n_tests": len(ins.table),
            "rows": [
                {
                    "factor": r.factor,
                    "symptom": r.symptom,
                    "lag": r.lag,
                    "with": r.n_days_with,
                    "without": r.n_days_without,
                    "diff": f"{r.mean_diff:+.1f}",
                    "g": f"{r.hedges_g:.2f}",
                    "q": f"{r.q_value:.3g}",
                }
                for r in sig.itertuples(index=False)
            ],
        }
    items = a.items
    n_entries = len(items)
    status_counts = items["match_status"].value_counts().to_dict()
    quality = {
        "days": int(s.get("days_logged", 0)),
        "entries": n_entries,
        "matched": int(status_counts.get("matched", 0) + status_counts.get("given", 0)),
        "low_confidence": int(status_counts.get("low_confidence", 0)),
        "unmatched": int(status_counts.get("unmatched", 0) + status_counts.get("unknown_ndb", 0)),
        "left_out": int(d["n_left_out"].sum()) if "n_left_out" in d else 0,
        "stress_entries": 0 if p.stress is None else len(p.stress),
        "symptom_entries": 0 if p.symptoms is None else len(p.symptoms),
    }
    gut = []
    if a.indices is not None:
        row = a.indices.iloc[0]
        for k, lab, kind in (
            ("GMHI", "GMHI (Gut Microbiome Health Index)", "index"),
            ("shannon", "Shannon diversity", "index"),
            ("richness", "Richness (taxa)", "int"),
            ("bifidobacterium", "Bifidobacterium", "pct"),
            ("lactobacillus_group", "Lactobacillus group", "pct"),
            ("butyrate_producers", "Butyrate producers", "pct"),
            ("faecalibacterium_prausnitzii", "Faecalibacterium prausnitzii", "pct"),
            ("akkermansia_muciniphila", "Akkermansia muciniphila", "pct"),
            ("enterobacteriaceae", "Enterobacteriaceae", "pct"),
        ):
            if k in row.index:
                val = row[k]
                gut.append(
                    {
                        "label": lab,
                        "value": _v(val, 2 if kind == "index" else 0, pct=kind == "pct")
                        + (" %" if kind == "pct" else ""),
                        "pct": _v(s.get(f"pct_{k}"), 0) if f"pct_{k}" in s else "—",
                    }
                )
    eff = plan.effect
    effect = {
        "available": bool(eff is not None and eff.available),
        "message": eff.message if eff is not None else NOT_AVAILABLE,
        "rows": _effect_rows(plan),
        "fit": _fit_rows(plan),
        "assumptions": [] if eff is None else eff.assumptions,
        "caveats": [] if eff is None else eff.caveats,
        "days": 0 if eff is None else eff.days,
        "usual_inputs": {} if eff is None else eff.usual_inputs,
        "plan_inputs": {} if eff is None else eff.plan_inputs,
    }
    if gated and effect["available"]:
        effect.update(
            available=False,
            rows=[],
            caveats=[],
            assumptions=[],
            message=f"{NOT_AVAILABLE}: only {cov['n_counted']} of {cov['n_entries']} foods could be counted, "
            "so the usual diet the model would start from is not the real one.",
        )
    cards = []
    for key, label, nd, unit in (
        ("fiber_g_per_day", "Fiber", 1, "g/day"),
        ("fermented_servings_per_day", "Fermented (live)", 2, "servings/day"),
        ("upf_energy_share_pct", "Ultra-processed", 0, "% of energy"),
        ("sugar_pct_energy", "Sugars", 0, "% of energy"),
        ("sat_fat_pct_energy", "Saturated fat", 1, "% of energy"),
        ("inflammatory_score", "Inflammatory potential", 2, "DII parameters"),
        ("pss10", "PSS-10", 0, "latest, 0-40"),
        ("GMHI", "GMHI", 2, "gut profile"),
    ):
        if key in s:
            sub = unit
            judged = not (gated and key in DIET_SCORES)
            if key == "fiber_g_per_day":
                sub = f"g/day · target {s['fiber_target_g']:.0f}" if judged else "g/day"
            cards.append({"label": label, "value": _v(s.get(key), nd), "sub": sub, "judged": judged})
    methods = [
        ("food table", a.foods_note or "—"),
        (
            "sugars",
            "total sugars used as a proxy for free sugars (USDA SR28 has no added-sugar values); it overstates "
            "free sugars",
        ),
        (
            "inflammatory potential",
            f"{SCORE_LABEL}; {int(s.get('inflammatory_n_parameters', 0))} of {N_PARAMETERS} "
            "parameters available from the food table",
        ),
        (
            "ultra-processed share",
            "NOVA 4 energy / energy of foods with a NOVA group (FoodProX/GroceryDB labels, "
            "Menichetti 2023, doi:10.1038/s41467-023-37457-1)"
            + (
                f"; {s['nova_coverage_pct']:.0f}% of energy had a NOVA group"
                if s.get("nova_coverage_pct") == s.get("nova_coverage_pct")
                else ""
            ),
        ),
        ("PSS-10", "Cohen 1983 (doi:10.2307/2136404), items 4, 5, 7, 8 reversed; " + PSS10_BAND_CAVEAT),
        (
            "rules",
            "gutaxis/data/recommendations.tsv: each rule has an evidence grade, a citation, its population, "
            "trigger and contraindications",
        ),
        (
            "diary patterns",
            "N-of-1 analysis with lag windows 0-48 h, at least 7 days with and without a factor, "
            "Benjamini-Hochberg FDR 5%",
        ),
        ("gutaxis version", __version__),
        ("made (UTC)", now),
    ]
    return {
        "title": f"Diet, stress and gut plan — {p.id}",
        "person": p,
        "person_line": p.describe(),
        "period": period,
        "synthetic": p.synthetic,
        "disclaimer": DISCLAIMER,
        "cards": cards,
        "scores": _score_rows(plan, gated=gated),
        "suggestions": sugg,
        "limits": limits,
        "withheld": withheld,
        "not_evaluated": not_evaluated,
        "not_judged": not_judged,
        "coverage": cov,
        "not_judged_text": NOT_JUDGED,
        "to_fix": _to_fix_rows(_to_fix_frame(a)),
        "assumed": _assumed_rows(_assumed_frame(a)),
        "nutrients": _nutrient_rows(_nutrients_frame(a)),
        "top_foods": _top_food_blocks(_top_foods(a)),
        "medications": _medications(p),
        "person_notes": _cell(getattr(p, "notes", "")),
        "weekly": weekly,
        "insights": insights,
        "quality": quality,
        "gut": gut,
        "effect": effect,
        "grades": GRADES,
        "grade_colors": _GRADE_COLOR,
        "methods": methods,
        "notes": plan.notes,
        "files": files,
        "version": __version__,
        "generated_at": now,
        "n_suggestions": len(sugg),
    }
