"""Classifiers: penalised logistic regression (LASSO, elastic net, ridge) with SIAMCAT's lambda
rule, random forest and gradient boosting, and :func:`make_classifier`, which puts SIAMCAT's
filter and normalisation in front of a model in one scikit-learn :class:`~sklearn.pipeline.Pipeline`.

Wirbel J, Zych K, Essex M, et al. Microbiome meta-analysis and cross-disease comparison enabled
by the SIAMCAT machine learning toolbox. Genome Biol 2021;22:93. doi:10.1186/s13059-021-02306-1

SIAMCAT's ``lasso``/``enet``/``ridge`` fit glmnet's binomial path on the training fold and keep,
among the lambdas whose model has at least ``min.nonzero = 5`` non-zero coefficients, the one
with the best ``measure`` (default: accuracy) **on the training fold itself** (first, i.e.
largest, lambda among ties). :class:`PenalizedLogisticRegression` does the same with
``lambda_rule="siamcat"``; ``lambda_rule="cv"`` picks glmnet's ``lambda.min`` by an inner
stratified k-fold on binomial deviance (cv.glmnet), and ``"fixed"`` uses ``lambda_``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from ..errors import InputError
from ._metrics import auroc, balanced_accuracy
from ._sk import check_choice, check_fitted, validate

__all__ = [
    "DEFAULT_GRIDS",
    "MODELS",
    "MODEL_LIMITS",
    "FeatureLimit",
    "PenalizedLogisticRegression",
    "make_classifier",
]

#: model names accepted by :func:`make_classifier`
MODELS = ("lasso", "enet", "ridge", "rf", "gb")

#: the most features (after filtering and selection) each model is run with: beyond it, a
#: fold's training matrix is refused with an :class:`InputError` (memory/time would explode,
#: e.g. gradient boosting scans every feature at every split of every tree)
MODEL_LIMITS = {"lasso": 200_000, "enet": 200_000, "ridge": 200_000, "rf": 200_000, "gb": 20_000}

#: parameter grids used for nested tuning when asked for without a grid (CLI ``--tune``)
DEFAULT_GRIDS = {
    "lasso": {"model__lambda_rule": ["siamcat", "cv"]},
    "enet": {"model__l1_ratio": [0.1, 0.5, 0.9]},
    "ridge": {"model__lambda_rule": ["siamcat", "cv"]},
    "rf": {"model__max_features": ["sqrt", 0.1, 0.3], "model__min_samples_leaf": [1, 3]},
    "gb": {"model__learning_rate": [0.03, 0.1], "model__max_depth": [2, 3]},
}

_LAMBDA_RULES = ("siamcat", "siamcat-code", "cv", "fixed")
_MEASURES = ("accuracy", "balanced_accuracy", "auc", "deviance")


def _measure(name: str, y: np.ndarray, prob: np.ndarray) -> float:
    """Higher is better for every measure (deviance is negated)."""
    if name == "accuracy":
        return float(np.mean((prob > 0.5) == (y > 0.5)))
    if name == "balanced_accuracy":
        return balanced_accuracy(y, prob)
    if name == "auc":
        return auroc(y, prob)
    p = np.clip(prob, 1e-15, 1 - 1e-15)
    return float(2 * np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))


class PenalizedLogisticRegression(ClassifierMixin, BaseEstimator):
    """Binomial LASSO / elastic net / ridge, fitted along glmnet's lambda path.

    Parameters
    ----------
    l1_ratio
        glmnet's ``alpha``: 1 LASSO, 0 ridge, in between elastic net.
    lambda_rule
        ``"siamcat"`` (default): among the lambdas with at least ``min_nonzero`` non-zero
        coefficients, the best ``measure`` on the training data (SIAMCAT 2.x
        ``get.best.glmnet.lambda``); ``"siamcat-code"``: the same, indexed as that R function
        does it (the position of the best lambda among the eligible ones is applied to the whole
        path, which lands on a larger, more regularising lambda); ``"cv"``: ``lambda.min`` of an inner stratified
        ``cv``-fold cross-validation on binomial deviance (cv.glmnet's default); ``"fixed"``:
        ``lambda_``.
    min_nonzero, measure
        Of the SIAMCAT rule (defaults 5 and ``"accuracy"``, SIAMCAT's ``classif.acc``). When no
        lambda reaches ``min_nonzero`` non-zero coefficients the rule falls back to every lambda
        of the path (``fallback_`` is then True).
    n_lambda, lambda_min_ratio
        glmnet's path (100 values; ratio 0.01 when n < p, else 1e-4).
    lambda_
        The penalty for ``lambda_rule="fixed"`` (glmnet's scale).
    cv, random_state
        Inner folds of ``lambda_rule="cv"`` and their seed.
    standardize
        glmnet's ``standardize`` (default True).
    tol
        Convergence threshold of the coordinate descent (glmnet's ``thresh``, default 1e-7, on
        the scale of the null deviance per sample).

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    lambda_path_, n_nonzero_path_ : the path fitted
    selected_lambda_ : the lambda used
    classes_ : the two class labels (the second is the positive class)
    """

    def __init__(
        self,
        l1_ratio: float = 1.0,
        *,
        lambda_rule: str = "siamcat",
        min_nonzero: int = 5,
        measure: str = "accuracy",
        n_lambda: int = 100,
        lambda_min_ratio: float | None = None,
        lambda_: float | None = None,
        cv: int = 5,
        random_state=None,
        standardize: bool = True,
        tol: float = 1e-7,
    ):
        self.l1_ratio = l1_ratio
        self.lambda_rule = lambda_rule
        self.min_nonzero = min_nonzero
        self.measure = measure
        self.n_lambda = n_lambda
        self.lambda_min_ratio = lambda_min_ratio
        self.lambda_ = lambda_
        self.cv = cv
        self.random_state = random_state
        self.standardize = standardize
        self.tol = tol

    def _check_params(self):
        if not 0.0 <= float(self.l1_ratio) <= 1.0:
            raise InputError(
                f"l1_ratio must be in [0, 1], got {self.l1_ratio!r}",
                source="l1_ratio",
                hint="1 for LASSO, 0 for ridge, in between for elastic net",
            )
        check_choice(self.lambda_rule, _LAMBDA_RULES, what="lambda_rule", source="lambda_rule")
        check_choice(self.measure, _MEASURES, what="measure", source="measure")
        if self.lambda_rule == "fixed" and (self.lambda_ is None or not float(self.lambda_) > 0):
            raise InputError("lambda_rule='fixed' needs lambda_ > 0", source="lambda_")

    def fit(self, X, y):
        from ._glmnet import binomial_path

        self._check_params()
        X, y = validate(self, X, y, reset=True)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise InputError(f"need two classes to fit, got {len(self.classes_)}", source="labels")
        yb = (y == self.classes_[1]).astype(np.float64)
        alpha = float(self.l1_ratio)
        if self.lambda_rule == "fixed":
            path = binomial_path(
                X,
                yb,
                alpha=alpha,
                lambdas=np.array([float(self.lambda_)]),
                standardize=self.standardize,
                thresh=self.tol,
            )
            k = 0
        else:
            path = binomial_path(
                X,
                yb,
                alpha=alpha,
                n_lambda=self.n_lambda,
                lambda_min_ratio=self.lambda_min_ratio,
                standardize=self.standardize,
                thresh=self.tol,
            )
            k = self._select(path, X, yb, alpha)
        self.lambda_path_ = path["lambdas"]
        self.n_nonzero_path_ = path["n_nonzero"]
        self.selected_lambda_ = float(path["lambdas"][k])
        self.selected_index_ = int(k)
        self.coef_ = path["coef"][k][None, :].copy()
        self.intercept_ = np.array([path["intercept"][k]])
        return self

    def _select(self, path, X, yb, alpha) -> int:
        lambdas = path["lambdas"]
        self.fallback_ = False
        if self.lambda_rule in ("siamcat", "siamcat-code"):
            eligible = np.flatnonzero(path["n_nonzero"] >= int(self.min_nonzero))
            if len(eligible) == 0:
                eligible = np.arange(len(lambdas))
                self.fallback_ = True
                warnings.warn(
                    f"no lambda of the path gives {self.min_nonzero} non-zero coefficients (at most "
                    f"{int(path['n_nonzero'].max())}); choosing among all lambdas",
                    RuntimeWarning,
                    stacklevel=3,
                )
            eta = X @ path["coef"][eligible].T + path["intercept"][eligible]
            prob = expit(eta)
            scores = np.array([_measure(self.measure, yb, prob[:, c]) for c in range(len(eligible))])
            best = int(np.flatnonzero(scores == scores.max())[0])
            # SIAMCAT 2.x: new.model$model$lambda[f.idx], f.idx counted among the eligible lambdas
            return best if self.lambda_rule == "siamcat-code" else int(eligible[best])
        # cv.glmnet: inner folds on the same lambda path, binomial deviance, lambda.min
        from ._glmnet import binomial_path

        n_splits = min(int(self.cv), int(min(yb.sum(), len(yb) - yb.sum())))
        if n_splits < 2:
            return len(lambdas) - 1
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        dev = np.zeros(len(lambdas))
        for tr, te in folds.split(X, yb):
            sub = binomial_path(
                X[tr], yb[tr], alpha=alpha, lambdas=lambdas, standardize=self.standardize, thresh=self.tol
            )
            m = len(sub["lambdas"])
            eta = X[te] @ sub["coef"].T + sub["intercept"]
            prob = np.clip(expit(eta), 1e-5, 1 - 1e-5)
            d = -2 * (yb[te, None] * np.log(prob) + (1 - yb[te, None]) * np.log(1 - prob)).sum(axis=0)
            dev[:m] += d
            if m < len(lambdas):  # the sub-path stopped early: its last fit stands for the rest
                dev[m:] += d[-1]
        return int(np.argmin(dev))

    def decision_function(self, X):
        check_fitted(self, "coef_")
        X = validate(self, X, reset=False)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X):
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


class FeatureLimit(TransformerMixin, BaseEstimator):
    """Pass-through step that refuses more than ``max_features`` features (naming the model)."""

    def __init__(self, max_features: int = 200_000, model: str = "model"):
        self.max_features = max_features
        self.model = model

    def fit(self, X, y=None):
        X = validate(self, X, reset=True)
        if X.shape[1] > int(self.max_features):
            raise InputError(
                f"{X.shape[1]:,} features reach the model {self.model!r}, which takes at most "
                f"{int(self.max_features):,}",
                source="features",
                hint="filter more strictly (e.g. filter=('prevalence', 0.1)), add select=k, or use "
                "another model (lasso, rf)",
            )
        return self

    def transform(self, X):
        return validate(self, X, reset=False)

    def get_feature_names_out(self, input_features=None):
        from sklearn.utils.validation import _check_feature_names_in

        return _check_feature_names_in(self, input_features)


def _model(name: str, random_state, params: dict):
    check_choice(name, MODELS, what="model", source="model")
    if name == "lasso":
        est = PenalizedLogisticRegression(1.0, random_state=random_state)
    elif name == "enet":
        est = PenalizedLogisticRegression(0.5, random_state=random_state)
    elif name == "ridge":
        est = PenalizedLogisticRegression(0.0, random_state=random_state)
    elif name == "rf":
        est = RandomForestClassifier(n_estimators=500, max_features="sqrt", random_state=random_state, n_jobs=1)
    else:  # gb
        est = GradientBoostingClassifier(
            n_estimators=200, learning_rate=0.05, max_depth=3, subsample=0.8, random_state=random_state
        )
    if params:
        valid = est.get_params()
        bad = [k for k in params if k not in valid]
        if bad:
            raise InputError(
                f"unknown parameter(s) {', '.join(bad)} for model {name!r}",
                source="model",
                hint=f"parameters: {', '.join(sorted(valid))}",
            )
        est.set_params(**params)
    return est


def make_classifier(
    model: str | BaseEstimator = "lasso",
    *,
    filter=("abundance", 0.001),
    normalization="log.std",
    select: int | None = None,
    select_method: str = "auc",
    rm_unmapped: bool = True,
    random_state=None,
    **model_params,
) -> Pipeline:
    """A pipeline of SIAMCAT's preprocessing and a model, every step fitted on training data only.

    Steps: ``filter`` (:class:`~gutaxis.classify.FeatureFilter`; one ``(method, cutoff)`` or a
    list of them, applied in turn), ``normalize`` (:class:`~gutaxis.classify.Normalizer`),
    optionally ``select`` (:class:`~gutaxis.classify.AssociationSelector`, the ``select`` most
    associated features of the training fold: SIAMCAT's ``perform.fs``), ``limit``
    (:class:`FeatureLimit`) and ``model``.

    Parameters
    ----------
    model
        One of ``MODELS`` (``lasso``, ``enet``, ``ridge``: :class:`PenalizedLogisticRegression`
        with SIAMCAT's lambda rule; ``rf``: 500 trees, sqrt features; ``gb``: gradient boosting,
        200 trees of depth 3), or any scikit-learn classifier.
    filter
        ``(method, cutoff)``, a list of them, or None/``"pass"``.
    normalization
        A :class:`~gutaxis.classify.Normalizer` method or a dict of its parameters
        (``{"method": "log.unit", "n_p": 2}``).
    model_params
        Passed to the model (e.g. ``n_estimators=1000``, ``lambda_rule="cv"``).
    """
    from .transform import AssociationSelector, FeatureFilter, Normalizer

    steps = []
    filters = [] if filter is None or filter == "pass" else ([filter] if isinstance(filter[0], str) else list(filter))
    for i, f in enumerate(filters):
        method, cutoff = (f, None) if isinstance(f, str) else (f[0], f[1])
        kw: dict[str, Any] = {"method": method, "rm_unmapped": rm_unmapped}
        if cutoff is not None:
            kw["cutoff"] = cutoff
        steps.append(("filter" if i == 0 else f"filter{i + 1}", FeatureFilter(**kw)))
    if isinstance(normalization, dict):
        steps.append(("normalize", Normalizer(**normalization)))
    else:
        steps.append(("normalize", Normalizer(method=normalization or "pass")))
    if select is not None:
        steps.append(("select", AssociationSelector(k=int(select), method=select_method)))
    if isinstance(model, str):
        name = model.lower()
        est = _model(name, random_state, model_params)
        limit = MODEL_LIMITS[name]
    else:
        name = type(model).__name__
        est = clone(model)
        if model_params:
            est.set_params(**model_params)
        limit = MODEL_LIMITS["rf"]
    steps.append(("limit", FeatureLimit(limit, name)))
    steps.append(("model", est))
    return Pipeline(steps)
