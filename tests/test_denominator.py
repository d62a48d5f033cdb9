"""Issue 13 cases 1 and 13: one denominator (the classified reads), the unclassified share, the
profiler of a reference, and a healthy reference built from the registry's public cohort.

SRR1761667 (GMWI2's example, MetaPhlAn 3, 70.8 % UNKNOWN) gave F. prausnitzii 8.3 % of all reads in
the panel table but 29 % of the classified reads in the composition chart, and its butyrate
producers sat at the 30th percentile of a closed (MetaPhlAn 2) healthy reference instead of about
the 75th. Every expected number here is computed from the files with plain string and pandas
operations, not through gutaxis.
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from _cli import cli

import gutaxis.io as gio
from gutaxis._profiler import compare_profilers, profiler_from_database
from gutaxis.measure.reference import HealthyReference, build_reference

BUTYRATE_GENERA = (
    "Faecalibacterium",
    "Roseburia",
    "Agathobacter",
    "Anaerostipes",
    "Coprococcus",
    "Butyricicoccus",
    "Anaerobutyricum",
)
BUTYRATE_SPECIES = ("Eubacterium_rectale", "Eubacterium_hallii")


def _species_rows(path):
    """{species clade name: percent} and the UNKNOWN percent of a single MetaPhlAn 3 profile."""
    species, unknown = {}, None
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        clade, _, value = line.split("\t")[:3]
        if clade == "UNKNOWN":
            unknown = float(value)
        elif clade.split("|")[-1].startswith("s__"):
            species[clade.split("|")[-1][3:]] = float(value)
    return species, unknown


def _butyrate(names, values) -> float:
    """Sum of the butyrate producers (genus list and two species of data/panels.tsv) by name."""
    total = 0.0
    for name, v in zip(names, values, strict=True):
        name = name.removeprefix("s__")
        if name.split("_")[0] in BUTYRATE_GENERA or name in BUTYRATE_SPECIES:
            total += v
    return total


@pytest.fixture(scope="module")
def srr(shared):
    return shared("data", "gmwi2_example", "SRR1761667_metaphlan.txt")


@pytest.fixture(scope="module")
def registry_reference(shared, tmp_path_factory):
    """`gutaxis datasets fetch gmhi2020_validation --from <copy>` into a temporary cache, then
    `gutaxis reference --from-dataset gmhi2020_validation` (the two commands a user runs)."""
    folder = tmp_path_factory.mktemp("registry")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GUTAXIS_DATA_DIR", str(folder / "cache"))
        mp.setenv("GUTAXIS_DATASETS_URL", "http://127.0.0.1:9/")  # nothing may be downloaded
        fetched = cli("datasets", "fetch", "gmhi2020_validation", "--from", shared("data", "gmhi2020_validation"))
        assert fetched.exit_code == 0, fetched.output
        ref = folder / "healthy.json"
        res = cli("reference", "--from-dataset", "gmhi2020_validation", "-o", ref)
        assert res.exit_code == 0, res.output
    return {"json": ref, "output": res.output, "cache": folder / "cache"}


@pytest.fixture(scope="module")
def report(srr, registry_reference, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    res = cli("report", srr, "-r", registry_reference["json"], "-o", out)
    assert res.exit_code == 0, res.output
    return {
        "dir": out,
        "summary": json.loads((out / "summary.json").read_text()),
        "html": (out / "report.html").read_text(),
    }


def test_reader_closes_over_the_classified_species(srr):
    species, unknown = _species_rows(srr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gio.FilteredWarning)
        adata = gio.read_profile(srr)
    total = sum(species.values())
    x = dict(zip(adata.var_names, np.asarray(adata.X)[0], strict=True))
    assert x["Faecalibacterium prausnitzii"] == pytest.approx(
        species["Faecalibacterium_prausnitzii"] / total, rel=1e-12
    )
    assert adata.obs["unclassified_fraction"].iloc[0] == pytest.approx(unknown / 100, rel=1e-12)


def test_panel_table_and_composition_chart_agree(srr, report):
    species, _ = _species_rows(srr)
    share = species["Faecalibacterium_prausnitzii"] / sum(species.values())  # of the classified species
    assert 0.28 < share < 0.29  # 8.3 % of all reads, 28.5 % of the classified ones
    panels = report["summary"]["panels"]["values"]["SRR1761667_metaphlan"]
    assert panels["faecalibacterium_prausnitzii"] == pytest.approx(share, rel=1e-12)
    html = report["html"]
    row = re.search(r'<table class="sortable" id="panel-beneficial">.*?</table>', html, re.DOTALL).group(0)
    cell = re.search(r"F(?:aecalibacterium)?\.? prausnitzii.*?data-value=\"([^\"]+)\">([^<]+)<", row, re.DOTALL)
    assert float(cell.group(1)) == pytest.approx(share, rel=1e-12) and cell.group(2) == f"{100 * share:.1f}"
    chart = re.search(r"Bar chart of the \d+ most abundant taxa: ([^.]+(?:\.\d+)?[^<]*?)\.\s*<", html)
    assert chart is not None
    assert f"Faecalibacterium prausnitzii {100 * share:.2g}%" in chart.group(1)
    assert "8.3" not in cell.group(2)


def test_percentile_moves_to_the_closed_comparison(srr, shared, report):
    ab = pd.read_csv(
        shared("data", "gmhi2020_validation", "validation_abundance.csv"), index_col=0, encoding="utf-8-sig"
    )
    meta = pd.read_csv(shared("data", "gmhi2020_validation", "validation_metadata.csv"), encoding="utf-8-sig")
    healthy = meta.loc[meta["Phenotype"] == "Healthy", "Sample_Ids"].astype(str)
    assert len(healthy) == 118
    cols = ab[healthy]
    ref = np.sort([_butyrate(cols.index, cols[c].to_numpy()) / cols[c].sum() for c in cols.columns])
    species, _ = _species_rows(srr)
    closed = _butyrate(species, species.values()) / sum(species.values())
    unclosed = _butyrate(species, species.values()) / 100  # of all reads: the old comparison

    def pct(x):
        return 100 * (np.sum(ref < x) + np.sum(ref <= x)) / (2 * len(ref))

    got = pd.read_csv(report["dir"] / "percentiles.tsv", sep="\t", index_col=0)["butyrate_producers"].iloc[0]
    assert got == pytest.approx(pct(closed), abs=1e-9)
    assert pct(closed) > 70 and pct(unclosed) < 35  # ~75th, not ~30th
    indices = pd.read_csv(report["dir"] / "indices.tsv", sep="\t", index_col=0)
    assert indices["butyrate_producers"].iloc[0] == pytest.approx(closed, rel=1e-12)
    assert round(float(indices["GMHI"].iloc[0]), 2) == 1.31  # GMHI.R renormalises itself: unchanged


def test_unclassified_share_in_summary_html_and_provenance(srr, report):
    _, unknown = _species_rows(srr)
    s = report["summary"]
    assert s["unclassified"]["fraction_by_sample"] == {"SRR1761667_metaphlan": pytest.approx(unknown / 100)}
    assert s["unclassified"]["denominator"] == "classified reads"
    assert s["provenance"]["input"]["unclassified"] == f"{unknown:.1f} %"
    assert "classified reads" in s["units"]["panels"]
    html = report["html"]
    assert 'id="unclassified-banner"' in html  # 70.8 % > 50 %
    # said first: before the summary's first number (the GMHI lead) and before any card
    assert html.index('id="unclassified-banner"') < html.index('class="lead"') < html.index('class="cards"')
    assert re.search(r'id="unclassified-line">\s*70\.8 % of the reads of this sample were not classified', html)
    methods = html.split('id="methods"')[1]
    assert "<dt>unclassified reads</dt><dd>70.8 %</dd>" in methods
    assert "<dt>relative abundances</dt><dd>shares of the classified reads" in methods


def test_reference_records_profiler_and_report_warns(registry_reference, report):
    doc = json.loads(registry_reference["json"].read_text())
    assert doc["profiler"] == "MetaPhlAn 2"
    assert doc["n_samples"] == 118
    ds = doc["params"]["dataset"]
    assert (
        ds["name"] == "gmhi2020_validation" and "licence" in ds and "doi:10.1038/s41467-020-18476-8" in ds["citation"]
    )
    assert "MetaPhlAn 2" in registry_reference["output"]
    prof = report["summary"]["profilers"]
    assert prof["profile"] == "MetaPhlAn 3 (mpa_v30_CHOCOPhlAn_201901)" and prof["reference"] == "MetaPhlAn 2"
    assert prof["comparison"] == "differ"
    assert 'id="profiler-warning"' in report["html"]


def test_same_profiler_no_warning_and_old_reference_is_unknown(srr, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gio.FilteredWarning)
        adata = gio.read_profile(srr)
    ref = build_reference(adata)
    assert ref.profiler == "MetaPhlAn 3 (mpa_v30_CHOCOPhlAn_201901)"
    back = HealthyReference.from_json(ref.to_json(tmp_path / "r.json"))
    assert back.profiler == ref.profiler
    doc = json.loads((tmp_path / "r.json").read_text())
    del doc["profiler"]  # written before the profiler was recorded
    (tmp_path / "old.json").write_text(json.dumps(doc))
    assert HealthyReference.from_json(tmp_path / "old.json").profiler == "unknown"
    assert compare_profilers(ref.profiler, ref.profiler)[0] == "same"
    assert compare_profilers(ref.profiler, "unknown")[0] == "unknown"
    assert profiler_from_database("mpa_v20_m200") == "MetaPhlAn 2 (mpa_v20_m200)"
    assert profiler_from_database("mpa_vJun23_CHOCOPhlAnSGB_202307").startswith("MetaPhlAn 4")
    assert profiler_from_database(None) == "MetaPhlAn (version unknown)"


def test_no_reference_hint_names_the_commands(srr, tmp_path):
    out = tmp_path / "r"
    assert cli("report", srr, "-o", out).exit_code == 0
    note = json.loads((out / "summary.json").read_text())["reference_note"]
    assert "gutaxis reference --from-dataset gmhi2020_validation -o healthy.json" in note
    assert "gutaxis datasets fetch gmhi2020_validation" in note
    assert "--healthy COLUMN=VALUE" in note and "build_reference" not in note
    # the commands it names exist with that syntax
    res = cli("reference", "--help")
    assert "--from-dataset" in res.output and "--healthy" in res.output


def test_reference_options_are_checked(srr, tmp_path):
    res = cli("reference", "-o", tmp_path / "x.json")
    assert res.exit_code == 2 and "--from-dataset" in res.output
    res = cli("reference", srr, "--from-dataset", "gmhi2020_validation", "-o", tmp_path / "x.json")
    assert res.exit_code == 2 and "PROFILE" in res.output
    res = cli("reference", "--from-dataset", "hmp2_maaslin2", "-o", tmp_path / "x.json")
    assert res.exit_code == 2 and "gmhi2020_validation" in res.output


def test_reference_from_own_cohort_records_given_or_unknown_profiler(shared, tmp_path):
    ab = shared("data", "gmhi2020_validation", "validation_abundance.csv")
    meta = shared("data", "gmhi2020_validation", "validation_metadata.csv")
    base = ["reference", ab, "-m", meta, "--id-column", "Sample_Ids", "--healthy", "Phenotype=Healthy"]
    assert cli(*base, "-o", tmp_path / "a.json").exit_code == 0
    assert json.loads((tmp_path / "a.json").read_text())["profiler"] == "unknown"  # a CSV does not say
    assert cli(*base, "--profiler", "MetaPhlAn 2", "-o", tmp_path / "b.json").exit_code == 0
    assert json.loads((tmp_path / "b.json").read_text())["profiler"] == "MetaPhlAn 2"
