"""The random-intercept logistic mixed model (:mod:`gutaxis.link._glmm`, lme4's glmer Laplace fit).

Independent references: lme4::glmer and a hand-written R optimum of the same Laplace deviance
(tests/r/glmer_reference.R, R 4.2.2, lme4 1.1-31), numerical integration of the exact marginal
likelihood (scipy.integrate.quad), finite differences, and plain logistic regression.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, special

from gutaxis.errors import InputError
from gutaxis.link import _design, _glmm, _logistic

# ---------------------------------------------------------------------------------------------
# R reference numbers: printed by tests/r/glmer_reference.R (R 4.2.2, lme4 1.1-31, lmerTest 3.1-3)
# on ../shared/data/maaslin3_hmp2, presence of a taxon ~ diagnosis + dysbiosis_state + antibiotics
# + age + reads + (1 | participant_id). Parameters: theta, then (Intercept), diagnosisCD,
# diagnosisUC, dysbiosis_CD, dysbiosis_UC, antibioticsYes, age, reads.
#   glmer: lme4::glmer as MaAsLin3 calls it (nloptwrap, maxeval 1e5);
#   glmer_tight: the same with tolPwrss = 1e-12 and tight optimizer tolerances;
#   exact: the script's hand-written Laplace deviance minimised by nlminb + Newton steps, its
#   standard errors 2 solve(Hessian) from finite differences; hand_dev_at_glmer: that deviance at
#   glmer's estimate.
R_REF = {
    ("Bacteroides_uniformis", False): dict(
        glmer=[
            7.24804072051,
            8.65948679847,
            -0.636496917824,
            -0.0483647020101,
            -3.3380448713,
            -3.01341254718,
            0.497190487637,
            -0.00616933503843,
            0.558559392531,
        ],
        glmer_se=[
            1.41310543493,
            1.40443731435,
            1.57508679964,
            0.578548211357,
            0.975602540608,
            0.534834895063,
            0.578892353296,
            0.141063730174,
        ],
        hand_dev_at_glmer=596.956268979,
        glmer_tight=[
            7.25343506646,
            8.66579853513,
            -0.641400025072,
            -0.0510352410947,
            -3.33753599943,
            -3.01413961194,
            0.497670295992,
            -0.00822932667315,
            0.558580516538,
        ],
        hand_dev_at_glmer_tight=596.95623397,
        exact=[
            7.2534186904,
            8.66567100219,
            -0.641202929518,
            -0.0509145219647,
            -3.33755375623,
            -3.01413058324,
            0.497667663325,
            -0.00801117253574,
            0.558576903861,
        ],
        exact_se=[
            1.41622264072,
            1.40545161567,
            1.57620407505,
            0.578562133546,
            0.975846197766,
            0.534842529984,
            0.579107124096,
            0.141071757619,
        ],
        exact_dev=596.95623381,
    ),
    ("Bacteroides_uniformis", True): dict(
        glmer=[
            4.79534255988,
            7.3717348127,
            -1.03571239142,
            -0.355860506397,
            -3.49250307548,
            -2.93175007088,
            0.451089391305,
            0.00401305604021,
            0.552125072039,
        ],
        glmer_se=[
            1.38419594627,
            1.28192605242,
            1.37515696929,
            0.58478696209,
            0.942938185646,
            0.522620786705,
            0.512760109909,
            0.137875121833,
        ],
        hand_dev_at_glmer=613.007741573,
        glmer_tight=[
            4.82632644698,
            7.41551992709,
            -1.04395490965,
            -0.361491550654,
            -3.49207240358,
            -2.93436878102,
            0.451717747772,
            0.00291236200399,
            0.552337092824,
        ],
        hand_dev_at_glmer_tight=613.006143328,
        exact=[
            4.82642381155,
            7.41611494649,
            -1.04471753301,
            -0.362004068863,
            -3.49200615554,
            -2.93443221528,
            0.451725096712,
            0.00250576806932,
            0.552340770301,
        ],
        exact_se=[
            1.40948025498,
            1.28406216894,
            1.37767361361,
            0.585386862545,
            0.945117654673,
            0.523159678449,
            0.514678714181,
            0.138015908476,
        ],
        exact_dev=613.006142412,
    ),
    ("Ruminococcus_bromii", False): dict(
        glmer=[
            3.74406391498,
            -0.733858372582,
            -1.70059831494,
            -2.99825127347,
            -1.9304375728,
            -1.72850393509,
            -1.32882929574,
            0.936027733046,
            0.23121079439,
        ],
        glmer_se=[
            0.79298677462,
            0.979952791933,
            1.11767642895,
            0.561217410567,
            1.20934903922,
            0.391645171662,
            0.397823075452,
            0.108225145885,
        ],
        hand_dev_at_glmer=963.541141667,
        glmer_tight=[
            3.74464608234,
            -0.665392753061,
            -1.78397135245,
            -3.06284699816,
            -1.92608825651,
            -1.74477539992,
            -1.32752099747,
            0.934080498373,
            0.235697903322,
        ],
        hand_dev_at_glmer_tight=963.531642254,
        exact=[
            3.7447176571,
            -0.665470305029,
            -1.78386585864,
            -3.06287461558,
            -1.92607697686,
            -1.74495196412,
            -1.3274997509,
            0.934122794977,
            0.235703574356,
        ],
        exact_se=[
            0.834698361695,
            1.03783233998,
            1.19676871513,
            0.567603106974,
            1.20348281736,
            0.397742072776,
            0.414819250778,
            0.108749886385,
        ],
        exact_dev=963.531642174,
    ),
}


# Two random intercepts, (1 | site_name) + (1 | participant_id): part 3 of tests/r/glmer_reference.R
# (same data and fixed effects). Parameters in lme4's order: theta participant_id, theta site_name,
# then the fixed effects; glmer: MaAsLin3's call; glmer_tight: tolPwrss = 1e-12 and tight optimizer
# tolerances; *_dev: -2 logLik(fit), glmer's own Laplace deviance.
R_REF2 = {
    ("Roseburia_intestinalis", False): dict(
        glmer=[
            2.20991002768,
            0.653966705891,
            0.94562608519,
            -0.836572795341,
            0.0375267704282,
            -1.03850340895,
            -1.66917516059,
            -1.18033956242,
            -0.271956957327,
            0.251504603194,
        ],
        glmer_se=[
            0.580231503042,
            0.5984003824,
            0.654759692497,
            0.358996175361,
            0.577805857938,
            0.269528855396,
            0.395045362054,
            0.077891403493,
        ],
        glmer_dev=1496.85130933,
        glmer_tight=[
            2.2135215034,
            0.656204191358,
            0.949957808234,
            -0.84237096796,
            0.037910209088,
            -1.0409178523,
            -1.67799732469,
            -1.18287799053,
            -0.274204265825,
            0.252552772202,
        ],
        glmer_tight_se=[
            0.58916209084,
            0.60991023202,
            0.667194151415,
            0.366036583313,
            0.608980864528,
            0.274849048258,
            0.403584615092,
            0.080536871864,
        ],
        glmer_tight_dev=1496.83781634,
    ),
    ("Parasutterella_excrementihominis", False): dict(
        glmer=[
            3.92491571769,
            0.6542991878,
            0.126888424832,
            -1.73322396606,
            -0.0389018733742,
            -3.03836128638,
            -2.33840939589,
            0.793747469413,
            0.154365478089,
            0.55058427708,
        ],
        glmer_se=[
            0.924722690387,
            1.07716378182,
            1.16440519771,
            0.837167023226,
            0.774561549258,
            0.349802436489,
            0.530089794245,
            0.111136317937,
        ],
        glmer_dev=1018.21661089,
        glmer_tight=[
            3.92578678431,
            0.650356911862,
            0.159841014299,
            -1.76644700159,
            -0.0953745666614,
            -3.03984683582,
            -2.33683175116,
            0.793597545752,
            0.151409216337,
            0.550452221482,
        ],
        glmer_tight_se=[
            0.923943129394,
            1.07888347873,
            1.16466537451,
            0.838589988609,
            0.774587767303,
            0.34985598959,
            0.52922454216,
            0.111181596082,
        ],
        glmer_tight_dev=1018.21357477,
    ),
    ("Roseburia_intestinalis", True): dict(
        glmer=[
            2.1911363776,
            0.646973099448,
            0.938863252435,
            -0.828823184019,
            0.0398507385239,
            -1.03565949883,
            -1.66270345532,
            -1.17926191562,
            -0.268260400607,
            0.251050855551,
        ],
        glmer_se=[
            0.575424557533,
            0.593972290455,
            0.649981046078,
            0.358593662795,
            0.577211081628,
            0.269360415193,
            0.39204967511,
            0.0778510060875,
        ],
        glmer_dev=1498.32448057,
        glmer_tight=[
            2.19489648955,
            0.649236932973,
            0.942609465247,
            -0.833867004175,
            0.0419000420013,
            -1.03831339551,
            -1.6739833382,
            -1.18193973198,
            -0.270469075088,
            0.252219560716,
        ],
        glmer_tight_se=[
            0.583790717978,
            0.604757079114,
            0.661730954892,
            0.36551329009,
            0.607886580444,
            0.274605833309,
            0.400146957951,
            0.0804792520108,
        ],
        glmer_tight_dev=1498.30735389,
    ),
}


@pytest.fixture(scope="module")
def hmp2_design(shared):
    data = pd.read_csv(shared("data", "maaslin3_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin3_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        des = _design.build_design(
            meta,
            ["diagnosis", "dysbiosis_state", "antibiotics", "age", "reads"],
            ["participant_id"],
            {"diagnosis": "nonIBD", "dysbiosis_state": "none", "antibiotics": "No"},
            True,
        )
    assert des.rows.all()
    return data, des


@pytest.mark.parametrize("key", list(R_REF))
def test_matches_lme4_and_the_laplace_optimum(hmp2_design, key):
    data, des = hmp2_design
    taxon, augment = key
    ref = {k: np.asarray(v, float) for k, v in R_REF[key].items()}
    n, p = des.X.shape
    w = (p - 1) / (2 * n) if augment else 0.0
    y = (data[taxon].to_numpy() > 0).astype(float)
    codes = des.groups[0][1]
    coef, se, pval, info = _glmm.glmm_all(des.X, y[:, None], [codes], augment_weight=w)
    ours = np.r_[info["theta"][0], coef[0]]
    assert info["converged"][0] and info["messages"][0] == [] and info["vcov_hessian"][0]
    # the optimum of the Laplace deviance, found independently in R: same point, deviance, SEs
    np.testing.assert_allclose(ours, ref["exact"], rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(se[0], ref["exact_se"], rtol=1e-4)  # R's: finite differences
    assert abs(info["deviance"][0] - ref["exact_dev"]) < 1e-7
    # the deviance function itself, at glmer's estimates, equals the hand-written R one
    for par, dev in ((ref["glmer"], ref["hand_dev_at_glmer"]), (ref["glmer_tight"], ref["hand_dev_at_glmer_tight"])):
        D, _ = _glmm.laplace_deviance(des.X, y, codes, par[0], par[1:], augment_weight=w)
        assert pytest.approx(dev, abs=2e-8) == D
        assert info["deviance"][0] <= dev + 1e-6  # never worse than glmer
    # glmer with its PIRLS tolerance 1e-7 (MaAsLin3's call) stops a little away; tightened, it
    # comes to the same optimum
    assert np.all(np.abs(coef[0] - ref["glmer"][1:]) < 0.1 * se[0])
    np.testing.assert_allclose(se[0], ref["glmer_se"], rtol=0.08)
    assert np.all(np.abs(coef[0] - ref["glmer_tight"][1:]) < 3e-3 * se[0])
    np.testing.assert_allclose(pval[0], 2 * special.ndtr(-np.abs(coef[0] / se[0])), rtol=1e-12)


def test_analytic_derivatives_match_differences():
    rng = np.random.default_rng(3)
    n, m = 300, 25
    g = rng.integers(0, m, n)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    eta = -0.3 + 0.8 * X[:, 1] + 1.2 * rng.normal(size=m)[g]
    Y = (rng.random((n, 2)) < special.expit(eta)[:, None]).astype(float)
    for w in (0.0, 0.01):
        prob = _glmm._Problem(X, Y, g, None, w)
        v = _glmm._sub(prob, np.arange(2))
        for gam in (0.0, 0.7, 2.5):
            z = np.array([[gam, -0.2, 0.5, 0.1], [gam, 0.3, -0.4, 0.8]])
            ev = _glmm._evaluate(prob, v, z, np.zeros((2, prob.m)), hess=True)
            # gradient against differences of the deviance (forward at the bound gamma = 0)
            gfd = np.empty_like(ev["g"])
            for j in range(4):
                h = 1e-6
                zp, zm = z.copy(), z.copy()
                zp[:, j] += h
                if j == 0 and gam == 0:
                    den = h
                else:
                    zm[:, j] -= h
                    den = 2 * h
                gfd[:, j] = (
                    _glmm._evaluate(prob, v, zp, ev["b"].copy(), grad=False)["D"]
                    - _glmm._evaluate(prob, v, zm, ev["b"].copy(), grad=False)["D"]
                ) / den
            tol = 1e-4 if gam == 0 else 1e-7
            np.testing.assert_allclose(ev["g"], gfd, rtol=tol, atol=tol * np.abs(ev["g"]).max())
            Hfd = _glmm._hessian(prob, v, z, ev["b"], ev["g"], central=True)
            tol = 1e-3 if gam == 0 else 1e-8
            np.testing.assert_allclose(ev["H"], Hfd, rtol=tol, atol=tol * np.abs(ev["H"]).max())


def _one_group(n, seed):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    beta = np.array([0.4, -0.9])
    theta = 1.3
    y = (rng.random(n) < special.expit(X @ beta + theta * 0.7)).astype(float)
    return X, y, beta, theta


def _log_integrand(u, X, y, beta, theta):
    eta = X @ beta + theta * u
    return float(np.sum(y * special.log_expit(eta) + (1 - y) * special.log_expit(-eta)) - u * u / 2)


def test_laplace_mode_curvature_and_quadrature():
    # one group: D = -2 log g(u^) + log(-d2/du2 log g(u^)), g the integrand of the marginal likelihood
    X, y, beta, theta = _one_group(40, 1)
    D, u = _glmm.laplace_deviance(X, y, np.zeros(40, int), theta, beta)
    res = optimize.minimize_scalar(
        lambda t: -_log_integrand(t, X, y, beta, theta), bounds=(-10, 10), method="bounded", options={"xatol": 1e-12}
    )
    assert u[0] == pytest.approx(res.x, abs=1e-6)
    h = 1e-4
    lg = [_log_integrand(res.x + k * h, X, y, beta, theta) for k in (-1, 0, 1)]
    curv = -(lg[0] - 2 * lg[1] + lg[2]) / h**2
    assert pytest.approx(-2 * lg[1] + np.log(curv), abs=1e-5) == D
    # against the exact marginal likelihood, -2 log int g(u) du / sqrt(2 pi): the Laplace error
    # shrinks with the group size (O(1/n)) and is small for a large group
    errs = []
    for n in (10, 4000):
        X, y, beta, theta = _one_group(n, 2)
        D, u = _glmm.laplace_deviance(X, y, np.zeros(n, int), theta, beta)
        peak = _log_integrand(u[0], X, y, beta, theta)

        def integrand(t, X=X, y=y, beta=beta, theta=theta, peak=peak):
            return np.exp(_log_integrand(t, X, y, beta, theta) - peak)

        val, _ = integrate.quad(
            integrand,
            u[0] - 12,
            u[0] + 12,
            epsabs=1e-13,
            epsrel=1e-12,
            limit=200,
        )
        exact = -2 * (peak + np.log(val) - 0.5 * np.log(2 * np.pi))
        errs.append(abs(D - exact))
    assert errs[1] < 2e-3 and errs[1] < errs[0] / 20


def test_augmented_modes_use_the_weights_but_not_the_likelihood():
    # glmer on MaAsLin3's stacked data: the pseudo-rows (weight w < 0.5) move the mode and the
    # curvature, while binomial()$aic rounds their weight to 0 in the log-likelihood term
    X, y, beta, theta = _one_group(60, 4)
    w = 0.05
    D, u = _glmm.laplace_deviance(X, y, np.zeros(60, int), theta, beta, augment_weight=w)

    def pen(t):  # penalised weighted log-likelihood of the stacked rows
        eta = X @ beta + theta * t
        return -(np.sum((y + w) * special.log_expit(eta) + (1 - y + w) * special.log_expit(-eta)) - t * t / 2)

    res = optimize.minimize_scalar(pen, bounds=(-10, 10), method="bounded", options={"xatol": 1e-12})
    assert u[0] == pytest.approx(res.x, abs=1e-6)
    eta = X @ beta + theta * res.x
    mu = special.expit(eta)
    ll = np.sum(y * np.log(mu) + (1 - y) * np.log1p(-mu))
    expected = -2 * ll + res.x**2 + np.log(1 + theta**2 * np.sum((1 + 2 * w) * mu * (1 - mu)))
    assert pytest.approx(expected, abs=1e-6) == D


def test_boundary_theta_zero_is_logistic_regression():
    # identical groups: every group's score is zero at the logistic fit, so the variance
    # estimate is 0 and the fit is plain logistic regression -- augmented or not, as glmer (at
    # theta = 0 its deviance is the unweighted -2 log-likelihood of the observed rows)
    rng = np.random.default_rng(7)
    k, m = 30, 12
    x = rng.normal(size=k)
    yk = (rng.random(k) < special.expit(0.3 + 1.1 * x)).astype(float)
    X = np.column_stack([np.ones(k * m), np.tile(x, m)])
    y = np.tile(yk, m)
    g = np.repeat(np.arange(m), k)
    c0, s0, p0, _info0 = _logistic.logistic_all(X, y[:, None], epsilon=1e-14, maxit=100)
    for w in (0.0, 1 / (2 * k * m)):
        coef, se, pval, info = _glmm.glmm_all(X, y[:, None], [g], augment_weight=w)
        assert info["theta"][0, 0] == 0.0 and info["singular"][0] and info["messages"][0] == []
        np.testing.assert_allclose(coef, c0, rtol=1e-8)
        np.testing.assert_allclose(se, s0, rtol=1e-7)
        np.testing.assert_allclose(pval, p0, rtol=1e-6)


def test_separation_is_flagged_not_a_crash():
    rng = np.random.default_rng(5)
    n, m = 400, 40
    g = rng.integers(0, m, n)
    grp = rng.integers(0, 2, n).astype(float)
    X = np.column_stack([np.ones(n), grp, rng.normal(size=n)])
    eta = -0.5 + 0.7 * X[:, 2] + rng.normal(size=m)[g]
    y = (rng.random(n) < special.expit(eta)).astype(float)
    y_sep = np.where(grp == 1, 0.0, y)  # never present where grp = 1
    Y = np.column_stack([y, y_sep])
    coef, se, _pval, info = _glmm.glmm_all(X, Y, [g], augment_weight=(X.shape[1] - 1) / (2 * n))
    assert info["messages"][0] == [] and info["converged"][0]
    assert np.all(np.isfinite(coef))
    assert coef[1, 1] < -10 and se[1, 1] > 100  # the separated level runs away ...
    assert info["messages"][1]  # ... and lme4's Hessian checks flag it
    assert "Hessian" in info["messages"][1][-1]


def test_lme4_convergence_messages():
    H = np.diag([10.0, 5.0, 2.0])
    assert _glmm.lme4_conv_messages(np.array([0.5]), np.zeros(3), H) == []
    assert _glmm.lme4_conv_messages(np.array([5e-5]), np.ones(3), -H) == []  # singular fit: a message only
    msg = _glmm.lme4_conv_messages(np.array([0.5]), np.array([0.5, 0, 0]), H)
    assert msg == ["Model failed to converge with max|grad| = 0.158114 (tol = 0.002, component 1)"]
    msg = _glmm.lme4_conv_messages(np.array([0.5]), np.zeros(3), np.diag([10.0, 5.0, 1e-9]))
    assert msg[-1] == " Hessian is numerically singular: parameters are not uniquely determined"
    assert msg[-2] == "fixed-effect Hessian is numerically singular: parameters are not uniquely determined"
    msg = _glmm.lme4_conv_messages(np.array([0.5]), np.zeros(3), np.diag([10.0, -5.0, 1.0]))
    assert msg[-1] == "Model failed to converge: degenerate  Hessian with 1 negative eigenvalues"


def test_bad_input():
    rng = np.random.default_rng(0)
    n = 50
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = (rng.random(n) < 0.5).astype(float)
    with pytest.raises(InputError, match="single group"):
        _glmm.glmm_all(X, y[:, None], [np.zeros(n, int)])
    with pytest.raises(InputError, match="single group"):
        _glmm.glmm_all(X, y[:, None], [np.arange(n) % 5, np.zeros(n, int)])
    with pytest.raises(InputError, match="0 or 1"):
        _glmm.glmm_all(X, 2 * y[:, None], [np.arange(n) % 5])
    Y = np.column_stack([y, np.ones(n)])  # an all-present feature
    coef, _se, _pval, info = _glmm.glmm_all(X, Y, [np.arange(n) % 5])
    assert np.isnan(coef[1]).all() and info["messages"][1] == ["Response is constant"]
    assert np.isfinite(coef[0]).all()


@pytest.fixture(scope="module")
def hmp2_two_factors(shared):
    data = pd.read_csv(shared("data", "maaslin3_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin3_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        des = _design.build_design(
            meta,
            ["diagnosis", "dysbiosis_state", "antibiotics", "age", "reads"],
            ["site_name", "participant_id"],
            {"diagnosis": "nonIBD", "dysbiosis_state": "none", "antibiotics": "No"},
            True,
        )
    assert des.rows.all() and [g[0] for g in des.groups] == ["site_name", "participant_id"]
    return data, des


@pytest.mark.parametrize("key", list(R_REF2))
def test_two_random_intercepts_match_lme4(hmp2_two_factors, key):
    data, des = hmp2_two_factors
    taxon, augment = key
    ref = {k: np.asarray(v, float) for k, v in R_REF2[key].items()}
    n, p = des.X.shape
    w = (p - 1) / (2 * n) if augment else 0.0
    y = (data[taxon].to_numpy() > 0).astype(float)
    codes = [g[1] for g in des.groups]
    coef, se, pval, info = _glmm.glmm_all(des.X, y[:, None], codes, augment_weight=w)
    assert info["converged"][0] and info["messages"][0] == [] and info["vcov_hessian"][0]
    assert info["theta"].shape == (1, 2) and not info["singular"][0]
    ours = np.r_[info["theta"][0, ::-1], coef[0]]  # lme4's order: participant_id, site_name
    D = info["deviance"][0]
    for par, dev, tight in (
        (ref["glmer"], ref["glmer_dev"], False),
        (ref["glmer_tight"], ref["glmer_tight_dev"], True),
    ):
        # glmer's own deviance and the exact one at its estimate: never below ours
        assert dev + 1e-6 >= D
        Dg, u = _glmm.laplace_deviance(des.X, y, codes, par[1::-1], par[2:], augment_weight=w)
        assert Dg + 1e-6 >= D
        if tight:  # glmer with its modes to 1e-12 evaluates the same deviance
            assert abs(Dg - dev) < 1e-5
        assert len(u) == 2 and u[0].size == np.unique(codes[0]).size and u[1].size == np.unique(codes[1]).size
    # glmer as MaAsLin3 calls it stops a little short; tightened, it comes to the same point
    assert np.all(np.abs(coef[0] - ref["glmer"][2:]) < 0.05 * se[0])
    np.testing.assert_allclose(se[0], ref["glmer_se"], rtol=0.08)  # glmer_tight moves them as much
    assert np.all(np.abs(coef[0] - ref["glmer_tight"][2:]) < 3e-3 * se[0])
    np.testing.assert_allclose(ours[:2], ref["glmer_tight"][:2], rtol=3e-3)
    np.testing.assert_allclose(se[0], ref["glmer_tight_se"], rtol=3e-3)
    np.testing.assert_allclose(pval[0], 2 * special.ndtr(-np.abs(coef[0] / se[0])), rtol=1e-12)


def test_two_random_intercepts_derivatives_and_reduction():
    rng = np.random.default_rng(3)
    n, m, s = 300, 25, 4
    g = rng.integers(0, m, n)
    site = g % s
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    eta = -0.3 + 0.8 * X[:, 1] + 1.2 * rng.normal(size=m)[g] + 0.7 * rng.normal(size=s)[site]
    Y = (rng.random((n, 2)) < special.expit(eta)[:, None]).astype(float)
    for w in (0.0, 0.01):
        prob = _glmm._MultiProblem(X, Y, [site, g], None, w)
        v = _glmm._sub(prob, np.arange(2))
        for th in ([0.0, 0.0], [0.9, 0.0], [1.3, 0.6], [0.0, 0.8]):  # internal order: g, then site
            z = np.array([[*th, -0.2, 0.5, 0.1], [*th, 0.3, -0.4, 0.8]])
            ev = _glmm._mevaluate(prob, v, z, np.zeros((2, prob.m1)), np.zeros((2, prob.q2)))
            gfd = np.empty_like(ev["g"])
            for j in range(5):
                h = 1e-6
                zp, zm = z.copy(), z.copy()
                zp[:, j] += h
                zm[:, j] -= h
                Dp = _glmm._mevaluate(prob, v, zp, ev["u1"].copy(), ev["u2"].copy(), grad=False)["D"]
                Dm = _glmm._mevaluate(prob, v, zm, ev["u1"].copy(), ev["u2"].copy(), grad=False)["D"]
                gfd[:, j] = (Dp - Dm) / (2 * h)
            np.testing.assert_allclose(ev["g"], gfd, rtol=1e-7, atol=1e-7 * np.abs(ev["g"]).max())
        # with the second variance at 0 the deviance and the fit are those of one random intercept
        D1, _ = _glmm.laplace_deviance(X, Y[:, 0], g, 1.1, [-0.2, 0.5, 0.1], augment_weight=w)
        D2, _ = _glmm.laplace_deviance(X, Y[:, 0], [site, g], [0.0, 1.1], [-0.2, 0.5, 0.1], augment_weight=w)
        assert pytest.approx(D1, abs=1e-9) == D2
        Y1 = rng.random((n, 1)) < special.expit(-0.3 + 0.8 * X[:, 1] + 1.2 * rng.normal(size=m)[g])[:, None]
        c1, s1, _, i1 = _glmm.glmm_all(X, Y1.astype(float), [g], augment_weight=w)
        c2, s2, _, i2 = _glmm.glmm_all(X, Y1.astype(float), [site, g], augment_weight=w)
        assert i2["theta"][0, 0] < 1e-6 and i2["singular"][0]  # no site effect simulated: its optimum at 0
        np.testing.assert_allclose(c2, c1, atol=1e-7)
        np.testing.assert_allclose(s2, s1, rtol=1e-6)
        np.testing.assert_allclose(i2["theta"][0, 1], i1["theta"][0, 0], rtol=1e-7)
        assert i2["deviance"][0] == pytest.approx(i1["deviance"][0], abs=1e-8)
        # a fit with both variances positive is a stationary point (gradient ~ 0)
        _c, _s, _, info = _glmm.glmm_all(X, Y, [site, g], augment_weight=w)
        assert info["converged"].all() and (info["theta"] > 0.1).all()
