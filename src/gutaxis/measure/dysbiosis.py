"""HMP2 dysbiosis score (Lloyd-Price et al. 2019).

Lloyd-Price J, Arze C, Ananthakrishnan AN, et al. Multi-omics of the gut microbial ecosystem in
inflammatory bowel diseases. Nature 569, 655-662 (2019). doi:10.1038/s41586-019-1237-9

For each sample: the median Bray-Curtis dissimilarity of its species-level relative abundance
profile (each sample renormalised to sum to 1) to a reference set of samples (non-IBD in HMP2),
leaving out reference samples from the same subject. A sample is dysbiotic when its score is
above the 90th percentile of the reference samples' own scores.

Differences from the HMP2 analysis, by design: the reference set is chosen by the user (HMP2
used non-IBD samples from week 20 on, and took the threshold over all non-IBD samples: pass
``threshold_samples`` for that); a sample is never its own reference even without subject IDs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._typing import AbundanceData, SampleLabels, SampleSelection
from .._validation import abundance_matrix
from ..errors import InputError
from .beta import cross_blocks
from .reference import _describe, _metadata, _resolve_labels, _resolve_samples

__all__ = ["dysbiosis_score"]

CITATION = (
    "Lloyd-Price J et al. Multi-omics of the gut microbial ecosystem in inflammatory bowel diseases. "
    "Nature 569, 655-662 (2019). doi:10.1038/s41586-019-1237-9"
)
#: elements of one distance block (rows x reference samples): 8 MiB of float64
_BLOCK_ELEMENTS = 2**20


def _table(X, samples: pd.Index, features: pd.Index, rows: np.ndarray):
    """A samples x taxa object for :func:`cross_blocks` holding ``X[rows]`` (AnnData if sparse)."""
    sub = X[rows]
    if sp.issparse(sub):
        import anndata

        return anndata.AnnData(
            X=sp.csr_matrix(sub),
            obs=pd.DataFrame(index=samples[rows].astype(str)),
            var=pd.DataFrame(index=features.astype(str)),
        )
    return pd.DataFrame(sub, index=samples[rows], columns=features, copy=False)


def dysbiosis_score(
    data: AbundanceData,
    *,
    reference: SampleSelection,
    subject: SampleLabels | None = None,
    threshold_quantile: float = 0.9,
    threshold_samples: SampleSelection | None = None,
    metadata: pd.DataFrame | None = None,
    renormalize: bool = True,
) -> pd.DataFrame:
    """HMP2 dysbiosis score and dysbiotic call per sample (doi:10.1038/s41586-019-1237-9).

    Parameters
    ----------
    data
        AnnData or samples x taxa DataFrame of species-level relative abundances.
    reference
        The reference samples (HMP2: non-IBD): a boolean mask (array in table order, or Series
        by sample ID), a list of sample IDs, or ``(column, value)`` / ``(column, [values])`` of
        the metadata, e.g. ``("diagnosis", "nonIBD")``.
    subject
        Subject of each sample (metadata column name, Series by sample ID, or a sequence in table
        order). Reference samples of the sample's own subject are left out of its median.
        Without it only the sample itself is left out.
    threshold_quantile
        Quantile of the reference-group scores above which a sample is dysbiotic (0.9). The
        quantile is linear between order statistics (R type 7, ``numpy.quantile`` default).
    threshold_samples
        Samples whose scores define the threshold (same forms as ``reference``); default the
        reference samples.
    metadata
        Per-sample metadata indexed by sample ID (for column specs with a DataFrame input);
        an AnnData's ``obs`` is used otherwise.
    renormalize
        Divide each sample by its total first (HMP2: species profiles normalised to sum 1).

    Returns
    -------
    DataFrame indexed by sample with ``dysbiosis_score`` (float, 0-1) and ``dysbiotic`` (nullable
    boolean; NA where the score is NaN). ``attrs``: ``threshold``, ``n_reference``,
    ``reference_ids``, ``no_eligible_reference`` (list of ``{"sample", "reason"}`` for NaN
    scores), ``filtered``, ``params``, ``citation``.

    Notes
    -----
    Distances come from ``gutaxis.measure.beta.cross_blocks`` row block by row block, so
    memory is one block of ``rows x n_reference`` values, never the cohort x reference matrix.
    """
    src = "dysbiosis_score"
    if not (0.0 < float(threshold_quantile) < 1.0):
        raise InputError(f"threshold_quantile {threshold_quantile!r} must be between 0 and 1", source=src)
    X, samples, features = abundance_matrix(data, name=f"{src} input")
    meta = _metadata(data, metadata, samples, source=src)
    ref_mask = _resolve_samples(reference, samples, meta, what="reference", source=src)
    thr_mask = (
        ref_mask
        if threshold_samples is None
        else _resolve_samples(threshold_samples, samples, meta, what="threshold_samples", source=src)
    )
    if subject is None:
        codes = np.arange(len(samples))  # every sample its own subject: only itself is left out
        subject_known = np.ones(len(samples), bool)
    else:
        labels = pd.Series(_resolve_labels(subject, samples, meta, what="subject", source=src))
        subject_known = labels.notna().to_numpy()
        codes, _ = pd.factorize(labels)
        own = np.flatnonzero(~subject_known)
        codes = codes.astype(np.int64)
        codes[own] = -1 - own  # unknown subject: distinct from everyone, i.e. only itself is left out

    totals = np.asarray(X.sum(axis=1)).ravel()
    empty = totals <= 0
    reasons: dict[int, str] = {}
    for i in np.flatnonzero(empty):
        reasons[int(i)] = "sample sums to zero (no composition to compare)"
    ref_idx = np.flatnonzero(ref_mask & ~empty)
    if len(ref_idx) == 0:
        raise InputError("every reference sample sums to zero", source=src, hint="check the reference selection")
    filtered = []
    empty_ref = np.flatnonzero(ref_mask & empty)
    if len(empty_ref):
        filtered.append(
            {
                "what": "reference samples",
                "reason": "sum to zero: left out of the reference",
                "n": len(empty_ref),
                "ids": [str(samples[i]) for i in empty_ref],
            }
        )

    rows = np.flatnonzero(~empty)
    scores = np.full(len(samples), np.nan)
    ref_codes = codes[ref_idx]
    ref_pos = np.full(len(samples), -1, dtype=np.int64)  # sample -> its column among the references
    ref_pos[ref_idx] = np.arange(len(ref_idx))
    block = max(1, _BLOCK_ELEMENTS // max(1, len(ref_idx)))
    table_a = _table(X, samples, features, rows)
    table_b = _table(X, samples, features, ref_idx)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="All-NaN slice encountered", category=RuntimeWarning)
        for sl, D in cross_blocks(table_a, table_b, "braycurtis", block, normalize=renormalize):
            glob = rows[sl]
            excl = codes[glob][:, None] == ref_codes[None, :]
            js = ref_pos[glob]  # the sample itself is never its own reference
            ks = np.flatnonzero(js >= 0)
            excl[ks, js[ks]] = True
            D = np.where(excl, np.nan, D)
            scores[glob] = np.nanmedian(D, axis=1)
    no_ref = np.flatnonzero(np.isnan(scores) & ~empty)
    for i in no_ref:
        reasons[int(i)] = (
            "every reference sample comes from the same subject"
            if subject is not None
            else "the sample is the only reference sample"
        )

    thr_scores = scores[thr_mask]
    thr_scores = thr_scores[np.isfinite(thr_scores)]
    if thr_scores.size == 0:
        raise InputError(
            "no threshold sample has a score (all NaN)",
            source=src,
            hint="widen the reference or threshold_samples selection",
        )
    threshold = float(np.quantile(thr_scores, float(threshold_quantile)))
    dysbiotic = pd.array(scores > threshold, dtype="boolean")
    dysbiotic[np.isnan(scores)] = pd.NA  # no score: unknown
    result = pd.DataFrame({"dysbiosis_score": scores, "dysbiotic": dysbiotic}, index=samples)

    no_eligible = [{"sample": str(samples[i]), "reason": reasons[i]} for i in sorted(reasons)]
    if no_eligible:
        filtered.append(
            {
                "what": "samples",
                "reason": "score is NaN (see attrs['no_eligible_reference'])",
                "n": len(no_eligible),
                "ids": [d["sample"] for d in no_eligible],
            }
        )
        warnings.warn(
            f"dysbiosis score is NaN for {len(no_eligible)} sample(s): e.g. {no_eligible[0]['sample']!r}: "
            f"{no_eligible[0]['reason']}",
            UserWarning,
            stacklevel=2,
        )
    result.attrs["threshold"] = threshold
    result.attrs["n_reference"] = len(ref_idx)
    result.attrs["reference_ids"] = [str(samples[i]) for i in ref_idx]
    result.attrs["n_threshold_samples"] = int(thr_scores.size)
    result.attrs["no_eligible_reference"] = no_eligible
    result.attrs["filtered"] = filtered
    result.attrs["params"] = {
        "reference": _describe(reference),
        "subject": None if subject is None else (subject if isinstance(subject, str) else "given per sample"),
        "threshold_quantile": float(threshold_quantile),
        "threshold_samples": "reference" if threshold_samples is None else _describe(threshold_samples),
        "metric": "braycurtis",
        "renormalize": bool(renormalize),
        "dysbiotic": "score > threshold",
    }
    result.attrs["citation"] = CITATION
    return result
