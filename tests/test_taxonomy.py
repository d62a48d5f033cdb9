"""Taxonomy: lineage parsing, name normalisation, rank collapse, the 2020 Lactobacillus split."""

from __future__ import annotations

import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest

import gutaxis
import gutaxis.io as gio
from gutaxis.errors import InputError
from gutaxis.io import FilteredWarning
from gutaxis.taxonomy import (
    RANKS,
    collapse,
    current_name,
    is_lactobacillus_group,
    lactobacillus_group,
    normalize_name,
    parse_lineage,
    synonyms,
)

# ----------------------------------------------------------------------- normalize_name


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("s__Faecalibacterium_prausnitzii", "Faecalibacterium prausnitzii"),
        ("[Ruminococcus] gnavus", "Ruminococcus gnavus"),
        ("s__[Ruminococcus]_gnavus", "Ruminococcus gnavus"),
        ("g__Blautia", "Blautia"),
        ("D_5__Lachnospiraceae NK4A136 group", "Lachnospiraceae NK4A136 group"),
        ("  Bacteroides   sp.  D2 ", "Bacteroides sp. D2"),
        ("s__Bacteroides_sp._D2", "Bacteroides sp. D2"),
        ("k__Bacteria|p__Firmicutes|g__Roseburia", "Roseburia"),
        ("k__Bacteria; p__Firmicutes; g__", "Firmicutes"),
        (None, ""),
        ("", ""),
    ],
)
def test_normalize_name(raw, expected):
    assert normalize_name(raw) == expected


def test_normalize_name_is_idempotent():
    for raw in ("s__[Eubacterium]_rectale", "Bacteroides sp. D2", "t__SGB15316"):
        once = normalize_name(raw)
        assert normalize_name(once) == once


# ------------------------------------------------------------------------ parse_lineage


def test_parse_metaphlan_lineage():
    frame = parse_lineage(
        [
            "k__Bacteria|p__Firmicutes|c__Clostridia|o__Eubacteriales|f__Oscillospiraceae|"
            "g__Faecalibacterium|s__Faecalibacterium_prausnitzii|t__SGB15316"
        ]
    )
    row = frame.iloc[0]
    assert list(row[list(RANKS)]) == [
        "Bacteria",
        "Firmicutes",
        "Clostridia",
        "Eubacteriales",
        "Oscillospiraceae",
        "Faecalibacterium",
        "Faecalibacterium prausnitzii",
        "SGB15316",
    ]
    assert (row["taxon"], row["rank"]) == ("SGB15316", "strain")
    assert list(frame.columns) == [*RANKS, "taxon", "rank", "lineage"]


def test_parse_greengenes_silva_gtdb_and_plain():
    frame = parse_lineage(
        pd.Series(
            {
                "gg": "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Bacteroidaceae; "
                "g__Bacteroides; s__uniformis",
                "silva": "D_0__Bacteria;D_1__Firmicutes;D_2__Clostridia;D_3__Clostridiales;D_4__Ruminococcaceae;"
                "D_5__Faecalibacterium;D_6__uncultured bacterium",
                "gtdb": "d__Bacteria;p__Firmicutes_A;c__Clostridia;o__Lachnospirales;f__Lachnospiraceae;g__;s__",
                "plain": "Bacteria;Proteobacteria;Gammaproteobacteria",
                "name": "Akkermansia muciniphila",
                "plain_word": "ASV_00017",
                "mpa_unclassified": "k__Bacteria|p__Firmicutes|c__Firmicutes_unclassified",
                "mpa2_noname": "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|"
                "g__Ruminococcaceae_noname",
                "unassigned": "Unassigned",
            }
        )
    )
    assert frame.loc["gg", "species"] == "Bacteroides uniformis"  # epithet joined to its genus
    assert frame.loc["silva", "genus"] == "Faecalibacterium" and pd.isna(frame.loc["silva", "species"])
    assert frame.loc["gtdb", "family"] == "Lachnospiraceae" and pd.isna(frame.loc["gtdb", "genus"])
    assert (frame.loc["gtdb", "taxon"], frame.loc["gtdb", "rank"]) == ("Lachnospiraceae", "family")
    assert frame.loc["plain", "class"] == "Gammaproteobacteria" and frame.loc["plain", "kingdom"] == "Bacteria"
    # a plain binomial is a species of the genus named first
    assert (frame.loc["name", "species"], frame.loc["name", "genus"], frame.loc["name", "rank"]) == (
        "Akkermansia muciniphila",
        "Akkermansia",
        "species",
    )
    # any other plain name has no known rank
    assert frame.loc["plain_word", "taxon"] == "ASV 00017" and pd.isna(frame.loc["plain_word", "rank"])
    assert pd.isna(frame.loc["mpa_unclassified", "class"]) and frame.loc["mpa_unclassified", "rank"] == "phylum"
    assert pd.isna(frame.loc["mpa2_noname", "genus"]) and frame.loc["mpa2_noname", "rank"] == "family"
    assert frame.loc[["unassigned"], [*RANKS, "taxon"]].isna().all(axis=None)
    assert frame.loc["gg", "lineage"].startswith("k__Bacteria; p__")


def test_parse_species_alone_gives_genus():
    frame = parse_lineage(
        [
            "s__Bifidobacterium_longum",
            "s__Candidatus_Methanomassiliicoccus_intestinalis",
            "s__Alistipes_unclassified",
            "Bacteroides sp. D2",
            "Prevotella_copri_clade_A",
        ]
    )
    assert list(frame["genus"]) == [
        "Bifidobacterium",
        "Candidatus Methanomassiliicoccus",
        "Alistipes",
        "Bacteroides",
        "Prevotella",
    ]
    assert frame["species"].isna().tolist() == [False, False, True, False, False]


@pytest.mark.parametrize(
    "name",
    [
        "Lachnospiraceae bacterium",
        "s__Firmicutes_bacterium_CAG_791",
        "Ruminococcus gnavus group",
        "UNMAPPED",
        "Blautia",
    ],
)
def test_placeholder_names_give_no_genus(name):
    assert pd.isna(parse_lineage([name])["genus"].iloc[0])


# ----------------------------------------------------------------------------- collapse


def _cohort():
    import anndata as ad

    lineages = [
        "k__Bacteria|p__Bacteroidetes|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae|g__Bacteroides|"
        "s__Bacteroides_uniformis",
        "k__Bacteria|p__Bacteroidetes|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae|g__Bacteroides|"
        "s__Bacteroides_ovatus",
        "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|g__Faecalibacterium|"
        "s__Faecalibacterium_prausnitzii",
        "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|g__Lachnospiraceae_unclassified|"
        "s__Eubacterium_rectale",
    ]
    var = parse_lineage(lineages)
    var.index = ["Bu", "Bo", "Fp", "Er"]
    X = np.array([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.5, 0.0]])
    adata = ad.AnnData(X=X, obs=pd.DataFrame({"unclassified_fraction": [0.0, 0.1]}, index=["s1", "s2"]), var=var)
    adata.layers["counts"] = X * 100
    adata.uns["provenance"] = {"reader": "test", "filtered": []}
    return adata


def test_collapse_to_genus():
    adata = _cohort()
    with pytest.warns(FilteredWarning, match="1 feature"):
        genus = collapse(adata, "genus")
    assert list(genus.var_names) == ["Bacteroides", "Faecalibacterium", "unassigned genus"]
    np.testing.assert_allclose(genus.X, [[0.3, 0.3, 0.4], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(genus.layers["counts"], [[30, 30, 40], [50, 50, 0]])
    assert genus.var.loc["Bacteroides", "family"] == "Bacteroidaceae"
    assert genus.var.loc["unassigned genus", "family"] == "Lachnospiraceae"
    assert (genus.var["rank"] == "genus").all() and pd.isna(genus.var.loc["unassigned genus", "genus"])
    entry = genus.uns["provenance"]["filtered"][-1]
    assert entry == {
        "what": "features with no genus name",
        "reason": "summed into 'unassigned genus'",
        "n": 1,
        "ids": ["Er"],
    }
    assert list(genus.obs["unclassified_fraction"]) == [0.0, 0.1]
    assert adata.uns["provenance"]["filtered"] == []  # input untouched


def test_collapse_mixed_parents_and_order_independence():
    adata = _cohort()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FilteredWarning)
        phylum = collapse(adata, "phylum")
        shuffled = collapse(adata[:, [3, 0, 2, 1]].copy(), "phylum")
    np.testing.assert_allclose(phylum.X, [[0.3, 0.7], [0.5, 0.5]])
    assert list(phylum.var_names) == list(shuffled.var_names)
    np.testing.assert_allclose(phylum.X, shuffled.X)
    assert "filtered" in phylum.uns["provenance"] and not phylum.uns["provenance"]["filtered"]


def test_collapse_real_profile_keeps_total(shared):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FilteredWarning)
        species = gio.read_metaphlan(shared("data", "gmwi2_example", "SRR1761667_metaphlan.txt"))
        family = collapse(species, "family")
    np.testing.assert_allclose(np.asarray(family.X).sum(), np.asarray(species.X).sum(), rtol=1e-12)
    assert family.var_names.is_unique and "Enterobacteriaceae" in family.var_names


def test_collapse_bad_rank():
    with pytest.raises(InputError, match="unknown rank"):
        collapse(_cohort(), "tribe")


# ------------------------------------------------------------------- Lactobacillus 2020

GENERA_2020 = {
    "Lactobacillus",
    "Paralactobacillus",
    "Acetilactobacillus",
    "Agrilactobacillus",
    "Amylolactobacillus",
    "Apilactobacillus",
    "Bombilactobacillus",
    "Companilactobacillus",
    "Dellaglioa",
    "Fructilactobacillus",
    "Furfurilactobacillus",
    "Holzapfelia",
    "Lacticaseibacillus",
    "Lactiplantibacillus",
    "Lapidilactobacillus",
    "Latilactobacillus",
    "Lentilactobacillus",
    "Levilactobacillus",
    "Ligilactobacillus",
    "Limosilactobacillus",
    "Liquorilactobacillus",
    "Loigolactobacillus",
    "Paucilactobacillus",
    "Schleiferilactobacillus",
    "Secundilactobacillus",
}


def test_lactobacillus_group_is_the_25_genera():
    group = lactobacillus_group()
    assert group == GENERA_2020 and len(group) == 25
    assert gutaxis.lactobacillus_group is lactobacillus_group


def test_data_file_cites_every_row():
    with resources.files("gutaxis").joinpath("data", "lactobacillus_2020.tsv").open() as handle:
        table = pd.read_csv(handle, sep="\t")
    assert list(table.columns) == ["kind", "name", "current_name", "citation"]
    assert table["citation"].str.contains("10.1099/ijsem.0.004107").all()


@pytest.mark.parametrize(
    "old,new",
    [
        ("Lactobacillus rhamnosus", "Lacticaseibacillus rhamnosus"),
        ("Lactobacillus casei", "Lacticaseibacillus casei"),
        ("Lactobacillus paracasei", "Lacticaseibacillus paracasei"),
        ("Lactobacillus plantarum", "Lactiplantibacillus plantarum"),
        ("Lactobacillus reuteri", "Limosilactobacillus reuteri"),
        ("Lactobacillus fermentum", "Limosilactobacillus fermentum"),
        ("Lactobacillus salivarius", "Ligilactobacillus salivarius"),
        ("Lactobacillus ruminis", "Ligilactobacillus ruminis"),
        ("Lactobacillus brevis", "Levilactobacillus brevis"),
        ("Lactobacillus sakei", "Latilactobacillus sakei"),
        ("Lactobacillus acidophilus", "Lactobacillus acidophilus"),
        ("Lactobacillus gasseri", "Lactobacillus gasseri"),
        ("Lactobacillus crispatus", "Lactobacillus crispatus"),
        ("Lactobacillus johnsonii", "Lactobacillus johnsonii"),
        ("Lactobacillus delbrueckii", "Lactobacillus delbrueckii"),
        ("Lactobacillus helveticus", "Lactobacillus helveticus"),
        ("s__Lactobacillus_rhamnosus", "Lacticaseibacillus rhamnosus"),
        ("Lactobacillus paracasei subsp. paracasei", "Lacticaseibacillus paracasei subsp. paracasei"),
        ("Bifidobacterium longum", "Bifidobacterium longum"),
    ],
)
def test_current_name(old, new):
    assert current_name(old) == new


def test_synonyms_point_into_the_group():
    table = synonyms()
    assert table["Lactobacillus rhamnosus"] == "Lacticaseibacillus rhamnosus"
    assert "Lactobacillus acidophilus" not in table  # stayed in Lactobacillus
    assert {new.split()[0] for new in table.values()} <= GENERA_2020


def test_group_found_under_old_and_new_names():
    names = [
        "Lactobacillus rhamnosus",
        "Lacticaseibacillus rhamnosus",
        "s__Lactobacillus_plantarum",
        "Lactiplantibacillus plantarum",
        "g__Limosilactobacillus",
        "Lactobacillus",
        "Bifidobacterium longum",
        "Leuconostoc mesenteroides",
        "Streptococcus thermophilus",
        "",
    ]
    np.testing.assert_array_equal(is_lactobacillus_group(names), [True] * 6 + [False] * 4)
    assert is_lactobacillus_group("Ligilactobacillus salivarius") is True


def test_group_found_in_cohorts_of_old_and_new_databases(tmp_path):
    # the same community profiled against an old (Lactobacillus) and a new (2020 genera) database
    old = (
        "k__Bacteria|p__Firmicutes|c__Bacilli|o__Lactobacillales|f__Lactobacillaceae|g__Lactobacillus|"
        "s__Lactobacillus_{}"
    )
    new = "k__Bacteria|p__Firmicutes|c__Bacilli|o__Lactobacillales|f__Lactobacillaceae|g__{}|s__{}_{}"
    rows_old = [old.format("rhamnosus"), old.format("reuteri"), old.format("gasseri")]
    rows_new = [
        new.format("Lacticaseibacillus", "Lacticaseibacillus", "rhamnosus"),
        new.format("Limosilactobacillus", "Limosilactobacillus", "reuteri"),
        new.format("Lactobacillus", "Lactobacillus", "gasseri"),
    ]
    bifido = (
        "k__Bacteria|p__Actinobacteria|c__Actinobacteria|o__Bifidobacteriales|f__Bifidobacteriaceae|"
        "g__Bifidobacterium|s__Bifidobacterium_longum"
    )
    shares = []
    for name, rows in (("old.txt", rows_old), ("new.txt", rows_new)):
        path = tmp_path / name
        path.write_text("".join(f"{r}\t{v}\n" for r, v in zip([*rows, bifido], [10.0, 20.0, 30.0, 40.0], strict=True)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FilteredWarning)
            adata = gio.read_metaphlan(path)
        in_group = is_lactobacillus_group(adata.var["species"])
        shares.append(float(np.asarray(adata.X)[0, in_group].sum()))
        current = sorted(current_name(s) for s in adata.var["species"][in_group])
        assert current == ["Lacticaseibacillus rhamnosus", "Lactobacillus gasseri", "Limosilactobacillus reuteri"]
    assert shares == [pytest.approx(0.6), pytest.approx(0.6)]
