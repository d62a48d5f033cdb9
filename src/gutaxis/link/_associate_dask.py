"""The model fits of :func:`gutaxis.associate` on a Dask cluster: features in blocks.

Every feature's model is fitted on its own (OLS through the QR of the design, or REML per
feature), so splitting the features into blocks does not change any feature's numbers. The
design (``n x p``) and the grouping codes are built once and shipped to every worker; each block
runs the single-machine code path (:func:`._lm.ols_all`, :func:`._mixed.lmm_all`) on its columns
of the transformed table; the blocks come back in feature order, and the q-values are computed
once over all features by the caller, after gathering.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["fit_blocks"]


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
