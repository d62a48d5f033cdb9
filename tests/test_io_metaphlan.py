"""MetaPhlAn 2/3/4 reader: single-sample files, merged tables, lists of files, ranks."""

from __future__ import annotations

import numpy as np
import pytest

import gutaxis.io as gio
from gutaxis.errors import InputError
from gutaxis.io import FilteredWarning

MPA4_SINGLE = """#mpa_vJun23_CHOCOPhlAnSGB_202307
#/usr/bin/metaphlan sample.fq --input_type fastq -o sample_profile.txt
#48211 reads processed
#SampleID\tMetaphlan_Analysis
#clade_name\tNCBI_tax_id\trelative_abundance\tadditional_species
UNCLASSIFIED\t-1\t20.0\t
k__Bacteria\t2\t80.0\t
k__Bacteria|p__Firmicutes\t2|1239\t50.0\t
k__Bacteria|p__Bacteroidota\t2|976\t30.0\t
k__Bacteria|p__Firmicutes|c__Clostridia\t2|1239|186801\t50.0\t
k__Bacteria|p__Bacteroidota|c__Bacteroidia\t2|976|200643\t30.0\t
k__Bacteria|p__Firmicutes|c__Clostridia|o__Eubacteriales\t2|1239|186801|186802\t50.0\t
k__Bacteria|p__Bacteroidota|c__Bacteroidia|o__Bacteroidales\t2|976|200643|171549\t30.0\t
k__Bacteria|p__Firmicutes|c__Clostridia|o__Eubacteriales|f__Oscillospiraceae\t2|1239|186801|186802|216572\t35.0\t
k__Bacteria|p__Firmicutes|c__Clostridia|o__Eubacteriales|f__Lachnospiraceae\t2|1239|186801|186802|186803\t15.0\t
k__Bacteria|p__Bacteroidota|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae\t2|976|200643|171549|815\t30.0\t
k__Bacteria|p__Firmicutes|c__Clostridia|o__Eubacteriales|f__Oscillospiraceae|g__Faecalibacterium\t2|1239|186801|186802|216572|216851\t35.0\t
k__Bacteria|p__Firmicutes|c__Clostridia|o__Eubacteriales|f__Lachnospiraceae|g__Lachnospiraceae_unclassified\t2|1239|186801|186802|186803|\t15.0\t
k__Bacteria|p__Bacteroidota|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae|g__Bacteroides\t2|976|200643|171549|815|816\t30.0\t
k__Bacteria|p__Firmicutes|c__Clostridia|o__Eubacteriales|f__Oscillospiraceae|g__Faecalibacterium|s__Faecalibacterium_prausnitzii\t2|1239|186801|186802|216572|216851|853\t35.0\t
k__Bacteria|p__Firmicutes|c__Clostridia|o__Eubacteriales|f__Lachnospiraceae|g__Lachnospiraceae_unclassified|s__Lachnospiraceae_bacterium\t2|1239|186801|186802|186803||1898203\t15.0\t
k__Bacteria|p__Bacteroidota|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae|g__Bacteroides|s__Bacteroides_uniformis\t2|976|200643|171549|815|816|820\t20.0\t
k__Bacteria|p__Bacteroidota|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae|g__Bacteroides|s__Bacteroides_GGB1234_SGB5678\t2|976|200643|171549|815|816|\t10.0\t
k__Bacteria|p__Firmicutes|c__Clostridia|o__Eubacteriales|f__Oscillospiraceae|g__Faecalibacterium|s__Faecalibacterium_prausnitzii|t__SGB15316\t2|1239|186801|186802|216572|216851|853|\t25.0\t
k__Bacteria|p__Firmicutes|c__Clostridia|o__Eubacteriales|f__Oscillospiraceae|g__Faecalibacterium|s__Faecalibacterium_prausnitzii|t__SGB15317\t2|1239|186801|186802|216572|216851|853|\t10.0\t
k__Bacteria|p__Firmicutes|c__Clostridia|o__Eubacteriales|f__Lachnospiraceae|g__Lachnospiraceae_unclassified|s__Lachnospiraceae_bacterium|t__SGB4700\t2|1239|186801|186802|186803||1898203|\t15.0\t
k__Bacteria|p__Bacteroidota|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae|g__Bacteroides|s__Bacteroides_uniformis|t__SGB1836\t2|976|200643|171549|815|816|820|\t20.0\t
k__Bacteria|p__Bacteroidota|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae|g__Bacteroides|s__Bacteroides_GGB1234_SGB5678|t__SGB5678\t2|976|200643|171549|815|816||\t10.0\t
"""

MPA2_TWO_COLUMNS = """k__Bacteria\t100.0
k__Bacteria|p__Firmicutes\t60.0
k__Bacteria|p__Bacteroidetes\t40.0
k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|g__Faecalibacterium|s__Faecalibacterium_prausnitzii\t60.0
k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|g__Faecalibacterium|s__Faecalibacterium_prausnitzii|t__GCF_000162015\t60.0
k__Bacteria|p__Bacteroidetes|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae|g__Bacteroides|s__Bacteroides_unclassified\t40.0
"""

MPA2_MERGED = """ID\tA_profile\tB_profile
#SampleID\tMetaphlan2_Analysis\tMetaphlan2_Analysis
k__Bacteria\t100.0\t100.0
k__Bacteria|p__Firmicutes\t70.0\t10.0
k__Bacteria|p__Bacteroidetes\t30.0\t90.0
k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|g__Faecalibacterium|s__Faecalibacterium_prausnitzii\t70.0\t10.0
k__Bacteria|p__Bacteroidetes|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae|g__Bacteroides|s__Bacteroides_uniformis\t30.0\t90.0
"""


def _read(*args, **kw):
    with pytest.warns(FilteredWarning):
        return gio.read_metaphlan(*args, **kw)


# ----------------------------------------------------------------------------- real file


def _species_from_file(path):
    """Independent reading of a single-sample MetaPhlAn 3 profile: species rows and UNKNOWN."""
    species, unknown, n_rows = {}, None, 0
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        n_rows += 1
        clade, _taxid, value = line.split("\t")[:3]
        if clade == "UNKNOWN":
            unknown = float(value)
        elif clade.split("|")[-1].startswith("s__"):
            species[clade.split("|")[-1][3:].replace("_", " ")] = float(value)
    return species, unknown, n_rows


def test_real_metaphlan3_profile(shared):
    path = shared("data", "gmwi2_example", "SRR1761667_metaphlan.txt")
    species, unknown, n_rows = _species_from_file(path)
    assert len(species) == 54 and unknown == pytest.approx(70.84224)
    adata = _read(path)
    assert adata.shape == (1, len(species))
    assert list(adata.obs_names) == ["SRR1761667_metaphlan"]  # file stem: #SampleID is the default label
    assert adata.obs["unclassified_fraction"].iloc[0] == pytest.approx(unknown / 100, abs=1e-15)
    got = dict(zip(adata.var_names, np.asarray(adata.X)[0], strict=True))
    assert set(got) == set(species)
    total = sum(species.values())  # one denominator: the reads classified at species level
    for name, pct in species.items():
        assert got[name] == pytest.approx(pct / total, rel=1e-12)
    assert np.asarray(adata.X).sum() == pytest.approx(1.0, abs=1e-12)
    # classified species plus unknown cover the whole sample (the share before closure is kept)
    assert adata.uns["provenance"]["rank_total"]["SRR1761667_metaphlan"] == pytest.approx(total / 100, rel=1e-12)
    assert total / 100 + unknown / 100 == pytest.approx(1.0, abs=1e-6)
    prov = adata.uns["provenance"]
    assert prov["metaphlan_database"] == "mpa_v30_CHOCOPhlAn_201901"
    assert prov["reader"] == "metaphlan" and prov["params"] == {"rank": "species"}
    filtered = {e["what"]: e for e in prov["filtered"]}
    assert filtered["unclassified row"]["ids"] == ["UNKNOWN"]
    assert filtered["rows at other ranks"]["n"] == n_rows - len(species) - 1
    assert "counts" not in adata.layers
    var = adata.var.loc["Faecalibacterium prausnitzii"]
    assert (var["genus"], var["family"], var["rank"]) == ("Faecalibacterium", "Ruminococcaceae", "species")
    # MetaPhlAn's "unclassified" genus of this species is no genus name
    assert np.isnan(adata.var.loc["Eubacterium rectale", "genus"])


def test_real_profile_at_genus_rank(shared):
    path = shared("data", "gmwi2_example", "SRR1761667_metaphlan.txt")
    genera = [
        line.split("\t")[0]
        for line in path.read_text().splitlines()
        if not line.startswith("#") and line.split("\t")[0].split("|")[-1].startswith("g__")
    ]
    adata = _read(path, rank="genus")
    assert adata.n_vars == len(genera)
    assert (adata.var["rank"].isin(["genus", "family", "order", "class", "phylum"])).all()
    assert "Faecalibacterium" in adata.var_names
    assert adata.uns["provenance"]["params"]["rank"] == "genus"


# ------------------------------------------------------------------------ MetaPhlAn 4


def test_metaphlan4_single_sample_species_and_sgb(tmp_path):
    path = tmp_path / "sample_profile.txt"
    path.write_text(MPA4_SINGLE)
    species = _read(path)
    assert list(species.obs_names) == ["sample_profile"]  # suffix kept as given
    assert list(species.var_names) == [
        "Faecalibacterium prausnitzii",
        "Lachnospiraceae bacterium",
        "Bacteroides uniformis",
        "Bacteroides GGB1234 SGB5678",
    ]
    np.testing.assert_allclose(np.asarray(species.X)[0], np.array([0.35, 0.15, 0.20, 0.10]) / 0.80)  # of classified
    assert species.obs["unclassified_fraction"].iloc[0] == pytest.approx(0.20)
    assert species.uns["provenance"]["filtered"][0]["ids"] == ["UNCLASSIFIED"]
    strains = _read(path, rank="strain")
    assert list(strains.var_names) == ["SGB15316", "SGB15317", "SGB4700", "SGB1836", "SGB5678"]
    assert strains.var.loc["SGB15316", "species"] == "Faecalibacterium prausnitzii"
    np.testing.assert_allclose(np.asarray(strains.X).sum(), 1.0)
    assert strains.uns["provenance"]["rank_total"]["sample_profile"] == pytest.approx(0.80)


def test_metaphlan4_read_stats_counts(tmp_path):
    text = """#mpa_vJun23_CHOCOPhlAnSGB_202307
#SampleID\tMetaphlan_Analysis
#clade_name\tclade_taxid\trelative_abundance\tcoverage\testimated_number_of_reads_from_the_clade
UNCLASSIFIED\t-1\t10.0\t-\t1000
k__Bacteria\t2\t90.0\t5.0\t9000
k__Bacteria|p__Firmicutes|c__Bacilli|o__Lactobacillales|f__Lactobacillaceae|g__Lactobacillus|s__Lactobacillus_rhamnosus\t2|1|2|3|4|5|6\t60.0\t3.0\t6000
k__Bacteria|p__Firmicutes|c__Bacilli|o__Lactobacillales|f__Lactobacillaceae|g__Lactobacillus|s__Lactobacillus_gasseri\t2|1|2|3|4|5|7\t30.0\t2.0\t3000
"""
    path = tmp_path / "reads.tsv"
    path.write_text(text)
    adata = _read(path)
    np.testing.assert_allclose(np.asarray(adata.layers["counts"])[0], [6000, 3000])
    np.testing.assert_allclose(np.asarray(adata.X)[0], [0.6 / 0.9, 0.3 / 0.9])  # of the classified 90 %


# ------------------------------------------------------------------------ MetaPhlAn 2


def test_metaphlan2_two_columns_without_header(tmp_path):
    path = tmp_path / "S9.txt"
    path.write_text(MPA2_TWO_COLUMNS)
    adata = _read(path)
    assert list(adata.obs_names) == ["S9"]
    assert list(adata.var_names) == ["Faecalibacterium prausnitzii", "Bacteroides unclassified"]
    np.testing.assert_allclose(np.asarray(adata.X)[0], [0.6, 0.4])
    assert "unclassified_fraction" not in adata.obs  # MetaPhlAn 2 has no unclassified row
    # the "unclassified" species keeps its genus
    assert adata.var.loc["Bacteroides unclassified", "genus"] == "Bacteroides"
    assert np.isnan(adata.var.loc["Bacteroides unclassified", "species"])


def test_metaphlan2_sample_id_header_names_the_sample(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("#SampleID\tpatient_7\n" + MPA2_TWO_COLUMNS)
    assert list(_read(path).obs_names) == ["patient_7"]


def test_metaphlan2_merged_table(tmp_path):
    path = tmp_path / "merged.txt"
    path.write_text(MPA2_MERGED)
    adata = _read(path)
    assert list(adata.obs_names) == ["A_profile", "B_profile"]
    np.testing.assert_allclose(np.asarray(adata.X), [[0.7, 0.3], [0.1, 0.9]])
    assert adata.uns["provenance"]["layout"] == "merged"


def test_detects_metaphlan_without_version_line(tmp_path):
    for name, text in (("two.txt", MPA2_TWO_COLUMNS), ("merged.txt", MPA2_MERGED)):
        path = tmp_path / name
        path.write_text(text)
        assert gio.detect_format(path)[0] == "metaphlan"


# --------------------------------------------------------------------------- lists


def test_list_of_single_sample_files(tmp_path):
    a = tmp_path / "A_metaphlan_bugs_list.tsv"
    a.write_text(MPA4_SINGLE)
    b = tmp_path / "B_profile.txt"
    b.write_text(_same_database(MPA2_TWO_COLUMNS))
    adata = _read([a, b])
    assert list(adata.obs_names) == ["A_metaphlan_bugs_list", "B_profile"]
    X = dict(zip(adata.var_names, np.asarray(adata.X).T, strict=True))
    np.testing.assert_allclose(X["Faecalibacterium prausnitzii"], [0.35 / 0.80, 0.60])  # A: of its 80 % classified
    np.testing.assert_allclose(X["Bacteroides uniformis"], [0.20 / 0.80, 0.0])  # absent from B: 0
    np.testing.assert_allclose(X["Bacteroides unclassified"], [0.0, 0.40])
    assert adata.obs["unclassified_fraction"].iloc[0] == pytest.approx(0.20)
    assert np.isnan(adata.obs["unclassified_fraction"].iloc[1])  # B had no unclassified row
    prov = adata.uns["provenance"]
    assert prov["source"] == [str(a), str(b)] and len(prov["sha256"]) == 2
    # read_profile reads a list the same way
    with pytest.warns(FilteredWarning):
        same = gio.read_profile([a, b])
    np.testing.assert_array_equal(np.asarray(same.X), np.asarray(adata.X))


def _same_database(text: str) -> str:
    return text.replace("o__Clostridiales|f__Ruminococcaceae", "o__Eubacteriales|f__Oscillospiraceae").replace(
        "p__Bacteroidetes", "p__Bacteroidota"
    )


def test_same_name_under_two_lineages_keeps_both(tmp_path, caplog):
    a, b = tmp_path / "A.txt", tmp_path / "B.txt"
    a.write_text(MPA4_SINGLE)
    b.write_text(MPA2_TWO_COLUMNS)  # older taxonomy: Ruminococcaceae, Bacteroidetes
    with caplog.at_level("WARNING", logger="gutaxis.io"):
        adata = _read([a, b])
    fp = [v for v in adata.var_names if "Faecalibacterium_prausnitzii" in v]
    assert len(fp) == 2 and all(v.startswith("k__Bacteria|") for v in fp)
    assert (adata.var.loc[fp, "species"] == "Faecalibacterium prausnitzii").all()
    assert any("several lineages" in r.message for r in caplog.records)


def test_list_with_the_same_sample_twice(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    a, b = tmp_path / "one" / "S.txt", tmp_path / "two" / "S.txt"
    a.write_text(MPA2_TWO_COLUMNS)
    b.write_text(MPA2_TWO_COLUMNS)
    with pytest.raises(InputError, match="sample 'S' occurs in"):
        gio.read_metaphlan([a, b])


# -------------------------------------------------------------------------- errors


def test_percentages_above_100_are_refused(tmp_path):
    path = tmp_path / "counts.txt"
    path.write_text(
        MPA2_MERGED.replace("70.0\t10.0", "700.0\t10.0").replace(
            "s__Faecalibacterium_prausnitzii\t70.0", "s__Faecalibacterium_prausnitzii\t700.0"
        )
    )
    with pytest.raises(InputError, match=r"sums to .*% at rank 'species'.*read_table"):
        gio.read_metaphlan(path)


def test_rank_without_rows(tmp_path):
    path = tmp_path / "phyla.txt"
    path.write_text("k__Bacteria\t100\nk__Bacteria|p__Firmicutes\t100\n")
    with pytest.raises(InputError, match=r"no rows at rank 'species' \(ranks present: kingdom, phylum\)"):
        gio.read_metaphlan(path)


def test_not_a_clade_row(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text(MPA2_TWO_COLUMNS + "Bacteroides\t3\n")
    with pytest.raises(InputError, match=r"row 'Bacteroides' \(line 7\) is not a MetaPhlAn clade"):
        gio.read_metaphlan(path)


def test_all_unclassified_sample(tmp_path):
    path = tmp_path / "empty_sample.txt"
    path.write_text(
        "#SampleID\tMetaphlan_Analysis\n#clade_name\tNCBI_tax_id\trelative_abundance\t"
        "additional_species\nUNKNOWN\t-1\t100.0\t\nk__Bacteria\t2\t0.0\t\n"
        "k__Bacteria|p__F|c__C|o__O|f__F|g__G|s__G_s\t2|1|2|3|4|5|6\t0.0\t\n"
    )
    with pytest.raises(InputError, match="no abundance at rank 'species'"):
        gio.read_metaphlan(path)


def test_unknown_rank():
    with pytest.raises(InputError, match="unknown rank"):
        gio.read_metaphlan("whatever.txt", rank="subspecies")
