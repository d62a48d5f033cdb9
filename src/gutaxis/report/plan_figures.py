"""The plan's figures, drawn once with matplotlib for both the HTML reports (inline SVG) and the PDF.

:func:`weeks_figure` (small multiples of the weeks logged) and :func:`effect_figure` (the simulated
trajectories) give inline-SVG figures; :func:`_draw_weeks` and :func:`_draw_effect` draw the same
plots into a part of any figure, so the PDF places them on its pages. The palette here is shared
with the PDF.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..lifestyle.plan import Plan
from .plan_format import _sig

__all__ = ["effect_figure", "weeks_figure"]

_INK, _MUTED, _GRID = "#1f2933", "#52606d", "#d9e2ec"
_BLUE, _ORANGE, _GREEN, _PINK, _YELLOW, _SKY = "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"
_GRADE_COLOR = {"A": "#1b7a52", "B": "#0b5394", "C": "#8a5a00", "G": "#5b3f8c"}


def _draw_weeks(fig, plan: Plan, rect=(0.0, 0.0, 1.0, 1.0), *, fontsize: float = 9.0) -> list:
    """Small multiples of the weeks logged, drawn into ``rect`` (figure fraction) of ``fig``."""
    import matplotlib.dates as mdates

    a = plan.assessment
    d = a.daily.copy()
    d.index = pd.to_datetime(d.index)
    sym = None
    if plan.person.symptoms is not None and len(plan.person.symptoms):
        from ..lifestyle.symptoms import daily_symptoms

        sym = daily_symptoms(plan.person.symptoms)
        sym.index = pd.to_datetime(sym.index)
    panels = ["fiber", "fermented", "upf", "sugar_fat", "inflammatory", "stress"]
    if sym is not None and len(sym):
        panels.append("symptoms")
        if "bristol_mean" in sym:
            panels.append("bristol")
    ncol = 2
    nrow = math.ceil(len(panels) / ncol)
    left, bottom, width, height = rect
    gs = fig.add_gridspec(
        nrow,
        ncol,
        left=left + 0.06 * width,
        right=left + 0.95 * width,
        bottom=bottom + 0.06 * height,
        top=bottom + 0.95 * height,
        hspace=0.75,
        wspace=0.3,
    )
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
            ax.plot(
                x, d["sugar_pct_energy"], color=_BLUE, marker="o", markersize=2.5, linewidth=1.3, label="sugars (total)"
            )
            ax.plot(
                x,
                d["sat_fat_pct_energy"],
                color=_YELLOW,
                marker="s",
                markersize=2.5,
                linewidth=1.3,
                label="saturated fat",
            )
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
                ax.plot(
                    x, d["stress_rating"], color=_BLUE, marker="o", markersize=2.5, linewidth=1.3, label="stress 0-10"
                )
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
        elif name == "symptoms" and sym is not None:  # listed only when there are symptoms
            cols = [c for c in sym.columns if c not in ("bristol_mean", "bristol_n")]
            colors = [_ORANGE, _BLUE, _PINK, _GREEN, _YELLOW, _SKY]
            for k, c in enumerate(cols[:6]):
                ax.plot(
                    sym.index, sym[c], color=colors[k % len(colors)], linewidth=1.3, marker="o", markersize=2.2, label=c
                )
            ax.set_ylim(0, 10)
            ax.legend(fontsize=fontsize - 1.5, frameon=False, loc="upper right", ncol=min(3, len(cols)))
            style(ax, "Symptoms (worst rating of the day, 0-10)")
        elif name == "bristol" and sym is not None:
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

    return matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "gutaxis-plan",
            "font.family": "sans-serif",
            "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
            "pdf.fonttype": 42,
            "axes.titlecolor": _INK,
        }
    )


def weeks_figure(plan: Plan):
    """Inline-SVG :class:`gutaxis.report.figures.Figure` of the weeks logged."""
    from .figures import Figure, _to_svg

    a = plan.assessment
    n = 7 + int(plan.person.symptoms is not None and len(plan.person.symptoms) > 0)
    nrow = math.ceil(n / 2)
    with _rc():
        fig = _new_figure((10.5, 2.35 * nrow + 0.3))
        _draw_weeks(fig, plan)
    d = a.daily
    alt = (
        f"Small multiples of the {len(d)} days logged: fiber per day (mean {plan.scores['fiber_g_per_day']:.1f} g "
        f"against a target of {plan.scores['fiber_target_g']:.0f} g), fermented servings, ultra-processed share of "
        "energy, sugars and saturated fat as % energy against 10%, inflammatory-potential score, stress ratings and "
        "practice minutes, symptoms and Bristol stool types."
    )
    return Figure(
        _to_svg(fig, alt, "weeks"),
        alt,
        "One bar or point per day logged. Dashed lines: targets (fiber Adequate Intake; WHO 10% of energy).",
    )


def _draw_effect(fig, plan: Plan, rect=(0.0, 0.0, 1.0, 1.0), *, fontsize: float = 9.0) -> None:
    eff = plan.effect
    if eff is None or eff.summary is None:  # callers draw only an available effect
        raise ValueError("the plan has no simulated effect to draw")
    table = eff.summary
    n = len(table)
    ncol = 3
    nrow = math.ceil(n / ncol)
    left, bottom, width, height = rect
    gs = fig.add_gridspec(
        nrow,
        ncol,
        left=left + 0.07 * width,
        right=left + 0.98 * width,
        bottom=bottom + 0.10 * height,
        top=bottom + 0.90 * height,
        hspace=0.65,
        wspace=0.35,
    )
    for i, (e, row) in enumerate(table.iterrows()):
        ax = fig.add_subplot(gs[i // ncol, i % ncol])
        b = eff.bands[e]
        days = b.index.to_numpy(dtype=float)
        ax.fill_between(days, b["usual_p05"], b["usual_p95"], color=_MUTED, alpha=0.18, linewidth=0)
        ax.plot(days, b["usual_median"], color=_MUTED, linewidth=1.4, label="as logged")
        ax.fill_between(days, b["plan_p05"], b["plan_p95"], color=_BLUE, alpha=0.22, linewidth=0)
        ax.plot(days, b["plan_median"], color=_BLUE, linewidth=1.8, label="with the plan")
        ax.set_title(f"{row['label']}", loc="left", fontsize=fontsize + 0.3, fontweight="bold", color=_INK)
        unit = {"effective number of taxa": "taxa (effective)", "mM (faecal)": "mM"}.get(
            str(row["unit"]), str(row["unit"])
        )
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
    from .figures import Figure, _to_svg

    eff = plan.effect
    if eff is None or not eff.available or eff.summary is None or not len(eff.summary):
        return None
    nrow = math.ceil(len(eff.summary) / 3)
    with _rc():
        fig = _new_figure((10.5, 2.7 * nrow + 0.4))
        _draw_effect(fig, plan)
    parts = [
        f"{r['label']}: effect {_sig(r['effect_median'], 2, True)} ({_sig(r['effect_p05'], 2, True)} to "
        f"{_sig(r['effect_p95'], 2, True)}) {r['unit']}"
        for _, r in eff.summary.iterrows()
    ]
    alt = (
        f"Simulated trajectories over {eff.days} days, as logged (grey) and with the plan (blue), median and 5-95% "
        "band among the model patients. " + "; ".join(parts) + "."
    )
    return Figure(
        _to_svg(fig, alt, "effect"),
        alt,
        "Lines: median; shaded: 5th-95th percentile among the model patients that match the person's data. "
        "Not a prediction interval.",
    )
