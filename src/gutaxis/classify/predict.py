"""Train on every sample and predict new ones with the frozen preprocessing.

:func:`fit` trains a classifier (filter, normalisation, model) on all samples given;
:meth:`TrainedClassifier.predict` applies it to a new table with the parameters frozen on the
training data (SIAMCAT's frozen normalisation): features of the model that the new table lacks
are filled with 0 and reported, features the model never saw are reported and ignored, and a
single sample can be scored on its own (SIAMCAT issues #30, #44).

A trained classifier can be saved (:meth:`TrainedClassifier.save`) and loaded
(:func:`load_model`). The file is a Python pickle (joblib): loading one runs code, so only load
model files you made or trust.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..errors import InputError
from ._inputs import feature_table

__all__ = ["FORMAT", "Prediction", "TrainedClassifier", "fit", "load_model"]

FORMAT = "gutaxis.classify.model/1"


@dataclass
class Prediction:
    """Predicted probabilities of the case class for new samples.

    ``table``: ``sample, probability, predicted`` (case when probability > 0.5);
    ``missing_features``: model features absent from the table (filled with 0);
    ``extra_features``: table features the model does not use.
    """

    table: pd.DataFrame
    missing_features: list[str]
    extra_features: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def probability(self) -> pd.Series:
        return self.table.set_index("sample")["probability"]

    def write(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write ``table`` as TSV (one file; all or nothing)."""
        from .._outputs import atomic_file

        path = Path(path)
        with atomic_file(path, overwrite=overwrite, what="predictions file") as tmp:
            self.table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        return path


class TrainedClassifier:
    """A classifier trained on all samples of a study, ready to predict new tables.

    Attributes
    ----------
    estimator : the fitted scikit-learn pipeline
    features : the training table's feature names, in the order the pipeline expects
    classes : (control, case) names
    weights : weights/importances of the model per feature (None if the model has none)
    params, provenance : how it was trained
    """

    def __init__(self, estimator, features, classes, weights, params, provenance):
        self.estimator = estimator
        self.features = list(features)
        self.classes = tuple(classes)
        self.weights = weights
        self.params = params
        self.provenance = provenance

    def __repr__(self) -> str:
        return (
            f"TrainedClassifier({self.params.get('estimator_name')}, {len(self.features)} features, "
            f"trained on {self.provenance.get('n_samples')} samples)"
        )

    def align(self, data, *, name: str = "data"):
        """``(X, missing, extra)``: the table with the model's features in the model's order."""
        X = feature_table(data, name=name)
        have = set(X.columns)
        missing = [f for f in self.features if f not in have]
        known = set(self.features)
        extra = [f for f in X.columns if f not in known]
        if len(missing) == len(self.features):
            raise InputError(
                f"none of the model's {len(self.features)} features is in the table (table features e.g. "
                f"{', '.join(map(repr, list(X.columns)[:3]))}; model features e.g. "
                f"{', '.join(map(repr, self.features[:3]))})",
                source=name,
                hint="the table must use the same feature names (taxa at the same rank and naming) "
                "as the training table",
            )
        X = X.reindex(columns=self.features, fill_value=0.0)
        return X, missing, extra

    def predict(self, data, *, name: str = "data") -> Prediction:
        """Probability of the case class for each sample of ``data`` (AnnData or DataFrame)."""
        X, missing, extra = self.align(data, name=name)
        notes = []
        if missing:
            share = len(missing) / len(self.features)
            msg = (
                f"{len(missing)} of the model's {len(self.features)} features are absent from the table and "
                f"were filled with 0 ({share:.0%}): {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
            )
            notes.append(msg)
            warnings.warn(msg, UserWarning, stacklevel=2)
        if extra:
            notes.append(
                f"{len(extra)} feature(s) of the table are unknown to the model and were ignored: "
                f"{', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}"
            )
        from .validate import _case_probability

        p = _case_probability(self.estimator, X)
        table = pd.DataFrame(
            {"sample": X.index, "probability": p, "predicted": np.where(p > 0.5, self.classes[1], self.classes[0])}
        )
        return Prediction(table=table, missing_features=missing, extra_features=extra, notes=notes)

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Save as a joblib pickle (load it back with :func:`load_model`)."""
        import joblib

        from .._outputs import atomic_file

        path = Path(path)
        with atomic_file(path, overwrite=overwrite, what="model file") as tmp:
            joblib.dump({"format": FORMAT, "model": self}, tmp)
        return path


def load_model(path: str | os.PathLike) -> TrainedClassifier:
    """Load a classifier saved by ``TrainedClassifier.save`` (a pickle: only load trusted files)."""
    import joblib

    path = Path(path)
    if not path.is_file():
        raise InputError("no such model file", source=path, hint="give the file written by --save-model / .save()")
    try:
        obj = joblib.load(path)
    except Exception as exc:
        raise InputError(
            f"cannot read the model file ({type(exc).__name__})",
            source=path,
            hint="give a file written by gutaxis classify --save-model",
        ) from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT or not isinstance(obj.get("model"), TrainedClassifier):
        raise InputError(
            "not a gutaxis classifier file", source=path, hint="give a file written by gutaxis classify --save-model"
        )
    return obj["model"]


def fit(estimator="lasso", data=None, y=None, *, case=None, random_state=0, match: str = "exact") -> TrainedClassifier:
    """Train ``estimator`` (a model name or a scikit-learn classifier/pipeline) on every sample.

    Inputs are checked as by :func:`~gutaxis.classify.cross_validate` (at least 5 samples of
    each class, no missing labels). Any ``random_state`` left as None in the estimator is set
    from ``random_state``.
    """
    from ._inputs import prepare
    from .result import _provenance
    from .validate import _resolve_estimator, _seeded, _seeds, model_weights

    started = time.time()
    est = _resolve_estimator(estimator)
    inp = prepare(data, y, case=case, match=match)
    fitted = _seeded(est, _seeds(random_state, 1)[0]).fit(inp.X, inp.y)
    name = estimator if isinstance(estimator, str) else type(estimator).__name__
    params = {"estimator_name": name, "estimator": repr(clone(est)), "random_state": random_state, "case": case}
    return TrainedClassifier(
        fitted, inp.X.columns, inp.classes, model_weights(fitted), params, _provenance(inp, time.time() - started)
    )
