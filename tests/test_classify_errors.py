"""Acceptance (e): bad input gives one clear InputError naming the cause (API and CLI)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from gutaxis.classify import (
    check_confounders,
    cross_validate,
    fit,
    labels_from_metadata,
    leave_one_study_out,
    make_classifier,
)
from gutaxis.cli import app
from gutaxis.errors import InputError


def _toy(n=30, p=10, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        rng.dirichlet(np.ones(p), n), index=[f"s{i:02d}" for i in range(n)], columns=[f"t{j}" for j in range(p)]
    )
    y = pd.Series(np.r_[np.ones(n // 2, int), np.zeros(n - n // 2, int)], index=X.index)
    return X, y


def test_fewer_than_five_per_class():
    X, y = _toy()
    y.iloc[:12] = 0  # 3 cases left
    with pytest.raises(InputError, match=r"class .* has 3 sample\(s\).*fewer than 5"):
        cross_validate("lasso", X, y, n_splits=3)


def test_one_class():
    X, _ = _toy()
    with pytest.raises(InputError, match="one class only"):
        cross_validate("lasso", X, pd.Series(1, index=X.index))


def test_missing_labels_are_named():
    X, y = _toy()
    y = y.astype(float)
    y.iloc[[3, 7]] = np.nan
    with pytest.raises(InputError, match=r"2 sample\(s\) have no label: 's03', 's07'"):
        cross_validate("lasso", X, y)
    with pytest.raises(InputError, match="have no label"):
        cross_validate("lasso", X, y.drop(index=["s03"]))  # a sample of the table without a label at all
    # asked for: samples without a label left out, and reported
    with pytest.warns(UserWarning, match="left out"):
        res = cross_validate("ridge", X, y, match="labelled", n_splits=3, n_repeats=1, n_bootstrap=10)
    assert res.provenance["n_samples"] == 28 and res.filtered[0]["n"] == 2


def test_group_spanning_both_classes():
    X, y = _toy()
    groups = pd.Series([f"g{i // 2}" for i in range(30)], index=X.index)  # g7 = s14 (case) + s15 (control)
    with pytest.raises(InputError, match=r"hold both classes, e.g. group 'g7'.*mixed_groups=True"):
        cross_validate("lasso", X, y, groups=groups, n_splits=3)
    res = cross_validate("ridge", X, y, groups=groups, mixed_groups=True, n_splits=3, n_repeats=1, n_bootstrap=10)
    assert res.scheme["blocked"]


def test_too_many_features_for_a_model():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(
        rng.random((20, 25_000)), index=[f"s{i}" for i in range(20)], columns=[f"f{j}" for j in range(25_000)]
    )
    y = pd.Series(np.r_[np.ones(10, int), np.zeros(10, int)], index=X.index)
    with pytest.raises(InputError, match=r"25,000 features reach the model 'gb', which takes at most 20,000"):
        cross_validate(make_classifier("gb", filter=None), X, y, n_splits=2, n_repeats=1)
    with pytest.raises(InputError, match="asked to select 30000 features but only 25000"):
        cross_validate(make_classifier("lasso", filter=None, select=30000), X, y, n_splits=2, n_repeats=1)


def test_more_folds_than_samples_of_a_class():
    X, y = _toy()
    with pytest.raises(InputError, match="fewer than the 20 folds"):
        cross_validate("lasso", X, y, n_splits=20)


def test_labels_more_than_two_classes_and_unknown_case():
    X, _ = _toy()
    y3 = pd.Series(["a", "b", "c"] * 10, index=X.index)
    with pytest.raises(InputError, match="3 classes"):
        cross_validate("lasso", X, y3)
    meta = pd.DataFrame({"dx": ["RA"] * 15 + ["HC"] * 15}, index=X.index)
    with pytest.raises(InputError, match=r"case value.*'SLE'.*do not occur"):
        labels_from_metadata(meta, "dx", case="SLE")
    with pytest.raises(InputError, match="no column 'diagnosis'"):
        labels_from_metadata(meta, "diagnosis", case="RA")


def test_bad_table_and_study():
    X, y = _toy()
    bad = X.copy()
    bad.iloc[2, 3] = -1.0
    with pytest.raises(InputError, match="negative abundance"):
        cross_validate("lasso", bad, y)
    with pytest.raises(InputError, match="one study only"):
        leave_one_study_out("lasso", X, y, pd.Series("A", index=X.index))
    with pytest.raises(InputError, match="unknown model"):
        fit("svm", X, y)


def test_predict_with_no_shared_feature():
    X, y = _toy()
    model = fit(make_classifier("ridge", filter=None), X, y)
    other = X.rename(columns=lambda c: "x" + c)
    with pytest.raises(InputError, match="none of the model's 10 features is in the table"):
        model.predict(other)


def test_confounders_need_metadata_for_every_sample():
    X, y = _toy()
    meta = pd.DataFrame({"age": np.arange(30)}, index=X.index).iloc[:25]  # s25..s29 have no row
    with pytest.raises(InputError, match=r"5 labelled sample\(s\) have no metadata row"):
        check_confounders(meta, y)


def test_cli_prints_one_error_line(tmp_path):
    X, _ = _toy()
    X.to_csv(tmp_path / "t.tsv", sep="\t", index_label="sample")
    meta = pd.DataFrame({"sample": X.index, "dx": ["RA"] * 3 + ["HC"] * 27})
    meta.to_csv(tmp_path / "m.tsv", sep="\t", index=False)
    r = CliRunner().invoke(
        app,
        [
            "classify",
            "cv",
            str(tmp_path / "t.tsv"),
            str(tmp_path / "m.tsv"),
            "--label",
            "dx",
            "--case",
            "RA",
            "-o",
            str(tmp_path / "out"),
        ],
    )
    assert r.exit_code == 2
    assert "error:" in r.output and "class 'RA' has 3 sample(s)" in r.output
    assert "Traceback" not in r.output
