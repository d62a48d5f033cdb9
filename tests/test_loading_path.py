"""Issue 13, "one loading path": every command reads a profile and its metadata the same way.

The profile is a real merged MetaPhlAn table: 32 MetaPhlAn 2 stool profiles of two studies of
MetAML's collection (../shared/data/metaml_pasolli2016: Qin's liver cirrhosis and Zeller's
colorectal cancer cohorts, 8 controls and 8 cases each), written as ``merge_metaphlan_tables.py``
writes a merged table: an optional ``#mpa_...`` database line, a ``clade_name`` header with one
column per sample, every clade of every rank of any sample, 0 where a sample lacks it. The
expected samples and species are taken from that text by hand (the ``s__`` rows), not from
gutaxis.

Cases 2, 5, 7, 8 and 11 of the issue each have a test named after them that fails on the code
before the issue (associate's own reader and matching, no ``--intersection`` in
report/permanova, no provenance in associate's params.json, no warning for a 1/2 code, no
``C()`` in associate, ``--fixed`` split inside a column name, case-only ID mismatches not named
and flipping the orientation guess).
"""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from _cli import cli

import gutaxis
from gutaxis.errors import InputError
from gutaxis.link.associate import associate

STUDIES = {"Quin_gut_liver_cirrhosis": "cirrhosis", "Zeller_fecal_colorectal_cancer": "cancer"}
PER_GROUP = 8


def _digest(ids) -> str:
    """sha256 of the IDs one per line: the same digest the commands record (written out here)."""
    return hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()


def _file_sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def metaml(shared):
    """MetAML's stool table as text: metadata rows then MetaPhlAn 2 clade rows (percent)."""
    return pd.read_csv(
        shared("data", "metaml_pasolli2016", "abundance_stoolsubset.txt.bz2"),
        sep="\t",
        index_col=0,
        header=None,
        dtype=str,
    )


def _cohort(metaml):
    """The chosen columns (controls then cases of each study, in the file's order) and their metadata."""
    ds, disease = metaml.loc["dataset_name"], metaml.loc["disease"]
    cols = []
    for study, case in STUDIES.items():
        cols += list(metaml.columns[(ds == study) & (disease == "n")][:PER_GROUP])
        cols += list(metaml.columns[(ds == study) & (disease == case)][:PER_GROUP])
    meta = pd.DataFrame(
        {
            "sample_id": metaml.loc["sampleID", cols].to_numpy(),
            "study": ds[cols].to_numpy(),
            "status": np.where(disease[cols].to_numpy() == "n", "control", "case"),
            "age": metaml.loc["age", cols].to_numpy(),
        }
    )
    return cols, meta


def write_merged(metaml, path, *, database: str | None = "#mpa_v20_m200"):
    """The merged MetaPhlAn table of the 32 profiles, as merge_metaphlan_tables.py lays it out.
    Returns (samples, species names, species rows as percent) read from the text written."""
    cols, _ = _cohort(metaml)
    clades = [c for c in metaml.index if c.startswith("k__")]
    values = metaml.loc[clades, cols]
    present = (values.astype(float) > 0).any(axis=1)
    rows = values[present.to_numpy()]
    samples = list(metaml.loc["sampleID", cols])
    lines = ([database] if database else []) + ["\t".join(["clade_name", *samples])]
    lines += ["\t".join([clade, *row]) for clade, row in zip(rows.index, rows.to_numpy(), strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # by hand: species rows are those whose last rank is s__ (t__ rows subdivide them)
    species_rows = [c for c in rows.index if c.split("|")[-1].startswith("s__")]
    names = [c.split("|")[-1][3:].replace("_", " ") for c in species_rows]
    percent = rows.loc[species_rows].astype(float).T
    percent.index, percent.columns = samples, names
    return samples, names, percent, len(rows)


@pytest.fixture()
def merged(metaml, tmp_path):
    table = tmp_path / "merged_metaphlan.tsv"
    samples, species, percent, n_rows = write_merged(metaml, table)
    _, meta = _cohort(metaml)
    mpath = tmp_path / "metadata.tsv"
    meta.to_csv(mpath, sep="\t", index=False)
    return {
        "table": table,
        "metadata": mpath,
        "samples": samples,
        "species": species,
        "percent": percent,
        "n_rows": n_rows,
        "meta": meta.set_index("sample_id"),
    }


def _ok(res):
    assert res.exit_code == 0, res.output
    return res


# ------------------------------------------------------------------ the same table in every command
def test_merged_metaphlan_same_samples_and_features_in_every_command(merged, tmp_path):
    t, m = merged["table"], merged["metadata"]
    samples, species = merged["samples"], merged["species"]
    assert 100 < len(species) < merged["n_rows"] / 2  # species only: not all ranks and strains

    # report: indices.tsv lists the samples; summary.json the number of taxa read
    _ok(cli("report", t, "-m", m, "-o", tmp_path / "report", "-g", "status"))
    indices = pd.read_csv(tmp_path / "report" / "indices.tsv", sep="\t", index_col=0)
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert list(indices.index.astype(str)) == samples
    assert summary["provenance"]["input"]["n_taxa"] == len(species)

    # associate: a row per feature in all_results.tsv; params.json's record of the samples and features
    _ok(cli("associate", t, "-m", m, "-o", tmp_path / "assoc", "--fixed", "status", "--reference", "status,control"))
    results = pd.read_csv(tmp_path / "assoc" / "all_results.tsv", sep="\t")
    assert set(results["taxon"]) == set(species)
    prov = json.loads((tmp_path / "assoc" / "params.json").read_text())["provenance"]
    assert prov["samples"] == {"n": len(samples), "sha256": _digest(samples)}
    assert prov["features"] == {"n": len(species), "sha256": _digest(species)}

    # permanova: the record beside its table
    _ok(
        cli(
            "permanova",
            t,
            "-m",
            m,
            "--formula",
            "~ status",
            "--permutations",
            "9",
            "--seed",
            "1",
            "-o",
            tmp_path / "perm.tsv",
        )
    )
    record = json.loads((tmp_path / "perm.tsv.json").read_text())
    assert record["samples"] == prov["samples"] and record["features"] == prov["features"]
    assert record["n_samples"] == len(samples)

    # meta on the profile: one row per feature seen in the studies' samples
    _ok(
        cli(
            "meta",
            t,
            "-m",
            m,
            "--study",
            "study",
            "--label",
            "status",
            "--case",
            "case",
            "--plots",
            "0",
            "-o",
            tmp_path / "meta",
        )
    )
    effects = pd.read_csv(tmp_path / "meta" / "study_effects.tsv", sep="\t")
    assert set(effects["feature"]) == set(species)
    assert set(effects["study"]) == set(STUDIES)

    # classify: every sample predicted; every feature weighted (no filter)
    _ok(
        cli(
            "classify",
            "cv",
            t,
            m,
            "--label",
            "status",
            "--case",
            "case",
            "--filter",
            "pass",
            "--folds",
            "4",
            "--repeats",
            "1",
            "--no-confounders",
            "--no-report",
            "-o",
            tmp_path / "classify",
        )
    )
    pred = pd.read_csv(tmp_path / "classify" / "predictions.tsv", sep="\t")
    weights = pd.read_csv(tmp_path / "classify" / "weights.tsv", sep="\t")
    assert set(pred["sample"].astype(str)) == set(samples)
    assert set(weights["feature"]) == set(species)


# ------------------------------------------------------------------ case 2: one reader, one denominator
def test_case02_merged_metaphlan_through_associate_api_and_cli(merged, metaml, tmp_path):
    """A merged MetaPhlAn table, with or without its comment line, given to the API as a path or
    to the command: the species only (not all ranks), modelled as the other commands read them."""
    t, m, species, percent = merged["table"], merged["metadata"], merged["species"], merged["percent"]
    bare = tmp_path / "merged_no_comment.tsv"
    write_merged(metaml, bare, database=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = associate(
            str(bare),
            str(m),
            fixed_effects="status",
            reference="status,control",
            normalization="NONE",
            transform="NONE",
            min_prevalence=0.0,
            standardize=False,
        )
    assert set(api.results["taxon"]) == set(species)
    # a two-level factor alone: the coefficient is the difference of the group means of the
    # values modelled, which must be the relative abundances every other command reads (the
    # shared reader's X, fractions of the sample's reads), not MetaPhlAn's percentages
    meta = merged["meta"]
    shared_reader = gutaxis.read_profile(t)
    rel = pd.DataFrame(np.asarray(shared_reader.X), index=shared_reader.obs_names, columns=shared_reader.var_names)
    assert list(rel.columns) == species
    # those are the file's species values scaled per sample (one factor per sample, whatever the
    # denominator): checked against the text
    ratio = rel / percent[rel.columns]
    ratio = ratio.where(percent[rel.columns] > 0)
    assert np.nanmax(ratio.max(axis=1) / ratio.min(axis=1) - 1) < 1e-9
    is_case = (meta.loc[rel.index, "status"] == "case").to_numpy()
    expected = rel[is_case].mean() - rel[~is_case].mean()
    got = api.results.set_index("taxon")["coef"]
    shared_taxa = expected.index[expected.abs() > 1e-4]
    np.testing.assert_allclose(got[shared_taxa].to_numpy(), expected[shared_taxa].to_numpy(), rtol=1e-9)
    assert api.provenance["inputs"]["profile"]["sha256"] == _file_sha256(bare)

    # the command on both layouts: the same features and the same numbers
    for path, out in ((t, "with"), (bare, "without")):
        _ok(
            cli(
                "associate",
                path,
                "-m",
                m,
                "-o",
                tmp_path / out,
                "--fixed",
                "status",
                "--reference",
                "status,control",
                "--normalization",
                "NONE",
                "--transform",
                "NONE",
                "--min-prevalence",
                "0",
                "--no-standardize",
            )
        )
    a = pd.read_csv(tmp_path / "with" / "all_results.tsv", sep="\t").set_index("taxon")
    b = pd.read_csv(tmp_path / "without" / "all_results.tsv", sep="\t").set_index("taxon")
    assert set(a.index) == set(species) and set(b.index) == set(species)
    np.testing.assert_allclose(a.loc[shared_taxa, "coef"], expected[shared_taxa].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(b.loc[a.index, "coef"], a["coef"], rtol=1e-12)


def test_case02_single_metaphlan3_profile_as_merged_table_gives_54_species(shared, tmp_path):
    """SRR1761667 (MetaPhlAn 3, 70.8 % UNKNOWN) rewritten as a one-sample merged table without
    the comment line: 54 species (its s__ rows), not 140 rows of all ranks plus UNKNOWN."""
    from gutaxis.cli._inputs import load_profile

    lines = shared("data", "gmwi2_example", "SRR1761667_metaphlan.txt").read_text().splitlines()
    body = [ln.split("\t") for ln in lines if not ln.startswith("#")]
    assert len(body) == 140
    table = tmp_path / "merged.tsv"
    table.write_text("clade_name\tNCBI_tax_id\tSRR1761667\n" + "".join(f"{b[0]}\t{b[1]}\t{b[2]}\n" for b in body))
    species = [b[0].split("|")[-1][3:].replace("_", " ") for b in body if b[0].split("|")[-1].startswith("s__")]
    assert len(species) == 54
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = load_profile(table)
    assert list(adata.var_names) == species


# ------------------------------------------------------------------ case 5: --intersection everywhere
def _mismatched_metadata(merged, tmp_path):
    """The metadata without the first two samples and with one row of a sample the table lacks."""
    meta = merged["meta"].iloc[2:].copy()
    meta.loc["NOT-IN-TABLE"] = meta.iloc[0]
    path = tmp_path / "metadata_mismatch.tsv"
    meta.to_csv(path, sep="\t", index_label="sample_id")
    return path


@pytest.mark.parametrize("command", ["report", "permanova", "associate"])
def test_case05_intersection_in_report_permanova_associate(merged, tmp_path, command):
    t, samples = merged["table"], merged["samples"]
    m = _mismatched_metadata(merged, tmp_path)
    out = tmp_path / ("out.tsv" if command == "permanova" else "out")
    extra = {
        "report": [],
        "permanova": ["--formula", "~ status", "--permutations", "9", "--seed", "1"],
        "associate": ["--fixed", "status", "--reference", "status,control"],
    }[command]
    args = [command, t, "-m", m, "-o", out, *extra]
    refused = cli(*args)
    assert refused.exit_code == 2, refused.output
    assert "--intersection" in refused.output and "how=" not in refused.output
    assert repr(samples[0]) in refused.output  # names the samples without metadata
    assert not out.exists()
    done = _ok(cli(*args, "--intersection"))
    warned = [ln for ln in done.output.splitlines() if ln.startswith("warning:") and "NOT-IN-TABLE" in ln]
    assert warned, done.output
    assert "2 samples without metadata dropped" in warned[0] and repr(samples[0]) in warned[0]
    assert "1 metadata rows matching no sample left out" in warned[0]
    if command == "permanova":
        assert json.loads((tmp_path / "out.tsv.json").read_text())["n_samples"] == len(samples) - 2
    elif command == "report":
        kept = pd.read_csv(out / "indices.tsv", sep="\t", index_col=0).index.astype(str)
        assert list(kept) == samples[2:]


# ------------------------------------------------------------------ case 7: provenance in associate's output
def test_case07_associate_records_inputs_checksums_parameters_version(merged, tmp_path):
    t, m = merged["table"], merged["metadata"]
    _ok(
        cli(
            "associate",
            t,
            m,
            "-o",
            tmp_path / "o",
            "--fixed",
            "status",
            "--reference",
            "status,control",
            "--min-prevalence",
            "0.2",
        )
    )
    prov = json.loads((tmp_path / "o" / "params.json").read_text())["provenance"]
    assert prov["command"] == "gutaxis associate" and prov["gutaxis_version"] == gutaxis.__version__
    assert prov["inputs"]["profile"] == {
        "path": str(t),
        "sha256": _file_sha256(t),
        "reader": "metaphlan",
        "format": "metaphlan",
    }
    assert prov["inputs"]["metadata"] == {"path": str(m), "sha256": _file_sha256(m)}
    assert prov["params"]["min_prevalence"] == 0.2 and prov["params"]["fixed_effects"] == ["status"]
    assert prov["environment"]["packages"]["numpy"] == np.__version__
    # permanova writes the same record, from the same helper
    _ok(cli("permanova", t, "-m", m, "--formula", "~ status", "--permutations", "0", "-o", tmp_path / "p.tsv"))
    record = json.loads((tmp_path / "p.tsv.json").read_text())
    assert set(record) >= set(prov) - {"filtered"}
    assert record["inputs"] == prov["inputs"]


# ------------------------------------------------------------------ case 8: 1/2 codes, C(), commas in names
GROUP = "Group (1=HC,2=RA)"


@pytest.fixture(scope="module")
def ra1000(shared, tmp_path_factory):
    """1000RA: the first 30 controls (1) and 30 patients (2) of the metadata, the 20 most abundant taxa."""
    meta = pd.read_csv(shared("data", "ra1000_16s", "ra1000_sample_metadata.tsv"), sep="\t", index_col=0, dtype=str)
    counts = pd.read_csv(shared("data", "ra1000_16s", "ra1000_genus_counts.tsv.gz"), sep="\t", index_col=0)
    group = meta[GROUP]
    ids = [
        i for i in list(group[group == "1"].index[:30]) + list(group[group == "2"].index[:30]) if i in counts.columns
    ]
    sub = counts[ids]
    sub = sub.loc[sub.sum(axis=1).sort_values(ascending=False).index[:20]]
    folder = tmp_path_factory.mktemp("ra1000")
    table, mpath = folder / "genus_counts.tsv", folder / "metadata.tsv"
    sub.to_csv(table, sep="\t")
    meta.loc[ids, [GROUP, "Age", "Location"]].to_csv(mpath, sep="\t")
    return table, mpath, sub.T, meta.loc[ids, GROUP].astype(int)


def test_case08_two_valued_numeric_warns(ra1000, tmp_path):
    table, mpath, counts, group = ra1000
    common = ["--normalization", "NONE", "--transform", "NONE", "--min-prevalence", "0", "--no-standardize"]
    # the column name holds a comma: one --fixed value, never split at it
    res = _ok(cli("associate", table, mpath, "-o", tmp_path / "num", "--fixed", GROUP, *common))
    warned = [ln for ln in res.output.splitlines() if ln.startswith("warning:") and "two numbers" in ln]
    assert warned and GROUP in warned[0] and "treated as continuous" in warned[0] and "C(" in warned[0], res.output
    # C(column) in --fixed, as permanova's formulas take it: no warning, one level against the other
    res_c = _ok(cli("associate", table, mpath, "-o", tmp_path / "cat", "--fixed", f"C({GROUP})", *common))
    assert not [ln for ln in res_c.output.splitlines() if "two numbers" in ln]
    num = pd.read_csv(tmp_path / "num" / "all_results.tsv", sep="\t").set_index("taxon")
    cat = pd.read_csv(tmp_path / "cat" / "all_results.tsv", sep="\t").set_index("taxon")
    assert set(num["metadata"]) == {GROUP} and set(cat["metadata"]) == {f"C({GROUP})"}
    assert set(cat["value"].astype(str)) == {"2"}
    # by hand: with the counts as given, a 1/2 code's slope and the level-2 contrast are both the
    # difference of the group means
    expected = counts[group.to_numpy() == 2].mean() - counts[group.to_numpy() == 1].mean()
    np.testing.assert_allclose(num.loc[expected.index, "coef"], expected.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(cat.loc[expected.index, "coef"], expected.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(cat.loc[expected.index, "pval"], num.loc[expected.index, "pval"], rtol=1e-9)
    # repeated --fixed, and C() in a formula
    _ok(cli("associate", table, mpath, "-o", tmp_path / "two", "--fixed", f"C({GROUP})", "--fixed", "Age", *common))
    assert set(pd.read_csv(tmp_path / "two" / "all_results.tsv", sep="\t")["metadata"]) == {f"C({GROUP})", "Age"}
    _ok(cli("associate", table, mpath, "-o", tmp_path / "formula", "--formula", f"~ C(`{GROUP}`)", *common))
    form = pd.read_csv(tmp_path / "formula" / "all_results.tsv", sep="\t").set_index("taxon")
    np.testing.assert_allclose(form.loc[expected.index, "coef"], expected.to_numpy(), rtol=1e-9)


# ------------------------------------------------------------------ case 11: IDs differing only in case
def test_case11_case_only_id_mismatch_named_and_orientation_kept(ra1000, tmp_path):
    _, mpath, counts, _ = ra1000
    # samples as rows, taxa named by their genus alone (nothing says which axis holds the samples
    # but the metadata's IDs), and metadata IDs written in lower case
    frame = counts.copy()
    frame.columns = [c.split(";")[-1].split("__")[-1] or f"taxon{k}" for k, c in enumerate(frame.columns)]
    frame = frame.T.groupby(level=0).sum().T
    rows = tmp_path / "samples_as_rows.tsv"
    frame.to_csv(rows, sep="\t", index_label="ID")
    meta = pd.read_csv(mpath, sep="\t", index_col=0)
    lower = tmp_path / "metadata_lower.tsv"
    meta.set_axis(meta.index.str.lower()).to_csv(lower, sep="\t", index_label="SampleID")
    first = frame.index[0]
    for command, meta_arg, out, extra in (
        ("associate", [lower], "a", ["--fixed", "Age"]),
        ("permanova", ["-m", lower], "p.tsv", ["--formula", "~ Age"]),
    ):
        res = cli(command, rows, *meta_arg, "-o", tmp_path / out, *extra)
        assert res.exit_code == 2, res.output
        text = " ".join(res.output.split())
        assert (
            f"{len(frame)} sample ids differ only by letter case, for example {first!r} (profile) vs "
            f"{first.lower()!r} (metadata)" in text
        )
        assert not any(repr(g) in text for g in frame.columns[:5])  # taxa never listed as samples
    # a few in another case: named among the mismatches
    some = meta.copy()
    some.index = [i.lower() if k < 3 else i for k, i in enumerate(some.index)]
    part = tmp_path / "metadata_some.tsv"
    some.to_csv(part, sep="\t", index_label="SampleID")
    res = cli("associate", rows, part, "-o", tmp_path / "b", "--fixed", "Age")
    assert res.exit_code == 2 and "3 sample ids differ only by letter case" in " ".join(res.output.split())
    # the API on DataFrames says the same
    with pytest.raises(InputError, match="differ only by letter case"):
        associate(frame, meta.set_axis(meta.index.str.lower()), fixed_effects="Age")


def test_h5ad_carrying_metadata_columns_takes_the_metadata_file(ra1000, tmp_path):
    """An .h5ad whose obs already holds the metadata's columns: the file given replaces them
    (warned), as associate read it before the shared path; permanova and report do the same."""
    table, mpath, _, _ = ra1000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cohort = gutaxis.read_profile(table, metadata=mpath)
    cohort.obs["Age"] = 0.0  # stale values in the h5ad: the metadata file's must be the ones used
    h5ad = tmp_path / "cohort.h5ad"
    gutaxis.io.write_h5ad(cohort, h5ad)
    res = _ok(cli("associate", h5ad, mpath, "-o", tmp_path / "a", "--fixed", "Age"))
    assert any("replaced by those of the metadata file" in ln for ln in res.output.splitlines()), res.output
    assert set(pd.read_csv(tmp_path / "a" / "all_results.tsv", sep="\t")["metadata"]) == {"Age"}
    _ok(
        cli(
            "permanova",
            h5ad,
            "-m",
            mpath,
            "--formula",
            f"~ C(`{GROUP}`)",
            "--permutations",
            "0",
            "-o",
            tmp_path / "p.tsv",
        )
    )


def test_reference_and_meta_take_intersection_too(merged, tmp_path):
    """Every command that reads a profile with metadata has the same options and errors."""
    t, samples = merged["table"], merged["samples"]
    m = _mismatched_metadata(merged, tmp_path)
    for args, out in (
        (["reference", t, "-m", m, "--healthy", "status=control"], tmp_path / "ref.json"),
        (
            ["meta", t, "-m", m, "--study", "study", "--label", "status", "--case", "case", "--plots", "0"],
            tmp_path / "meta",
        ),
    ):
        refused = cli(*args, "-o", out)
        assert refused.exit_code == 2 and "--intersection" in refused.output and repr(samples[0]) in refused.output
        _ok(cli(*args, "-o", out, "--intersection"))
