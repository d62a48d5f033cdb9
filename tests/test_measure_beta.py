"""Bray-Curtis and Jaccard against scipy.spatial.distance and hand-worked values."""

from __future__ import annotations

import warnings

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.spatial.distance import cdist, pdist, squareform

from gutaxis.errors import InputError
from gutaxis.measure.beta import (
    beta_blocks,
    beta_diversity,
    bray_curtis,
    bray_curtis_cross,
    cross_blocks,
    cross_distance,
    jaccard,
)


def _random_sparse(n, m, seed, density=0.1, scale=1.0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, m, density=density, format="csr", random_state=rng, data_rvs=lambda k: rng.lognormal(0, 2, k))
    X = X.toarray() * scale
    X[X.sum(axis=1) == 0, rng.integers(m)] = 1.0  # no empty sample here (tested separately)
    return pd.DataFrame(X, index=[f"s{i}" for i in range(n)], columns=[f"t{j}" for j in range(m)])


def _ref(df, metric):
    X = df.to_numpy()
    if metric == "jaccard":
        return squareform(pdist(X > 0, "jaccard"))
    return squareform(pdist(X, "braycurtis"))


@pytest.fixture(scope="module")
def validation(shared):
    table = pd.read_csv(
        shared("data", "gmhi2020_validation", "validation_abundance.csv"), index_col=0, encoding="utf-8-sig"
    )
    return table.T  # 782 samples x 576 taxa, values as distributed


def test_hand_worked():
    df = pd.DataFrame([[1.0, 2.0, 0.0], [0.0, 2.0, 3.0]], index=["x", "y"], columns=list("abc"))
    # BC = (1 + 0 + 3) / (1 + 4 + 3) = 0.5 ; Jaccard = 1 - |{b}| / |{a, b, c}| = 2/3
    assert bray_curtis(df).loc["x", "y"] == pytest.approx(0.5, abs=1e-15)
    assert jaccard(df).loc["y", "x"] == pytest.approx(2 / 3, abs=1e-15)
    assert bray_curtis(df).loc["x", "x"] == 0.0


@pytest.mark.parametrize("metric", ["braycurtis", "jaccard"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_sparse_equals_scipy(metric, seed):
    df = _random_sparse(150, 60, seed, density=[0.05, 0.2, 0.6][seed], scale=[1.0, 1e-3, 50.0][seed])
    ref = _ref(df, metric)
    D = beta_diversity(df, metric)
    assert list(D.index) == list(df.index) and list(D.columns) == list(df.index)
    np.testing.assert_allclose(D.to_numpy(), ref, rtol=0, atol=1e-12)
    adata = anndata.AnnData(
        sp.csr_matrix(df.to_numpy()), obs=pd.DataFrame(index=df.index), var=pd.DataFrame(index=df.columns)
    )
    np.testing.assert_allclose(beta_diversity(adata, metric).to_numpy(), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("metric", ["braycurtis", "jaccard"])
def test_gmhi_validation_table_equals_scipy(validation, metric):
    D = beta_diversity(validation, metric)
    np.testing.assert_allclose(D.to_numpy(), _ref(validation, metric), rtol=0, atol=1e-12)


def test_normalize_divides_by_sample_totals():
    df = _random_sparse(40, 30, 5, density=0.3, scale=100.0)
    P = df.div(df.sum(axis=1), axis=0)
    np.testing.assert_allclose(bray_curtis(df, normalize=True).to_numpy(), _ref(P, "braycurtis"), rtol=0, atol=1e-12)
    assert not np.allclose(bray_curtis(df).to_numpy(), _ref(P, "braycurtis"))  # as given != normalised


@pytest.mark.parametrize("metric", ["braycurtis", "jaccard"])
def test_blocks_and_memmap_equal_in_memory(tmp_path, validation, metric):
    data = validation.iloc[:300]
    full = beta_diversity(data, metric).to_numpy()
    for bs in (1, 37, 300, 1000):
        stacked = np.vstack([block.copy() for _, block in beta_blocks(data, metric, bs)])
        np.testing.assert_array_equal(stacked, full)
    slices = [sl for sl, _ in beta_blocks(data, metric, 128)]
    assert slices == [slice(0, 128), slice(128, 256), slice(256, 300)]
    mm = beta_diversity(data, metric, out=tmp_path / "d.npy", block_size=41)
    assert isinstance(mm, np.memmap) and mm.shape == (300, 300) and mm.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(mm), full)
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy"), full)
    mm32 = beta_diversity(data, metric, out=tmp_path / "d32.npy", dtype="float32", block_size=64)
    assert mm32.dtype == np.float32
    np.testing.assert_allclose(np.asarray(mm32, dtype=float), full, rtol=0, atol=1e-7)


@pytest.mark.parametrize("metric", ["braycurtis", "jaccard"])
def test_sample_order_does_not_matter(validation, metric):
    data = validation.iloc[:250]
    perm = np.random.default_rng(11).permutation(len(data))
    a = beta_diversity(data, metric)
    b = beta_diversity(data.iloc[perm], metric)
    np.testing.assert_array_equal(b.loc[a.index, a.columns].to_numpy(), a.to_numpy())


def test_single_thread_equals_parallel():
    df = _random_sparse(120, 40, 9)
    np.testing.assert_array_equal(bray_curtis(df, n_jobs=1).to_numpy(), bray_curtis(df).to_numpy())


def test_cross_distance_equals_scipy_cdist_with_taxa_aligned_by_name(validation):
    a = validation.iloc[:70]
    b = validation.iloc[100:260]
    D = cross_distance(a, b, block_size=16)
    assert D.shape == (70, 160) and list(D.columns) == list(b.index)
    np.testing.assert_allclose(D.to_numpy(), cdist(a.to_numpy(), b.to_numpy(), "braycurtis"), rtol=0, atol=1e-12)
    J = cross_distance(a, b, "jaccard")
    np.testing.assert_allclose(J.to_numpy(), cdist(a.to_numpy() > 0, b.to_numpy() > 0, "jaccard"), rtol=0, atol=1e-12)
    # b with other taxa, in another order: missing taxa count as zero
    b2 = b.iloc[:, ::-1].iloc[:, 50:]
    b2 = b2.assign(extra_taxon=0.01)
    union_a = a.reindex(columns=[*a.columns, "extra_taxon"], fill_value=0.0)
    union_b = b2.reindex(columns=union_a.columns, fill_value=0.0)
    ref = cdist(union_a.to_numpy(), union_b.to_numpy(), "braycurtis")
    np.testing.assert_allclose(bray_curtis_cross(a, b2).to_numpy(), ref, rtol=0, atol=1e-12)
    rows = np.vstack([blk.copy() for _, blk in cross_blocks(a, b2, "braycurtis", 9)])
    np.testing.assert_allclose(rows, ref, rtol=0, atol=1e-12)


def test_empty_samples_follow_vegan():
    df = pd.DataFrame(
        [[0.0, 0.0, 0.0], [0.2, 0.8, 0.0], [0.0, 0.0, 0.0]], index=["e1", "full", "e2"], columns=list("abc")
    )
    with pytest.warns(UserWarning, match="'e1'"):
        D = bray_curtis(df)
    assert np.isnan(D.loc["e1", "e2"]) and np.isnan(D.loc["e2", "e1"])
    assert D.loc["e1", "full"] == 1.0 and D.loc["e1", "e1"] == 0.0
    ref = squareform(pdist(df.to_numpy(), "braycurtis"))  # scipy agrees for Bray-Curtis
    np.testing.assert_array_equal(np.isnan(D.to_numpy()), np.isnan(ref))
    with pytest.warns(UserWarning):
        J = jaccard(df)
    assert np.isnan(J.loc["e1", "e2"]) and J.loc["e2", "full"] == 1.0


def test_no_warning_without_empty_samples():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bray_curtis(_random_sparse(10, 5, 1))


@pytest.mark.parametrize(("value", "match"), [(-1.0, "negative abundance"), (np.inf, "missing or infinite")])
def test_bad_input_names_the_sample(value, match):
    df = _random_sparse(5, 4, 2)
    df.iloc[3, 1] = value
    with pytest.raises(InputError, match=match) as err:
        bray_curtis(df)
    assert "'s3'" in str(err.value)
    with pytest.raises(InputError, match="'s3'"):
        cross_distance(df.iloc[:2], df)


def test_bad_arguments():
    df = _random_sparse(5, 4, 2)
    with pytest.raises(InputError, match="unknown beta diversity metric"):
        beta_diversity(df, "euclid")
    with pytest.raises(InputError, match="dtype"):
        beta_diversity(df, dtype=np.int32)
    with pytest.raises(InputError, match="block_size"):
        beta_blocks(df, "braycurtis", 0)  # raised on the call, not at the first block
    with pytest.raises(InputError, match="negative"):
        cross_blocks(df.abs(), -df, "braycurtis")
    with pytest.raises(InputError, match="DataFrame"):
        bray_curtis(df.to_numpy())


def test_the_default_pseudocount_is_accepted_in_any_case_and_others_refused_off_aitchison():
    # "multiplicative" is the default of every metric; its spelling must not turn it into an error
    import pandas as pd

    from gutaxis import beta_diversity
    from gutaxis.errors import InputError

    t = pd.DataFrame({"a": [60, 0], "b": [30, 50], "c": [10, 50]}, index=["s1", "s2"])
    d = beta_diversity(t, "braycurtis", pseudocount="Multiplicative")
    assert d.loc["s1", "s2"] == pytest.approx(0.6)  # (0.6 + 0.2 + 0.4) / 2, by hand
    with pytest.raises(InputError, match="does not use one"):
        beta_diversity(t, "braycurtis", pseudocount=0.5)
