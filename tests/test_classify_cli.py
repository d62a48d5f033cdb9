"""The ``gutaxis classify`` commands end to end on a small cohort: cv (with confounders, strata,
a saved model), predict, cross-study and confounders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _cli import cli
from typer.testing import CliRunner

from gutaxis.cli import app


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    d = tmp_path_factory.mktemp("classify")
    rng = np.random.default_rng(0)
    n, p = 60, 25
    y = np.r_[np.ones(30, int), np.zeros(30, int)]
    X = rng.lognormal(size=(n, p))
    X[y == 1, :3] *= 4
    X = X / X.sum(1, keepdims=True)
    ids = [f"S{i:02d}" for i in range(n)]
    pd.DataFrame(X, index=ids, columns=[f"taxon_{j}" for j in range(p)]).to_csv(
        d / "table.tsv", sep="\t", index_label="sample"
    )
    meta = pd.DataFrame(
        {
            "sample": ids,
            "disease": np.where(y == 1, "RA", "HC"),
            "site": np.where(y == 1, "north", "south"),
            "age": rng.normal(50, 10, n).round(1),
            "subject": [f"p{i // 2}" for i in range(n)],
            "study": ["A", "B", "C"] * 20,
        }
    )
    meta.loc[[5, 40], "disease"] = "unsure"  # neither case nor control with --control HC
    meta.to_csv(d / "meta.tsv", sep="\t", index=False)
    return d


def _run(args):
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    return r.output


def test_cv_writes_results_and_model_then_predict(cohort):
    out = cohort / "cv"
    text = _run(
        [
            "classify",
            "cv",
            str(cohort / "table.tsv"),
            str(cohort / "meta.tsv"),
            "--label",
            "disease",
            "--case",
            "RA",
            "--control",
            "HC",
            "-o",
            str(out),
            "--repeats",
            "2",
            "--folds",
            "5",
            "--groups",
            "subject",
            "--permutations",
            "3",
            "--within",
            "site",
            "--save-model",
            str(cohort / "model.pkl"),
        ]
    )
    assert "within-study: stratified 5-fold CV x 2 repeat(s), blocked by group" in text
    assert "auroc:" in text and "flagged confounder(s): site" in text
    for name in (
        "summary.tsv",
        "predictions.tsv",
        "consensus.tsv",
        "weights.tsv",
        "confounders.tsv",
        "within_strata.tsv",
        "permutations.tsv",
        "params.json",
        "report.html",
    ):
        assert (out / name).is_file(), name
    meta = json.loads((out / "params.json").read_text())
    assert meta["confounders_flagged"] == ["site"]
    assert any(f["n"] == 2 and "neither case nor control" in f["what"] for f in meta["filtered"])
    preds = pd.read_csv(out / "predictions.tsv", sep="\t")
    assert set(preds["class"]) == {"RA", "HC"} and preds["sample"].nunique() == 58
    conf = pd.read_csv(out / "confounders.tsv", sep="\t").set_index("column")
    assert conf.loc["site", "flagged"] and "subject" not in conf.index  # the blocking column is not a confounder
    text = _run(
        ["classify", "predict", str(cohort / "model.pkl"), str(cohort / "table.tsv"), "-o", str(cohort / "pred.tsv")]
    )
    assert "60 sample(s) scored" in text
    pred = pd.read_csv(cohort / "pred.tsv", sep="\t")
    assert list(pred.columns) == ["sample", "probability", "predicted"] and set(pred["predicted"]) <= {"RA", "HC"}


def test_cross_study_and_confounders_commands(cohort):
    text = _run(
        [
            "classify",
            "cross-study",
            str(cohort / "table.tsv"),
            str(cohort / "meta.tsv"),
            "--label",
            "disease",
            "--case",
            "RA",
            "--control",
            "HC",
            "--study",
            "study",
            "-o",
            str(cohort / "loso"),
            "--model",
            "ridge",
        ]
    )
    assert "leave-one-study-out over 3 studies" in text and "train all but A -> test A" in text
    t = pd.read_csv(cohort / "loso" / "cross_study.tsv", sep="\t")
    assert list(t["test"]) == ["A", "B", "C"]
    _run(
        [
            "classify",
            "cross-study",
            str(cohort / "table.tsv"),
            str(cohort / "meta.tsv"),
            "--label",
            "disease",
            "--case",
            "RA",
            "--control",
            "HC",
            "--study",
            "study",
            "-o",
            str(cohort / "matrix"),
            "--mode",
            "matrix",
            "--folds",
            "3",
            "--repeats",
            "1",
            "--model",
            "ridge",
            "--no-report",
        ]
    )
    m = pd.read_csv(cohort / "matrix" / "auroc_matrix.tsv", sep="\t", index_col=0)
    assert m.shape == (3, 3)
    text = _run(
        [
            "classify",
            "confounders",
            str(cohort / "meta.tsv"),
            "--label",
            "disease",
            "--case",
            "RA",
            "--control",
            "HC",
            "-o",
            str(cohort / "conf.tsv"),
        ]
    )
    assert "site: AUROC 1.000  FLAGGED" in text and "flagged at AUROC >= 0.75: site" in text


def test_cv_refuses_bad_options(cohort):
    r = CliRunner().invoke(
        app,
        [
            "classify",
            "cv",
            str(cohort / "table.tsv"),
            str(cohort / "meta.tsv"),
            "--label",
            "disease",
            "--case",
            "RA",
            "-o",
            str(cohort / "bad"),
            "--model",
            "svm",
        ],
    )
    assert r.exit_code == 2 and "unknown model 'svm'" in r.output
    r = CliRunner().invoke(
        app,
        [
            "classify",
            "cv",
            str(cohort / "table.tsv"),
            str(cohort / "meta.tsv"),
            "--label",
            "disease",
            "--case",
            "RA",
            "-o",
            str(cohort / "bad2"),
            "--groups",
            "subject",
        ],
    )
    # without --control the 'unsure' sample S05 is a control, so subject p2 (S04 RA, S05) spans both classes
    assert r.exit_code == 2 and "hold both classes, e.g. group 'p2'" in " ".join(r.output.split())


def test_cv_checks_the_model_path_first_and_writes_all_or_nothing(cohort, tmp_path, monkeypatch):
    args = [
        "classify",
        "cv",
        cohort / "table.tsv",
        cohort / "meta.tsv",
        "--label",
        "disease",
        "--case",
        "RA",
        "--control",
        "HC",
        "--folds",
        "3",
        "--repeats",
        "1",
        "--no-confounders",
        "-o",
        tmp_path / "o",
    ]

    def boom(*a, **k):
        raise AssertionError("inputs read before the output paths were checked")

    monkeypatch.setattr("gutaxis.io.read_metadata", boom)
    (tmp_path / "d").mkdir()
    r = cli(*args, "--save-model", tmp_path / "d")
    assert r.exit_code == 2 and "is a folder, not a file" in r.output, r.output
    r = cli(*args, "--save-model", tmp_path / "o" / "model.pkl")  # replacing the folder would delete it
    assert r.exit_code == 2 and "inside the results folder" in r.output, r.output
    # a failure while writing the results leaves neither the folder nor the model
    monkeypatch.undo()

    def fail(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("gutaxis.report.classify.write_html", fail)
    r = cli(*args, "--save-model", tmp_path / "model.pkl")
    assert r.exit_code != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"], list(tmp_path.iterdir())
