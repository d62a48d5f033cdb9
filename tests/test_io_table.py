"""Plain CSV/TSV tables: the real GMHI validation table, header variants, separators, errors."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

import gutaxis.io as gio
from gutaxis.errors import InputError


def test_gmhi_validation_table(shared):
    path = shared("data", "gmhi2020_validation", "validation_abundance.csv")
    adata = gio.read_table(path)
    assert adata.shape == (782, 576)
    prov = adata.uns["provenance"]
    assert prov["orientation"] == "samples-as-columns"  # species as rows, detected
    assert prov["id_column"] == "Species"  # the UTF-8 byte-order mark is not part of the name
    assert prov["separator"] == ","
    assert adata.obs_names[0] == "SAMEA2582018" and adata.var_names[0] == "s__Abiotrophia_defectiva"
    # independent reference: pandas, then each sample divided by its total
    ref = pd.read_csv(path, index_col=0, encoding="utf-8-sig")
    expected = (ref / ref.sum(axis=0)).T
    np.testing.assert_allclose(adata.X, expected.to_numpy(), rtol=1e-12, atol=1e-15)
    assert list(adata.var_names) == list(ref.index) and list(adata.obs_names) == list(ref.columns)
    assert "counts" not in adata.layers  # percentages are not counts
    assert adata.var.loc["s__Abiotrophia_defectiva", "species"] == "Abiotrophia defectiva"
    assert adata.var.loc["s__Abiotrophia_defectiva", "genus"] == "Abiotrophia"
    assert adata.uns["provenance"]["filtered"] == []  # nothing left out of a plain table


def test_gmhi_validation_table_through_read_profile(shared):
    path = shared("data", "gmhi2020_validation", "validation_abundance.csv")
    adata = gio.read_profile(path, metadata=shared("data", "gmhi2020_validation", "validation_metadata.csv"))
    assert adata.shape == (782, 576)
    assert adata.uns["provenance"]["detected_format"] == "table"
    assert adata.obs["Phenotype"].value_counts()["Healthy"] == 118
    assert adata.uns["provenance"]["metadata"]["n_matched"] == 782


def test_classic_biom_tsv_with_taxonomy_column(tmp_path):
    path = tmp_path / "otu_table.txt"
    path.write_text(
        "# Constructed from biom file\n"
        "#OTU ID\tS1\tS2\ttaxonomy\n"
        "otu1\t10\t0\tk__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Bacteroidaceae; "
        "g__Bacteroides; s__uniformis\n"
        "otu2\t5\t5\tk__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Ruminococcaceae; "
        "g__Faecalibacterium; s__prausnitzii\n"
    )
    adata = gio.read_table(path)
    assert list(adata.obs_names) == ["S1", "S2"] and list(adata.var_names) == ["otu1", "otu2"]
    np.testing.assert_allclose(adata.layers["counts"], [[10, 5], [0, 5]])
    np.testing.assert_allclose(adata.X, [[10 / 15, 5 / 15], [0, 1]])
    assert adata.var.loc["otu1", "species"] == "Bacteroides uniformis"
    assert adata.var.loc["otu2", "family"] == "Ruminococcaceae"


def test_semicolon_separated_gzip_table(tmp_path):
    path = tmp_path / "table.csv.gz"
    path.write_bytes(gzip.compress(b"sample;Bacteroides uniformis;Prevotella copri\nA;1;3\nB;2;2\n"))
    adata = gio.read_profile(path)
    assert adata.uns["provenance"]["separator"] == ";"
    assert list(adata.obs_names) == ["A", "B"]
    np.testing.assert_allclose(adata.X, [[0.25, 0.75], [0.5, 0.5]])


def test_metaphlan_like_table_with_taxid_column(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("clade_id\tNCBI_tax_id\tS1\tS2\ns__A_b\t1\t1\t2\ns__C_d\t2\t3\t2\n")
    adata = gio.read_table(path)
    assert list(adata.obs_names) == ["S1", "S2"]
    assert adata.uns["provenance"]["annotation_columns"] == ["NCBI_tax_id"]


def test_r_write_table_header_without_id_name(tmp_path):
    # R's write.table(): the header names the columns only; every row starts with its row name
    path = tmp_path / "r_style.tsv"
    path.write_text('"Bacteroides_uniformis"\t"Prevotella_copri"\n"CSM1"\t0.2\t0.8\n"CSM2"\t0.5\t0.5\n')
    adata = gio.read_table(path)
    assert list(adata.obs_names) == ["CSM1", "CSM2"]
    assert list(adata.var_names) == ["Bacteroides_uniformis", "Prevotella_copri"]
    assert adata.var.loc["Prevotella_copri", "genus"] == "Prevotella"
    np.testing.assert_allclose(adata.X, [[0.2, 0.8], [0.5, 0.5]])


def test_real_r_style_table(shared):
    path = shared("data", "maaslin3_hmp2", "HMP2_taxonomy.tsv")
    first = path.read_text().splitlines()[:2]
    n_taxa = len(first[0].split("\t"))
    assert len(first[1].split("\t")) == n_taxa + 1  # the R layout this test is about
    adata = gio.read_table(path)
    assert adata.uns["provenance"]["orientation"] == "samples-as-rows"
    assert adata.n_vars == n_taxa and adata.obs_names[0] == "CSM5FZ3N_P"


@pytest.mark.parametrize(
    "content,message",
    [
        ("taxon\tS1\tS2\nA b\t1\t\nC d\t1\t1\n", r"missing value '' for row 'A b', column 'S2' \(line 2\)"),
        ("taxon\tS1\tS2\nA b\t1\tx\nC d\t1\t1\n", r"non-numeric value 'x' for row 'A b', column 'S2'"),
        ("taxon\tS1\tS2\nA b\t1\t-2\nC d\t1\t1\n", r"negative abundance -2.0 for sample 'S2', taxon 'A b'"),
        ("taxon\tS1\tS1\nA b\t1\t2\n", r"duplicate column name 'S1'"),
        ("taxon\tS1\tS2\nA b\t1\t2\nA b\t1\t1\n", r"duplicate taxon ID 'A b'"),
        ("taxon\tS1\tS2\nA b\t0\t2\nC d\t0\t1\n", r"sample 'S1' sums to zero"),
        ("taxon\tS1\tS2\nA b\t1\t2\t7\n", r"line 2 has more fields than the header"),
        ("taxon\tS1\tS2\n\t1\t2\n", r"row at line 2 has an empty ID"),
        ("taxon S1 S2\nA 1 2\n", r"cannot find the column separator"),
        ("taxon\tS1\tS2\nA b\t1\tinf\n", r"missing or infinite value for sample 'S2', taxon 'A b'"),
    ],
)
def test_bad_cells_name_file_row_and_column(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        gio.read_table(path)
    assert str(path) in str(info.value) and info.value.hint


def test_unknown_orientation(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("taxon\tS1\nA b\t1\n")
    with pytest.raises(InputError, match="unknown orientation"):
        gio.read_table(path, orientation="rows")


def test_hierarchy_in_a_plain_table_is_flagged(tmp_path, caplog):
    path = tmp_path / "mpa.csv"
    path.write_text("clade,S1\nk__Bacteria,100\nk__Bacteria|p__Firmicutes,100\n")
    with caplog.at_level("WARNING", logger="gutaxis.io"):
        adata = gio.read_table(path)
    assert adata.n_vars == 2  # kept as given...
    assert "several ranks" in adata.uns["provenance"]["notes"][0]  # ...and said
    assert any("several ranks" in r.message for r in caplog.records)
