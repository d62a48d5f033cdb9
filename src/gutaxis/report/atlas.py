"""The atlas report: one self-contained HTML file and a TSV of every number it shows.

Built with the house report helpers: the shared Jinja templates and style
(``gutaxis/report/templates``, template ``atlas.html.j2``), and the figure helpers of
:mod:`gutaxis.report.figures` (matplotlib on an Agg canvas, inline SVG with alt text).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .figures import PALETTE, Figure, _figure, _rc, _to_svg
from .html import DISCLAIMER

__all__ = ["TSV_FILES", "render_atlas_html", "write_atlas"]

#: TSV files written beside the report (attribute of AtlasResult -> file name)
TSV_FILES = {
    "claims": "claims.tsv",
    "claim_evidence": "claim_evidence.tsv",
    "cohorts": "cohorts.tsv",
    "associations": "associations.tsv",
    "groups": "claim_groups.tsv",
    "alpha": "alpha_diversity.tsv",
    "permanova": "permanova.tsv",
    "meta": "meta_analysis.tsv",
    "shared": "shared_specific.tsv",
    "microbiomehd": "microbiomehd_agreement.tsv",
    "timings": "timings.tsv",
}
_VERDICT_COLOUR = {
    "supported": "#009E73",
    "contradicted": "#D55E00",
    "mixed": "#E69F00",
    "not testable in data we hold": "#52606d",
}


def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "—"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4):
        return f"{x:.2e}"
    return f"{x:.{digits}g}"


def _forest(claim: str, statement: str, evidence: pd.DataFrame, rows: pd.DataFrame, scale: str) -> Figure | None:
    """Per-cohort estimates (squares, 95% CI) grouped by disease and rank, each group's pooled
    estimate (diamond)."""
    ev = evidence[evidence["claim"] == claim]
    tested = rows[(rows["claim"] == claim) & (rows["cohorts"] > 0)]
    if tested.empty:
        return None
    lines = []  # (label, est, lo, hi, pooled?)
    for _, t in tested.iterrows():
        sub = ev[(ev.disease == t["disease"]) & (ev["rank"] == t["rank"])]
        for _, e in sub.iterrows():
            lines.append(
                (
                    f"{e['cohort']} (n={int(e['n'])})",
                    e["estimate"],
                    e["estimate"] - 1.96 * e["se"],
                    e["estimate"] + 1.96 * e["se"],
                    False,
                )
            )
        lines.append(
            (f"{t['disease']} · {t['rank']} pooled: {t['verdict']}", t["effect"], t["ci_low"], t["ci_high"], True)
        )
    with _rc(f"forest-{claim}"):
        fig, ax = _figure(figsize=(7.2, 0.32 * len(lines) + 1.2))
        y = np.arange(len(lines))[::-1]
        for yi, (_label, est, lo, hi, pooled) in zip(y, lines, strict=True):
            if pooled:
                ax.fill([lo, est, hi, est], [yi, yi + 0.3, yi, yi - 0.3], color=PALETTE[1])
            else:
                ax.plot([lo, hi], [yi, yi], color=PALETTE[0], lw=1.2)
                ax.plot([est], [yi], marker="s", color=PALETTE[0], ms=5)
        ax.axvline(0, color="#52606d", lw=0.8, ls="--")
        ax.set_yticks(y)
        ax.set_yticklabels([ln[0] for ln in lines], fontsize=8)
        ax.set_xlabel(f"{scale}, cases − controls (95% CI)")
        ax.set_title(statement)
        alt = f"Forest plot: {statement}; " + "; ".join(f"{ln[0]} {_fmt(ln[1])}" for ln in lines)
        return Figure(
            _to_svg(fig, alt, f"forest-{claim}"),
            alt,
            "Squares: each cohort's covariate-adjusted effect; diamonds: the random-effects pooled "
            "effect of the disease at that rank (one cohort: its own effect).",
        )


def _heatmap(meta: pd.DataFrame, n_max: int = 40) -> tuple[Figure | None, pd.DataFrame]:
    """Disease x genus pooled effects, the genera called (q < 0.05) in the most diseases first."""
    g = meta[meta["rank"] == "genus"]
    if g.empty:
        return None, pd.DataFrame()
    est = g.pivot_table(index="feature", columns="disease", values="estimate", aggfunc="first")
    q = g.pivot_table(index="feature", columns="disease", values="q", aggfunc="first").reindex_like(est)
    n_called = (q < 0.05).sum(axis=1)
    order = (n_called * 1000 + est.abs().max(axis=1).fillna(0)).sort_values(ascending=False)
    keep = order.index[n_called.loc[order.index] > 0][:n_max]
    if len(keep) == 0:
        return None, pd.DataFrame()
    E, Q = est.loc[keep], q.loc[keep]
    with _rc("atlas-heatmap"):
        fig, ax = _figure(figsize=(1.3 * E.shape[1] + 3.0, 0.24 * len(keep) + 1.6))
        lim = float(np.nanmax(np.abs(E.to_numpy()))) or 1.0
        im = ax.imshow(E.to_numpy(dtype=float), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        for i in range(E.shape[0]):
            for j in range(E.shape[1]):
                if np.isfinite(Q.iat[i, j]) and Q.iat[i, j] < 0.05:
                    ax.text(j, i, "*", ha="center", va="center", fontsize=9)
        ax.set_xticks(range(E.shape[1]))
        ax.set_xticklabels(E.columns, rotation=30, ha="right")
        ax.set_yticks(range(E.shape[0]))
        ax.set_yticklabels(E.index, fontsize=7.5)
        fig.colorbar(im, ax=ax, label="pooled log2 effect, cases − controls", shrink=0.6)
        alt = (
            f"Heatmap of pooled genus effects in {E.shape[1]} diseases for the {len(keep)} genera called "
            "in the most diseases"
        )
        return Figure(
            _to_svg(fig, alt, "atlas-heatmap"),
            alt,
            "Red: higher in cases; blue: lower; blank: genus not tested in that disease; * q < 0.05.",
        ), E


def _records(df: pd.DataFrame, columns: list[str]) -> list[list[str]]:
    if df is None or df.empty:
        return []
    return [
        [
            _fmt(r[c])
            if isinstance(r[c], (float, int, np.floating, np.integer)) and not isinstance(r[c], bool)
            else ("" if pd.isna(r[c]) else str(r[c]))
            for c in columns
        ]
        for _, r in df.iterrows()
    ]


def render_atlas_html(result) -> str:
    from .. import __version__
    from ..atlas.claims import load_claims
    from ._render import render

    claims = load_claims()
    forests = []
    for _, c in claims.iterrows():
        scale = "SMD of Shannon" if c["measure"] == "shannon" else "log2 fold difference"
        fig = (
            _forest(c["claim"], c["statement"], result.claim_evidence, result.claims, scale)
            if len(result.claim_evidence)
            else None
        )
        forests.append(
            {
                "claim": c["claim"],
                "statement": c["statement"],
                "basis": c["basis"],
                "citation": c["citation"],
                "figure": fig,
            }
        )
    heat, _ = _heatmap(result.meta) if len(result.meta) else (None, None)
    ccols = [
        "claim",
        "disease",
        "rank",
        "verdict",
        "observed",
        "effect",
        "ci_low",
        "ci_high",
        "I2",
        "cohorts",
        "samples",
        "reason",
        "basis",
    ]
    claim_rows = [
        {
            "cells": r,
            "verdict": r[ccols.index("verdict")],
            "colour": _VERDICT_COLOUR.get(r[ccols.index("verdict")], "#52606d"),
        }
        for r in _records(result.claims, ccols)
    ]
    cohort_cols = [
        "cohort",
        "disease",
        "status",
        "reason",
        "rank",
        "n_cases",
        "n_controls",
        "taxa",
        "covariates",
        "block",
        "shannon_diff",
        "shannon_p",
        "permanova_R2",
        "permanova_p",
        "caveats",
    ]
    coh = result.cohorts.reindex(columns=cohort_cols)
    lic = result.cohorts.reindex(columns=["cohort", "dataset", "licence", "citation", "source"])
    ctx = {
        "version": __version__,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "disclaimer": DISCLAIMER,
        "n_analysed": int((result.cohorts["status"] == "analysed").sum()),
        "n_cohorts": len(result.cohorts),
        "claim_columns": ccols,
        "claim_rows": claim_rows,
        "forests": forests,
        "heatmap": heat,
        "cohort_columns": cohort_cols,
        "cohort_rows": _records(coh, cohort_cols),
        "licence_rows": _records(lic, list(lic.columns)),
        "shared_columns": list(result.shared.columns),
        "shared_rows": _records(result.shared, list(result.shared.columns)),
        "mhd_columns": list(result.microbiomehd.columns),
        "mhd_rows": _records(result.microbiomehd, list(result.microbiomehd.columns)),
        "timing_rows": _records(result.timings, ["stage", "seconds"]),
        "params": json.dumps(result.params, indent=2, default=str),
        "tsv_files": list(TSV_FILES.values()),
    }
    return render("atlas.html.j2", **ctx)


def write_atlas(result, directory: str | os.PathLike, *, overwrite: bool = False) -> dict[str, Path]:
    """Write ``atlas.html`` and the TSVs of :data:`TSV_FILES` (and ``params.json``) into ``directory``,
    all or nothing (:func:`gutaxis._outputs.atomic_dir`); returns the paths."""
    from .._outputs import atomic_dir

    out = Path(directory)
    html = render_atlas_html(result)
    names = ["atlas.html", "params.json", *TSV_FILES.values()]
    with atomic_dir(out, overwrite=overwrite, what="folder for the atlas") as tmp:
        for attr, name in TSV_FILES.items():
            frame = getattr(result, attr)
            frame.to_csv(tmp / name, sep="\t", index=False, na_rep="NA", float_format="%.10g")
        (tmp / "params.json").write_text(json.dumps(result.params, indent=2, default=str), encoding="utf-8")
        (tmp / "atlas.html").write_text(html, encoding="utf-8")
    return {n: out / n for n in names}
