"""lme4's way of finding the random-effect variances (gutaxis.link._lme4_path).

References: a brute-force dense REML deviance, explicit long double loops (R's arithmetic), and
numbers printed by lme4 1.1-31 / lmerTest 3.1-3 in R 4.2.2 (``tests/r/lmer_single_intercept.R``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from gutaxis.link import _lme4_path as L
from gutaxis.link import _mixed
from gutaxis.link.associate import associate


def test_term_order_is_lme4s():
    # mkReTrms: rev(order(nl)) when some later term has more levels, else as written
    assert L.lme4_order([5, 124]) == [1, 0]
    assert L.lme4_order([124, 5]) == [0, 1]
    assert L.lme4_order([5, 5]) == [0, 1]
    assert L.lme4_order([3, 5, 5]) == [2, 1, 0]
    assert L.lme4_order([7]) == [0]


def _ld_loop_mean(x):
    s = np.longdouble(0)
    for v in x:
        s += np.longdouble(v)
    m = s / len(x)
    t = np.longdouble(0)
    for v in x:
        t += np.longdouble(v) - m
    return float(m + t / len(x))


def test_sums_follow_rs_order_and_precision():
    rng = np.random.default_rng(3)
    Y = rng.normal(size=(400, 5)) * np.exp(4 * rng.normal(size=(400, 5)))
    codes = rng.integers(0, 9, 400)
    loop = np.zeros(5, np.longdouble)
    for row in Y.astype(np.longdouble):
        loop += row
    assert (L._seq_sum(Y.astype(np.longdouble)) == loop).all()
    means = L._r_group_means(Y, codes)
    want = np.array([[_ld_loop_mean(Y[codes == g, f]) for f in range(5)] for g in range(9)])
    assert (means == want).all()


def test_start_is_the_variance_ratio_of_group_means():
    rng = np.random.default_rng(4)
    n = 300
    g1, g2 = rng.integers(0, 30, n), rng.integers(0, 4, n)
    Y = rng.normal(size=(n, 3)) + rng.normal(size=30)[g1][:, None] + 0.5 * rng.normal(size=4)[g2][:, None]
    Y[:, 2] = np.repeat(np.arange(30.0), 10)[np.argsort(g1, kind="stable").argsort()]  # only g1: v_e <= 0
    th = L.start_theta(Y, [g1, g2])
    for f in range(2):
        y = Y[:, f]
        v = [np.var(pd.Series(y).groupby(g).transform("mean").to_numpy(), ddof=1) for g in (g1, g2)]
        ve = np.var(y, ddof=1) - sum(v)
        np.testing.assert_allclose(th[f], np.sqrt(np.array(v) / ve), rtol=1e-12)
    v = sum(np.var(pd.Series(Y[:, 2]).groupby(g).transform("mean").to_numpy(), ddof=1) for g in (g1, g2))
    assert np.var(Y[:, 2], ddof=1) - v <= 1e-12  # lme4 then keeps its default start
    assert (th[2] == 1.0).all()


def _dense_reml(X, y, codes_list, theta):
    """-2 REML log-likelihood profiled over sigma, from the n x n covariance (no shortcuts)."""
    n, p = X.shape
    V = np.eye(n)
    for c, t in zip(codes_list, theta, strict=True):
        Z = (c[:, None] == np.arange(c.max() + 1)[None]).astype(float)
        V += t * t * Z @ Z.T
    Vi = np.linalg.inv(V)
    XVX = X.T @ Vi @ X
    beta = np.linalg.solve(XVX, X.T @ Vi @ y)
    r = y - X @ beta
    r2 = r @ Vi @ r
    return np.linalg.slogdet(V)[1] + np.linalg.slogdet(XVX)[1] + (n - p) * (1 + np.log(2 * np.pi * r2 / (n - p)))


@pytest.mark.parametrize("levels", [(12,), (15, 4), (6, 9)])
def test_kernel_deviance_matches_a_dense_computation(levels):
    rng = np.random.default_rng(sum(levels))
    n = 90
    codes = [np.concatenate([np.arange(m), rng.integers(0, m, n - m)]) for m in levels]
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    y = (
        X @ [2.0, 0.5, -1.0]
        + sum(rng.normal(size=m)[c] for m, c in zip(levels, codes, strict=True))
        + rng.normal(size=n)
    )
    Xc, yc = L._centred(X, y[:, None])
    backend = _mixed._DiagonalBackend(Xc, yc, codes[0]) if len(levels) == 1 else _mixed._DenseBackend(Xc, yc, codes)
    sh = L.shared_arrays(backend)
    zty = sh.pop("zty")[0]
    for theta in ([0.7, 1.3][: len(levels)], [0.0, 2.0][: len(levels)], [3.0, 0.01][: len(levels)]):
        ours = L._deviance(
            np.array(theta, float),
            sh["fac"],
            sh["m1"],
            sh["n1"],
            sh["N12"],
            sh["Z22"],
            sh["ZtX"],
            sh["XtX"],
            zty,
            backend.Xty[0],
            float(backend.yty[0]),
            sh["n"],
            sh["p"],
        )
        np.testing.assert_allclose(ours, _dense_reml(X, y, codes, theta), rtol=1e-11)


def _fake_bobyqa(points):
    calls = []

    def run(fun, x0):
        calls.append(np.array(x0, float))
        par = np.array(points[len(calls) - 1], float)
        return par, fun(par), 4

    return run, calls


def test_check_boundary_moves_a_near_zero_parameter_to_zero(monkeypatch):
    def dev(t):  # rises with the second parameter: 0 is better than 4e-6
        return (t[0] - 1.0) ** 2 + t[1]

    run, calls = _fake_bobyqa([[1.0, 4e-6]])
    monkeypatch.setattr(L, "_bobyqa", run)
    par, fval, _ = L._fit_one(dev, np.array([1.0, 1.0]))
    assert par.tolist() == [1.0, 0.0] and fval == dev(par) and len(calls) == 1
    # beyond boundary.tol (1e-5) nothing moves
    run, calls = _fake_bobyqa([[1.0, 2e-5]])
    monkeypatch.setattr(L, "_bobyqa", run)
    par, _, _ = L._fit_one(dev, np.array([1.0, 1.0]))
    assert par.tolist() == [1.0, 2e-5]


def test_restart_edge_restarts_from_the_bound_when_the_slope_points_inside(monkeypatch):
    def dev(t):  # minimum at t1 = 0.5: stopping at 0 is wrong, the slope there is negative
        return (t[0] - 1.0) ** 2 + (t[1] - 0.5) ** 2

    run, calls = _fake_bobyqa([[1.0, 0.0], [1.0, 0.5]])
    monkeypatch.setattr(L, "_bobyqa", run)
    par, _, _ = L._fit_one(dev, np.array([2.0, 2.0]))
    assert len(calls) == 2 and calls[1].tolist() == [1.0, 0.0] and par.tolist() == [1.0, 0.5]
    # a positive slope at the bound: no restart
    run, calls = _fake_bobyqa([[1.0, 0.0]])
    monkeypatch.setattr(L, "_bobyqa", run)
    par, _, _ = L._fit_one(lambda t: (t[0] - 1.0) ** 2 + t[1], np.array([2.0, 2.0]))
    assert len(calls) == 1 and par.tolist() == [1.0, 0.0]


def test_a_variance_the_data_do_not_support_ends_at_or_next_to_zero():
    rng = np.random.default_rng(11)
    n, m1, m2 = 400, 40, 3
    subj = np.repeat(np.arange(m1), n // m1)
    site = subj % m2
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    Y = (X @ [1.0, 0.3])[:, None] + rng.normal(size=(m1, 8))[subj] + rng.normal(size=(n, 8))
    gamma, converged, _ = L.optimise_lme4(_mixed._DenseBackend, X, Y, [site, subj])
    exact, _, _ = _mixed._optimise(_mixed._DenseBackend(X, Y, [site, subj]), Y.shape[1])
    assert converged.all()
    at0 = exact[:, 0] == 0
    assert at0.any()
    assert (np.sqrt(gamma[at0, 0]) < 1e-3).all()
    theta_site = np.sqrt(gamma[:, 0])
    assert not ((theta_site > 0) & (theta_site < L.BOUNDARY_TOL)).any()
    np.testing.assert_allclose(gamma[:, 1], exact[:, 1], rtol=1e-3)


# lme4 1.1-31 / lmerTest 3.1-3 (R 4.2.2), printed by tests/r/lmer_single_intercept.R
LME4_SINGLE = {
    "Faecalibacterium.prausnitzii": (
        0.967540317629,
        {
            "diagnosis CD": (-0.555653186325, 0.474170782307),
            "diagnosis UC": (0.64995780967, 0.516759947549),
            "dysbiosis dysbiosis": (-29.4113636768, 0.978134296708),
            "antibiotics Yes": (-0.284841589146, 0.210296072972),
            "age age": (-0.0421273056021, 0.0106776696934),
        },
    ),
    "Bacteroides.vulgatus": (
        1.89275547339,
        {
            "diagnosis CD": (-1.10030621944, 1.04044065653),
            "diagnosis UC": (0.534218233054, 1.13384445498),
            "dysbiosis dysbiosis": (-17.5971429401, 1.20196451398),
            "antibiotics Yes": (0.465784864892, 0.249336673302),
            "age age": (-0.0141015209504, 0.0234154951027),
        },
    ),
    "Escherichia.coli": (
        0.912934861033,
        {
            "diagnosis CD": (0.933142579443, 0.740549489223),
            "diagnosis UC": (0.64631520458, 0.807002883082),
            "dysbiosis dysbiosis": (9.52274581063, 1.59798028583),
            "antibiotics Yes": (-0.57563858073, 0.34530563543),
            "age age": (0.000119957678429, 0.0166742719179),
        },
    ),
}


def test_single_random_intercept_matches_lme4(shared):
    data = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = associate(
            data,
            meta,
            fixed_effects=["diagnosis", "dysbiosis", "antibiotics", "age"],
            random_effects=["subject"],
            reference="diagnosis,nonIBD",
            standardize=False,
        ).results
    for feature, (_, rows) in LME4_SINGLE.items():
        mine = res[res.feature == feature].assign(key=lambda d: d.metadata + " " + d.value.astype(str))
        mine = mine.set_index("key")
        for key, (coef, se) in rows.items():
            assert mine.loc[key, "coef"] == pytest.approx(coef, rel=1e-6), (feature, key)
            assert mine.loc[key, "stderr"] == pytest.approx(se, rel=1e-6), (feature, key)
