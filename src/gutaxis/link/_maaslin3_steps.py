"""The building blocks of MaAsLin3's procedure, each on every feature at once: normalisation, filters
and transform of the table, the batched least squares of the abundance model, and the median
comparison.

Nickols WA, Kuntz T, Shen J, et al. MaAsLin 3: refining and extending generalized multivariable
linear models for meta-omic association discovery. Nat Methods 2026 (bioRxiv 2024,
doi:10.1101/2024.12.13.628459). Behaviour follows biobakery/maaslin3 (``R/maaslin3.R``,
``R/fit.R``, ``R/utility_scripts.R``), read, not translated line by line:

* normalisation of the whole table first (``TSS``: divide by the sample total; ``CLR``: log of
  the value over the geometric mean of the sample's non-zero values; ``NONE``); values not above
  0 become missing (they are the "zeros" of the prevalence model);
* filters on the normalised table: more than ``min_prevalence * n`` samples above
  ``min_abundance`` (and at most ``max_prevalence * n``), variance of the non-zero values above
  ``min_variance`` (a feature with a single non-zero value has no variance and is filtered);
* transform of the non-zero values (``LOG``: log2; ``PLOG``: log2 with zeros at half the
  smallest value; ``NONE``);
* abundance model without random intercepts: ordinary least squares on the non-zero values of
  each feature (one batched QR over features of the design with the absent samples' rows zeroed;
  R's ``lm`` pivoting of aliased columns is reproduced in a per-feature fallback);
* median comparison: each abundance coefficient is tested against the median of that
  coefficient over features (among those with p < 0.95), with the variance of the median
  (asymptotic, ``pi/2 * var / k``) and its covariance with the coefficient (Monte Carlo, 10,000
  draws, as MaAsLin3) in the denominator.

Kept apart from :mod:`._maaslin3` (the two models with MaAsLin3's checks and ``error`` messages,
the q-values and the result table) because these steps take and return arrays and know nothing of
the design or of the ``error`` column (:func:`masked_ols` and :func:`median_comparison` are tested
alone). ``_maaslin3`` imports them (they stay importable from there under the same names); this
module never imports it.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..errors import InputError
from ._normalize import r_row_sums

__all__ = ["filter3", "masked_ols", "median_comparison", "normalize3", "transform3"]


# ----------------------------------------------------------------------------------------------
# normalisation, filters, transforms (MaAsLin3 order: normalise, filter, transform)


def normalize3(X: np.ndarray, method: str) -> np.ndarray:
    """Per-sample normalisation; values not above 0 become NaN (MaAsLin3's zero handling)."""
    X = np.asarray(X, float)
    pos = X > 0
    if method == "TSS":
        # R's row sums (long double, left to right): the lme4 path needs R's data to the last bit
        tot = np.maximum(r_row_sums(X)[:, None], np.finfo(float).eps)
        out = X / tot
    elif method == "CLR":
        with np.errstate(divide="ignore", invalid="ignore"):
            L = np.where(pos, np.log(np.where(pos, X, 1.0)), np.nan)
            out = L - np.nanmean(L, axis=1, keepdims=True)
    elif method == "NONE":
        out = X.copy()
    else:  # pragma: no cover - validated by the caller
        raise ValueError(method)
    return np.where(pos, out, np.nan)


def filter3(Xn: np.ndarray, *, min_abundance: float, min_prevalence: float, max_prevalence: float, min_variance: float):
    """MaAsLin3's ``maaslin_filter`` on the normalised table (NaN = zero)."""
    n = Xn.shape[0]
    count = (np.nan_to_num(Xn, nan=-np.inf) > min_abundance).sum(axis=0)
    keep_prev = (count > n * min_prevalence) & (count <= n * max_prevalence)
    with np.errstate(invalid="ignore", divide="ignore"):
        nnz = (~np.isnan(Xn)).sum(axis=0)
        var = np.where(nnz > 1, np.nanvar(np.where(nnz > 1, Xn, 0.0), axis=0, ddof=1), np.nan)
    keep_var = var > min_variance
    keep = keep_prev & keep_var
    reasons = []
    for j in range(Xn.shape[1]):
        if not keep_prev[j]:
            reasons.append(
                f"filtered: above {min_abundance:g} in {int(count[j])} of {n} samples; min_prevalence "
                f"{min_prevalence:g} needs more than {n * min_prevalence:g}"
                + (f", max_prevalence {max_prevalence:g} at most {n * max_prevalence:g}" if max_prevalence < 1 else "")
            )
        elif not keep_var[j]:
            reasons.append(
                f"filtered: variance of the non-zero values {var[j]:.3g} not above min_variance {min_variance:g}"
                if np.isfinite(var[j])
                else "filtered: fewer than 2 non-zero values (no variance)"
            )
        else:
            reasons.append("")
    return keep, reasons


def transform3(Xn: np.ndarray, method: str) -> np.ndarray:
    if method == "NONE":
        return Xn.copy()
    vals = Xn[~np.isnan(Xn)]
    if method == "LOG":
        if np.any(vals <= 0):
            raise InputError(
                "transform LOG needs positive values, but the normalised table has values <= 0",
                source="transform",
                hint="with normalization='CLR' use transform='NONE'",
            )
        return np.log2(Xn)
    if method == "PLOG":
        if np.any(vals < 0):
            raise InputError(
                "transform PLOG needs values >= 0, but the normalised table has negative values",
                source="transform",
                hint="with normalization='CLR' use transform='NONE'",
            )
        pos = np.where(Xn > 0, Xn, np.inf)
        half = np.min(pos, axis=0) / 2.0
        with np.errstate(divide="ignore"):
            return np.log2(np.where(Xn == 0, half[None, :], Xn))
    raise ValueError(method)  # pragma: no cover


# ----------------------------------------------------------------------------------------------
# abundance model: OLS per feature on its non-missing rows, batched


def _aliased_columns(Xs: np.ndarray, tol: float = 1e-7) -> list[int]:
    """Columns R's ``lm`` (LINPACK dqrdc2, tol 1e-7) would report as aliased, in order."""
    kept: list[int] = []
    aliased = []
    for j in range(Xs.shape[1]):
        x = Xs[:, j]
        nrm = np.linalg.norm(x)
        if nrm == 0:
            aliased.append(j)
            continue
        if kept:
            Q, _ = np.linalg.qr(Xs[:, kept])
            r = x - Q @ (Q.T @ x)
            if np.linalg.norm(r) < tol * nrm:
                aliased.append(j)
                continue
        kept.append(j)
    return aliased


def masked_ols(X: np.ndarray, Y: np.ndarray, *, chunk_bytes: float = 2e8):
    """``lm(Y[, f] ~ X)`` on the non-missing rows of each feature, all features at once.

    Rows a feature does not use are zeroed in a stacked copy of the design, so one batched
    Householder QR (``numpy.linalg.qr`` on an ``(F, n, p)`` stack) fits every feature. Features
    whose design is rank deficient on their rows go through a per-feature fallback that drops
    the aliased columns as R does (their coefficients are NaN).

    Returns ``coef, se, pval, df`` ((F, p), (F, p), (F, p), (F,)) and ``aliased`` ((F, p) bool).
    """
    n, p = X.shape
    F = Y.shape[1]
    M = ~np.isnan(Y)
    coef = np.full((F, p), np.nan)
    se = np.full((F, p), np.nan)
    df = np.full(F, np.nan)
    aliased = np.zeros((F, p), bool)
    nobs = M.sum(axis=0)
    colnorm = np.sqrt(M.T.astype(float) @ (X**2))  # (F, p) norms of each feature's columns
    step = int(max(1, min(F, chunk_bytes // (8.0 * n * (2 * p + 2)))))
    fallback = []
    for start in range(0, F, step):
        sl = np.arange(start, min(F, start + step))
        Mc = M[:, sl].T  # (Fc, n)
        Xs = Mc[:, :, None] * X[None]
        ys = np.where(Mc, Y[:, sl].T, 0.0)
        Q, R = np.linalg.qr(Xs)
        d = np.abs(np.diagonal(R, axis1=1, axis2=2))
        bad = (d <= 1e-7 * colnorm[sl]).any(axis=1) | (nobs[sl] <= p)
        fallback.extend(sl[bad].tolist())
        ok = ~bad
        if not ok.any():
            continue
        idx = sl[ok]
        Qo, Ro, yo, Xo = Q[ok], R[ok], ys[ok], Xs[ok]
        qty = np.einsum("fnp,fn->fp", Qo, yo)
        b = np.linalg.solve(Ro, qty[:, :, None])[:, :, 0]
        resid = yo - np.einsum("fnp,fp->fn", Xo, b)
        dfo = nobs[idx] - p
        s2 = np.einsum("fn,fn->f", resid, resid) / dfo
        Rinv = np.linalg.inv(Ro)
        diag = (Rinv**2).sum(axis=2)
        coef[idx] = b
        se[idx] = np.sqrt(s2[:, None] * diag)
        df[idx] = dfo
    # --- per-feature fallback: rank-deficient designs on the feature's rows (R drops aliased columns)
    for f in fallback:
        rows = M[:, f]
        Xs, ys = X[rows], Y[rows, f]
        al = _aliased_columns(Xs)
        aliased[f, al] = True
        kept = [j for j in range(p) if j not in al]
        dff = Xs.shape[0] - len(kept)
        if dff <= 0 or not kept:
            aliased[f] = True
            continue
        Q, R = np.linalg.qr(Xs[:, kept])
        b = np.linalg.solve(R, Q.T @ ys)
        r = ys - Xs[:, kept] @ b
        s2 = r @ r / dff
        Rinv = np.linalg.inv(R)
        coef[f, kept] = b
        se[f, kept] = np.sqrt(s2 * (Rinv**2).sum(axis=1))
        df[f] = dff
    with np.errstate(invalid="ignore", divide="ignore"):
        t = coef / se
    pval = 2.0 * stats.t.sf(np.abs(t), df[:, None])
    return coef, se, pval, df, aliased


# ----------------------------------------------------------------------------------------------
# median comparison


def median_comparison(coef, se, pval, df, eligible, rng, *, nsims: int = 10000, threshold: float = 0.0, key=None):
    """Test each coefficient against the median of that coefficient over features.

    ``coef, se, pval``: (F,) for one model term; ``df``: (F,) degrees of freedom of the test
    (``inf`` for z tests); ``eligible``: features without errors. As MaAsLin3's
    ``run_median_comparison_general``: the median is taken over eligible features with
    ``p < 0.95``; its variance is ``pi/2 * var(coef) / k`` and its covariance with each
    coefficient is estimated from ``nsims`` draws ``coef ~ N(coef, se)``; the test statistic is
    ``|coef - median| / sqrt(se^2 + var(median) - 2 cov)``.

    ``key``: per-feature sort keys (the feature names); the draws are then made in that order,
    so that a feature's draws do not depend on the order of the features in the table.

    Returns ``p_new`` (F,) (NaN for ineligible features) and the median.
    """
    out = np.full(coef.shape, np.nan)
    idx = np.flatnonzero(eligible)
    if idx.size == 0:
        return out, np.nan
    c, s, pv = coef[idx], se[idx], pval[idx]
    use = ~np.isnan(pv) & (pv < 0.95)
    if not use.any():
        return out, np.nan
    med = float(np.median(c[use]))
    k = int(use.sum())
    var_c = float(np.var(c[use], ddof=1)) if k > 1 else np.nan
    var_med = 0.25 * 2 * np.pi * var_c / k
    if key is None:
        sims = rng.normal(c, s, size=(nsims, idx.size))
    else:  # drawn in key order, then put back in the features' order
        by_key = np.argsort(np.asarray(key, dtype=object)[idx], kind="stable")
        sims = np.empty((nsims, idx.size))
        sims[:, by_key] = rng.normal(c[by_key], s[by_key], size=(nsims, idx.size))
    sim_med = np.median(sims[:, use], axis=1)
    cov = ((sims - sims.mean(axis=0)) * (sim_med - sim_med.mean())[:, None]).sum(axis=0) / (nsims - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.sqrt(s**2 + var_med - 2 * cov)
        tstat = np.abs(c - med) / denom
    dfi = df[idx]
    p_new = np.where(
        np.isfinite(dfi), 2 * stats.t.sf(tstat, np.where(np.isfinite(dfi), dfi, 1.0)), 2 * stats.norm.sf(tstat)
    )
    p_new = np.where(np.isnan(c), np.nan, p_new)
    p_new = np.where(np.abs(c - med) < threshold, 1.0, p_new)
    out[idx] = p_new
    return out, med
