"""gutaxis.link.associate: models against statsmodels and hand-worked values; bad input."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pandas as pd
import pytest

from gutaxis.errors import InputError
from gutaxis.link import _design, _mixed, _normalize
from gutaxis.link.associate import RESULT_COLUMNS, associate, p_adjust


def _cohort(n=240, m=24, F=6, seed=0, group_sd=(0.0, 0.5, 1.0, 2.0, 0.3, 1.0)):
    rng = np.random.default_rng(seed)
    subject = np.repeat([f"s{i:02d}" for i in range(m)], n // m)
    g = np.repeat(np.arange(m), n // m)
    meta = pd.DataFrame(
        {
            "group": np.where(g % 2 == 0, "case", "control"),
            "age": rng.normal(50, 10, n),
            "subject": subject,
        },
        index=[f"S{i:03d}" for i in range(n)],
    )
    logab = (
        rng.normal(-6, 1, (n, F))
        + 0.8 * (meta["group"] == "case").to_numpy()[:, None]
        + rng.normal(size=(m, F))[g] * np.asarray(group_sd[:F])
    )
    ab = np.exp(logab)
    ab[rng.random((n, F)) < 0.2] = 0.0
    data = pd.DataFrame(ab, index=meta.index, columns=[f"Taxon {chr(65 + j)}" for j in range(F)])
    return data, meta


def test_lm_matches_statsmodels_ols():
    import statsmodels.api as sm

    data, meta = _cohort()
    res = associate(data, meta, fixed_effects=["group", "age"], min_prevalence=0.0).results
    Y = _normalize.transform(_normalize.normalize(data.to_numpy(), "TSS"), "LOG")
    X = sm.add_constant(np.column_stack([(meta["group"] == "control").astype(float), meta["age"].to_numpy()]))
    X[:, 2] = (X[:, 2] - X[:, 2].mean()) / X[:, 2].std(ddof=1)  # standardize=True
    for j, name in enumerate(_normalize.make_names(data.columns)):
        fit = sm.OLS(Y[:, j], X).fit()
        for k, (var, val) in enumerate([("group", "control"), ("age", "age")], start=1):
            row = res[(res.feature == name) & (res.metadata == var) & (res.value == val)].iloc[0]
            assert row.coef == pytest.approx(fit.params[k], rel=1e-10)
            assert row.stderr == pytest.approx(fit.bse[k], rel=1e-10)
            assert row.pval == pytest.approx(fit.pvalues[k], rel=1e-8)


def test_random_intercept_matches_statsmodels_mixedlm():
    import statsmodels.api as sm

    data, meta = _cohort()
    Y = _normalize.transform(_normalize.normalize(data.to_numpy(), "TSS"), "LOG")
    X = np.column_stack([np.ones(len(meta)), (meta["group"] == "control").astype(float), meta["age"]])
    codes = pd.factorize(meta["subject"])[0]
    coef, se, _p, _df, info = _mixed.lmm_all(X, Y, [codes])
    for j in (1, 2, 3, 5):  # clear random-intercept variance
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits = []
            for meth in ("lbfgs", "bfgs", "nm"):
                with contextlib.suppress(np.linalg.LinAlgError, ValueError):
                    fits.append(sm.MixedLM(Y[:, j], X, groups=codes).fit(reml=True, method=[meth], maxiter=5000))
        fit = max(fits, key=lambda f: f.llf)  # statsmodels' best REML fit
        np.testing.assert_allclose(coef[j], fit.fe_params, rtol=1e-4)
        # lme4's standard errors: sqrt(diag((X'V^-1 X)^-1)) at the REML variance estimates
        Z = np.eye(codes.max() + 1)[codes]
        V = fit.scale * np.eye(len(codes)) + float(np.asarray(fit.cov_re)[0, 0]) * Z @ Z.T
        np.testing.assert_allclose(se[j], np.sqrt(np.diag(np.linalg.inv(X.T @ np.linalg.solve(V, X)))), rtol=1e-4)
        assert info["gamma"][j, 0] == pytest.approx(float(np.asarray(fit.cov_re)[0, 0]) / fit.scale, rel=1e-3)


def test_two_random_intercepts_match_brute_force_reml():
    from scipy.optimize import minimize

    rng = np.random.default_rng(3)
    n = 120
    site = rng.integers(0, 4, n)
    subj = site * 10 + rng.integers(0, 6, n)  # nested in site
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = X @ [1.0, 0.5] + rng.normal(size=4)[site] * 0.7 + rng.normal(size=60)[subj] + rng.normal(size=n)
    codes = [np.unique(subj, return_inverse=True)[1], site]
    coef, se, _p, _df, _info = _mixed.lmm_all(X, y[:, None], codes)

    def dev(lg):
        H = np.eye(n)
        for g, c in zip(np.exp(lg), codes, strict=True):
            Z = np.eye(c.max() + 1)[c]
            H += g * Z @ Z.T
        Hi = np.linalg.inv(H)
        A = X.T @ Hi @ X
        b = np.linalg.solve(A, X.T @ Hi @ y)
        r = y - X @ b
        r2 = r @ Hi @ r
        return (
            np.linalg.slogdet(H)[1] + np.linalg.slogdet(A)[1] + (n - 2) * np.log(r2),
            b,
            np.linalg.inv(A) * r2 / (n - 2),
        )

    best = minimize(lambda v: dev(v)[0], [0.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-13})
    _, b, V = dev(best.x)
    np.testing.assert_allclose(coef[0], b, rtol=1e-6)
    np.testing.assert_allclose(se[0], np.sqrt(np.diag(V)), rtol=1e-5)


def test_satterthwaite_balanced_between_group_df():
    # balanced one-way design, group-level covariate: Satterthwaite df = m - 2 exactly (textbook)
    rng = np.random.default_rng(1)
    m, k = 12, 5
    g = np.repeat(np.arange(m), k)
    xg = rng.normal(size=m)
    X = np.column_stack([np.ones(m * k), xg[g]])
    y = X @ [2.0, 1.0] + rng.normal(size=m)[g] + rng.normal(size=m * k) * 0.5
    _coef, _se, _p, df, info = _mixed.lmm_all(X, y[:, None], [g])
    assert info["gamma"][0, 0] > 0
    np.testing.assert_allclose(df[0], [m - 2, m - 2], rtol=1e-6)


def test_p_adjust_matches_statsmodels():
    import statsmodels.stats.multitest as mt

    p = np.random.default_rng(0).random(50) ** 3
    for ours, theirs in [
        ("BH", "fdr_bh"),
        ("BY", "fdr_by"),
        ("holm", "holm"),
        ("hochberg", "simes-hochberg"),
        ("bonferroni", "bonferroni"),
    ]:
        np.testing.assert_allclose(p_adjust(p, ours), mt.multipletests(p, method=theirs)[1], rtol=1e-12)
    q = p_adjust(np.array([0.01, np.nan, 0.04]), "BH")
    assert np.isnan(q[1]) and q[0] == pytest.approx(0.02) and q[2] == pytest.approx(0.04)


def test_make_names_and_transforms():
    assert _normalize.make_names(["Bacteroides caccae", "1abc", "a-b", "ok_1", "if", "x", "x"]) == [
        "Bacteroides.caccae",
        "X1abc",
        "a.b",
        "ok_1",
        "if.",
        "x",
        "x.1",
    ]
    X = np.array([[0.0, 0.25], [0.5, 0.0], [0.2, 0.04]])
    L = _normalize.transform(X, "LOG")
    assert L[0, 0] == pytest.approx(np.log2(0.1)) and L[1, 1] == pytest.approx(np.log2(0.02))  # per-feature min/2
    assert _normalize.transform(X, "AST")[0, 1] == pytest.approx(np.arcsin(0.5))


def test_filtered_feature_has_a_row_saying_why():
    data, meta = _cohort()
    data["Rare one"] = 0.0
    data.iloc[:3, -1] = 1e-3
    with pytest.warns(UserWarning, match="filtered"):
        res = associate(data, meta, fixed_effects="group,age")
    r = res.results
    row = r[r.feature == "Rare.one"]
    assert len(row) == 1 and row.error.iloc[0].startswith("filtered: present") and np.isnan(row.qval.iloc[0])
    assert list(r.columns[:9]) == RESULT_COLUMNS


def test_sample_mismatch_listed_and_intersection(tmp_path):
    data, meta = _cohort()
    meta2 = pd.concat([meta.iloc[5:], pd.DataFrame({"group": ["case"], "age": [1.0], "subject": ["x"]}, index=["ZZZ"])])
    with pytest.raises(
        InputError, match=r"5 sample\(s\) have no metadata: S000.*1 metadata row\(s\) match no sample: ZZZ"
    ):
        associate(data, meta2, fixed_effects="group")
    with pytest.warns(UserWarning, match="intersection"):
        res = associate(data, meta2, fixed_effects="group", match="intersection")
    assert res.params["n_samples"] == len(data) - 5
    assert {f["what"] for f in res.filtered} >= {"samples without metadata", "metadata rows matching no sample"}
    paths = res.write(tmp_path)
    written = pd.read_csv(paths["all_results.tsv"], sep="\t")
    assert list(written.columns[:9]) == RESULT_COLUMNS


def test_bad_design_names_the_terms():
    data, meta = _cohort()
    meta["three"] = np.resize(["a", "b", "c"], len(meta))
    meta["const"] = "same"
    meta["group_copy"] = meta["group"]
    with pytest.raises(InputError, match=r"reference level 'zz' is not a level of 'group'"):
        associate(data, meta, fixed_effects="group", reference={"group": "zz"})
    with pytest.raises(InputError, match=r"'three' has 3 levels .* no reference"):
        associate(data, meta, fixed_effects="three")
    with pytest.raises(InputError, match=r"'const' has a single level"):
        associate(data, meta, fixed_effects="group,const")
    with pytest.raises(InputError, match=r"singular: group_copycontrol cannot be separated.*groupcontrol"):
        associate(data, meta, fixed_effects="group,group_copy")
    with pytest.raises(InputError, match=r"'nope' not in the metadata"):
        associate(data, meta, formula="~ group + nope")
    res = associate(data, meta, fixed_effects="three,age", reference="three,b")
    assert set(res.results.dropna(subset=["metadata"]).query("metadata == 'three'").value) == {"a", "c"}


def test_formula_and_small_random_groups_warned():
    data, meta = _cohort()
    meta.loc[meta.index[:1], "subject"] = "lonely"
    with pytest.warns(_design.RandomEffectWarning, match="single sample"):
        res = associate(data, meta, formula="~ group + age + (1|subject)")
    assert res.params["random_effects"] == ["subject"]
    assert res.results["df"].dropna().min() > 1
    with pytest.raises(InputError, match="not supported"):
        _design.parse_formula("~ log(age)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res3 = associate(data, meta, formula="~ group + (1|subject)", model="maaslin3")
    assert set(res3.results.model.dropna()) == {"abundance", "prevalence"}


def test_result_does_not_depend_on_feature_or_sample_order():
    data, meta = _cohort()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = associate(data, meta, formula="~ group + age + (1|subject)").results
        b = associate(data.iloc[::-1, ::-1], meta.iloc[::-1], formula="~ group + age + (1|subject)").results
    key = ["feature", "metadata", "value"]
    m = a.merge(b, on=key)
    np.testing.assert_allclose(m.coef_x, m.coef_y, rtol=1e-7)
    np.testing.assert_allclose(m.qval_x, m.qval_y, rtol=1e-6)


def test_metadata_of_the_wrong_kind_is_refused_by_name():
    # a list is neither a DataFrame nor a path: an InputError that says so, not an AttributeError
    import pandas as pd

    from gutaxis import associate
    from gutaxis.errors import InputError

    table = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}, index=["s1", "s2"])
    with pytest.raises(InputError, match="metadata must be a DataFrame or a path, got list"):
        associate(table, metadata=["s1", "s2"], fixed_effects="x")
