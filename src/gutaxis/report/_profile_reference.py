"""Where each value lies among healthy people: the healthy reference (supplied, or built from the
cohort's healthy group) and the percentiles against it, with the profilers and the unclassified
share the report states beside them."""

from __future__ import annotations

from typing import Any

from ._profile_context import ProfileIndices, ReferencePlacement, ReportInput
from ._profile_input import healthy_values

__all__ = ["MIN_REFERENCE_SAMPLES", "REFERENCE_HINT", "place_against_reference"]

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


def place_against_reference(inp: ReportInput, ind: ProfileIndices, notes: list[str]) -> ReferencePlacement:
    """The reference of the report and the percentiles of every sample against it (none without one);
    what the reader should know about them goes to ``notes``."""
    from ..measure.reference import build_reference, percentiles
    from ._denominator import denominator_context, profiler_context

    adata, single, sample, group_col, synthetic = inp.adata, inp.single, inp.sample, inp.group_col, inp.synthetic
    ref, ref_path, healthy_mask, indices = inp.ref, inp.ref_path, ind.healthy_mask, ind.table
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
        healthy_text = ", ".join(repr(v) for v in healthy_values(inp.order))
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
            ref = build_reference(None, healthy=mask, indices=indices[ind.core_cols + ind.panel_cols], source=src)
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
    den = denominator_context(adata, [sample] if single else adata.obs_names)
    prof = profiler_context(adata, ref, ref_info["built_from"])
    if prof["warning"]:
        notes.append(prof["warning"])
    not_measurable = dict(ind.panel_attrs.get("not_measurable", {}))
    if pct is not None and pct.attrs.get("no_reference"):
        notes.append(
            "No reference values for: "
            + ", ".join(map(str, pct.attrs["no_reference"]))
            + " (shown without percentiles)."
        )
    return ReferencePlacement(info=ref_info, pct=pct, den=den, prof=prof, not_measurable=not_measurable)
