"""associate(model="maaslin3"): MaAsLin3 parity on its own HMP2 test, and the parts against
independent references (statsmodels GLM/OLS, hand-worked rules).

Reference: ../shared/data/maaslin3_hmp2/expected_results_run1.tsv, the significant_results.tsv
of maaslin3's tests/testthat/test_Maaslin3.R (maaslin3 @ e5f6782, v0.99.1): TSS, LOG,
``~ diagnosis + dysbiosis_state + antibiotics + age + reads``, references nonIBD / none / No,
standardize, augment, median comparison for abundance only, max_significance 0.1.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gutaxis.errors import InputError
from gutaxis.link import _logistic, _maaslin3
from gutaxis.link.associate import associate

CALL = dict(
    formula="~ diagnosis + dysbiosis_state + antibiotics + age + reads",
    model="maaslin3",
    normalization="TSS",
    transform="LOG",
    standardize=True,
    max_significance=0.1,
    reference={"diagnosis": "nonIBD", "dysbiosis_state": "none", "antibiotics": "No"},
    augment=True,
    median_comparison_abundance=True,
    median_comparison_prevalence=False,
)
KEY = ["feature", "metadata", "value", "model"]


@pytest.fixture(scope="module")
def hmp2(shared):
    data = pd.read_csv(shared("data", "maaslin3_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin3_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    expected = pd.read_csv(shared("data", "maaslin3_hmp2", "expected_results_run1.tsv"), sep="\t")
    return data, meta, expected.dropna(how="all")  # two all-NA rows: R's NA logical index


@pytest.fixture(scope="module")
def run1(hmp2):
    data, meta, _ = hmp2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return associate(data, meta, **CALL)


def test_hmp2_parity_with_maaslin3_test(hmp2, run1):
    _, _, exp = hmp2
    res, sig = run1.results, run1.significant
    ours = set(map(tuple, sig[KEY].astype(str).values))
    theirs = set(map(tuple, exp[KEY].astype(str).values))
    found = len(theirs & ours) / len(theirs)
    m = exp.merge(res, on=KEY, how="left", suffixes=("_R", ""))
    assert m["name"].notna().all()
    figures = {"found": found, "ours": len(ours), "theirs": len(theirs), "extra": len(ours - theirs)}
    for model in ("abundance", "prevalence"):
        x = m[m.model == model]
        both = x.coef_R.notna()
        assert (x.coef.notna() == both).all(), "rows MaAsLin3 leaves NA (failed fits) must be NA here too"
        figures[f"{model} max|dcoef|"] = float((x.coef - x.coef_R)[both].abs().max())
        figures[f"{model} max|dse|"] = float((x.stderr - x.stderr_R)[both].abs().max())
        figures[f"{model} max|log10 p ratio|"] = float(
            np.log10(x.pval_individual / x.pval_individual_R)[both].abs().max()
        )
    print("\nMaAsLin3 HMP2 parity:", figures)
    # acceptance: >= 97 % of MaAsLin3's significant associations, coefficients within 1e-2
    assert found >= 0.97
    assert figures["abundance max|dcoef|"] < 1e-2 and figures["prevalence max|dcoef|"] < 1e-2
    # what is achieved (regression guards): same fits to rounding; only the Monte Carlo
    # covariance of the median comparison moves abundance p-values a little
    assert figures["abundance max|dcoef|"] < 1e-8 and figures["prevalence max|dcoef|"] < 1e-8
    assert figures["abundance max|dse|"] < 1e-8 and figures["prevalence max|dse|"] < 1e-8
    assert figures["prevalence max|log10 p ratio|"] < 1e-8
    assert figures["abundance max|log10 p ratio|"] < 0.2
    assert len(ours - theirs) <= 0.03 * len(theirs)
    # MaAsLin3's own check: the first 50 significant rows in the same order
    assert (
        sig[["feature", "metadata", "model"]].head(50).values.tolist()
        == exp[["feature", "metadata", "model"]].head(50).values.tolist()
    )
    # BH over both models together, and the joint q over features x terms: the numbers of tests
    # R used follow from its q-values (q = p * n / rank at the smallest p)
    assert res.qval_individual.notna().sum() == 1954
    assert res[res.model == "abundance"].pval_joint.notna().sum() == 1056
    j = m[m.qval_joint_R.notna()]
    np.testing.assert_allclose(j.qval_joint, j.qval_joint_R, rtol=0.5)
    pr = m[(m.model == "prevalence") & m.pval_joint_R.notna()]
    assert np.log10(pr.pval_joint / pr.pval_joint_R).abs().median() < 1e-3


def test_rules_of_the_output(run1):
    r = run1.results
    a = r[r.model == "abundance"].set_index(["feature", "name"])
    p = r[r.model == "prevalence"].set_index(["feature", "name"])
    both = a.index.intersection(p.index)
    a, p = a.loc[both], p.loc[both]
    ok = a.error.isna() & p.error.isna()
    mn = np.fmin(a.pval_individual, p.pval_individual)[ok]
    np.testing.assert_allclose(a.pval_joint[ok], stats.beta.cdf(mn, 1, 2), rtol=1e-12)  # 1 - (1 - min)^2
    only_prev = a.error.notna() & p.error.isna()
    np.testing.assert_allclose(a.pval_joint[only_prev], p.pval_individual[only_prev], rtol=1e-12)
    # the median of each abundance term is its null hypothesis; prevalence is tested against 0
    assert (p.null_hypothesis[p.error.isna()] == 0).all()
    assert a.null_hypothesis[a.error.isna()].groupby(level="name").nunique().eq(1).all()
    # errors found while fitting void the individual q-value (the flags added afterwards, as
    # MaAsLin3's warn_prevalence, keep it but exclude the row from the individual rule)
    late = r.error.isin([_maaslin3.WARN_SMALL_RE, _maaslin3.ERR_INDUCED])
    assert r.loc[r.error.notna() & ~late, "qval_individual"].isna().all()
    # MaAsLin3's significance rule
    sig = run1.significant
    assert ((sig.qval_joint <= 0.1) | ((sig.qval_individual <= 0.1) & sig.error.isna())).all()
    # the two degenerate-fit rules found in this cohort
    errs = set(r.error.dropna())
    assert _maaslin3.ERR_BASELINE in errs and _maaslin3.ERR_CONTRASTS in errs and _maaslin3.ERR_INDUCED in errs


def test_augmented_logistic_matches_statsmodels_on_stacked_data():
    import statsmodels.api as sm

    rng = np.random.default_rng(0)
    n = 300
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    eta = -0.5 + 1.2 * X[:, 1] - 0.8 * X[:, 2]
    Y = (rng.random((n, 4)) < 1 / (1 + np.exp(-eta[:, None]))).astype(float)
    Y[:, 3] = X[:, 2]  # perfectly separated by the binary covariate: only the augmentation keeps it finite
    w = (X.shape[1] - 1) / (2 * n)
    coef, se, _pval, info = _logistic.logistic_all(X, Y, augment_weight=w, epsilon=1e-10, maxit=100)
    assert info["converged"].all() and not info["boundary"].any()
    assert 3 < coef[3, 2] < 15  # finite, as MaAsLin3 intends
    # R's defaults (epsilon 1e-8, standard errors from the last IRLS weights) stay close
    c8, s8, _, _ = _logistic.logistic_all(X, Y, augment_weight=w)
    np.testing.assert_allclose(c8, coef, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(s8, se, rtol=1e-3)
    for f in range(4):
        Xs = np.vstack([X, X, X])
        ys = np.concatenate([Y[:, f], np.ones(n), np.zeros(n)])
        wt = np.concatenate([np.ones(n), np.full(2 * n, w)])
        fit = sm.GLM(ys, Xs, family=sm.families.Binomial(), var_weights=wt).fit(tol=1e-14, maxiter=200)
        np.testing.assert_allclose(coef[f], fit.params, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(se[f], fit.bse, rtol=1e-4)  # R: weights of the last IRLS step
    # without augmentation: plain logistic regression
    c0, _s0, p0, _ = _logistic.logistic_all(X, Y[:, :3], epsilon=1e-12, maxit=100)
    for f in range(3):
        fit = sm.GLM(Y[:, f], X, family=sm.families.Binomial()).fit(tol=1e-14)
        np.testing.assert_allclose(c0[f], fit.params, rtol=1e-6)
        np.testing.assert_allclose(p0[f], fit.pvalues, rtol=1e-4)


def test_masked_ols_matches_statsmodels_and_drops_aliased_columns():
    import statsmodels.api as sm

    rng = np.random.default_rng(1)
    n = 120
    g = rng.integers(0, 3, n)
    X = np.column_stack([np.ones(n), (g == 1).astype(float), (g == 2).astype(float), rng.normal(size=n)])
    Y = X @ rng.normal(size=(4, 5)) + rng.normal(size=(n, 5))
    Y[rng.random((n, 5)) < 0.3] = np.nan
    Y[g == 2, 4] = np.nan  # feature 4: level 2 absent among its rows -> aliased column
    coef, se, pval, _df, aliased = _maaslin3.masked_ols(X, Y)
    for f in range(5):
        rows = ~np.isnan(Y[:, f])
        cols = [0, 1, 3] if f == 4 else [0, 1, 2, 3]
        fit = sm.OLS(Y[rows, f], X[rows][:, cols]).fit()
        np.testing.assert_allclose(coef[f, cols], fit.params, rtol=1e-9)
        np.testing.assert_allclose(se[f, cols], fit.bse, rtol=1e-9)
        np.testing.assert_allclose(pval[f, cols], fit.pvalues, rtol=1e-7)
    assert aliased[4].tolist() == [False, False, True, False] and np.isnan(coef[4, 2])


def test_median_comparison_hand_worked():
    # identical features with tiny standard errors: the median is their coefficient, so every
    # feature at the median has p = 1 and one far away has p ~ 0
    coef = np.array([1.0, 1.0, 1.0, 1.0, 5.0])
    se = np.full(5, 0.01)
    pval = np.full(5, 0.01)
    p, med = _maaslin3.median_comparison(coef, se, pval, np.full(5, 100.0), np.ones(5, bool), np.random.default_rng(0))
    assert med == 1.0
    np.testing.assert_allclose(p[:4], 1.0)
    # the far feature hardly moves the median (cov ~ 0): t = 4 / sqrt(se^2 + pi/2 var / k)
    t = 4.0 / np.sqrt(0.01**2 + np.pi / 2 * np.var(coef, ddof=1) / 5)
    assert p[4] == pytest.approx(2 * stats.t.sf(t, 100), rel=0.05)
    # features with p >= 0.95 do not enter the median
    _p2, med2 = _maaslin3.median_comparison(
        coef,
        se,
        np.array([0.01, 0.01, 0.99, 0.99, 0.01]),
        np.full(5, np.inf),
        np.ones(5, bool),
        np.random.default_rng(0),
    )
    assert med2 == 1.0


def test_write_maaslin3_outputs(run1, tmp_path):
    paths = run1.write(tmp_path, report=True)
    all_r = pd.read_csv(paths["all_results.tsv"], sep="\t")
    sig = pd.read_csv(paths["significant_results.tsv"], sep="\t")
    assert list(all_r.columns[:15]) == _maaslin3.RESULT_COLUMNS
    assert len(sig) == len(run1.significant) and len(all_r) == len(run1.results)
    assert paths["report.html"].read_text().count("<svg") > 1


def test_bad_options(hmp2):
    data, meta, _ = hmp2
    small = data.iloc[:200, :20]
    with pytest.raises(InputError, match="AST"):
        associate(small, meta.loc[small.index], formula="~ age", model="maaslin3", transform="AST")
    with pytest.raises(InputError, match="unexpected option"):
        associate(small, meta.loc[small.index], formula="~ age", augment=False)


# ---------------------------------------------------------------------------------------------
# random intercept: MaAsLin3's two models built by hand in R (tests/r/glmer_reference.R, part 2;
# R 4.2.2, lme4 1.1-31, lmerTest 3.1-3): prevalence = glmer(binomial) on the augmented data with
# MaAsLin3's optimizer chain; abundance = lmerTest::lmer (REML) on log2 TSS of the non-zero
# values, Satterthwaite p. (name: coef, stderr, pval)
R_RE = {
    ("Faecalibacterium_prausnitzii", "prevalence"): {  # optimizer nloptwrap, no warning
        "diagnosisCD": (-1.42217824476, 1.10692623064, 0.198862364378),
        "diagnosisUC": (0.0820403715892, 1.26859455466, 0.948436522295),
        "dysbiosis_statedysbiosis_CD": (-5.04875200597, 0.736764344557, 7.25192038826e-12),
        "dysbiosis_statedysbiosis_UC": (-5.33807324456, 1.0977252168, 1.15707439272e-06),
        "antibioticsYes": (-1.45221886105, 0.494431266086, 0.00331243695242),
        "age": (-0.79849635664, 0.373750474004, 0.0326433718443),
        "reads": (0.734117933135, 0.178434219038, 3.88487959354e-05),
    },
    ("Faecalibacterium_prausnitzii", "abundance"): {
        "diagnosisCD": (-0.43507971028, 0.363823751159, 0.234460592512),
        "diagnosisUC": (0.442298787446, 0.392036474592, 0.261831940782),
        "dysbiosis_statedysbiosis_CD": (-1.9326071033, 0.255447583596, 7.15618019561e-14),
        "dysbiosis_statedysbiosis_UC": (-0.788003128763, 0.285643724719, 0.00588578066151),
        "antibioticsYes": (-0.249731649099, 0.157418749286, 0.112882898965),
        "age": (-0.561343406594, 0.147540277763, 0.000235315997585),
        "reads": (-0.16553094028, 0.0402102510897, 4.08786476136e-05),
    },
    ("Bacteroides_uniformis", "prevalence"): {  # optimizer nlminbwrap (nloptwrap warned)
        "diagnosisCD": (-1.03667551204, 1.28194030436, 0.418701018398),
        "diagnosisUC": (-0.356231770925, 1.37512514458, 0.795593519096),
        "dysbiosis_statedysbiosis_CD": (-3.49235429512, 0.584770742203, 2.34108532529e-09),
        "dysbiosis_statedysbiosis_UC": (-2.93193655423, 0.942970684415, 0.00187559604622),
        "antibioticsYes": (0.451100561781, 0.522619110739, 0.388053026513),
        "age": (0.00277339061302, 0.512793154964, 0.995684742002),
        "reads": (0.552116617183, 0.137874132535, 6.21494519197e-05),
    },
    ("Bacteroides_uniformis", "abundance"): {
        "diagnosisCD": (0.644451070925, 0.705864441526, 0.363392615342),
        "diagnosisUC": (0.198520108904, 0.76097598302, 0.794710312662),
        "dysbiosis_statedysbiosis_CD": (-2.02860867774, 0.267024804307, 6.23293365569e-14),
        "dysbiosis_statedysbiosis_UC": (-1.26039439126, 0.350372924645, 0.000335510845985),
        "antibioticsYes": (0.119326883404, 0.171880999213, 0.487670866544),
        "age": (-0.14412255183, 0.282738772206, 0.611332624817),
        "reads": (0.0530744721779, 0.045094628581, 0.239459516045),
    },
    ("Ruminococcus_bromii", "prevalence"): {  # optimizer nlminbwrap
        "diagnosisCD": (-1.66103694866, 0.956324984175, 0.0824055464111),
        "diagnosisUC": (-2.83372797379, 1.09575250038, 0.00970681387426),
        "dysbiosis_statedysbiosis_CD": (-1.91618983701, 0.563379507268, 0.000670805046467),
        "dysbiosis_statedysbiosis_UC": (-1.72225852574, 1.18790459258, 0.14710621081),
        "antibioticsYes": (-1.30695980502, 0.394075531682, 0.000911457135241),
        "age": (0.87878406567, 0.383624207071, 0.0219783426069),
        "reads": (0.233670694783, 0.107861301583, 0.0302806544692),
    },
    ("Ruminococcus_bromii", "abundance"): {
        "diagnosisCD": (-0.841015904045, 0.668987354909, 0.21417753049),
        "diagnosisUC": (-0.547135928253, 0.8033917299, 0.498847028912),
        "dysbiosis_statedysbiosis_CD": (2.21688175074, 0.687864863398, 0.00136795213045),
        "dysbiosis_statedysbiosis_UC": (-0.332683433044, 1.22935482072, 0.786839603198),
        "antibioticsYes": (0.0674170332305, 0.367673397999, 0.854607575662),
        "age": (0.30631902225, 0.273843364903, 0.268073574284),
        "reads": (-0.237810264256, 0.099251516402, 0.0170392606637),
    },
    ("Bacteroides_intestinalis", "abundance"): {  # dysbiosis_UC: no non-zero sample, column dropped (NA)
        "diagnosisCD": (-3.09296715097, 1.77741254664, 0.102607782549),
        "diagnosisUC": (-2.62953356863, 1.95395904232, 0.198218373),
        "dysbiosis_statedysbiosis_CD": (-1.62973477771, 1.27803473559, 0.204307497494),
        "antibioticsYes": (0.572422101705, 0.819263407994, 0.485818361702),
        "age": (-0.20644124625, 0.506417311794, 0.688154632373),
        "reads": (-0.205945204258, 0.214530215616, 0.338670726403),
    },
}
# Bacteroides_intestinalis prevalence: every optimizer warns (dysbiosis_UC separates presence);
# MaAsLin3 keeps Nelder_Mead's last warning as the error:
R_RE_ERROR = " Hessian is numerically singular: parameters are not uniquely determined"
RE_FORMULA = "~ diagnosis + dysbiosis_state + antibiotics + age + reads + (1|participant_id)"


@pytest.fixture(scope="module")
def run_re(hmp2):
    import time

    data, meta, _ = hmp2
    call = {**CALL, "formula": RE_FORMULA, "median_comparison_abundance": False}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = associate(data, meta, **call)
    print(f"\nMaAsLin3 with (1|participant_id), 151 features x 1,527 samples: {time.perf_counter() - t0:.1f} s")
    return res


def test_random_intercept_matches_maaslin3_models_in_r(run_re):
    r = run_re.results
    worst = {"abundance": 0.0, "prevalence": 0.0}
    for (feature, model), rows in R_RE.items():
        sub = r[(r.feature == feature) & (r.model == model)].set_index("name")
        for name, (c, s, p) in rows.items():
            row = sub.loc[name]
            if model == "abundance":  # lmer's REML optimum, reproduced (lmerTest's Satterthwaite df)
                assert row.coef == pytest.approx(c, abs=1e-4 * s) and row.stderr == pytest.approx(s, rel=1e-4)
                assert row.pval_individual == pytest.approx(p, rel=1e-3)
            else:  # glmer stops its modes' IRLS at 1e-7; the exact Laplace optimum is a little away
                assert abs(row.coef - c) < 0.05 * s and row.stderr == pytest.approx(s, rel=0.03)
                assert abs(np.log10(row.pval_individual / p)) < 0.05
            worst[model] = max(worst[model], abs(row.coef - c) / s)
            if feature != "Bacteroides_intestinalis":
                assert row.error is None
    print("max |dcoef|/se vs R:", worst)
    bi = r[r.feature == "Bacteroides_intestinalis"].set_index(["model", "name"])
    assert (bi.loc["prevalence", "error"] == R_RE_ERROR).all()
    assert np.isnan(bi.loc[("abundance", "dysbiosis_statedysbiosis_UC"), "coef"])
    assert bi.loc[("abundance", "dysbiosis_statedysbiosis_UC"), "error"] == _maaslin3.ERR_NA_P


def test_random_intercept_run_rules(run_re):
    r = run_re.results
    assert run_re.params["random_effects"] == ["participant_id"]
    assert len(r) == r.feature.nunique() * 7 * 2  # no feature filtered (min_prevalence 0)
    # lme4's checks on each feature's non-zero samples: a participant per sample is not fitted
    nlev = r.error.str.startswith("number of levels of each grouping factor", na=False)
    assert nlev.any() and r.loc[nlev, "coef"].isna().all()
    # the joint p rule and the error rules hold as without random effects
    a = r[r.model == "abundance"].set_index(["feature", "name"])
    p = r[r.model == "prevalence"].set_index(["feature", "name"])
    a, p = a.loc[p.index], p
    ok = a.error.isna() & p.error.isna()
    mn = np.fmin(a.pval_individual, p.pval_individual)[ok]
    np.testing.assert_allclose(a.pval_joint[ok], stats.beta.cdf(mn, 1, 2), rtol=1e-12)
    late = r.error.isin([_maaslin3.WARN_SMALL_RE, _maaslin3.ERR_INDUCED])
    assert r.loc[r.error.notna() & ~late, "qval_individual"].isna().all()
    # 120 participants for 1,527 samples: no small-group warning
    assert not (r.error == _maaslin3.WARN_SMALL_RE).any()
    assert len(run_re.significant) > 100


def test_random_intercept_small_groups_warning(hmp2):
    data, meta, _ = hmp2
    small = data.iloc[:300, :15]
    m = meta.loc[small.index].copy()
    m["pair"] = [f"g{i // 2}" for i in range(len(m))]  # two samples per group: < 4 on average
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = associate(
            small, m, formula="~ diagnosis + age + (1|pair)", model="maaslin3", reference={"diagnosis": "nonIBD"}
        ).results
    prev = res[res.model == "prevalence"]
    assert (prev.error.notna()).all() and (prev.error == _maaslin3.WARN_SMALL_RE).any()


def test_two_random_intercepts(hmp2):
    """(1|site_name) + (1|participant_id): the prevalence model is glmm_all's two-factor Laplace fit
    (tests/test_link_glmm.py), the abundance model lmm_all's; checked here against direct calls."""
    from gutaxis.link import _design, _glmm

    data, meta, _ = hmp2
    data = data.sort_index()  # associate fits the samples in ID order: the direct calls below too
    meta = meta.loc[data.index]
    taxa = [
        "Roseburia_intestinalis",
        "Parasutterella_excrementihominis",
        "Bacteroides_uniformis",
        "Faecalibacterium_prausnitzii",
    ]
    sub = data[taxa]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = associate(
            sub,
            meta,
            formula="~ diagnosis + age + (1|site_name) + (1|participant_id)",
            model="maaslin3",
            reference={"diagnosis": "nonIBD"},
            median_comparison_abundance=False,
        )
        des = _design.build_design(
            meta, ["diagnosis", "age"], ["site_name", "participant_id"], {"diagnosis": "nonIBD"}, True
        )
    assert res.params["random_effects"] == ["site_name", "participant_id"]
    r = res.results
    assert len(r) == len(taxa) * 3 * 2
    prev = r[r.model == "prevalence"]
    assert prev.coef.notna().all() and prev.stderr.notna().all()
    # the prevalence rows are glmm_all on the augmented presence, as with one random intercept
    tss = sub.to_numpy() / data.to_numpy().sum(axis=1, keepdims=True)
    y = (tss > 0).astype(float)
    n, p = des.X.shape
    coef, se, _pval, info = _glmm.glmm_all(des.X, y, [g[1] for g in des.groups], augment_weight=(p - 1) / (2 * n))
    assert info["theta"].shape == (len(taxa), 2) and info["converged"].all()
    for j, t in enumerate(taxa):
        rows = prev[prev.feature == t].set_index("name")
        for k, name in enumerate(des.columns[1:], start=1):
            assert rows.loc[name, "coef"] == pytest.approx(coef[j, k], rel=1e-9, abs=1e-12)
            assert rows.loc[name, "stderr"] == pytest.approx(se[j, k], rel=1e-9)
    ab = r[r.model == "abundance"]
    assert ab.coef.notna().all()
