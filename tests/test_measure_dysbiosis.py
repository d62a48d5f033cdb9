"""HMP2 dysbiosis score against the published HMP2 scores and a direct (looped) reference computation."""

from __future__ import annotations

import warnings

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.spatial.distance import cdist
from scipy.stats import spearmanr

import gutaxis.measure.dysbiosis as dysbiosis_module
from gutaxis.errors import InputError
from gutaxis.measure.dysbiosis import dysbiosis_score


@pytest.fixture(scope="module")
def hmp2(shared):
    taxa = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    return taxa, meta


def _cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    po = (a == b).mean()
    pe = a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
    return (po - pe) / (1 - pe)


def test_hmp2_published_scores(hmp2):
    taxa, meta = hmp2
    # the two files hold the same 1,595 IDs in different orders; MaAsLin2 matches them by ID,
    # and so does dysbiosis_score through metadata=
    assert taxa.shape == (1595, 87) and len(meta) == 1595
    assert set(taxa.index) == set(meta.index) and not taxa.index.equals(meta.index)
    got = dysbiosis_score(taxa, reference=("diagnosis", "nonIBD"), subject="subject", metadata=meta)
    assert got.index.equals(taxa.index)
    pub = meta.loc[taxa.index]
    rho = spearmanr(got["dysbiosis_score"], pub["dysbiosis"]).correlation
    called = got["dysbiotic"].to_numpy(dtype=bool)
    published = (pub["dysbiosis_binary"] == "Yes").to_numpy()
    accuracy = (called == published).mean()
    kappa = _cohen_kappa(called, published)
    print(
        f"\nHMP2 dysbiosis (87-species table, non-IBD reference, same subject excluded): "
        f"Spearman rho {rho:.4f}, accuracy {accuracy:.4f}, Cohen kappa {kappa:.4f}, "
        f"threshold {got.attrs['threshold']:.4f}, dysbiotic {called.sum()} vs published {published.sum()}"
    )
    # measured: rho 0.9684, accuracy 0.9812, kappa 0.9337 (the table holds 87 of the species)
    assert rho >= 0.95
    assert accuracy >= 0.96
    assert kappa >= 0.925
    assert got.attrs["n_reference"] == 426
    assert got.attrs["no_eligible_reference"] == []


def _direct(X, ref, subjects, q=0.9):
    """Per-sample loop: median Bray-Curtis (renormalised rows) to eligible references."""
    P = X / X.sum(axis=1, keepdims=True)
    D = cdist(P, P[ref], "braycurtis")
    ref_ids = np.flatnonzero(ref)
    out = np.empty(len(X))
    for i in range(len(X)):
        ok = [k for k, r in enumerate(ref_ids) if subjects[r] != subjects[i]]
        out[i] = np.median(D[i, ok]) if ok else np.nan
    return out, np.quantile(out[ref][~np.isnan(out[ref])], q)


def _toy(n=40, p=15, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.gamma(0.4, size=(n, p)) * (rng.random((n, p)) < 0.7)
    X[:, 0] += 0.01  # no empty sample
    samples = [f"s{i:02d}" for i in range(n)]
    meta = pd.DataFrame(
        {
            "group": np.where(np.arange(n) % 3 == 0, "control", "case"),
            "person": [f"p{i // 2}" for i in range(n)],  # two samples per person
        },
        index=samples,
    )
    return pd.DataFrame(X, index=samples, columns=[f"t{j}" for j in range(p)]), meta


def test_matches_direct_computation_and_blocks(monkeypatch):
    table, meta = _toy()
    ref = (meta["group"] == "control").to_numpy()
    expected, thr = _direct(table.to_numpy(), ref, meta["person"].to_numpy())
    got = dysbiosis_score(table, reference=("group", "control"), subject="person", metadata=meta)
    np.testing.assert_allclose(got["dysbiosis_score"], expected, rtol=0, atol=1e-12)
    assert got.attrs["threshold"] == pytest.approx(thr, abs=1e-12)
    assert (got["dysbiotic"].to_numpy(dtype=bool) == (expected > thr)).all()
    # tiny blocks: same answer
    monkeypatch.setattr(dysbiosis_module, "_BLOCK_ELEMENTS", 7)
    small = dysbiosis_score(table, reference=("group", "control"), subject="person", metadata=meta)
    pd.testing.assert_frame_equal(small, got)


def test_reference_spec_forms_agree_and_anndata_sparse():
    table, meta = _toy()
    ref = meta["group"] == "control"
    base = dysbiosis_score(table, reference=("group", "control"), subject="person", metadata=meta)
    for spec in (ref, ref.to_numpy(), list(meta.index[ref.to_numpy()])):
        other = dysbiosis_score(table, reference=spec, subject=meta["person"])
        pd.testing.assert_frame_equal(other, base)
    ad = anndata.AnnData(X=sp.csr_matrix(table.to_numpy()), obs=meta.copy(), var=pd.DataFrame(index=table.columns))
    from_ad = dysbiosis_score(ad, reference=("group", ["control"]), subject="person")
    np.testing.assert_allclose(from_ad["dysbiosis_score"], base["dysbiosis_score"], atol=1e-12)


def test_without_subject_only_self_is_excluded():
    table, meta = _toy()
    ref = (meta["group"] == "control").to_numpy()
    expected, _ = _direct(table.to_numpy(), ref, np.arange(len(table)))
    got = dysbiosis_score(table, reference=ref)
    np.testing.assert_allclose(got["dysbiosis_score"], expected, atol=1e-12)


def test_no_eligible_reference_is_nan_with_reason():
    table, meta = _toy()
    meta = meta.copy()
    meta.loc[meta.index[:2], "group"] = "only"  # the reference: s00, s01
    meta.loc[meta.index[:4], "person"] = "solo"  # s00..s03 all from one subject
    with pytest.warns(UserWarning, match="same subject"):
        got = dysbiosis_score(
            table, reference=("group", "only"), subject="person", metadata=meta, threshold_samples=("group", "case")
        )
    nan = got.index[got["dysbiosis_score"].isna()].tolist()
    assert nan == ["s00", "s01", "s02", "s03"]
    assert got["dysbiotic"].isna().sum() == 4
    reasons = got.attrs["no_eligible_reference"]
    assert [r["sample"] for r in reasons] == nan
    assert all("same subject" in r["reason"] for r in reasons)
    assert got["dysbiosis_score"].drop(nan).notna().all()


def test_reference_without_any_score_is_an_error():
    table, meta = _toy()
    meta = meta.copy()
    meta.loc[meta.index[:2], "group"] = "only"
    with pytest.raises(InputError, match="no threshold sample has a score"):
        dysbiosis_score(table, reference=("group", "only"), subject="person", metadata=meta)


def test_threshold_samples_option():
    table, meta = _toy()
    got = dysbiosis_score(
        table,
        reference=("group", "control"),
        subject="person",
        metadata=meta,
        threshold_samples=("group", ["control", "case"]),
        threshold_quantile=0.5,
    )
    assert got.attrs["threshold"] == pytest.approx(np.quantile(got["dysbiosis_score"], 0.5), abs=1e-12)
    assert got["dysbiotic"].sum() == (got["dysbiosis_score"] > got.attrs["threshold"]).sum()


def test_bad_specs_name_the_problem():
    table, meta = _toy()
    with pytest.raises(InputError, match="unknown metadata column 'diagnosis'"):
        dysbiosis_score(table, reference=("diagnosis", "nonIBD"), metadata=meta)
    with pytest.raises(InputError, match=r"\('group', 'nonIBD'\) matches no sample"):
        dysbiosis_score(table, reference=("group", "nonIBD"), metadata=meta)
    with pytest.raises(InputError, match="sample 'nobody' is not in the table"):
        dysbiosis_score(table, reference=["s00", "nobody"])
    with pytest.raises(InputError, match="no metadata"):
        dysbiosis_score(table, reference=("group", "control"))
    with pytest.raises(InputError, match="single string"):
        dysbiosis_score(table, reference="control", metadata=meta)
    with pytest.raises(InputError, match="unknown metadata column 'subject'"):
        dysbiosis_score(table, reference=("group", "control"), subject="subject", metadata=meta)
    with pytest.raises(InputError, match="metadata has no row for sample 's39'"):
        dysbiosis_score(table, reference=("group", "control"), metadata=meta.iloc[:-1])
    with pytest.raises(InputError, match="3 values for 40 samples"):
        dysbiosis_score(table, reference=[True, False, True])
    with pytest.raises(InputError, match="threshold_quantile"):
        dysbiosis_score(table, reference=("group", "control"), metadata=meta, threshold_quantile=90)


def test_empty_sample_is_nan_not_dysbiotic():
    table, meta = _toy()
    table.iloc[5] = 0.0
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        got = dysbiosis_score(table, reference=("group", "control"), subject="person", metadata=meta)
    assert np.isnan(got.loc["s05", "dysbiosis_score"]) and pd.isna(got.loc["s05", "dysbiotic"])
    assert any(r["sample"] == "s05" and "sums to zero" in r["reason"] for r in got.attrs["no_eligible_reference"])
