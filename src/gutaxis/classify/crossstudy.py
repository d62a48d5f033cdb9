"""Cross-study validation: leave-one-study-out and the train x test matrix across studies.

Wirbel J, et al. Genome Biol 2021;22:93 (SIAMCAT's cross-study holdout matrix), and
Pasolli E, et al. PLoS Comput Biol 2016;12:e1004977 (MetAML's leave-one-dataset-out).

- :func:`leave_one_study_out`: for each study, the classifier is trained on every other study
  (all their samples, every fitted step on them only) and evaluated on the held-out one.
- :func:`study_matrix`: row = training study, column = test study. Off the diagonal the model is
  trained on all samples of the row study and applied, with its frozen preprocessing, to the
  column study; the diagonal is the within-study repeated cross-validation (AUROC of the mean
  prediction), labelled ``within-study``.

One table holds all studies (the union of their features; a feature a study lacks is 0 there).
A study with fewer than 5 samples of a class is not used for training (reported); a test study
with one class gets no AUROC (reported), only its accuracy.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from ..errors import InputError
from ._inputs import MIN_PER_CLASS, align, prepare
from ._metrics import accuracy_ci, bootstrap_ci, score_all

__all__ = ["leave_one_study_out", "study_matrix"]


def _prepare(estimator, data, y, study, case, match):
    from .validate import _resolve_estimator

    est = _resolve_estimator(estimator)
    inp = prepare(data, y, case=case, match=match)
    if study is None:
        raise InputError("no study given", source="study", hint="pass study= (a Series of study names by sample ID)")
    if not isinstance(study, pd.Series):
        raise InputError(
            "study must be a Series indexed by sample ID",
            source="study",
            hint="e.g. metadata['study'] with the sample IDs as index",
        )
    s = align(study, inp.X.index, what="study", source="study")
    if s.isna().any():
        raise InputError(
            f"{int(s.isna().sum())} sample(s) have no study: {', '.join(map(str, s.index[s.isna()][:5]))}",
            source="study",
            hint="give every sample a study",
        )
    studies = sorted(s.astype(str).unique())
    if len(studies) < 2:
        raise InputError(
            f"one study only ({studies[0]!r}): nothing to validate across",
            source="study",
            hint="use cross_validate for within-study evaluation",
        )
    return est, inp, s.astype(str).to_numpy(), studies


def _evaluate(y, p, *, n_boot, confidence, seed) -> tuple[dict, str]:
    m = score_all(y, p)
    acc = float(np.mean((p > 0.5) == (y == 1)))
    note = ""
    if len(np.unique(y)) < 2:
        note = "test study holds one class: AUROC, AUPRC and balanced accuracy undefined (accuracy given)"
        ci = {k: (np.nan, np.nan) for k in m}
    else:
        ci = bootstrap_ci(y, p, n_boot=n_boot, confidence=confidence, seed=seed)
    row = {"n_test": len(y), "n_test_case": int(y.sum()), "accuracy": acc}
    for k, v in m.items():
        row[k] = v
        row[f"{k}_ci_low"], row[f"{k}_ci_high"] = ci[k]
    lo, hi = accuracy_ci(y, p, n_boot=n_boot, confidence=confidence, seed=seed)
    row["accuracy_ci_low"], row["accuracy_ci_high"] = lo, hi
    return row, note


def _train_ok(y) -> str:
    n1, n0 = int(y.sum()), int(len(y) - y.sum())
    if min(n1, n0) < MIN_PER_CLASS:
        return f"training set has {n0} control(s) and {n1} case(s): fewer than {MIN_PER_CLASS} of a class, not trained"
    return ""


def _fit_predict(est, X, y, train, test, seed):
    from .validate import _case_probability, _seeded

    return _case_probability(_seeded(est, seed).fit(X.iloc[train], y[train]), X.iloc[test])


def _result(rows, preds, *, inp, params, description, matrix, notes, started, studies, study):
    from .result import CrossStudyResult, _provenance

    table = pd.DataFrame(rows)
    predictions = (
        pd.concat(preds, ignore_index=True)
        if preds
        else pd.DataFrame(columns=["scheme", "train", "test", "sample", "label", "probability"])
    )
    counts = {st: {"n": int((study == st).sum()), "n_case": int(inp.y[study == st].sum())} for st in studies}
    scheme = {"kind": "cross-study", "description": description, "studies": counts}
    prov = _provenance(inp, time.time() - started, {"estimator": params.get("estimator")})
    return CrossStudyResult(
        table=table,
        matrix=matrix,
        predictions=predictions,
        scheme=scheme,
        params=params,
        provenance=prov,
        classes=tuple(inp.classes),
        notes=notes,
        filtered=list(inp.filtered),
    )


def leave_one_study_out(
    estimator="lasso",
    data=None,
    y=None,
    study=None,
    *,
    case=None,
    random_state=0,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    match: str = "exact",
):
    """Train on all studies but one, test on the one left out, for every study.

    Parameters
    ----------
    estimator, data, y, case, match
        As for :func:`~gutaxis.classify.cross_validate`.
    study
        Series of study names indexed by sample ID.

    Returns
    -------
    CrossStudyResult
        ``table``: one row per held-out study (``scheme="cross-study"``, ``train="all but X"``)
        with AUROC/AUPRC/balanced accuracy/accuracy and bootstrap CIs.
    """
    from .validate import _seeds

    started = time.time()
    est, inp, study_arr, studies = _prepare(estimator, data, y, study, case, match)
    X, yv = inp.X, inp.y
    seeds = _seeds(random_state, len(studies))
    rows, preds, notes = [], [], []
    for st, seed in zip(studies, seeds, strict=True):
        test = np.flatnonzero(study_arr == st)
        train = np.flatnonzero(study_arr != st)
        base = {
            "scheme": "cross-study",
            "train": f"all but {st}",
            "test": st,
            "n_train": len(train),
            "n_train_case": int(yv[train].sum()),
        }
        why = _train_ok(yv[train])
        if why:
            rows.append({**base, "note": why})
            notes.append(f"{st}: {why}")
            continue
        p = _fit_predict(est, X, yv, train, test, seed)
        row, note = _evaluate(yv[test], p, n_boot=n_bootstrap, confidence=confidence, seed=seed)
        rows.append({**base, **row, "note": note})
        if note:
            notes.append(f"{st}: {note}")
        preds.append(
            pd.DataFrame(
                {
                    "scheme": "cross-study",
                    "train": f"all but {st}",
                    "test": st,
                    "sample": X.index[test],
                    "label": yv[test],
                    "probability": p,
                }
            )
        )
    params = {
        "estimator": repr(est),
        "random_state": random_state,
        "n_bootstrap": n_bootstrap,
        "confidence": confidence,
        "case": case,
        "match": match,
        "kind": "leave-one-study-out",
    }
    desc = (
        f"cross-study: leave-one-study-out over {len(studies)} studies (train on the others, test on the one left out)"
    )
    return _result(
        rows,
        preds,
        inp=inp,
        params=params,
        description=desc,
        matrix=None,
        notes=notes,
        started=started,
        studies=studies,
        study=study_arr,
    )


def study_matrix(
    estimator="lasso",
    data=None,
    y=None,
    study=None,
    *,
    case=None,
    groups=None,
    mixed_groups: bool = False,
    n_splits: int = 10,
    n_repeats: int = 10,
    random_state=0,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    match: str = "exact",
    n_jobs: int = 1,
):
    """Train x test AUROC matrix across studies; the diagonal is within-study repeated CV.

    ``groups`` (optional) blocks the within-study cross-validation of the diagonal. Returns a
    :class:`CrossStudyResult` whose ``matrix`` is the AUROC matrix (rows: training study) and
    whose ``table`` has every cell with its scheme (``within-study``/``cross-study``), sizes,
    metrics and bootstrap CIs.
    """
    from .validate import _seeds, cross_validate

    started = time.time()
    est, inp, study_arr, studies = _prepare(estimator, data, y, study, case, match)
    X, yv = inp.X, inp.y
    g_all = None
    if groups is not None:
        g_all = align(groups, X.index, what="group", source="groups").astype(str).to_numpy()
    seeds = _seeds(random_state, len(studies) * (len(studies) + 1))
    mat = pd.DataFrame(np.nan, index=pd.Index(studies, name="train"), columns=pd.Index(studies, name="test"))
    rows, preds, notes = [], [], []
    k = 0
    for tr_st in studies:
        train = np.flatnonzero(study_arr == tr_st)
        why = _train_ok(yv[train])
        for te_st in studies:
            seed = seeds[k]
            k += 1
            test = np.flatnonzero(study_arr == te_st)
            scheme = "within-study" if te_st == tr_st else "cross-study"
            base = {
                "scheme": scheme,
                "train": tr_st,
                "test": te_st,
                "n_train": len(train),
                "n_train_case": int(yv[train].sum()),
            }
            if why:
                rows.append({**base, "note": why})
                continue
            if scheme == "within-study":
                sub = X.iloc[train]
                ys = pd.Series(yv[train], index=sub.index)
                gs = None if g_all is None else pd.Series(g_all[train], index=sub.index)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        cvr = cross_validate(
                            est,
                            sub,
                            ys,
                            groups=gs,
                            mixed_groups=mixed_groups,
                            n_splits=n_splits,
                            n_repeats=n_repeats,
                            random_state=seed,
                            n_bootstrap=n_bootstrap,
                            confidence=confidence,
                            n_jobs=n_jobs,
                        )
                except InputError as exc:
                    rows.append({**base, "note": f"within-study CV not run: {exc.problem}"})
                    notes.append(f"{tr_st}: within-study CV not run: {exc.problem}")
                    continue
                s = cvr.summary.set_index("metric")
                row = {
                    "n_test": len(train),
                    "n_test_case": int(yv[train].sum()),
                    "accuracy": float(
                        np.mean((cvr.mean_prediction["probability"].to_numpy() > 0.5) == (yv[train] == 1))
                    ),
                }
                for m in s.index:
                    row[m] = s.loc[m, "mean_prediction"]
                    row[f"{m}_ci_low"], row[f"{m}_ci_high"] = s.loc[m, "ci_low"], s.loc[m, "ci_high"]
                row["note"] = cvr.scheme["description"]
                rows.append({**base, **row})
                mat.loc[tr_st, te_st] = row["auroc"]
                mp = cvr.mean_prediction
                preds.append(
                    pd.DataFrame(
                        {
                            "scheme": scheme,
                            "train": tr_st,
                            "test": te_st,
                            "sample": mp["sample"],
                            "label": mp["label"],
                            "probability": mp["probability"],
                        }
                    )
                )
                continue
            p = _fit_predict(est, X, yv, train, test, seed)
            row, note = _evaluate(yv[test], p, n_boot=n_bootstrap, confidence=confidence, seed=seed)
            rows.append({**base, **row, "note": note})
            mat.loc[tr_st, te_st] = row["auroc"]
            preds.append(
                pd.DataFrame(
                    {
                        "scheme": scheme,
                        "train": tr_st,
                        "test": te_st,
                        "sample": X.index[test],
                        "label": yv[test],
                        "probability": p,
                    }
                )
            )
        if why:
            notes.append(f"{tr_st}: {why}")
    params = {
        "estimator": repr(est),
        "random_state": random_state,
        "n_splits": n_splits,
        "n_repeats": n_repeats,
        "n_bootstrap": n_bootstrap,
        "confidence": confidence,
        "case": case,
        "match": match,
        "blocked_within": groups is not None,
        "kind": "study-matrix",
    }
    desc = (
        f"train x test matrix over {len(studies)} studies: off the diagonal cross-study (train on all of the "
        f"row study, test on the column study); diagonal within-study (stratified {n_splits}-fold CV x "
        f"{n_repeats}{', blocked by group' if groups is not None else ''})"
    )
    return _result(
        rows,
        preds,
        inp=inp,
        params=params,
        description=desc,
        matrix=mat,
        notes=notes,
        started=started,
        studies=studies,
        study=study_arr,
    )
