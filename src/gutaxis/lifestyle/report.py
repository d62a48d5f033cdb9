"""The plan's reports: the person's HTML report, a dietitian summary (HTML and PDF), CSV exports.

:func:`write_plan_reports` writes into one folder:

* ``plan.html`` — the person's report: the plan (each suggestion graded and cited, why it was
  chosen, cautions), what was withheld and why, what the evidence does not support, the simulated
  effect on the twin with its band (or "simulated effect not available"), plots of the weeks
  logged, diary patterns (N-of-1) and the gut profile.
* ``dietitian_summary.html`` and ``dietitian_summary.pdf`` — a compact summary for the clinician
  or registered dietitian, addressed to them ("the client"): coverage, data quality, scores against
  targets, medications (with the flags they set) and notes, a nutrient table (per day, protein per
  kg, each with its reference and coverage), the foods behind fiber, energy, sugars, saturated fat
  and sodium, every entry to check and every assumed portion in the client's words with row and
  date, weekly table, plan table with grades and citations, withheld and not-supported items, diary
  patterns, simulated effect, plots of the weeks logged.
* CSV exports of everything logged (``logged_meals.csv`` with the matched USDA item and the
  nutrients of each entry, ``logged_stress.csv``, ``logged_symptoms.csv``), the entries to fix and
  the portions assumed (``entries_to_fix.csv``, ``assumed_portions.csv``), ``nutrients.csv``,
  ``top_foods.csv``, ``daily_scores.csv``, ``weekly_scores.csv``, ``recommendations.csv``,
  ``insights.csv``, ``simulated_effect.csv`` and ``plan.json``.

Coverage gate. The reports stand on the assessment's ``coverage`` (how many of the entries, and
about how much of the energy, could be counted). Where it is not ``ok`` the person's page opens
with a banner (``role="alert"``, before any score) that says so in plain words and lists every
entry to fix in the person's own words with the foods offered; the diet scores are shown greyed as
"not judged", no diet rule is headlined (those the plan did not already hold back are named as
waiting), and no simulated effect is shown. Where coverage is ok but incomplete a line near the top
says how much was counted. The dietitian summary (HTML and PDF) leads with the same statement,
addressed to the clinician. An assessment without these fields is still reported: coverage and the
entries to fix are then derived from the match status of the entries.

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
    "entries_to_fix.csv": "every food entry that could not be counted (or only uncertainly): the person's own words, "
                          "what failed, why, and the closest foods",
    "assumed_portions.csv": "entries counted with an assumed portion: the person's words, the food and grams assumed",
    "nutrients.csv": "nutrients per day logged (protein also per kg body weight) with their reference and coverage",
    "top_foods.csv": "the foods behind fiber, energy, sugars, saturated fat and sodium, with their share",
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


# --------------------------------------------------------------------------- coverage, entries to fix, nutrients
#: scores computed from the meal log: judged against targets only when enough of the log was counted
DIET_SCORES = frozenset({"fiber_g_per_day", "fiber_target_g", "fermented_servings_per_day", "upf_energy_share_pct",
                         "sugar_pct_energy", "sat_fat_pct_energy", "inflammatory_score", "energy_kcal_per_day"})
NOT_JUDGED = "not judged"
COVERAGE_THRESHOLD = 0.8
#: top-foods score key -> (title, unit)
TOP_FOOD_SCORES = {"fiber_g": ("Fiber", "g"), "energy_kcal": ("Energy", "kcal"), "sugars_g": ("Sugars (total)", "g"),
                   "sat_fat_g": ("Saturated fat", "g"), "sodium_mg": ("Sodium", "mg")}
TO_FIX_COLUMNS = ["source_row", "date", "text", "item_text", "status", "reason", "candidates"]
ASSUMED_COLUMNS = ["source_row", "date", "text", "description", "grams", "portion_basis"]
_STATUS_TEXT = {"unmatched": "not recognised", "low_confidence": "unsure which food", "no_portion": "no amount",
                "implausible": "amount looks wrong", "unknown_ndb": "food code not in the table",
                "unknown_id": "food code not in the table"}
_COUNTED = ("matched", "given", "low_confidence")


def _finite(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _pct_text(share: float | None) -> str:
    """A share (0-1) as a whole percentage that never claims 100% or 0% when it is not."""
    if share is None:
        return "—"
    p = 100.0 * share
    if 99.5 <= p < 100.0:
        return "over 99%"
    if 0.0 < p < 0.5:
        return "under 1%"
    return f"{p:.0f}%"


def _counted(items: pd.DataFrame) -> pd.Series:
    """Which entries the scores stand on: the ``counted`` column of the resolver, else by match status."""
    if "counted" in items.columns:
        return items["counted"].fillna(False).astype(bool)
    ok = items["match_status"].isin(_COUNTED)
    for c in ("ndb_no", "grams"):
        if c in items:
            ok &= items[c].notna()
    return ok


def _coverage(a) -> dict:
    """The assessment's ``coverage`` (see the module notes), normalised; derived from the match status
    of the entries where the assessment carries none (then the share of energy is unknown)."""
    cov = getattr(a, "coverage", None)
    items = a.items
    if not isinstance(cov, dict) or not cov:
        n = 0 if items is None else len(items)
        if n:
            ok_rows = _counted(items)
            counted = int(ok_rows.sum())
            kcal = float(items.loc[ok_rows, "energy_kcal"].sum()) if "energy_kcal" in items else float("nan")
        else:
            counted, kcal = 0, float("nan")
        share = counted / n if n else float("nan")
        cov = {"n_entries": n, "n_counted": counted, "share_entries": share, "kcal_counted": kcal,
               "kcal_estimated_total": float("nan"), "share_energy": float("nan"), "threshold": COVERAGE_THRESHOLD,
               "ok": bool(n and share >= COVERAGE_THRESHOLD), "message": f"{counted} of {n} foods could be counted",
               "derived": True}
    n = int(cov.get("n_entries") or 0)
    counted = int(cov.get("n_counted") or 0)
    se = _finite(cov.get("share_entries"))
    if se is None and n:
        se = counted / n
    sk = _finite(cov.get("share_energy"))
    threshold = _finite(cov.get("threshold")) or COVERAGE_THRESHOLD
    ok = cov.get("ok")
    ok = bool(ok) if ok is not None else bool(se is not None and se >= threshold and (sk is None or sk >= threshold))
    complete = bool(n and counted >= n and (sk is None or sk >= 0.995))
    parts = [f"{_pct_text(se)} of entries"] if se is not None else []
    if sk is not None:
        parts.append(f"about {_pct_text(sk)} of energy")
    shares = f" ({', '.join(parts)})" if parts else ""
    msg = str(cov.get("message") or "").strip()
    if n:
        you = f"{'Only ' if not ok else ''}{counted} of {n} foods {'could be' if not ok else 'you logged were'} counted{shares}"
        client = (f"{'Only ' if not ok else ''}{counted} of {n} food entries the client logged "
                  f"{'could be' if not ok else 'were'} counted{shares}")
    else:
        you = client = (msg[:1].upper() + msg[1:]) if msg else "No food entries were logged"
    if not ok:
        you += ": these numbers are not your diet."
        client += (": the diet scores below are not the client's diet and were not judged against targets "
                   f"(at least {threshold:.0%} of entries and of energy must be counted).")
    elif complete:
        you = f"All {n} foods you logged were counted."
        client = f"All {n} food entries the client logged were counted."
    else:
        you += "; the others are listed under “Foods to check”."
        client += "; the others are listed under “Entries to check”."
    return {"ok": ok, "gated": not ok, "complete": complete, "n_entries": n, "n_counted": counted,
            "share_entries": se, "share_energy": sk, "threshold": threshold, "message": msg,
            "kcal_counted": _finite(cov.get("kcal_counted")),
            "kcal_estimated_total": _finite(cov.get("kcal_estimated_total")),
            "statement": you, "statement_client": client, "derived": bool(cov.get("derived", False))}


def _date_text(x) -> str:
    if x is None or x is pd.NaT:
        return ""
    try:
        if pd.isna(x):
            return ""
    except (TypeError, ValueError):
        pass
    try:
        return f"{pd.Timestamp(x):%a %d %b %Y}"
    except (TypeError, ValueError):
        return str(x)


def _row_text(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    s = str(x).strip()
    if isinstance(x, (int, np.integer)) or s.isdigit():
        return f"row {s}"
    return s


def _cell(x) -> str:
    if x is None or x is pd.NaT:
        return ""
    if isinstance(x, (list, tuple)):
        return "; ".join(_cell(v) for v in x if _cell(v))
    try:
        if pd.isna(x):
            return ""
    except (TypeError, ValueError):
        pass
    return str(x).strip()


def _split_candidates(x) -> list[str]:
    if isinstance(x, (list, tuple)):
        return [_cell(v) for v in x if _cell(v)]
    return [c.strip() for c in _cell(x).split(";") if c.strip()]


def _to_fix_frame(a) -> pd.DataFrame:
    """``a.to_fix``, or the entries the matcher could not count where the assessment has none."""
    df = getattr(a, "to_fix", None)
    if isinstance(df, pd.DataFrame):
        out = df.copy()
    else:
        items = a.items
        if items is None or not len(items):
            return pd.DataFrame(columns=TO_FIX_COLUMNS)
        bad = ~_counted(items) | items["match_status"].eq("low_confidence")
        sel = items[bad]
        status = np.where(sel["match_status"].isin(_COUNTED) & sel["grams"].isna() if "grams" in sel else False,
                          "no_portion", sel["match_status"])
        reason = sel["match_note"].fillna("") if "match_note" in sel else pd.Series("", index=sel.index)
        reason = reason.where(reason.astype(str).str.len() > 0, "this entry could not be counted")
        cands = (sel["candidates"].fillna("").astype(str).str.replace(r"(^|;\s*)\d{4,6}\s+", r"\1", regex=True)
                 if "candidates" in sel else "")
        out = pd.DataFrame({"source_row": sel.get("source_row"), "date": sel.get("date"), "text": sel["text"],
                            "item_text": sel["item_text"] if "item_text" in sel else sel["text"], "status": status,
                            "reason": reason, "candidates": cands})
    for c in TO_FIX_COLUMNS:
        if c not in out:
            out[c] = ""
    return out.reset_index(drop=True)


def _to_fix_rows(df: pd.DataFrame) -> list[dict]:
    rows = []
    for r in df.to_dict("records"):
        text, part = _cell(r.get("text")), _cell(r.get("item_text"))
        status = _cell(r.get("status"))
        rows.append({"row": _row_text(r.get("source_row")), "date": _date_text(r.get("date")), "text": text,
                     "item_text": part if part and part != text else "", "status": status,
                     "status_text": _STATUS_TEXT.get(status, status.replace("_", " ")),
                     "reason": _cell(r.get("reason")), "candidates": _split_candidates(r.get("candidates"))})
        c = rows[-1]["candidates"]
        rows[-1]["did_you_mean"] = (", ".join(c[:-1]) + " or " + c[-1]) if len(c) > 1 else (c[0] if c else "")
    return rows


def _assumed_frame(a) -> pd.DataFrame:
    df = getattr(a, "assumed", None)
    out = df.copy() if isinstance(df, pd.DataFrame) else pd.DataFrame(columns=ASSUMED_COLUMNS)
    for c in ASSUMED_COLUMNS:
        if c not in out:
            out[c] = ""
    return out.reset_index(drop=True)


def _assumed_rows(df: pd.DataFrame) -> list[dict]:
    return [{"row": _row_text(r.get("source_row")), "date": _date_text(r.get("date")), "text": _cell(r.get("text")),
             "description": _cell(r.get("description")), "grams": _v(r.get("grams"), 0),
             "basis": _cell(r.get("portion_basis"))} for r in df.to_dict("records")]


def _nutrients_frame(a) -> pd.DataFrame | None:
    """``a.nutrients``; where the assessment has none, energy and fiber from its scores."""
    df = getattr(a, "nutrients", None)
    if isinstance(df, pd.DataFrame):
        return df
    s = a.scores
    rows = {"energy_kcal": {"label": "Energy", "unit": "kcal/day", "per_day": s.get("energy_kcal_per_day", np.nan),
                            "per_kg": np.nan, "reference": "", "coverage_note": ""},
            "fiber_g": {"label": "Fiber", "unit": "g/day", "per_day": s.get("fiber_g_per_day", np.nan), "per_kg": np.nan,
                        "reference": (f"Adequate Intake {s['fiber_target_g']:.0f} g/day (IOM 2005)"
                                      if _finite(s.get("fiber_target_g")) is not None else "Adequate Intake (IOM 2005)"),
                        "coverage_note": ""}}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "nutrient"
    return out


def _nutrient_rows(df: pd.DataFrame | None) -> list[dict]:
    if df is None:
        return []
    rows = []
    for key, r in df.iterrows():
        unit = _cell(r.get("unit"))
        per_day = _finite(r.get("per_day"))
        nd = 1 if per_day is None else (0 if abs(per_day) >= 100 else 1 if abs(per_day) >= 1 else 2)
        per_kg = _finite(r.get("per_kg"))
        rows.append({"key": str(key), "label": _cell(r.get("label")) or str(key), "unit": unit,
                     "per_day": _v(per_day, nd), "raw": per_day,
                     "per_kg": "" if per_kg is None else f"{per_kg:.2f} g/kg/day",
                     "reference": _cell(r.get("reference")), "coverage_note": _cell(r.get("coverage_note"))})
    return rows


def _top_foods(a) -> dict:
    """``a.top_foods``; where the assessment has none, computed from the counted entries."""
    tf = getattr(a, "top_foods", None)
    if isinstance(tf, dict) and tf:
        return tf
    items = a.items
    out = {}
    if items is None or not len(items) or "description" not in items:
        return out
    used = items[_counted(items) & items["description"].notna()]
    for key in TOP_FOOD_SCORES:
        if key not in used or not len(used):
            continue
        total = float(used[key].sum())
        if not total > 0:
            continue
        g = used.groupby("description", sort=False)
        df = pd.DataFrame({"amount": g[key].sum(), "n_entries": g.size(),
                           "examples": g["text"].agg(lambda t: list(dict.fromkeys(map(str, t)))[:2])})
        df = df[df["amount"] > 0].sort_values("amount", ascending=False).head(5)
        df["share_pct"] = 100.0 * df["amount"] / total
        out[key] = df.reset_index().rename(columns={"description": "food"})[
            ["food", "examples", "amount", "share_pct", "n_entries"]]
    return out


def _top_food_blocks(tf: dict) -> list[dict]:
    blocks = []
    for key, (title, unit) in TOP_FOOD_SCORES.items():
        df = tf.get(key)
        if not isinstance(df, pd.DataFrame) or not len(df):
            continue
        rows = []
        for r in df.head(5).to_dict("records"):
            ex = r.get("examples")
            if isinstance(ex, (list, tuple, np.ndarray)):
                ex = [_cell(e) for e in ex]
            else:  # the person's words, joined by "; " (or " | ")
                ex = [e.strip() for e in _cell(ex).split(" | " if " | " in _cell(ex) else "; ")]
            amount = _finite(r.get("amount"))
            rows.append({"food": _cell(r.get("food")), "examples": [e for e in ex if e][:2],
                         "amount": "—" if amount is None else f"{amount:,.{0 if unit in ('kcal', 'mg') else 1}f} {unit}",
                         "share": _v(r.get("share_pct"), 0) + " %" if _finite(r.get("share_pct")) is not None else "—",
                         "n": _cell(r.get("n_entries"))})
        blocks.append({"key": key, "title": title, "unit": unit, "rows": rows})
    return blocks


def _top_foods_frame(tf: dict) -> pd.DataFrame:
    frames = []
    for key, df in tf.items():
        if isinstance(df, pd.DataFrame) and len(df):
            d = df.copy()
            if "examples" in d:
                d["examples"] = d["examples"].map(lambda e: " | ".join(map(str, e)) if isinstance(e, (list, tuple, np.ndarray))
                                                  else _cell(e))
            d.insert(0, "rank", range(1, len(d) + 1))
            d.insert(0, "score", key)
            frames.append(d)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["score", "rank", "food", "examples", "amount", "share_pct", "n_entries"])


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
        out.append({"name": _cell(m.get("name")) or "—", "dose": dose,
                    "drug": (f"{drug} ({klass})" if drug and klass else drug or klass),
                    "recognised": m.get("recognised", True) is not False,
                    "flags": [str(f).replace("_", " ") for f in flags],
                    "note": _cell(m.get("note") or m.get("notes")),
                    "assumptions": [_cell(x) for x in (m.get("assumptions") or []) if _cell(x)],
                    "citations": [c for x in cites for c in _citation_links(_cell(x))]})
    return out


def _diet_rule_ids() -> set[str]:
    """Ids of the rules whose trigger reads a score computed from the meal log."""
    from .rules import _rules, evaluate_trigger

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
    for a, b in (("your logs", "the client's logs"), ("Your logs", "The client's logs"), ("you are", "the client is"),
                 ("You are", "The client is"), ("your target", "the client's target")):
        t = t.replace(a, b)
    return re.sub(r"\byour\b", "the client's", t)


def _score_rows(plan: Plan, *, gated: bool = False) -> list[dict]:
    """The score table's rows; with ``gated`` (too little of the meal log counted) the diet scores
    carry "not judged" instead of their comparison with the target."""
    t = plan.score_table()
    rows = []
    nd = {"fermented_servings_per_day": 2, "inflammatory_score": 2, "GMHI": 2, "shannon": 2, "pss10": 0,
          "energy_kcal_per_day": 0, "richness": 0, "practice_min_per_week": 0}
    for r in t.itertuples(index=False):
        panel = r.score in ("bifidobacterium", "lactobacillus_group", "butyrate_producers")
        status = r.status
        cls = {"meets target": "ok", "below target": "warn", "above target": "warn"}.get(status, "")
        judged = not (gated and r.score in DIET_SCORES)
        if not judged:
            status, cls = NOT_JUDGED, "nj"
        rows.append({"key": r.score, "label": r.label, "value": _v(r.value, nd.get(r.score, 1), pct=panel),
                     "raw": None if not isinstance(r.value, (int, float)) or not math.isfinite(float(r.value)) else float(r.value),
                     "unit": r.unit, "target": r.target, "status": status, "cls": cls, "judged": judged,
                     "diet": r.score in DIET_SCORES})
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
    cov = _coverage(a)
    gated = cov["gated"]
    diet_rules = _diet_rule_ids() if gated else set()
    # not judged: rules the plan itself held back (reason "not judged: ...") and, where the plan was
    # built before the coverage gate, the diet rules it would otherwise headline
    not_judged = [{"id": n.get("id", ""), "title": n.get("title", ""), "reason": n.get("reason", "")}
                  for n in plan.not_evaluated if str(n.get("reason", "")).startswith("not judged")]
    not_evaluated = [n for n in plan.not_evaluated if not str(n.get("reason", "")).startswith("not judged")]
    sugg = []
    for sg in plan.suggestions:
        if sg.id in diet_rules:
            not_judged.append({"id": sg.id, "title": sg.title,
                               "reason": "not judged: too few of the foods logged could be counted"})
            continue
        sugg.append({"id": sg.id, "title": sg.title, "text": sg.text, "grade": sg.grade, "grade_meaning": sg.grade_meaning,
                     "why": sg.why, "target": sg.target, "effect": sg.effect_summary, "cautions": sg.cautions,
                     "citations": _citation_links(sg.citation), "citation": sg.citation, "discuss": sg.discuss,
                     "population": sg.population, "alone": "" if gated else _alone_text(plan, sg.id),
                     "why_client": _client(sg.why), "cautions_client": [_client(c) for c in sg.cautions]})
    limits = [{"id": x.id, "title": x.title, "text": x.text, "grade": x.grade, "grade_meaning": x.grade_meaning,
               "citations": _citation_links(x.citation), "citation": x.citation, "effect": x.effect_summary}
              for x in plan.limits]
    withheld = [{"id": w.id, "title": w.title, "reason": w.reason, "reason_client": _client(w.reason), "grade": w.grade,
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
    if gated and effect["available"]:
        effect.update(available=False, rows=[], caveats=[], assumptions=[],
                      message=f"{NOT_AVAILABLE}: only {cov['n_counted']} of {cov['n_entries']} foods could be counted, "
                              "so the usual diet the model would start from is not the real one.")
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
            judged = not (gated and key in DIET_SCORES)
            if key == "fiber_g_per_day":
                sub = f"g/day · target {s['fiber_target_g']:.0f}" if judged else "g/day"
            cards.append({"label": label, "value": _v(s.get(key), nd), "sub": sub, "judged": judged})
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
        "synthetic": p.synthetic, "disclaimer": DISCLAIMER, "cards": cards, "scores": _score_rows(plan, gated=gated),
        "suggestions": sugg, "limits": limits, "withheld": withheld, "not_evaluated": not_evaluated,
        "not_judged": not_judged, "coverage": cov, "not_judged_text": NOT_JUDGED,
        "to_fix": _to_fix_rows(_to_fix_frame(a)), "assumed": _assumed_rows(_assumed_frame(a)),
        "nutrients": _nutrient_rows(_nutrients_frame(a)), "top_foods": _top_food_blocks(_top_foods(a)),
        "medications": _medications(p), "person_notes": _cell(getattr(p, "notes", "")),
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
        self.fig.text(self._fx(self.ML), self._fy(self.y + size / 72), text, fontsize=size, fontweight="bold", color=color,
                      parse_math=False)
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
                          fontweight="bold" if bold else "normal", parse_math=False)
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
                                  fontweight="bold" if bold else "normal", parse_math=False)
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


def _pdf_clinical(pdf: _Pdf, ctx: dict) -> None:
    """Medications and notes, nutrients, the foods behind the scores, the entries to check."""
    meds = ctx["medications"]
    pdf.heading("Medications and notes", size=12)
    if meds:
        pdf.table(["The client listed", "Recognised as", "Dose", "Flags it sets", "Note for the dietitian"],
                  [[m["name"], m["drug"] or "—", m["dose"] or "—", ", ".join(m["flags"]) or "none",
                    m["note"] + "".join(f" Assumed: {x}" for x in m["assumptions"])]
                   for m in meds], [1.7, 1.6, 1.0, 1.3, 3.6], size=7.2)
    else:
        pdf.para("The client listed no medications.", size=8.3)
    if ctx["person_notes"]:
        pdf.para("Client's notes: " + ctx["person_notes"], size=8.3)
    if ctx["nutrients"]:
        pdf.heading("Nutrients (mean per day logged)", size=12)
        if ctx["coverage"]["gated"]:
            pdf.para("Too few foods were counted: these are not the client's intake.", size=8.3, color="#8b1c1c", bold=True)
        pdf.table(["Nutrient", "Per day", "Per kg", "Reference", "Coverage"],
                  [[n["label"], f"{n['per_day']} {n['unit']}".strip(), n["per_kg"] or "—", n["reference"], n["coverage_note"]]
                   for n in ctx["nutrients"]], [1.6, 1.2, 1.25, 2.9, 2.4],
                  align=["left", "right", "right", "left", "left"], size=7.4)
    if ctx["top_foods"]:
        pdf.heading("Foods behind the scores", size=12)
        rows = []
        for b in ctx["top_foods"]:
            for i, r in enumerate(b["rows"]):
                rows.append([b["title"] if i == 0 else "", r["food"], ", ".join(f"“{e}”" for e in r["examples"]),
                             r["amount"], r["share"]])
        pdf.table(["Score", "Food", "The client wrote", "Amount", "Share"], rows, [1.2, 3.0, 2.8, 1.1, 0.7],
                  align=["left", "left", "left", "right", "right"], size=7.2)
    pdf.heading("Entries to check", size=12)
    if ctx["to_fix"]:
        pdf.table(["Row", "Date", "The client wrote", "Status", "Why; closest foods"],
                  [[e["row"], e["date"], f"“{e['text']}”" + (f" (part: “{e['item_text']}”)" if e["item_text"] else ""),
                    e["status_text"], e["reason"] + (f" Closest: {'; '.join(e['candidates'])}" if e["candidates"] else "")]
                   for e in ctx["to_fix"]], [0.7, 1.2, 2.6, 1.1, 3.6], size=7.2)
    else:
        pdf.para("Every food entry was counted.", size=8.3)
    if ctx["assumed"]:
        pdf.para(f"{len(ctx['assumed'])} entries counted with an assumed portion:", size=8.3, bold=True)
        pdf.table(["Row", "Date", "The client wrote", "Counted as", "Grams", "Based on"],
                  [[e["row"], e["date"], f"“{e['text']}”", e["description"], e["grams"], e["basis"]] for e in ctx["assumed"]],
                  [0.7, 1.2, 2.2, 2.6, 0.7, 1.8], align=["left", "left", "left", "left", "right", "left"], size=7.2)


def _write_pdf(plan: Plan, ctx: dict, path: Path) -> None:
    p = plan.person
    with _rc():
        pdf = _Pdf(f"Dietitian summary — {p.id}", f"gutaxis {ctx['version']} · {ctx['generated_at']} · " + DISCLAIMER[:95],
                   banner="SYNTHETIC EXAMPLE — not a real person" if p.synthetic else None)
        pdf.heading(f"Dietitian summary — {p.id}", size=17, space=0.0)
        pdf.para(f"{ctx['person_line']} · logged {ctx['period']}", size=9.5, color=_MUTED)
        cov = ctx["coverage"]
        if cov["gated"]:
            pdf.para(cov["statement_client"], size=10, bold=True, color="#5c1010", box="#fdecec", edge="#8b1c1c")
        else:
            pdf.para(cov["statement_client"], size=9.5, bold=True, box="#f5f7fa", edge="#0b5394")
        if p.synthetic:
            pdf.para("SYNTHETIC DATA: this example person is invented (made by a seeded script); the numbers illustrate "
                     "the report and describe no real person.", size=8.5, box="#f9ecf4", edge="#7a1f5c", bold=True)
        pdf.para(DISCLAIMER, size=9, box="#eaf2fb", edge="#0b5394", bold=True)
        q = ctx["quality"]
        n_ent = cov["n_entries"]
        entries = (f"{n_ent} food entries, read as {q['entries']} foods" if n_ent and n_ent != q["entries"]
                   else f"{q['entries']} food entries")
        pdf.para(f"The client logged meals on {q['days']} days: {entries} ({q['matched']} matched, "
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
        _pdf_clinical(pdf, ctx)
        pdf.heading("Suggestions for discussion", size=12)
        rows, colors = [], []
        if ctx["not_judged"]:
            pdf.para("Not judged" + (" until the entries to check are fixed" if cov["gated"] else "") + ": "
                     + "; ".join(n["title"] for n in ctx["not_judged"]) + ".", size=8.3, color=_MUTED)
        for sg in ctx["suggestions"]:
            caution = (" Caution: " + " ".join(sg["cautions_client"])) if sg["cautions_client"] else ""
            rows.append([sg["title"], sg["grade"], sg["why_client"] + caution, sg["citation"]])
            colors.append([None, _GRADE_COLOR[sg["grade"]], None, _MUTED])
        pdf.table(["Suggestion", "Grade", "Why for this person", "Evidence"], rows, [2.6, 0.55, 3.4, 3.0],
                  colors=colors, size=7.4)
        pdf.para("Grades: " + "; ".join(f"{k} = {v}" for k, v in GRADES.items()) + ".", size=7.4, color=_MUTED)
        if ctx["withheld"]:
            pdf.heading("Withheld (contraindication)", size=12, color="#a14a00")
            for w in ctx["withheld"]:
                pdf.para(f"{w['title']} (grade {w['grade']}) — {w['reason_client']}", size=8.5, box="#fff4e6", edge="#a14a00")
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
    step("exporting the entries to fix and the nutrients (CSV)")
    for name, df in (("entries_to_fix.csv", _to_fix_frame(a)[TO_FIX_COLUMNS]),
                     ("assumed_portions.csv", _assumed_frame(a)), ("top_foods.csv", _top_foods_frame(_top_foods(a)))):
        _csv(df, out / name)
        written[name] = out / name
    nutrients = _nutrients_frame(a)
    if nutrients is not None:
        nut = nutrients.copy()
        nut.index.name = nut.index.name or "nutrient"
        _csv(nut, out / "nutrients.csv")
        written["nutrients.csv"] = out / "nutrients.csv"
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
    cov = _coverage(a)
    data["coverage"] = {k: cov[k] for k in ("ok", "n_entries", "n_counted", "share_entries", "share_energy",
                                            "kcal_counted", "kcal_estimated_total", "threshold", "message")}
    data["files"] = sorted([*written, "plan.json", "plan.html", "dietitian_summary.html", "dietitian_summary.pdf"])
    from ..report.html import _jsonable

    (out / "plan.json").write_text(json.dumps(_jsonable(data), indent=1, allow_nan=False) + "\n",
                                   encoding="utf-8")
    written["plan.json"] = out / "plan.json"
    files = [{"name": n, "about": REPORT_FILES[n]} for n in REPORT_FILES if n in data["files"]]

    step("figures")
    ctx = _context(plan, now=now, files=files)
    figs = {"weeks": weeks_figure(plan), "effect": effect_figure(plan) if ctx["effect"]["available"] else None}

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
