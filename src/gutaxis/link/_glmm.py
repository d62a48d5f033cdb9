"""Random-intercept logistic mixed models (lme4's ``glmer(family = binomial)``, Laplace
approximation, ``nAGQ = 1``) fitted for every feature together.

Model per feature: ``logit P(y_i = 1) = x_i' beta + b_g(i)``, ``b_j ~ N(0, theta^2)`` for the
levels ``j`` of one grouping factor. In lme4's parameterisation (Bates, Maechler, Bolker & Walker
2015, J Stat Softw 67(1), doi:10.18637/jss.v067.i01) ``b = theta u``, ``u ~ N(0, I)``, and the
Laplace deviance at ``(theta, beta)`` is

    D = -2 sum_i l_i(y_i; mu_i) + |u^|^2 + log|L|^2,     L L' = theta^2 Z'WZ + I,

with ``u^`` the conditional modes (penalised IRLS: the minimiser of the penalised weighted
deviance), ``mu_i = expit(x_i' beta + theta u^_g(i))`` and ``W = prior weight * mu (1 - mu)`` at
the modes. ``glmer`` minimises ``D`` over ``theta >= 0`` and ``beta``.

Prior weights as ``glmer(weights = )`` with a 0/1 response: the penalised IRLS (modes, ``W``)
uses the weights as given, while the log-likelihood term is R's ``binomial()$aic``, which rounds
them: a row of weight below 0.5 moves the modes and ``W`` but adds nothing to ``-2 l``. MaAsLin3's
augmentation (every sample stacked once more as present and once as absent with weight
``p / (2 n)``, grouping kept) is therefore represented on the ``n`` samples: the modes see
``y + w`` successes out of ``1 + 2 w``, the log-likelihood only the observed ``y``. (At
``theta = 0`` the modes vanish and ``D`` is the plain, unaugmented logistic deviance.)

With one grouping factor ``Z'WZ`` is diagonal, so everything is a closed form in group sums:

* modes: ``b_j = theta u_j`` solves ``b_j = gamma sum_{i in j} (P_i - a_i mu_i)``
  (``gamma = theta^2``; ``P``: weighted successes, ``a``: total weight), a monotone scalar
  equation per group, solved by bracketed Newton steps for all features and groups at once;
* ``log|L|^2 = sum_j log(1 + gamma S_j)``, ``S_j = sum_{i in j} a_i mu_i (1 - mu_i)``;
* the gradient and the Hessian of ``D`` in ``(gamma, beta)`` are analytic: the modes are
  differentiated implicitly (``db_j = (G_j dgamma - gamma s_j' dbeta) / (1 + gamma S_j)``,
  ``s_j = sum a_i v_i x_i``), second derivatives through the Lagrangian of the mode equation
  (:func:`_evaluate`); each costs a few group sums and one product with the rows' outer
  products, for all features at once.

Several random intercepts (``(1 | site) + (1 | subject)``, nested or crossed; :class:`_MultiProblem`):
``b = Lambda u`` with ``Lambda`` the diagonal of each level's ``theta_k``, and ``Z'WZ`` is no longer
diagonal. The factor with the most levels is eliminated (its block of ``M = Lambda Z'WZ Lambda + I``
is diagonal), leaving a small dense Schur complement over the other factors' levels, factorised
for all features at once (the structure of ``_mixed._DenseBackend``). The modes are Newton steps
on the (convex) penalised IRLS objective with step halving; ``log|L|^2 = log|M|``; the gradient of
``D`` in ``(theta, beta)`` is analytic (adjoint of the mode equation, :func:`_mevaluate`), the
Hessian central differences of it. ``D`` is even in each ``theta_k``, so ``theta`` is optimised
unconstrained by the same modified Newton method and reported as ``|theta|``. With one variance at
0 this is the one-factor fit (tests/test_link_glmm.py, also against glmer with two factors).

``D`` is even in ``theta``, so it is optimised over ``gamma >= 0`` (smooth, with the score for the
variance as the gradient at the boundary) by a projected modified Newton method with Armijo
backtracking, all features in lockstep (features leave as they converge).

Standard errors as ``summary(glmer)`` (``vcov.merMod`` with the Hessian lme4 computes after the
fit): ``2 [H^-1]_beta``, ``H`` the Hessian of ``D`` in ``(theta, beta)``; where that block is not
positive definite, lme4's fallback ``(X'WX - sum_j gamma s_j s_j' / (1 + gamma S_j))^-1``. Wald z
tests. lme4's convergence checks (``checkConv``: scaled gradient above 0.002, degenerate or
near-singular Hessians; none when ``theta < 1e-4``, a singular fit) are applied to the estimate
and returned as lme4's warning texts.

``glmer`` itself evaluates ``D`` with the modes' penalised IRLS stopped at a relative tolerance of
1e-7 and ``W`` taken one iteration before the modes, so its optimum moves with that truncation
(on MaAsLin3's HMP2 data up to 0.08 standard errors of a coefficient; with ``tolPwrss = 1e-12``
glmer comes to within 1e-3 standard errors of the optimum here); here the modes are solved to
rounding, which gives the optimum of the Laplace deviance itself (tests/test_link_glmm.py).

Layout: this module holds the one-grouping-factor machinery and the public entry points
(:func:`glmm_all`, :func:`laplace_deviance`); the several-factor machinery is in
:mod:`._glmm_multi`, the per-feature views and starting values both fits share in
:mod:`._glmm_features`, lme4's standard errors and convergence checks in :mod:`._glmm_inference`
(:func:`lme4_conv_messages` is re-exported here). None of those imports this module.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from ..errors import InputError
from ._glmm_features import _start, _sub
from ._glmm_inference import _SINGULAR_TOL, _at_boundary, _wald_se, lme4_conv_messages
from ._glmm_multi import _glmm_multi, _mevaluate, _MultiProblem

__all__ = ["glmm_all", "laplace_deviance", "lme4_conv_messages"]


class _Problem:
    """One grouping factor; rows sorted by group so that group sums are ``np.add.reduceat``."""

    def __init__(self, X, Y, codes, weights, augment_weight):
        n, p = X.shape
        codes = np.asarray(codes)
        _, codes = np.unique(codes, return_inverse=True)
        order = np.argsort(codes, kind="stable")
        cs = codes[order]
        self.order = order
        self.starts = np.r_[0, np.flatnonzero(np.diff(cs)) + 1]
        self.idx = cs  # group of each sorted row
        self.m = int(cs.max()) + 1
        self.n, self.p = n, p
        self.X = np.asarray(X, float)[order]
        Y = np.asarray(Y, float)[order].T  # F x n
        wt = np.ones(n) if weights is None else np.asarray(weights, float)[order]
        wt = np.broadcast_to(wt, Y.shape) if wt.ndim == 1 else wt.T
        miss = np.isnan(Y)
        y = np.where(miss, 0.0, Y)
        wt = np.where(miss, 0.0, wt)
        w = float(augment_weight)
        wa = np.where(miss, 0.0, w)
        # penalised IRLS: weighted successes / failures (augmentation adds w of each)
        self.P = wt * y + wa
        self.N = wt * (1.0 - y) + wa
        self.a = self.P + self.N
        # log-likelihood term (binomial()$aic): rounded weights
        rw, rwa = np.round(wt), np.round(wa)
        self.Lp = rw * y + rwa
        self.Ln = rw * (1.0 - y) + rwa
        self.c = self.Lp + self.Ln
        self.Psum = self.gsum(self.P)
        self.Nsum = self.gsum(self.N)
        self.O = np.einsum("ij,ik->ijk", self.X, self.X).reshape(n, p * p)  # row outer products

    def gsum(self, A):
        """Sum over the rows of each group (last axis for 2-d arrays, axis 1 for 3-d)."""
        return np.add.reduceat(A, self.starts, axis=1)


def _modes(prob, v, o, gam, b, tol=1e-11, maxit=200):
    """Conditional modes ``b`` (F x m, on the linear-predictor scale) for offsets ``o`` = X beta.

    Each group solves ``h(b) = b - gamma G(b) = 0`` with ``h' = 1 + gamma S >= 1``: Newton steps,
    kept inside a bracket (the root lies between ``-gamma N_j`` and ``gamma P_j``; h's sign
    moves the bracket) and bisected when a step leaves it.
    """
    g = gam[:, None]
    lo = np.minimum(-g * v.Nsum, g * v.Psum)
    hi = np.maximum(-g * v.Nsum, g * v.Psum)
    b = np.clip(b, lo, hi)
    act = np.arange(b.shape[0])
    for _ in range(maxit):
        if act.size == 0:
            break
        ba, ga = b[act], g[act]
        eta = o[act] + ba[:, prob.idx]
        mu = special.expit(eta)
        a = v.a[act]
        G = prob.gsum(v.P[act] - a * mu)
        S = prob.gsum(a * mu * (1.0 - mu))
        h = ba - ga * G
        la, ha = lo[act], hi[act]
        la = np.where(h < 0, ba, la)
        ha = np.where(h > 0, ba, ha)
        bn = ba - h / (1.0 + ga * S)
        small = np.abs(bn - ba) <= tol * (1.0 + np.abs(ba))
        # a Newton step onto or out of the bracket (it can cycle between the ends): bisect instead
        out = ((bn <= la) | (bn >= ha)) & ~small
        bn = np.where(out, 0.5 * (la + ha), bn)
        bn = np.where(h == 0, ba, bn)
        lo[act], hi[act] = la, ha
        done = (small | (h == 0)).all(axis=1)
        b[act] = bn
        act = act[~done]
    return b


def _evaluate(prob, v, z, b, grad=True, hess=False):
    """Laplace deviance, its gradient and (``hess``) Hessian in ``z = (gamma, beta)``, for the
    features of view ``v``; ``b`` warm-starts the modes.

    Derivatives: with ``c_j = b_j / gamma`` (= ``G_j`` at the modes; finite at ``gamma = 0``),
    ``eta = X beta + gamma c`` and ``D = F(c, beta, gamma) = sum f_i(eta_i) + gamma sum c_j^2 +
    sum log(1 + gamma S_j)`` with ``c`` fixed by ``h = c - G(eta) = 0``. Gradient:
    ``F_z + F_c c_z``, ``c_z = -h_z / h_c``; Hessian: that of the Lagrangian ``F - lambda h``
    (``lambda = F_c / h_c``) in ``(c, z)``, reduced along ``c_z``. Per group everything is a
    sum over its rows, so the Hessian needs three group sums of ``p``-vectors and two products
    with the row outer products.
    """
    gam, beta = z[:, 0], z[:, 1:]
    X, idx = prob.X, prob.idx
    o = beta @ X.T
    b = _modes(prob, v, o, gam, b)
    eta = o + b[:, idx]
    mu = special.expit(eta)
    ll = (
        np.where(v.Lp > 0, v.Lp * special.log_expit(eta), 0.0) + np.where(v.Ln > 0, v.Ln * special.log_expit(-eta), 0.0)
    ).sum(axis=1)
    vv = mu * (1.0 - mu)
    av = v.a * vv
    S = prob.gsum(av)
    T = gam[:, None]
    d = 1.0 + T * S
    c = prob.gsum(v.P - v.a * mu)  # = b / gamma at the modes
    D = -2.0 * ll + gam * (c * c).sum(axis=1) + np.log(d).sum(axis=1)
    out = {"D": D, "b": b, "mu": mu, "S": S, "d": d, "av": av}
    if not grad:
        return out
    av1 = av * (1.0 - 2.0 * mu)  # a dv/deta
    r = -2.0 * (v.Lp - v.c * mu) + (T / d)[:, idx] * av1  # dF/deta_i
    R = prob.gsum(r)
    s = prob.gsum(av[:, :, None] * X[None])  # F x m x p
    Fc = T * (R + 2.0 * c)
    cb = -s / d[:, :, None]  # dc/dbeta
    ct = -c * S / d  # dc/dgamma
    gb = r @ X + np.einsum("fm,fmp->fp", Fc, cb)
    gt = (c * R + c * c + S / d + Fc * ct).sum(axis=1)
    out.update(g=np.concatenate([gt[:, None], gb], axis=1), sx=s)
    if not hess:
        return out
    p = prob.p
    A = 2.0 * v.c * vv + (T / d)[:, idx] * v.a * vv * (1.0 - 6.0 * vv)  # own second derivative
    A0, S1 = prob.gsum(A), prob.gsum(av1)
    s1 = prob.gsum(av1[:, :, None] * X[None])
    Ax = prob.gsum(A[:, :, None] * X[None])
    k = (T / d) ** 2
    lam = Fc / d
    d2 = d * d
    Lcc = T * T * (A0 - k * S1 * S1 - lam * S1) + 2.0 * T
    Lcb = T[:, :, None] * Ax - (k * T * S1 + lam * T)[:, :, None] * s1
    Lct = T * c * (A0 - k * S1 * S1) + T * S1 / d2 + R + 2.0 * c - lam * (T * c * S1 + S)
    Lbt = c[:, :, None] * Ax + (-k * c * S1 + 1.0 / d2 - lam * c)[:, :, None] * s1
    Ltt = c * c * (A0 - k * S1 * S1 - lam * S1) + 2.0 * c * S1 / d2 - S * S / d2
    Wb = A - lam[:, idx] * av1
    Hbb = (Wb @ prob.O).reshape(-1, p, p) - np.einsum("fm,fmi,fmj->fij", k, s1, s1)
    Cb = np.einsum("fmi,fmj->fij", Lcb, cb)
    Hbb += Cb + np.swapaxes(Cb, 1, 2) + np.einsum("fm,fmi,fmj->fij", Lcc, cb, cb)
    Hbt = (Lbt + Lcb * ct[:, :, None] + cb * (Lct + Lcc * ct)[:, :, None]).sum(axis=1)
    Htt = (Ltt + 2.0 * Lct * ct + Lcc * ct * ct).sum(axis=1)
    H = np.empty((gam.size, p + 1, p + 1))
    H[:, 0, 0] = Htt
    H[:, 0, 1:] = Hbt
    H[:, 1:, 0] = Hbt
    H[:, 1:, 1:] = 0.5 * (Hbb + np.swapaxes(Hbb, 1, 2))
    out["H"] = H
    return out


def _hessian(prob, v, z, b, g0, central=True, rel=1e-5):
    """Hessian of D in (gamma, beta) by differences of the analytic gradient (gamma: forward
    differences next to its bound); a check on the analytic one (tests)."""
    F, k = z.shape
    H = np.empty((F, k, k))
    for j in range(k):
        h = rel * (1.0 + np.abs(z[:, j]))
        zp = z.copy()
        zp[:, j] += h
        gp = _evaluate(prob, v, zp, b.copy())["g"]
        if central:
            fwd = (z[:, j] < 2 * h) if j == 0 else np.zeros(F, bool)
            zm = z.copy()
            zm[:, j] = np.where(fwd, z[:, j], z[:, j] - h)
            gm = np.where(fwd[:, None], g0, _evaluate(prob, v, zm, b.copy())["g"]) if (~fwd).any() else g0
            H[:, :, j] = (gp - gm) / np.where(fwd, h, 2 * h)[:, None]
        else:
            H[:, :, j] = (gp - g0) / h[:, None]
    return 0.5 * (H + np.swapaxes(H, 1, 2))


def _optimise(prob, v, z, b, *, maxit=100, tol=1e-10, max_step=5.0):
    """Projected modified Newton on (gamma >= 0, beta), all features in lockstep."""
    F, k = z.shape
    converged = np.zeros(F, bool)
    iters = np.zeros(F, int)
    act = np.arange(F)
    for it in range(maxit):
        if act.size == 0:
            break
        va = _sub(v, act)
        za, ba = z[act], b[act]
        ev = _evaluate(prob, va, za, ba, hess=True)
        ba = ev["b"]
        g, H = ev["g"], ev["H"]
        free = np.ones((act.size, k), bool)
        free[:, 0] = ~((za[:, 0] <= 0) & (g[:, 0] >= 0))
        Hf = H * free[:, :, None] * free[:, None, :] + np.eye(k)[None] * (~free)[:, :, None]
        with np.errstate(invalid="ignore"):
            lam, vec = np.linalg.eigh(np.nan_to_num(Hf))
        scale = np.maximum(np.abs(lam).max(axis=1, keepdims=True), 1e-300)
        lam = np.maximum(np.abs(lam), 1e-8 * scale)
        step = -np.einsum("fij,fj,fkj,fk->fi", vec, 1.0 / lam, vec, g * free) * free
        big = np.abs(step).max(axis=1, keepdims=True)
        step *= np.minimum(1.0, max_step / np.maximum(big, 1e-300))  # a trust radius against runaway steps
        dec = -(g * step).sum(axis=1)
        done = (dec < tol) | (np.abs(step).max(axis=1) < 1e-12 * (1.0 + np.abs(za).max(axis=1)))
        iters[act] = it
        converged[act[done]] = True
        b[act] = ba
        # the last (tiny) Newton step is taken too: it makes the estimate exact to rounding
        fin = za[done] + step[done]
        fin[:, 0] = np.maximum(fin[:, 0], 0.0)
        z[act[done]] = fin
        keep = ~done
        act, za, ba, step, g, D0 = act[keep], za[keep], ba[keep], step[keep], g[keep], ev["D"][keep]
        if act.size == 0:
            break
        va = _sub(v, act)
        alpha = np.ones(act.size)
        accepted = np.zeros(act.size, bool)
        znew, bnew = za.copy(), ba.copy()
        for _ in range(40):
            todo = np.flatnonzero(~accepted)
            if todo.size == 0:
                break
            trial = za[todo] + alpha[todo, None] * step[todo]
            trial[:, 0] = np.maximum(trial[:, 0], 0.0)
            evt = _evaluate(prob, _sub(va, todo), trial, ba[todo].copy(), grad=False)
            slope = (g[todo] * (trial - za[todo])).sum(axis=1)
            ok = evt["D"] <= D0[todo] + 1e-4 * np.minimum(slope, 0.0) + 1e-12 * np.abs(D0[todo])
            znew[todo[ok]] = trial[ok]
            bnew[todo[ok]] = evt["b"][ok]
            accepted[todo[ok]] = True
            alpha[todo[~ok]] *= 0.5
        # no decrease along the Newton direction: stop here (the checks below judge the point)
        z[act[accepted]] = znew[accepted]
        b[act[accepted]] = bnew[accepted]
        act = act[accepted]
    return z, b, converged, iters


def laplace_deviance(X, y, codes, theta, beta, *, weights=None, augment_weight=0.0):
    """glmer's Laplace deviance of one response at ``(theta, beta)``, with the conditional modes.

    Returns ``D`` and ``u`` (the spherical modes, one per level of ``codes`` in sorted order).
    Several random intercepts: ``codes`` a list of arrays, ``theta`` one value per array; ``u``
    then lists the modes of each factor.
    """
    if isinstance(codes, (list, tuple)) and len(codes) > 1:
        prob = _MultiProblem(np.asarray(X, float), np.asarray(y, float).reshape(-1, 1), codes, weights, augment_weight)
        th = np.asarray(theta, float)[prob.order]
        z = np.concatenate([th, np.asarray(beta, float)])[None]
        ev = _mevaluate(prob, _sub(prob, [0]), z, np.zeros((1, prob.m1)), np.zeros((1, prob.q2)), grad=False)
        uk = [ev["u1"][0]] + [ev["u2"][0, prob.fac2 == k] for k in range(1, prob.K)]
        return float(ev["D"][0]), [uk[prob.order.index(k)] for k in range(prob.K)]
    if isinstance(codes, (list, tuple)):
        codes = codes[0]
    prob = _Problem(np.asarray(X, float), np.asarray(y, float).reshape(-1, 1), codes, weights, augment_weight)
    v = _sub(prob, np.array([0]))
    th = float(theta)
    z = np.concatenate([[th * th], np.asarray(beta, float)])[None]
    ev = _evaluate(prob, v, z, np.zeros((1, prob.m)), grad=False)
    u = ev["b"][0] / th if th > 0 else np.zeros(prob.m)
    return float(ev["D"][0]), u


def glmm_all(X, Y, codes_list, *, weights=None, augment_weight=0.0, max_bytes=2e8, maxit=100):
    """Fit ``logit P(Y[:, f] = 1) = X beta + (1 | g_1) + ... + (1 | g_K)`` by Laplace maximum
    likelihood for every f.

    Parameters
    ----------
    X : (n, p) fixed-effect design (with intercept).
    Y : (n, F) responses in {0, 1}; NaN leaves the sample out of that feature's model.
    codes_list : arrays of n group codes, one per random intercept (several: see
        :class:`_MultiProblem`; ``theta`` then has one column per array, in their order).
    weights : prior weights (n,) or (n, F), as ``glmer(weights = )``.
    augment_weight : MaAsLin3's augmentation weight ``w`` (``p / (2 n)``), see the module notes.

    Returns
    -------
    coef, stderr, pval : (F, p) (Wald z, as ``summary(glmer)``)
    info : dict with ``theta`` (F, K), ``deviance`` (F,), ``converged`` (F,), ``singular``
        (some theta < 1e-4), ``boundary`` (fitted probabilities numerically 0 or 1), ``vcov_hessian``
        (standard errors from the Hessian, else from lme4's RX fallback), ``iterations``,
        ``messages`` (F,) list of lme4's convergence warnings (empty when none; a constant
        response is not fitted: NaN and ``["Response is constant"]``, glmer's error).

    Raises :class:`InputError` for no grouping factor, one with a single group, or responses
    other than 0/1.
    """
    if len(codes_list) < 1:
        raise InputError(
            "the logistic mixed model needs a random intercept",
            source="formula",
            hint="give a grouping factor, e.g. the subject",
        )
    X = np.asarray(X, float)
    Y = np.asarray(Y, float)
    n, p = X.shape
    F = Y.shape[1]
    K = len(codes_list)
    coef = np.full((F, p), np.nan)
    se = np.full((F, p), np.nan)
    theta = np.full((F, K), np.nan)
    dev = np.full(F, np.nan)
    conv = np.zeros(F, bool)
    boundary = np.zeros(F, bool)
    vh = np.zeros(F, bool)
    iters = np.zeros(F, int)
    messages = [[] for _ in range(F)]
    out = dict(
        coef=coef, se=se, theta=theta, dev=dev, conv=conv, boundary=boundary, vh=vh, iters=iters, messages=messages
    )
    if any(np.unique(np.asarray(c)).size < 2 for c in codes_list):
        raise InputError(
            "the random intercept has a single group (lme4: grouping factors must have > 1 sampled level)",
            source="formula",
            hint="a random intercept needs at least two groups; drop it",
        )
    if np.any((Y != 0) & (Y != 1) & ~np.isnan(Y)):
        raise InputError(
            "the logistic mixed model needs responses 0 or 1 (or NaN for a sample left out)",
            source="glmm",
            hint="give presence/absence",
        )
    # a constant response has no fit (glmer: "Response is constant")
    lo = np.nanmin(np.where(np.isnan(Y), np.inf, Y), axis=0)
    hi = np.nanmax(np.where(np.isnan(Y), -np.inf, Y), axis=0)
    const = ~(lo < hi)
    for f in np.flatnonzero(const):
        messages[f] = ["Response is constant"]
    fit = np.flatnonzero(~const)
    if K > 1:
        _glmm_multi(X, Y, codes_list, weights, augment_weight, max_bytes, maxit, fit, out)
        return _results(out)
    per = 8.0 * n * (p + 12) * 2
    chunk = int(max(1, min(max(fit.size, 1), max_bytes // per)))
    for start in range(0, fit.size, chunk):
        sl = fit[start : start + chunk]
        w = weights if weights is None or np.ndim(weights) == 1 else np.asarray(weights)[:, sl]
        prob = _Problem(X, Y[:, sl], codes_list[0], w, augment_weight)
        v = _sub(prob, np.arange(sl.size))
        beta0 = _start(prob, v)
        z = np.concatenate([np.ones((sl.size, 1)), beta0], axis=1)
        b = np.zeros((sl.size, prob.m))
        z, b, cv, it = _optimise(prob, v, z, b, maxit=maxit)
        ev = _evaluate(prob, v, z, b, hess=True)
        g, H = ev["g"], ev["H"]
        gam = z[:, 0]
        th = np.sqrt(gam)
        # (gamma, beta) -> (theta, beta): d gamma / d theta = 2 theta
        Ht = H.copy()
        Ht[:, 0, 0] = 4 * gam * H[:, 0, 0] + 2 * g[:, 0]
        Ht[:, 0, 1:] = 2 * th[:, None] * H[:, 0, 1:]
        Ht[:, 1:, 0] = Ht[:, 0, 1:]
        gt = g.copy()
        gt[:, 0] = 2 * th * g[:, 0]
        # RX fallback: (X'WX - sum_j gamma s_j s_j' / d_j)^-1
        XWX = np.einsum("fn,ni,nj->fij", ev["av"], prob.X, prob.X)
        RX = XWX - np.einsum("fm,fmi,fmj->fij", gam[:, None] / ev["d"], ev["sx"], ev["sx"])
        for i, f in enumerate(sl):
            se[f], vh[f] = _wald_se(Ht[i], RX[i], 1)
            messages[f] = lme4_conv_messages(th[i : i + 1], gt[i], Ht[i])
        coef[sl] = z[:, 1:]
        theta[sl, 0] = th
        dev[sl] = ev["D"]
        conv[sl] = cv
        iters[sl] = it
        boundary[sl] = _at_boundary(ev["mu"])
    return _results(out)


def _results(out):
    """``(coef, stderr, pval, info)`` of :func:`glmm_all` from the filled arrays."""
    coef, se, theta = out["coef"], out["se"], out["theta"]
    with np.errstate(invalid="ignore", divide="ignore"):
        zval = coef / se
    pval = 2.0 * stats.norm.sf(np.abs(zval))
    info = {
        "theta": theta,
        "deviance": out["dev"],
        "converged": out["conv"],
        "singular": (theta < _SINGULAR_TOL).any(axis=1),
        "boundary": out["boundary"],
        "vcov_hessian": out["vh"],
        "iterations": out["iters"],
        "messages": out["messages"],
    }
    return coef, se, pval, info
