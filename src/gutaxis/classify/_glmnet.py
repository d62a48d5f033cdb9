"""Penalised logistic regression along a lambda path, as ``glmnet(family="binomial")`` fits it.

Private module behind :class:`gutaxis.classify.models.PenalizedLogisticRegression`.

Friedman J, Hastie T, Tibshirani R. Regularization paths for generalized linear models via
coordinate descent. J Stat Softw 2010;33(1):1-22. doi:10.18637/jss.v033.i01

The objective at each ``lambda`` is glmnet's::

    -1/n * loglik(b0, b) + lambda * (alpha * |b|_1 + (1 - alpha) / 2 * |b|_2^2)

fitted by proximal Newton steps (a weighted least-squares approximation of the log-likelihood,
probabilities clamped to [1e-5, 1 - 1e-5] as glmnet does) solved by cyclic coordinate descent
with an active set, warm-started from the previous ``lambda``. The path is glmnet's default:
``n_lambda`` values from ``lambda_max`` (the smallest ``lambda`` at which every coefficient is
zero) down to ``lambda_min_ratio * lambda_max`` on a log scale (ratio 0.01 when n < p, else
1e-4), and it stops early, as glmnet does, once the fraction of deviance explained exceeds
0.999 or grows by less than 1e-5 (relative) from one ``lambda`` to the next (after 5 values).
Features are standardised (mean 0, variance 1 with divisor n) before fitting and the
coefficients returned on the original scale (glmnet's ``standardize=TRUE``).

The kernel is compiled by numba on first use and cached on disk; it releases the GIL.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["binomial_path", "lambda_sequence"]

_PMIN = 1e-5
_DEV_MAX = 0.999
_FDEV = 1e-5
_MIN_LAMBDAS = 5


@njit(cache=True, nogil=True)
def _linear_predictor(X, beta, b0, eta):  # pragma: no cover (compiled)
    """``eta = b0 + X @ beta`` in place, skipping the zero coefficients."""
    n, p = X.shape
    for i in range(n):
        eta[i] = b0
    for j in range(p):
        bj = beta[j]
        if bj != 0.0:
            for i in range(n):
                eta[i] += X[i, j] * bj


@njit(cache=True, nogil=True)
def _probability(e):  # pragma: no cover (compiled)
    """The fitted probability at linear predictor ``e``, clamped to [_PMIN, 1 - _PMIN] as glmnet does."""
    mu = 1.0 / (1.0 + np.exp(-e))
    if mu < _PMIN:
        return _PMIN
    if mu > 1.0 - _PMIN:
        return 1.0 - _PMIN
    return mu


@njit(cache=True, nogil=True)
def _path_kernel(X, y, lambdas, alpha, thresh, max_sweeps, max_newton):  # pragma: no cover (compiled)
    n, p = X.shape
    nl = lambdas.shape[0]
    betas = np.zeros((nl, p))
    b0s = np.zeros(nl)
    devs = np.zeros(nl)
    beta = np.zeros(p)
    ybar = 0.0
    for i in range(n):
        ybar += y[i]
    ybar /= n
    b0 = np.log(ybar / (1.0 - ybar))
    null_dev = 0.0
    for i in range(n):
        if y[i] > 0.5:
            null_dev -= 2.0 * np.log(ybar)
        else:
            null_dev -= 2.0 * np.log(1.0 - ybar)
    eta = np.empty(n)
    w = np.empty(n)
    r = np.empty(n)
    xv = np.empty(p)
    beta_old = np.empty(p)
    prev_ratio = 0.0
    n_fit = 0
    tol = thresh * null_dev / n
    for k in range(nl):
        lam = lambdas[k]
        l1 = lam * alpha
        l2 = lam * (1.0 - alpha)
        for _newton in range(max_newton):
            # the quadratic approximation at the current estimate
            _linear_predictor(X, beta, b0, eta)
            sw = 0.0
            for i in range(n):
                mu = _probability(eta[i])
                w[i] = mu * (1.0 - mu)
                r[i] = y[i] - mu  # = w * (working response - eta)
                sw += w[i]
            for j in range(p):
                s = 0.0
                for i in range(n):
                    s += w[i] * X[i, j] * X[i, j]
                xv[j] = s / n
                beta_old[j] = beta[j]
            b0_old = b0
            # coordinate descent on the weighted least-squares problem
            active_only = False
            for _sweep in range(max_sweeps):
                dlx = 0.0
                d = 0.0
                for i in range(n):
                    d += r[i]
                d /= sw
                if d != 0.0:
                    b0 += d
                    for i in range(n):
                        r[i] -= w[i] * d
                    dlx = max(dlx, sw / n * d * d)
                for j in range(p):
                    bj = beta[j]
                    if active_only and bj == 0.0:
                        continue
                    g = 0.0
                    for i in range(n):
                        g += X[i, j] * r[i]
                    u = g / n + xv[j] * bj
                    a = abs(u) - l1
                    new = 0.0
                    if a > 0.0:
                        new = np.sign(u) * a / (xv[j] + l2)
                    if new != bj:
                        delta = new - bj
                        beta[j] = new
                        for i in range(n):
                            r[i] -= delta * w[i] * X[i, j]
                        dlx = max(dlx, xv[j] * delta * delta)
                if dlx < tol:
                    if active_only:
                        active_only = False  # confirm with a sweep over every feature
                    else:
                        break
                else:
                    active_only = True
            change = (b0 - b0_old) ** 2 * sw / n
            for j in range(p):
                dj = beta[j] - beta_old[j]
                change = max(change, xv[j] * dj * dj)
            if change < tol:
                break
        # deviance at this lambda
        dev = 0.0
        _linear_predictor(X, beta, b0, eta)
        for i in range(n):
            mu = _probability(eta[i])
            if y[i] > 0.5:
                dev -= 2.0 * np.log(mu)
            else:
                dev -= 2.0 * np.log(1.0 - mu)
        for j in range(p):
            betas[k, j] = beta[j]
        b0s[k] = b0
        devs[k] = dev
        n_fit = k + 1
        ratio = 1.0 - dev / null_dev
        if k + 1 >= _MIN_LAMBDAS and (ratio - prev_ratio < _FDEV * ratio or ratio > _DEV_MAX):
            break
        prev_ratio = ratio
    return betas[:n_fit], b0s[:n_fit], devs[:n_fit], null_dev


def lambda_sequence(
    Xs: np.ndarray, y: np.ndarray, *, alpha: float, n_lambda: int = 100, lambda_min_ratio: float | None = None
) -> np.ndarray:
    """glmnet's default lambda path for standardised ``Xs`` (n x p) and 0/1 ``y``."""
    n, p = Xs.shape
    if lambda_min_ratio is None:
        lambda_min_ratio = 0.01 if n < p else 1e-4
    g = np.abs(Xs.T @ (y - y.mean())) / n
    lam_max = float(g.max()) / max(alpha, 1e-3) * (1 + 1e-9) if g.size else 1.0  # all coefficients 0 there
    if not np.isfinite(lam_max) or lam_max <= 0:
        lam_max = 1.0
    return lam_max * lambda_min_ratio ** (np.arange(n_lambda) / max(n_lambda - 1, 1))


def binomial_path(
    X: np.ndarray,
    y: np.ndarray,
    *,
    alpha: float = 1.0,
    lambdas: np.ndarray | None = None,
    n_lambda: int = 100,
    lambda_min_ratio: float | None = None,
    standardize: bool = True,
    thresh: float = 1e-7,
    max_sweeps: int = 100_000,
    max_newton: int = 100,
):
    """Fit the whole path; returns a dict of ``lambdas``, ``coef`` (n_fit x p, original scale),
    ``intercept`` (n_fit), ``deviance``, ``null_deviance`` and ``n_nonzero``.

    Constant features get a coefficient of 0 (glmnet leaves them out).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    p = X.shape[1]
    mean = X.mean(axis=0)
    sd = X.std(axis=0)  # divisor n, as glmnet
    keep = sd > 1e-12 * np.maximum(1.0, np.abs(mean))
    Xk = X[:, keep]
    Xs = (Xk - mean[keep]) / sd[keep] if standardize else Xk - mean[keep]
    Xs = np.asfortranarray(Xs)
    if lambdas is None:
        lambdas = lambda_sequence(Xs, y, alpha=alpha, n_lambda=n_lambda, lambda_min_ratio=lambda_min_ratio)
    lambdas = np.asarray(lambdas, dtype=np.float64)
    if Xs.shape[1] == 0:
        ybar = y.mean()
        nl = len(lambdas)
        b0 = np.full(nl, np.log(ybar / (1 - ybar)))
        dev0 = -2 * np.sum(y * np.log(ybar) + (1 - y) * np.log(1 - ybar))
        return {
            "lambdas": lambdas,
            "coef": np.zeros((nl, p)),
            "intercept": b0,
            "deviance": np.full(nl, dev0),
            "null_deviance": dev0,
            "n_nonzero": np.zeros(nl, dtype=int),
        }
    betas, b0s, devs, null_dev = _path_kernel(
        Xs, y, lambdas, float(alpha), float(thresh), int(max_sweeps), int(max_newton)
    )
    n_fit = betas.shape[0]
    coef = np.zeros((n_fit, p))
    scale = sd[keep] if standardize else np.ones(int(keep.sum()))
    coef[:, keep] = betas / scale
    # centring moved into the intercept: b0 - sum(mean * b) on the original scale
    intercept = b0s - coef[:, keep] @ mean[keep]
    return {
        "lambdas": lambdas[:n_fit],
        "coef": coef,
        "intercept": intercept,
        "deviance": devs,
        "null_deviance": float(null_dev),
        "n_nonzero": (coef != 0).sum(axis=1),
    }
