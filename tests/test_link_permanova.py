"""PERMANOVA against vegan's adonis2 (GMHI validation cohort), scikit-bio, classical ANOVA,
explicit hat matrices and exhaustive permutation distributions."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import pdist, squareform

from gutaxis.errors import InputError
from gutaxis.link._permutations import permutation_batches
from gutaxis.link.permanova import _permanova, parse_formula, permanova


@pytest.fixture(scope="module")
def gmhi_679(shared):
    """The 679 samples of the GMHI paper (README of ../shared/reference): the 782 columns of
    validation_abundance.csv minus the OB/OW/UW samples, in the file's column order."""
    table = pd.read_csv(
        shared("data", "gmhi2020_validation", "validation_abundance.csv"), index_col=0, encoding="utf-8-sig"
    )
    meta = pd.read_csv(
        shared("data", "gmhi2020_validation", "validation_metadata.csv"), index_col=0, encoding="utf-8-sig"
    )
    excluded = meta["Phenotype_all"].astype(str).str.contains(":OB|:OW|:UW")
    ids = [s for s in table.columns if not excluded.get(s, True)]
    assert len(ids) == 679
    return table[ids].T, meta.loc[ids]


def test_equals_vegan_adonis2_on_the_gmhi_cohort(gmhi_679, shared):
    abundances, meta = gmhi_679
    ref = pd.read_csv(shared("reference", "permanova_vegan.tsv"), sep="\t", index_col=0)
    res = permanova(abundances, meta, "~ Phenotype", metric="braycurtis", permutations=999, seed=42)
    assert list(res.index) == list(ref.index) == ["Phenotype", "Residual", "Total"]
    assert (res["Df"].to_numpy() == ref["Df"].to_numpy()).all()
    np.testing.assert_allclose(res["F"].iloc[0], ref["F"].iloc[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(res["R2"].to_numpy(), ref["R2"].to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(res["SumOfSqs"].to_numpy(), ref["SumOfSqs"].to_numpy(), rtol=1e-12)
    # vegan's p = 0.001: none of its 999 permutations reached F. A true p of p0 makes that happen with
    # probability (1 - p0)^999, below 1% once p0 > 0.0046 (the one-sided 99% upper bound on p0 given vegan's
    # result). Our count is another 999 draws from the same null distribution, so p <= 0.005 (at most 4
    # exceedances) is the Monte Carlo bound; at F = 11.2 on 679 samples we expect none at all.
    assert ref["p"].iloc[0] == pytest.approx(0.001)
    assert res["p"].iloc[0] <= 0.005
    assert res.attrs["params"]["distance"] == {"input": "abundance", "metric": "braycurtis"}


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(11)
    n = 36
    X = rng.gamma(0.6, 1.0, size=(n, 25)) * (rng.random((n, 25)) < 0.6)
    X[:, 0] += 0.1
    ids = [f"s{i:02d}" for i in range(n)]
    D = pd.DataFrame(squareform(pdist(X, "braycurtis")), index=ids, columns=ids)
    meta = pd.DataFrame(
        {"g": rng.choice(["a", "b", "c"], n), "h": rng.choice(["x", "y"], n), "age": rng.normal(50, 12, n).round(1)},
        index=ids,
    )
    return D, meta


def _hat(cols, n):
    M = np.column_stack([np.ones(n), *cols])
    return M @ np.linalg.pinv(M)


def _dummies(values):
    levels = sorted(set(values))
    return [(np.asarray(values) == lv).astype(float) for lv in levels[1:]]  # R's treatment contrasts


def test_sequential_and_marginal_sums_of_squares_equal_explicit_hat_matrices(small):
    D, meta = small
    n = len(D)
    J = np.eye(n) - 1.0 / n
    G = -0.5 * J @ D.to_numpy() ** 2 @ J
    g, h, age = _dummies(meta["g"]), _dummies(meta["h"]), [meta["age"].to_numpy()]
    gh = [a * b for a in g for b in h]
    # R orders '~ g*h + age' as g, h, age, g:h
    H = [_hat([], n), _hat(g, n), _hat(g + h, n), _hat(g + h + age, n), _hat(g + h + age + gh, n)]
    ss = [np.trace((H[i + 1] - H[i]) @ G) for i in range(4)]
    res = permanova(D, meta, "~ g*h + age", permutations=0)
    assert list(res.index) == ["g", "h", "age", "g:h", "Residual", "Total"]
    assert list(res["Df"]) == [2, 1, 1, 2, 29, 35]
    np.testing.assert_allclose(res["SumOfSqs"].to_numpy()[:4], ss, rtol=1e-10)
    rss = np.trace((np.eye(n) - H[4]) @ G)
    np.testing.assert_allclose(res.at["Residual", "SumOfSqs"], rss, rtol=1e-10)
    F = (np.array(ss) / [2, 1, 1, 2]) / (rss / 29)
    np.testing.assert_allclose(res["F"].to_numpy()[:4], F, rtol=1e-10)
    assert np.isnan(res["p"]).all()

    full = _hat(g + h + age, n)
    marg = permanova(D, meta, ["g", "h", "age"], by="margin", permutations=0)
    expected = [
        np.trace((full - _hat(h + age, n)) @ G),
        np.trace((full - _hat(g + age, n)) @ G),
        np.trace((full - _hat(g + h, n)) @ G),
    ]
    np.testing.assert_allclose(marg["SumOfSqs"].to_numpy()[:3], expected, rtol=1e-10)
    # with an interaction only the interaction is marginal (vegan's drop.scope)
    assert list(permanova(D, meta, "~ g*h", by="margin", permutations=0).index) == ["g:h", "Residual", "Total"]


def test_euclidean_distances_reproduce_classical_anova_and_regression():
    rng = np.random.default_rng(5)
    x = rng.normal(size=30)
    groups = np.repeat(["a", "b", "c"], 10)
    x[groups == "b"] += 0.8
    D = squareform(pdist(x[:, None]))
    meta = pd.DataFrame({"grp": groups, "cov": rng.normal(size=30)})
    res = permanova(D, meta, "~ grp", permutations=0)
    assert res["F"].iloc[0] == pytest.approx(stats.f_oneway(*(x[groups == k] for k in "abc")).statistic, rel=1e-10)
    lr = stats.linregress(meta["cov"], x)
    t2 = (lr.slope / lr.stderr) ** 2  # F of a simple regression
    assert permanova(D, meta, "~ cov", permutations=0)["F"].iloc[0] == pytest.approx(t2, rel=1e-10)


def test_one_way_f_equals_scikit_bio(small):
    import skbio
    from skbio.stats.distance import permanova as skbio_permanova

    D, meta = small
    ref = skbio_permanova(skbio.DistanceMatrix(D.to_numpy(), ids=list(D.index)), meta["g"].to_numpy(), permutations=0)
    ours = permanova(D, meta, "~ g", permutations=0)
    assert ours["F"].iloc[0] == pytest.approx(ref["test statistic"], rel=1e-12)


def test_permuted_statistics_equal_a_refit_on_permuted_metadata(small):
    D, meta = small
    _, res = _permanova(D, meta, "~ g + age", permutations=6, seed=3)
    perms = next(permutation_batches(len(D), 6, 3, batch=6))
    for j, p in enumerate(perms):
        shuffled = meta.iloc[p].set_axis(meta.index)
        refit = permanova(D, shuffled, "~ g + age", permutations=0)
        np.testing.assert_allclose(res.F_perm[j], refit["F"].to_numpy()[:2], rtol=1e-10)


def test_p_value_agrees_with_the_exhaustive_permutation_distribution():
    # 8 samples, two groups of 4: all 8! orderings give 70 distinct splits; the exact p is a fraction of them
    rng = np.random.default_rng(2)
    pts = rng.normal(size=(8, 3))
    pts[:4] += 0.9
    D = squareform(pdist(pts))
    meta = pd.DataFrame({"grp": ["a"] * 4 + ["b"] * 4})
    F_obs = permanova(D, meta, "~ grp", permutations=0)["F"].iloc[0]
    Fs = []
    for first in itertools.combinations(range(8), 4):
        lab = np.array(["b"] * 8, dtype=object)
        lab[list(first)] = "a"
        Fs.append(permanova(D, pd.DataFrame({"grp": lab}), "~ grp", permutations=0)["F"].iloc[0])
    exact = np.mean(np.array(Fs) >= F_obs - 1e-9)
    res = permanova(D, meta, "~ grp", permutations=4999, seed=9)
    se = np.sqrt(exact * (1 - exact) / 4999)
    assert abs(res["p"].iloc[0] - exact) < 4 * se + 1 / 5000


def test_strata_keep_permutations_within_blocks(small):
    D, meta = small
    blocks = np.repeat(np.arange(6), 6)
    for perms in permutation_batches(36, 50, 1, strata=blocks, batch=17):
        assert (blocks[perms] == blocks[None, :]).all()
        assert not (perms == np.arange(36)).all()
    # a term constant within every block cannot change under within-block permutations: p = 1
    meta = meta.assign(block=blocks, site=np.where(blocks < 3, "north", "south"))
    with pytest.warns(UserWarning, match="constant within every block"):  # and says so (issue 13)
        res = permanova(D, meta, "~ site", strata="block", permutations=99, seed=1)
    assert res["p"].iloc[0] == 1.0
    free = permanova(D, meta, "~ site", permutations=99, seed=1)
    assert free["F"].iloc[0] == res["F"].iloc[0]


def test_seeded_reproducible_and_sample_order_free(small):
    D, meta = small
    a = permanova(D, meta, "~ g + h", permutations=199, seed=7)
    b = permanova(D, meta, "~ g + h", permutations=199, seed=7)
    pd.testing.assert_frame_equal(a, b)
    order = np.random.default_rng(0).permutation(len(D))
    c = permanova(D.iloc[order, order], meta.iloc[::-1], "~ g + h", permutations=0)
    np.testing.assert_allclose(c["F"].to_numpy()[:2], a["F"].to_numpy()[:2], rtol=1e-12)
    assert a.attrs["params"]["seed"] == 7 and a.attrs["n_samples"] == 36


def test_abundance_input_and_mixed_precision_agree_with_double():
    rng = np.random.default_rng(4)
    n = 1600  # mixed precision starts at 1,500 samples
    X = rng.gamma(0.4, 1.0, size=(n, 40)) * (rng.random((n, 40)) < 0.5)
    X[:, 0] += 0.05
    ids = [f"S{i}" for i in range(n)]
    table = pd.DataFrame(X, index=ids, columns=[f"t{j}" for j in range(40)])
    grp = np.where(rng.random(n) < 0.5, "case", "control")
    table.loc[grp == "case", "t1"] *= 1.6
    meta = pd.DataFrame({"grp": grp, "x": rng.normal(size=n)}, index=ids)
    mixed, rm = _permanova(table, meta, "~ grp + x", permutations=60, seed=2, metric="jaccard")
    double, rd = _permanova(table, meta, "~ grp + x", permutations=60, seed=2, metric="jaccard", precision="double")
    assert mixed.attrs["params"]["precision"] == "mixed" and double.attrs["params"]["precision"] == "double"
    pd.testing.assert_frame_equal(mixed, double.set_axis(mixed.index), check_exact=False, rtol=1e-12)
    np.testing.assert_allclose(rm.F_perm, rd.F_perm, rtol=1e-5)
    from gutaxis.measure import beta_diversity

    J = beta_diversity(table, "jaccard")
    direct = permanova(J, meta, "~ grp + x", permutations=0)
    np.testing.assert_allclose(direct["F"].to_numpy()[:2], double["F"].to_numpy()[:2], rtol=1e-12)


def test_formula_parsing():
    labels = [t.label for t in parse_formula("~ a*b*c")]
    assert labels == ["a", "b", "c", "a:b", "a:c", "b:c", "a:b:c"]
    assert [t.label for t in parse_formula("~ a:b + a")] == ["a", "a:b"]
    assert [t.label for t in parse_formula(["C(age)", "`odd name`"])] == ["C(age)", "odd name"]
    for bad in ("y ~ a", "~ log(a)", "~ a +", "~"):
        with pytest.raises(InputError):
            parse_formula(bad)


def test_categorical_coding_of_a_numeric_column(small):
    D, meta = small
    meta = meta.assign(dose=np.tile([0, 1, 2], 12))
    assert permanova(D, meta, "~ C(dose)", permutations=0)["Df"].iloc[0] == 2
    assert permanova(D, meta, "~ dose", permutations=0)["Df"].iloc[0] == 1


def test_bad_input_is_named(small):
    D, meta = small
    with pytest.raises(InputError, match=r"1 metadata row\(s\) match no sample: 'ghost'"):
        permanova(D, pd.concat([meta, meta.iloc[[0]].set_axis(["ghost"])]), "~ g", permutations=0)
    with pytest.raises(InputError, match=r"2 sample\(s\) have no metadata: 's00', 's01'"):
        permanova(D, meta.iloc[2:], "~ g", permutations=0)
    with pytest.raises(InputError, match=r"term 'g'.*single level \('a'\)"):
        permanova(D, meta.assign(g="a"), "~ g", permutations=0)
    with pytest.raises(InputError, match=r"unknown column 'gg'.*'g', 'h', 'age'"):
        permanova(D, meta, "~ gg", permutations=0)
    with pytest.raises(InputError, match=r"term 'age'.*missing for 1 sample\(s\): 's05'"):
        permanova(D, meta.assign(age=meta["age"].where(meta.index != "s05")), "~ g + age", permutations=0)
    with pytest.raises(InputError, match="aliased"):
        permanova(D, meta.assign(g2=meta["g"]), "~ g + g2", permutations=0)
    with pytest.raises(InputError, match="not symmetric"):
        bad = D.copy()
        bad.iloc[0, 1] += 0.1
        permanova(bad, meta, "~ g", permutations=0)
    with pytest.raises(InputError, match="36 samples but the metadata has 35 rows"):
        permanova(D.to_numpy(), meta.iloc[1:].reset_index(drop=True), "~ g", permutations=0)
    with pytest.raises(InputError, match="unknown strata column"):
        permanova(D, meta, "~ g", strata="nope", permutations=9)
    with pytest.raises(InputError, match="by="):
        permanova(D, meta, "~ g", by="axis")


def test_anndata_uses_its_obs():
    import anndata

    rng = np.random.default_rng(8)
    X = rng.gamma(0.5, 1.0, size=(20, 12)) + 0.01
    obs = pd.DataFrame({"grp": pd.Categorical(np.repeat(["a", "b"], 10))}, index=[f"s{i}" for i in range(20)])
    adata = anndata.AnnData(X=X, obs=obs)
    res = permanova(adata, None, "~ grp", permutations=0)
    D = squareform(pdist(X, "braycurtis"))
    assert res["F"].iloc[0] == pytest.approx(
        permanova(D, obs.reset_index(drop=True), "~ grp", permutations=0)["F"].iloc[0], rel=1e-12
    )
