"""What the report says about its denominator, the unclassified share, the profiler and the panel
entries it cannot measure (private helper of :mod:`gutaxis.report.html`).

Every relative abundance of the report (panel table, composition chart, percentiles, the reference's
values) is a share of the **classified** reads: the readers close each sample over its features
(:mod:`gutaxis.io.metaphlan`), and the panels close again whatever they are given
(:func:`gutaxis.measure.panels.panel_abundance`). The reads a profiler could not classify (MetaPhlAn
3/4's ``UNKNOWN`` row, ``obs["unclassified_fraction"]``) are stated beside them: a visible line, a
warning banner above :data:`LARGE_UNCLASSIFIED`, ``summary.json["unclassified"]`` and the provenance.
GMHI is unaffected by the choice: GMHI.R renormalises the species table itself after dropping the
unclassified and viral rows (:mod:`gutaxis.measure.gmhi`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._profiler import compare_profilers, profiler_of

__all__ = ["DENOMINATOR", "LARGE_UNCLASSIFIED", "NOT_MEASURABLE_TEXT", "denominator_context", "profiler_context"]

#: the sentence the report, summary.json and the docs use for the denominator
DENOMINATOR = (
    "Relative abundances are shares of the classified reads: each sample's taxa sum to 100 %; reads the "
    "profiler could not classify are not in the denominator and are reported separately."
)
#: unclassified share (0-1) above which the report shows a warning banner
LARGE_UNCLASSIFIED = 0.5
#: the panel cell of an entry that cannot be measured in this table
NOT_MEASURABLE_TEXT = "not measurable"


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def denominator_context(adata, samples) -> dict:
    """``{"line", "banner", "summary", "provenance"}`` for the samples shown (``summary`` goes to
    summary.json as ``unclassified``)."""
    samples = [str(s) for s in samples]
    col = adata.obs["unclassified_fraction"] if "unclassified_fraction" in adata.obs.columns else None
    values = (
        pd.to_numeric(col, errors="coerce").reindex(samples)
        if col is not None
        else pd.Series(np.nan, index=samples, dtype=float)
    )
    known = values.dropna()
    prov = adata.uns.get("provenance", {}) or {}
    per_sample = {s: (None if pd.isna(v) else float(v)) for s, v in values.items()}
    summary = {
        "denominator": "classified reads",
        "statement": DENOMINATOR,
        "fraction_by_sample": per_sample,
        "source": (
            "the profiler's unclassified row (obs['unclassified_fraction'])"
            if len(known)
            else "not reported by the profile (e.g. MetaPhlAn 2 or a feature table: no unclassified row)"
        ),
        "large_threshold": LARGE_UNCLASSIFIED,
        "n_samples_above_threshold": int((known > LARGE_UNCLASSIFIED).sum()),
        "reader_denominator": prov.get("denominator"),
    }
    if not len(known):
        line = DENOMINATOR + " The profile does not report an unclassified share."
        return {"line": line, "banner": None, "summary": summary, "provenance": "not reported by the profile"}
    if len(samples) == 1:
        u = float(known.iloc[0])
        line = (
            f"{_pct(u)} of the reads of this sample were not classified by the profiler; the relative "
            f"abundances below are shares of the other {_pct(1 - u)} (the classified reads)."
        )
        banner = None
        if u > LARGE_UNCLASSIFIED:
            banner = (
                f"Most reads ({_pct(u)}) were not classified. The profile describes the classified "
                f"{_pct(1 - u)} only; its relative abundances, percentiles and GMHI rest on them, and may "
                "miss taxa absent from the profiler's database."
            )
        prov_text = _pct(u)
    else:
        big = int((known > LARGE_UNCLASSIFIED).sum())
        line = (
            f"Unclassified reads: median {_pct(float(known.median()))} (range {_pct(float(known.min()))}–"
            f"{_pct(float(known.max()))}) over {len(known)} samples; relative abundances are shares of each "
            "sample's classified reads."
        )
        banner = None
        if big:
            banner = (
                f"{big} of {len(known)} samples have more than {_pct(LARGE_UNCLASSIFIED)} unclassified reads: "
                "their relative abundances rest on a minority of their reads (listed in summary.json, "
                "'unclassified')."
            )
        prov_text = f"median {_pct(float(known.median()))}, {big} sample(s) above {_pct(LARGE_UNCLASSIFIED)}"
    return {"line": line, "banner": banner, "summary": summary, "provenance": prov_text}


def profiler_context(adata, ref, ref_built_from: str | None) -> dict:
    """The profilers of the profile and of the reference, and the warning when they differ."""
    profile = profiler_of(adata)
    if ref is None:
        return {"profile": profile, "reference": None, "status": None, "text": None, "warning": None}
    reference = profile if ref_built_from == "cohort" else getattr(ref, "profiler", "unknown")
    status, text = compare_profilers(profile, reference)
    return {
        "profile": profile,
        "reference": reference,
        "status": status,
        "text": text,
        "warning": text if status == "differ" else None,
    }


def panel_cell(value_cell: dict, entry: str, not_measurable: dict) -> dict:
    """A panel value cell: the number, or 'not measurable' with the reason."""
    if entry in not_measurable:
        return {"raw": None, "text": NOT_MEASURABLE_TEXT, "title": not_measurable[entry]}
    return value_cell
