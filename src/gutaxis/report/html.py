"""The self-contained HTML report and the TSV/JSON files of every number it shows.

:func:`write_report` computes nothing new: it calls the measure API
(:func:`~gutaxis.measure.reference.health_indices`, :func:`~gutaxis.measure.panels.panel_abundance`,
:func:`~gutaxis.measure.reference.build_reference` / :func:`~gutaxis.measure.reference.percentiles`,
:func:`~gutaxis.measure.beta.beta_diversity`, :func:`~gutaxis.measure.ordination.pcoa`,
:func:`~gutaxis.measure.dysbiosis.dysbiosis_score`), lays the results out and records them with
their provenance.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ForwardRef

import numpy as np
import pandas as pd

from .._typing import AbundanceData, PathLike
from .._validation import finite_or_none as _finite
from ..errors import InputError
from ..io._container import file_sha256
from ._render import citations, render

if TYPE_CHECKING:
    from ..measure.reference import HealthyReference as _HealthyReference
else:  # gutaxis.measure loads numba: imported where used; typing.get_type_hints resolves this there
    _HealthyReference = ForwardRef("HealthyReference", module="gutaxis.measure.reference")

__all__ = ["DISCLAIMER", "HEALTHY_LABELS", "MIN_REFERENCE_SAMPLES", "write_report"]

DISCLAIMER = "This report informs a conversation with a clinician or registered dietitian; it is not a diagnosis."
#: group labels (case-insensitive) that mark the healthy reference group of a cohort
HEALTHY_LABELS = frozenset(
    {
        "healthy",
        "health",
        "control",
        "controls",
        "healthy control",
        "healthy controls",
        "hc",
        "nonibd",
        "non-ibd",
        "normal",
    }
)
#: group columns tried, in order, when ``group`` is not given
GROUP_CANDIDATES = (
    "group",
    "Group",
    "Phenotype",
    "phenotype",
    "diagnosis",
    "Diagnosis",
    "disease",
    "Disease",
    "condition",
    "status",
    "study_condition",
)
#: what to do without a healthy reference: the command-line steps (shown in the report and summary.json)
REFERENCE_HINT = (
    "To see where each value lies among healthy people, build a healthy reference and pass it with -r: "
    "`gutaxis reference --from-dataset gmhi2020_validation -o healthy.json` (the 118 healthy people of the GMHI "
    "validation cohort, MetaPhlAn2 profiles; downloaded once — offline, first `gutaxis datasets fetch "
    "gmhi2020_validation --from FOLDER`), then `gutaxis report PROFILE -r healthy.json -o OUT`. From your own "
    "labelled cohort: `gutaxis reference COHORT -m METADATA --healthy COLUMN=VALUE -o healthy.json`. The built-in "
    "demo cohort is synthetic and would give meaningless percentiles."
)
#: fewest healthy samples from which a cohort's own reference is built (fewer: no percentiles)
MIN_REFERENCE_SAMPLES = 5
SUBJECT_CANDIDATES = ("subject_id", "subject", "Subject", "participant_id", "host_subject_id")

_INDEX_INFO = {
    "GMHI": (
        "GMHI (Gut Microbiome Health Index)",
        "Balance of {n_mh} health-prevalent against {n_mn} health-scarce species; above 0 the profile "
        "resembles those of healthy people more than those of people with a disease.",
    ),
    "richness": ("Richness", "Number of taxa detected (depends on sequencing depth and the profiler)."),
    "chao1": (
        "Chao1 richness estimate",
        "Estimated number of taxa, including those too rare to be seen, from the taxa seen once or twice.",
    ),
    "shannon": (
        "Shannon diversity",
        "Number and evenness of taxa together (natural logarithm; higher = more diverse).",
    ),
    "simpson": ("Simpson diversity", "Chance that two reads picked at random belong to different taxa (0 to 1)."),
    "inverse_simpson": ("Inverse Simpson", "Effective number of dominant taxa."),
    "pielou": ("Pielou evenness", "How evenly the abundance is spread over the taxa detected (0 to 1)."),
    "dysbiosis_score": (
        "HMP2 dysbiosis score",
        "Median Bray-Curtis dissimilarity to the healthy reference samples (0 to 1; higher = further from them).",
    ),
}
_SHORT = {
    "GMHI": "GMHI",
    "richness": "Richness",
    "chao1": "Chao1",
    "shannon": "Shannon",
    "simpson": "Simpson",
    "inverse_simpson": "Inverse Simpson",
    "pielou": "Pielou evenness",
    "dysbiosis_score": "HMP2 dysbiosis score",
}
_FIGURE_INDICES = ("GMHI", "shannon", "richness", "chao1", "pielou", "dysbiosis_score")
_FIGURE_PANELS = ("butyrate_producers", "bifidobacterium", "enterobacteriaceae")
_STEPS = (
    "checking the input",
    "health indices",
    "healthy reference and percentiles",
    "distances and ordination",
    "figures",
    "writing files",
)


# --------------------------------------------------------------------------- small helpers


def _cell(x, kind: str = "index") -> dict:
    """``{"raw": float|None, "text": str}`` for a table cell; ``kind`` index, percent or percentile."""
    v = _finite(x)
    if v is None:
        return {"raw": None, "text": "—"}
    if kind == "percent":
        p = 100.0 * v
        if p == 0:
            text = "0"
        elif p < 0.01:
            text = "<0.01"
        elif p < 10:
            text = f"{p:.2f}"
        else:
            text = f"{p:.1f}"
    elif kind == "percentile" or (float(v).is_integer() and abs(v) < 1e6):
        text = f"{v:.0f}"
    elif abs(v) >= 100:
        text = f"{v:,.0f}"
    else:
        text = f"{v:.3g}" if abs(v) >= 0.001 else f"{v:.2e}"
    return {"raw": v, "text": text}


def _jsonable(obj):
    """Plain JSON types; NaN/inf -> None; numpy and pandas scalars unwrapped."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset, pd.Index, np.ndarray)):
        return [_jsonable(v) for v in (sorted(obj) if isinstance(obj, (set, frozenset)) else list(obj))]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _finite(obj)
    if obj is None or obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, (str, Path)):
        return str(obj)
    try:
        if pd.isna(obj):
            return None
    except (TypeError, ValueError):
        pass
    return str(obj)


def _frame_records(df: pd.DataFrame) -> dict:
    return {str(i): {str(c): _jsonable(v) for c, v in row.items()} for i, row in df.iterrows()}


def _as_anndata(data):
    from .._validation import _is_anndata, abundance_matrix

    if _is_anndata(data):
        abundance_matrix(data, name="report input")
        return data
    if isinstance(data, pd.DataFrame):
        import anndata as ad

        X, samples, features = abundance_matrix(data, name="report input")
        return ad.AnnData(
            X=np.asarray(X), obs=pd.DataFrame(index=samples.astype(str)), var=pd.DataFrame(index=features.astype(str))
        )
    raise InputError(
        f"expected an AnnData or a samples x taxa DataFrame, got {type(data).__name__}",
        source="write_report",
        hint="read a profile with gutaxis.read_profile(...)",
    )


def _is_synthetic(adata) -> bool:
    if bool(adata.uns.get("synthetic", False)):
        return True
    return "synthetic" in adata.obs.columns and bool(adata.obs["synthetic"].astype(bool).all())


def _resolve_group(adata, group: str | None):
    """(column or None, labels Series (str, NaN where missing), ordered labels, auto-detected?)."""
    obs = adata.obs
    auto = group is None
    if group is None:
        group = next((c for c in GROUP_CANDIDATES if c in obs.columns and 2 <= obs[c].nunique(dropna=True) <= 30), None)
        if group is None:
            return None, None, [], False
    elif group not in obs.columns:
        cols = ", ".join(map(str, obs.columns[:20])) or "none"
        raise InputError(
            f"group column {group!r} is not in the sample metadata",
            source="write_report",
            hint=f"metadata columns are: {cols}; add metadata with --metadata",
        )
    col = obs[group]
    labels = col.astype(object).where(col.notna(), None).map(lambda v: None if v is None else str(v))
    if isinstance(col.dtype, pd.CategoricalDtype):
        order = [str(c) for c in col.cat.categories if (col == c).any()]
    else:
        order = sorted({v for v in labels if v is not None}, key=lambda v: (v.lower() not in HEALTHY_LABELS, v))
    return group, labels, order, auto


def _healthy_values(order: list[str]) -> list[str]:
    return [g for g in order if g.strip().lower() in HEALTHY_LABELS]


def _load_reference(reference):
    from ..measure.reference import HealthyReference

    if reference is None or isinstance(reference, HealthyReference):
        return reference, None
    if isinstance(reference, (str, os.PathLike)):
        path = Path(reference)
        ref = HealthyReference.from_json(path)
        return ref, path
    raise InputError(
        f"reference must be a HealthyReference or the path of its JSON file, got {type(reference).__name__}",
        source="write_report",
        hint="build one with gutaxis.build_reference(...).to_json(path)",
    )


def _index_label(col: str, entries: dict, counts: dict) -> tuple[str, str]:
    if col in _INDEX_INFO:
        label, about = _INDEX_INFO[col]
        return label, about.format(**counts)
    if col in entries:
        e = entries[col]
        return f"{e.get('taxon') or col}", f"Share of the profile ({e.get('panel', '')} panel)."
    return col, ""


def _detail(name: str, taxon: str) -> str:
    """What a panel entry's full taxon text adds to its short name ('' when nothing)."""
    rest = taxon[len(name) :].strip() if taxon.startswith(name) else taxon
    return rest[1:-1].strip() if rest.startswith("(") and rest.endswith(")") else rest


def _short_label(col: str, entries: dict) -> str:
    """A label short enough for figure titles and summary cards."""
    if col in _SHORT:
        return _SHORT[col]
    if col in entries:
        taxon = str(entries[col].get("taxon") or col)
        return taxon.split(" (")[0].strip() or col
    return col


# --------------------------------------------------------------------------- explanations
def _explanations(entries: dict, counts: dict, *, synthetic: bool) -> list[dict]:
    from ..measure.gmhi import CITATION as GMHI_CITATION

    items: list[dict[str, Any]] = [
        {
            "heading": "The Gut Microbiome Health Index (GMHI)",
            "paras": [
                f"GMHI compares {counts['n_mh']} species found more often in the stool of healthy people with "
                f"{counts['n_mn']} species found more often in people with a range of diseases, in a meta-analysis "
                "of several thousand published stool metagenomes. Above 0, the health-prevalent species are the "
                "more abundant and diverse of the two sets; below 0, the health-scarce ones.",
                "It can say how much a community resembles the healthy communities of that study. It cannot say "
                "whether a person has, or will get, any disease, nor which one: many people with a disease have "
                "a positive GMHI and some healthy people a negative one. It was built on MetaPhlAn2 species "
                "profiles; values from other profilers or databases (MetaPhlAn 3/4, 16S rRNA genus tables) are "
                "not directly comparable, and genus-level data cannot give it at all.",
            ],
            "citations": citations(GMHI_CITATION),
        },
        {
            "heading": "Diversity",
            "paras": [
                "Richness counts the taxa detected; Chao1 estimates how many there are including unseen rare "
                "ones; Shannon and Simpson combine the number of taxa with how evenly they are spread; Pielou "
                "measures evenness alone.",
                "Lower diversity is common in many disease groups and after antibiotics, but higher is not "
                "always better: diversity also rises with slower gut transit (harder stools), and there is no "
                "universal healthy cut-off. Richness depends on sequencing depth and on the profiler, so compare "
                "values only between samples processed the same way.",
            ],
            "citations": citations("doi:10.1136/gutjnl-2015-309618"),
        },
        {
            "heading": "Beneficial taxa and pathobionts",
            "paras": [
                "The panels sum the relative abundance of taxa that published studies associate with health "
                "(for example butyrate producers such as Faecalibacterium prausnitzii) or with disease "
                "(for example blooms of Enterobacteriaceae). These are associations found in groups of people, "
                "not proof that a taxon helps or harms one person; effects often depend on the strain, which "
                "a species profile does not resolve.",
            ],
            "citations": [],
        },
    ]
    akk = entries.get("akkermansia_muciniphila")
    if akk:
        items.append(
            {
                "heading": "Akkermansia muciniphila: mixed evidence",
                "paras": [
                    "Akkermansia is listed with the beneficial taxa because it is lower with obesity and type 2 "
                    "diabetes and supported the gut barrier in mice, but more is not simply better.",
                    str(akk.get("caveat", "")),
                ],
                "citations": citations(akk.get("citation", "")),
            }
        )
    items.append(
        {
            "heading": "A single stool sample is a snapshot",
            "paras": [
                "The gut community shifts with recent meals, medicines (antibiotics above all, but also for example "
                "proton-pump inhibitors and metformin), illness, travel and stool consistency. One sample shows one "
                "day; repeated samples weeks apart say more than one. Percentiles compare with the healthy reference "
                "given; half of healthy people lie outside its middle half (25th–75th percentile) by definition.",
            ],
            "citations": [],
        }
    )
    if synthetic:
        items.append(
            {
                "heading": "About the synthetic demo data",
                "paras": [
                    "The demo cohort is invented: random draws over real species names, made so that its healthy and "
                    "dysbiotic groups differ in the direction published studies report. Its numbers illustrate the "
                    "report and must not be read as results about real people, nor used as a reference.",
                ],
                "citations": [],
            }
        )
    return items


# --------------------------------------------------------------------------- main entry point
def write_report(
    adata: AbundanceData,
    out_dir: str | os.PathLike,
    *,
    reference: _HealthyReference | PathLike | None = None,
    group: str | None = None,
    title: str | None = None,
    sample: str | None = None,
    groups: str | Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write a self-contained HTML gut-health report with TSV/JSON files of every number.

    Parameters
    ----------
    adata
        AnnData (samples x taxa, relative abundances; metadata in ``obs``) or a samples x taxa
        DataFrame.
    out_dir
        Folder to write into (created if needed). Files: ``report.html``, ``indices.tsv``,
        ``percentiles.tsv``, ``panels.tsv``, ``summary.json`` and, for a cohort, ``pcoa.tsv``.
    reference
        A :class:`~gutaxis.measure.reference.HealthyReference` or the path of its JSON file. Without
        one, a cohort whose group column has a healthy label (``healthy``, ``control``, ``nonIBD``,
        ...) is placed against a reference built from its healthy samples; a lone sample gets no
        percentiles, and the report says so.
    group
        Metadata column that groups a cohort (e.g. ``"Phenotype"``); default the first of
        ``group``, ``Phenotype``, ``diagnosis``, ... present in ``obs``.
    title
        Report title; default ``uns["title"]`` or "Gut microbiome report". Synthetic input
        (``uns["synthetic"]``) always carries SYNTHETIC in the title.
    sample
        Report on this one sample of a cohort (one-person mode); the rest of the cohort can serve
        as its healthy reference (the sample itself is left out of it).
    groups
        Keep only the samples of these groups of the group column (a list, or one string of
        comma-separated names); the report says which were kept. A cohort report's summary cards
        show the largest groups (``gutaxis.report._groups.CARD_RULE``).
    progress
        Called with the name of each step as it starts (the CLI draws a progress bar with it).

    Returns
    -------
    pathlib.Path of ``report.html``.

    Notes
    -----
    The report informs a conversation with a clinician or registered dietitian; it never diagnoses.
    """
    from .. import __version__
    from ..measure.gmhi import gmhi_species
    from ..measure.reference import build_reference, health_indices, percentiles

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    step(_STEPS[0])
    adata = _as_anndata(adata)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("the output path exists and is not a folder", source=out, hint="choose a folder with -o")
    if sample is not None:
        sample = str(sample)
        if sample not in adata.obs_names:
            raise InputError(
                f"sample {sample!r} is not in the profile ({adata.n_obs} samples)",
                source="write_report",
                hint="give one of the sample IDs of the table",
            )
    single = sample is not None or adata.n_obs == 1
    if single and sample is None:
        sample = str(adata.obs_names[0])
    synthetic = _is_synthetic(adata)
    group_col, labels, order, group_auto = _resolve_group(adata, group)
    kept_groups = None
    if groups is not None:
        from ._groups import keep_groups, parse_groups

        kept_groups = parse_groups(groups)
        n_before = adata.n_obs
        adata = keep_groups(adata, group_col, kept_groups, auto=group_auto)
        group_col, labels, order, group_auto = _resolve_group(adata, group_col)
        group_auto = group is None
        if sample is not None and sample not in adata.obs_names:
            raise InputError(
                f"sample {sample!r} is not in the groups kept ({', '.join(kept_groups)})",
                source="write_report",
                hint="give a sample of those groups, or add its group",
            )
        single = sample is not None or adata.n_obs == 1
        if single and sample is None:
            sample = str(adata.obs_names[0])
    ref, ref_path = _load_reference(reference)

    gtab = gmhi_species()
    counts = {"n_mh": int((gtab["group"] == "MH").sum()), "n_mn": int((gtab["group"] == "MN").sum())}

    # ---- indices (GMHI, alpha diversity, panel entries) for every sample
    step(_STEPS[1])
    indices = health_indices(adata)
    index_attrs = indices.attrs
    indices = pd.DataFrame(indices, copy=True)
    indices.attrs = {}  # pandas deep-copies attrs on every operation: keep them aside
    notes = [str(n) for n in index_attrs.get("notes", [])]
    if kept_groups is not None:
        notes.append(
            f"Only the groups {', '.join(map(repr, kept_groups))} of column {group_col!r} are shown "
            f"({adata.n_obs} of {n_before} samples)."
        )
    panel_attrs = index_attrs.get("panels", {})
    entries = {e["entry"]: e for e in panel_attrs.get("entries", [])}
    panel_cols = [c for c in indices.columns if c in entries]
    core_cols = [c for c in indices.columns if c not in entries]

    healthy_mask = None
    if labels is not None:
        hv = _healthy_values(order)
        if hv:
            healthy_mask = labels.isin(hv).to_numpy()

    dysbiosis_info = None
    if not single and healthy_mask is not None and healthy_mask.sum() >= 2:
        from ..measure.dysbiosis import dysbiosis_score

        subject = next((c for c in SUBJECT_CANDIDATES if c in adata.obs.columns), None)
        try:
            dys = dysbiosis_score(adata, reference=healthy_mask, subject=subject)
        except InputError as exc:  # e.g. no eligible reference sample: say so, report the rest
            notes.append(f"HMP2 dysbiosis score not computed: {exc}")
        else:
            indices.insert(len(core_cols), "dysbiosis_score", dys["dysbiosis_score"].reindex(indices.index))
            core_cols.append("dysbiosis_score")
            dysbiosis_info = {
                "reference": "samples of the healthy group",
                "subject_column": subject,
                "threshold": _jsonable(dys.attrs.get("threshold")),
                "n_reference": _jsonable(dys.attrs.get("n_reference")),
                "dysbiotic": {str(k): _jsonable(v) for k, v in dys["dysbiotic"].items()},
            }

    # ---- reference and percentiles
    step(_STEPS[2])
    ref_info: dict[str, Any] = {
        "available": False,
        "description": "",
        "note": "",
        "source": None,
        "n_samples": None,
        "built_from": None,
    }
    if ref is not None:
        ref_info.update(
            available=True,
            built_from="supplied",
            source=str(ref_path) if ref_path else ref.source,
            n_samples=ref.n_samples,
            description=f"the {ref.n_samples} healthy reference samples supplied ({ref.source})",
        )
    elif healthy_mask is not None:
        mask = healthy_mask.copy()
        if single:
            mask &= adata.obs_names != sample
        n_ref = int(mask.sum())
        healthy_text = ", ".join(repr(v) for v in _healthy_values(order))
        if n_ref >= MIN_REFERENCE_SAMPLES:
            src = (
                f"{n_ref} samples labelled {healthy_text} in column {group_col!r} of this "
                + ("SYNTHETIC demo cohort" if synthetic else "cohort")
                + (
                    f", leaving out sample {sample!r} itself"
                    if single and healthy_mask[list(adata.obs_names).index(sample)]
                    else ""
                )
            )
            ref = build_reference(None, healthy=mask, indices=indices[core_cols + panel_cols], source=src)
            ref_info.update(available=True, built_from="cohort", source=src, n_samples=n_ref, description=f"the {src}")
            if synthetic:
                notes.append(
                    "The healthy reference is part of the synthetic demo cohort: its percentiles "
                    "illustrate the report only."
                )
        else:
            ref_info["note"] = (
                f"The group column {group_col!r} has only {n_ref} healthy sample(s) to compare with "
                f"(at least {MIN_REFERENCE_SAMPLES} are needed)."
            )
    if not ref_info["available"] and not ref_info["note"]:
        ref_info["note"] = REFERENCE_HINT
    pct = percentiles(indices, ref) if ref is not None else None
    from ._denominator import denominator_context, panel_cell, profiler_context

    den = denominator_context(adata, [sample] if single else adata.obs_names)
    prof = profiler_context(adata, ref, ref_info["built_from"])
    if prof["warning"]:
        notes.append(prof["warning"])
    not_measurable = dict(panel_attrs.get("not_measurable", {}))
    if pct is not None and pct.attrs.get("no_reference"):
        notes.append(
            "No reference values for: "
            + ", ".join(map(str, pct.attrs["no_reference"]))
            + " (shown without percentiles)."
        )

    # ---- cohort: distances and ordination
    step(_STEPS[3])
    coords = None
    ordination_note = ""
    if not single:
        if adata.n_obs >= 3:
            from ..measure.beta import beta_diversity
            from ..measure.ordination import pcoa

            dist = beta_diversity(adata, metric="braycurtis", normalize=True)  # of the classified reads
            coords = pcoa(dist, n_components=2)
            notes.extend(str(n) for n in coords.attrs.get("notes", []))
        else:
            ordination_note = "An ordination needs at least 3 samples."

    # ---- what goes into the report: one sample, or the whole cohort
    show = indices.loc[[sample]] if single else indices
    show_pct = None if pct is None else (pct.loc[[sample]] if single else pct)
    panels_df = show[panel_cols]

    step(_STEPS[4])
    from . import figures as F

    labels_of = {c: _index_label(c, entries, counts)[0] for c in indices.columns}
    short_of = {c: _short_label(c, entries) for c in indices.columns}
    figs = dict.fromkeys(("percentiles", "top_taxa", "distributions", "ordination"))
    if single:
        if show_pct is not None:
            order_pct = [c for c in core_cols + panel_cols if c in show_pct.columns]
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
        n_present = int((abundance > 0).sum())
    else:
        n_present = None
        glabels = labels if labels is not None else pd.Series("all samples", index=adata.obs_names)
        gorder = order if labels is not None else ["all samples"]
        fig_cols = [c for c in _FIGURE_INDICES if c in show.columns and show[c].notna().any()]
        fig_cols += [c for c in _FIGURE_PANELS if c in show.columns]
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

    # ---- tables and summary
    step(_STEPS[5])
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    prov_in = dict(adata.uns.get("provenance", {}) or {})
    title = title or str(adata.uns.get("title") or "") or "Gut microbiome report"
    if synthetic and "SYNTHETIC" not in title.upper():
        title = f"SYNTHETIC — {title}"
    index_rows, panels_ctx, group_rows, percentile_rows, cards = [], [], [], [], []
    groups_ctx: list[dict[str, Any]] = []  # {"name": group, "n": its samples}
    group_summary = {}
    if single:
        for c in core_cols:
            label, about = _index_label(c, entries, counts)
            index_rows.append(
                {
                    "key": c,
                    "label": label,
                    "about": about,
                    "value": _cell(show.at[sample, c]),
                    "pct": _cell(
                        None if show_pct is None or c not in show_pct else show_pct.at[sample, c], "percentile"
                    ),
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
                        "detail": _detail(short_of[c], str(e.get("taxon") or c)),
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
    else:
        glab = labels if labels is not None else pd.Series("all samples", index=adata.obs_names)
        gorder = order if labels is not None else ["all samples"]
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
                        "detail": _detail(short_of[c], str(e.get("taxon") or c)),
                        "cells": [
                            panel_cell(_cell(group_summary[c][g]["median"], "percent"), c, not_measurable)
                            for g in gorder
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
        group_summary_pct = pct_summary
        cards.append({"label": "Samples", **_cell(adata.n_obs), "sub": f"{adata.n_vars} taxa"})
        from ._groups import CARD_RULE, card_groups

        shown = card_groups(gorder, {g["name"]: g["n"] for g in groups_ctx})
        if len(shown) < len(gorder):
            notes.append(f"{len(gorder)} groups: {CARD_RULE}.")
        for c, name in (("GMHI", "GMHI"), ("shannon", "Shannon")):
            if c not in show.columns:
                continue
            for rank, g in enumerate(shown, 1):
                place = (
                    "largest" if rank == 1 else f"{rank}{'nd' if rank == 2 else 'rd' if rank == 3 else 'th'} largest"
                )
                size = f" · {place} of {len(gorder)} groups" if len(shown) < len(gorder) else ""
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

    # ---- provenance
    params = {
        "mode": "single" if single else "cohort",
        "sample": sample,
        "group_column": group_col,
        "group_column_auto_detected": bool(group_auto) if group_col else None,
        "reference": ref_info["source"] if ref_info["available"] else None,
        "reference_built_from": ref_info["built_from"],
        "beta_metric": None if single else "braycurtis",
        "pcoa_components": None if single else 2,
        "percentile_kind": None if pct is None else pct.attrs.get("params", {}).get("kind"),
        "title": title,
        "groups_kept": kept_groups,
    }
    provenance = {
        "gutaxis_version": __version__,
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
            "unclassified": den["provenance"],
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
            "sha256": file_sha256(ref_path) if ref_path else None,
            "profiler": prof["reference"],
            "profiler_comparison": prof["status"],
        },
        "software": {"gutaxis": __version__, "figures": "matplotlib (Agg backend), inline SVG"},
    }
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
        "unclassified": den["summary"],
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
            "not_measurable": not_measurable,
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
        summary["n_taxa_detected"] = n_present
    else:
        summary["groups"] = {
            "column": group_col,
            "auto_detected": bool(group_auto) if group_col else None,
            "counts": {g["name"]: g["n"] for g in groups_ctx},
            "summary": group_summary,
            "percentile_medians": group_summary_pct or None,
        }
        if dysbiosis_info is not None:
            summary["dysbiosis"] = dysbiosis_info
        if coords is not None:
            summary["pcoa"] = {
                "metric": "braycurtis",
                "proportion_explained": _jsonable(coords.attrs.get("proportion_explained", [])[:2]),
                "eigenvalues": _jsonable(coords.attrs.get("eigenvalues", [])[:2]),
                "coordinates": _frame_records(coords),
            }

    # TSV files (full float precision, so every number equals the one in summary.json)
    show.to_csv(out / "indices.tsv", sep="\t", index_label="sample")
    (
        show_pct if show_pct is not None else pd.DataFrame(index=show.index, columns=list(show.columns), dtype=float)
    ).to_csv(out / "percentiles.tsv", sep="\t", index_label="sample")
    panels_df.to_csv(out / "panels.tsv", sep="\t", index_label="sample")
    if coords is not None:
        coords.to_csv(out / "pcoa.tsv", sep="\t", index_label="sample")
    (out / "summary.json").write_text(
        json.dumps(_jsonable(summary), indent=1, allow_nan=False) + "\n", encoding="utf-8"
    )

    prov_rows = [
        ("gutaxis version", __version__),
        ("made (UTC)", now),
        ("input", prov_in.get("source") or "(in-memory data)"),
        ("input sha256", prov_in.get("sha256") or "—"),
        ("reader", prov_in.get("reader") or "—"),
        ("profiler", prof["profile"]),
        ("relative abundances", "shares of the classified reads (each sample's taxa sum to 100 %)"),
        ("unclassified reads", den["provenance"]),
        ("mode", "one sample" if single else "cohort"),
        ("group column", group_col or "—"),
        ("healthy reference", ref_info["source"] if ref_info["available"] else "none"),
        ("reference profiler", prof["reference"] or "—"),
        ("percentiles", "mid-rank (as scipy.stats.percentileofscore kind='mean')" if pct is not None else "—"),
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
    ordination_text = ""
    if coords is not None:
        pe = coords.attrs.get("proportion_explained", [])
        if len(pe) >= 2 and _finite(pe[0]) is not None:
            ordination_text = (
                f"The first two axes explain {100 * pe[0]:.1f}% and {100 * pe[1]:.1f}% of the "
                "variation in the distances."
            )

    synthetic_note = (
        "These profiles were generated by gutaxis.demo (Dirichlet-multinomial draws over real species "
        "names). They show what the report looks like; they are not results about real people."
    )
    html = _render(
        title=title,
        subtitle=subtitle,
        synthetic=synthetic,
        synthetic_note=synthetic_note,
        mode="single" if single else "cohort",
        version=__version__,
        generated_at=now,
        disclaimer=DISCLAIMER,
        lead=lead,
        cards=cards,
        sample=sample,
        reference=ref_info,
        index_rows=index_rows,
        panels=panels_ctx,
        figures=figs,
        n_taxa_present=n_present,
        group_column=group_col,
        group_auto=group_auto,
        groups=groups_ctx,
        group_rows=group_rows,
        percentile_rows=percentile_rows,
        ordination_note=ordination_note,
        ordination_text=ordination_text,
        explanations=_explanations(entries, counts, synthetic=synthetic),
        provenance_rows=prov_rows,
        filtered=filtered,
        notes=notes,
        files=files,
        denominator=den,
        profilers=prof,
    )
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def _render(**context) -> str:
    return render("report.html.j2", **context)
