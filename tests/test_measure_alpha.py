"""Alpha diversity against vegan (R), scikit-bio and hand-worked values."""

from __future__ import annotations

import math

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gutaxis.errors import InputError
from gutaxis.measure.alpha import alpha_diversity, chao1, inverse_simpson, pielou, richness, shannon, simpson


@pytest.fixture(scope="module")
def vegan(shared):
    """The 679 validation samples (samples x 576 taxa, as distributed) and vegan's indices."""
    table = pd.read_csv(
        shared("data", "gmhi2020_validation", "validation_abundance.csv"), index_col=0, encoding="utf-8-sig"
    )
    ref = pd.read_csv(shared("reference", "alpha_validation_vegan.csv"), index_col=0)
    X = table.T.loc[ref.index]
    assert X.shape == (679, 576)
    return X, ref


def test_shannon_simpson_richness_equal_vegan(vegan):
    X, ref = vegan
    res = alpha_diversity(X, ("shannon", "simpson", "richness"))
    assert list(res.index) == list(ref.index)
    for col in ("shannon", "simpson", "richness"):
        np.testing.assert_allclose(res[col].to_numpy(), ref[col].to_numpy(), rtol=0, atol=1e-9, err_msg=col)
        print(f"{col} vs vegan, 679 samples: max |diff| = {np.abs(res[col] - ref[col]).max():.3e}")


def test_derived_indices_follow_vegan_values(vegan):
    X, ref = vegan
    res = alpha_diversity(X)  # default metrics on relative abundances: chao1 left out
    np.testing.assert_allclose(res["inverse_simpson"], 1.0 / (1.0 - ref["simpson"]), rtol=1e-9)
    np.testing.assert_allclose(res["pielou"], ref["shannon"] / np.log(ref["richness"]), rtol=0, atol=1e-9)
    np.testing.assert_allclose(shannon(X, base=2), ref["shannon"] / math.log(2), rtol=0, atol=1e-9)


def test_sparse_anndata_equals_dense_dataframe(vegan):
    X, ref = vegan
    adata = anndata.AnnData(
        sp.csr_matrix(X.to_numpy()), obs=pd.DataFrame(index=X.index), var=pd.DataFrame(index=X.columns)
    )
    a = alpha_diversity(adata)
    b = alpha_diversity(X)
    pd.testing.assert_frame_equal(a, b, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(a["shannon"], ref["shannon"], rtol=0, atol=1e-9)


def test_default_metrics_without_counts_omit_chao1_and_say_so(vegan):
    X, _ = vegan
    res = alpha_diversity(X.iloc[:5])
    assert list(res.columns) == ["richness", "shannon", "simpson", "inverse_simpson", "pielou"]
    assert any("chao1 omitted" in n for n in res.attrs["notes"])


def test_chao1_requested_on_proportions_raises(vegan):
    X, _ = vegan
    with pytest.raises(InputError, match="integer counts"):
        alpha_diversity(X.iloc[:5], ("shannon", "chao1"))
    with pytest.raises(InputError, match=str(X.index[0])):
        chao1(X.iloc[:5])


def test_chao1_hand_worked():
    counts = pd.DataFrame(
        [
            [1, 1, 1, 2, 2, 3, 5, 0],  # S=7, F1=3, F2=2: 7 + 3*2/(2*3) = 8
            [1, 1, 1, 1, 7, 0, 0, 0],  # S=5, F1=4, F2=0: 5 + 4*3/(2*1) = 11
            [4, 4, 9, 0, 0, 0, 0, 0],  # no singletons: S = 3
            [1, 3, 0, 0, 0, 0, 0, 0],  # F1=1: 1*0/... = 0 -> 2
        ],
        index=["a", "b", "c", "d"],
        columns=[f"t{i}" for i in range(8)],
    )
    np.testing.assert_allclose(chao1(counts).to_numpy(), [8.0, 11.0, 3.0, 2.0], rtol=0, atol=1e-12)
    res = alpha_diversity(counts)  # integer table: chao1 is part of the default
    assert "chao1" in res.columns
    np.testing.assert_allclose(res["richness"], [7, 5, 3, 2])


def test_chao1_equals_scikit_bio():
    import skbio.diversity.alpha as skalpha

    rng = np.random.default_rng(7)
    C = rng.poisson(rng.gamma(0.3, 3.0, size=(60, 80))).astype(float)
    C[C.sum(axis=1) == 0, 0] = 1
    df = pd.DataFrame(C, index=[f"s{i}" for i in range(60)], columns=[f"t{j}" for j in range(80)])
    ours = chao1(df).to_numpy()
    ref = np.array([skalpha.chao1(row.astype(int), bias_corrected=True) for row in C])
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    ours_sh = shannon(df).to_numpy()
    np.testing.assert_allclose(ours_sh, [skalpha.shannon(row.astype(int)) for row in C], rtol=0, atol=1e-12)


def test_chao1_from_counts_layer_of_anndata():
    rng = np.random.default_rng(3)
    C = rng.poisson(2.0, size=(10, 30)).astype(float)
    C[:, 0] += 1
    P = C / C.sum(axis=1, keepdims=True)
    adata = anndata.AnnData(P, layers={"counts": sp.csr_matrix(C)})
    res = alpha_diversity(adata)
    assert res.attrs["counts_source"] == "layers['counts']"
    expected = chao1(pd.DataFrame(C)).to_numpy()
    np.testing.assert_allclose(res["chao1"].to_numpy(), expected, rtol=0, atol=1e-12)


def test_pielou_nan_for_single_taxon_with_note():
    df = pd.DataFrame([[0.0, 1.0, 0.0], [0.5, 0.25, 0.25]], index=["mono", "even"], columns=list("xyz"))
    res = alpha_diversity(df, ("richness", "pielou", "shannon", "simpson"))
    assert math.isnan(res.loc["mono", "pielou"])
    assert res.loc["mono", "shannon"] == 0.0 and res.loc["mono", "simpson"] == 0.0
    # H = -(0.5 ln 0.5 + 2 * 0.25 ln 0.25) = 1.5 ln 2 ; J = 1.5 ln2 / ln 3
    assert res.loc["even", "pielou"] == pytest.approx(1.5 * math.log(2) / math.log(3), abs=1e-15)
    assert any("'mono'" in n for n in res.attrs["notes"])
    assert pielou(df).isna().tolist() == [True, False]


def test_order_of_samples_and_taxa_does_not_matter(vegan):
    X, _ = vegan
    rng = np.random.default_rng(0)
    P = X.iloc[rng.permutation(len(X)), rng.permutation(X.shape[1])]
    a = alpha_diversity(X).sort_index()
    b = alpha_diversity(P).sort_index()
    pd.testing.assert_frame_equal(a, b, rtol=1e-12, atol=1e-12)


def test_thin_functions_return_series(vegan):
    X, ref = vegan
    for fn, col in ((shannon, "shannon"), (simpson, "simpson"), (richness, "richness")):
        s = fn(X)
        assert isinstance(s, pd.Series) and s.name == col
        np.testing.assert_allclose(s, ref[col], rtol=0, atol=1e-9)
    np.testing.assert_allclose(inverse_simpson(X.iloc[:3]), 1 / (1 - ref["simpson"].iloc[:3]), rtol=1e-9)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize(
    ("value", "match"),
    [(-0.1, "negative abundance"), (np.nan, "missing or infinite"), ("zero", "sums to zero")],
)
def test_bad_input_names_the_sample(sparse, value, match):
    X = np.array([[0.2, 0.8, 0.0], [0.1, 0.3, 0.6], [0.5, 0.5, 0.0]])
    if value == "zero":
        X[1] = 0.0
    else:
        X[1, 2] = value
    samples, taxa = ["s1", "bad_sample", "s3"], ["a", "b", "c"]
    data = (
        anndata.AnnData(sp.csr_matrix(X), obs=pd.DataFrame(index=samples), var=pd.DataFrame(index=taxa))
        if sparse
        else pd.DataFrame(X, index=samples, columns=taxa)
    )
    with pytest.raises(InputError, match=match) as err:
        alpha_diversity(data)
    assert "bad_sample" in str(err.value)


def test_unknown_metric_and_bad_base():
    df = pd.DataFrame([[1.0, 2.0]], index=["s"], columns=["a", "b"])
    with pytest.raises(InputError, match="unknown alpha diversity metric 'shanon'"):
        alpha_diversity(df, ("shanon",))
    with pytest.raises(InputError, match="base"):
        shannon(df, base=1)


# ---------------------------------------------------------------- fused validation + kernels


def _kernel_sums(kernel, bits):
    from gutaxis.measure import _kernels

    n = bits.shape[0]
    out = [
        np.empty(n),
        np.empty(n, np.int64),
        np.empty(n),
        np.empty(n),
        np.empty(n, np.int64),
        np.empty(n, np.int64),
        np.empty(n, np.int64),
        np.empty(n, np.bool_),
    ]
    if kernel == "csr":
        X = sp.csr_matrix(bits.view(np.float64))
        _kernels.alpha_sums_csr(X.indptr.astype(np.int64), X.data.view(np.uint64), 5, *out)
    else:
        getattr(_kernels, kernel)(bits, 5, *out)
    return out


@pytest.mark.parametrize("m", [1, 5, 8, 13, 64, 101])
def test_dense_kernels_agree_bit_for_bit(m):
    """Dense (C and F order) and CSR kernels: the same sums to the last bit."""
    rng = np.random.default_rng(m)
    X = rng.lognormal(size=(40, m)) * (rng.random((40, m)) < 0.3)
    X[::3] = np.floor(X[::3] * 10)  # integer rows, with singletons and doubletons
    X[:, -1] += 1.0
    X[7, 0] = -0.0  # a zero, but not +0.0: flagged, then left out like any zero
    ref = _kernel_sums("alpha_sums_dense_scalar", X.view(np.uint64))
    assert np.flatnonzero(ref[-1]).tolist() == [7]
    for kernel, bits in (
        ("alpha_sums_dense_scalar", np.asfortranarray(X).view(np.uint64)),
        ("alpha_sums_dense", X.view(np.uint64)),
        ("csr", X.view(np.uint64)),
    ):
        got = _kernel_sums(kernel, bits)
        k = len(ref)
        if kernel == "csr":  # scipy does not store -0.0, so row 7 is clean there
            assert not got[-1].any()
            k -= 1
        for a, b in zip(ref[:k], got[:k], strict=True):
            assert np.array_equal(a, b), kernel


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("col", [0, 9, 12])  # in an 8-cell block and in the tail (13 taxa)
@pytest.mark.parametrize(
    ("value", "match"),
    [
        (np.nan, "missing or infinite"),
        (np.inf, "missing or infinite"),
        (-np.inf, "missing or infinite"),
        (-1e-300, "negative abundance"),
    ],
)
def test_fused_check_names_the_cell(order, col, value, match):
    X = np.random.default_rng(0).random((6, 13)) + 0.1
    X[4, col] = value
    df = pd.DataFrame(
        np.asarray(X, order=order), index=[f"s{i}" for i in range(6)], columns=[f"t{j}" for j in range(13)]
    )
    with pytest.raises(InputError, match=match) as err:
        alpha_diversity(df)
    assert "'s4'" in str(err.value) and f"'t{col}'" in str(err.value)


@pytest.mark.parametrize("sparse", [False, True])
def test_fused_check_keeps_the_order_of_the_shared_check(sparse):
    """Missing/infinite values are reported before an earlier negative one, as check_abundance."""
    X = np.full((5, 10), 0.1)
    X[1, 2] = -1.0
    X[3, 7] = np.nan
    samples, taxa = [f"s{i}" for i in range(5)], [f"t{j}" for j in range(10)]
    data = (
        anndata.AnnData(sp.csr_matrix(X), obs=pd.DataFrame(index=samples), var=pd.DataFrame(index=taxa))
        if sparse
        else pd.DataFrame(X, index=samples, columns=taxa)
    )
    with pytest.raises(InputError, match=r"missing or infinite value for sample 's3', taxon 't7'"):
        alpha_diversity(data)


def test_bad_counts_layer_is_named():
    C = np.array([[1.0, 2.0, 0.0], [3.0, 1.0, 1.0]])
    adata = anndata.AnnData(
        C / C.sum(axis=1, keepdims=True), obs=pd.DataFrame(index=["a", "b"]), var=pd.DataFrame(index=["x", "y", "z"])
    )
    C[1, 2] = -3.0
    adata.layers["counts"] = sp.csr_matrix(C)
    with pytest.raises(InputError, match=r"layers\['counts'\]: negative abundance -3.0 for sample 'b', taxon 'z'"):
        alpha_diversity(adata, ("shannon", "chao1"))


def test_negative_zero_is_a_zero_and_input_is_not_copied_or_changed():
    from gutaxis._validation import _float64_matrix

    X = np.array([[1.0, 0.0, 2.0, 0.0, 5.0, 0.0, 1.0, 0.0, 3.0], [0.0, 4.0, 0.0, 1.0, 0.0, 2.0, 0.0, 0.0, 1.0]])
    df = pd.DataFrame(X.copy(), index=["a", "b"], columns=[f"t{j}" for j in range(9)])
    neg = df.where(df != 0.0, -0.0)
    assert np.signbit(neg.to_numpy()).sum() == 9
    pd.testing.assert_frame_equal(alpha_diversity(neg), alpha_diversity(df), rtol=0, atol=0)
    assert np.signbit(neg.to_numpy()).sum() == 9
    assert np.shares_memory(_float64_matrix(df)[0], df.to_numpy())
