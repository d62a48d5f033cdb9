"""The model fits of :func:`gutaxis.associate` on a Dask cluster: features in blocks.

Every feature's model is fitted on its own (OLS through the QR of the design, or REML per
feature), so splitting the features into blocks does not change any feature's numbers. The
design (``n x p``) and the grouping codes are built once and shipped to every worker; each block
runs the single-machine code path (:func:`._lm.ols_all`, :func:`._mixed.lmm_all`) on its columns
of the transformed table; the blocks come back in feature order, and the q-values are computed
once over all features by the caller, after gathering.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

__all__ = ["check_lazy", "filter_lazy", "fit_blocks", "fit_lazy", "is_lazy"]

# a lazy table wider than this in one chunk of features is read whole by every task
_WIDE_CHUNK = 4096


def _ols_block(Y, *, X):
    from ._lm import ols_all

    coef, se, pval, df = ols_all(X, Y)
    return coef, se, pval, np.repeat(df[:, None], X.shape[1], axis=1), None


def _lmm_block(Y, *, X, codes, optimizer):
    from ._mixed import lmm_all

    return lmm_all(X, Y, codes, optimizer=optimizer)


def fit_blocks(client, X: np.ndarray, Y: np.ndarray, codes: list, optimizer: str, block_size: int | None = None):
    """``coef, se, pval, df, fit_info`` as the single-machine fit returns them (``fit_info`` is
    ``{}`` without random effects), from blocks of features fitted on the cluster."""
    from ..scale.blocks import blocks, default_blocks, run_tasks
    from ._lm import COLUMNS

    F = Y.shape[1]
    if block_size:
        parts = blocks(F, block_size)
    else:
        # blocks of whole chunks (the features fitted together on one machine: COLUMNS for OLS, the
        # lockstep width for REML), so that every feature is fitted with the neighbours it has there
        width = COLUMNS
        if codes:
            from ._mixed import lockstep_size

            width = lockstep_size([np.unique(c, return_inverse=True)[1] for c in codes], X.shape[1])
        chunks = default_blocks(client, -(-F // width))
        parts = [slice(s.start * width, min(F, s.stop * width)) for s in chunks]
    func: Callable
    if codes:
        func, shared = _lmm_block, {"X": X, "codes": codes, "optimizer": optimizer}
    else:
        func, shared = _ols_block, {"X": X}
    args = ((np.ascontiguousarray(Y[:, sl]),) for sl in parts)  # a generator: blocks are cut as they are sent
    out = run_tasks(client, func, args, shared=shared, name="gutaxis-associate", total=len(parts))
    coef, se, pval, df = (np.concatenate([o[k] for o in out]) for k in range(4))
    if not codes:
        return coef, se, pval, df, {}
    info = {key: np.concatenate([o[4][key] for o in out]) for key in out[0][4]}
    return coef, se, pval, df, info


# --------------------------------------------------------------------------------------------------
# lazy inputs: a table held as a Dask array (an AnnData read with ``read_elem_as_dask``, or
# ``da.from_zarr``) is never gathered; each task reads its own block of features on its worker

LAZY_NORMALIZATIONS = ("TSS", "NONE")
LAZY_TRANSFORMS = ("LOG", "AST", "NONE")
# float64 bytes of the raw block one task reads (its normalised and transformed copies come on top)
_LAZY_BLOCK_BYTES = 256e6


def is_lazy(X) -> bool:
    """Whether ``X`` is a Dask array (checked without importing Dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "chunks")


def check_lazy(client, norm: str, tr: str, min_abundance: float, X=None) -> None:
    """Refuse what the lazy path does not run (options that need the whole table at once), and
    warn when ``X`` is chunked so that every task must read the whole table."""
    from dask.array.core import PerformanceWarning

    from ..errors import InputError

    supported = (
        f"a table held as a Dask array runs normalization {'/'.join(LAZY_NORMALIZATIONS)}, "
        f"transform {'/'.join(LAZY_TRANSFORMS)} and min_abundance=0 (any min_prevalence, min_variance, "
        "fixed and random effects)"
    )
    hint = "or read the table into memory (adata.X = adata.X.compute()) for the other options"
    if client is None:
        raise InputError(
            "a table held as a Dask array needs client= (its blocks are read on the workers)",
            source="client",
            hint="pass client=dask.distributed.Client(...), or read the table into memory (adata.X.compute())",
        )
    if norm not in LAZY_NORMALIZATIONS:
        raise InputError(f"{supported}, not normalization {norm}", source="normalization", hint=hint)
    if tr not in LAZY_TRANSFORMS:
        raise InputError(f"{supported}, not transform {tr}", source="transform", hint=hint)
    if float(min_abundance) != 0.0:
        # MaAsLin2's filter reads min_abundance by the totals and the smallest value of the whole table
        raise InputError(f"{supported}, not min_abundance {min_abundance:g}", source="min_abundance", hint=hint)
    if X is not None and len(X.chunks[1]) == 1 and len(X.chunks[0]) > 1 and X.shape[1] > _WIDE_CHUNK:
        # anndata reads a CSR h5ad only in blocks of samples: a block of features then needs every chunk
        warnings.warn(
            f"the Dask array is chunked by samples only ({len(X.chunks[0])} chunks of all {X.shape[1]:,} "
            "features): every task reads the whole table, once per block of features; for one read, store "
            "it chunked by features (a dense or CSC h5ad read with read_elem_lazy(f['X'], chunks=(n_samples, "
            "4096)), or Zarr)",
            PerformanceWarning,
            stacklevel=3,
        )


class _Block:
    """A slice of the lazy table, wrapped so that Dask sends its graph to the task as data
    instead of computing it as a dependency."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def read(self) -> np.ndarray:
        import scipy.sparse as sp

        x = self.array.compute(scheduler="synchronous")
        if sp.issparse(x):
            x = x.toarray()
        return np.array(x, dtype=np.float64, order="C")  # float64 as the in-memory path reads it


def _cut(X, lo: int, hi: int) -> _Block:
    import dask

    (part,) = dask.optimize(X[:, lo:hi])  # culled: the task carries only its own chunks' graph
    return _Block(part)


def _filter_lazy_block(block: _Block, *, min_prevalence: float, min_variance: float, totals: bool):
    from ._normalize import filter_features

    Z = block.read()
    keep, reasons = filter_features(Z, min_abundance=0.0, min_prevalence=min_prevalence, min_variance=min_variance)
    raw_not0 = (np.nan_to_num(Z) > 0).sum(axis=0)
    tot = None
    if totals:  # R's rowSums over the kept features of this block, in extended precision (not rounded yet)
        K = Z[:, keep].astype(np.longdouble)
        K[np.isnan(K)] = 0.0
        tot = np.cumsum(K, axis=1)[:, -1] if K.shape[1] else np.zeros(Z.shape[0], dtype=np.longdouble)
    return keep, {j: reasons[j] for j in np.flatnonzero(~keep)}, raw_not0, tot


def _fit_lazy_block(block: _Block, cols, *, tot, rows, transform, X, codes, optimizer):
    from ._normalize import transform as apply_transform

    Z = block.read()[:, cols]
    if tot is None:
        Xn = Z.copy()
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            Xn = Z / tot[:, None]
    flags = (~np.isfinite(Xn).all(axis=1), np.isfinite(Z).all(axis=1))
    n_not0 = (Xn > 0).sum(axis=0)
    Y = np.ascontiguousarray(apply_transform(Xn, transform)[rows])
    del Z, Xn
    fit = _lmm_block(Y, X=X, codes=codes, optimizer=optimizer) if codes else _ols_block(Y, X=X)
    return fit, n_not0, flags


def filter_lazy(client, X, *, min_prevalence: float, min_variance: float, normalization: str):
    """MaAsLin2's filters on a lazy table, one task per block of features (each feature's filter
    is its own when ``min_abundance`` is 0), and the per-sample totals over the kept features
    for TSS: ``keep, reasons, raw_not0, totals`` (``totals`` ``None`` for ``NONE``)."""
    from ..scale.blocks import blocks, default_blocks, run_tasks

    n, F = X.shape
    per = max(1, int(_LAZY_BLOCK_BYTES // (8 * max(n, 1))))
    parts = blocks(F, n_blocks=max(len(default_blocks(client, F)), -(-F // per)))
    shared = {"min_prevalence": min_prevalence, "min_variance": min_variance, "totals": normalization == "TSS"}
    args = ((_cut(X, s.start, s.stop),) for s in parts)
    out = run_tasks(client, _filter_lazy_block, args, shared=shared, name="gutaxis-filter", total=len(parts))
    keep = np.concatenate([o[0] for o in out])
    reasons = [""] * F
    for s, o in zip(parts, out, strict=True):
        for j, why in o[1].items():
            reasons[s.start + j] = why
    raw_not0 = np.concatenate([o[2] for o in out])
    totals = None
    if normalization == "TSS":
        acc = np.zeros(n, dtype=np.longdouble)
        for o in out:  # left to right over the blocks, as R's rowSums over the columns
            acc += o[3]
        totals = acc.astype(np.float64)
    return keep, reasons, raw_not0, totals


def fit_lazy(client, X, kept: np.ndarray, *, totals, transform: str, rows, design_X, codes: list, optimizer: str):
    """Normalise, transform and fit the kept features of a lazy table, each block read on its
    worker: ``bad_tot, n_not0, (coef, se, pval, df, fit_info)`` as the in-memory path computes them."""
    from ..scale.blocks import default_blocks, run_tasks
    from ._lm import COLUMNS

    n = X.shape[0]
    F = kept.size
    width = COLUMNS
    if codes:
        from ._mixed import lockstep_size

        width = lockstep_size([np.unique(c, return_inverse=True)[1] for c in codes], design_X.shape[1])
    n_chunks = -(-F // width)
    per = max(1, int(_LAZY_BLOCK_BYTES // (8 * max(n, 1) * width)))  # whole chunks per block, in the budget
    chunks = default_blocks(client, n_chunks)
    if max(s.stop - s.start for s in chunks) > per:
        from ..scale.blocks import blocks

        chunks = blocks(n_chunks, per)
    parts = [slice(s.start * width, min(F, s.stop * width)) for s in chunks]

    def args():
        for sl in parts:
            cols = kept[sl]
            lo, hi = int(cols[0]), int(cols[-1]) + 1
            yield _cut(X, lo, hi), cols - lo

    shared = {"tot": totals, "rows": rows, "transform": transform, "X": design_X, "codes": codes}
    shared["optimizer"] = optimizer
    out = run_tasks(client, _fit_lazy_block, args(), shared=shared, name="gutaxis-associate", total=len(parts))
    fits = [o[0] for o in out]
    n_not0 = np.concatenate([o[1] for o in out])
    nonfinite = np.logical_or.reduce([o[2][0] for o in out])
    raw_finite = np.logical_and.reduce([o[2][1] for o in out])
    bad_tot = np.flatnonzero(nonfinite & raw_finite)
    coef, se, pval, df = (np.concatenate([f[k] for f in fits]) for k in range(4))
    info = {key: np.concatenate([f[4][key] for f in fits]) for key in fits[0][4]} if codes else {}
    return bad_tot, n_not0, (coef, se, pval, df, info)
