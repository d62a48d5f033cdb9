"""Ordinary least squares for every feature at once: one QR of the design, ``B = R^-1 Q^T Y``.

Equivalent to R's ``glm(family = gaussian)`` / ``lm`` per feature (MaAsLin2's LM path without
random effects): t statistics on ``n - p`` residual degrees of freedom.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, stats
from threadpoolctl import threadpool_limits

__all__ = ["nan_patterns", "ols_all"]

#: features per product in :func:`ols_all` (blocks of features on a cluster are multiples of it)
COLUMNS = 512


def nan_patterns(Y: np.ndarray):
    """Yield ``(rows_mask, feature_indices)`` grouping features by their pattern of missing values."""
    nan = np.isnan(Y)
    if not nan.any():
        yield np.ones(Y.shape[0], bool), np.arange(Y.shape[1])
        return
    has = nan.any(axis=0)
    clean = np.flatnonzero(~has)
    if clean.size:
        yield np.ones(Y.shape[0], bool), clean
    cols = np.flatnonzero(has)
    keys: dict[bytes, list[np.intp]] = {}
    for j in cols:
        keys.setdefault(np.packbits(nan[:, j]).tobytes(), []).append(j)
    for idx in keys.values():
        yield ~nan[:, idx[0]], np.asarray(idx)


def ols_all(X: np.ndarray, Y: np.ndarray):
    """Fit ``Y[:, f] ~ X`` for all features f (complete rows per feature).

    Returns ``coef, stderr, pval, df`` with shapes ``(F, p)``, ``(F, p)``, ``(F, p)``, ``(F,)``.
    """
    _n, p = X.shape
    F = Y.shape[1]
    coef = np.full((F, p), np.nan)
    se = np.full((F, p), np.nan)
    df = np.full(F, np.nan)
    for rows, idx_all in nan_patterns(Y):
        Xs, Yr = X[rows], Y[rows]
        ns = Xs.shape[0]
        if ns <= p:
            continue
        Q, R = linalg.qr(Xs, mode="economic")
        Rinv = linalg.solve_triangular(R, np.eye(p))
        diag = (Rinv**2).sum(axis=1)  # diag((X'X)^-1)
        # Features in fixed chunks of COLUMNS on one BLAS thread: BLAS rounds a column differently
        # with the width of the product and the number of threads, so this makes a feature's bits
        # independent of how many others are fitted with it and of the machine's cores (features
        # split in blocks on a cluster give the same numbers). The products are thin (p rows): one
        # thread costs little.
        with threadpool_limits(limits=1):
            for c0 in range(0, len(idx_all), COLUMNS):
                idx = idx_all[c0 : c0 + COLUMNS]
                Ys = Yr[:, idx]
                B = linalg.solve_triangular(R, Q.T @ Ys)
                resid = Ys - Xs @ B
                rss = np.einsum("ij,ij->j", resid, resid)
                sigma2 = rss / (ns - p)
                coef[idx] = B.T
                se[idx] = np.sqrt(np.outer(sigma2, diag))
                df[idx] = ns - p
    with np.errstate(invalid="ignore", divide="ignore"):
        t = coef / se
    pval = 2.0 * stats.t.sf(np.abs(t), df[:, None])
    return coef, se, pval, df
