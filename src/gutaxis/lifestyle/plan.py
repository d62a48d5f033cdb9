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
from functools import lru_cache

import numpy as np
import pandas as pd

from .._data import package_table
from ..errors import InputError
from .person import CONDITIONS, FLAGS, Person

__all__ = ["recommendations", "assess", "Assessment", "build_plan", "Plan", "Suggestion", "Withheld",
           "simulate_plan_effect", "SimulatedEffect", "evaluate_trigger", "GRADES", "DISCLAIMER",
           "NOT_AVAILABLE", "SCORE_INFO"]

DISCLAIMER = ("This plan informs a conversation with your clinician or registered dietitian; it is not a diagnosis "
              "or a prescription. Do not change your treatment because of it.")
NOT_AVAILABLE = "simulated effect not available"
GRADES = {
    "A": "meta-analysis of randomised trials, or a large randomised trial with a clinical outcome",
    "B": "a single randomised trial, or consistent large cohort studies",
    "C": "small trials, biomarker outcomes or mixed results",
    "G": "guideline or consensus statement",
}
_REC_COLUMNS = ("id", "kind", "title", "text", "population", "condition_tags", "trigger", "target", "effect_summary",
                "grade", "citation", "contraindications", "contraindication_reason", "contraindication_citation",
                "simulated_change", "discuss")
_CITE_RE = re.compile(r"(doi:\s*10\.\d{4,9}/\S+|PMID:?\s*\d{6,9}|ISBN[\s:]*[\d\- X]{10,17}|https?://\S+)", re.I)

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
_PANEL_KEYS = ("bifidobacterium", "lactobacillus_group", "butyrate_producers", "faecalibacterium_prausnitzii",
               "akkermansia_muciniphila", "enterobacteriaceae")


# --------------------------------------------------------------------------- the rules
@lru_cache(maxsize=1)
def _rules() -> pd.DataFrame:
    df = package_table("recommendations.tsv", comment="#", dtype=str, keep_default_na=False)
    _validate_rules(df, "gutaxis/data/recommendations.tsv")
    return df


def _validate_rules(df: pd.DataFrame, src: str) -> None:
    missing = [c for c in _REC_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}", source=src)
    for r in df.itertuples(index=False):
        where = f"rule {r.id!r}"
        if r.kind not in ("suggestion", "limit"):
            raise InputError(f"{where}: kind {r.kind!r} is not suggestion/limit", source=src)
        if r.grade not in GRADES:
            raise InputError(f"{where}: evidence grade {r.grade!r} is not one of A, B, C, G", source=src)
        if not _CITE_RE.search(r.citation or ""):
            raise InputError(f"{where}: the citation has no DOI, PMID, ISBN or URL", source=src)
        if not r.discuss.strip():
            raise InputError(f"{where}: no 'discuss with your clinician' framing", source=src)
        for tag in _split(r.condition_tags):
            if tag != "any" and tag not in CONDITIONS:
                raise InputError(f"{where}: unknown condition tag {tag!r}", source=src)
        for flag, action in _contraindications(r.contraindications):
            if flag not in FLAGS or action not in ("withhold", "caution"):
                raise InputError(f"{where}: contraindication {flag}:{action} is not valid", source=src)
        evaluate_trigger(r.trigger, {}, strict=True)  # syntax only
        for ch in _split(r.simulated_change):
            _parse_change(ch)


def recommendations() -> pd.DataFrame:
    """The recommendation rules (package data), one row per rule, validated on load."""
    return _rules().copy()


def _split(text: str) -> list[str]:
    return [p.strip() for p in str(text or "").split(";") if p.strip()]


def _contraindications(text: str) -> list[tuple[str, str]]:
    out = []
    for part in _split(text):
        flag, _, action = part.partition(":")
        out.append((flag.strip(), action.strip() or "withhold"))
    return out


# --------------------------------------------------------------------------- trigger expressions
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|(<=|>=|==|!=|<|>)|(\()|(\))|([A-Za-z_][A-Za-z0-9_]*))")


def _tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise InputError(f"trigger {expr!r}: cannot read {expr[pos:]!r}", source="recommendations.tsv")
        num, op, lp, rp, name = m.groups()
        if num:
            out.append(("num", num))
        elif op:
            out.append(("op", op))
        elif lp:
            out.append(("(", lp))
        elif rp:
            out.append((")", rp))
        elif name.lower() in ("and", "or"):
            out.append((name.lower(), name))
        else:
            out.append(("name", name))
        pos = m.end()
    return out


def evaluate_trigger(expr: str, scores: dict, *, strict: bool = False):
    """Evaluate a trigger such as ``"fiber_g_per_day < fiber_target_g or GMHI < 0"``.

    Returns ``(value, used, missing)``: ``value`` True/False, or None when a score it needs is
    missing (three-valued logic: ``False and None`` is False, ``True or None`` is True);
    ``used`` the scores read; ``missing`` those without a value. ``"always"`` is True.
    """
    expr = str(expr or "").strip()
    if expr in ("", "always"):
        return True, [], []
    toks = _tokens(expr)
    pos = [0]
    used: list[str] = []
    missing: list[str] = []

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else (None, None)

    def take(kind=None):
        t = peek()
        if t[0] is None or (kind and t[0] != kind):
            raise InputError(f"trigger {expr!r}: expected {kind or 'more'} at token {pos[0] + 1}", source="recommendations.tsv")
        pos[0] += 1
        return t

    def operand():
        kind, v = take()
        if kind == "num":
            return float(v)
        if kind == "name":
            if v not in used:
                used.append(v)
            x = scores.get(v)
            try:
                x = None if x is None else float(x)
            except (TypeError, ValueError):
                x = None
            if x is None or not math.isfinite(x):
                if v not in missing:
                    missing.append(v)
                return None
            return x
        raise InputError(f"trigger {expr!r}: expected a score or a number", source="recommendations.tsv")

    def comparison():
        if peek()[0] == "(":
            take("(")
            v = disjunction()
            take(")")
            return v
        a = operand()
        _, op = take("op")
        b = operand()
        if a is None or b is None:
            return None
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]

    def conjunction():
        vals = [comparison()]
        while peek()[0] == "and":
            take("and")
            vals.append(comparison())
        if any(v is False for v in vals):
            return False
        return None if any(v is None for v in vals) else True

    def disjunction():
        vals = [conjunction()]
        while peek()[0] == "or":
            take("or")
            vals.append(conjunction())
        if any(v is True for v in vals):
            return True
        return None if any(v is None for v in vals) else False

    value = disjunction()
    if pos[0] != len(toks):
        raise InputError(f"trigger {expr!r}: unexpected {toks[pos[0]][1]!r}", source="recommendations.tsv")
    if strict:
        return None, used, missing
    return value, used, missing


def _parse_change(text: str) -> tuple[str, str, str]:
    m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(max|min|mul|set)\s*:\s*([A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?)\s*", text)
    if not m:
        raise InputError(f"simulated_change {text!r} is not 'score=max|min|mul|set:value'", source="recommendations.tsv")
    return m.group(1), m.group(2), m.group(3)


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
        for k in ("GMHI", "shannon", "richness", *_PANEL_KEYS):
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
