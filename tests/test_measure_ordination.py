"""PCoA against scikit-bio and against configurations with known coordinates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist, squareform

from gutaxis.errors import InputError
from gutaxis.measure.ordination import pcoa


@pytest.fixture(scope="module")
def bray(shared):
    table = pd.read_csv(
        shared("data", "gmhi2020_validation", "validation_abundance.csv"), index_col=0, encoding="utf-8-sig"
    )
    X = table.T.iloc[:200]
    return pd.DataFrame(squareform(pdist(X.to_numpy(), "braycurtis")), index=X.index, columns=X.index)


def _align_signs(ours: np.ndarray, ref: np.ndarray) -> np.ndarray:
    signs = np.sign(np.sum(ours * ref, axis=0))
    return ours * signs


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_equals_scikit_bio_up_to_axis_sign(bray):
    import skbio
    from skbio.stats import ordination

    ref = ordination.pcoa(skbio.DistanceMatrix(bray.to_numpy(), ids=list(bray.index)), dimensions=4)
    res = pcoa(bray, n_components=4)
    assert list(res.index) == list(bray.index) and list(res.columns) == ["PC1", "PC2", "PC3", "PC4"]
    S = ref.samples.to_numpy()
    np.testing.assert_allclose(_align_signs(res.to_numpy(), S), S, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.attrs["eigenvalues"], ref.eigvals.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(res.attrs["proportion_explained"], ref.proportion_explained.to_numpy(), rtol=1e-10)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_scikit_bio_distance_matrix_is_taken_with_its_ids(bray):
    import skbio
    from skbio.stats import ordination

    dm = skbio.DistanceMatrix(bray.to_numpy(), ids=list(bray.index))
    ref = ordination.pcoa(dm, dimensions=3)
    res = pcoa(dm, n_components=3)
    assert list(res.index) == list(bray.index)  # the DistanceMatrix's ids, not 0..n-1
    S = ref.samples.to_numpy()
    np.testing.assert_allclose(_align_signs(res.to_numpy(), S), S, rtol=0, atol=1e-9)


def test_bray_curtis_negative_eigenvalues_are_reported(bray):
    res = pcoa(bray, n_components=3)
    assert res.attrs["min_eigenvalue"] < 0  # Bray-Curtis is not Euclidean
    assert any("not Euclidean" in n for n in res.attrs["notes"])
    # proportions are relative to the sum of all eigenvalues (negatives included) = trace(B)
    D2 = bray.to_numpy() ** 2
    n = len(D2)
    J = np.eye(n) - 1.0 / n
    B = -0.5 * J @ D2 @ J
    w = np.linalg.eigvalsh(B)
    assert res.attrs["total_inertia"] == pytest.approx(w.sum(), rel=1e-10)
    assert res.attrs["min_eigenvalue"] == pytest.approx(w.min(), rel=1e-8)
    np.testing.assert_allclose(res.attrs["proportion_explained"], w[::-1][:3] / w.sum(), rtol=1e-10)


def test_euclidean_configuration_is_recovered():
    rng = np.random.default_rng(4)
    pts = rng.normal(size=(30, 3)) * [5.0, 2.0, 0.5]
    D = squareform(pdist(pts))
    res = pcoa(D, n_components=3)
    # coordinates reproduce all distances; no negative eigenvalue beyond round-off
    np.testing.assert_allclose(squareform(pdist(res.to_numpy())), D, rtol=0, atol=1e-9)
    assert res.attrs["min_eigenvalue"] > -1e-9 * res.attrs["eigenvalues"][0]
    assert sum(res.attrs["proportion_explained"]) == pytest.approx(1.0, abs=1e-12)
    # first axis has the largest variance: points centred, variance = eigenvalue / 1
    np.testing.assert_allclose(np.sum(res.to_numpy() ** 2, axis=0), res.attrs["eigenvalues"], rtol=1e-10)
    assert list(res.index) == list(range(30))


def test_known_two_point_and_square_layouts():
    res = pcoa(np.array([[0.0, 2.0], [2.0, 0.0]]), n_components=1)
    np.testing.assert_allclose(np.sort(res["PC1"].to_numpy()), [-1.0, 1.0], atol=1e-12)
    # unit square: centred coordinates +-0.5 on two axes, eigenvalue = 4 * 0.25 = 1 each, then 0
    sq = squareform(pdist(np.array([[0, 0], [0, 1], [1, 1], [1, 0]], dtype=float)))
    res = pcoa(sq, n_components=3)
    np.testing.assert_allclose(res.attrs["eigenvalues"], [1.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(squareform(pdist(res[["PC1", "PC2"]].to_numpy())), sq, atol=1e-12)
    assert (res["PC3"] == 0).all()
    assert any("PC3" in n for n in res.attrs["notes"])


def test_sign_is_deterministic_and_order_independent(bray):
    sub = bray.iloc[:80, :80]
    perm = np.random.default_rng(1).permutation(80)
    a = pcoa(sub, 2)
    b = pcoa(sub.iloc[perm, perm], 2)
    np.testing.assert_allclose(b.loc[a.index].to_numpy(), a.to_numpy(), rtol=0, atol=1e-9)


def test_bad_input():
    good = squareform(pdist(np.arange(12.0).reshape(4, 3)))
    labels = ["a", "b", "c", "d"]
    with pytest.raises(InputError, match="square"):
        pcoa(good[:3])
    bad = good.copy()
    bad[0, 2] += 0.5
    with pytest.raises(InputError, match="not symmetric"):
        pcoa(pd.DataFrame(bad, index=labels, columns=labels))
    nan = good.copy()
    nan[1, 3] = nan[3, 1] = np.nan
    with pytest.raises(InputError, match="'b' and 'd'"):
        pcoa(pd.DataFrame(nan, index=labels, columns=labels))
    with pytest.raises(InputError, match="labels differ"):
        pcoa(pd.DataFrame(good, index=labels, columns=labels[::-1]))
    with pytest.raises(InputError, match="n_components"):
        pcoa(good, n_components=5)


def test_an_abundance_table_needs_a_metric_and_is_refused_fast(shared):
    """Issue 13 case 12: pcoa(adata) ran 95 s and 1 GB before a raw numpy error."""
    import time

    import gutaxis

    adata = gutaxis.read_profile(shared("data", "gmwi2_example", "SRR1761667_metaphlan.txt"))
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="metric='braycurtis'"):
        pcoa(adata)
    assert time.perf_counter() - t0 < 1.0
    with pytest.raises(InputError, match="already a distance matrix"):
        pcoa(pd.DataFrame(np.zeros((3, 3)), index=list("abc"), columns=list("abc")), metric="braycurtis")


def test_pcoa_of_a_table_equals_pcoa_of_its_scipy_distances(shared):
    table = pd.read_csv(
        shared("data", "gmhi2020_validation", "validation_abundance.csv"), index_col=0, encoding="utf-8-sig"
    ).T.iloc[:120]
    table = table.loc[:, (table > 0).any()]
    D = pd.DataFrame(squareform(pdist(table.to_numpy(), "braycurtis")), index=table.index, columns=table.index)
    want = pcoa(D, n_components=3)
    got = pcoa(table, n_components=3, metric="braycurtis")
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), atol=1e-9)
    assert list(got.index) == list(table.index)
