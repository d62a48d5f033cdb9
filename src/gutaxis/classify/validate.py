"""Cross-validation done honestly: repeated stratified k-fold, blocking by group, nested tuning,
permuted-label controls with an empirical p-value.

Every fitted step (filter, normalisation, feature selection, tuning, the model) is part of one
estimator (a :class:`~sklearn.pipeline.Pipeline`, see :func:`~gutaxis.classify.make_classifier`)
that is cloned and fitted on each training fold only; the test fold is only ever transformed and
predicted. Tuning (``param_grid``) runs an inner cross-validation inside each training fold
(nested CV). The permuted-label control shuffles the labels (of whole groups when groups are
given and hold one class each) and runs the same scheme again, so everything the real run fits,
the control fits too.

Schemes: ``n_splits`` stratified folds, ``n_repeats`` times with a fresh shuffle each time
(seeds drawn from ``random_state``), blocked by ``groups`` when given (scikit-learn's
:class:`~sklearn.model_selection.StratifiedGroupKFold`: no group is ever split between training
and test), or leave-one-out (``n_splits="loo"``: n folds, or one per group).
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import (
    GridSearchCV,
    LeaveOneGroupOut,
    LeaveOneOut,
    StratifiedGroupKFold,
    StratifiedKFold,
)

from ..errors import InputError
from ._inputs import MIN_PER_CLASS, check_classes, prepare
from ._metrics import score_all

__all__ = ["RepeatedStratifiedGroupKFold", "cross_validate", "model_weights"]


def _seeds(random_state, n: int) -> list[int]:
    if random_state is None:
        random_state = 0
    if isinstance(random_state, np.random.Generator):
        return [int(s) for s in random_state.integers(0, 2**31 - 1, n)]
    return [int(s) for s in np.random.SeedSequence(int(random_state)).generate_state(n) % (2**31 - 1)]


class RepeatedStratifiedGroupKFold:
    """``n_repeats`` x stratified ``n_splits``-fold, blocked by ``groups`` when given.

    Without groups each repeat is a :class:`~sklearn.model_selection.StratifiedKFold` with
    shuffling; with groups a :class:`~sklearn.model_selection.StratifiedGroupKFold` (every
    group lies wholly in one fold). ``n_splits="loo"`` gives leave-one-out (one fold per sample,
    or per group), once. Repeats are seeded from ``random_state``, so splits are reproducible.

    ``split`` yields ``(train, test)`` index arrays as scikit-learn splitters do;
    ``iter_folds`` also yields the repeat and fold numbers.
    """

    def __init__(self, n_splits=10, n_repeats: int = 10, random_state=0):
        self.n_splits = n_splits
        self.n_repeats = n_repeats
        self.random_state = random_state

    @property
    def loo(self) -> bool:
        return isinstance(self.n_splits, str) and self.n_splits.lower() == "loo"

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        if self.loo:
            n = len(np.unique(groups)) if groups is not None else (len(X) if X is not None else len(y))
            return int(n)
        return int(self.n_splits) * int(self.n_repeats)

    def iter_folds(self, X, y, groups=None):
        y = np.asarray(y)
        idx = np.zeros((len(y), 1))
        if self.loo:
            splitter = LeaveOneGroupOut() if groups is not None else LeaveOneOut()
            for f, (tr, te) in enumerate(splitter.split(idx, y, groups)):
                yield 0, f, tr, te
            return
        k = int(self.n_splits)
        if k < 2:
            raise InputError(f"n_splits must be >= 2 or 'loo', got {self.n_splits!r}", source="n_splits")
        for r, seed in enumerate(_seeds(self.random_state, int(self.n_repeats))):
            if groups is None:
                splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
                parts = splitter.split(idx, y)
            else:
                splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
                parts = splitter.split(idx, y, groups)
            for f, (tr, te) in enumerate(parts):
                yield r, f, tr, te

    def split(self, X, y, groups=None):
        for _, _, tr, te in self.iter_folds(X, y, groups):
            yield tr, te


def model_weights(fitted) -> pd.Series | None:
    """The weights (``coef_``) or importances (``feature_importances_``) of a fitted model, indexed
    by the names of the features that reached it; None when the model has neither."""
    from sklearn.pipeline import Pipeline

    est = getattr(fitted, "best_estimator_", fitted)
    model = est[-1] if isinstance(est, Pipeline) else est
    if hasattr(model, "coef_"):
        w, kind = np.asarray(model.coef_, dtype=float).reshape(-1), "coef"
    elif hasattr(model, "feature_importances_"):
        w, kind = np.asarray(model.feature_importances_, dtype=float), "importance"
    else:
        return None
    try:
        names = (
            est[:-1].get_feature_names_out()
            if isinstance(est, Pipeline) and len(est) > 1
            else getattr(model, "feature_names_in_", None)
        )
    except Exception:
        names = None
    if names is None or len(names) != len(w):
        names = [f"x{i}" for i in range(len(w))]
    out = pd.Series(w, index=pd.Index([str(n) for n in names], name="feature"))
    out.attrs["kind"] = kind
    return out


def _seeded(est, seed: int):
    """Clone ``est`` and give every ``random_state`` left as None the fold's seed."""
    est = clone(est)
    params = est.get_params(deep=True)
    fix = {k: seed for k, v in params.items() if (k == "random_state" or k.endswith("__random_state")) and v is None}
    if fix:
        est.set_params(**fix)
    return est


def _inner_cv(groups, inner_splits: int, seed: int):
    if groups is not None:
        return StratifiedGroupKFold(n_splits=inner_splits, shuffle=True, random_state=seed)
    return StratifiedKFold(n_splits=inner_splits, shuffle=True, random_state=seed)


def _case_probability(fitted, X) -> np.ndarray:
    """Probability of the case class (label 1; else the last class) of each row of ``X``."""
    prob = fitted.predict_proba(X)
    classes = list(getattr(fitted, "classes_", [0, 1]))
    return prob[:, classes.index(1)] if 1 in classes else prob[:, -1]


def _fit_fold(
    estimator,
    X: pd.DataFrame,
    y: np.ndarray,
    groups,
    train,
    test,
    seed: int,
    param_grid,
    inner_splits: int,
    scoring: str,
    keep_weights: bool = True,
):
    est = _seeded(estimator, seed)
    Xtr, ytr = X.iloc[train], y[train]
    if param_grid:
        gtr = None if groups is None else groups[train]
        search = GridSearchCV(
            est,
            param_grid,
            scoring=scoring,
            cv=_inner_cv(gtr, inner_splits, seed),
            refit=True,
            error_score="raise",
            n_jobs=1,
        )
        search.fit(Xtr, ytr, groups=gtr)
        fitted, best = search, search.best_params_
    else:
        fitted, best = est.fit(Xtr, ytr), None
    prob = _case_probability(fitted, X.iloc[test])
    w = model_weights(fitted) if keep_weights else None
    return {"prob": np.asarray(prob, dtype=float), "weights": w, "best_params": best}


def _quiet(f, *args):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*no lambda of the path gives.*")
        return f(*args)


def _run(jobs, n_jobs: int, client=None):
    """Run the fold fits, in parallel with ``n_jobs`` > 1 or as Dask tasks with ``client``; the
    lambda rule's fallback warning (expected on small folds) is silenced."""
    if client is not None:  # one task per fold x repeat; each fold's seed is fixed already
        from ..scale.blocks import run_tasks

        return run_tasks(client, _quiet, [(f, *a) for f, a in jobs], name="gutaxis-cv", scatter_repeated=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*no lambda of the path gives.*")
        if n_jobs == 1:
            return [f(*a) for f, a in jobs]
        from joblib import Parallel, delayed

        return Parallel(n_jobs=n_jobs)(delayed(f)(*a) for f, a in jobs)


def _resolve_estimator(estimator):
    from .models import make_classifier

    if estimator is None:
        estimator = "lasso"
    if isinstance(estimator, str):
        return make_classifier(estimator, random_state=None)
    if not hasattr(estimator, "fit") or not hasattr(estimator, "predict_proba"):
        raise InputError(
            f"the estimator {type(estimator).__name__} has no fit/predict_proba",
            source="estimator",
            hint="pass a model name (lasso, enet, ridge, rf, gb) or a scikit-learn classifier/pipeline",
        )
    return estimator


def _permuted(y: np.ndarray, groups, rng: np.random.Generator, mixed: bool) -> np.ndarray:
    if groups is None or mixed:
        return rng.permutation(y)
    uniq, inv = np.unique(groups, return_inverse=True)
    glab = np.zeros(len(uniq), dtype=y.dtype)
    glab[inv] = y
    return rng.permutation(glab)[inv]


def cross_validate(
    estimator="lasso",
    data=None,
    y=None,
    *,
    case=None,
    groups=None,
    n_splits=10,
    n_repeats: int = 10,
    param_grid: dict | None = None,
    inner_splits: int = 5,
    scoring: str = "roc_auc",
    n_permutations: int = 0,
    random_state=0,
    mixed_groups: bool = False,
    match: str = "exact",
    n_jobs: int = 1,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    consensus_top: int = 20,
    label: str = "within-study",
    client=None,
):
    """Repeated (nested) cross-validation of a classifier, with permuted-label controls.

    Parameters
    ----------
    estimator
        A model name (``lasso``, ``enet``, ``ridge``, ``rf``, ``gb``: :func:`make_classifier`
        with its defaults) or any scikit-learn classifier / pipeline (cloned for every fold).
    data
        AnnData or samples x features DataFrame of abundances (>= 0).
    y
        Labels: a Series indexed by sample ID (0/1, or any two values with ``case=``), e.g. from
        :func:`~gutaxis.classify.labels_from_metadata`; or an array in the table's sample order.
    groups
        Blocking factor (subject, household, family): samples of one group always share a fold.
        A group holding both classes is refused unless ``mixed_groups=True`` (households).
    n_splits, n_repeats
        Stratified folds and repeats (default 10 x 10); ``n_splits="loo"`` for leave-one-out.
    param_grid
        Tuning grid (scikit-learn ``GridSearchCV`` names, e.g. ``{"model__max_features":
        ["sqrt", 0.3]}``): tuned by ``inner_splits``-fold CV on ``scoring`` inside each training
        fold (nested cross-validation).
    n_permutations
        Permuted-label controls: each shuffles the labels and runs one repeat of the same scheme;
        the empirical p-value is ``(1 + #{null AUROC >= observed}) / (1 + n_permutations)`` with
        the observed value the mean AUROC of the repeats.
    random_state
        Seeds the folds, the permutations, the bootstrap and every ``random_state`` left as None
        in the estimator: the same seed gives the same result.
    match
        ``"exact"``: every sample of the table needs a label; ``"labelled"``: samples without one
        are left out (and reported).
    n_bootstrap, confidence
        Bootstrap CI of the metrics of the mean prediction (stratified, or by group).
    consensus_top
        For models with importances (no zeros), a feature counts as selected by a model when it
        ranks among its ``consensus_top`` most important.
    client
        A :class:`dask.distributed.Client` (or a scheduler address): every fold x repeat (and
        permuted-label fold) is one task on the cluster, with the seed it has on one machine, so
        the result is the same (``docs/scale.md``); ``n_jobs`` is then not used.

    Returns
    -------
    CVResult
    """
    from .result import CVResult

    started = time.time()
    if not isinstance(n_repeats, (int, np.integer)) or n_repeats < 1:
        raise InputError(f"n_repeats must be an integer >= 1, got {n_repeats!r}", source="n_repeats")
    if not isinstance(n_permutations, (int, np.integer)) or n_permutations < 0:
        raise InputError(f"n_permutations must be an integer >= 0, got {n_permutations!r}", source="n_permutations")
    if client is not None:
        from ..scale import check_client

        client = check_client(client, "cross_validate")
    est = _resolve_estimator(estimator)
    loo = isinstance(n_splits, str)
    if loo and n_splits.lower() != "loo":
        raise InputError(f"n_splits must be an integer >= 2 or 'loo', got {n_splits!r}", source="n_splits")
    if loo:
        n_repeats = 1
    inp = prepare(
        data,
        y,
        case=case,
        groups=groups,
        mixed_groups=mixed_groups,
        match=match,
        n_splits=None if loo else int(n_splits),
    )
    if param_grid:
        # the inner CV needs inner_splits per class in every training fold, roughly
        check_classes(inp.y, inp.classes, n_splits=int(inner_splits), groups=inp.groups, min_per_class=MIN_PER_CLASS)
    X, yv, g = inp.X, inp.y, inp.groups
    seeds = _seeds(random_state, 3)
    cv = RepeatedStratifiedGroupKFold(n_splits=n_splits, n_repeats=int(n_repeats), random_state=seeds[0])
    folds = list(cv.iter_folds(X, yv, g))
    fold_seeds = _seeds(seeds[1], len(folds))
    jobs = [
        (_fit_fold, (est, X, yv, g, tr, te, s, param_grid, int(inner_splits), scoring))
        for (r, f, tr, te), s in zip(folds, fold_seeds, strict=True)
    ]
    out = _run(jobs, n_jobs, client)
    # assemble
    n_rep = int(n_repeats)
    pred = np.full((len(yv), n_rep), np.nan)
    fold_of = np.full((len(yv), n_rep), -1)
    rows_fold, weights = [], []
    for (r, f, tr, te), res in zip(folds, out, strict=True):
        pred[te, r] = res["prob"]
        fold_of[te, r] = f
        m = score_all(yv[te], res["prob"]) if not loo else {}
        rows_fold.append(
            {
                "repeat": r,
                "fold": f,
                "n_train": len(tr),
                "n_test": len(te),
                "n_test_case": int(yv[te].sum()),
                **m,
                "best_params": json.dumps(res["best_params"], default=str) if res["best_params"] else "",
            }
        )
        if res["weights"] is not None:
            w = res["weights"]
            weights.append(
                pd.DataFrame(
                    {
                        "repeat": r,
                        "fold": f,
                        "feature": w.index,
                        "weight": w.to_numpy(),
                        "kind": w.attrs.get("kind", "coef"),
                    }
                )
            )
    # permuted-label controls
    perm_rows = []
    if n_permutations:
        rng = np.random.default_rng(seeds[2])
        perm_seeds = _seeds(int(rng.integers(0, 2**31 - 1)), int(n_permutations))
        pjobs, pmeta = [], []
        for b, ps in enumerate(perm_seeds):
            yp = _permuted(yv, g, np.random.default_rng(ps), mixed_groups)
            pcv = RepeatedStratifiedGroupKFold(n_splits=n_splits, n_repeats=1, random_state=ps)
            for _, f, tr, te in pcv.iter_folds(X, yp, g):
                pjobs.append(
                    (_fit_fold, (est, X, yp, g, tr, te, ps + f, param_grid, int(inner_splits), scoring, False))
                )
                pmeta.append((b, te, yp))
        pout = _run(pjobs, n_jobs, client)
        pp = np.full((len(yv), int(n_permutations)), np.nan)
        ylab = {}
        for (b, te, yp), res in zip(pmeta, pout, strict=True):
            pp[te, b] = res["prob"]
            ylab[b] = yp
        for b in range(int(n_permutations)):
            perm_rows.append({"permutation": b, **score_all(ylab[b], pp[:, b])})
    params = {
        "estimator": repr(est),
        "n_splits": n_splits,
        "n_repeats": n_rep,
        "param_grid": param_grid,
        "inner_splits": inner_splits if param_grid else None,
        "scoring": scoring,
        "n_permutations": int(n_permutations),
        "random_state": random_state,
        "case": case,
        "mixed_groups": mixed_groups,
        "match": match,
        "n_bootstrap": n_bootstrap,
        "confidence": confidence,
        "consensus_top": consensus_top,
    }
    return CVResult.build(
        inp=inp,
        pred=pred,
        fold_of=fold_of,
        folds=pd.DataFrame(rows_fold),
        weights=pd.concat(weights, ignore_index=True) if weights else None,
        permutations=pd.DataFrame(perm_rows) if perm_rows else None,
        params=params,
        label=label,
        loo=loo,
        blocked=g is not None,
        seconds=time.time() - started,
    )
