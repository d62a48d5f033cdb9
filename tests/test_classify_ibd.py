"""IBD figures (issue 14): HMP2 blocked by subject, the MLRepo/MetAML cohorts at genus level, and
the cross-study matrix. The full protocol (RF 500 trees, 10-fold x 10) is in
``bench/bench_classify.py --only ibd`` and its figures in ``docs/classify.md``; here, on small
subsets:

- HMP2's label (IBD = CD + UC vs nonIBD) and subject counts match the data's PROVENANCE.md;
  the first sample per subject is each subject's earliest collection (pandas reference).
- Blocking by subject on HMP2 never puts a subject's samples in two folds of a repeat (and the
  same data without ``groups=`` does, so the check can fail).
- Genus collapse of a Greengenes table and of HMP2's MetaPhlAn2 species equals a plain pandas
  group-by on the genus name.
- The study matrix's diagonal is the within-study CV protocol's output (same samples, labels and
  AUROC as ``cross_validate`` with the seed the matrix gives that cell), and its off-diagonal
  cells equal ``fit`` on the training cohort's own table + ``predict`` on the test cohort's own
  table, whose missing/extra features are the set differences of the two tables.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from gutaxis.classify import cross_validate, fit, make_classifier, study_matrix
from gutaxis.classify._refdata import (
    first_per_subject,
    load_hmp2,
    load_metaml,
    load_mlrepo_ibd,
    load_nielsen_ibd,
    to_genus,
)
from gutaxis.classify.validate import _seeds


@pytest.fixture(scope="module")
def hmp2(shared):
    return load_hmp2(shared("data", "maaslin2_hmp2"))


@pytest.fixture(scope="module")
def mlrepo(shared):
    return shared("data", "mlrepo_ibd_gevers_sokol")


def test_hmp2_label_and_subjects_match_provenance(hmp2):
    X, y, meta = hmp2
    # ../shared/data/maaslin2_hmp2/PROVENANCE.md: CD 732 / UC 437 / nonIBD 426 samples; 65 CD, 38 UC, 27 nonIBD subjects
    assert X.shape == (1595, 87)
    assert meta["diagnosis"].value_counts().to_dict() == {"CD": 732, "UC": 437, "nonIBD": 426}
    assert int(y.sum()) == 732 + 437 and int((y == 0).sum()) == 426
    assert (y == meta["diagnosis"].isin(["CD", "UC"]).astype(int)).all()
    per_subject = meta.groupby("subject")["diagnosis"].agg(["nunique", "first"])
    assert (per_subject["nunique"] == 1).all()
    assert per_subject["first"].value_counts().to_dict() == {"CD": 65, "UC": 38, "nonIBD": 27}
    first = first_per_subject(meta)
    assert len(first) == 130 and meta.loc[first, "subject"].is_unique
    earliest = meta.groupby("subject")["collection"].min()
    assert (meta.loc[first, "collection"].to_numpy() == earliest.loc[meta.loc[first, "subject"]].to_numpy()).all()


def _folds_per_subject(res, subject):
    p = res.predictions.assign(subject=subject.loc[res.predictions["sample"]].to_numpy())
    return p.groupby(["repeat", "subject"])["fold"].nunique()


def test_hmp2_blocking_never_splits_a_subject(hmp2):
    X, y, meta = hmp2
    subjects = meta.groupby("subject")["diagnosis"].first()
    pick = list(subjects[subjects == "nonIBD"].index[:10]) + list(subjects[subjects != "nonIBD"].index[:10])
    idx = meta.index[meta["subject"].isin(pick)]
    Xs, ys, subj = X.loc[idx], y.loc[idx], meta.loc[idx, "subject"].astype(str)
    assert subj.value_counts().min() > 1  # repeated samples: the case blocking is for
    est = make_classifier("rf", filter=("prevalence", 0.1), n_estimators=20, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        blocked = cross_validate(est, Xs, ys, groups=subj, n_splits=5, n_repeats=2, random_state=0, n_bootstrap=50)
        naive = cross_validate(est, Xs, ys, n_splits=5, n_repeats=2, random_state=0, n_bootstrap=50)
    folds = _folds_per_subject(blocked, subj)
    assert len(folds) == 2 * len(pick) and (folds == 1).all()
    # every sample tested exactly once per repeat
    assert (blocked.predictions.groupby("repeat")["sample"].nunique() == len(idx)).all()
    assert len(blocked.predictions) == 2 * len(idx)
    assert "blocked" in blocked.scheme["description"] or "group" in blocked.scheme["description"]
    # without groups the same subjects are split across folds: the check above is not vacuous
    assert (_folds_per_subject(naive, subj) > 1).any()


def _genus_from_greengenes(rel: pd.DataFrame) -> pd.DataFrame:
    genus = [re.search(r"g__([^;]*)", c) for c in rel.columns]
    # gutaxis writes names with spaces (Greengenes "Pseudoramibacter_Eubacterium") and without brackets
    names = [m.group(1).strip().strip("[]").replace("_", " ") if m else "" for m in genus]
    keep = [n != "" for n in names]
    return rel.loc[:, keep].T.groupby(np.asarray(names)[keep]).sum().T


def _genus_from_metaphlan_species(ab: pd.DataFrame) -> pd.DataFrame:
    first = [c[3:].split("_")[0] for c in ab.columns]
    second = [c[3:].split("_")[1] if "_" in c[3:] else "" for c in ab.columns]
    keep = [
        not (f.endswith(("aceae", "ales")) or s in ("bacterium", "noname")) for f, s in zip(first, second, strict=True)
    ]
    return ab.loc[:, keep].T.groupby(np.asarray(first)[keep]).sum().T


def test_genus_collapse_matches_a_plain_groupby(hmp2, mlrepo):
    rel, _, _ = load_mlrepo_ibd(mlrepo, "sokol")
    ours, ref = to_genus(rel), _genus_from_greengenes(rel)
    assert sorted(ours.columns) == sorted(ref.columns)
    np.testing.assert_allclose(ours[ref.columns].to_numpy(), ref.to_numpy(), atol=1e-12)
    X, _, _ = hmp2
    ours, ref = to_genus(X), _genus_from_metaphlan_species(X)
    assert sorted(ours.columns) == sorted(ref.columns)
    np.testing.assert_allclose(ours[ref.columns].to_numpy(), ref.to_numpy(), atol=1e-12)
    assert "Subdoligranulum" in ours.columns  # "Subdoligranulum unclassified" keeps its genus


@pytest.fixture(scope="module")
def cohorts(shared, mlrepo):
    path = shared("data", "metaml_pasolli2016", "abundance_stoolsubset.txt.bz2")
    out = {}
    X, y, _ = load_metaml(path, "ibd")
    out["metahit"] = (to_genus(X / 100.0), y)
    X, y, _ = load_mlrepo_ibd(mlrepo, "sokol_uc")
    out["sokol_uc"] = (to_genus(X), y)
    X, y, _ = load_nielsen_ibd(path)
    out["nielsen"] = (to_genus(X / 100.0), y)
    assert (len(out["nielsen"][1]), int(out["nielsen"][1].sum())) == (186, 82)  # notes §2E: one sample per subject
    return out


def test_study_matrix_diagonal_is_the_within_study_protocol(cohorts):
    Xs, ys, ss = [], [], []
    for name, (X, y) in cohorts.items():
        ids = name + ":" + X.index
        Xs.append(X.set_axis(ids, axis=0))
        ys.append(pd.Series(y.to_numpy(), index=ids))
        ss.append(pd.Series(name, index=ids))
    X, y, study = pd.concat(Xs).fillna(0.0), pd.concat(ys), pd.concat(ss)
    est = make_classifier("lasso", filter=("prevalence", 0.1), normalization="log.std")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = study_matrix(est, X, y, study, n_splits=5, n_repeats=2, random_state=0, n_bootstrap=50)
    names = sorted(cohorts)
    assert list(m.matrix.index) == names and list(m.matrix.columns) == names
    seeds = _seeds(0, len(names) * (len(names) + 1))
    for i, name in enumerate(names):
        sub = study == name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cv = cross_validate(
                est,
                X.loc[sub],
                y.loc[sub],
                n_splits=5,
                n_repeats=2,
                random_state=seeds[i * (len(names) + 1)],
                n_bootstrap=50,
            )
        cell = m.table[(m.table["train"] == name) & (m.table["test"] == name)].iloc[0]
        assert cell["scheme"] == "within-study"
        assert (cell["n_test"], cell["n_test_case"]) == (int(sub.sum()), int(y[sub].sum()))
        assert cell["note"] == cv.scheme["description"]
        diag = m.predictions[(m.predictions["train"] == name) & (m.predictions["test"] == name)]
        mp = cv.mean_prediction
        assert sorted(diag["sample"]) == sorted(mp["sample"]) == sorted(X.index[sub])
        merged = diag.merge(mp, on="sample", suffixes=("_m", "_cv"))
        assert (merged["label_m"] == merged["label_cv"]).all()
        assert (merged["label_m"] == y.loc[merged["sample"]].to_numpy()).all()
        np.testing.assert_allclose(merged["probability_m"], merged["probability_cv"], atol=1e-12)
        assert m.matrix.loc[name, name] == pytest.approx(cv.auroc, abs=1e-12)
    # off the diagonal: fit on the training cohort's own table, predict the test cohort's own table
    for a in names:
        Xa, ya = cohorts[a]
        tc = fit(est, Xa, ya, random_state=0)
        for b in names:
            if a == b:
                continue
            Xb, yb = cohorts[b]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pr = tc.predict(Xb)
            assert set(pr.missing_features) == set(Xa.columns) - set(Xb.columns)
            assert set(pr.extra_features) == set(Xb.columns) - set(Xa.columns)
            auc = roc_auc_score(yb.loc[pr.probability.index], pr.probability)
            assert m.matrix.loc[a, b] == pytest.approx(auc, abs=1e-9)
            cell = m.table[(m.table["train"] == a) & (m.table["test"] == b)].iloc[0]
            assert cell["scheme"] == "cross-study"
