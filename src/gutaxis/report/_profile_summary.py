"""The profile report's record of itself: its provenance (inputs, parameters, reference, software),
what the readers and indices left out, the files it writes, summary.json, and the provenance table
of the page."""

from __future__ import annotations

import pandas as pd

from ..io._container import file_sha256
from ._profile_context import ProfileIndices, ReferencePlacement, ReportInput, ReportTables, ShownValues
from ._profile_numbers import frame_records as _frame_records
from ._profile_numbers import jsonable as _jsonable
from ._profile_texts import DISCLAIMER

__all__ = ["filtered_rows", "output_files", "provenance_record", "provenance_rows", "summary_record"]


def _input_provenance(adata) -> dict:
    """The reader's record of the profile (``uns["provenance"]``; empty for in-memory data)."""
    return dict(adata.uns.get("provenance", {}) or {})


def provenance_record(inp: ReportInput, placed: ReferencePlacement, *, title: str, now: str, version: str) -> dict:
    """``{gutaxis_version, generated_at, parameters, input, reference, software}`` of summary.json."""
    adata, single, group_col, ref_info, prof = inp.adata, inp.single, inp.group_col, placed.info, placed.prof
    pct, prov_in = placed.pct, _input_provenance(inp.adata)
    params = {
        "mode": "single" if single else "cohort",
        "sample": inp.sample,
        "group_column": group_col,
        "group_column_auto_detected": bool(inp.group_auto) if group_col else None,
        "reference": ref_info["source"] if ref_info["available"] else None,
        "reference_built_from": ref_info["built_from"],
        "beta_metric": None if single else "braycurtis",
        "pcoa_components": None if single else 2,
        "percentile_kind": None if pct is None else pct.attrs.get("params", {}).get("kind"),
        "title": title,
        "groups_kept": inp.kept_groups,
    }
    provenance = {
        "gutaxis_version": version,
        "generated_at": now,
        "parameters": params,
        "input": {
            "source": prov_in.get("source"),
            "sha256": prov_in.get("sha256"),
            "reader": prov_in.get("reader"),
            "reader_params": prov_in.get("params"),
            "filtered": prov_in.get("filtered", []),
            "n_samples": adata.n_obs,
            "n_taxa": adata.n_vars,
            "unclassified": placed.den["provenance"],
            "denominator": "classified reads",
            "profiler": prof["profile"],
            "taxonomy": prov_in.get("taxonomy"),
        },
        "reference": None
        if not ref_info["available"]
        else {
            "source": ref_info["source"],
            "n_samples": ref_info["n_samples"],
            "built_from": ref_info["built_from"],
            "sha256": file_sha256(inp.ref_path) if inp.ref_path else None,
            "profiler": prof["reference"],
            "profiler_comparison": prof["status"],
        },
        "software": {"gutaxis": version, "figures": "matplotlib (Agg backend), inline SVG"},
    }
    return provenance


def filtered_rows(inp: ReportInput, ind: ProfileIndices) -> list[dict]:
    """What the reader and the indices left out of the profile, and why (at most 200 IDs each)."""
    prov_in, index_attrs = _input_provenance(inp.adata), ind.attrs
    filtered = []
    for f in list(prov_in.get("filtered", []) or []):
        if isinstance(f, dict):
            filtered.append(
                {
                    "where": "reader",
                    "what": f.get("what", ""),
                    "reason": f.get("reason", ""),
                    "n": f.get("n", ""),
                    "ids": [str(i) for i in list(f.get("ids", []) or [])[:200]],
                }
            )
    for part in ("gmhi", "panels"):
        for f in index_attrs.get(part, {}).get("filtered", []) or []:
            filtered.append(
                {
                    "where": part,
                    "what": f.get("what", ""),
                    "reason": f.get("reason", ""),
                    "n": f.get("n", ""),
                    "ids": [str(i) for i in list(f.get("ids", []) or [])[:200]],
                }
            )
    return filtered


def output_files(pct: pd.DataFrame | None, coords: pd.DataFrame | None) -> list[dict]:
    """The files of the report folder, each with what it holds."""
    files = [
        {"name": "report.html", "about": "this report (self-contained; opens offline)"},
        {"name": "indices.tsv", "about": "GMHI, diversity and panel entries per sample (panels as proportions 0-1)"},
        {
            "name": "percentiles.tsv",
            "about": "percentile (0-100) of each index among the healthy reference"
            + ("" if pct is not None else " (empty: no reference)"),
        },
        {"name": "panels.tsv", "about": "relative abundance (proportion 0-1) of each panel entry per sample"},
        {"name": "summary.json", "about": "every number shown here, with provenance"},
    ]
    if coords is not None:
        files.append({"name": "pcoa.tsv", "about": "PCoA coordinates of Bray-Curtis distances"})
    return files


def summary_record(
    inp: ReportInput,
    ind: ProfileIndices,
    placed: ReferencePlacement,
    shown: ShownValues,
    tables: ReportTables,
    *,
    title: str,
    provenance: dict,
    notes: list[str],
    filtered: list[dict],
    files: list[dict],
    coords: pd.DataFrame | None,
) -> dict:
    """summary.json: every number the page shows, with its provenance."""
    single, group_col, synthetic = inp.single, inp.group_col, inp.synthetic
    show, show_pct, panels_df, labels_of = shown.indices, shown.percentiles, shown.panels, shown.labels
    entries, panel_cols, panel_attrs, index_attrs = ind.entries, ind.panel_cols, ind.panel_attrs, ind.attrs
    ref_info, prof, cards = placed.info, placed.prof, tables.cards
    summary = {
        "title": title,
        "synthetic": synthetic,
        "mode": "single" if single else "cohort",
        "disclaimer": DISCLAIMER,
        "provenance": provenance,
        "units": {
            "panels": "proportion of the classified reads (0-1); the HTML shows percent",
            "percentiles": "0-100, mid-rank (scipy.stats.percentileofscore kind='mean')",
            "shannon": "natural logarithm",
        },
        "samples": [str(s) for s in show.index],
        "indices": _frame_records(show),
        "index_labels": {c: labels_of.get(c, c) for c in show.columns},
        "percentiles": None if show_pct is None else _frame_records(show_pct),
        "reference": provenance["reference"],
        "reference_note": None if ref_info["available"] else ref_info["note"],
        "unclassified": placed.den["summary"],
        "profilers": {
            "profile": prof["profile"],
            "reference": prof["reference"],
            "comparison": prof["status"],
            "note": prof["text"],
        },
        "panels": {
            "values": _frame_records(panels_df),
            "entries": {
                c: {
                    k: entries[c].get(k)
                    for k in ("panel", "taxon", "role", "direction_in_disease", "caveat", "citation")
                }
                for c in panel_cols
            },
            "matched_features": {c: list(panel_attrs.get("matched", {}).get(c, [])) for c in panel_cols},
            "unmatched": list(panel_attrs.get("unmatched", [])),
            "not_measurable": placed.not_measurable,
        },
        "gmhi": {
            k: _jsonable(v)
            for k, v in index_attrs.get("gmhi", {}).items()
            if k in ("params", "markers_absent", "n_markers_absent", "markers_matched", "citation")
        },
        "cards": [{"label": c["label"], "value": c["raw"], "text": c["text"], "sub": c.get("sub", "")} for c in cards],
        "notes": notes,
        "filtered": filtered,
        "files": [f["name"] for f in files],
    }
    if single:
        summary["n_taxa_detected"] = tables.n_taxa_present
    else:
        summary["groups"] = {
            "column": group_col,
            "auto_detected": bool(inp.group_auto) if group_col else None,
            "counts": {g["name"]: g["n"] for g in tables.groups},
            "summary": tables.group_summary,
            "percentile_medians": tables.group_summary_pct or None,
        }
        if ind.dysbiosis is not None:
            summary["dysbiosis"] = ind.dysbiosis
        if coords is not None:
            summary["pcoa"] = {
                "metric": "braycurtis",
                "proportion_explained": _jsonable(coords.attrs.get("proportion_explained", [])[:2]),
                "eigenvalues": _jsonable(coords.attrs.get("eigenvalues", [])[:2]),
                "coordinates": _frame_records(coords),
            }
    return summary


def provenance_rows(
    inp: ReportInput, ind: ProfileIndices, placed: ReferencePlacement, *, now: str, version: str
) -> list[tuple[str, str]]:
    """(what, value) rows of the page's provenance table."""
    single, group_col, ref_info, prof = inp.single, inp.group_col, placed.info, placed.prof
    prov_in, dysbiosis_info = _input_provenance(inp.adata), ind.dysbiosis
    prov_rows = [
        ("gutaxis version", version),
        ("made (UTC)", now),
        ("input", prov_in.get("source") or "(in-memory data)"),
        ("input sha256", prov_in.get("sha256") or "—"),
        ("reader", prov_in.get("reader") or "—"),
        ("profiler", prof["profile"]),
        ("relative abundances", "shares of the classified reads (each sample's taxa sum to 100 %)"),
        ("unclassified reads", placed.den["provenance"]),
        ("mode", "one sample" if single else "cohort"),
        ("group column", group_col or "—"),
        ("healthy reference", ref_info["source"] if ref_info["available"] else "none"),
        ("reference profiler", prof["reference"] or "—"),
        ("percentiles", "mid-rank (as scipy.stats.percentileofscore kind='mean')" if placed.pct is not None else "—"),
    ]
    if not single:
        prov_rows.append(("distances", "Bray-Curtis on relative abundances; PCoA (2 axes)"))
    if dysbiosis_info is not None:
        prov_rows.append(
            (
                "HMP2 dysbiosis score",
                f"reference: healthy group; subject column: "
                f"{dysbiosis_info['subject_column'] or 'none'} (Lloyd-Price et al. 2019, "
                "doi:10.1038/s41586-019-1237-9)",
            )
        )
    return prov_rows
