"""The report on a cohort: distances and ordination, the figures by group, the tables of group
medians and quartiles, the summary cards of the largest groups and the opening lines."""

from __future__ import annotations

import pandas as pd

from .._validation import finite_or_none as _finite
from ._denominator import panel_cell
from ._groups import CARD_RULE, card_groups
from ._profile_context import ProfileIndices, ReferencePlacement, ReportInput, ReportTables, ShownValues
from ._profile_numbers import cell as _cell
from ._profile_texts import detail
from ._render import citations

__all__ = ["cohort_figures", "cohort_tables", "ordination", "ordination_text"]

#: indices and panel entries drawn by group, in this order (those the profile has)
FIGURE_INDICES = ("GMHI", "shannon", "richness", "chao1", "pielou", "dysbiosis_score")
FIGURE_PANELS = ("butyrate_producers", "bifidobacterium", "enterobacteriaceae")


def ordination(inp: ReportInput, notes: list[str]) -> tuple[pd.DataFrame | None, str]:
    """(PCoA coordinates of the Bray-Curtis distances or None, why there are none ('' when there are))."""
    if inp.adata.n_obs < 3:
        return None, "An ordination needs at least 3 samples."
    from ..measure.beta import beta_diversity
    from ..measure.ordination import pcoa

    dist = beta_diversity(inp.adata, metric="braycurtis", normalize=True)  # of the classified reads
    coords = pcoa(dist, n_components=2)
    notes.extend(str(n) for n in coords.attrs.get("notes", []))
    return coords, ""


def ordination_text(coords: pd.DataFrame | None) -> str:
    """The sentence on how much of the variation the two axes explain ('' without them)."""
    if coords is None:
        return ""
    pe = coords.attrs.get("proportion_explained", [])
    if len(pe) >= 2 and _finite(pe[0]) is not None:
        return (
            f"The first two axes explain {100 * pe[0]:.1f}% and {100 * pe[1]:.1f}% of the variation in the distances."
        )
    return ""


def _groups(inp: ReportInput) -> tuple[pd.Series, list[str]]:
    """(group of each sample, groups in order); one group of all samples without a group column."""
    if inp.labels is None:
        return pd.Series("all samples", index=inp.adata.obs_names), ["all samples"]
    return inp.labels, inp.order


def cohort_figures(inp: ReportInput, ind: ProfileIndices, shown: ShownValues, coords: pd.DataFrame | None) -> dict:
    """{figure name: SVG}: the indices by group and, with coordinates, the ordination."""
    from . import figures as F

    labels, show, short_of, entries = inp.labels, shown.indices, shown.short, ind.entries
    glabels, gorder = _groups(inp)
    figs = {}
    fig_cols = [c for c in FIGURE_INDICES if c in show.columns and show[c].notna().any()]
    fig_cols += [c for c in FIGURE_PANELS if c in show.columns]
    fig_df = show[fig_cols].copy()
    flabels = dict(short_of)
    for c in fig_cols:
        if c in entries:
            fig_df[c] = 100 * fig_df[c]
            flabels[c] = f"{short_of[c]} (%)"
    figs["distributions"] = F.index_distributions(fig_df, glabels.reindex(show.index), flabels, gorder)
    if coords is not None:
        figs["ordination"] = F.ordination(
            coords,
            None if labels is None else labels.reindex(coords.index),
            coords.attrs.get("proportion_explained"),
            gorder,
        )
    return figs


def cohort_tables(
    inp: ReportInput, ind: ProfileIndices, placed: ReferencePlacement, shown: ShownValues, notes: list[str], now: str
) -> ReportTables:
    """Medians and quartiles of each index by group, median percentiles, cards, lead and subtitle;
    what the reader should know about the groups goes to ``notes``."""
    adata, labels, group_col = inp.adata, inp.labels, inp.group_col
    show, show_pct, labels_of, short_of = shown.indices, shown.percentiles, shown.labels, shown.short
    entries, core_cols, panel_cols = ind.entries, ind.core_cols, ind.panel_cols
    not_measurable, ref_info = placed.not_measurable, placed.info
    glab, gorder = _groups(inp)
    groups_ctx: list[dict] = []
    group_summary: dict = {}
    group_rows: list[dict] = []
    panels_ctx: list[dict] = []
    percentile_rows: list[dict] = []
    cards: list[dict] = []
    for g in gorder:
        groups_ctx.append({"name": g, "n": int((glab == g).sum())})
    missing_group = int(glab.isna().sum()) if labels is not None else 0
    if missing_group:
        notes.append(f"{missing_group} sample(s) have no value in column {group_col!r} and appear in no group.")
    for c in core_cols + panel_cols:
        kind = "percent" if c in entries else "index"
        cells, per_group = [], {}
        for g in gorder:
            v = show.loc[(glab == g).to_numpy(), c].dropna()
            stats = {
                "n": len(v),
                "median": _finite(v.median()) if len(v) else None,
                "q1": _finite(v.quantile(0.25)) if len(v) else None,
                "q3": _finite(v.quantile(0.75)) if len(v) else None,
            }
            per_group[g] = stats
            cells.append({k: _cell(stats[k], kind) for k in ("median", "q1", "q3")})
        group_summary[c] = per_group
        if c in entries:
            continue
        group_rows.append({"label": labels_of[c] + (" (%)" if kind == "percent" else ""), "cells": cells})
    for pname, ptitle in (("beneficial", "Beneficial taxa"), ("pathobiont", "Pathobionts")):
        rows = []
        for c in panel_cols:
            e = entries[c]
            if e.get("panel") != pname:
                continue
            rows.append(
                {
                    "name": short_of[c],
                    "taxon": e.get("taxon") or c,
                    "detail": detail(short_of[c], str(e.get("taxon") or c)),
                    "cells": [
                        panel_cell(_cell(group_summary[c][g]["median"], "percent"), c, not_measurable) for g in gorder
                    ],
                    "not_measurable": not_measurable.get(c),
                    "caveat": e.get("caveat", ""),
                    "citations": citations(e.get("citation", "")),
                }
            )
        if rows:
            panels_ctx.append({"name": pname, "title": ptitle + " (median %)", "rows": rows})
    pct_summary = {}
    if show_pct is not None:
        for c in show_pct.columns:
            meds = {g: _finite(show_pct.loc[(glab == g).to_numpy(), c].median()) for g in gorder}
            pct_summary[c] = meds
            percentile_rows.append(
                {"label": labels_of.get(c, c), "cells": [_cell(meds[g], "percentile") for g in gorder]}
            )
    cards.append({"label": "Samples", **_cell(adata.n_obs), "sub": f"{adata.n_vars} taxa"})
    carded = card_groups(gorder, {g["name"]: g["n"] for g in groups_ctx})
    if len(carded) < len(gorder):
        notes.append(f"{len(gorder)} groups: {CARD_RULE}.")
    for c, name in (("GMHI", "GMHI"), ("shannon", "Shannon")):
        if c not in show.columns:
            continue
        for rank, g in enumerate(carded, 1):
            place = "largest" if rank == 1 else f"{rank}{'nd' if rank == 2 else 'rd' if rank == 3 else 'th'} largest"
            size = f" · {place} of {len(gorder)} groups" if len(carded) < len(gorder) else ""
            cards.append(
                {
                    "label": f"Median {name} — {g}",
                    **_cell(group_summary[c][g]["median"]),
                    "sub": f"n={group_summary[c][g]['n']}{size}",
                }
            )
    lead = (
        f"{adata.n_obs} samples"
        + (f" in {len(gorder)} groups of column {group_col!r}" if group_col else "")
        + f", {adata.n_vars} taxa. "
        + (
            "Percentiles are against " + ref_info["description"] + "."
            if ref_info["available"]
            else "No healthy reference: no percentiles."
        )
    )
    subtitle = f"Cohort: {adata.n_obs} samples · {adata.n_vars} taxa · made {now}"
    return ReportTables(
        lead=lead,
        subtitle=subtitle,
        panels=panels_ctx,
        cards=cards,
        groups=groups_ctx,
        group_rows=group_rows,
        percentile_rows=percentile_rows,
        group_summary=group_summary,
        group_summary_pct=pct_summary,
    )
