"""The report of a simulated trial (``gutaxis simulate``): the self-contained ``report.html`` of a
:class:`~gutaxis.axis.scenario.ScenarioResult` (template ``simulate.html.j2``, the shared style and
scripts of the other reports, matplotlib figures as inline SVG, no external resources).

The simulation itself is :mod:`gutaxis.axis.scenario`; this module only reads its result.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from ..axis import equations as eq
from ..axis.scenario import ENDPOINT_LABELS, _parameter_table_info, _versions
from ._render import citations, render

if TYPE_CHECKING:
    from ..axis.scenario import Intervention, ScenarioResult

#: the caution printed in the report (the framing of the other gutaxis reports)
DISCLAIMER = (
    "This simulation informs a conversation with a clinician or registered dietitian; it is not a "
    "diagnosis, a prediction for any person or a prescription. Do not start, stop or change a diet, "
    "supplement or treatment because of it."
)

_INPUT_LABELS = {
    "fiber": "fiber",
    "fermented": "fermented food",
    "probiotic": "probiotic",
    "upf": "ultra-processed food",
    "sugar": "added sugar",
    "satfat": "saturated fat",
    "stress": "stress load",
    "mindbody": "mind-body practice",
    "ra": "RA flag",
    "sle": "SLE flag",
    "dmard": "DMARD flag",
    "propionate": "oral propionate",
    "ms": "MS flag",
}
_DISEASE_LABELS = {
    "healthy": "healthy adults",
    "ra": "people with rheumatoid arthritis",
    "sle": "people with systemic lupus erythematosus",
    "ms": "people with multiple sclerosis",
}
_SUMMARY_COLS = (
    "baseline_mean",
    "end_mean",
    "change_mean",
    "change_ci_low",
    "change_ci_high",
    "change_median",
    "pct_change_of_mean",
)


def _number(v, *, signed: bool = False, decimals: int | None = None, percent: bool = False) -> dict:
    """``{"raw": float|None, "text": str}`` of a table cell. ``decimals``: fixed decimals; otherwise 3
    significant digits (scientific below 0.001). ``percent`` shows a 0-1 fraction as a whole percentage;
    ``signed`` adds ``+`` to values shown above 0 (a value that rounds to 0 shows no sign)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = float("nan")
    if not np.isfinite(x):
        return {"raw": None, "text": "—"}
    y = 100.0 * x if percent else x
    if percent:
        decimals = 0
    a = abs(y)
    if decimals is not None:
        text = f"{y:.{decimals}f}"
    elif y == 0:
        text = "0"
    elif a >= 999.5:
        text = f"{y:.0f}"
    elif a >= 0.001:
        text = f"{y:.3g}"
    else:
        text = f"{y:.2e}"
    if float(text) == 0:
        text = text.lstrip("-")
    elif signed and float(text) > 0:
        text = "+" + text
    return {"raw": x, "text": text}


def _decimals(scale: float | None) -> int | None:
    """Decimals that give 4 significant digits at the size of ``scale`` (an endpoint's baseline mean), so that
    every number of one endpoint is shown at one resolution; None (significant digits) when it is 0 or missing."""
    scale = abs(float(scale)) if scale is not None else float("nan")
    if not np.isfinite(scale) or scale == 0:
        return None
    return int(np.clip(3 - np.floor(np.log10(scale)), 0, 8))


def _describe_intervention(iv: Intervention) -> str:
    unit = eq.INPUT_UNITS[eq.INPUT_NAMES.index(iv.input)]
    label = _INPUT_LABELS.get(iv.input, iv.input)
    if iv.mode == "shift":
        what = f"{label} {iv.value:+g} {unit} over the usual intake"
    elif iv.input == "stress":
        what = f"{label} set to {iv.value:g} (PSS-10 {40 * iv.value:g})"
    else:
        what = f"{label} set to {iv.value:g} {unit}"
    ramp = f", full size after a {iv.ramp_days}-day ramp" if iv.ramp_days else ""
    return f"{what}, day {iv.start} to {iv.stop}{ramp}"


def _trajectory_figure(res: ScenarioResult):
    """Small multiples of every endpoint: per arm the median and the 5-95 % band over the virtual
    patients (matplotlib on an Agg canvas, as inline SVG)."""
    from .figures import PALETTE, Figure, _figure, _rc, _to_svg

    sc = res.scenario
    outs = list(dict.fromkeys(o for o, _ in sc.endpoints))
    arms = list(sc.arms)
    colors, k = {}, 0
    for arm in arms:
        if arm == sc.control:
            colors[arm] = "#52606d"
        else:
            colors[arm] = PALETTE[k % len(PALETTE)]
            k += 1
    ncol = 3 if len(outs) > 4 else min(2, len(outs))
    nrow = int(np.ceil(len(outs) / ncol))
    x = np.asarray(res.days, float)
    ends = []
    with _rc("scenario"):
        fig, axes = _figure(nrow, ncol, figsize=(3.5 * ncol, 2.55 * nrow + 0.45), squeeze=False)
        fig.set_layout_engine("constrained")
        for ax, o in zip(axes.ravel(), outs, strict=False):  # the grid may have spare axes
            bands = res.bands(o)
            for arm in arms:
                med, lo, hi = bands[arm]
                if arm != sc.control:  # the control's band: outline only, so the others stay visible
                    ax.fill_between(x, lo, hi, color=colors[arm], alpha=0.12, linewidth=0)
                ax.plot(x, lo, color=colors[arm], linewidth=0.9, linestyle=(0, (2, 2)))
                ax.plot(x, hi, color=colors[arm], linewidth=0.9, linestyle=(0, (2, 2)))
                ax.plot(x, med, color=colors[arm], linewidth=2.0, label=arm)
            for day in sorted({d for e, d in sc.endpoints if e == o and d != sc.days}):
                ax.axvline(day, color="#9aa5b1", linewidth=0.8, linestyle="--")
            ax.set_title(ENDPOINT_LABELS.get(o, o), loc="left")
            ax.set_xlabel("day", fontsize=9)
            ax.set_xlim(float(x.min()), float(x.max()))
            ax.grid(axis="y", color="#d9e2ec", linewidth=0.6)
            ax.tick_params(labelsize=8.5)
            ends.append(
                f"{ENDPOINT_LABELS.get(o, o)}: "
                + ", ".join(f"{arm} {_number(bands[arm][0][-1])['text']}" for arm in arms)
            )
        for ax in axes.ravel()[len(outs) :]:
            ax.set_visible(False)
        handles, labels = axes.ravel()[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncol=len(arms), fontsize=9.5)
    alt = (
        f"Small multiples of {len(outs)} endpoints over {sc.days} days: for each arm ({', '.join(arms)}) the median "
        "(line) and the 5th-95th percentile (band between dashed lines) among the virtual patients. "
        f"Medians on day {int(x.max())}: " + "; ".join(ends) + "."
    )
    caption = (
        "Solid lines: median over the virtual patients; between the dashed lines of the same colour: 5th to "
        "95th percentile"
        + (f" (shaded, except for the control arm {sc.control})" if sc.control else " (shaded)")
        + ". The band is the spread between virtual patients, not a prediction interval for a person."
        + (
            " Dashed vertical lines: endpoint days before the end."
            if any(d != sc.days for _, d in sc.endpoints)
            else ""
        )
    )
    return Figure(_to_svg(fig, alt, "scenario"), alt, caption)


def _report_context(res: ScenarioResult, trajectories: str) -> dict:
    from .. import __version__

    sc, prov = res.scenario, res.provenance
    arms = []
    for arm in sc.arms.values():
        adherence = f"{arm.adherence_mean:g}" + (
            f" (sd {arm.adherence_sd:g}, per patient, 0-1)" if arm.adherence_sd else ""
        )
        arms.append(
            {
                "name": arm.name,
                "interventions": [_describe_intervention(iv) for iv in arm.interventions],
                "adherence": adherence if arm.interventions else "—",
            }
        )
    order = {o: k for k, (o, _) in enumerate(sc.endpoints)}
    arm_order = {a: k for k, a in enumerate(sc.arms)}

    def endpoint_key(row):
        return order.get(row["endpoint"], len(order)), row["day"], arm_order.get(row["arm"], len(arm_order))

    scale = (
        res.summary.groupby("endpoint")["baseline_mean"].apply(lambda v: np.nanmax(np.abs(v))).to_dict()
        if len(res.summary)
        else {}
    )
    summary_rows = []
    for row in sorted(res.summary.to_dict("records"), key=endpoint_key):
        d = _decimals(scale.get(row["endpoint"]))
        cells = {c: _number(row[c], signed=c.startswith("change"), decimals=d) for c in _SUMMARY_COLS}
        cells["pct_change_of_mean"] = _number(row["pct_change_of_mean"], signed=True, decimals=1)
        summary_rows.append(
            {
                "arm": row["arm"],
                "endpoint": row["endpoint"],
                "day": _number(row["day"]),
                "label": ENDPOINT_LABELS.get(row["endpoint"], row["endpoint"]),
                "control": row["arm"] == sc.control,
                **cells,
            }
        )
    n_summary = sorted({int(v) for v in res.summary["n"]}) if len(res.summary) else []
    comparison_rows = []
    for row in sorted(res.comparisons.to_dict("records"), key=endpoint_key):
        d = _decimals(scale.get(row["endpoint"]))
        cells = {c: _number(row[c], signed=True, decimals=d) for c in ("md", "md_p2.5", "md_p97.5")}
        cells.update(
            {
                c: _number(row[c], signed=True, decimals=2)
                for c in ("smd", "smd_ci_low", "smd_ci_high", "smd_p2.5", "smd_p97.5")
            }
        )
        cells["power"] = _number(row["power"], percent=True)
        comparison_rows.append(
            {
                "arm": row["arm"],
                "control": row["control"],
                "endpoint": row["endpoint"],
                "day": _number(row["day"]),
                "cells": cells,
                "label": ENDPOINT_LABELS.get(row["endpoint"], row["endpoint"]),
            }
        )
    trial: dict[str, Any] | None = None
    if len(res.comparisons):
        trial = {
            "n_per_arm": _number(res.comparisons["n_per_arm"].iloc[0]),
            "replicates": _number(res.comparisons["replicates"].iloc[0]),
            "control": sc.control,
        }
    n_pat = int(prov.get("n_patients", res.population.n))
    who = _DISEASE_LABELS.get(sc.disease, sc.disease)
    ptable = prov.get("parameter_table") or {"sha256": _parameter_table_info()["sha256"]}
    versions = {k: prov.get(k) or v for k, v in _versions().items()}
    read = prov.get("scenario_path")
    read = (
        f"{read} (SHA-256 of the file {prov['scenario_file_sha256']})"
        if read and prov.get("scenario_file_sha256")
        else "given as text or a mapping, not read from a file"
    )
    provenance_rows = [
        ("gutaxis (model) version", str(prov.get("gutaxis_version", __version__))),
        (
            "Python, numpy, numba",
            f"Python {versions['python_version']}, numpy {versions['numpy_version']}, "
            f"numba {versions['numba_version']}",
        ),
    ]
    if prov.get("command"):
        provenance_rows.append(("command", str(prov["command"])))
    provenance_rows += [
        ("scenario file", read),
        ("scenario SHA-256", f"{prov.get('sha256', '—')} (of the scenario as read, before the overrides)"),
        (
            "effective scenario SHA-256",
            f"{prov.get('effective_sha256', '—')} (of the scenario that ran, after the "
            "overrides; it is recorded in result.json as scenario_effective)",
        ),
        (
            "model parameters",
            f"gutaxis/data/axis_parameters.tsv ({len(eq.PARAM_NAMES)} parameters; point values, "
            "priors and sources, gains calibrated to gutaxis/data/axis_calibration_targets.tsv); "
            f"SHA-256 {ptable['sha256']}",
        ),
        (
            "virtual population",
            f"{n_pat} virtual {who} ({prov.get('disease', sc.disease)}), accepted from "
            f"{prov.get('n_candidates', sc.n_candidates)} plausible-patient candidates sampled "
            "from the parameter priors; population seed "
            f"{prov.get('population_seed', sc.population_seed)}"
            + (f" ({prov['population']})" if prov.get("population") else ""),
        ),
        ("seed", f"{prov.get('seed', sc.seed)} (adherence draws, trial sampling and measurement noise)"),
        (
            "solver",
            f"{prov.get('scheme', '—')} ({prov.get('method', 'numba')}), step {prov.get('dt', sc.dt)} d; "
            f"trajectories stored on days {', '.join(str(int(d)) for d in res.days)}",
        ),
    ]
    if trial:
        provenance_rows.append(
            (
                "virtual trials",
                f"{trial['replicates']['text']} replicate trials per arm, "
                f"{trial['n_per_arm']['text']} patients per arm, vs {sc.control}",
            )
        )
    else:
        provenance_rows.append(("virtual trials", "none (no control arm)"))
    shown = {
        "gutaxis_version",
        "sha256",
        "n_patients",
        "disease",
        "population_seed",
        "seed",
        "n_candidates",
        "dt",
        "scheme",
        "method",
        "python_version",
        "numpy_version",
        "numba_version",
        "command",
        "scenario_path",
        "scenario_file_sha256",
        "effective_sha256",
        "parameter_table",
        "overrides",
        "replicates",
        "n_per_arm",
        "population",
    }
    provenance_rows += [
        (str(k), json.dumps(v, default=str) if not isinstance(v, str) else v) for k, v in prov.items() if k not in shown
    ]
    overrides = prov.get("overrides") or {}
    overrides_line = {
        "label": "Command-line overrides" if prov.get("command") else "Overrides of the scenario's settings",
        "text": ", ".join(
            f"{k} = {json.dumps(v, default=str) if not isinstance(v, str) else v}" for k, v in overrides.items()
        )
        or "none",
    }
    files = [
        {"name": "report.html", "about": "this report (self-contained; opens offline)"},
        {"name": "summary.tsv", "about": "change from baseline per arm and endpoint (every number of that table)"},
        {"name": "comparisons.tsv", "about": "virtual trials against the control arm (every number of that table)"},
        {"name": trajectories, "about": "trajectories of every virtual patient, arm and stored day"},
        {
            "name": "result.json",
            "about": "the scenario as read and as it ran (scenario_effective, after the "
            "overrides; re-run it to reproduce these numbers), provenance, summary "
            "and comparisons",
        },
    ]
    cards = [
        {"label": "Virtual patients", "text": str(n_pat), "sub": f"{who}, each under every arm"},
        {"label": "Arms", "text": str(len(sc.arms)), "sub": ", ".join(sc.arms)},
        {
            "label": "Duration",
            "text": f"{sc.days} days",
            "sub": "endpoints on day " + ", ".join(str(d) for d in sorted({d for _, d in sc.endpoints})),
        },
    ]
    if trial:
        cards.append(
            {
                "label": "Virtual trials",
                "text": trial["replicates"]["text"],
                "sub": f"{trial['n_per_arm']['text']} patients per arm, vs {sc.control}",
            }
        )
    return {
        "title": sc.name,
        "description": sc.description,
        "citation": sc.citation,
        "citation_links": citations(sc.citation),
        "version": __version__,
        "disclaimer": DISCLAIMER,
        "disease": sc.disease,
        "who": who,
        "n_patients": n_pat,
        "days": sc.days,
        "dt": sc.dt,
        "arms": arms,
        "control": sc.control,
        "cards": cards,
        "n_summary": [_number(v) for v in n_summary],
        "summary_rows": summary_rows,
        "comparison_rows": comparison_rows,
        "trial": trial,
        "figure": _trajectory_figure(res),
        "provenance_rows": provenance_rows,
        "overrides": overrides_line,
        "files": files,
        "recorded": json.dumps(
            {"scenario": sc.source, "scenario_effective": sc.effective_source(), "provenance": prov},
            indent=1,
            sort_keys=True,
            default=str,
        ),
    }


def render_html(res: ScenarioResult, *, trajectories: str = "trajectories.nc") -> str:
    """The self-contained ``report.html`` of ``res``; ``trajectories`` is the name of the trajectory
    file listed with the files written beside it."""
    return render("simulate.html.j2", **_report_context(res, trajectories))
