"""Panel sums on hand-built tables with hand-computed answers; the panel file's citations."""

from __future__ import annotations

import re

import anndata
import numpy as np
import pandas as pd
import pytest

from gutaxis.errors import InputError
from gutaxis.measure.panels import PANEL_COLUMNS, load_panels, panel_abundance

_DOI = re.compile(r"^doi:10\.\d{4,9}/\S+$")
_PMID = re.compile(r"^PMID:\d{5,9}$")

FEATURES = [
    "Bifidobacterium longum",
    "s__Bifidobacterium_adolescentis",
    "Faecalibacterium prausnitzii",
    "Lactobacillus rhamnosus",  # old name
    "Lacticaseibacillus rhamnosus",  # new name (Zheng et al. 2020)
    "Limosilactobacillus reuteri",
    "Escherichia coli",
    "[Ruminococcus] gnavus",
    "Eubacterium rectale",
    "Bacteroides fragilis",
]
VALUES = {
    "S1": [0.10, 0.05, 0.20, 0.01, 0.02, 0.03, 0.04, 0.06, 0.09, 0.40],
    "S2": [0.00, 0.30, 0.00, 0.00, 0.00, 0.00, 0.50, 0.00, 0.00, 0.20],
}


def _table():
    return pd.DataFrame.from_dict(VALUES, orient="index", columns=FEATURES)


def test_hand_computed_sums():
    got = panel_abundance(_table())
    exp = {
        # S1 by hand
        "bifidobacterium": (0.10 + 0.05, 0.30),
        "faecalibacterium_prausnitzii": (0.20, 0.0),
        "lactobacillus_group": (0.01 + 0.02 + 0.03, 0.0),
        "enterobacteriaceae": (0.04, 0.50),
        "ruminococcus_gnavus": (0.06, 0.0),
        "butyrate_producers": (0.20 + 0.09, 0.0),  # F. prausnitzii + E. rectale
        "roseburia": (0.0, 0.0),
    }
    for entry, (s1, s2) in exp.items():
        assert got.loc["S1", entry] == pytest.approx(s1, abs=1e-15), entry
        assert got.loc["S2", entry] == pytest.approx(s2, abs=1e-15), entry
    assert got.attrs["matched"]["bifidobacterium"] == ["Bifidobacterium longum", "s__Bifidobacterium_adolescentis"]
    assert "roseburia" in got.attrs["unmatched"] and "akkermansia_muciniphila" in got.attrs["unmatched"]
    assert got.attrs["filtered"][0]["ids"] == got.attrs["unmatched"]
    assert "Bacteroides fragilis" not in [t for taxa in got.attrs["matched"].values() for t in taxa]
    assert got.attrs["params"]["normalize"] is False


def test_lactobacillus_group_catches_old_and_new_names():
    got = panel_abundance(_table(), "lactobacillus_group")
    assert list(got.columns) == ["lactobacillus_group"]
    assert got.attrs["matched"]["lactobacillus_group"] == [
        "Lactobacillus rhamnosus",
        "Lacticaseibacillus rhamnosus",
        "Limosilactobacillus reuteri",
    ]
    assert got.loc["S1", "lactobacillus_group"] == pytest.approx(0.06, abs=1e-15)


def test_every_row_is_cited_with_doi_or_pmid():
    table = load_panels()
    assert tuple(table.columns) == PANEL_COLUMNS
    assert set(table["panel"]) == {"beneficial", "pathobiont"}
    assert table["entry"].is_unique
    for row in table.itertuples():
        parts = [p.strip() for p in row.citation.split(";")]
        assert parts and all(parts), f"{row.entry}: empty citation"
        for p in parts:
            assert _DOI.match(p) or _PMID.match(p), f"{row.entry}: {p!r} is neither a DOI nor a PMID"
        assert row.role.strip() and row.direction_in_disease.strip(), row.entry
    akk = table.set_index("entry").loc["akkermansia_muciniphila"]
    assert "multiple sclerosis" in akk["caveat"] and "10.1038/ncomms12015" in akk["caveat"]
    expected = {
        "lactobacillus_group",
        "bifidobacterium",
        "faecalibacterium_prausnitzii",
        "akkermansia_muciniphila",
        "roseburia",
        "butyrate_producers",
        "enterobacteriaceae",
        "ruminococcus_gnavus",
        "prevotella_copri",
        "collinsella_aerofaciens",
    }
    assert expected <= set(table["entry"])


def test_anndata_lineage_columns_are_used():
    names = ["f1", "f2", "f3"]
    var = pd.DataFrame(
        {
            "species": ["Pluralibacter gergoviae", None, "Akkermansia muciniphila"],
            "genus": ["Pluralibacter", "Bifidobacterium", "Akkermansia"],
            "family": ["Enterobacteriaceae", "Bifidobacteriaceae", "Akkermansiaceae"],
        },
        index=names,
    )
    X = np.array([[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]])
    ad = anndata.AnnData(X=X, obs=pd.DataFrame(index=["a", "b"]), var=var)
    got = panel_abundance(ad)
    # Pluralibacter is not in the genus fallback list: matched through var['family']
    assert got["enterobacteriaceae"].tolist() == pytest.approx([0.2, 0.6])
    assert got["bifidobacterium"].tolist() == pytest.approx([0.3, 0.4])
    assert got["akkermansia_muciniphila"].tolist() == pytest.approx([0.5, 0.0])


def test_percentages_are_normalised_and_said():
    pct = _table() * 100
    got = panel_abundance(pct, "bifidobacterium")
    assert got.attrs["params"]["normalize"] is True
    assert got.loc["S1", "bifidobacterium"] == pytest.approx(0.15 / _table().loc["S1"].sum())


def test_panel_selection_and_user_panel():
    got = panel_abundance(_table(), "pathobiont")
    assert set(got.columns) == set(load_panels().query("panel == 'pathobiont'")["entry"])
    mine = pd.DataFrame(
        {
            "entry": ["bacteroides"],
            "panel": ["mine"],
            "match": ["genus=Bacteroides"],
            "citation": ["doi:10.1000/example"],
        }
    )
    own = panel_abundance(_table(), mine)
    assert own["bacteroides"].tolist() == pytest.approx([0.40, 0.20])


def test_bad_panels_raise_input_error():
    with pytest.raises(InputError, match="unknown panel or entry 'probiotics'"):
        panel_abundance(_table(), "probiotics")
    with pytest.raises(InputError, match="no column 'citation'"):
        panel_abundance(_table(), pd.DataFrame({"entry": ["x"], "panel": ["p"], "match": ["genus=X"]}))
    bad_rule = pd.DataFrame(
        {"entry": ["x"], "panel": ["p"], "match": ["order=Bacteroidales"], "citation": ["PMID:123456"]}
    )
    with pytest.raises(InputError, match=r"entry 'x'.*order=Bacteroidales"):
        panel_abundance(_table(), bad_rule)
    no_cite = pd.DataFrame({"entry": ["x"], "panel": ["p"], "match": ["genus=X"], "citation": [" "]})
    with pytest.raises(InputError, match="entry 'x' has no citation"):
        panel_abundance(_table(), no_cite)
    neg = _table()
    neg.loc["S2", "Escherichia coli"] = -1.0
    with pytest.raises(InputError, match=r"'S2'.*Escherichia coli"):
        panel_abundance(neg)
