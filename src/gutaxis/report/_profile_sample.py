"""The report on one sample: its percentile and composition figures, its index and panel tables,
its summary cards and the opening lines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import finite_or_none as _finite
from ._denominator import panel_cell
from ._profile_context import ProfileIndices, ReferencePlacement, ReportInput, ReportTables, ShownValues
from ._profile_numbers import cell as _cell
from ._profile_texts import detail, index_label
from ._render import citations

__all__ = ["sample_figures", "sample_tables"]


def sample_figures(inp: ReportInput, ind: ProfileIndices, shown: ShownValues) -> tuple[dict, int]:
    """({figure name: SVG} of the sample, the number of taxa detected in it)."""
    from . import figures as F

    adata, sample, show_pct, short_of = inp.adata, inp.sample, shown.percentiles, shown.short
    entries, panel_cols, panel_attrs = ind.entries, ind.panel_cols, ind.panel_attrs
    figs = {}
    if show_pct is not None:
        order_pct = [c for c in ind.core_cols + panel_cols if c in show_pct.columns]
        figs["percentiles"] = F.percentile_chart(
            show_pct.loc[sample, order_pct], short_of, {c: entries[c].get("panel") for c in panel_cols}
        )
    X = adata[sample].X
    X = np.asarray(X.todense() if hasattr(X, "todense") else X).ravel()
    abundance = pd.Series(X / X.sum() if X.sum() > 0 else X, index=adata.var_names.astype(str))
    kind = pd.Series("other", index=abundance.index, dtype=object)
    for entry in panel_cols:
        for f in panel_attrs.get("matched", {}).get(entry, []):
            if kind.get(f) == "other" or entries[entry]["panel"] == "pathobiont":
                kind[str(f)] = entries[entry]["panel"]
    figs["top_taxa"] = F.top_taxa(abundance, kind)
    return figs, int((abundance > 0).sum())


def sample_tables(
    inp: ReportInput,
    ind: ProfileIndices,
    placed: ReferencePlacement,
    shown: ShownValues,
    n_present: int | None,
    now: str,
) -> ReportTables:
    """The sample's index and panel tables (value and percentile), cards, lead and subtitle."""
    adata, sample, show, show_pct, short_of = inp.adata, inp.sample, shown.indices, shown.percentiles, shown.short
    entries, counts, panel_cols, panel_attrs = ind.entries, ind.counts, ind.panel_cols, ind.panel_attrs
    not_measurable, ref_info = placed.not_measurable, placed.info
    index_rows: list[dict] = []
    panels_ctx: list[dict] = []
    cards: list[dict] = []
    for c in ind.core_cols:
        label, about = index_label(c, entries, counts)
        index_rows.append(
            {
                "key": c,
                "label": label,
                "about": about,
                "value": _cell(show.at[sample, c]),
                "pct": _cell(None if show_pct is None or c not in show_pct else show_pct.at[sample, c], "percentile"),
            }
        )
    for pname, ptitle in (("beneficial", "Beneficial taxa"), ("pathobiont", "Pathobionts")):
        rows = []
        for c in panel_cols:
            e = entries[c]
            if e.get("panel") != pname:
                continue
            rows.append(
                {
                    "entry": c,
                    "name": short_of[c],
                    "taxon": e.get("taxon") or c,
                    "detail": detail(short_of[c], str(e.get("taxon") or c)),
                    "value": panel_cell(_cell(show.at[sample, c], "percent"), c, not_measurable),
                    "not_measurable": not_measurable.get(c),
                    "pct": _cell(
                        None if show_pct is None or c not in show_pct else show_pct.at[sample, c], "percentile"
                    ),
                    "role": e.get("role", ""),
                    "direction": e.get("direction_in_disease", ""),
                    "caveat": e.get("caveat", ""),
                    "citations": citations(e.get("citation", "")),
                    "unmatched": c in panel_attrs.get("unmatched", []),
                }
            )
        if rows:
            panels_ctx.append({"name": pname, "title": ptitle, "rows": rows})
    gv = show.at[sample, "GMHI"] if "GMHI" in show.columns else None
    for c, kind in (
        ("GMHI", "index"),
        ("shannon", "index"),
        ("richness", "index"),
        ("butyrate_producers", "percent"),
        ("enterobacteriaceae", "percent"),
    ):
        if c not in show.columns:
            continue
        cell = _cell(show.at[sample, c], kind)
        sub = ""
        if show_pct is not None and c in show_pct.columns and _finite(show_pct.at[sample, c]) is not None:
            sub = f"percentile {show_pct.at[sample, c]:.0f} among healthy"
        cards.append({"label": short_of[c] + (" (%)" if kind == "percent" else ""), **cell, "sub": sub})
    g_txt = ""
    if (g_num := _finite(gv)) is not None:
        g_txt = f" Its GMHI is {_cell(gv)['text']}: " + (
            "the health-prevalent species outweigh the health-scarce ones."
            if g_num > 0
            else "the health-scarce species outweigh the health-prevalent ones."
            if g_num < 0
            else "the two species sets are balanced."
        )
    lead = (
        f"Gut health picture of sample {sample}: {n_present} taxa detected."
        + g_txt
        + ("" if ref_info["available"] else " No healthy reference was supplied, so no percentiles are shown.")
    )
    subtitle = f"One sample: {sample} · {adata.n_vars} taxa in the profile · made {now}"
    return ReportTables(
        lead=lead,
        subtitle=subtitle,
        n_taxa_present=n_present,
        index_rows=index_rows,
        panels=panels_ctx,
        cards=cards,
    )
