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
  ``insights.csv``, ``simulated_effect.csv`` and ``plan.json``. In every CSV, text that a
  spreadsheet would run as a formula (a meal text ``=HYPERLINK(...)``) gets a leading apostrophe.

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

This module decides what is written and renders the HTML; the parts live beside it:
:mod:`.plan_context` (what the templates show), :mod:`.plan_meal_log` (coverage, entries to fix,
nutrients, top foods), :mod:`.plan_figures`, :mod:`.plan_format` (how values are written),
:mod:`.plan_dietitian` (the PDF summary) on :mod:`.plan_pages` (the page layout); the templates are
``plan.html.j2`` and ``dietitian.html.j2``. The plan itself is built in :mod:`gutaxis.lifestyle.plan`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..lifestyle._csvsafe import csv_safe
from ..lifestyle.plan import Plan
from .plan_context import DIET_SCORES, NOT_JUDGED, _context  # noqa: F401  (DIET_SCORES, NOT_JUDGED re-exported)
from .plan_dietitian import _write_pdf
from .plan_figures import effect_figure, weeks_figure
from .plan_meal_log import (  # noqa: F401  (ASSUMED_COLUMNS, COVERAGE_THRESHOLD, TOP_FOOD_SCORES re-exported)
    ASSUMED_COLUMNS,
    COVERAGE_THRESHOLD,
    TO_FIX_COLUMNS,
    TOP_FOOD_SCORES,
    _assumed_frame,
    _coverage,
    _nutrients_frame,
    _to_fix_frame,
    _top_foods,
    _top_foods_frame,
)

__all__ = ["REPORT_FILES", "effect_figure", "weeks_figure", "write_plan_reports"]

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
    "twin_fit.csv": "how close the model patients are to your measurements, per quantity",
    "plan.json": "the plan and every score, with provenance",
}


# --------------------------------------------------------------------------- main entry point
def _csv(df: pd.DataFrame | None, path: Path) -> bool:
    """Write a CSV export; text a spreadsheet would run as a formula (meal text, notes, food names
    starting with = + - @ tab CR) gets a leading apostrophe (``gutaxis.lifestyle._csvsafe``)."""
    if df is None:
        return False
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%S").where(out[c].notna(), "")
    csv_safe(out).to_csv(path, index=isinstance(out.index, pd.DatetimeIndex) or out.index.name is not None)
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
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    written: dict[str, Path] = {}
    a, p = plan.assessment, plan.person

    step("exporting the logs (CSV)")
    items = a.items.drop(columns=["candidates"], errors="ignore") if a.items is not None else None
    for name, df in (("logged_meals.csv", items), ("logged_stress.csv", p.stress), ("logged_symptoms.csv", p.symptoms)):
        if df is not None and _csv(df.reset_index(drop=True), out / name):
            written[name] = out / name
    step("exporting the entries to fix and the nutrients (CSV)")
    for name, df in (
        ("entries_to_fix.csv", _to_fix_frame(a)[TO_FIX_COLUMNS]),
        ("assumed_portions.csv", _assumed_frame(a)),
        ("top_foods.csv", _top_foods_frame(_top_foods(a))),
    ):
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
    csv_safe(daily).to_csv(out / "daily_scores.csv")
    written["daily_scores.csv"] = out / "daily_scores.csv"
    weekly = a.weekly.copy()
    if len(weekly):
        weekly.index = pd.to_datetime(weekly.index).strftime("%Y-%m-%d")
        weekly.index.name = "week_start"
    csv_safe(weekly).to_csv(out / "weekly_scores.csv")
    written["weekly_scores.csv"] = out / "weekly_scores.csv"
    csv_safe(plan.recommendations_frame()).to_csv(out / "recommendations.csv", index=False)
    written["recommendations.csv"] = out / "recommendations.csv"
    if a.insights is not None:
        csv_safe(a.insights.table).to_csv(out / "insights.csv", index=False)
        written["insights.csv"] = out / "insights.csv"
    if plan.effect is not None and plan.effect.available:
        csv_safe(plan.effect.summary).to_csv(out / "simulated_effect.csv")
        written["simulated_effect.csv"] = out / "simulated_effect.csv"
        fit = getattr(plan.effect, "fit", None)
        if fit is not None and len(fit):
            csv_safe(fit).to_csv(out / "twin_fit.csv", index=False)
            written["twin_fit.csv"] = out / "twin_fit.csv"
    data = plan.to_dict()
    data["generated_at"] = now
    cov = _coverage(a)
    data["coverage"] = {
        k: cov[k]
        for k in (
            "ok",
            "n_entries",
            "n_counted",
            "share_entries",
            "share_energy",
            "kcal_counted",
            "kcal_estimated_total",
            "threshold",
            "message",
        )
    }
    data["files"] = sorted([*written, "plan.json", "plan.html", "dietitian_summary.html", "dietitian_summary.pdf"])
    from ._profile_numbers import jsonable as _jsonable
    from ._render import render

    (out / "plan.json").write_text(json.dumps(_jsonable(data), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    written["plan.json"] = out / "plan.json"
    files = [{"name": n, "about": REPORT_FILES[n]} for n in REPORT_FILES if n in data["files"]]

    step("figures")
    ctx = _context(plan, now=now, files=files)
    figs = {"weeks": weeks_figure(plan), "effect": effect_figure(plan) if ctx["effect"]["available"] else None}

    step("writing the HTML reports")
    (out / "plan.html").write_text(render("plan.html.j2", figures=figs, **ctx), encoding="utf-8")
    written["plan.html"] = out / "plan.html"
    (out / "dietitian_summary.html").write_text(render("dietitian.html.j2", figures=figs, **ctx), encoding="utf-8")
    written["dietitian_summary.html"] = out / "dietitian_summary.html"

    step("writing the PDF summary")
    _write_pdf(plan, ctx, out / "dietitian_summary.pdf")
    written["dietitian_summary.pdf"] = out / "dietitian_summary.pdf"
    return written
