"""PERMDISP against scikit-bio (Euclidean distances, all axes), a closed form for the distance to
centroids with negative eigenvalues, and a direct refit of vegan's residual permutations."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist, squareform

from gutaxis.errors import InputError
from gutaxis.link._permutations import permutation_batches
from gutaxis.link.permdisp import permdisp


@pytest.fixture(scope="module")
def euclidean():
    rng = np.random.default_rng(2)
    pts = np.vstack([rng.normal(0, 1, (15, 3)), rng.normal(0, 2.5, (15, 3)) * [1, 0.5, 0.3]])
    groups = np.array(["a"] * 15 + ["b"] * 15)
    ids = [f"s{i}" for i in range(30)]
    return pd.DataFrame(squareform(pdist(pts)), index=ids, columns=ids), pd.Series(groups, index=ids)


def _skbio(D, groups, test):
    import skbio
    from skbio.stats.distance import permdisp as skbio_permdisp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return skbio_permdisp(
            skbio.DistanceMatrix(D.to_numpy(), ids=list(D.index)),
            groups.to_numpy(),
            test=test,
            permutations=0,
            dimensions=len(D),
        )


def test_centroid_f_equals_scikit_bio_on_euclidean_distances(euclidean):
    D, groups = euclidean
    ref = _skbio(D, groups, "centroid")
    res = permdisp(D, groups, permutations=0)
    assert pytest.approx(ref["test statistic"], rel=0, abs=1e-9) == res.F
    assert res.params["negative_axes"] == 0
    # distances to centroids in the original space
    pts_d = res.distances
    assert pts_d.index.equals(D.index) and (pts_d > 0).all()


def test_spatial_median_matches_scikit_bio(euclidean):
    D, groups = euclidean
    ref = _skbio(D, groups, "median")
    res = permdisp(D, groups, permutations=0, center="median")
    # scikit-bio stops its Weiszfeld iteration at a step of 1e-7; ours runs to 1e-12
    assert pytest.approx(ref["test statistic"], rel=1e-5) == res.F


def test_negative_eigenvalues_subtract_as_betadisper_does():
    rng = np.random.default_rng(7)
    X = rng.gamma(0.5, 1.0, size=(40, 20))
    D = squareform(pdist(X, "braycurtis"))
    g = rng.choice(["a", "b", "c"], 40)
    res = permdisp(D, g, permutations=0)
    assert res.params["negative_axes"] > 0 and (res.eigenvalues < 0).any()
    # squared distance to a group centroid in the (pseudo-)Euclidean embedding, from D alone:
    # mean_j d_ij^2 - mean_{j,k} d_jk^2 / 2 over the group
    z = []
    for i in range(40):
        idx = np.flatnonzero(g == g[i])
        z.append(np.sqrt(abs((D[i, idx] ** 2).mean() - (D[np.ix_(idx, idx)] ** 2).mean() / 2)))
    np.testing.assert_allclose(res.distances.to_numpy(), z, rtol=1e-9, atol=1e-12)
    means = pd.Series(z).groupby(g).mean()
    np.testing.assert_allclose(res.dispersion.to_numpy(), means.to_numpy(), rtol=1e-9)


def test_residual_permutations_as_permutest_betadisper(euclidean):
    D, groups = euclidean
    res = permdisp(D, groups, permutations=199, seed=4)
    z, codes = res.distances.to_numpy(), (groups == "b").to_numpy().astype(int)
    fitted = np.array([z[codes == c].mean() for c in (0, 1)])[codes]
    resid = z - fitted
    F0 = res.F
    count = 0
    # the permutations are drawn over the samples in ID order (s0, s1, s10, ...) and mapped back
    order = np.argsort(np.asarray(D.index, dtype=object), kind="stable")
    for pi in next(permutation_batches(30, 199, 4, batch=199)):  # refit lm(resid[p] ~ group) directly
        p = np.empty_like(pi)
        p[order] = order[pi]
        y = resid[p]
        Xd = np.column_stack([np.ones(30), codes])
        beta, *_ = np.linalg.lstsq(Xd, y, rcond=None)
        f = Xd @ beta
        mss, rss = ((f - f.mean()) ** 2).sum(), ((y - f) ** 2).sum()
        count += round(mss / (rss / 28), 12) >= round(F0, 12)
    assert res.p == pytest.approx((count + 1) / 200)
    # the larger spread of group b is detected; identical spreads are not
    assert res.p < 0.05 and res.dispersion["b"] > res.dispersion["a"]
    rng = np.random.default_rng(1)
    same = squareform(pdist(rng.normal(size=(40, 3))))
    assert permdisp(same, np.repeat(["x", "y"], 20), permutations=199, seed=1).p > 0.05


def test_grouping_by_metadata_column_and_bad_input(euclidean):
    D, groups = euclidean
    meta = pd.DataFrame({"grp": groups}).iloc[::-1]
    a = permdisp(D, "grp", metadata=meta, permutations=0)
    b = permdisp(D, groups, permutations=0)
    assert a.F == b.F
    with pytest.raises(InputError, match="single level"):
        permdisp(D, pd.Series("a", index=D.index), permutations=0)
    with pytest.raises(InputError, match=r"missing for 1 sample\(s\): 's3'"):
        permdisp(D, groups.where(groups.index != "s3"), permutations=0)
    with pytest.raises(InputError, match="unknown column 'nope'"):
        permdisp(D, "nope", metadata=meta, permutations=0)
    with pytest.raises(InputError, match="center="):
        permdisp(D, groups, center="mode")
