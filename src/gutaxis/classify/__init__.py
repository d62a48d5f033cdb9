"""Predict a condition from the microbiome, honestly: SIAMCAT-class classifiers in the
scikit-learn idiom, validated within and across studies.

=============================== =====================================================================
:func:`make_classifier`          SIAMCAT filter + normalisation + model in one scikit-learn Pipeline
:class:`FeatureFilter`           SIAMCAT's filters (abundance, cum.abundance, prevalence, variance)
:class:`Normalizer`              SIAMCAT's normalisations, frozen on training data (log.std, ...)
:class:`AssociationSelector`     supervised top-k selection (SIAMCAT ``perform.fs``), for pipelines
:class:`PenalizedLogisticRegression` LASSO / elastic net / ridge on glmnet's path, SIAMCAT's lambda rule
:func:`cross_validate`           repeated stratified k-fold, groups, nested tuning, permuted labels
:class:`RepeatedStratifiedGroupKFold` the splitter behind it
:func:`leave_one_study_out`      train on all studies but one, test on it
:func:`study_matrix`             train x test matrix across studies (diagonal: within-study CV)
:func:`fit`                      train on all samples -> :class:`TrainedClassifier` (``predict``)
:func:`check_confounders`        how well each metadata column alone predicts the label
:func:`within_strata`            re-evaluate within strata of a (flagged) column
:func:`labels_from_metadata`     0/1 labels from a metadata column
=============================== =====================================================================

Every fitted step lives inside the training fold; results are deterministic under
``random_state``; every table says its scheme (folds, repeats, blocking) and whether it is
within-study or cross-study. See ``docs/classify.md``.
"""

from __future__ import annotations

from ._inputs import MIN_PER_CLASS, labels_from_metadata
from .confounders import ConfounderReport, check_confounders, within_strata
from .crossstudy import leave_one_study_out, study_matrix
from .models import DEFAULT_GRIDS, MODELS, FeatureLimit, PenalizedLogisticRegression, make_classifier
from .predict import Prediction, TrainedClassifier, fit, load_model
from .result import CrossStudyResult, CVResult, consensus_table
from .transform import FILTERS, NORMALIZATIONS, AssociationSelector, FeatureFilter, Normalizer
from .validate import RepeatedStratifiedGroupKFold, cross_validate, model_weights

__all__ = [
    "DEFAULT_GRIDS",
    "FILTERS",
    "MIN_PER_CLASS",
    "MODELS",
    "NORMALIZATIONS",
    "AssociationSelector",
    "CVResult",
    "ConfounderReport",
    "CrossStudyResult",
    "FeatureFilter",
    "FeatureLimit",
    "Normalizer",
    "PenalizedLogisticRegression",
    "Prediction",
    "RepeatedStratifiedGroupKFold",
    "TrainedClassifier",
    "check_confounders",
    "consensus_table",
    "cross_validate",
    "fit",
    "labels_from_metadata",
    "leave_one_study_out",
    "load_model",
    "make_classifier",
    "model_weights",
    "study_matrix",
    "within_strata",
]
