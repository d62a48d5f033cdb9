"""Random-intercept logistic mixed models with several grouping factors (``(1 | site) + (1 |
subject)``, nested or crossed; lme4's ``glmer(family = binomial)``, Laplace approximation), for
every feature together: the problem, its conditional modes, the Laplace deviance with its analytic
gradient, the Hessian and the optimiser, and the fit called by :func:`._glmm.glmm_all`.

In lme4's parameterisation (Bates, Maechler, Bolker & Walker 2015, J Stat Softw 67(1),
doi:10.18637/jss.v067.i01) ``b = Lambda u`` with ``Lambda`` the diagonal of each level's
``theta_k``; ``Z'WZ`` is no longer diagonal. The factor with the most levels is eliminated (its
block of ``M = Lambda Z'WZ Lambda + I`` is diagonal), leaving a small dense Schur complement over
the other factors' levels, factorised for all features at once (the structure of
``_mixed._DenseBackend``). The modes are Newton steps on the (convex) penalised IRLS objective with
step halving; ``log|L|^2 = log|M|``; the gradient of ``D`` in ``(theta, beta)`` is analytic
(adjoint of the mode equation, :func:`_mevaluate`), the Hessian central differences of it. ``D`` is
even in each ``theta_k``, so ``theta`` is optimised unconstrained by a modified Newton method and
reported as ``|theta|``. The model, the weights and the augmentation are described in
:mod:`._glmm`, which holds the one-factor fit (closed forms in group sums) and the public entry
points; kept apart because the several-factor maths shares none of those closed forms. This module
imports the shared helpers from :mod:`._glmm_features` and :mod:`._glmm_inference`, never
:mod:`._glmm`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import special

from ._glmm_features import _start, _sub
from ._glmm_inference import _at_boundary, _wald_se, lme4_conv_messages
from ._mixed import _batched_inv_logdet


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
