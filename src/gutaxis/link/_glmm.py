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
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import special, stats

from ..errors import InputError
from ._mixed import _batched_inv_logdet

__all__ = ["glmm_all", "laplace_deviance", "lme4_conv_messages"]

_GRAD_TOL = 0.002  # lme4 check.conv.grad
_HESS_TOL = 1e-6  # lme4 check.conv.hess
_SINGULAR_TOL = 1e-4  # lme4 check.conv.singular


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


class _View:
    """The per-feature arrays of a subset of features (see :func:`_sub`)."""


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


def _start(prob, v, maxit=25):
    """Starting fixed effects: the weighted (augmented) logistic regression at gamma = 0."""
    X = prob.X
    F = v.P.shape[0]
    beta = np.zeros((F, prob.p))
    with np.errstate(divide="ignore", invalid="ignore"):
        p0 = np.clip(v.P.sum(axis=1) / v.a.sum(axis=1), 1e-6, 1 - 1e-6)
    icpt = np.flatnonzero(np.all(X == 1.0, axis=0))
    if icpt.size:
        beta[:, icpt[0]] = special.logit(p0)
    outer = prob.O
    for _ in range(maxit):
        eta = beta @ X.T
        mu = special.expit(eta)
        W = v.a * mu * (1 - mu)
        H = (W @ outer).reshape(F, prob.p, prob.p) + 1e-10 * np.eye(prob.p)
        gr = (v.P - v.a * mu) @ X
        step = np.linalg.solve(H, gr[:, :, None])[:, :, 0]
        nrm = np.abs(step).max(axis=1, keepdims=True)
        step = step * np.minimum(1.0, 5.0 / np.maximum(nrm, 1e-300))  # no wild first steps
        beta = beta + step
        if np.all(nrm < 1e-8):
            break
    return beta


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


def _sub(v, idx):
    """The per-feature arrays of features ``idx`` of a problem or view."""
    out = _View()
    for k in ("P", "N", "a", "Lp", "Ln", "c", "Psum", "Nsum"):
        if hasattr(v, k):  # group sums exist for one grouping factor only
            setattr(out, k, getattr(v, k)[idx])
    return out


def _check_hess(H, hesstype=""):
    """lme4's ``checkHess``: the warning text for one Hessian, or None."""
    if not np.all(np.isfinite(H)):
        return "Problem with Hessian check (infinite or missing values?)"
    evd = np.linalg.eigvalsh(H)
    neg = int((evd < -_HESS_TOL).sum())
    if neg:
        return f"Model failed to converge: degenerate {hesstype} Hessian with {neg} negative eigenvalues"
    try:
        np.linalg.cholesky(H)
        chol_ok = True
    except np.linalg.LinAlgError:
        chol_ok = False
    if (np.abs(evd) < _HESS_TOL).any() or not chol_ok:
        return f"{hesstype} Hessian is numerically singular: parameters are not uniquely determined"
    msgs = []
    if evd.max() * _HESS_TOL > 1:
        msgs.append("Model is nearly unidentifiable: very large eigenvalue\n - Rescale variables?")
    if evd.min() / evd.max() < _HESS_TOL:
        msgs.append("Model is nearly unidentifiable: large eigenvalue ratio\n - Rescale variables?")
    return ";".join(msgs) or None


def lme4_conv_messages(theta, grad, hess):
    """The warnings ``lme4::checkConv`` (1.1-31) gives for one fit, in order (possibly empty).

    ``theta``: (K,) estimates; ``grad``, ``hess``: gradient and Hessian of the deviance in
    ``(theta, beta)``. A singular fit (some ``theta < 1e-4``) gets only a message, no warning.
    """
    theta = np.atleast_1d(theta)
    K = theta.size
    if (theta < _SINGULAR_TOL).any():
        return []
    out = []
    try:
        R = np.linalg.cholesky(hess).T  # R's chol(): upper triangle, H = R'R
        scgrad = np.linalg.solve(R, grad)
        if not np.all(np.isfinite(scgrad)):
            raise np.linalg.LinAlgError
        mg = float(np.max(np.minimum(np.abs(scgrad), np.abs(grad))))
        if mg > _GRAD_TOL:
            # lme4 reports which.max() of the (scalar) maximum: always component 1
            out.append(f"Model failed to converge with max|grad| = {mg:.6g} (tol = {_GRAD_TOL:g}, component 1)")
    except np.linalg.LinAlgError:
        out.append("unable to evaluate scaled gradient")
    if hess.shape[0] > K:
        m = _check_hess(hess[K:, K:], "fixed-effect")
        if m:
            out.append(m)
    m = _check_hess(hess, "")
    if m:
        out.append(m)
    return out


# ---------------------------------------------------------------------------------------------
# several random intercepts


class _MultiProblem:
    """Several grouping factors. The factor with the most levels (``m1``) is eliminated: its block
    of ``M = Lambda Z'WZ Lambda + I`` is diagonal, leaving a dense Schur complement over the other
    factors' ``q2`` levels, stacked over features (as ``_mixed._DenseBackend`` does for ``Z'Z``)."""

    def __init__(self, X, Y, codes_list, weights, augment_weight):
        n, p = X.shape
        codes = [np.unique(np.asarray(c), return_inverse=True)[1].ravel() for c in codes_list]
        sizes = [int(c.max()) + 1 for c in codes]
        big = int(np.argmax(sizes))
        self.order = [big] + [k for k in range(len(codes)) if k != big]  # internal -> given order
        self.K = len(codes)
        self.n, self.p = n, p
        self.m1 = m1 = sizes[big]
        self.L1 = codes[big]
        offs = np.cumsum([0] + [sizes[k] for k in self.order[1:]])
        self.q2 = q2 = int(offs[-1])
        self.L2 = np.column_stack([codes[k] + offs[j] for j, k in enumerate(self.order[1:])])  # n x (K-1)
        self.fac2 = np.repeat(np.arange(1, self.K), np.diff(offs))  # internal factor of each q2 level
        rows = np.arange(n)
        K1 = self.K - 1
        self.Z1 = sp.csr_matrix((np.ones(n), (rows, self.L1)), shape=(n, m1))
        self.Z2 = sp.csr_matrix((np.ones(n * K1), (np.repeat(rows, K1), self.L2.ravel())), shape=(n, q2))
        self.E12 = sp.csr_matrix(
            (np.ones(n * K1), (np.repeat(rows, K1), (self.L1[:, None] * q2 + self.L2).ravel())), shape=(n, m1 * q2)
        )
        pairs = (self.L2[:, :, None] * q2 + self.L2[:, None, :]).reshape(n, -1)
        self.E22 = sp.csr_matrix(
            (np.ones(pairs.size), (np.repeat(rows, K1 * K1), pairs.ravel())), shape=(n, q2 * q2)
        ).tocsr()
        self.X = np.asarray(X, float)
        self.O = np.einsum("ij,ik->ijk", self.X, self.X).reshape(n, p * p)
        Y = np.asarray(Y, float).T  # F x n
        wt = np.ones(n) if weights is None else np.asarray(weights, float)
        wt = np.broadcast_to(wt, Y.shape) if wt.ndim == 1 else wt.T
        miss = np.isnan(Y)
        y = np.where(miss, 0.0, Y)
        wt = np.where(miss, 0.0, wt)
        wa = np.where(miss, 0.0, float(augment_weight))
        self.P = wt * y + wa
        self.N = wt * (1.0 - y) + wa
        self.a = self.P + self.N
        rw, rwa = np.round(wt), np.round(wa)
        self.Lp = rw * y + rwa
        self.Ln = rw * (1.0 - y) + rwa
        self.c = self.Lp + self.Ln

    def lam(self, t):
        """theta of each level: (F x m1, F x q2)."""
        return t[:, :1], t[:, self.fac2]

    def zl(self, t, u1, u2):
        """Z Lambda u (F x n)."""
        t1, t2 = self.lam(t)
        out = (t1 * u1)[:, self.L1]
        tu2 = t2 * u2
        for k in range(self.K - 1):
            out += tu2[:, self.L2[:, k]]
        return out

    def zt(self, A):
        """Z'A for A (F x n): (F x m1, F x q2)."""
        return np.asarray(A @ self.Z1), np.asarray(A @ self.Z2)

    def factor(self, t, W):
        """Block factorisation of M = Lambda Z'WZ Lambda + I for weights W (F x n)."""
        F = W.shape[0]
        m1, q2 = self.m1, self.q2
        t1, t2 = self.lam(t)
        A11 = np.asarray(W @ self.Z1)
        A12 = np.asarray(W @ self.E12).reshape(F, m1, q2)
        A22 = np.asarray(W @ self.E22).reshape(F, q2, q2)
        d1 = 1.0 + t1 * t1 * A11
        B = t1[:, :, None] * A12 * t2[:, None, :]
        Db = B / d1[:, :, None]
        S = t2[:, :, None] * A22 * t2[:, None, :] - np.swapaxes(B, 1, 2) @ Db
        S[:, np.arange(q2), np.arange(q2)] += 1.0
        Sinv, logdetS = _batched_inv_logdet(S)
        return dict(d1=d1, Db=Db, Sinv=Sinv, logdet=np.log(d1).sum(axis=1) + logdetS, A11=A11, A12=A12, A22=A22)

    @staticmethod
    def solve(fc, r1, r2):
        """M^-1 (r1, r2) for r1 (F x m1 [x c]), r2 (F x q2 [x c])."""
        vec = r1.ndim == 2
        if vec:
            r1, r2 = r1[:, :, None], r2[:, :, None]
        x2 = fc["Sinv"] @ (r2 - np.swapaxes(fc["Db"], 1, 2) @ r1)
        x1 = r1 / fc["d1"][:, :, None] - fc["Db"] @ x2
        return (x1[:, :, 0], x2[:, :, 0]) if vec else (x1, x2)


def _pwrss(v, eta, u1, u2):
    """Penalised IRLS objective of the modes: -sum [P log mu + N log(1 - mu)] + |u|^2 / 2."""
    return -(v.P * special.log_expit(eta) + v.N * special.log_expit(-eta)).sum(axis=1) + 0.5 * (
        (u1 * u1).sum(axis=1) + (u2 * u2).sum(axis=1)
    )


def _mmodes(prob, v, o, t, u1, u2, tol=1e-12, maxit=100):
    """Spherical conditional modes (u1, u2) by Newton steps on the penalised IRLS objective (convex),
    with step halving; all features in lockstep."""
    act = np.arange(o.shape[0])
    for _ in range(maxit):
        if act.size == 0:
            break
        va = _sub(v, act)
        ta, oa, a1, a2 = t[act], o[act], u1[act], u2[act]
        eta = oa + prob.zl(ta, a1, a2)
        mu = special.expit(eta)
        G1, G2 = prob.zt(va.P - va.a * mu)
        t1, t2 = prob.lam(ta)
        fc = prob.factor(ta, va.a * mu * (1.0 - mu))
        s1, s2 = prob.solve(fc, a1 - t1 * G1, a2 - t2 * G2)
        phi0 = _pwrss(va, eta, a1, a2)
        small = np.maximum(np.abs(s1).max(axis=1), np.abs(s2).max(axis=1)) <= tol * (
            1.0 + np.maximum(np.abs(a1).max(axis=1), np.abs(a2).max(axis=1))
        )
        alpha = np.ones(act.size)
        acc = small.copy()
        n1, n2 = a1 - s1, a2 - s2
        for _ in range(30):
            todo = np.flatnonzero(~acc)
            if todo.size == 0:
                break
            c1 = a1[todo] - alpha[todo, None] * s1[todo]
            c2 = a2[todo] - alpha[todo, None] * s2[todo]
            phi = _pwrss(_sub(va, todo), oa[todo] + prob.zl(ta[todo], c1, c2), c1, c2)
            ok = phi <= phi0[todo] + 1e-13 * np.abs(phi0[todo])
            n1[todo[ok]], n2[todo[ok]] = c1[ok], c2[ok]
            acc[todo[ok]] = True
            alpha[todo[~ok]] *= 0.5
        stuck = ~acc  # no decrease even for tiny steps: at the optimum to rounding
        n1[stuck], n2[stuck] = a1[stuck], a2[stuck]
        u1[act], u2[act] = n1, n2
        act = act[~(small | stuck)]
    return u1, u2


def _mevaluate(prob, v, z, u1, u2, grad=True):
    """Laplace deviance and (``grad``) its analytic gradient in ``z = (theta_1..theta_K, beta)``
    (internal factor order), several grouping factors.

    ``D = F(u, theta, beta) = -2 l(eta) + |u|^2 + log|M|``, ``eta = X beta + Z Lambda u``, with the
    modes fixed by ``h = u - Lambda Z'(P - a mu) = 0`` (``h_u = M``). Adjoint: ``lambda = M^-1 F_u``,
    ``F_u = Lambda Z'r + 2u``, ``r_i = dF/deta_i = -2 (y_i - mu_i) + q_i a_i v_i (1 - 2 mu_i)``
    (``q_i = (Z Lambda M^-1 Lambda Z')_ii``); with ``rho = r - W Z Lambda lambda``:
    ``dD/dbeta = X'rho``, ``dD/dtheta_k = (Z_k'rho)'u_k + lambda_k'G_k + 2 tr(E_k Z'WZ Lambda M^-1)``
    (``G = Z'(P - a mu)``).
    """
    K = prob.K
    t, beta = z[:, :K], z[:, K:]
    o = beta @ prob.X.T
    u1, u2 = _mmodes(prob, v, o, t, u1, u2)
    eta = o + prob.zl(t, u1, u2)
    mu = special.expit(eta)
    vv = mu * (1.0 - mu)
    W = v.a * vv
    fc = prob.factor(t, W)
    ll = (
        np.where(v.Lp > 0, v.Lp * special.log_expit(eta), 0.0) + np.where(v.Ln > 0, v.Ln * special.log_expit(-eta), 0.0)
    ).sum(axis=1)
    D = -2.0 * ll + (u1 * u1).sum(axis=1) + (u2 * u2).sum(axis=1) + fc["logdet"]
    out = {"D": D, "u1": u1, "u2": u2, "mu": mu, "W": W, "fc": fc}
    if not grad:
        return out
    t1, t2 = prob.lam(t)
    Db, Sinv = fc["Db"], fc["Sinv"]
    m11 = 1.0 / fc["d1"] + np.einsum("fjq,fqr,fjr->fj", Db, Sinv, Db)  # diag of (M^-1)_11
    M12 = -Db @ Sinv  # (M^-1)_12
    L1, L2 = prob.L1, prob.L2
    q = (t1 * t1 * m11)[:, L1]
    for k in range(K - 1):
        lk = L2[:, k]
        tk = t2[:, lk]
        q += 2.0 * t1 * tk * M12[:, L1, lk]
        for k2 in range(K - 1):
            l2 = L2[:, k2]
            q += tk * t2[:, l2] * Sinv[:, lk, l2]
    r = -2.0 * (v.Lp - v.c * mu) + q * W * (1.0 - 2.0 * mu)
    R1, R2 = prob.zt(r)
    lam1, lam2 = prob.solve(fc, t1 * R1 + 2.0 * u1, t2 * R2 + 2.0 * u2)
    rho = r - W * prob.zl(t, lam1, lam2)
    gb = rho @ prob.X
    G1, G2 = prob.zt(v.P - v.a * mu)
    P1, P2 = prob.zt(rho)
    A11, A12, A22 = fc["A11"], fc["A12"], fc["A22"]
    tr1 = t1 * A11 * m11 + np.einsum("fjl,fl,fjl->fj", A12, t2, M12)
    tr2 = t1 * np.einsum("fjl,fjl->fl", A12, M12) + np.einsum("flm,fm,fml->fl", A22, t2, Sinv)
    gt = np.empty((z.shape[0], K))
    gt[:, 0] = (P1 * u1 + lam1 * G1 + 2.0 * tr1).sum(axis=1)
    e2 = P2 * u2 + lam2 * G2 + 2.0 * tr2
    for k in range(1, K):
        gt[:, k] = e2[:, prob.fac2 == k].sum(axis=1)
    out["g"] = np.concatenate([gt, gb], axis=1)
    return out


def _mhessian(prob, v, z, u1, u2, rel=1e-5):
    """Hessian of D in (theta, beta) by central differences of the analytic gradient (D is even
    in each theta_k, so no bound interferes)."""
    F, k = z.shape
    H = np.empty((F, k, k))
    for j in range(k):
        h = rel * (1.0 + np.abs(z[:, j]))
        zp, zm = z.copy(), z.copy()
        zp[:, j] += h
        zm[:, j] -= h
        gp = _mevaluate(prob, v, zp, u1.copy(), u2.copy())["g"]
        gm = _mevaluate(prob, v, zm, u1.copy(), u2.copy())["g"]
        H[:, :, j] = (gp - gm) / (2 * h)[:, None]
    return 0.5 * (H + np.swapaxes(H, 1, 2))


def _moptimise(prob, v, z, u1, u2, *, maxit=100, tol=1e-10, max_step=5.0):
    """Modified Newton on (theta, beta), theta unconstrained (D is even in each theta_k; |theta| is
    the estimate), all features in lockstep."""
    F, _k = z.shape
    converged = np.zeros(F, bool)
    iters = np.zeros(F, int)
    act = np.arange(F)
    for it in range(maxit):
        if act.size == 0:
            break
        va = _sub(v, act)
        za = z[act]
        ev = _mevaluate(prob, va, za, u1[act], u2[act])
        b1, b2 = ev["u1"], ev["u2"]
        g = ev["g"]
        H = _mhessian(prob, va, za, b1, b2)
        with np.errstate(invalid="ignore"):
            lam, vec = np.linalg.eigh(np.nan_to_num(H))
        scale = np.maximum(np.abs(lam).max(axis=1, keepdims=True), 1e-300)
        lam = np.maximum(np.abs(lam), 1e-8 * scale)
        step = -np.einsum("fij,fj,fkj,fk->fi", vec, 1.0 / lam, vec, g)
        big = np.abs(step).max(axis=1, keepdims=True)
        step *= np.minimum(1.0, max_step / np.maximum(big, 1e-300))
        dec = -(g * step).sum(axis=1)
        done = (dec < tol) | (np.abs(step).max(axis=1) < 1e-12 * (1.0 + np.abs(za).max(axis=1)))
        iters[act] = it
        converged[act[done]] = True
        u1[act], u2[act] = b1, b2
        z[act[done]] = za[done] + step[done]
        keep = ~done
        act, za, b1, b2, step, g, D0 = act[keep], za[keep], b1[keep], b2[keep], step[keep], g[keep], ev["D"][keep]
        if act.size == 0:
            break
        va = _sub(v, act)
        alpha = np.ones(act.size)
        accepted = np.zeros(act.size, bool)
        znew, n1, n2 = za.copy(), b1.copy(), b2.copy()
        for _ in range(40):
            todo = np.flatnonzero(~accepted)
            if todo.size == 0:
                break
            trial = za[todo] + alpha[todo, None] * step[todo]
            evt = _mevaluate(prob, _sub(va, todo), trial, b1[todo].copy(), b2[todo].copy(), grad=False)
            slope = (g[todo] * (trial - za[todo])).sum(axis=1)
            ok = evt["D"] <= D0[todo] + 1e-4 * np.minimum(slope, 0.0) + 1e-12 * np.abs(D0[todo])
            znew[todo[ok]] = trial[ok]
            n1[todo[ok]], n2[todo[ok]] = evt["u1"][ok], evt["u2"][ok]
            accepted[todo[ok]] = True
            alpha[todo[~ok]] *= 0.5
        z[act[accepted]] = znew[accepted]
        u1[act[accepted]], u2[act[accepted]] = n1[accepted], n2[accepted]
        act = act[accepted]
    return z, u1, u2, converged, iters


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


def _wald_se(H, RX, k):
    """Standard errors of the fixed effects as ``vcov.merMod``: ``2 [H^-1]_beta`` from the Hessian
    ``H`` of the deviance in (theta_1..k, beta) where that is positive definite, else lme4's RX
    fallback ``RX^-1``. Returns ``(se, from_hessian)``."""
    try:
        Hi = np.linalg.inv(H)
        V = Hi[k:, k:] + Hi[k:, k:].T
        if np.all(np.isfinite(V)) and np.linalg.eigvalsh(V).min() > 0:
            with np.errstate(invalid="ignore"):
                return np.sqrt(np.diagonal(V)), True
    except np.linalg.LinAlgError:
        pass
    try:
        V = np.linalg.inv(RX)
    except np.linalg.LinAlgError:
        return np.full(RX.shape[0], np.nan), False
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.diagonal(V)), False


def _at_boundary(mu):
    """Fitted probabilities numerically 0 or 1 (glm.fit's warning), per feature."""
    eps10 = 10 * np.finfo(float).eps
    return ((mu < eps10) | (mu > 1 - eps10)).any(axis=1)


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


def _glmm_multi(X, Y, codes_list, weights, augment_weight, max_bytes, maxit, fit, out):
    """:func:`glmm_all` with several random intercepts (see :class:`_MultiProblem`); fills ``out``."""
    n, p = X.shape
    K = len(codes_list)
    coef, se, theta, vh, messages = out["coef"], out["se"], out["theta"], out["vh"], out["messages"]
    sizes = sorted((np.unique(np.asarray(c)).size for c in codes_list), reverse=True)
    q2 = sum(sizes[1:])
    per = 8.0 * (n * (p + 16 + K * K) + sizes[0] * q2 * 4 + q2 * q2 * 4) * 2
    chunk = int(max(1, min(max(fit.size, 1), max_bytes // per)))
    for start in range(0, fit.size, chunk):
        sl = fit[start : start + chunk]
        w = weights if weights is None or np.ndim(weights) == 1 else np.asarray(weights)[:, sl]
        prob = _MultiProblem(X, Y[:, sl], codes_list, w, augment_weight)
        v = _sub(prob, np.arange(sl.size))
        beta0 = _start(prob, v)
        z = np.concatenate([np.ones((sl.size, K)), beta0], axis=1)
        u1, u2 = np.zeros((sl.size, prob.m1)), np.zeros((sl.size, prob.q2))
        z, u1, u2, cv, it = _moptimise(prob, v, z, u1, u2, maxit=maxit)
        # D is even in each theta_k: report |theta| (gradient and Hessian turned with it)
        sgn = np.where(z[:, :K] < 0, -1.0, 1.0)
        z[:, :K] = np.abs(z[:, :K])
        u1 *= sgn[:, :1]
        u2 *= sgn[:, prob.fac2]
        ev = _mevaluate(prob, v, z, u1, u2)
        g = ev["g"]
        H = _mhessian(prob, v, z, ev["u1"], ev["u2"])
        # RX fallback: (X'WX - X'WZ Lambda M^-1 Lambda Z'WX)^-1
        Wt = ev["W"]
        t1, t2 = prob.lam(z[:, :K])
        WX = Wt[:, :, None] * prob.X[None]
        C1 = t1[:, :, None] * np.stack([prob.Z1.T @ WX[f] for f in range(sl.size)])
        C2 = t2[:, :, None] * np.stack([prob.Z2.T @ WX[f] for f in range(sl.size)])
        x1, x2 = prob.solve(ev["fc"], C1, C2)
        RX = (Wt @ prob.O).reshape(-1, p, p) - np.swapaxes(C1, 1, 2) @ x1 - np.swapaxes(C2, 1, 2) @ x2
        back = np.argsort(prob.order)  # internal -> given order of the factors
        for i, f in enumerate(sl):
            se[f], vh[f] = _wald_se(H[i], RX[i], K)
            messages[f] = lme4_conv_messages(z[i, :K], g[i], H[i])
        coef[sl] = z[:, K:]
        theta[sl] = z[:, :K][:, back]
        out["dev"][sl] = ev["D"]
        out["conv"][sl] = cv
        out["iters"][sl] = it
        out["boundary"][sl] = _at_boundary(ev["mu"])
