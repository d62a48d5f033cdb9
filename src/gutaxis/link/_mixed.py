"""Random-intercept linear mixed models fitted by REML for every feature together, with
Satterthwaite degrees of freedom as lmerTest computes them.

Model per feature: ``y = X b + sum_k Z_k u_k + e`` with ``u_k ~ N(0, g_k s^2 I)``,
``e ~ N(0, s^2 I)``; ``H = I + sum_k g_k Z_k Z_k'`` so that ``V = s^2 H``. ``g_k = theta_k^2``
where ``theta`` are lme4's relative standard deviations.

The profiled REML deviance (Bates et al. 2015, J Stat Softw 67(1), doi:10.18637/jss.v067.i01)

    D(g) = log|H| + log|X'H^-1 X| + (n-p) (1 + log(2 pi r2 / (n-p))),   r2 = y' P y

is minimised over ``g >= 0`` by a projected Newton method run in lockstep over all features
(analytic gradient and Hessian). Everything is computed in the space of the random-effect
levels (``q = sum_k m_k``) through the Woodbury identity, from cross-products computed once for
all features (``Z'Z``, ``Z'X``, ``X'X``) and once per feature (``Z'y``, ``X'y``, ``y'y``):

* one grouping factor: ``Z'Z`` is diagonal and every quantity is a closed form in the group
  sums (``_DiagonalBackend``);
* several factors (e.g. site and subject): the ``q x q`` matrix ``I + G^1/2 Z'Z G^1/2`` is
  factorised per feature with batched Cholesky, sharing ``Z'Z`` across features
  (``_DenseBackend``).

Satterthwaite (Kuznetsova, Brockhoff & Christensen 2017, J Stat Softw 82(13),
doi:10.18637/jss.v082.i13): ``df = 2 var^2 / (grad' A grad)`` where ``var`` is the variance of a
coefficient, ``grad`` its gradient with respect to lmerTest's variance parameters
``(theta, sigma)`` and ``A = 2 H^+`` the inverse Hessian of the REML deviance in those
parameters. lmerTest takes both derivatives numerically; here they are analytic:

    dD/dg_k = tr(P V_k) - y'P V_k P y / s^2,   V_k = Z_k Z_k'
    d2D/dg_k dg_l = -tr(P V_k P V_l) + 2 y'P V_k P V_l P y / s^2
    d2D/dg_k ds2 = y'P V_k P y / s^4,  d2D/ds2^2 = -(n-p)/s^4 + 2 r2 / s^6
    dVar(b)/dg_k = s^2 C E_k'E_k C,    dVar(b)/ds2 = C,   C = (X'H^-1 X)^-1, E_k = Z_k'H^-1 X

mapped to ``(theta, sigma)`` by the chain rule (including the first-derivative term, which
matters at the boundary ``theta = 0``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import linalg, stats

from ._lm import nan_patterns

__all__ = ["lmm_all"]

_LOG2PI = np.log(2 * np.pi)


def _batched_inv_logdet(A):
    """Inverse and log-determinant of a stack of SPD p x p matrices (Cholesky)."""
    L = np.linalg.cholesky(A)
    logdet = 2.0 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(axis=-1)
    p = A.shape[-1]
    Linv = linalg.solve_triangular(L, np.broadcast_to(np.eye(p), A.shape), lower=True)
    C = np.swapaxes(Linv, -1, -2) @ Linv
    return C, logdet


class _Common:
    def _finish(self, logdetH, XVX, XVy, yVy, derivs):
        n, p = self.n, self.p
        C, logdetX = _batched_inv_logdet(XVX)
        beta = np.einsum("fij,fj->fi", C, XVy)
        r2 = yVy - np.einsum("fi,fi->f", XVy, beta)
        r2 = np.maximum(r2, 1e-300)
        D = logdetH + logdetX + (n - p) * (1.0 + _LOG2PI + np.log(r2 / (n - p)))
        return C, beta, r2, D


class _DiagonalBackend(_Common):
    """One grouping factor: closed forms in the group sums."""

    def __init__(self, X, Y, codes):
        self.n, self.p = X.shape
        m = int(codes.max()) + 1
        Z = sp.csr_matrix((np.ones(self.n), (np.arange(self.n), codes)), shape=(self.n, m))
        self.nj = np.asarray(Z.sum(axis=0)).ravel()
        self.sx = np.asarray(Z.T @ X)  # m x p
        self.SY = np.asarray(Z.T @ Y).T  # F x m
        self.O = np.einsum("ji,jk->jik", self.sx, self.sx).reshape(m, -1)  # m x p^2
        self.XtX = X.T @ X
        self.Xty = (X.T @ Y).T  # F x p
        self.yty = np.einsum("ij,ij->j", Y, Y)
        self.K = 1

    def evaluate(self, gamma, idx, derivs=False):
        g = gamma[:, 0]
        nj, sx, p = self.nj, self.sx, self.p
        SY = self.SY[idx]
        w = 1.0 / (1.0 + g[:, None] * nj[None, :])  # F x m
        gw = g[:, None] * w
        logdetH = -np.log(w).sum(axis=1)
        XVX = self.XtX[None] - (gw @ self.O).reshape(-1, p, p)
        XVy = self.Xty[idx] - (gw * SY) @ sx
        yVy = self.yty[idx] - (gw * SY * SY).sum(axis=1)
        C, beta, r2, D = self._finish(logdetH, XVX, XVy, yVy, derivs)
        out = {"D": D, "C": C, "beta": beta, "r2": r2}
        if not derivs:
            return out
        rho = SY - beta @ sx.T  # F x m
        w2 = w * w
        EtE = (w2 @ self.O).reshape(-1, p, p)
        EtDE = ((nj[None, :] * w2 * w) @ self.O).reshape(-1, p, p)
        d = nj[None, :] * w
        CE = C @ EtE
        t = d.sum(axis=1) - np.trace(CE, axis1=1, axis2=2)
        B = (d * d).sum(axis=1) - 2 * np.einsum("fij,fji->f", C, EtDE) + np.einsum("fij,fji->f", CE, CE)
        a = (w2 * rho * rho).sum(axis=1)
        Eu = (w2 * rho) @ sx
        c = (nj[None, :] * w2 * w * rho * rho).sum(axis=1) - np.einsum("fi,fij,fj->f", Eu, C, Eu)
        out.update(t=t[:, None], a=a[:, None], B=B[:, None, None], c=c[:, None, None], EtE=EtE[:, None])
        return out


class _DenseBackend(_Common):
    """Several grouping factors: batched Cholesky of I + G^1/2 Z'Z G^1/2 sharing Z'Z."""

    def __init__(self, X, Y, codes_list):
        self.n, self.p = X.shape
        blocks, fac = [], []
        for k, codes in enumerate(codes_list):
            m = int(codes.max()) + 1
            blocks.append(sp.csr_matrix((np.ones(self.n), (np.arange(self.n), codes)), shape=(self.n, m)))
            fac.extend([k] * m)
        Z = sp.hstack(blocks).tocsr()
        self.K = len(codes_list)
        self.fac = np.asarray(fac)
        self.Fk = np.zeros((len(fac), self.K))
        self.Fk[np.arange(len(fac)), self.fac] = 1.0
        self.ZtZ = (Z.T @ Z).toarray()
        self.ZtX = np.asarray(Z.T @ X)
        self.Zty = np.asarray(Z.T @ Y).T  # F x q
        self.XtX = X.T @ X
        self.Xty = (X.T @ Y).T
        self.yty = np.einsum("ij,ij->j", Y, Y)
        self.q = Z.shape[1]

    def evaluate(self, gamma, idx, derivs=False):
        q, p = self.q, self.p
        s = np.sqrt(gamma)[:, self.fac]  # F x q
        ZtZ = self.ZtZ
        M = s[:, :, None] * ZtZ[None] * s[:, None, :]
        M[:, np.arange(q), np.arange(q)] += 1.0
        L = np.linalg.cholesky(M)
        logdetH = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        Zty = self.Zty[idx]
        rhs = np.concatenate([s[:, :, None] * ZtZ[None], s[:, :, None] * self.ZtX[None], (s * Zty)[:, :, None]], axis=2)
        W = linalg.solve_triangular(L, rhs, lower=True)  # F x q x (q + p + 1)
        WZ, WX, Wy = W[:, :, :q], W[:, :, q:q + p], W[:, :, q + p]
        XVX = self.XtX[None] - np.swapaxes(WX, 1, 2) @ WX
        XVy = self.Xty[idx] - np.einsum("fqi,fq->fi", WX, Wy)
        yVy = self.yty[idx] - (Wy * Wy).sum(axis=1)
        C, beta, r2, D = self._finish(logdetH, XVX, XVy, yVy, derivs)
        out = {"D": D, "C": C, "beta": beta, "r2": r2}
        if not derivs:
            return out
        WZt = np.swapaxes(WZ, 1, 2)
        ZHZ = ZtZ[None] - WZt @ WZ
        ZHX = self.ZtX[None] - WZt @ WX
        ZHy = Zty - np.einsum("fab,fb->fa", WZt, Wy)
        S = ZHZ - ZHX @ C @ np.swapaxes(ZHX, 1, 2)
        u = ZHy - np.einsum("fqi,fi->fq", ZHX, beta)
        Fk = self.Fk
        t = np.diagonal(S, axis1=1, axis2=2) @ Fk
        a = (u * u) @ Fk
        B = np.einsum("qk,fqr,rl->fkl", Fk, S * S, Fk)
        c = np.einsum("qk,fqr,rl->fkl", Fk, S * u[:, :, None] * u[:, None, :], Fk)
        EtE = np.stack([np.swapaxes(ZHX[:, self.fac == k], 1, 2) @ ZHX[:, self.fac == k] for k in range(self.K)],
                       axis=1)
        out.update(t=t, a=a, B=B, c=c, EtE=EtE)
        return out


def _grad_hess(ev, n, p):
    """Gradient and Hessian of the profiled REML deviance with respect to g."""
    r2 = ev["r2"]
    g = ev["t"] - (n - p) * ev["a"] / r2[:, None]
    H = -ev["B"] + (n - p) * (2 * ev["c"] / r2[:, None, None]
                              - ev["a"][:, :, None] * ev["a"][:, None, :] / (r2 ** 2)[:, None, None])
    return g, H


def _optimise(backend, F, *, maxit=200, tol=1e-15):
    """Projected Newton on g >= 0 with Armijo backtracking, all features in lockstep."""
    K, n, p = backend.K, backend.n, backend.p
    gamma = np.ones((F, K))
    active = np.arange(F)
    converged = np.zeros(F, bool)
    iters = np.zeros(F, int)
    ev_all = backend.evaluate(gamma, np.arange(F), derivs=True)
    Dcur = ev_all["D"].copy()
    for it in range(maxit):
        if active.size == 0:
            break
        gam = gamma[active]
        ev = backend.evaluate(gam, active, derivs=True) if it else {k: v[active] for k, v in ev_all.items()}
        Dcur[active] = ev["D"]
        g, H = _grad_hess(ev, n, p)
        # free variables: not at the bound, or at the bound with a descent direction into the interior
        at0 = gam <= 0
        free = ~(at0 & (g >= 0))
        # modified Newton on the free set (eigenvalues made positive)
        Hf = H * free[:, :, None] * free[:, None, :] + np.eye(K)[None] * (~free)[:, :, None]
        lam, vec = np.linalg.eigh(Hf)
        scale = np.maximum(np.abs(lam).max(axis=1, keepdims=True), 1e-300)
        lam = np.maximum(np.abs(lam), 1e-8 * scale)
        step = -np.einsum("fij,fj,fkj,fk->fi", vec, 1.0 / lam, vec, g * free)
        step *= free
        # convergence: projected gradient small relative to curvature
        dec = -(g * step).sum(axis=1)
        done = (dec < tol) | (np.abs(step).max(axis=1) < 1e-12 * np.maximum(1.0, gam.max(axis=1)))
        iters[active] = it
        converged[active[done]] = True
        keep = ~done
        active, gam, step, g, D0 = active[keep], gam[keep], step[keep], g[keep], ev["D"][keep]
        if active.size == 0:
            break
        alpha = np.ones(active.size)
        accepted = np.zeros(active.size, bool)
        new = gam.copy()
        for _ in range(40):
            todo = ~accepted
            if not todo.any():
                break
            trial = np.maximum(gam[todo] + alpha[todo, None] * step[todo], 0.0)
            Dt = backend.evaluate(trial, active[todo])["D"]
            slope = (g[todo] * (trial - gam[todo])).sum(axis=1)
            ok = Dt <= D0[todo] + 1e-4 * np.minimum(slope, 0.0) + 1e-13 * np.abs(D0[todo])
            idx = np.flatnonzero(todo)
            new[idx[ok]] = trial[ok]
            accepted[idx[ok]] = True
            alpha[idx[~ok]] *= 0.5
        # no decrease possible: treat as converged at the current point
        stuck = ~accepted
        converged[active[stuck]] = True
        gamma[active[accepted]] = new[accepted]
        active = active[accepted]
    return gamma, converged, iters


def _satterthwaite(ev, gamma, n, p, tol=1e-8):
    """Standard errors and Satterthwaite df per coefficient (lmerTest's method, analytic)."""
    r2, C = ev["r2"], ev["C"]
    F, K = gamma.shape
    s2 = r2 / (n - p)
    a, t, B, c = ev["a"], ev["t"], ev["B"], ev["c"]
    dg = t - a / s2[:, None]
    ds2 = (n - p) / s2 - r2 / s2 ** 2
    Hgg = -B + 2 * c / s2[:, None, None]
    Hgs = a / (s2 ** 2)[:, None]
    Hss = -(n - p) / s2 ** 2 + 2 * r2 / s2 ** 3
    Hphi = np.zeros((F, K + 1, K + 1))
    Hphi[:, :K, :K] = Hgg
    Hphi[:, :K, K] = Hgs
    Hphi[:, K, :K] = Hgs
    Hphi[:, K, K] = Hss
    theta = np.sqrt(gamma)
    sigma = np.sqrt(s2)
    J = np.concatenate([2 * theta, 2 * sigma[:, None]], axis=1)  # diagonal Jacobian d phi / d varpar
    Hv = J[:, :, None] * Hphi * J[:, None, :]
    first = np.concatenate([dg, ds2[:, None]], axis=1)
    Hv[:, np.arange(K + 1), np.arange(K + 1)] += 2 * first
    lam, vec = np.linalg.eigh(Hv)
    pos = lam > tol
    inv = np.where(pos, 1.0 / np.where(pos, lam, 1.0), 0.0)
    A = 2 * np.einsum("fij,fj,fkj->fik", vec, inv, vec)
    vcov = s2[:, None, None] * C
    var = np.diagonal(vcov, axis1=1, axis2=2)  # F x p
    # gradient of Var(b_j) w.r.t. (theta_1..K, sigma)
    grad = np.empty((F, p, K + 1))
    for k in range(K):
        CEC = C @ ev["EtE"][:, k] @ C
        grad[:, :, k] = 2 * theta[:, k, None] * s2[:, None] * np.diagonal(CEC, axis1=1, axis2=2)
    grad[:, :, K] = 2 * sigma[:, None] * np.diagonal(C, axis1=1, axis2=2)
    denom = np.einsum("fji,fik,fjk->fj", grad, A, grad)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = 2 * var ** 2 / denom
    return np.sqrt(var), df


def _fit_block(X, Y, codes_list, chunk):
    n, p = X.shape
    F = Y.shape[1]
    coef = np.full((F, p), np.nan)
    se = np.full((F, p), np.nan)
    df = np.full((F, p), np.nan)
    gam = np.full((F, len(codes_list)), np.nan)
    conv = np.zeros(F, bool)
    for start in range(0, F, chunk):
        sl = slice(start, min(F, start + chunk))
        Yc = Y[:, sl]
        backend = _DiagonalBackend(X, Yc, codes_list[0]) if len(codes_list) == 1 else _DenseBackend(X, Yc, codes_list)
        Fc = Yc.shape[1]
        gamma, converged, _ = _optimise(backend, Fc)
        ev = backend.evaluate(gamma, np.arange(Fc), derivs=True)
        s, d = _satterthwaite(ev, gamma, n, p)
        coef[sl], se[sl], df[sl], gam[sl], conv[sl] = ev["beta"], s, d, gamma, converged
    return coef, se, df, gam, conv


def lmm_all(X: np.ndarray, Y: np.ndarray, codes_list: list[np.ndarray], *, max_bytes: float = 2e8):
    """Fit ``Y[:, f] ~ X + (1|g_1) + ... + (1|g_K)`` by REML for every feature f.

    Returns ``coef, stderr, pval, df`` (``(F, p)`` each) and ``info`` with the variance ratios
    ``gamma`` (``(F, K)``; random-effect variance / residual variance) and ``converged``.
    """
    n, p = X.shape
    F = Y.shape[1]
    K = len(codes_list)
    coef = np.full((F, p), np.nan)
    se = np.full((F, p), np.nan)
    df = np.full((F, p), np.nan)
    gam = np.full((F, K), np.nan)
    conv = np.zeros(F, bool)
    for rows, idx in nan_patterns(Y):
        Xs = X[rows]
        cl = [np.unique(c[rows], return_inverse=True)[1] for c in codes_list]
        if K == 1:
            per = 8.0 * (int(cl[0].max()) + 1) * 12
        else:
            q = sum(int(c.max()) + 1 for c in cl)
            per = 8.0 * q * (2 * q + p + 8) * 3
        chunk = int(max(1, min(len(idx), max_bytes // per)))
        c_, s_, d_, g_, v_ = _fit_block(Xs, Y[rows][:, idx], cl, chunk)
        coef[idx], se[idx], df[idx], gam[idx], conv[idx] = c_, s_, d_, g_, v_
    with np.errstate(invalid="ignore", divide="ignore"):
        tval = coef / se
    pval = 2.0 * stats.t.sf(np.abs(tval), df)
    return coef, se, pval, df, {"gamma": gam, "converged": conv}
