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
from typing import TYPE_CHECKING, ForwardRef

import pandas as pd

from .._typing import AbundanceData, PathLike
from ._profile_cohort import cohort_figures, cohort_tables, ordination, ordination_text
from ._profile_context import ProfileIndices, ReferencePlacement, ReportInput, ReportTables, ShownValues
from ._profile_indices import profile_indices, shown_values
from ._profile_input import HEALTHY_LABELS, check_input
from ._profile_numbers import jsonable as _jsonable
from ._profile_reference import MIN_REFERENCE_SAMPLES, place_against_reference
from ._profile_sample import sample_figures, sample_tables
from ._profile_summary import filtered_rows, output_files, provenance_record, provenance_rows, summary_record
from ._profile_texts import DISCLAIMER, SYNTHETIC_NOTE, explanations, report_title
from ._render import render

if TYPE_CHECKING:
    from ..measure.reference import HealthyReference as _HealthyReference
else:  # gutaxis.measure loads numba: imported where used; typing.get_type_hints resolves this there
    _HealthyReference = ForwardRef("HealthyReference", module="gutaxis.measure.reference")

__all__ = ["DISCLAIMER", "HEALTHY_LABELS", "MIN_REFERENCE_SAMPLES", "write_report"]

#: the steps reported to ``progress``, in order (the CLI sizes its progress bar by them)
_STEPS = (
    "checking the input",
    "health indices",
    "healthy reference and percentiles",
    "distances and ordination",
    "figures",
    "writing files",
)
_FIGURES = ("percentiles", "top_taxa", "distributions", "ordination")


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

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    step(_STEPS[0])
    inp = check_input(adata, out_dir, reference=reference, group=group, sample=sample, groups=groups)
    notes: list[str] = []  # what the reader should know, in the order the steps find it

    # ---- indices (GMHI, alpha diversity, panel entries) for every sample
    step(_STEPS[1])
    ind = profile_indices(inp, notes)

    # ---- reference and percentiles
    step(_STEPS[2])
    placed = place_against_reference(inp, ind, notes)

    # ---- cohort: distances and ordination
    step(_STEPS[3])
    coords, ordination_note = (None, "") if inp.single else ordination(inp, notes)

    # ---- what goes into the report: one sample, or the whole cohort
    shown = shown_values(inp, ind, placed.pct)
    step(_STEPS[4])
    figs = dict.fromkeys(_FIGURES)
    n_present = None
    if inp.single:
        drawn, n_present = sample_figures(inp, ind, shown)
    else:
        drawn = cohort_figures(inp, ind, shown, coords)
    figs.update(drawn)

    # ---- tables and summary
    step(_STEPS[5])
    inp.out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    title = report_title(title, inp.adata, synthetic=inp.synthetic)
    if inp.single:
        tables = sample_tables(inp, ind, placed, shown, n_present, now)
    else:
        tables = cohort_tables(inp, ind, placed, shown, notes, now)

    # ---- provenance
    provenance = provenance_record(inp, placed, title=title, now=now, version=__version__)
    filtered = filtered_rows(inp, ind)
    files = output_files(placed.pct, coords)
    summary = summary_record(
        inp,
        ind,
        placed,
        shown,
        tables,
        title=title,
        provenance=provenance,
        notes=notes,
        filtered=filtered,
        files=files,
        coords=coords,
    )
    _write_tables(inp.out, shown, coords, summary)
    page = _page(inp, ind, placed, tables, figs, title=title, now=now, version=__version__, coords=coords)
    html = _render(**page, ordination_note=ordination_note, notes=notes, filtered=filtered, files=files)
    path = inp.out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def _write_tables(out: Path, shown: ShownValues, coords: pd.DataFrame | None, summary: dict) -> None:
    """The TSV files and summary.json (full float precision, so every number equals the one in summary.json)."""
    show, show_pct = shown.indices, shown.percentiles
    show.to_csv(out / "indices.tsv", sep="\t", index_label="sample")
    (
        show_pct if show_pct is not None else pd.DataFrame(index=show.index, columns=list(show.columns), dtype=float)
    ).to_csv(out / "percentiles.tsv", sep="\t", index_label="sample")
    shown.panels.to_csv(out / "panels.tsv", sep="\t", index_label="sample")
    if coords is not None:
        coords.to_csv(out / "pcoa.tsv", sep="\t", index_label="sample")
    (out / "summary.json").write_text(
        json.dumps(_jsonable(summary), indent=1, allow_nan=False) + "\n", encoding="utf-8"
    )


def _page(
    inp: ReportInput,
    ind: ProfileIndices,
    placed: ReferencePlacement,
    tables: ReportTables,
    figs: dict,
    *,
    title: str,
    now: str,
    version: str,
    coords: pd.DataFrame | None,
) -> dict:
    """What ``report.html.j2`` shows of the steps' results (``write_report`` adds the notes and file lists)."""
    return {
        "title": title,
        "subtitle": tables.subtitle,
        "synthetic": inp.synthetic,
        "synthetic_note": SYNTHETIC_NOTE,
        "mode": "single" if inp.single else "cohort",
        "version": version,
        "generated_at": now,
        "disclaimer": DISCLAIMER,
        "lead": tables.lead,
        "cards": tables.cards,
        "sample": inp.sample,
        "reference": placed.info,
        "index_rows": tables.index_rows,
        "panels": tables.panels,
        "figures": figs,
        "n_taxa_present": tables.n_taxa_present,
        "group_column": inp.group_col,
        "group_auto": inp.group_auto,
        "groups": tables.groups,
        "group_rows": tables.group_rows,
        "percentile_rows": tables.percentile_rows,
        "ordination_text": ordination_text(coords),
        "explanations": explanations(ind.entries, ind.counts, synthetic=inp.synthetic),
        "provenance_rows": provenance_rows(inp, ind, placed, now=now, version=version),
        "denominator": placed.den,
        "profilers": placed.prof,
    }


def _render(**context) -> str:
    # looked up here at call time: tests replace it to interrupt a run after the files are written
    return render("report.html.j2", **context)
