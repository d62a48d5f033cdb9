"""The plan's reports: the person's HTML report, a dietitian summary (HTML and PDF), CSV exports.

:func:`write_plan_reports` writes into one folder:

* ``plan.html`` — the person's report: the plan (each suggestion graded and cited, why it was
  chosen, cautions), what was withheld and why, what the evidence does not support, the simulated
  effect on the twin with its band (or "simulated effect not available"), plots of the weeks
  logged, diary patterns (N-of-1) and the gut profile.
* ``dietitian_summary.html`` and ``dietitian_summary.pdf`` — a compact summary for the clinician
  or registered dietitian: person, data quality, scores against targets, weekly table, plan table
  with grades and citations, withheld and not-supported items, diary patterns, simulated effect,
  plots of the weeks logged.
* CSV exports of everything logged (``logged_meals.csv`` with the matched USDA item and the
  nutrients of each entry, ``logged_stress.csv``, ``logged_symptoms.csv``), ``daily_scores.csv``,
  ``weekly_scores.csv``, ``recommendations.csv``, ``insights.csv``, ``simulated_effect.csv`` and
  ``plan.json``.

The HTML files are self-contained (inline CSS, script and SVG; a content-security policy forbids
anything external). The PDF is drawn natively with matplotlib (``PdfPages``; fonts embedded): it
needs no browser, no system library and no extra Python package.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .plan import DISCLAIMER, GRADES, NOT_AVAILABLE, Plan

__all__ = ["write_plan_reports", "weeks_figure", "effect_figure", "REPORT_FILES"]

REPORT_FILES = {
    "plan.html": "the person's report (self-contained HTML; opens offline)",
    "dietitian_summary.html": "summary for the clinician or registered dietitian (HTML)",
    "dietitian_summary.pdf": "the same summary as a PDF",
    "logged_meals.csv": "every meal entry: the text, the USDA item matched, grams, match status and nutrients",
    "logged_stress.csv": "every stress entry: ratings, practice minutes, PSS-10 answers and totals",
    "logged_symptoms.csv": "every symptom entry: ratings, Bristol types, onset times, notes",
    "daily_scores.csv": "diet and stress scores per day",
    "weekly_scores.csv": "diet and stress scores per week (weeks start on Monday)",
    "recommendations.csv": "every recommendation shown or withheld, with grade, citation and why",
    "insights.csv": "every diary comparison (factor x symptom x lag) with effect sizes, p and q",
    "simulated_effect.csv": "simulated effect on the twin: usual vs plan with 5-95% bands",
    "plan.json": "the plan and every score, with provenance",
}
_INK, _MUTED, _GRID = "#1f2933", "#52606d", "#d9e2ec"
_BLUE, _ORANGE, _GREEN, _PINK, _YELLOW, _SKY = "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"
_GRADE_COLOR = {"A": "#1b7a52", "B": "#0b5394", "C": "#8a5a00", "G": "#5b3f8c"}


# --------------------------------------------------------------------------- figures (shared by HTML and PDF)
def _draw_weeks(fig, plan: Plan, rect=(0.0, 0.0, 1.0, 1.0), *, fontsize: float = 9.0) -> list:
    """Small multiples of the weeks logged, drawn into ``rect`` (figure fraction) of ``fig``."""
    import matplotlib.dates as mdates

    a = plan.assessment
    d = a.daily.copy()
    d.index = pd.to_datetime(d.index)
    sym = None
    if plan.person.symptoms is not None and len(plan.person.symptoms):
        from .symptoms import daily_symptoms

        sym = daily_symptoms(plan.person.symptoms)
        sym.index = pd.to_datetime(sym.index)
    panels = ["fiber", "fermented", "upf", "sugar_fat", "inflammatory", "stress"]
    if sym is not None and len(sym):
        panels.append("symptoms")
        if "bristol_mean" in sym:
            panels.append("bristol")
    ncol = 2
    nrow = int(math.ceil(len(panels) / ncol))
    left, bottom, width, height = rect
    gs = fig.add_gridspec(nrow, ncol, left=left + 0.06 * width, right=left + 0.95 * width,
                          bottom=bottom + 0.06 * height, top=bottom + 0.95 * height, hspace=0.75, wspace=0.3)
    axes = []
    x = d.index
    s = plan.scores

    def style(ax, title, ylabel=""):
        ax.set_title(title, loc="left", fontsize=fontsize + 0.5, fontweight="bold", color=_INK)
        ax.set_ylabel(ylabel, fontsize=fontsize - 0.5, color=_MUTED)
        ax.tick_params(labelsize=fontsize - 1, colors=_MUTED)
        ax.grid(axis="y", color=_GRID, linewidth=0.6)
        ax.set_axisbelow(True)
        for sp in ("top", "right"):
            ax.spines[sp].set_visible(False)
        for sp in ("left", "bottom"):
            ax.spines[sp].set_color(_MUTED)
        ax.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=0))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))

    for i, name in enumerate(panels):
        ax = fig.add_subplot(gs[i // ncol, i % ncol])
        axes.append(ax)
        if name == "fiber":
            ax.bar(x, d["fiber_g"], width=0.8, color=_GREEN, alpha=0.85, label="fiber")
            tgt = s.get("fiber_target_g")
            if tgt == tgt:
                ax.axhline(tgt, color=_INK, linestyle="--", linewidth=1.1)
                ax.text(x[0], tgt, f" target {tgt:.0f} g", va="bottom", ha="left", fontsize=fontsize - 1.5, color=_INK)
            style(ax, "Fiber (g/day)")
        elif name == "fermented":
            ax.bar(x, d["fermented_servings"], width=0.8, color=_PINK, label="live cultures")
            style(ax, "Fermented foods with live cultures (servings/day)")
        elif name == "upf":
            ax.bar(x, 100 * d["upf_energy_share"], width=0.8, color=_ORANGE, alpha=0.85)
            ax.set_ylim(0, 100)
            style(ax, "Ultra-processed (NOVA 4) share of energy (%)")
        elif name == "sugar_fat":
            ax.plot(x, d["sugar_pct_energy"], color=_BLUE, marker="o", markersize=2.5, linewidth=1.3,
                    label="sugars (total)")
            ax.plot(x, d["sat_fat_pct_energy"], color=_YELLOW, marker="s", markersize=2.5, linewidth=1.3,
                    label="saturated fat")
            ax.axhline(10, color=_INK, linestyle="--", linewidth=1.1)
            ax.text(x[-1], 10, "10% (WHO) ", va="top", ha="right", fontsize=fontsize - 1.5, color=_INK)
            ax.legend(fontsize=fontsize - 1.5, frameon=False, loc="upper right", ncol=2)
            ax.set_ylim(bottom=0)
            style(ax, "Sugars and saturated fat (% energy)")
        elif name == "inflammatory":
            v = d["inflammatory_score"]
            ax.bar(x, v, width=0.8, color=np.where(v > 0, _ORANGE, _GREEN))
            ax.axhline(0, color=_INK, linewidth=0.9)
            style(ax, "Inflammatory-potential score (DII parameters)")
        elif name == "stress":
            if "stress_rating" in d:
                ax.plot(x, d["stress_rating"], color=_BLUE, marker="o", markersize=2.5, linewidth=1.3, label="stress 0-10")
            ax.set_ylim(0, 10)
            if "practice_min" in d:
                ax2 = ax.twinx()
                ax2.bar(x, d["practice_min"].fillna(0), width=0.8, color=_GREEN, alpha=0.35, label="practice (min)")
                ax2.tick_params(labelsize=fontsize - 1, colors=_MUTED)
                ax2.set_ylabel("min", fontsize=fontsize - 0.5, color=_MUTED)
                for sp in ("top",):
                    ax2.spines[sp].set_visible(False)
                ax.set_zorder(ax2.get_zorder() + 1)
                ax.patch.set_visible(False)
            style(ax, "Stress rating (line) and mind-body practice (bars)")
            ax.set_ylim(0, 10)
            ax.set_yticks(range(0, 11, 2))
            ax.set_yticklabels([str(v) for v in range(0, 11, 2)])
        elif name == "symptoms":
            cols = [c for c in sym.columns if c not in ("bristol_mean", "bristol_n")]
            colors = [_ORANGE, _BLUE, _PINK, _GREEN, _YELLOW, _SKY]
            for k, c in enumerate(cols[:6]):
                ax.plot(sym.index, sym[c], color=colors[k % len(colors)], linewidth=1.3, marker="o", markersize=2.2,
                        label=c)
            ax.set_ylim(0, 10)
            ax.legend(fontsize=fontsize - 1.5, frameon=False, loc="upper right", ncol=min(3, len(cols)))
            style(ax, "Symptoms (worst rating of the day, 0-10)")
        elif name == "bristol":
            ax.axhspan(2.5, 4.5, color=_GREEN, alpha=0.10, linewidth=0)
            ax.plot(sym.index, sym["bristol_mean"], color=_INK, marker="o", markersize=3, linewidth=0.9)
            ax.set_ylim(0.5, 7.5)
            ax.set_yticks(range(1, 8))
            style(ax, "Bristol stool type (3-4 shaded: usual range)")
        ax.set_xlim(x.min() - pd.Timedelta(hours=18), x.max() + pd.Timedelta(hours=18))
    return axes


def _new_figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _rc():
    import matplotlib

    return matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "gutaxis-plan", "font.family": "sans-serif",
                                  "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
                                  "pdf.fonttype": 42, "axes.titlecolor": _INK})


def weeks_figure(plan: Plan):
    """Inline-SVG :class:`gutaxis.report.figures.Figure` of the weeks logged."""
    from ..report.figures import Figure, _to_svg

    a = plan.assessment
    n = 7 + int(plan.person.symptoms is not None and len(plan.person.symptoms) > 0)
    nrow = int(math.ceil(n / 2))
    with _rc():
        fig = _new_figure((10.5, 2.35 * nrow + 0.3))
        _draw_weeks(fig, plan)
    d = a.daily
    alt = (f"Small multiples of the {len(d)} days logged: fiber per day (mean {plan.scores['fiber_g_per_day']:.1f} g "
           f"against a target of {plan.scores['fiber_target_g']:.0f} g), fermented servings, ultra-processed share of "
           "energy, sugars and saturated fat as % energy against 10%, inflammatory-potential score, stress ratings and "
           "practice minutes, symptoms and Bristol stool types.")
    return Figure(_to_svg(fig, alt, "weeks"), alt,
                  "One bar or point per day logged. Dashed lines: targets (fiber Adequate Intake; WHO 10% of energy).")


def _draw_effect(fig, plan: Plan, rect=(0.0, 0.0, 1.0, 1.0), *, fontsize: float = 9.0) -> None:
    eff = plan.effect
    table = eff.summary
    n = len(table)
    ncol = 3
    nrow = int(math.ceil(n / ncol))
    left, bottom, width, height = rect
    gs = fig.add_gridspec(nrow, ncol, left=left + 0.07 * width, right=left + 0.98 * width,
                          bottom=bottom + 0.10 * height, top=bottom + 0.90 * height, hspace=0.65, wspace=0.35)
    for i, (e, row) in enumerate(table.iterrows()):
        ax = fig.add_subplot(gs[i // ncol, i % ncol])
        b = eff.bands[e]
        days = b.index.to_numpy(dtype=float)
        ax.fill_between(days, b["usual_p05"], b["usual_p95"], color=_MUTED, alpha=0.18, linewidth=0)
        ax.plot(days, b["usual_median"], color=_MUTED, linewidth=1.4, label="as logged")
        ax.fill_between(days, b["plan_p05"], b["plan_p95"], color=_BLUE, alpha=0.22, linewidth=0)
        ax.plot(days, b["plan_median"], color=_BLUE, linewidth=1.8, label="with the plan")
        ax.set_title(f"{row['label']}", loc="left", fontsize=fontsize + 0.3, fontweight="bold", color=_INK)
        unit = {"effective number of taxa": "taxa (effective)", "mM (faecal)": "mM"}.get(str(row["unit"]), str(row["unit"]))
        ax.set_ylabel(unit[:18], fontsize=fontsize - 1, color=_MUTED)
        ax.set_xlabel("days", fontsize=fontsize - 1, color=_MUTED)
        ax.tick_params(labelsize=fontsize - 1.5, colors=_MUTED)
        ax.grid(axis="y", color=_GRID, linewidth=0.6)
        for sp in ("top", "right"):
            ax.spines[sp].set_visible(False)
        if i == 0:
            ax.legend(fontsize=fontsize - 1.5, frameon=False, loc="best")


def effect_figure(plan: Plan):
    """Inline-SVG figure of the simulated trajectories (usual vs plan, median and 5-95% band), or None."""
    from ..report.figures import Figure, _to_svg

    eff = plan.effect
    if eff is None or not eff.available or eff.summary is None or not len(eff.summary):
        return None
    nrow = int(math.ceil(len(eff.summary) / 3))
    with _rc():
        fig = _new_figure((10.5, 2.7 * nrow + 0.4))
        _draw_effect(fig, plan)
    parts = [f"{r['label']}: effect {_sig(r['effect_median'], 2, True)} ({_sig(r['effect_p05'], 2, True)} to "
             f"{_sig(r['effect_p95'], 2, True)}) {r['unit']}"
             for _, r in eff.summary.iterrows()]
    alt = (f"Simulated trajectories over {eff.days} days, as logged (grey) and with the plan (blue), median and 5-95% "
           "band among the model patients. " + "; ".join(parts) + ".")
    return Figure(_to_svg(fig, alt, "effect"), alt,
                  "Lines: median; shaded: 5th-95th percentile among the model patients that match the person's data. "
                  "Not a prediction interval.")


# --------------------------------------------------------------------------- context for the templates
def _citation_links(text: str) -> list[dict]:
    """Split ``"Author. Journal 2019;393:434-45 doi:...; Other ..."`` into references (on "; "), each
    linked to its DOI, else its PubMed ID, else its URL."""
    import re

    out = []
    for part in [x.strip() for x in re.split(r";\s+", str(text or "")) if x.strip()]:
        href = None
        m = re.search(r"doi:\s*(10\.\d{4,9}/\S+?)(?=[\s;,]|$)", part, re.I)
        if m:
            href = "https://doi.org/" + m.group(1).rstrip(".")
        else:
            m = re.search(r"PMID:?\s*(\d{6,9})", part)
            if m:
                href = f"https://pubmed.ncbi.nlm.nih.gov/{m.group(1)}/"
            else:
                m = re.search(r"https?://\S+", part)
                if m:
                    href = m.group(0).rstrip(".,;")
        out.append({"text": part, "href": href})
    return out


def _sig(x: float, digits: int = 2, sign: bool = False) -> str:
    """A number with about ``digits`` significant digits, never in exponent notation."""
    if x is None or not math.isfinite(float(x)):
        return "—"
    x = float(x)
    if abs(x) < 0.5 * 10 ** (-3):
        return "0"
    mag = int(math.floor(math.log10(abs(x))))
    nd = max(0, digits - 1 - mag)
    s = f"{round(x, nd):{'+' if sign else ''},.{nd}f}"
    return s


def _v(x, nd=1, pct=False) -> str:
    if x is None:
        return "—"
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "—"
    if pct:
        return f"{100 * x:.2f}"
    return f"{x:,.{nd}f}"


def _score_rows(plan: Plan) -> list[dict]:
    t = plan.score_table()
    rows = []
    nd = {"fermented_servings_per_day": 2, "inflammatory_score": 2, "GMHI": 2, "shannon": 2, "pss10": 0,
          "energy_kcal_per_day": 0, "richness": 0, "practice_min_per_week": 0}
    for r in t.itertuples(index=False):
        panel = r.score in ("bifidobacterium", "lactobacillus_group", "butyrate_producers")
        rows.append({"key": r.score, "label": r.label, "value": _v(r.value, nd.get(r.score, 1), pct=panel),
                     "raw": None if not isinstance(r.value, (int, float)) or not math.isfinite(float(r.value)) else float(r.value),
                     "unit": r.unit, "target": r.target, "status": r.status,
                     "cls": {"meets target": "ok", "below target": "warn", "above target": "warn"}.get(r.status, "")})
    return rows


def _effect_rows(plan: Plan) -> list[dict]:
    eff = plan.effect
    if eff is None or not eff.available or eff.summary is None:
        return []
    rows = []
    for e, r in eff.summary.iterrows():
        rows.append({"endpoint": e, "label": r["label"], "unit": r["unit"],
                     "usual": f"{_sig(r['usual_median'], 3)} ({_sig(r['usual_p05'], 3)} to {_sig(r['usual_p95'], 3)})",
                     "plan": f"{_sig(r['plan_median'], 3)} ({_sig(r['plan_p05'], 3)} to {_sig(r['plan_p95'], 3)})",
                     "effect": f"{_sig(r['effect_median'], 2, True)} ({_sig(r['effect_p05'], 2, True)} to "
                               f"{_sig(r['effect_p95'], 2, True)})"})
    return rows


def _alone_text(plan: Plan, sid: str) -> str:
    eff = plan.effect
    if eff is None or not eff.available or sid not in eff.per_suggestion:
        return ""
    labels = {"il6": ("IL-6", "pg/mL"), "crp": ("CRP", "mg/L"), "diversity": ("diversity", "taxa"),
              "butyrate": ("butyrate", "mM"), "disease_activity": ("disease activity", ""),
              "permeability": ("permeability", "L/M")}
    parts = []
    for e in ("diversity", "butyrate", "il6", "crp", "disease_activity"):
        if e in eff.per_suggestion[sid]:
            m, lo, hi = eff.per_suggestion[sid][e]
            lab, unit = labels[e]
            if max(abs(m), abs(lo), abs(hi)) < 5e-4:
                parts.append(f"{lab}: no change")
                continue
            parts.append(f"{lab} {_sig(m, 2, True)} ({_sig(lo, 2, True)} to {_sig(hi, 2, True)}){(' ' + unit) if unit else ''}")
    return f"Simulated effect of this step alone after {eff.days // 7} weeks (median, 5-95% band): " + "; ".join(parts) + "."


def _context(plan: Plan, *, now: str, files: list[dict]) -> dict:
    from .. import __version__
    from .dii import N_PARAMETERS, SCORE_LABEL
    from .stress import PSS10_BAND_CAVEAT

    p, a, s = plan.person, plan.assessment, plan.scores
    d = a.daily
    start, end = pd.to_datetime(d.index.min()), pd.to_datetime(d.index.max())
    period = f"{start:%d %b %Y} to {end:%d %b %Y}"
    sugg = []
    for sg in plan.suggestions:
        sugg.append({"id": sg.id, "title": sg.title, "text": sg.text, "grade": sg.grade, "grade_meaning": sg.grade_meaning,
                     "why": sg.why, "target": sg.target, "effect": sg.effect_summary, "cautions": sg.cautions,
                     "citations": _citation_links(sg.citation), "citation": sg.citation, "discuss": sg.discuss,
                     "population": sg.population, "alone": _alone_text(plan, sg.id)})
    limits = [{"id": x.id, "title": x.title, "text": x.text, "grade": x.grade, "grade_meaning": x.grade_meaning,
               "citations": _citation_links(x.citation), "citation": x.citation, "effect": x.effect_summary}
              for x in plan.limits]
    withheld = [{"id": w.id, "title": w.title, "reason": w.reason, "grade": w.grade,
                 "citations": _citation_links(w.citation), "citation": w.citation,
                 "contra_citations": _citation_links(w.contraindication_citation),
                 "contra_citation": w.contraindication_citation} for w in plan.withheld]
    weekly = []
    w = a.weekly
    for ws, r in w.iterrows():
        weekly.append({"week": f"{pd.Timestamp(ws):%d %b}", "days": int(r["days_logged"]),
                       "energy": _v(r.get("energy_kcal"), 0), "fiber": _v(r.get("fiber_g")),
                       "fermented": _v(r.get("fermented_servings_total"), 1),
                       "upf": _v(100 * r["upf_energy_share"] if pd.notna(r.get("upf_energy_share")) else None, 0),
                       "sugar": _v(r.get("sugar_pct_energy")), "satfat": _v(r.get("sat_fat_pct_energy")),
                       "dii": _v(r.get("inflammatory_score"), 2), "stress": _v(r.get("stress_rating")),
                       "practice": _v(r.get("practice_min_total"), 0), "pss10": _v(r.get("pss10"), 0)})
    ins = a.insights
    insights = None
    if ins is not None:
        sig = ins.significant
        insights = {"statement": ins.statement, "findings": ins.findings, "n_tests": len(ins.table),
                    "rows": [{"factor": r.factor, "symptom": r.symptom, "lag": r.lag, "with": r.n_days_with,
                              "without": r.n_days_without, "diff": f"{r.mean_diff:+.1f}", "g": f"{r.hedges_g:.2f}",
                              "q": f"{r.q_value:.3g}"} for r in sig.itertuples(index=False)]}
    items = a.items
    n_entries = len(items)
    status_counts = items["match_status"].value_counts().to_dict()
    quality = {"days": int(s.get("days_logged", 0)), "entries": n_entries,
               "matched": int(status_counts.get("matched", 0) + status_counts.get("given", 0)),
               "low_confidence": int(status_counts.get("low_confidence", 0)),
               "unmatched": int(status_counts.get("unmatched", 0) + status_counts.get("unknown_ndb", 0)),
               "left_out": int(d["n_left_out"].sum()) if "n_left_out" in d else 0,
               "stress_entries": 0 if p.stress is None else len(p.stress),
               "symptom_entries": 0 if p.symptoms is None else len(p.symptoms)}
    gut = []
    if a.indices is not None:
        row = a.indices.iloc[0]
        for k, lab, kind in (("GMHI", "GMHI (Gut Microbiome Health Index)", "index"),
                             ("shannon", "Shannon diversity", "index"), ("richness", "Richness (taxa)", "int"),
                             ("bifidobacterium", "Bifidobacterium", "pct"),
                             ("lactobacillus_group", "Lactobacillus group", "pct"),
                             ("butyrate_producers", "Butyrate producers", "pct"),
                             ("faecalibacterium_prausnitzii", "Faecalibacterium prausnitzii", "pct"),
                             ("akkermansia_muciniphila", "Akkermansia muciniphila", "pct"),
                             ("enterobacteriaceae", "Enterobacteriaceae", "pct")):
            if k in row.index:
                val = row[k]
                gut.append({"label": lab, "value": _v(val, 2 if kind == "index" else 0, pct=kind == "pct")
                            + (" %" if kind == "pct" else ""),
                            "pct": _v(s.get(f"pct_{k}"), 0) if f"pct_{k}" in s else "—"})
    eff = plan.effect
    effect = {"available": bool(eff is not None and eff.available),
              "message": eff.message if eff is not None else NOT_AVAILABLE,
              "rows": _effect_rows(plan), "assumptions": [] if eff is None else eff.assumptions,
              "caveats": [] if eff is None else eff.caveats, "days": 0 if eff is None else eff.days,
              "usual_inputs": {} if eff is None else eff.usual_inputs,
              "plan_inputs": {} if eff is None else eff.plan_inputs}
    cards = []
    for key, label, nd, unit in (("fiber_g_per_day", "Fiber", 1, "g/day"),
                                 ("fermented_servings_per_day", "Fermented (live)", 2, "servings/day"),
                                 ("upf_energy_share_pct", "Ultra-processed", 0, "% of energy"),
                                 ("sugar_pct_energy", "Sugars", 0, "% of energy"),
                                 ("sat_fat_pct_energy", "Saturated fat", 1, "% of energy"),
                                 ("inflammatory_score", "Inflammatory potential", 2, "DII parameters"),
                                 ("pss10", "PSS-10", 0, "latest, 0-40"), ("GMHI", "GMHI", 2, "gut profile")):
        if key in s:
            sub = unit
            if key == "fiber_g_per_day":
                sub = f"g/day · target {s['fiber_target_g']:.0f}"
            cards.append({"label": label, "value": _v(s.get(key), nd), "sub": sub})
    methods = [
        ("food table", a.foods_note or "—"),
        ("sugars", "total sugars used as a proxy for free sugars (USDA SR28 has no added-sugar values); it overstates "
                   "free sugars"),
        ("inflammatory potential", f"{SCORE_LABEL}; {int(s.get('inflammatory_n_parameters', 0))} of {N_PARAMETERS} "
                                   "parameters available from the food table"),
        ("ultra-processed share", "NOVA 4 energy / energy of foods with a NOVA group (FoodProX/GroceryDB labels, "
                                  "Menichetti 2023, doi:10.1038/s41467-023-37457-1)"
                                  + (f"; {s['nova_coverage_pct']:.0f}% of energy had a NOVA group"
                                     if s.get("nova_coverage_pct") == s.get("nova_coverage_pct") else "")),
        ("PSS-10", "Cohen 1983 (doi:10.2307/2136404), items 4, 5, 7, 8 reversed; " + PSS10_BAND_CAVEAT),
        ("rules", "gutaxis/data/recommendations.tsv: each rule has an evidence grade, a citation, its population, "
                  "trigger and contraindications"),
        ("diary patterns", "N-of-1 analysis with lag windows 0-48 h, at least 7 days with and without a factor, "
                           "Benjamini-Hochberg FDR 5%"),
        ("gutaxis version", __version__), ("made (UTC)", now),
    ]
    return {
        "title": f"Diet, stress and gut plan — {p.id}", "person": p, "person_line": p.describe(), "period": period,
        "synthetic": p.synthetic, "disclaimer": DISCLAIMER, "cards": cards, "scores": _score_rows(plan),
        "suggestions": sugg, "limits": limits, "withheld": withheld, "not_evaluated": plan.not_evaluated,
        "weekly": weekly, "insights": insights, "quality": quality, "gut": gut, "effect": effect,
        "grades": GRADES, "grade_colors": _GRADE_COLOR, "methods": methods, "notes": plan.notes, "files": files,
        "version": __version__, "generated_at": now, "n_suggestions": len(sugg),
    }


def _render(template: str, **context) -> str:
    from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

    env = Environment(loader=ChoiceLoader([PackageLoader("gutaxis.lifestyle", "templates"),
                                           PackageLoader("gutaxis.report", "templates")]),
                      autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    return env.get_template(template).render(**context)


# --------------------------------------------------------------------------- PDF (matplotlib, native)
class _Pdf:
    """A small flowing layout on A4 pages drawn with matplotlib: headings, wrapped paragraphs,
    tables with wrapped cells, figures; page numbers at the end."""

    W, H = 8.27, 11.69  # inches (A4)
    ML, MR, MT, MB = 0.6, 0.6, 0.65, 0.7

    def __init__(self, title: str, footer: str, banner: str | None = None):
        self.title, self.footer, self.banner = title, footer, banner
        self.pages: list = []
        self.fig = None
        self.y = 0.0
        self.new_page()

    # geometry helpers (inches from the top of the page)
    @property
    def width(self) -> float:
        return self.W - self.ML - self.MR

    def _fy(self, y_in: float) -> float:
        return 1.0 - y_in / self.H

    def _fx(self, x_in: float) -> float:
        return x_in / self.W

    def new_page(self) -> None:
        fig = _new_figure((self.W, self.H))
        self.pages.append(fig)
        self.fig = fig
        self.y = self.MT
        # running header
        fig.text(self._fx(self.ML), self._fy(0.38), self.title, fontsize=8, color=_MUTED)
        if self.banner:
            fig.text(self._fx(self.W - self.MR), self._fy(0.38), self.banner, fontsize=8, color="#7a1f5c",
                     ha="right", fontweight="bold")
        fig.add_artist(_line(self, 0.45))

    def ensure(self, h: float) -> None:
        if self.y + h > self.H - self.MB:
            self.new_page()

    @staticmethod
    def _chars(width_in: float, size: float, bold: bool = False) -> int:
        # DejaVu Sans: average glyph advance about 0.55 em (bold about 0.62 em)
        return max(8, int(width_in * 72.0 / ((0.62 if bold else 0.56) * size)))

    def wrap(self, text: str, width_in: float, size: float, bold: bool = False) -> list[str]:
        out = []
        for para in str(text).split("\n"):
            out.extend(textwrap.wrap(para, self._chars(width_in, size, bold), break_long_words=True,
                                     break_on_hyphens=False) or [""])
        return out

    def heading(self, text: str, size: float = 13, color: str = _INK, space: float = 0.18) -> None:
        self.ensure(space + size / 72 * 1.6 + 0.5)
        self.y += space
        self.fig.text(self._fx(self.ML), self._fy(self.y + size / 72), text, fontsize=size, fontweight="bold", color=color)
        self.y += size / 72 * 1.45
        self.fig.add_artist(_line(self, self.y, color=_GRID, lw=1.0))
        self.y += 0.08

    def para(self, text: str, size: float = 9, color: str = _INK, bold: bool = False, indent: float = 0.0,
             box: str | None = None, edge: str | None = None, space_after: float = 0.08) -> None:
        width = self.width - indent - (0.25 if box else 0)
        lines = self.wrap(text, width, size, bold)
        lh = size / 72 * 1.32
        h = len(lines) * lh + (0.16 if box else 0)
        if h > self.H - self.MT - self.MB:  # longer than a page: split
            half = len(lines) // 2
            self.para(" ".join(lines[:half]), size, color, bold, indent, box, edge, space_after)
            self.para(" ".join(lines[half:]), size, color, bold, indent, box, edge, space_after)
            return
        self.ensure(h)
        x0 = self.ML + indent
        if box:
            from matplotlib.patches import Rectangle

            self.fig.add_artist(Rectangle((self._fx(x0), self._fy(self.y + h)), (self.width - indent) / self.W, h / self.H,
                                          transform=self.fig.transFigure, facecolor=box, edgecolor="none"))
            if edge:
                self.fig.add_artist(Rectangle((self._fx(x0), self._fy(self.y + h)), 0.06 / self.W, h / self.H,
                                              transform=self.fig.transFigure, facecolor=edge, edgecolor="none"))
            x0 += 0.14
            self.y += 0.08
        for ln in lines:
            self.fig.text(self._fx(x0), self._fy(self.y + lh * 0.8), ln, fontsize=size, color=color,
                          fontweight="bold" if bold else "normal")
            self.y += lh
        if box:
            self.y += 0.08
        self.y += space_after

    def table(self, header: list[str], rows: list[list[str]], widths: list[float], *, size: float = 7.8,
              align: list[str] | None = None, colors: list[list[str | None]] | None = None) -> None:
        from matplotlib.patches import Rectangle

        align = align or ["left"] * len(header)
        total = sum(widths)
        cols_in = [w / total * self.width for w in widths]
        lh = size / 72 * 1.3
        pad = 0.05

        def draw_row(cells, bold=False, fill=None, cell_colors=None):
            wrapped = [self.wrap(c, cw - 2 * pad, size, bold) for c, cw in zip(cells, cols_in)]
            h = max(len(w) for w in wrapped) * lh + 2 * pad
            if self.y + h > self.H - self.MB:
                self.new_page()
                if not bold:
                    draw_row(header, bold=True, fill="#eef2f6")
            if fill:
                self.fig.add_artist(Rectangle((self._fx(self.ML), self._fy(self.y + h)), self.width / self.W, h / self.H,
                                              transform=self.fig.transFigure, facecolor=fill, edgecolor="none"))
            x = self.ML
            for k, (lines, cw) in enumerate(zip(wrapped, cols_in)):
                col = (cell_colors[k] if cell_colors and cell_colors[k] else _INK)
                for j, ln in enumerate(lines):
                    xx = x + pad if align[k] == "left" else x + cw - pad
                    self.fig.text(self._fx(xx), self._fy(self.y + pad + lh * (j + 0.8)), ln, fontsize=size, color=col,
                                  ha="left" if align[k] == "left" else "right",
                                  fontweight="bold" if bold else "normal")
                x += cw
            self.y += h
            self.fig.add_artist(_line(self, self.y, color=_GRID, lw=0.5))

        self.ensure(lh * 3)
        draw_row(header, bold=True, fill="#eef2f6")
        for i, r in enumerate(rows):
            draw_row(r, fill="#fafbfc" if i % 2 else None, cell_colors=colors[i] if colors else None)
        self.y += 0.12

    def figure(self, draw: Callable, height: float) -> None:
        self.ensure(height)
        rect = (self._fx(self.ML), self._fy(self.y + height), self.width / self.W, height / self.H)
        draw(self.fig, rect)
        self.y += height + 0.05

    def save(self, path: Path) -> None:
        from matplotlib.backends.backend_pdf import PdfPages

        n = len(self.pages)
        with PdfPages(path, metadata={"Title": self.title, "Author": "gutaxis", "Subject": DISCLAIMER,
                                      "Creator": "gutaxis (matplotlib PdfPages)", "CreationDate": None}) as pdf:
            for i, fig in enumerate(self.pages, start=1):
                fig.add_artist(_line(self, self.H - self.MB + 0.2, color=_GRID, lw=0.6))
                fig.text(self._fx(self.ML), self._fy(self.H - self.MB + 0.38), self.footer, fontsize=7, color=_MUTED)
                fig.text(self._fx(self.W - self.MR), self._fy(self.H - self.MB + 0.38), f"page {i} of {n}",
                         fontsize=7, color=_MUTED, ha="right")
                pdf.savefig(fig)


def _line(pdf: _Pdf, y_in: float, color: str = _GRID, lw: float = 0.8):
    from matplotlib.lines import Line2D

    return Line2D([pdf._fx(pdf.ML), pdf._fx(pdf.W - pdf.MR)], [pdf._fy(y_in)] * 2, color=color, linewidth=lw)


def _write_pdf(plan: Plan, ctx: dict, path: Path) -> None:
    p = plan.person
    with _rc():
        pdf = _Pdf(f"Dietitian summary — {p.id}", f"gutaxis {ctx['version']} · {ctx['generated_at']} · " + DISCLAIMER[:95],
                   banner="SYNTHETIC EXAMPLE — not a real person" if p.synthetic else None)
        pdf.heading(f"Dietitian summary — {p.id}", size=17, space=0.0)
        pdf.para(f"{ctx['person_line']} · logged {ctx['period']}", size=9.5, color=_MUTED)
        if p.synthetic:
            pdf.para("SYNTHETIC DATA: this example person is invented (made by a seeded script); the numbers illustrate "
                     "the report and describe no real person.", size=8.5, box="#f9ecf4", edge="#7a1f5c", bold=True)
        pdf.para(DISCLAIMER, size=9, box="#eaf2fb", edge="#0b5394", bold=True)
        q = ctx["quality"]
        pdf.para(f"Data: {q['days']} days with meals, {q['entries']} food entries ({q['matched']} matched, "
                 f"{q['low_confidence']} low-confidence, {q['unmatched']} unmatched; {q['left_out']} left out of the "
                 f"scores), {q['stress_entries']} stress and {q['symptom_entries']} symptom entries. Food table: "
                 f"{plan.assessment.foods_note}", size=8.3, color=_MUTED)
        pdf.heading("Scores against targets (whole period)", size=12)
        rows, colors = [], []
        for r in ctx["scores"]:
            rows.append([r["label"], f"{r['value']} {r['unit']}".strip(), r["target"], r["status"]])
            colors.append([None, None, None, {"ok": "#1b7a52", "warn": "#a14a00"}.get(r["cls"])])
        pdf.table(["Score", "Value", "Target", "Status"], rows, [3.2, 1.5, 3.6, 1.2], align=["left", "right", "left", "left"],
                  colors=colors)
        pdf.heading("Suggestions for discussion", size=12)
        rows, colors = [], []
        for sg in ctx["suggestions"]:
            caution = (" Caution: " + " ".join(sg["cautions"])) if sg["cautions"] else ""
            rows.append([sg["title"], sg["grade"], sg["why"] + caution, sg["citation"]])
            colors.append([None, _GRADE_COLOR[sg["grade"]], None, _MUTED])
        pdf.table(["Suggestion", "Grade", "Why for this person", "Evidence"], rows, [2.6, 0.55, 3.4, 3.0],
                  colors=colors, size=7.4)
        pdf.para("Grades: " + "; ".join(f"{k} = {v}" for k, v in GRADES.items()) + ".", size=7.4, color=_MUTED)
        if ctx["withheld"]:
            pdf.heading("Withheld (contraindication)", size=12, color="#a14a00")
            for w in ctx["withheld"]:
                pdf.para(f"{w['title']} (grade {w['grade']}) — {w['reason']}", size=8.5, box="#fff4e6", edge="#a14a00")
                pdf.para(f"Evidence: {w['citation']}. Safety: {w['contra_citation']}", size=7.4, color=_MUTED, indent=0.14)
        if ctx["limits"]:
            pdf.heading("What the evidence does not support", size=12)
            for lm in ctx["limits"]:
                pdf.para(f"{lm['title']} (grade {lm['grade']}). {lm['text']}", size=8.3)
                pdf.para(f"Evidence: {lm['citation']}", size=7.2, color=_MUTED, indent=0.14)
        if ctx["not_evaluated"]:
            pdf.para("Not evaluated (missing data): " + "; ".join(f"{n['title']} — {n['reason']}" for n in ctx["not_evaluated"]),
                     size=7.8, color=_MUTED)
        n_pan = 7 + int(p.symptoms is not None and len(p.symptoms) > 0)
        fig_h = 1.5 * math.ceil(n_pan / 2) + 0.2
        pdf.ensure(fig_h + 0.6)
        pdf.heading("Weeks logged", size=12)
        pdf.figure(lambda fig, rect: _draw_weeks(fig, plan, rect, fontsize=6.8), fig_h)
        wk = ctx["weekly"]
        pdf.table(["Week of", "Days", "kcal/d", "Fiber g/d", "Ferm. servings", "UPF %", "Sugars %", "Sat fat %", "DII",
                   "Stress", "Practice min", "PSS-10"],
                  [[w["week"], str(w["days"]), w["energy"], w["fiber"], w["fermented"], w["upf"], w["sugar"], w["satfat"],
                    w["dii"], w["stress"], w["practice"], w["pss10"]] for w in wk],
                  [1.0, 0.6, 0.8, 0.8, 0.9, 0.7, 0.8, 0.8, 0.6, 0.7, 0.9, 0.7], align=["left"] + ["right"] * 11, size=7.4)
        pdf.heading("Diary patterns (N-of-1)", size=12)
        ins = ctx["insights"]
        if ins is None:
            pdf.para("No symptom log, so no diary patterns were looked for.", size=8.5)
        else:
            pdf.para(ins["statement"], size=8.5)
            if ins["rows"]:
                pdf.table(["Factor", "Symptom", "Lag", "Days with/without", "Difference (0-10)", "Hedges g", "q"],
                          [[r["factor"], r["symptom"], r["lag"], f"{r['with']}/{r['without']}", r["diff"], r["g"], r["q"]]
                           for r in ins["rows"]], [3.0, 1.2, 0.9, 1.2, 1.1, 0.8, 0.7],
                          align=["left", "left", "left", "right", "right", "right", "right"], size=7.4)
        pdf.heading("Simulated effect on the person's twin", size=12)
        eff = ctx["effect"]
        pdf.para(eff["message"], size=8.5, bold=not eff["available"])
        if eff["available"]:
            pdf.table(["Endpoint", "Unit", "As logged", "With the plan", "Effect (plan − as logged)"],
                      [[r["label"], r["unit"], r["usual"], r["plan"], r["effect"]] for r in eff["rows"]],
                      [2.3, 1.7, 1.9, 1.9, 2.2], align=["left", "left", "right", "right", "right"], size=7.4)
            pdf.figure(lambda fig, rect: _draw_effect(fig, plan, rect, fontsize=6.8),
                       2.0 * math.ceil(len(eff["rows"]) / 3) + 0.3)
            for c in eff["caveats"]:
                pdf.para("• " + c, size=7.6, color=_MUTED, space_after=0.03)
            pdf.para("Assumed: " + "; ".join(eff["assumptions"]), size=7.4, color=_MUTED)
        if ctx["gut"]:
            pdf.heading("Gut profile", size=12)
            pdf.table(["Index", "Value", "Percentile among healthy"], [[g["label"], g["value"], g["pct"]] for g in ctx["gut"]],
                      [4.0, 2.0, 2.5], align=["left", "right", "right"], size=7.6)
        pdf.heading("Methods and notes", size=12)
        for k, v in ctx["methods"]:
            pdf.para(f"{k}: {v}", size=7.4, color=_MUTED, space_after=0.02)
        for n in ctx["notes"]:
            pdf.para("• " + n, size=7.4, color=_MUTED, space_after=0.02)
        pdf.para(DISCLAIMER, size=8.5, box="#eaf2fb", edge="#0b5394", bold=True)
        pdf.save(path)


# --------------------------------------------------------------------------- main entry point
def _csv(df: pd.DataFrame | None, path: Path) -> bool:
    if df is None:
        return False
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%S").where(out[c].notna(), "")
    out.to_csv(path, index=isinstance(out.index, pd.DatetimeIndex) or out.index.name is not None)
    return True


def write_plan_reports(plan: Plan, out_dir, *, progress: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Write the person's report, the dietitian summary (HTML + PDF) and the CSV exports.

    Returns ``{file name: path}`` of everything written.
    """
    def step(name):
        if progress is not None:
            progress(name)

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("the output path exists and is not a folder", source=out, hint="choose a folder with -o")
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    written: dict[str, Path] = {}
    a, p = plan.assessment, plan.person

    step("exporting the logs (CSV)")
    items = a.items.drop(columns=["candidates"], errors="ignore") if a.items is not None else None
    for name, df in (("logged_meals.csv", items), ("logged_stress.csv", p.stress), ("logged_symptoms.csv", p.symptoms)):
        if df is not None and _csv(df.reset_index(drop=True), out / name):
            written[name] = out / name
    daily = a.daily.copy()
    daily.index = pd.to_datetime(daily.index).strftime("%Y-%m-%d")
    daily.index.name = "date"
    daily.to_csv(out / "daily_scores.csv")
    written["daily_scores.csv"] = out / "daily_scores.csv"
    weekly = a.weekly.copy()
    if len(weekly):
        weekly.index = pd.to_datetime(weekly.index).strftime("%Y-%m-%d")
        weekly.index.name = "week_start"
    weekly.to_csv(out / "weekly_scores.csv")
    written["weekly_scores.csv"] = out / "weekly_scores.csv"
    plan.recommendations_frame().to_csv(out / "recommendations.csv", index=False)
    written["recommendations.csv"] = out / "recommendations.csv"
    if a.insights is not None:
        a.insights.table.to_csv(out / "insights.csv", index=False)
        written["insights.csv"] = out / "insights.csv"
    if plan.effect is not None and plan.effect.available:
        plan.effect.summary.to_csv(out / "simulated_effect.csv")
        written["simulated_effect.csv"] = out / "simulated_effect.csv"
    data = plan.to_dict()
    data["generated_at"] = now
    data["files"] = sorted([*written, "plan.json", "plan.html", "dietitian_summary.html", "dietitian_summary.pdf"])
    from ..report.html import _jsonable

    (out / "plan.json").write_text(json.dumps(_jsonable(data), indent=1, allow_nan=False) + "\n",
                                   encoding="utf-8")
    written["plan.json"] = out / "plan.json"
    files = [{"name": n, "about": REPORT_FILES[n]} for n in REPORT_FILES if n in data["files"]]

    step("figures")
    ctx = _context(plan, now=now, files=files)
    figs = {"weeks": weeks_figure(plan), "effect": effect_figure(plan)}

    step("writing the HTML reports")
    (out / "plan.html").write_text(_render("plan.html.j2", figures=figs, **ctx), encoding="utf-8")
    written["plan.html"] = out / "plan.html"
    (out / "dietitian_summary.html").write_text(_render("dietitian.html.j2", figures=figs, **ctx), encoding="utf-8")
    written["dietitian_summary.html"] = out / "dietitian_summary.html"

    step("writing the PDF summary")
    _write_pdf(plan, ctx, out / "dietitian_summary.pdf")
    written["dietitian_summary.pdf"] = out / "dietitian_summary.pdf"
    return written


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating, float)):
        return float(o) if math.isfinite(float(o)) else None
    if isinstance(o, (pd.Timestamp, datetime)):
        return o.isoformat()
    if isinstance(o, tuple):
        return list(o)
    return str(o)
