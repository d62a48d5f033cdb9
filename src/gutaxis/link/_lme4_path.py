"""The variance parameters ``lme4::lmer`` reports, found the way lme4 finds them.

lme4 (1.1-x, Bates et al. 2015, J Stat Softw 67(1), doi:10.18637/jss.v067.i01) minimises the
profiled REML deviance over ``theta`` (random-effect SD / residual SD per grouping factor) with
NLopt's BOBYQA (Powell 2009) through ``nloptr`` and then applies two boundary rules. On most
features this lands on the REML optimum to many digits; where the deviance surface is almost flat
in one direction BOBYQA stops early, and lme4's coefficients are those of the point where it
stopped, not of the optimum (``optimizer="exact"`` in :func:`._mixed.lmm_all` goes to the
optimum). To give MaAsLin2's numbers, this module follows lme4 step for step:

1. start (``mkLmerDevfun``, random intercepts only): ``v_k = var(ave(y, g_k))``,
   ``v_e = var(y) - sum(v_k)``; ``theta_0 = sqrt(v / v_e)`` if ``v_e > 0``, else 1;
2. terms ordered as ``mkReTrms`` orders them: by decreasing number of levels when some later term
   has more levels than an earlier one, as given otherwise;
3. NLopt ``LN_BOBYQA`` from ``theta_0`` with lower bound 0, NLopt's default initial step and
   ``nloptwrap``'s settings (``xtol_abs = ftol_abs = 1e-8``, ``maxeval = 1e5``) plus ``nloptr``'s
   default ``xtol_rel = 1e-4``, which ``nloptwrap`` leaves in place and which is what ends most runs;
4. ``restart_edge``: a ``theta`` at 0 whose one-sided slope (step 1e-5) is negative restarts
   BOBYQA from the solution;
5. ``check.boundary``: a ``theta`` within 1e-5 of 0 is set to 0 where that lowers the deviance.

The deviance is evaluated per feature by a compiled kernel in the space of the random-effect
levels (the same block elimination as ``_mixed._DenseBackend``: the factor with most levels is
diagonal, the others form a small dense Schur complement). It agrees with lme4's ``devfun`` to
~1e-12 relative, so BOBYQA takes the same steps as in R.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["lme4_order", "optimise_lme4", "start_theta"]

_LOG2PI = np.log(2.0 * np.pi)
XTOL_REL = 1e-4  # nloptr's default, left in place by lme4's nloptwrap
XTOL_ABS = 1e-8  # lme4's nloptwrap
FTOL_ABS = 1e-8  # lme4's nloptwrap
MAXEVAL = 100_000  # lme4's nloptwrap
BOUNDARY_TOL = 1e-5  # lmerControl(boundary.tol)
EDGE_STEP = 1e-5  # optimizeLmer's restart_edge slope step


def lme4_order(n_levels: list[int]) -> list[int]:
    """Order of the random-effect terms in lme4's ``theta`` (``mkReTrms(reorder.terms = TRUE)``):
    ``rev(order(nl))`` when any later term has more levels than the one before, else as given."""
    nl = np.asarray(n_levels)
    if np.any(np.diff(nl) > 0):
        return [int(i) for i in np.argsort(nl, kind="stable")[::-1]]
    return list(range(nl.size))


def _seq_sum(A: np.ndarray) -> np.ndarray:
    """Column sums added top to bottom, as R's loops add (numpy reduces axis 0 of a C-ordered
    array row by row; pairwise summation is only used along the contiguous axis)."""
    return np.add.reduce(np.ascontiguousarray(A), axis=0)


def _r_var_cols(Y: np.ndarray) -> np.ndarray:
    """R's ``var`` of every column (``cov.c``): mean by a long double sum and one correction pass,
    rounded to double; squared deviations in double, accumulated in long double."""
    n = Y.shape[0]
    ld = Y.astype(np.longdouble)
    m = _seq_sum(ld) / n
    m = (m + _seq_sum(ld - m) / n).astype(float)
    dev = Y - m
    return (_seq_sum((dev * dev).astype(np.longdouble)) / (n - 1)).astype(float)


def _r_group_means(Y: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """R's ``mean`` of every column within every group (``ave``): long double sum in sample order,
    divided, one correction pass, rounded once. Returns ``(m, F)``."""
    m = int(codes.max()) + 1
    order = np.argsort(codes, kind="stable")
    cnt = np.bincount(codes, minlength=m)
    starts = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    ld = np.ascontiguousarray(Y[order], dtype=np.longdouble)
    mean = np.add.reduceat(ld, starts, axis=0) / cnt[:, None]  # row by row within each group
    corr = np.add.reduceat(ld - np.repeat(mean, cnt, axis=0), starts, axis=0) / cnt[:, None]
    return (mean + corr).astype(float)


def start_theta(Y: np.ndarray, codes_list: list[np.ndarray], block_bytes: float = 64e6) -> np.ndarray:
    """lme4's starting ``theta`` for random-intercept models, for every column of ``Y`` (n x F).

    ``v_k = var(ave(y, g_k))`` (the group means expanded to the observations), ``v_e = var(y) -
    sum(v_k)``, ``theta = sqrt(v / v_e)`` if ``v_e > 0``, else 1. R's ``mean`` and ``var``
    arithmetic is reproduced (long double accumulation in R's order), so the start is lme4's to
    the last bit and BOBYQA's first steps are the same. Returns ``(F, K)`` in the order of
    ``codes_list``.
    """
    n, F = Y.shape
    K = len(codes_list)
    theta = np.ones((F, K))
    step = max(1, int(block_bytes // (16 * n)))
    for start in range(0, F, step):
        Yc = np.ascontiguousarray(Y[:, start : start + step], float)
        v = np.column_stack([_r_var_cols(_r_group_means(Yc, c)[c]) for c in codes_list])
        ve = _r_var_cols(Yc) - v.sum(axis=1)
        ok = np.isfinite(ve) & (ve > 0)
        blk = theta[start : start + step]
        blk[ok] = np.sqrt(v[ok] / ve[ok, None])
    return theta


@njit(cache=True)
def _cholesky(A):
    """Lower Cholesky factor of a small SPD matrix (a hand loop: compiles in a fraction of the time
    numba needs for ``np.linalg``); ``ok`` is False when ``A`` is not positive definite."""
    m = A.shape[0]
    L = np.zeros((m, m))
    for j in range(m):
        d = A[j, j]
        for k in range(j):
            d -= L[j, k] * L[j, k]
        if not d > 0.0:
            return L, False
        L[j, j] = np.sqrt(d)
        for i in range(j + 1, m):
            t = A[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / L[j, j]
    return L, True


@njit(cache=True)
def _cho_solve(L, B):
    """Solve ``L L' X = B`` for ``B`` of shape (m, c)."""
    m, c = B.shape
    X = B.copy()
    for col in range(c):
        for i in range(m):
            t = X[i, col]
            for k in range(i):
                t -= L[i, k] * X[k, col]
            X[i, col] = t / L[i, i]
        for i in range(m - 1, -1, -1):
            t = X[i, col]
            for k in range(i + 1, m):
                t -= L[k, i] * X[k, col]
            X[i, col] = t / L[i, i]
    return X


@njit(cache=True)
def _deviance(theta, fac, m1, n1, N12, Z22, ZtX, XtX, Zty, Xty, yty, n, p):
    """Profiled REML deviance at ``theta`` for one feature (see ``_mixed`` for the algebra)."""
    q = fac.size
    m2 = q - m1
    s = np.empty(q)
    for i in range(q):
        s[i] = theta[fac[i]]
    d1 = np.empty(m1)
    logdetH = 0.0
    for i in range(m1):
        d1[i] = 1.0 + s[i] * s[i] * n1[i]
        logdetH += np.log(d1[i])
    # right-hand sides [S Z'X | S Z'y]
    R = np.empty((q, p + 1))
    for i in range(q):
        for c in range(p):
            R[i, c] = s[i] * ZtX[i, c]
        R[i, p] = s[i] * Zty[i]
    T = np.empty((q, p + 1))
    if m2 > 0:
        Db = np.empty((m1, m2))
        for i in range(m1):
            for j in range(m2):
                Db[i, j] = s[i] * N12[i, j] * s[m1 + j] / d1[i]
        S2 = np.empty((m2, m2))
        for j in range(m2):
            for k in range(m2):
                acc = s[m1 + j] * Z22[j, k] * s[m1 + k]
                for i in range(m1):
                    acc -= s[i] * N12[i, j] * s[m1 + j] * Db[i, k]
                S2[j, k] = acc
            S2[j, j] += 1.0
        L2, ok = _cholesky(S2)
        if not ok:
            return np.inf
        for j in range(m2):
            logdetH += 2.0 * np.log(L2[j, j])
        rhs = np.empty((m2, p + 1))
        for j in range(m2):
            for c in range(p + 1):
                acc = R[m1 + j, c]
                for i in range(m1):
                    acc -= Db[i, j] * R[i, c]
                rhs[j, c] = acc
        x2 = _cho_solve(L2, rhs)
        for j in range(m2):
            for c in range(p + 1):
                T[m1 + j, c] = x2[j, c]
        for i in range(m1):
            for c in range(p + 1):
                acc = R[i, c] / d1[i]
                for j in range(m2):
                    acc -= Db[i, j] * x2[j, c]
                T[i, c] = acc
    else:
        for i in range(m1):
            for c in range(p + 1):
                T[i, c] = R[i, c] / d1[i]
    XVX = XtX.copy()
    XVy = Xty.copy()
    yVy = yty
    for i in range(q):
        for a in range(p):
            ra = R[i, a]
            for b in range(p):
                XVX[a, b] -= ra * T[i, b]
            XVy[a] -= ra * T[i, p]
        yVy -= R[i, p] * T[i, p]
    L, ok = _cholesky(XVX)
    if not ok:
        return np.inf
    logdetX = 0.0
    for a in range(p):
        logdetX += 2.0 * np.log(L[a, a])
    beta = _cho_solve(L, XVy.reshape(p, 1))[:, 0]
    r2 = yVy
    for a in range(p):
        r2 -= XVy[a] * beta[a]
    if r2 < 1e-300:
        r2 = 1e-300
    return logdetH + logdetX + (n - p) * (1.0 + _LOG2PI + np.log(r2 / (n - p)))


class _Problem:
    """The deviance of one feature as a function of lme4's ``theta`` vector (lme4's term order)."""

    def __init__(self, shared, zty, xty, yty, order):
        self.shared = shared
        self.zty, self.xty, self.yty = zty, xty, float(yty)
        self.order = np.asarray(order)
        self.theta = np.empty(len(order))
        self.nevals = 0
        self.best = (np.inf, None)

    def __call__(self, x, grad=None):
        self.theta[self.order] = x
        s = self.shared
        d = _deviance(
            self.theta,
            s["fac"],
            s["m1"],
            s["n1"],
            s["N12"],
            s["Z22"],
            s["ZtX"],
            s["XtX"],
            self.zty,
            self.xty,
            self.yty,
            s["n"],
            s["p"],
        )
        self.nevals += 1
        if not np.isfinite(d):
            d = np.inf
        if d < self.best[0]:
            self.best = (d, np.array(x, float))
        return float(d)


def _bobyqa(fun: _Problem, x0: np.ndarray):
    """``nloptr(x0, fn, lb = 0, ub = Inf, opts = <nloptwrap's>)``; returns (par, fval, status)."""
    import nlopt

    K = x0.size
    opt = nlopt.opt(nlopt.LN_BOBYQA, K)
    opt.set_min_objective(fun)
    opt.set_lower_bounds(np.zeros(K))
    opt.set_xtol_rel(XTOL_REL)
    opt.set_xtol_abs(XTOL_ABS)
    opt.set_ftol_abs(FTOL_ABS)
    opt.set_maxeval(MAXEVAL)
    fun.best = (np.inf, None)
    try:
        x = opt.optimize(np.asarray(x0, float))
        f = opt.last_optimum_value()
        status = opt.last_optimize_result()
    except (nlopt.RoundoffLimited, RuntimeError, ValueError):
        # nloptr hands back the best point so far with a negative status; lme4 warns and goes on
        f, x = fun.best
        if x is None:
            return np.asarray(x0, float), np.inf, -1
        status = -4
    return np.asarray(x, float), float(f), int(status)


def _fit_one(fun: _Problem, x0: np.ndarray):
    par, fval, status = _bobyqa(fun, x0)
    # restart_edge (optimizeLmer): a parameter at the bound with a negative one-sided slope
    at0 = np.flatnonzero(par == 0.0)
    if at0.size:
        d0 = fun(par)
        slopes = []
        for i in at0:
            th = par.copy()
            th[i] = EDGE_STEP
            slopes.append((fun(th) - d0) / EDGE_STEP)
        if min(slopes) < 0:
            par, fval, status = _bobyqa(fun, par)
    # check.boundary: parameters within boundary.tol of 0 go to 0 when that is no worse
    edge = np.flatnonzero((par > 0) & (par < BOUNDARY_TOL))
    if edge.size:
        pp = par.copy()
        for i in edge:
            tmp = pp.copy()
            tmp[i] = 0.0
            if fun(tmp) < fval:
                pp[i] = 0.0
        par = pp
        fval = fun(par)
    return par, fval, status


def shared_arrays(backend) -> dict:
    """The feature-independent cross-products of a ``_mixed`` backend in the kernel's layout."""
    if backend.K == 1:
        m = backend.nj.size
        return dict(
            fac=np.zeros(m, np.int64),
            m1=m,
            n1=backend.nj.astype(float),
            N12=np.zeros((m, 0)),
            Z22=np.zeros((0, 0)),
            ZtX=np.ascontiguousarray(backend.sx, float),
            XtX=np.ascontiguousarray(backend.XtX, float),
            n=float(backend.n),
            p=backend.p,
            zty=backend.SY,
        )
    return dict(
        fac=backend.fac.astype(np.int64),
        m1=backend.m1,
        n1=backend.n1.astype(float),
        N12=np.ascontiguousarray(backend.N12, float),
        Z22=np.ascontiguousarray(backend.Z22, float),
        ZtX=np.ascontiguousarray(backend.ZtX, float),
        XtX=np.ascontiguousarray(backend.XtX, float),
        n=float(backend.n),
        p=backend.p,
        zty=backend.Zty,
    )


def _centred(X: np.ndarray, Y: np.ndarray):
    """``X`` with its non-constant columns and ``Y`` with its columns centred, when ``X`` has an
    intercept. The REML deviance is unchanged (``X -> X A`` with ``det A = 1``; ``y -> y - c 1``
    with ``1`` in the column space of ``X``), but ``y'Py`` and ``X'V^-1X`` lose far fewer digits
    to cancellation: lme4 forms them from residuals, and BOBYQA's path is sensitive to the
    deviance at the 1e-14 level on a flat surface."""
    const = np.all(X[:1] == X, axis=0) & (X[0] != 0)
    if not const.any():
        return X, Y
    Xc = X - np.where(const, 0.0, X.mean(axis=0))
    return Xc, Y - Y.mean(axis=0)


def optimise_lme4(backend_cls, X: np.ndarray, Y: np.ndarray, codes_list: list[np.ndarray]):
    """lme4's ``theta`` for every column of ``Y`` (``n x F``, no missing values).

    ``backend_cls(X, Y, codes_list-or-codes)`` builds the cross-products (``_mixed`` backends).
    Returns ``gamma = theta^2`` (``(F, K)``, order of ``codes_list``), ``converged`` (NLopt status
    > 0) and the number of deviance evaluations per feature.
    """
    F = Y.shape[1]
    K = len(codes_list)
    order = lme4_order([int(c.max()) + 1 for c in codes_list])
    x0_all = start_theta(Y, codes_list)[:, order]
    Xc, Yc = _centred(X, Y)
    backend = backend_cls(Xc, Yc, codes_list[0] if K == 1 else codes_list)
    sh = shared_arrays(backend)
    zty_all = np.ascontiguousarray(sh.pop("zty"), float)
    xty_all = np.ascontiguousarray(backend.Xty, float)
    yty_all = np.asarray(backend.yty, float)
    gamma = np.empty((F, K))
    converged = np.zeros(F, bool)
    nevals = np.zeros(F, int)
    for f in range(F):
        fun = _Problem(sh, zty_all[f], xty_all[f], yty_all[f], order)
        par, _, status = _fit_one(fun, x0_all[f])
        theta = np.empty(K)
        theta[order] = par
        gamma[f] = theta * theta
        converged[f] = status > 0
        nevals[f] = fun.nevals
    return gamma, converged, nevals


SHIFT_TOL = 0.01  # report where the optimum moves a coefficient by >= 1% of its standard error


def stopped_short_messages(excess: np.ndarray, shift: np.ndarray) -> list[str | None]:
    """A note for every feature where lme4's way stops materially short of the REML optimum.

    ``excess``: REML criterion at lme4's stopping point minus the optimum's; ``shift``: the largest
    change of a coefficient between the two, in standard errors. lme4 itself warns ('Model failed
    to converge') only for some of these and MaAsLin2 silences the warning; the note says how far
    the numbers are from the optimum so a reader can judge.
    """
    out: list[str | None] = []
    for e, s in zip(excess, shift, strict=True):
        if np.isfinite(s) and s >= SHIFT_TOL and e > 0:
            out.append(
                f"lme4's optimiser stops short of the REML optimum here (criterion {e:.2g} above it; flat "
                f"likelihood): at the optimum coefficients move by up to {s:.2g} standard errors "
                "(reml_optimizer='exact')"
            )
        else:
            out.append(None)
    return out
