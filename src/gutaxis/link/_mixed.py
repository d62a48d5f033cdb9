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
* several factors (e.g. site and subject): ``M = I + G^1/2 Z'Z G^1/2`` (``q x q``) is solved by
  block elimination of the factor with the most levels, whose block of ``Z'Z`` is diagonal,
  leaving a small dense Schur complement over the other factors' levels (for subject nested in
  site: the sites), factorised for all features in one stacked call; the derivative terms use the
  diagonal + low-rank form of the eliminated block of ``Z'PZ``, so no ``q x q`` matrix is formed
  per feature (``_DenseBackend``).

The optimisation runs with one BLAS thread (``threadpoolctl``): it is many small stacked
factorisations, which only lose to thread start-up and oversubscription.

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
from scipy import stats

from ._lm import nan_patterns
from ._lme4_path import optimise_lme4, stopped_short_messages

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl is a dependency; without it, BLAS threads are left as set
    from contextlib import nullcontext

    def threadpool_limits(limits=None):
        return nullcontext()


__all__ = ["OPTIMIZERS", "lmm_all"]

_LOG2PI = np.log(2 * np.pi)


def _batched_inv_logdet(A):
    """Inverse and log-determinant of a stack of SPD p x p matrices (Cholesky)."""
    L = np.linalg.cholesky(A)
    logdet = 2.0 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(axis=-1)
    # one stacked (gufunc) call rather than a LAPACK call per feature
    Linv = np.linalg.inv(L)
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
    """Several grouping factors: block elimination of M = I + G^1/2 Z'Z G^1/2, sharing Z'Z.

    The levels of the factor with the most levels come first: their block of ``M`` is diagonal
    (``D1``), so ``M`` is solved through the small Schur complement ``S2 = M22 - M21 D1^-1 M12``
    of the other factors' levels (e.g. sites when subjects are eliminated), one stacked
    factorisation for all features. ``S2 >= I`` since ``M >= I``, so this is well conditioned.
    """

    def __init__(self, X, Y, codes_list):
        self.n, self.p = X.shape
        self.K = len(codes_list)
        sizes = [int(c.max()) + 1 for c in codes_list]
        order = [int(np.argmax(sizes))] + [k for k in range(self.K) if k != int(np.argmax(sizes))]
        blocks, fac = [], []
        for k in order:
            m = sizes[k]
            blocks.append(sp.csr_matrix((np.ones(self.n), (np.arange(self.n), codes_list[k])), shape=(self.n, m)))
            fac.extend([k] * m)
        Z = sp.hstack(blocks).tocsr()
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
        m1 = sizes[order[0]]
        self.m1 = m1
        self.n1 = np.diagonal(self.ZtZ)[:m1].copy()
        self.N12 = self.ZtZ[:m1, m1:]
        self.Z22 = self.ZtZ[m1:, m1:]

    def _factor(self, s):
        m1 = self.m1
        s1, s2 = s[:, :m1], s[:, m1:]
        d1 = 1.0 + s1 * s1 * self.n1[None]  # F x m1
        Bm = s1[:, :, None] * self.N12[None] * s2[:, None, :]  # F x m1 x m2
        Db = Bm / d1[:, :, None]
        S2 = s2[:, :, None] * self.Z22[None] * s2[:, None, :] - np.swapaxes(Bm, 1, 2) @ Db
        m2 = S2.shape[1]
        S2[:, np.arange(m2), np.arange(m2)] += 1.0
        S2inv, logdet2 = _batched_inv_logdet(S2)
        logdetH = np.log(d1).sum(axis=1) + logdet2
        return d1, Db, S2inv, logdetH

    def _solve(self, fac, R):
        """M^-1 R for R of shape F x q x c."""
        d1, Db, S2inv, _ = fac
        m1 = self.m1
        R1, R2 = R[:, :m1], R[:, m1:]
        out = np.empty(R.shape)
        out[:, m1:] = x2 = S2inv @ (R2 - np.swapaxes(Db, 1, 2) @ R1)
        x1 = out[:, :m1]
        np.divide(R1, d1[:, :, None], out=x1)
        x1 -= Db @ x2
        return out

    def _zz(self, W):
        """Z'Z W for W of shape F x q x c, using the diagonal leading block of Z'Z."""
        m1 = self.m1
        W1, W2 = W[:, :m1], W[:, m1:]
        out = np.empty(W.shape)
        out[:, :m1] = self.n1[None, :, None] * W1 + self.N12[None] @ W2
        out[:, m1:] = self.N12.T[None] @ W1 + self.Z22[None] @ W2
        return out

    def evaluate(self, gamma, idx, derivs=False):
        p = self.p
        s = np.sqrt(gamma)[:, self.fac]  # F x q
        ZtZ = self.ZtZ
        fac = self._factor(s)
        logdetH = fac[3]
        Zty = self.Zty[idx]
        SX = s[:, :, None] * self.ZtX[None]  # F x q x p
        Sy = s * Zty  # F x q
        T = self._solve(fac, np.concatenate([SX, Sy[:, :, None]], axis=2))
        TX, Ty = T[:, :, :p], T[:, :, p]
        XVX = self.XtX[None] - np.swapaxes(SX, 1, 2) @ TX
        XVy = self.Xty[idx] - np.einsum("fqi,fq->fi", SX, Ty)
        yVy = self.yty[idx] - (Sy * Ty).sum(axis=1)
        C, beta, r2, D = self._finish(logdetH, XVX, XVy, yVy, derivs)
        out = {"D": D, "C": C, "beta": beta, "r2": r2}
        if not derivs:
            return out
        # S = Z'PZ is never formed: its leading (eliminated factor) block is diagonal + low rank,
        #   S11 = diag(n1 / d1) - U Q U',  U = [R, Z1'H^-1X],  Q = blockdiag(S2^-1, C),
        #   R = s1 N1 D1^-1 M12 - N12 s2,
        # and its other columns S[:, 2] (q x m2) are small enough to form.
        m1, K = self.m1, self.K
        d1, Db, S2inv, _ = fac
        s1, s2 = s[:, :m1], s[:, m1:]
        ZHX = self.ZtX[None] - self._zz(s[:, :, None] * TX)
        ZHy = Zty - self._zz((s * Ty)[:, :, None])[:, :, 0]
        u = ZHy - np.einsum("fqi,fi->fq", ZHX, beta)
        Zc2 = ZtZ[:, m1:]
        ZHZ2 = Zc2[None] - self._zz(s[:, :, None] * self._solve(fac, s[:, :, None] * Zc2[None]))
        S2c = ZHZ2 - ZHX @ (C @ np.swapaxes(ZHX[:, m1:], 1, 2))  # F x q x m2
        S12, S22 = S2c[:, :m1], S2c[:, m1:]
        u1, u2 = u[:, :m1], u[:, m1:]
        e = self.n1[None] / d1
        R = (s1 * self.n1[None])[:, :, None] * Db - self.N12[None] * s2[:, None, :]
        U = np.concatenate([R, ZHX[:, :m1]], axis=2)  # F x m1 x r
        m2 = S2inv.shape[1]
        r = m2 + p
        Q = np.zeros((U.shape[0], r, r))
        Q[:, :m2, :m2] = S2inv
        Q[:, m2:, m2:] = C
        UQ = U @ Q
        dUQU = (UQ * U).sum(axis=2)  # diag(U Q U')
        QG = Q @ (np.swapaxes(U, 1, 2) @ U)
        S11_fro2 = (e * e).sum(axis=1) - 2 * (e * dUQU).sum(axis=1) + np.einsum("fij,fji->f", QG, QG)
        Uu = np.einsum("fmr,fm->fr", U, u1)
        S11_uu = (e * u1 * u1).sum(axis=1) - np.einsum("fr,frs,fs->f", Uu, Q, Uu)
        k1 = int(self.fac[0])
        Fk, Fk2 = self.Fk, self.Fk[m1:]
        t = np.diagonal(S22, axis1=1, axis2=2) @ Fk2
        t[:, k1] += (e - dUQU).sum(axis=1)
        a = (u * u) @ Fk
        v = (S12 * S12).sum(axis=1) @ Fk2  # F x K, zero at k1
        B = Fk2.T @ ((S22 * S22) @ Fk2)
        B[:, k1, :] += v
        B[:, :, k1] += v
        B[:, k1, k1] += S11_fro2
        w = np.einsum("fm,fmj->fj", u1, S12 * u2[:, None, :]) @ Fk2
        c = Fk2.T @ ((S22 * u2[:, :, None] * u2[:, None, :]) @ Fk2)
        c[:, k1, :] += w
        c[:, :, k1] += w
        c[:, k1, k1] += S11_uu
        EtE = np.stack([np.swapaxes(ZHX[:, self.fac == k], 1, 2) @ ZHX[:, self.fac == k] for k in range(K)], axis=1)
        out.update(t=t, a=a, B=B, c=c, EtE=EtE)
        return out


def _grad_hess(ev, n, p):
    """Gradient and Hessian of the profiled REML deviance with respect to g."""
    r2 = ev["r2"]
    g = ev["t"] - (n - p) * ev["a"] / r2[:, None]
    H = -ev["B"] + (n - p) * (
        2 * ev["c"] / r2[:, None, None] - ev["a"][:, :, None] * ev["a"][:, None, :] / (r2**2)[:, None, None]
    )
    return g, H


def _optimise(backend, F, *, maxit=200, tol=1e-15, start=None):
    """Projected Newton on g >= 0 with Armijo backtracking, all features in lockstep (from
    ``start``, ``(F, K)``, or g = 1)."""
    K, n, p = backend.K, backend.n, backend.p
    gamma = np.ones((F, K)) if start is None else np.array(start, float)
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
    ds2 = (n - p) / s2 - r2 / s2**2
    Hgg = -B + 2 * c / s2[:, None, None]
    Hgs = a / (s2**2)[:, None]
    Hss = -(n - p) / s2**2 + 2 * r2 / s2**3
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
        df = 2 * var**2 / denom
    return np.sqrt(var), df


def _fit_block(X, Y, codes_list, chunk, optimizer):
    n, p = X.shape
    F = Y.shape[1]
    coef = np.full((F, p), np.nan)
    se = np.full((F, p), np.nan)
    df = np.full((F, p), np.nan)
    gam = np.full((F, len(codes_list)), np.nan)
    conv = np.zeros(F, bool)
    msg = np.full(F, None, dtype=object)
    for start in range(0, F, chunk):
        sl = slice(start, min(F, start + chunk))
        Yc = Y[:, sl]
        Fc = Yc.shape[1]
        # the cross-products (X'Y, ...) may use every BLAS thread when they are large; below ~1e8
        # flops threads only cost start-up and, with other jobs on the cores, oversubscription
        with threadpool_limits(limits=1 if n * Fc * (p + 1) < 1e8 else None):
            backend = (
                _DiagonalBackend(X, Yc, codes_list[0]) if len(codes_list) == 1 else _DenseBackend(X, Yc, codes_list)
            )
        # the optimisation is many small stacked factorisations and products: one thread
        with threadpool_limits(limits=1):
            if optimizer == "lme4":
                gamma, converged, _ = optimise_lme4(type(backend), X, Yc, codes_list)
            else:
                gamma, converged, _ = _optimise(backend, Fc)
            ev = backend.evaluate(gamma, np.arange(Fc), derivs=True)
            s, d = _satterthwaite(ev, gamma, n, p)
            if optimizer == "lme4":
                # how far is lme4's stopping point from the optimum? Newton from there: a few steps
                g_opt, _, _ = _optimise(backend, Fc, start=gamma)
                ev_opt = backend.evaluate(g_opt, np.arange(Fc))
                with np.errstate(invalid="ignore", divide="ignore"):
                    shift = np.nanmax(np.abs(ev_opt["beta"] - ev["beta"]) / s, axis=1)
                msg[sl] = stopped_short_messages(ev["D"] - ev_opt["D"], shift)
        coef[sl], se[sl], df[sl], gam[sl], conv[sl] = ev["beta"], s, d, gamma, converged
    return coef, se, df, gam, conv, msg


OPTIMIZERS = ("lme4", "exact")
#: the most features fitted in lockstep: a fixed width, so that a feature's numbers do not depend on
#: how many others are fitted (BLAS rounds with the width of a product, and the lme4 path's
#: stopping point follows the rounding); features in blocks on a cluster are cut at multiples of
#: it. Stacks of this size also run faster in cache than larger ones.
LOCKSTEP = 2048


def lockstep_size(codes_list: list[np.ndarray], p: int, max_bytes: float = 2e8) -> int:
    """Features fitted in lockstep by :func:`lmm_all` for grouping codes ``0..levels-1`` (memory
    per feature from the levels, at most ``max_bytes`` in all and at most :data:`LOCKSTEP`)."""
    if len(codes_list) == 1:
        per = 8.0 * (int(codes_list[0].max()) + 1) * 12
    else:
        q = sum(int(c.max()) + 1 for c in codes_list)
        per = 8.0 * q * (2 * q + p + 8) * 3
    return int(max(1, min(LOCKSTEP, max_bytes // per)))


def lmm_all(
    X: np.ndarray, Y: np.ndarray, codes_list: list[np.ndarray], *, optimizer: str = "lme4", max_bytes: float = 2e8
):
    """Fit ``Y[:, f] ~ X + (1|g_1) + ... + (1|g_K)`` by REML for every feature f.

    ``optimizer="lme4"`` finds the variance parameters as ``lme4::lmer`` does (its start, NLopt's
    BOBYQA with lme4's settings, its boundary rules; :mod:`._lme4_path`), so that the numbers are
    lme4's, including where lme4 stops short of the optimum on a flat REML surface.
    ``optimizer="exact"`` runs a projected Newton method on all features in lockstep to the REML
    optimum (faster; differs from lme4 only on such flat surfaces, by far less than the standard
    errors).

    Returns ``coef, stderr, pval, df`` (``(F, p)`` each) and ``info`` with the variance ratios
    ``gamma`` (``(F, K)``; random-effect variance / residual variance), ``converged`` and, with
    ``optimizer="lme4"``, ``message`` (``(F,)``: a note where lme4's stopping point is materially
    short of the REML optimum, else None; found by a few Newton steps from that point).
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    _n, p = X.shape
    F = Y.shape[1]
    K = len(codes_list)
    coef = np.full((F, p), np.nan)
    se = np.full((F, p), np.nan)
    df = np.full((F, p), np.nan)
    gam = np.full((F, K), np.nan)
    conv = np.zeros(F, bool)
    msg = np.full(F, None, dtype=object)
    for rows, idx in nan_patterns(Y):
        Xs = X[rows]
        cl = [np.unique(c[rows], return_inverse=True)[1] for c in codes_list]
        chunk = min(len(idx), lockstep_size(cl, p, max_bytes))
        c_, s_, d_, g_, v_, m_ = _fit_block(Xs, Y[rows][:, idx], cl, chunk, optimizer)
        coef[idx], se[idx], df[idx], gam[idx], conv[idx], msg[idx] = c_, s_, d_, g_, v_, m_
    with np.errstate(invalid="ignore", divide="ignore"):
        tval = coef / se
    pval = 2.0 * stats.t.sf(np.abs(tval), df)
    return coef, se, pval, df, {"gamma": gam, "converged": conv, "message": msg}
