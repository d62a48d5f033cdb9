"""Outputs of gutaxis.classify: the tables, CIs, consensus, determinism, written files, the
frozen predict path, the confounder report (MetAML IBD country) and cross-study validation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gutaxis.classify import (
    check_confounders,
    cross_validate,
    fit,
    leave_one_study_out,
    load_model,
    make_classifier,
    study_matrix,
    within_strata,
)


def _cohort(n=60, p=30, seed=0, shift=3.0, study=None):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n // 2, int), np.zeros(n - n // 2, int)]
    X = rng.lognormal(size=(n, p))
    X[y == 1, :3] *= shift
    X = X / X.sum(1, keepdims=True)
    pre = f"{study}_" if study else ""
    idx = [f"{pre}s{i:03d}" for i in range(n)]
    return pd.DataFrame(X, index=idx, columns=[f"t{j:02d}" for j in range(p)]), pd.Series(y, index=idx, name="dx")


@pytest.fixture(scope="module")
def result():
    X, y = _cohort()
    return cross_validate("lasso", X, y, n_splits=5, n_repeats=3, n_permutations=5, random_state=11, n_bootstrap=200)


def test_tables_and_cis(result):
    r = result
    assert len(r.predictions) == 60 * 3 and r.predictions["probability"].notna().all()
    assert set(r.predictions.columns) >= {"sample", "label", "class", "repeat", "fold", "probability"}
    assert len(r.folds) == 15 and len(r.repeats) == 3
    s = r.summary.set_index("metric")
    assert list(s.index) == ["auroc", "auprc", "balanced_accuracy"]
    for m in s.index:
        assert s.loc[m, "ci_low"] <= s.loc[m, "mean_prediction"] <= s.loc[m, "ci_high"]
        assert s.loc[m, "repeat_ci_low"] <= s.loc[m, "repeat_mean"] <= s.loc[m, "repeat_ci_high"]
    assert s.loc["auroc", "mean_prediction"] > 0.75
    # the mean prediction is the average over repeats, and its AUROC recomputed independently
    from sklearn.metrics import roc_auc_score

    mp = r.predictions.groupby("sample")["probability"].mean()
    np.testing.assert_allclose(r.mean_prediction.set_index("sample")["probability"].loc[mp.index], mp)
    lab = r.mean_prediction.set_index("sample")["label"].loc[mp.index]
    assert r.auroc == pytest.approx(roc_auc_score(lab, mp))
    assert r.permutations.shape[0] == 5 and 0 < r.p_value <= 1
    assert "bootstrap" in s.loc["auroc", "ci_kind"]
    assert r.scheme["kind"] == "within-study"


def test_consensus_marks_the_informative_features(result):
    c = result.consensus
    assert (c["n_models"] == 15).all()
    top = set(c[c["robust"]]["feature"])
    assert {"t00", "t01", "t02"} <= top
    assert (c.set_index("feature").loc[["t00", "t01", "t02"], "fraction_positive"] == 1).all()
    w = result.weights
    assert set(w.columns) >= {"repeat", "fold", "feature", "weight", "kind"} and (w["kind"] == "coef").all()


def test_deterministic_and_independent_of_row_and_column_order():
    X, y = _cohort(seed=3)
    a = cross_validate("enet", X, y, n_splits=5, n_repeats=2, random_state=5, n_bootstrap=50)
    b = cross_validate("enet", X, y, n_splits=5, n_repeats=2, random_state=5, n_bootstrap=50)
    pd.testing.assert_frame_equal(a.predictions, b.predictions)
    rng = np.random.default_rng(0)
    Xs = X.iloc[rng.permutation(len(X)), rng.permutation(X.shape[1])]
    c = cross_validate("enet", Xs, y.loc[Xs.index], n_splits=5, n_repeats=2, random_state=5, n_bootstrap=50)
    pd.testing.assert_frame_equal(a.predictions, c.predictions)
    assert a.provenance["input_sha256"] == c.provenance["input_sha256"]
    par = cross_validate("enet", X, y, n_splits=5, n_repeats=2, random_state=5, n_bootstrap=50, n_jobs=2)
    pd.testing.assert_frame_equal(a.predictions, par.predictions)  # parallel folds: same numbers
    d = cross_validate("enet", X, y, n_splits=5, n_repeats=2, random_state=6, n_bootstrap=50)
    assert not np.allclose(a.predictions["probability"], d.predictions["probability"])
    rf1 = cross_validate(
        make_classifier("rf", n_estimators=20), X, y, n_splits=3, n_repeats=1, random_state=1, n_bootstrap=10
    )
    rf2 = cross_validate(
        make_classifier("rf", n_estimators=20), X, y, n_splits=3, n_repeats=1, random_state=1, n_bootstrap=10
    )
    pd.testing.assert_frame_equal(rf1.predictions, rf2.predictions)
    assert (rf1.weights["kind"] == "importance").all()


def test_write_files(result, tmp_path):
    paths = result.write(tmp_path / "out")
    names = {p.name for p in paths.values()}
    assert {
        "summary.tsv",
        "predictions.tsv",
        "mean_predictions.tsv",
        "folds.tsv",
        "repeats.tsv",
        "weights.tsv",
        "consensus.tsv",
        "permutations.tsv",
        "params.json",
        "report.html",
    } <= names
    meta = json.loads((tmp_path / "out" / "params.json").read_text())
    assert meta["scheme"]["kind"] == "within-study" and meta["params"]["random_state"] == 11
    assert len(meta["provenance"]["input_sha256"]) == 64 and meta["provenance"]["scikit_learn_version"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<svg" in html and "within-study" in html and "<script" not in html and "http" not in html.split("<svg")[0]
    back = pd.read_csv(tmp_path / "out" / "summary.tsv", sep="\t")
    assert back.loc[0, "metric"] == "auroc"
    with pytest.raises(Exception, match="already holds files"):
        result.write(tmp_path / "out")


def test_trained_classifier_frozen_predict(tmp_path):
    X, y = _cohort(seed=4)
    model = fit("lasso", X, y, random_state=0)
    new, _ = _cohort(n=10, seed=5)
    full = model.predict(new)
    # a single sample scores the same alone (frozen normalisation, SIAMCAT #44)
    one = model.predict(new.iloc[[3]])
    assert one.probability.iloc[0] == pytest.approx(full.probability.iloc[3])
    # missing features are filled with 0 and reported; extra ones reported and ignored
    partial = new.drop(columns=["t29"]).assign(novel=0.01)
    with pytest.warns(UserWarning, match="absent from the table"):
        pr = model.predict(partial)
    assert pr.missing_features == ["t29"] and pr.extra_features == ["novel"]
    ref = model.predict(new.assign(t29=0.0))
    np.testing.assert_allclose(pr.probability.to_numpy(), ref.probability.to_numpy())
    path = model.save(tmp_path / "m.pkl")
    again = load_model(path)
    np.testing.assert_allclose(again.predict(new).probability, full.probability)
    assert model.weights is not None and set(model.weights.index) <= set(X.columns)


def test_confounder_report_flags_country_in_metaml_ibd(shared):
    from gutaxis.classify._refdata import load_metaml

    X, y, meta = load_metaml(shared("data", "metaml_pasolli2016", "abundance_stoolsubset.txt.bz2"), "ibd")
    rep = check_confounders(meta, y, columns=["country", "gender", "age", "bmi"])
    row = rep.table.set_index("column").loc["country"]
    # notes §2E: country alone AUROC 0.918 (every IBD case Spanish); by hand 78/85
    assert row["auroc"] == pytest.approx(78 / 85, abs=1e-9) and row["auroc"] == pytest.approx(0.918, abs=0.002)
    assert rep.flagged == ["country"]
    strata = within_strata(
        make_classifier("rf", filter=None, normalization="pass", n_estimators=100),
        X,
        y,
        meta["country"],
        n_splits=5,
        n_repeats=1,
        random_state=0,
        n_bootstrap=50,
    )
    s = strata.set_index("stratum")
    assert "one class only" in s.loc["denmark", "note"]
    assert s.loc["spain", "n"] == 39 and s.loc["spain", "n_case"] == 25 and np.isfinite(s.loc["spain", "auroc"])


def test_cross_study():
    parts = [_cohort(n=40, seed=s, shift=8.0, study=name) for s, name in enumerate(["A", "B", "C"])]
    X = pd.concat([p[0] for p in parts])
    y = pd.concat([p[1] for p in parts])
    study = pd.Series([i.split("_")[0] for i in X.index], index=X.index)
    loso = leave_one_study_out("lasso", X, y, study, random_state=0, n_bootstrap=100)
    t = loso.table.set_index("test")
    assert list(t.index) == ["A", "B", "C"] and (t["scheme"] == "cross-study").all()
    assert (t["auroc"] > 0.8).all() and (t["auroc_ci_low"] <= t["auroc"]).all()
    assert (t["n_train"] == 80).all() and loso.scheme["kind"] == "cross-study"
    mat = study_matrix("ridge", X, y, study, n_splits=4, n_repeats=1, random_state=0, n_bootstrap=50)
    assert mat.matrix.shape == (3, 3) and mat.matrix.notna().all().all()
    diag = mat.table[mat.table["train"] == mat.table["test"]]
    assert (diag["scheme"] == "within-study").all() and (mat.table["train"] != mat.table["test"]).sum() == 6
    # a test study holding one class gets no AUROC, a note and its accuracy
    only_cases = y.copy()
    only_cases[(study == "C") & (y == 0)] = 1
    res = leave_one_study_out("ridge", X, only_cases, study, random_state=0, n_bootstrap=20)
    c = res.table.set_index("test").loc["C"]
    assert np.isnan(c["auroc"]) and "one class" in c["note"] and 0 <= c["accuracy"] <= 1
