"""Healthy-reference percentiles against scipy, JSON round trips, and the one-call index table."""

from __future__ import annotations

import json

import anndata
import numpy as np
import pandas as pd
import pytest
from scipy.stats import percentileofscore

from gutaxis.errors import InputError
from gutaxis.measure.gmhi import gmhi
from gutaxis.measure.reference import HealthyReference, build_reference, health_indices, percentiles


def _indices(n=200, seed=11):
    rng = np.random.default_rng(seed)
    samples = [f"S{i:03d}" for i in range(n)]
    table = pd.DataFrame(
        {
            "GMHI": rng.normal(0, 1, n).round(1),  # rounded: many ties
            "shannon": rng.gamma(3, 1, n),
            "label": ["x"] * n,  # not numeric: skipped
        },
        index=samples,
    )
    meta = pd.DataFrame({"status": np.where(rng.random(n) < 0.4, "healthy", "ill")}, index=samples)
    return table, meta


def test_percentiles_equal_scipy_percentileofscore_mean():
    table, meta = _indices()
    ref = build_reference(indices=table, healthy=("status", "healthy"), metadata=meta)
    assert ref.n_samples == int((meta["status"] == "healthy").sum())
    assert ref.params["skipped_columns"] == ["label"]
    rng = np.random.default_rng(5)
    queries = pd.DataFrame(
        {
            "GMHI": np.r_[rng.normal(0, 1.5, 50).round(1), np.nan, 99.0, -99.0],
            "shannon": np.r_[rng.gamma(3, 1, 50), 1.0, 1e9, 0.0],
            "other": 0.0,
        }
    )
    got = percentiles(queries, ref)
    assert list(got.columns) == ["GMHI", "shannon"] and got.attrs["no_reference"] == ["other"]
    healthy = table.loc[meta["status"] == "healthy"]
    for col in ("GMHI", "shannon"):
        expected = [np.nan if np.isnan(x) else percentileofscore(healthy[col], x, kind="mean") for x in queries[col]]
        np.testing.assert_allclose(got[col].to_numpy(), expected, rtol=0, atol=1e-12)
    assert got["GMHI"].iloc[-2] == 100.0 and got["GMHI"].iloc[-1] == 0.0


def test_json_round_trip(tmp_path):
    table, meta = _indices()
    table.loc["S000", "shannon"] = np.nan  # dropped from the reference, counted
    ref = build_reference(indices=table, healthy=list(meta.index[:80]), source="toy cohort")
    assert ref.params["n_nan_dropped"] == {"shannon": 1}
    path = ref.to_json(tmp_path / "ref.json")
    back = HealthyReference.from_json(path)
    assert back.n_samples == 80 and back.source == "toy cohort"
    assert back.indices == ref.indices
    for k in ref.values:
        np.testing.assert_array_equal(back.values[k], ref.values[k])
    pd.testing.assert_frame_equal(percentiles(table, back), percentiles(table, ref))


def test_user_json_is_validated(tmp_path):
    good = {
        "format": "gutaxis.HealthyReference",
        "format_version": 1,
        "n_samples": 3,
        "source": "mine",
        "indices": {"GMHI": [0.5, -1.0, 2.0]},
    }
    p = tmp_path / "mine.json"
    p.write_text(json.dumps(good))
    ref = HealthyReference.from_json(p)
    np.testing.assert_array_equal(ref.values["GMHI"], [-1.0, 0.5, 2.0])  # sorted on load
    bad = dict(good, indices={"GMHI": [0.5, None]})
    p.write_text(json.dumps(bad))
    with pytest.raises(InputError, match=r"mine\.json.*'GMHI': value None"):
        HealthyReference.from_json(p)
    p.write_text(json.dumps(dict(good, format="something else")))
    with pytest.raises(InputError, match="not a gutaxis healthy reference"):
        HealthyReference.from_json(p)
    p.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        HealthyReference.from_json(p)
    with pytest.raises(InputError, match="file not found"):
        HealthyReference.from_json(tmp_path / "missing.json")


def test_healthy_selection_errors_name_the_problem():
    table, meta = _indices()
    with pytest.raises(InputError, match="unknown metadata column 'diagnosis'"):
        build_reference(indices=table, healthy=("diagnosis", "healthy"), metadata=meta)
    with pytest.raises(InputError, match=r"\('status', 'Healthy'\) matches no sample.*'healthy'"):
        build_reference(indices=table, healthy=("status", "Healthy"), metadata=meta)
    with pytest.raises(InputError, match="sample 'X1' is not in the table"):
        build_reference(indices=table, healthy=["S001", "X1"])
    with pytest.raises(InputError, match="metadata has no row for sample 'S199'"):
        build_reference(indices=table, healthy=("status", "healthy"), metadata=meta.iloc[:-1])
    with pytest.raises(InputError, match="none of the indices"):
        percentiles(pd.DataFrame({"other": [1.0]}), build_reference(indices=table))


def test_health_indices_and_reference_from_a_cohort(shared):
    taxa = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    ad = anndata.AnnData(X=taxa.to_numpy(), obs=meta.loc[taxa.index], var=pd.DataFrame(index=taxa.columns))
    table = health_indices(ad)
    assert table.index.equals(taxa.index)
    np.testing.assert_allclose(table["GMHI"], gmhi(taxa), atol=1e-12)
    for col in ("shannon", "richness", "bifidobacterium", "faecalibacterium_prausnitzii", "enterobacteriaceae"):
        assert col in table.columns
    assert "gmhi" in table.attrs and "panels" in table.attrs
    ref = build_reference(ad, healthy=("diagnosis", "nonIBD"))
    assert ref.n_samples == 426 and "GMHI" in ref.indices and "shannon" in ref.indices
    pct = percentiles(table, ref)
    assert ((pct >= 0) & (pct <= 100)).all().all()
    # the non-IBD samples sit in the middle of their own reference on average
    assert abs(pct.loc[meta.loc[taxa.index, "diagnosis"].eq("nonIBD").to_numpy(), "GMHI"].mean() - 50) < 1e-9


def test_genus_level_table_gets_nan_gmhi_with_note():
    table = pd.DataFrame({"Bacteroides": [0.5, 0.2], "Bifidobacterium": [0.5, 0.8]}, index=["a", "b"])
    out = health_indices(table)
    assert out["GMHI"].isna().all()
    assert any("GMHI set to NaN" in n for n in out.attrs["notes"])
    assert out["bifidobacterium"].tolist() == pytest.approx([0.5, 0.8])


def test_reference_repr_is_a_summary_not_the_values():
    from gutaxis.measure import HealthyReference

    ref = HealthyReference(
        values={"GMHI": np.linspace(-2, 2, 5000), "shannon": np.ones(5000)}, n_samples=5000, source="test cohort"
    )
    text = repr(ref)
    assert text == "HealthyReference(n_samples=5000, indices=[GMHI, shannon], source='test cohort')"


def test_health_indices_can_write_into_obs(shared):
    import gutaxis
    from gutaxis.measure import health_indices

    adata = gutaxis.read_profile(shared("data", "gmwi2_example", "SRR1761667_metaphlan.txt"))
    before = list(adata.obs.columns)
    table = health_indices(adata, inplace=True)
    assert list(adata.obs.columns) == before + list(table.columns)
    assert adata.obs["GMHI"].iloc[0] == pytest.approx(table["GMHI"].iloc[0])
    with pytest.warns(UserWarning, match="replaced"):
        health_indices(adata, inplace=True)
    with pytest.raises(InputError, match="AnnData"):
        health_indices(adata.to_df(), inplace=True)
