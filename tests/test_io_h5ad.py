"""AnnData .h5ad: write_h5ad/read_h5ad round trip and validation of foreign files."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from test_io_roundtrip import metaphlan4_merged, proportions

import gutaxis.io as gio
from gutaxis.errors import InputError
from gutaxis.io import FilteredWarning


def test_round_trip_keeps_matrix_lineage_and_provenance(tmp_path):
    src = tmp_path / "merged.txt"
    src.write_text(metaphlan4_merged(proportions(), unclassified=np.array([0.1, 0.2, 0.0, 0.5])))
    with pytest.warns(FilteredWarning):
        cohort = gio.read_metaphlan(src)
    out = tmp_path / "cohort.h5ad"
    gio.write_h5ad(cohort, out)
    back = gio.read_profile(out)
    assert back.uns["provenance"]["detected_format"] == "h5ad"
    np.testing.assert_array_equal(np.asarray(back.X), np.asarray(cohort.X))
    assert list(back.obs_names) == list(cohort.obs_names) and list(back.var_names) == list(cohort.var_names)
    np.testing.assert_array_equal(back.obs["unclassified_fraction"], cohort.obs["unclassified_fraction"])
    assert back.var.loc["Escherichia coli", "family"] == "Enterobacteriaceae"
    prov = back.uns["provenance"]
    assert prov["reader"] == "h5ad" and len(prov["sha256"]) == 64
    assert prov["upstream"]["reader"] == "metaphlan"
    # what the first reader left out is still reported
    assert prov["filtered"] == cohort.uns["provenance"]["filtered"]


def test_foreign_h5ad_with_counts_in_x(tmp_path):
    X = np.array([[5.0, 5.0, 0.0], [1.0, 2.0, 1.0]])
    foreign = ad.AnnData(
        X=X,
        obs=pd.DataFrame(index=["a", "b"]),
        var=pd.DataFrame(index=["s__Bacteroides_uniformis", "s__Prevotella_copri", "x"]),
    )
    path = tmp_path / "foreign.h5ad"
    foreign.write_h5ad(path)
    adata = gio.read_h5ad(path)
    np.testing.assert_array_equal(adata.layers["counts"], X)
    np.testing.assert_allclose(adata.X, X / X.sum(axis=1, keepdims=True))
    assert adata.var.loc["s__Prevotella_copri", "species"] == "Prevotella copri"
    assert adata.uns["provenance"]["notes"]
    assert adata.uns["provenance"]["upstream"]["reader"] is None


@pytest.mark.parametrize("bad,message", [(-1.0, "negative abundance"), (np.nan, "missing or infinite")])
def test_foreign_h5ad_with_bad_values(tmp_path, bad, message):
    X = np.array([[0.5, 0.5], [0.2, bad]])
    path = tmp_path / "bad.h5ad"
    ad.AnnData(X=X, obs=pd.DataFrame(index=["a", "b"]), var=pd.DataFrame(index=["t1", "t2"])).write_h5ad(path)
    with pytest.raises(InputError, match=message):
        gio.read_h5ad(path)


def test_h5ad_zero_sum_sample(tmp_path):
    path = tmp_path / "zero.h5ad"
    ad.AnnData(
        X=np.array([[0.0, 0.0], [0.2, 0.8]]), obs=pd.DataFrame(index=["a", "b"]), var=pd.DataFrame(index=["t1", "t2"])
    ).write_h5ad(path)
    with pytest.raises(InputError, match="sample 'a' sums to zero"):
        gio.read_h5ad(path)


def test_not_an_h5ad(tmp_path):
    path = tmp_path / "x.h5ad"
    path.write_text("taxon\tS1\n")
    with pytest.raises(InputError, match="not an HDF5 file"):
        gio.read_h5ad(path)
