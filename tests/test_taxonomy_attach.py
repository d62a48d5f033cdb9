"""Issue 13 case 3: an ASV table without names (iMSMS, 16S V4 Deblur ASVs) and a taxonomy for it.

Without a taxonomy its features (``ASV00001``...) name no taxon: every panel was 0 % (and at the
50th percentile) without a warning; now each is "not measurable" in the table, the HTML and
summary.json. With ``--taxonomy`` (a QIIME 2 TSV, or a ``taxonomy.qza`` laid out as QIIME 2 writes
it) the panels are the sums computed here by hand from the two files.
"""

from __future__ import annotations

import gzip
import json
import re
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from _cli import cli

import gutaxis.io as gio
from gutaxis.errors import InputError
from gutaxis.io import TaxonomyWarning
from gutaxis.measure.panels import NOT_MEASURABLE, PanelWarning, panel_abundance

N_SAMPLES = 12
N_ASVS = 400
UUID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


@pytest.fixture(scope="module")
def imsms(shared, tmp_path_factory):
    """A small subset of iMSMS: the first 12 samples, the 400 ASVs most abundant in them."""
    folder = tmp_path_factory.mktemp("imsms")
    with gzip.open(shared("data", "imsms_ms_16s", "imsms_asv_counts.tsv.gz"), "rt") as fh:
        counts = pd.read_csv(fh, sep="\t", index_col=0, usecols=range(N_SAMPLES + 1))
    top = counts.sum(axis=1).sort_values(ascending=False, kind="stable").index[:N_ASVS]
    counts = counts.loc[sorted(top)]
    counts = counts.loc[:, counts.sum() > 0]
    table = folder / "asv_table.tsv"
    counts.to_csv(table, sep="\t", index_label="asv_id")
    lineage = pd.read_csv(shared("data", "imsms_ms_16s", "imsms_asv_sequences_taxonomy.tsv"), sep="\t", index_col=0)[
        "taxonomy"
    ].loc[counts.index]
    tsv = folder / "taxonomy.tsv"  # QIIME 2's export layout
    tsv.write_text(
        "Feature ID\tTaxon\tConfidence\n#q2:types\tcategorical\tnumeric\n"
        + "".join(f"{i}\t{t}\t0.9\n" for i, t in lineage.items()),
        encoding="utf-8",
    )
    qza = folder / "taxonomy.qza"
    with zipfile.ZipFile(qza, "w", zipfile.ZIP_DEFLATED) as z:  # as `qiime tools import` lays it out
        z.writestr(f"{UUID}/VERSION", "QIIME 2\narchive: 5\nframework: 2023.5.1\n")
        z.writestr(
            f"{UUID}/metadata.yaml", f"uuid: {UUID}\ntype: FeatureData[Taxonomy]\nformat: TSVTaxonomyDirectoryFormat\n"
        )
        z.writestr(f"{UUID}/data/taxonomy.tsv", tsv.read_text(encoding="utf-8"))
        z.writestr(f"{UUID}/provenance/action/action.yaml", "action:\n  type: import\n")
    return {"table": table, "tsv": tsv, "qza": qza, "counts": counts, "lineage": lineage, "folder": folder}


def _by_hand(imsms) -> pd.DataFrame:
    """Panel sums from the two files with plain string tests on the Greengenes lineages."""
    counts, lineage = imsms["counts"], imsms["lineage"]
    rel = counts / counts.sum()  # features x samples, closed per sample

    def has(part):
        return lineage.str.contains(re.escape(part) + r"(?:;|$)", regex=True).to_numpy()

    genus = lineage.str.extract(r"g__([^;]*)")[0].fillna("").str.strip().to_numpy()
    rows = {
        "bifidobacterium": has("g__Bifidobacterium"),
        "faecalibacterium_prausnitzii": has("g__Faecalibacterium; s__prausnitzii"),
        "akkermansia_muciniphila": has("g__Akkermansia; s__muciniphila"),
        "roseburia": genus == "Roseburia",
        "enterobacteriaceae": has("f__Enterobacteriaceae"),
        "butyrate_producers": np.isin(
            genus,
            [
                "Faecalibacterium",
                "Roseburia",
                "Agathobacter",
                "Anaerostipes",
                "Coprococcus",
                "Butyricicoccus",
                "Anaerobutyricum",
            ],
        )
        | has("g__Eubacterium; s__rectale")
        | has("g__Eubacterium; s__hallii"),
    }
    return pd.DataFrame({k: rel[v].sum() for k, v in rows.items()})


def test_asv_table_without_taxonomy_is_not_measurable(imsms):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gio.FilteredWarning)
        adata = gio.read_profile(imsms["table"])
    with pytest.warns(PanelWarning, match="not measurable"):
        got = panel_abundance(adata)
    assert got.isna().all().all()  # NaN, never 0
    assert set(got.attrs["not_measurable"]) == set(got.columns)
    assert set(got.attrs["not_measurable"].values()) == {NOT_MEASURABLE["no_names"]}


def test_report_without_taxonomy_says_not_measurable(imsms, tmp_path):
    out = tmp_path / "report"
    res = cli("report", imsms["table"], "-o", out)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    panels = summary["panels"]
    assert set(panels["not_measurable"]) == set(panels["entries"])
    assert all(
        v == "not measurable (no feature matches its taxa; give --taxonomy)" for v in panels["not_measurable"].values()
    )
    for sample in panels["values"].values():
        assert all(v is None for v in sample.values())  # null, not 0
    indices = pd.read_csv(out / "indices.tsv", sep="\t", index_col=0)
    assert indices["bifidobacterium"].isna().all()
    html = (out / "report.html").read_text()
    assert html.count("give --taxonomy") >= len(panels["entries"])
    assert ">not measurable<" in html


@pytest.mark.parametrize("kind", ["tsv", "qza"])
def test_taxonomy_gives_hand_computed_panels(imsms, kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gio.FilteredWarning)
        adata = gio.read_profile(imsms["table"], taxonomy=imsms[kind])
    prov = adata.uns["provenance"]["taxonomy"]
    assert prov["n_matched"] == adata.n_vars and prov["n_without_taxonomy"] == 0
    assert prov["format"] == kind and prov["source"] == str(imsms[kind])
    if kind == "qza":
        assert prov["artifact_uuid"] == UUID
    assert adata.var.loc[imsms["lineage"].index[0], "lineage"] == imsms["lineage"].iloc[0]
    assert np.allclose(adata.var["confidence"], 0.9)
    got = panel_abundance(adata)
    want = _by_hand(imsms)
    assert got.attrs["not_measurable"] == {}
    for entry in want.columns:
        np.testing.assert_allclose(
            got[entry].to_numpy(), want.loc[got.index, entry].to_numpy(), rtol=1e-12, atol=1e-15, err_msg=entry
        )
    assert (want["faecalibacterium_prausnitzii"] > 0).any()  # the test sees something


def test_cli_taxonomy_in_report(imsms, tmp_path):
    out = tmp_path / "with"
    res = cli("report", imsms["table"], "--taxonomy", imsms["qza"], "-o", out)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["panels"]["not_measurable"] == {}
    want = _by_hand(imsms)
    for sample, values in summary["panels"]["values"].items():
        assert values["faecalibacterium_prausnitzii"] == pytest.approx(
            want.loc[sample, "faecalibacterium_prausnitzii"], rel=1e-12, abs=1e-15
        )
    assert summary["provenance"]["input"]["taxonomy"]["n_matched"] == len(imsms["counts"])


def test_features_without_taxonomy_are_named(imsms, tmp_path):
    lines = imsms["tsv"].read_text().splitlines(keepends=True)
    dropped = [ln.split("\t")[0] for ln in lines[2:7]]
    part = tmp_path / "part.tsv"
    part.write_text("".join(lines[:2] + lines[7:]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gio.FilteredWarning)
        with pytest.warns(TaxonomyWarning) as caught:
            adata = gio.read_profile(imsms["table"], taxonomy=part)
    text = str(caught[0].message)
    assert f"5 of {len(imsms['counts'])} features have no taxonomy" in text and dropped[0] in text
    assert adata.uns["provenance"]["taxonomy"]["without_taxonomy"] == dropped
    assert adata.var.loc[dropped, "genus"].isna().all()


def test_taxonomy_matching_no_feature_is_an_error(imsms, tmp_path):
    other = tmp_path / "other.tsv"
    other.write_text("Feature ID\tTaxon\nX1\tk__Bacteria; g__Bacteroides\nX2\tk__Bacteria\n")
    with pytest.raises(InputError) as err:
        gio.read_profile(imsms["table"], taxonomy=other)
    assert str(other) in str(err.value) and "no feature of the table is in the taxonomy" in str(err.value)
    assert "ASV" in str(err.value)  # the table's IDs, for comparison
    res = cli("report", imsms["table"], "--taxonomy", other, "-o", tmp_path / "r")
    assert res.exit_code == 2 and "no feature of the table" in res.output


def test_bad_taxonomy_files(imsms, tmp_path):
    dup = tmp_path / "dup.tsv"
    dup.write_text("Feature ID\tTaxon\nASV00002\tk__Bacteria\nASV00002\tk__Archaea\n")
    with pytest.raises(InputError, match="more than one row"):
        gio.read_taxonomy(dup)
    notax = tmp_path / "notax.tsv"
    notax.write_text("Feature ID\tsequence\nASV00002\tACGT\n")
    with pytest.raises(InputError, match="no taxon column"):
        gio.read_taxonomy(notax)
    table_qza = tmp_path / "table.qza"
    with zipfile.ZipFile(table_qza, "w") as z:
        z.writestr(f"{UUID}/metadata.yaml", f"uuid: {UUID}\ntype: FeatureTable[Frequency]\nformat: X\n")
        z.writestr(f"{UUID}/data/feature-table.biom", b"")
    with pytest.raises(InputError, match="not a taxonomy"):
        gio.read_taxonomy(table_qza)
    bomb = tmp_path / "alias.qza"
    with zipfile.ZipFile(bomb, "w") as z:
        z.writestr(f"{UUID}/metadata.yaml", "a: &x [1]\nb: *x\ntype: FeatureData[Taxonomy]\n")
    with pytest.raises(InputError, match="alias"):
        gio.read_taxonomy(bomb)


COMMANDS = (
    ("report",),
    ("reference",),
    ("associate",),
    ("permanova",),
    ("meta",),
    ("classify", "cv"),
    ("classify", "cross-study"),
    ("classify", "predict"),
)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_that_reads_a_profile_takes_taxonomy(command):
    res = cli(*command, "--help")
    assert res.exit_code == 0 and "--taxonomy" in res.output


def test_shared_loader_joins_the_taxonomy(imsms):
    from gutaxis.cli._inputs import load_profile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gio.FilteredWarning)
        adata = load_profile(imsms["table"], taxonomy=imsms["tsv"])
    fp = imsms["lineage"].index[imsms["lineage"].str.endswith("g__Faecalibacterium; s__prausnitzii")]
    assert len(fp) and (adata.var.loc[fp, "species"] == "Faecalibacterium prausnitzii").all()
