"""Logistic regression for every feature at once: Newton/IRLS steps in lockstep over features.

All features share the design ``X`` (n x p); each has its own binary response (a column of
``Y``). One iteration evaluates ``mu = expit(X B)`` for all features, the Fisher information
``X' diag(w mu (1-mu)) X`` for all features as one matrix product of the weights with the row
outer products ``x_i x_i'`` (an ``n x p^2`` matrix computed once), and solves the ``p x p``
systems in a batch. Features leave the iteration as they converge.

MaAsLin3's augmentation against separation (Ghosh et al., maaslin3 ``R/fit.R``,
``augment_data``): the data are stacked three times, the second copy with every response set
to 1 and the third with every response 0, and the copies get the weight ``p / (2 n)`` (``p``:
coefficients besides the intercept, ``n``: samples). Because each pseudo-observation has the
covariates of its sample, the weighted log-likelihood equals that of the ``n`` original rows
with weight ``1 + 2w`` and the fractional response ``(y + w) / (1 + 2w)`` -- so the augmented
fit costs no more than the plain one and gives the same estimates, deviance and Fisher
information as R's ``glm(family = binomial, weights = ...)`` on the stacked data.

The iterations are ``glm.fit``'s (start, IRLS updates, convergence rule, ``maxit`` 25,
standard errors from the last weighted QR), so estimates stop where R's stop; R's warnings are
reproduced as flags: not converged, and fitted probabilities numerically 0 or 1
(``mu < 10 eps`` or ``mu > 1 - 10 eps``).
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

__all__ = ["logistic_all"]

_EPS10 = 10 * np.finfo(float).eps


_THRESH, _INVEPS = 30.0, 1.0 / np.finfo(float).eps


def _linkinv(eta):
    """R's ``binomial()$linkinv`` (C ``logit_linkinv``): clamped at |eta| > 30 so mu stays in (0, 1)."""
    t = np.where(
        eta < -_THRESH, np.finfo(float).eps, np.where(eta > _THRESH, _INVEPS, np.exp(np.clip(eta, -_THRESH, _THRESH)))
    )
    return t / (1.0 + t)


def _mu_eta(eta):
    """R's ``binomial()$mu.eta`` (C ``logit_mu_eta``)."""
    e = np.exp(np.clip(eta, -_THRESH, _THRESH))
    return np.where(np.abs(eta) > _THRESH, np.finfo(float).eps, e / (1.0 + e) ** 2)


def _deviance(mu, ypos, yneg):
    """``-2 * sum(ypos log mu + yneg log(1 - mu))`` per column (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(ypos > 0, ypos * np.log(mu), 0.0)
        b = np.where(yneg > 0, yneg * np.log1p(-mu), 0.0)
    return -2.0 * (a + b).sum(axis=0)


def logistic_all(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    augment_weight: float = 0.0,
    maxit: int = 25,
    epsilon: float = 1e-8,
    chunk_bytes: float = 2e8,
):
    """Fit ``logit P(Y[:, f] = 1) = X b_f`` for every feature f (rows of X shared), as ``glm.fit``.

    The iterations are R's: the first weighted least-squares step starts from ``glm``'s
    ``mustart = (weight * y + 0.5) / (weight + 1)`` of every (original and pseudo-)
    observation; later steps are the IRLS (= Newton) updates; convergence when
    ``|dev - dev_old| / (|dev| + 0.1) < epsilon`` within ``maxit`` iterations; standard errors
    from the weighted QR of the last step, as ``summary.glm`` takes them. The estimates and
    standard errors therefore follow R's to rounding, including where R stops short.

    Parameters
    ----------
    X : (n, p) design with intercept.
    Y : (n, F) responses in {0, 1}.
    augment_weight : weight ``w`` of each augmented pseudo-observation (0: plain logistic
        regression). MaAsLin3 uses ``w = (p - 1) / (2 n)``.

    Returns
    -------
    coef, stderr, pval : (F, p) arrays (Wald z tests, as ``summary.glm``)
    info : dict with ``converged`` (F,), ``boundary`` (F,: fitted probabilities numerically 0
        or 1), ``iterations`` (F,), ``deviance`` (F,)
    """
    X = np.asarray(X, float)
    Y = np.asarray(Y, float)
    n, p = X.shape
    F = Y.shape[1]
    coef = np.full((F, p), np.nan)
    se = np.full((F, p), np.nan)
    conv = np.zeros(F, bool)
    boundary = np.zeros(F, bool)
    iters = np.zeros(F, int)
    dev_out = np.full(F, np.nan)
    w = float(augment_weight)
    tot = 1.0 + 2.0 * w  # total weight per sample (the observation and its two pseudo-observations)
    outer = np.einsum("ij,ik->ijk", X, X).reshape(n, p * p)
    step = int(max(1, min(F, chunk_bytes // (8.0 * n * 10))))

    def solve(W, Wz):
        H = (W.T @ outer).reshape(-1, p, p)
        rhs = (X.T @ Wz).T
        try:
            return np.linalg.solve(H, rhs[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            return np.einsum("fij,fj->fi", np.linalg.pinv(H), rhs)

    for start in range(0, F, step):
        sl = slice(start, min(F, start + step))
        y = Y[:, sl]
        Fc = y.shape[1]
        ypos = y + w  # weight on log(mu): the observation (if 1) plus the pseudo "1"
        yneg = 1.0 - y + w  # weight on log(1 - mu)
        # --- iteration 1 from glm's mustart, row by row (original, pseudo-1, pseudo-0)
        rows = [(y, np.ones_like(y))]
        if w > 0:
            rows += [(np.ones_like(y), np.full_like(y, w)), (np.zeros_like(y), np.full_like(y, w))]
        W = np.zeros_like(y)
        Wz = np.zeros_like(y)
        dev = np.zeros(Fc)
        for yr, wr in rows:
            m = (wr * yr + 0.5) / (wr + 1.0)
            v = m * (1.0 - m)
            W += wr * v
            Wz += wr * v * (special.logit(m) + (yr - m) / v)
            dev += _deviance(m, wr * yr, wr * (1.0 - yr))
        B = solve(W, Wz)
        W_last = W
        mu = _linkinv(X @ B.T)
        dold = dev
        dev = _deviance(mu, ypos, yneg)
        it_c = np.ones(Fc, int)
        conv_c = np.abs(dev - dold) / (np.abs(dev) + 0.1) < epsilon
        active = np.flatnonzero(~conv_c)
        for it in range(2, maxit + 1):
            if active.size == 0:
                break
            mu_a = mu[:, active]
            eta_a = X @ B[active].T
            v = mu_a * (1.0 - mu_a)
            me = _mu_eta(eta_a)
            # the three rows of a sample share eta: their IRLS weights and working responses sum to
            Wa = tot * me * me / v
            Wza = Wa * eta_a + (me / v) * (ypos[:, active] - tot * mu_a)
            newB = solve(Wa, Wza)
            mu_new = _linkinv(X @ newB.T)
            dnew = _deviance(mu_new, ypos[:, active], yneg[:, active])
            # glm.fit halves the step only when the deviance is not finite
            bad = ~np.isfinite(dnew)
            for _ in range(30):
                if not bad.any():
                    break
                newB[bad] = (newB[bad] + B[active[bad]]) / 2.0
                mu_b = _linkinv(X @ newB[bad].T)
                mu_new[:, bad] = mu_b
                dnew[bad] = _deviance(mu_b, ypos[:, active[bad]], yneg[:, active[bad]])
                bad = ~np.isfinite(dnew)
            dold = dev[active]
            B[active] = newB
            mu[:, active] = mu_new
            dev[active] = dnew
            W_last[:, active] = Wa
            it_c[active] = it
            done = np.abs(dnew - dold) / (np.abs(dnew) + 0.1) < epsilon
            conv_c[active[done]] = True
            active = active[~done]
        # standard errors from the weighted QR of the last step (summary.glm's covmat.unscaled)
        H = (W_last.T @ outer).reshape(-1, p, p)
        with np.errstate(invalid="ignore"):
            try:
                C = np.linalg.inv(H)
            except np.linalg.LinAlgError:
                C = np.linalg.pinv(H)
            s = np.sqrt(np.diagonal(C, axis1=1, axis2=2))
        coef[sl] = B
        se[sl] = s
        conv[sl] = conv_c
        iters[sl] = it_c
        dev_out[sl] = dev
        boundary[sl] = ((mu < _EPS10) | (mu > 1 - _EPS10)).any(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = coef / se
    pval = 2.0 * stats.norm.sf(np.abs(z))
    return coef, se, pval, {"converged": conv, "boundary": boundary, "iterations": iters, "deviance": dev_out}
