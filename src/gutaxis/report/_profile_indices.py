"""The indices of every sample (GMHI, alpha diversity, panel entries, and for a cohort with a healthy
group the HMP2 dysbiosis score), and which of them the report shows."""

from __future__ import annotations

import pandas as pd

from ..errors import InputError
from ._profile_context import ProfileIndices, ReportInput, ShownValues
from ._profile_input import healthy_values
from ._profile_numbers import jsonable
from ._profile_texts import index_label, short_label

__all__ = ["SUBJECT_CANDIDATES", "profile_indices", "shown_values"]

#: columns tried, in order, for the subject of repeated samples (the dysbiosis score leaves a
#: subject's own samples out of its reference)
SUBJECT_CANDIDATES = ("subject_id", "subject", "Subject", "participant_id", "host_subject_id")


def profile_indices(inp: ReportInput, notes: list[str]) -> ProfileIndices:
    """The indices of every sample of ``inp``; what the reader should know about them goes to ``notes``."""
    from ..measure.gmhi import gmhi_species
    from ..measure.reference import health_indices

    adata, single, labels = inp.adata, inp.single, inp.labels
    gtab = gmhi_species()
    counts = {"n_mh": int((gtab["group"] == "MH").sum()), "n_mn": int((gtab["group"] == "MN").sum())}

    indices = health_indices(adata)
    index_attrs = indices.attrs
    indices = pd.DataFrame(indices, copy=True)
    indices.attrs = {}  # pandas deep-copies attrs on every operation: keep them aside
    notes.extend(str(n) for n in index_attrs.get("notes", []))
    if inp.kept_groups is not None:
        notes.append(
            f"Only the groups {', '.join(map(repr, inp.kept_groups))} of column {inp.group_col!r} are shown "
            f"({adata.n_obs} of {inp.n_before} samples)."
        )
    panel_attrs = index_attrs.get("panels", {})
    entries = {e["entry"]: e for e in panel_attrs.get("entries", [])}
    panel_cols = [c for c in indices.columns if c in entries]
    core_cols = [c for c in indices.columns if c not in entries]

    healthy_mask = None
    if labels is not None:
        hv = healthy_values(inp.order)
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
                "threshold": jsonable(dys.attrs.get("threshold")),
                "n_reference": jsonable(dys.attrs.get("n_reference")),
                "dysbiotic": {str(k): jsonable(v) for k, v in dys["dysbiotic"].items()},
            }
    return ProfileIndices(
        table=indices,
        attrs=index_attrs,
        panel_attrs=panel_attrs,
        entries=entries,
        panel_cols=panel_cols,
        core_cols=core_cols,
        counts=counts,
        healthy_mask=healthy_mask,
        dysbiosis=dysbiosis_info,
    )


def shown_values(inp: ReportInput, ind: ProfileIndices, pct: pd.DataFrame | None) -> ShownValues:
    """The rows of the one sample reported on, or every row of a cohort, with the labels of their columns."""
    indices, sample = ind.table, inp.sample
    show = indices.loc[[sample]] if inp.single else indices
    show_pct = None if pct is None else (pct.loc[[sample]] if inp.single else pct)
    return ShownValues(
        indices=show,
        percentiles=show_pct,
        panels=show[ind.panel_cols],
        labels={c: index_label(c, ind.entries, ind.counts)[0] for c in indices.columns},
        short={c: short_label(c, ind.entries) for c in indices.columns},
    )
