"""The ``gutaxis permanova`` and ``gutaxis meta`` commands: files written, same numbers as the API,
one clear error line for bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from gutaxis.cli import app
from gutaxis.demo import demo_cohort
from gutaxis.io import read_profile
from gutaxis.link.meta import meta_analysis
from gutaxis.link.permanova import permanova

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("link_stats")
    cohort = demo_cohort(n_healthy=12, n_dysbiotic=12, seed=4)
    counts = pd.DataFrame(cohort.layers["counts"], index=cohort.obs_names, columns=cohort.var_names)
    counts.index.name = "sample"
    counts.to_csv(d / "profile.tsv", sep="\t")
    meta = cohort.obs[["group", "age"]].rename(columns={"group": "Phenotype"}).copy()
    meta["study"] = np.where(np.arange(len(meta)) % 2 == 0, "A", "B")
    meta.to_csv(d / "meta.tsv", sep="\t")
    return d


def test_permanova_command_writes_the_api_table(files, tmp_path):
    out = tmp_path / "perm.tsv"
    result = runner.invoke(
        app,
        [
            "permanova",
            str(files / "profile.tsv"),
            "--metadata",
            str(files / "meta.tsv"),
            "--formula",
            "~ Phenotype + age",
            "--permutations",
            "199",
            "--seed",
            "3",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Phenotype" in result.output and str(out) in result.output
    table = pd.read_csv(out, sep="\t", index_col=0)
    assert list(table.index) == ["Phenotype", "age", "Residual", "Total"]
    record = json.loads(out.with_name("perm.tsv.json").read_text())
    assert (
        record["params"]["seed"] == 3 and record["n_samples"] == 24 and len(record["inputs"]["profile"]["sha256"]) == 64
    )
    adata = read_profile(files / "profile.tsv", metadata=files / "meta.tsv")
    api = permanova(adata, adata.obs, "~ Phenotype + age", permutations=199, seed=3)
    np.testing.assert_allclose(table["F"].to_numpy()[:2], api["F"].to_numpy()[:2], rtol=1e-12)
    np.testing.assert_allclose(table["p"].to_numpy()[:2], api["p"].to_numpy()[:2])
    assert table.loc["Phenotype", "p"] < 0.05  # the synthetic dysbiotic samples differ


def test_permanova_command_names_the_unknown_column(files, tmp_path):
    result = runner.invoke(
        app,
        [
            "permanova",
            str(files / "profile.tsv"),
            "-m",
            str(files / "meta.tsv"),
            "--formula",
            "~ Phenotyp",
            "-o",
            str(tmp_path / "x.tsv"),
        ],
    )
    assert result.exit_code == 2
    assert "error:" in result.output and "unknown column 'Phenotyp'" in result.output
    assert "Traceback" not in result.output


def test_meta_command_from_an_effects_file(tmp_path):
    yi = [
        -0.8893,
        -1.5854,
        -1.3481,
        -1.4416,
        -0.2175,
        -0.7861,
        -1.6209,
        0.012,
        -0.4694,
        -1.3713,
        -0.3394,
        0.4459,
        -0.0173,
    ]
    vi = [0.3256, 0.1946, 0.4154, 0.02, 0.0512, 0.0069, 0.223, 0.0039, 0.0564, 0.0734, 0.0124, 0.5325, 0.0714]
    long = pd.DataFrame(
        {"feature": "BCG vaccine", "study": [f"trial {i + 1}" for i in range(13)], "effect": yi, "variance": vi}
    )
    long.to_csv(tmp_path / "effects.tsv", sep="\t", index=False)
    out = tmp_path / "meta"
    result = runner.invoke(app, ["meta", str(tmp_path / "effects.tsv"), "-o", str(out), "--method", "DL"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "meta_analysis.tsv", sep="\t", index_col=0)
    expected = meta_analysis(np.array(yi), np.sqrt(vi), method="DL").table.iloc[0]
    assert table.loc["BCG vaccine", "estimate"] == pytest.approx(expected["estimate"], rel=1e-9)
    assert table.loc["BCG vaccine", "estimate"] == pytest.approx(-0.714, abs=1e-3)  # metafor's rounded dat.bcg
    svg = (out / "forest" / "BCG_vaccine.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "trial 13" in svg
    assert len(pd.read_csv(out / "study_effects.tsv", sep="\t")) == 13


def test_meta_command_per_study_from_a_profile(files, tmp_path):
    out = tmp_path / "per_study"
    args = [
        "meta",
        str(files / "profile.tsv"),
        "-m",
        str(files / "meta.tsv"),
        "--study",
        "study",
        "--label",
        "Phenotype",
        "--case",
        "dysbiotic",
        "--plots",
        "2",
        "-o",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "meta_analysis.tsv", sep="\t", index_col=0)
    assert (table["k"] == 2).any() and len(list((out / "forest").glob("*.svg"))) == 2
    studies = pd.read_csv(out / "studies.tsv", sep="\t", index_col=0)
    assert studies["n_case"].sum() == 12 and studies["n_control"].sum() == 12
    missing = runner.invoke(app, ["meta", str(files / "profile.tsv"), "-m", str(files / "meta.tsv"), "-o", str(out)])
    assert missing.exit_code == 2 and "--study, --label, --case needed" in missing.output
