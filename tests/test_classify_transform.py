"""SIAMCAT's filters and normalisations (gutaxis.classify.transform) against hand-worked values,
SIAMCAT's documented formulas and the vignette's feature count; frozen re-application."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gutaxis.classify import AssociationSelector, FeatureFilter, Normalizer
from gutaxis.errors import InputError

# 4 samples x 5 features (relative abundances); "UNMAPPED" is SIAMCAT's unmapped-reads row
TOY = pd.DataFrame(
    [
        [0.50, 0.30, 0.0000, 0.20, 0.0],
        [0.60, 0.10, 0.0005, 0.2995, 0.0],
        [0.40, 0.40, 0.0020, 0.198, 0.0],
        [0.70, 0.05, 0.0000, 0.25, 0.0],
    ],
    index=["a", "b", "c", "d"],
    columns=["UNMAPPED", "t1", "t2", "t3", "t4"],
)


def test_abundance_filter_keeps_max_at_or_above_cutoff_and_drops_unmapped():
    f = FeatureFilter("abundance", 0.001).fit(TOY)
    # max: UNMAPPED .7 (unmapped), t1 .4, t2 .002, t3 .2995, t4 0
    assert list(f.get_feature_names_out()) == ["t1", "t2", "t3"]
    f2 = FeatureFilter("abundance", 0.002).fit(TOY)  # >= cutoff, as SIAMCAT's rowMaxs(feat) >= cutoff
    assert "t2" in f2.get_feature_names_out()
    assert list(FeatureFilter("abundance", 0.001, rm_unmapped=False).fit(TOY).get_feature_names_out()) == [
        "UNMAPPED",
        "t1",
        "t2",
        "t3",
    ]


def test_prevalence_filter_is_strictly_greater_than_cutoff():
    # prevalence: t1 1.0, t2 0.5, t3 1.0, t4 0
    assert list(FeatureFilter("prevalence", 0.5).fit(TOY).get_feature_names_out()) == ["t1", "t3"]
    assert list(FeatureFilter("prevalence", 0.49).fit(TOY).get_feature_names_out()) == ["t1", "t2", "t3"]


def test_variance_filter_uses_sample_variance():
    var = TOY.var(axis=0, ddof=1)
    cut = float(var["t3"])
    kept = FeatureFilter("variance", cut).fit(TOY).get_feature_names_out()
    assert set(kept) == {c for c in ["t1", "t2", "t3", "t4"] if var[c] >= cut}


def test_cum_abundance_hand_worked():
    # one sample: sorted ascending .05 (t3) .15 (t2) .8 (t1); cumsum .05 .2 1.0; cutoff .25 drops the
    # features whose cumulative sum stays below .25 -> t3 and t2; t1 kept
    X = pd.DataFrame([[0.8, 0.15, 0.05], [0.1, 0.1, 0.8]], columns=["t1", "t2", "t3"])
    f = FeatureFilter("cum.abundance", 0.25).fit(X.iloc[[0]])
    assert list(f.get_feature_names_out()) == ["t1"]
    # second sample keeps t3 (its dominant); union over samples
    assert list(FeatureFilter("cum.abundance", 0.25).fit(X).get_feature_names_out()) == ["t1", "t3"]


def test_filter_that_keeps_nothing_says_so():
    with pytest.raises(InputError, match="no feature is left"):
        FeatureFilter("abundance", 0.99).fit(TOY)


def _train_test():
    rng = np.random.default_rng(3)
    tr = pd.DataFrame(rng.dirichlet(np.ones(6), 12), columns=[f"t{j}" for j in range(6)])
    te = pd.DataFrame(rng.dirichlet(np.ones(6), 4), columns=tr.columns)
    tr.iloc[:, 5] = 0.0  # constant on the training samples: dropped
    return tr, te


def test_log_std_matches_siamcat_formula_and_is_frozen():
    tr, te = _train_test()
    n = Normalizer("log.std", log_n0=1e-6, sd_min_q=0.1).fit(tr)
    L = np.log10(tr.iloc[:, :5].to_numpy() + 1e-6)
    m, s = L.mean(axis=0), L.std(axis=0, ddof=1)
    q = np.quantile(s, 0.1)  # R's quantile type 7
    np.testing.assert_allclose(n.transform(tr), (L - m) / (s + q), rtol=1e-12)
    Lt = np.log10(te.iloc[:, :5].to_numpy() + 1e-6)
    np.testing.assert_allclose(n.transform(te), (Lt - m) / (s + q), rtol=1e-12)  # training parameters
    assert list(n.get_feature_names_out()) == ["t0", "t1", "t2", "t3", "t4"]
    # a single new sample is normalised on its own with the frozen parameters (SIAMCAT #44)
    np.testing.assert_allclose(n.transform(te.iloc[[2]]), ((Lt - m) / (s + q))[[2]], rtol=1e-12)


def test_log_unit_feature_margin_l2_and_sample_margin():
    tr, te = _train_test()
    L = np.log10(tr.iloc[:, :5].to_numpy() + 1e-6)
    n = Normalizer("log.unit", n_p=2, norm_margin=1).fit(tr)
    np.testing.assert_allclose(n.transform(tr), L / np.sqrt((L**2).sum(axis=0)), rtol=1e-12)
    Lt = np.log10(te.iloc[:, :5].to_numpy() + 1e-6)
    np.testing.assert_allclose(n.transform(te), Lt / np.sqrt((L**2).sum(axis=0)), rtol=1e-12)
    n2 = Normalizer("log.unit", n_p=1, norm_margin=2).fit(tr)
    np.testing.assert_allclose(n2.transform(te), Lt / Lt.sum(axis=1, keepdims=True), rtol=1e-12)
    n3 = Normalizer("log.unit", norm_margin=3).fit(tr)
    np.testing.assert_allclose(n3.transform(te), Lt / L.max(), rtol=1e-12)


def test_clr_variants():
    tr, te = _train_test()
    # SIAMCAT's log.clr: centred per feature over the training samples
    n = Normalizer("log.clr", log_n0=1e-5).fit(tr)
    L = np.log(tr.iloc[:, :5].to_numpy() + 1e-5)
    np.testing.assert_allclose(n.transform(tr).mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(n.transform(te), np.log(te.iloc[:, :5].to_numpy() + 1e-5) - L.mean(axis=0), rtol=1e-12)
    # Aitchison's clr: each sample sums to 0 over the kept features
    c = Normalizer("clr", log_n0=1e-5).fit(tr)
    np.testing.assert_allclose(c.transform(te).sum(axis=1), 0, atol=1e-10)


def test_rank_normalisations():
    X = pd.DataFrame([[0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6]], columns=["a", "b", "c"])
    ru = Normalizer("rank.unit").fit(X).transform(X)
    r0 = np.array([1, 2, 3.0])
    np.testing.assert_allclose(ru[0], r0 / np.sqrt((r0**2).sum()))
    r2 = np.array([1.5, 1.5, 3.0])  # ties: average ranks
    np.testing.assert_allclose(ru[2], r2 / np.sqrt((r2**2).sum()))
    rs = Normalizer("rank.std", sd_min_q=0.1).fit(X)
    R = np.array([[1, 2, 3], [3, 2, 1], [1.5, 1.5, 3]])
    s = R.std(axis=0, ddof=1)
    np.testing.assert_allclose(rs.transform(X), (R - R.mean(axis=0)) / (s + np.quantile(s, 0.1)))


def test_presence():
    X = pd.DataFrame([[0.0, 2e-5, 0.3], [1e-6, 0.0, 0.2], [0.5, 1e-4, 0.0]], columns=["a", "b", "c"])
    n = Normalizer("presence", detection=1e-5).fit(X)
    np.testing.assert_array_equal(n.transform(X), [[0, 1, 1], [0, 0, 1], [1, 1, 0]])


def test_pass_and_std():
    tr, te = _train_test()
    np.testing.assert_array_equal(Normalizer("pass").fit(tr).transform(te), te.to_numpy())
    z = Normalizer("std", sd_min_q=0.0000001).fit(tr).transform(tr)
    assert np.allclose(z.mean(axis=0), 0)


def test_normaliser_refuses_unknown_method_and_negative_logs():
    with pytest.raises(InputError, match="unknown normalisation"):
        Normalizer("log.foo").fit(TOY)
    with pytest.raises(InputError, match="negative"):
        Normalizer("log.std").fit(TOY - 0.5)


def test_transform_checks_features_against_fit():
    tr, te = _train_test()
    n = Normalizer().fit(tr)
    with pytest.raises(ValueError, match="feature names differ"):
        n.transform(te[list(reversed(te.columns))])
    with pytest.raises(ValueError, match="features"):
        n.transform(te.iloc[:, :4].to_numpy())


def test_association_selector_ranks_by_auc_distance_from_half():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(20, int), np.zeros(20, int)]
    X = rng.random((40, 6))
    X[:, 2] += 2 * y  # strongly up in cases
    X[:, 4] -= 2 * y  # strongly down in cases (absolute direction counts)
    sel = AssociationSelector(2).fit(X, y)
    assert set(sel.get_support(indices=True)) == {2, 4}
    with pytest.raises(InputError, match="only 6 reach"):
        AssociationSelector(10).fit(X, y)


def test_zeller_abundance_filter_leaves_207_features(shared):
    """The SIAMCAT vignette: filter.features(abundance, 0.001) leaves 207 features once UNMAPPED
    is removed (research notes §2B)."""
    from gutaxis.classify._refdata import load_siamcat_zeller

    X, y, _ = load_siamcat_zeller(shared("data", "siamcat_extdata"))
    assert X.shape == (141, 1754) and int(y.sum()) == 53
    f = FeatureFilter("abundance", 0.001).fit(X)
    assert len(f.get_feature_names_out()) == 207
    assert "UNMAPPED" not in set(f.get_feature_names_out())
