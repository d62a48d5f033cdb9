"""GMHI against the authors' R script output, the published validation figures, and hand-worked values."""

from __future__ import annotations

import math
import time
import warnings

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gutaxis.errors import InputError
from gutaxis.measure.gmhi import gmhi, gmhi_species


def _read_species_table(path) -> pd.DataFrame:
    """MetaPhlAn2 merged table (species rows x sample columns, UTF-8 BOM) -> samples x species."""
    table = pd.read_csv(path, index_col=0, encoding="utf-8-sig")
    assert table.index.name == "Species" or str(table.index[0]).startswith("s__")
    return table.T


@pytest.fixture(scope="module")
def validation(shared):
    return _read_species_table(shared("data", "gmhi2020_validation", "validation_abundance.csv"))


def test_all_782_samples_equal_gmhi_r(validation, shared):
    # reference: GMHI.R run unmodified on the same file (../shared/reference/README.md)
    expected = pd.read_csv(shared("reference", "gmhi_validation_R_all782.csv"), index_col=0, na_values=["NA", "NaN"])
    assert validation.shape == (782, 576)
    got = gmhi(validation)
    assert list(got.index) == list(expected.index)
    assert expected["GMHI"].notna().all() and np.isfinite(expected["GMHI"]).all()
    diff = np.abs(got.to_numpy() - expected["GMHI"].to_numpy())
    print(f"\nGMHI vs GMHI.R, 782 samples: max |diff| = {diff.max():.3e}")
    assert diff.max() < 1e-9
    # GMHI = 0 exactly where neither a Health-prevalent nor a Health-scarce species is present
    assert ((got == 0) == (expected["GMHI"] == 0)).all()
    # what was dropped is reported with names
    reasons = {f["reason"].split(" (")[0]: f for f in got.attrs["filtered"]}
    unc = reasons["feature name contains 'unclassified'"]
    vir = reasons["feature name contains 'virus'"]
    assert unc["n"] == 35 and "s__Escherichia_unclassified" in unc["ids"]
    assert vir["n"] == 2 and set(vir["ids"]) == {
        "s__Pepper_yellow_dwarf_virus_New_Mexico",
        "s__Porcine_type_C_oncovirus",
    }
    assert got.attrs["n_markers_absent"] == 0


def test_example_25_samples_reproduce_gmhi_output(shared):
    table = _read_species_table(shared("data", "gmhi2020_validation", "species_relative_abundances.csv"))
    expected = pd.read_csv(shared("data", "gmhi2020_validation", "GMHI_output.csv"), index_col=0)
    got = gmhi(table)
    assert list(got.index) == list(expected.index)
    diff = np.abs(got - expected["GMHI"]).max()
    print(f"\nGMHI vs GMHI_output.csv, 25 samples: max |diff| = {diff:.3e}")
    assert diff < 1e-9


def test_balanced_accuracy_on_the_679_validation_samples(validation, shared):
    meta = pd.read_csv(shared("data", "gmhi2020_validation", "validation_metadata.csv"), encoding="utf-8-sig")
    # two columns are named Phenotype_all: the first (position 1) holds the detailed phenotype
    # with the :OB/:OW/:UW suffixes, the second (pandas renames it Phenotype_all.1) the study code
    assert list(meta.columns[:2]) == ["Sample_Ids", "Phenotype_all"]
    detailed = meta.iloc[:, 1].astype(str)
    paper = meta[~detailed.str.contains(":OB|:OW|:UW", regex=True)].set_index("Sample_Ids")
    assert len(paper) == 679
    healthy = (paper["Phenotype"] == "Healthy").to_numpy()
    assert healthy.sum() == 118 and (~healthy).sum() == 561
    g = gmhi(validation).loc[paper.index].to_numpy()
    # the paper's rule: GMHI > 0 healthy, GMHI < 0 non-healthy; GMHI = 0 is neither (an error both ways)
    assert (g == 0).sum() == 5
    right_h = int((g[healthy] > 0).sum())
    right_n = int((g[~healthy] < 0).sum())
    ba = (right_h / 118 + right_n / 561) / 2
    print(f"\nGMHI validation (679): healthy {right_h}/118, non-healthy {right_n}/561, BA {ba:.4f}")
    assert (right_h, right_n) == (89, 404)
    assert round(ba, 3) == 0.737


def _hand_table():
    cols = [
        "s__Bifidobacterium_adolescentis",  # MH
        "s__Bifidobacterium_catenulatum",  # MH
        "s__Alistipes_senegalensis",  # MH, below the 1e-5 threshold in sample A
        "s__Ruminococcus_gnavus",  # MN
        "s__Bacteroides_vulgatus",  # neither
        "s__Escherichia_unclassified",  # dropped
        "s__Some_virus",  # dropped
    ]
    rows = {
        "A": [0.15, 0.10, 0.000004, 0.05, 0.199996, 0.3, 0.2],  # kept total 0.5
        "B": [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0],  # no marker: GMHI 0
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=cols)


def test_hand_worked_value():
    got = gmhi(_hand_table())
    # sample A renormalised over kept features (total 0.5): 0.3, 0.2, 8e-6 (-> 0), 0.1
    h_mh = -(0.3 * math.log(0.3) + 0.2 * math.log(0.2))
    psi_mh = 2 / 7 * h_mh
    psi_mn = 1 / 31 * (-(0.1 * math.log(0.1)))
    expected_a = math.log10((psi_mh + 1e-5) / (psi_mn + 1e-5))
    assert got["A"] == pytest.approx(expected_a, abs=1e-12)
    assert got["B"] == 0.0
    assert got.attrs["markers_absent"]["MH"] == [
        "Bacteroidales bacterium ph8",
        "Bifidobacterium angulatum",
        "Lachnospiraceae bacterium 8_1_57FAA",
        "Sutterella wadsworthensis",
    ]
    assert got.attrs["n_markers_absent"] == 4 + 42
    assert got.attrs["citation"].endswith("doi:10.1038/s41467-020-18476-8")


def test_threshold_parameter_changes_what_counts_as_present():
    table = _hand_table()
    low = gmhi(table, threshold=1e-6)  # 8e-6 now counts: Alistipes present
    h_mh = -(0.3 * math.log(0.3) + 0.2 * math.log(0.2) + 8e-6 * math.log(8e-6))
    psi_mh = 3 / 7 * h_mh
    psi_mn = 1 / 31 * (-(0.1 * math.log(0.1)))
    assert low["A"] == pytest.approx(math.log10((psi_mh + 1e-5) / (psi_mn + 1e-5)), abs=1e-12)


def test_name_spellings_and_anndata_species_column(shared):
    table = _read_species_table(shared("data", "gmhi2020_validation", "species_relative_abundances.csv"))
    ref = gmhi(table)
    plain = table.copy()
    plain.columns = [c[3:].replace("_", " ") for c in table.columns]
    pd.testing.assert_series_equal(gmhi(plain), ref, check_exact=False, atol=1e-12)
    # AnnData with opaque feature IDs: var['species'] carries the name
    var = pd.DataFrame({"species": plain.columns}, index=[f"f{i}" for i in range(table.shape[1])])
    ad = anndata.AnnData(X=sp.csr_matrix(table.to_numpy()), obs=pd.DataFrame(index=table.index), var=var)
    pd.testing.assert_series_equal(gmhi(ad), ref, check_exact=False, atol=1e-12)


def test_kingdom_viruses_dropped_by_lineage_and_reported():
    table = _hand_table().drop(columns=["s__Some_virus"])
    table["s__Escherichia_phage_lambda"] = [0.2, 0.0]
    var = pd.DataFrame({"kingdom": ["Bacteria"] * 6 + ["Viruses"]}, index=table.columns)
    ad = anndata.AnnData(X=table.to_numpy(), obs=pd.DataFrame(index=table.index), var=var)
    got = gmhi(ad)
    assert got["A"] == pytest.approx(gmhi(_hand_table())["A"], abs=1e-12)
    lineage = [f for f in got.attrs["filtered"] if "kingdom" in f["reason"]]
    assert lineage and lineage[0]["ids"] == ["s__Escherichia_phage_lambda"]


def test_sparse_dense_and_order_invariance(validation):
    sub = validation.iloc[:60]
    ref = gmhi(sub)
    ad = anndata.AnnData(
        X=sp.csr_matrix(sub.to_numpy()), obs=pd.DataFrame(index=sub.index), var=pd.DataFrame(index=sub.columns)
    )
    np.testing.assert_allclose(gmhi(ad).to_numpy(), ref.to_numpy(), atol=1e-12)
    rng = np.random.default_rng(7)
    shuffled = sub.iloc[rng.permutation(len(sub)), rng.permutation(sub.shape[1])]
    np.testing.assert_allclose(gmhi(shuffled).loc[ref.index].to_numpy(), ref.to_numpy(), atol=1e-12)


def test_duplicate_spellings_of_a_marker_are_summed():
    table = pd.DataFrame(
        {"s__Bifidobacterium_adolescentis": [0.2], "Bifidobacterium adolescentis": [0.1], "s__Other_species": [0.7]},
        index=["S"],
    )
    merged = pd.DataFrame({"s__Bifidobacterium_adolescentis": [0.3], "s__Other_species": [0.7]}, index=["S"])
    assert gmhi(table)["S"] == pytest.approx(gmhi(merged)["S"], abs=1e-12)
    assert len(gmhi(table).attrs["markers_matched"]["Bifidobacterium adolescentis"]) == 2


def test_empty_sample_is_nan_and_reported():
    table = pd.DataFrame(
        {"s__Escherichia_unclassified": [1.0, 0.5], "s__Ruminococcus_gnavus": [0.0, 0.5]},
        index=["only_unclassified", "ok"],
    )
    with pytest.warns(UserWarning, match="only_unclassified"):
        got = gmhi(table)
    assert np.isnan(got["only_unclassified"]) and np.isfinite(got["ok"])
    nan_entry = next(f for f in got.attrs["filtered"] if f["what"] == "samples")
    assert nan_entry["ids"] == ["only_unclassified"]


def test_no_marker_species_warns():
    table = pd.DataFrame({"Bacteroides": [0.5], "Prevotella": [0.5]}, index=["S"])
    with pytest.warns(UserWarning, match="none of the 50 GMHI marker species"):
        got = gmhi(table)
    assert got["S"] == 0.0


def test_bad_input_names_sample_and_taxon():
    table = _hand_table()
    table.loc["B", "s__Ruminococcus_gnavus"] = -0.1
    with pytest.raises(InputError, match=r"'B'.*s__Ruminococcus_gnavus"):
        gmhi(table)
    with pytest.raises(InputError, match="expected an AnnData or a pandas DataFrame"):
        gmhi(np.ones((2, 2)))
    with pytest.raises(InputError, match="listed twice"):
        gmhi(_hand_table(), mh_species=["Ruminococcus gnavus"], mn_species=["s__Ruminococcus_gnavus"])
    with pytest.raises(InputError, match="threshold"):
        gmhi(_hand_table(), threshold=-1)


def test_species_table_has_50_cited_markers():
    table = gmhi_species()
    assert list(table.columns) == ["species", "metaphlan2_name", "group", "r_prime", "citation"]
    assert (table["group"] == "MH").sum() == 7 and (table["group"] == "MN").sum() == 43
    assert set(table.loc[table.group == "MH", "r_prime"]) == {7.0}
    assert set(table.loc[table.group == "MN", "r_prime"]) == {31.0}
    assert table["citation"].str.contains("doi:10.1038/s41467-020-18476-8", regex=False).all()


def test_speed_100k_samples_sparse():
    rng = np.random.default_rng(0)
    n, p = 100_000, 1_000
    names = gmhi_species()["metaphlan2_name"].tolist() + [f"s__Genus{i}_sp{i}" for i in range(p - 50)]
    k = 50  # 5% density; distinct columns per row: a random offset plus a stride of 20
    cols = (rng.integers(0, p, size=(n, 1)) + 20 * np.arange(k)) % p
    X = sp.csr_matrix((rng.random(n * k), np.sort(cols, axis=1).ravel(), np.arange(0, n * k + 1, k)), shape=(n, p))
    ad = anndata.AnnData(X=X, obs=pd.DataFrame(index=[f"S{i}" for i in range(n)]), var=pd.DataFrame(index=names))
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = gmhi(ad)
        best = min(best, time.perf_counter() - t0)
    print(f"\nGMHI 100,000 x 1,000 sparse: {best:.3f} s")
    assert got.notna().all()
    assert best < 2.0
