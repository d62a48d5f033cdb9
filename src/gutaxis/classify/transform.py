"""SIAMCAT's feature filters and normalisations as scikit-learn transformers.

Wirbel J, Zych K, Essex M, et al. Genome Biol 2021;22:93. doi:10.1186/s13059-021-02306-1
(SIAMCAT ``filter.features`` and ``normalize.features``, with frozen normalisation of new data).

Every parameter is estimated in :meth:`fit` on the training samples only and re-applied
unchanged by :meth:`transform` to any other samples (SIAMCAT's *frozen* normalisation): a
held-out study, a single new sample. Inside a :class:`~sklearn.pipeline.Pipeline` evaluated by
cross-validation this keeps every fitted step inside the training fold.

Input is samples x features (relative abundances for the filters and the log/rank
normalisations). Feature names of a DataFrame are kept (``feature_names_in_``,
``get_feature_names_out``), so that weights can be mapped back to taxa.

================ ======================================================================
filter           keeps a feature when, on the training samples ...
================ ======================================================================
``abundance``    its maximum is >= ``cutoff``
``cum.abundance`` it is, in some sample, among the most abundant features that make up
                 ``1 - cutoff`` of that sample's total
``prevalence``   it is > 0 in more than a fraction ``cutoff`` of samples
``variance``     its variance (divisor n - 1) is >= ``cutoff``
``pass``         always
================ ======================================================================

``rm_unmapped`` also drops SIAMCAT's unmapped features (``UNMAPPED``, ``-1``, ``unclassified``...).

================ ======================================================================
normalisation    on feature x of sample s (parameters frozen on the training samples)
================ ======================================================================
``log.std``      ``(log10(x + n0) - mean) / (sd + q)``; q = quantile ``sd_min_q`` of the sds
``std``          ``(x - mean) / (sd + q)`` (no log)
``log.unit``     ``log10(x + n0)`` divided by the feature's (``norm_margin=1``) L1/L2 norm over
                 the training samples, by the sample's own norm (``2``) or the global max (``3``)
``log.clr``      SIAMCAT's definition: ``log(x + n0)`` minus the feature's mean log over the
                 training samples (centred per feature, not per sample)
``clr``          Aitchison's centred log-ratio per sample: ``log(x + n0)`` minus the sample's
                 mean log over the retained features
``rank.unit``    ranks within the sample divided by their L2 norm
``rank.std``     ranks within the sample, centred and scaled per feature (``sd + q``)
``presence``     1 where ``x > detection``, else 0 (presence/absence, as GMWI2 uses; not SIAMCAT's)
``pass``         unchanged
================ ======================================================================

Every method but ``pass`` first drops the features that are constant on the training samples
(SIAMCAT does the same); SIAMCAT's default pseudocount ``n0`` is 1e-6 and ``sd_min_q`` 0.1.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import _check_feature_names_in

from ..errors import InputError
from ._sk import check_choice, check_fitted, validate

__all__ = ["FILTERS", "NORMALIZATIONS", "UNMAPPED", "AssociationSelector", "FeatureFilter", "Normalizer"]

FILTERS = ("abundance", "cum.abundance", "prevalence", "variance", "pass")
NORMALIZATIONS = ("log.std", "std", "log.unit", "log.clr", "clr", "rank.unit", "rank.std", "presence", "pass")
#: feature names SIAMCAT drops as unmapped reads (``rm.unmapped=TRUE``)
UNMAPPED = frozenset(
    {
        "UNMAPPED",
        "-1",
        "X.1",
        "unmapped",
        "Unclassified",
        "Unassigned",
        "UNCLASSIFIED",
        "unclassified",
        "UNASSIGNED",
        "unassigned",
    }
)


class _Selecting(TransformerMixin, BaseEstimator):
    """Shared part of the transformers that keep a subset of the features (``support_``); their
    :meth:`transform` returns those columns (:class:`Normalizer` also rescales them)."""

    def get_support(self, indices: bool = False):
        check_fitted(self, "support_")
        return np.flatnonzero(self.support_) if indices else self.support_.copy()

    def get_feature_names_out(self, input_features=None):
        check_fitted(self, "support_")
        names = _check_feature_names_in(self, input_features)
        return np.asarray(names, dtype=object)[self.support_]

    def transform(self, X):
        check_fitted(self, "support_")
        X = validate(self, X, reset=False)
        return X[:, self.support_]


class FeatureFilter(_Selecting):
    """SIAMCAT's unsupervised feature filter (``filter.features``), frozen on the training data.

    Parameters
    ----------
    method
        One of ``FILTERS``.
    cutoff
        Threshold of the method (SIAMCAT's default 0.001; a fraction for ``prevalence``).
    rm_unmapped
        Drop the features named as unmapped reads (``UNMAPPED``); needs feature names.
    drop_constant
        Also drop features that are constant on the training samples.

    Attributes
    ----------
    support_ : boolean mask of the features kept
    n_removed_ : how many were removed
    """

    def __init__(
        self, method: str = "abundance", cutoff: float = 0.001, *, rm_unmapped: bool = True, drop_constant: bool = False
    ):
        self.method = method
        self.cutoff = cutoff
        self.rm_unmapped = rm_unmapped
        self.drop_constant = drop_constant

    def fit(self, X, y=None):
        check_choice(self.method, FILTERS, what="filter", source="filter")
        X = validate(self, X, reset=True)
        cutoff = float(self.cutoff)
        m = self.method
        if m == "abundance":
            keep = X.max(axis=0) >= cutoff
        elif m == "cum.abundance":
            keep = _cum_abundance(X, cutoff)
        elif m == "prevalence":
            keep = (X > 0).mean(axis=0) > cutoff
        elif m == "variance":
            keep = (X.var(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(X.shape[1])) >= cutoff
        else:
            keep = np.ones(X.shape[1], dtype=bool)
        if self.rm_unmapped and m != "pass" and hasattr(self, "feature_names_in_"):
            keep &= ~np.isin(np.asarray(self.feature_names_in_, dtype=str), list(UNMAPPED))
        if self.drop_constant:
            keep &= X.max(axis=0) > X.min(axis=0)
        if not keep.any():
            raise InputError(
                f"no feature is left after the {m!r} filter with cutoff {cutoff:g} "
                f"({X.shape[1]} features, {X.shape[0]} training samples)",
                source="filter",
                hint="lower the cutoff or choose another filter",
            )
        self.support_ = keep
        self.n_removed_ = int((~keep).sum())
        return self


def _cum_abundance(X: np.ndarray, cutoff: float) -> np.ndarray:
    """Features that, in some sample, are not among the least abundant whose sum stays < cutoff."""
    order = np.argsort(X, axis=1, kind="stable")
    cs = np.cumsum(np.take_along_axis(X, order, axis=1), axis=1)
    n_drop = (cs < cutoff).sum(axis=1)  # cs increases: positions with cs < cutoff lead the order
    ranks = np.empty_like(order)
    rows = np.arange(X.shape[0])[:, None]
    ranks[rows, order] = np.arange(X.shape[1])[None, :]
    return (ranks >= n_drop[:, None]).any(axis=0)


def _ranks(X: np.ndarray) -> np.ndarray:
    """Average ranks of the features within each sample (row)."""
    return rankdata(X, axis=1, method="average") if X.shape[1] else X


class Normalizer(_Selecting):
    """SIAMCAT's normalisations (``normalize.features``), parameters frozen on the training data.

    Parameters
    ----------
    method
        One of ``NORMALIZATIONS`` (see the module notes).
    log_n0
        Pseudocount added before the log (SIAMCAT's default 1e-6).
    sd_min_q
        Quantile of the features' standard deviations added to each of them (``log.std``,
        ``std``, ``rank.std``; default 0.1).
    n_p, norm_margin
        Of ``log.unit``: vector norm (1 or 2) and margin (1 features, 2 samples, 3 global max).
    detection
        Of ``presence``: a feature is present above this value (default 0).

    Attributes
    ----------
    support_ : features kept (those not constant on the training samples)
    mean_, scale_ : frozen centring and scaling (per kept feature), where the method has them
    """

    def __init__(
        self,
        method: str = "log.std",
        *,
        log_n0: float = 1e-6,
        sd_min_q: float = 0.1,
        n_p: int = 2,
        norm_margin: int = 1,
        detection: float = 0.0,
    ):
        self.method = method
        self.detection = detection
        self.log_n0 = log_n0
        self.sd_min_q = sd_min_q
        self.n_p = n_p
        self.norm_margin = norm_margin

    def _check(self):
        check_choice(self.method, NORMALIZATIONS, what="normalisation", source="normalization")
        if self.method == "log.unit":
            if self.n_p not in (1, 2):
                raise InputError(f"n_p must be 1 or 2, got {self.n_p!r}", source="normalization")
            if self.norm_margin not in (1, 2, 3):
                raise InputError(f"norm_margin must be 1, 2 or 3, got {self.norm_margin!r}", source="normalization")

    def fit(self, X, y=None):
        self._check()
        X = validate(self, X, reset=True)
        m = self.method
        if m == "pass":
            self.support_ = np.ones(X.shape[1], dtype=bool)
            return self
        if X.shape[0] < 2:
            raise InputError("normalisation parameters need at least 2 training samples", source="normalization")
        if m != "std" and m != "rank.unit" and m != "rank.std" and (X < 0).any():
            raise InputError(
                "log normalisation of negative values",
                source="normalization",
                hint="abundances must be >= 0; use normalization='std' or 'pass' for other data",
            )
        sd = (float(self.detection) < X).std(axis=0, ddof=1) if m == "presence" else X.std(axis=0, ddof=1)
        keep = sd > 0
        if not keep.any():
            raise InputError(
                "every feature is constant on the training samples",
                source="normalization",
                hint="check the table; nothing can be learned from constant features",
            )
        self.support_ = keep
        Xk = X[:, keep]
        n0 = float(self.log_n0)
        if m in ("log.std", "std", "rank.std"):
            Z = np.log10(Xk + n0) if m == "log.std" else (_ranks(Xk) if m == "rank.std" else Xk)
            s = Z.std(axis=0, ddof=1)
            q = float(np.quantile(s, float(self.sd_min_q)))
            if not q > 0:
                raise InputError(
                    f"the {self.sd_min_q} quantile of the features' standard deviations is 0",
                    source="normalization",
                    hint="raise sd_min_q or filter rare features first",
                )
            self.mean_ = Z.mean(axis=0)
            self.scale_ = s + q
        elif m == "log.unit":
            L = np.log10(Xk + n0)
            if self.norm_margin == 1:  # SIAMCAT: x / sum(x) for n.p = 1 (a signed sum), x / sqrt(sum(x^2)) for 2
                self.scale_ = L.sum(axis=0) if self.n_p == 1 else np.sqrt((L**2).sum(axis=0))
            elif self.norm_margin == 3:
                self.scale_ = np.array(float(L.max()))
        elif m == "log.clr":
            self.mean_ = np.log(Xk + n0).mean(axis=0)
        return self

    def transform(self, X):
        check_fitted(self, "support_")
        X = validate(self, X, reset=False)
        m = self.method
        if m == "pass":
            return X.copy()
        Xk = X[:, self.support_]
        n0 = float(self.log_n0)
        if m == "log.std":
            return (np.log10(Xk + n0) - self.mean_) / self.scale_
        if m == "std":
            return (Xk - self.mean_) / self.scale_
        if m == "rank.std":
            return (_ranks(Xk) - self.mean_) / self.scale_
        if m == "presence":
            return (Xk > float(self.detection)).astype(np.float64)
        if m == "rank.unit":
            R = _ranks(Xk)
            return R / np.sqrt((R**2).sum(axis=1, keepdims=True))
        if m == "log.clr":
            return np.log(Xk + n0) - self.mean_
        if m == "clr":
            L = np.log(Xk + n0)
            return L - L.mean(axis=1, keepdims=True)
        # log.unit
        L = np.log10(Xk + n0)
        if self.norm_margin == 2:
            d = L.sum(axis=1, keepdims=True) if self.n_p == 1 else np.sqrt((L**2).sum(axis=1, keepdims=True))
            return L / d
        return L / self.scale_


class AssociationSelector(_Selecting):
    """Keep the ``k`` features most associated with the label in the training data (supervised).

    SIAMCAT's ``perform.fs`` with ``method="AUC"``, ``direction="absolute"``: each feature's
    AUROC for the label, ranked by ``|AUROC - 0.5|``; ``method="gfc"`` ranks by SIAMCAT's
    generalised fold change (mean difference of the 10..90% quantiles). Being supervised, it
    must only ever be fitted on training folds: put it inside the pipeline that is
    cross-validated, never in front of the cross-validation.
    """

    def __init__(self, k: int = 100, *, method: str = "auc"):
        self.k = k
        self.method = method

    def fit(self, X, y):
        X, y = validate(self, X, y, reset=True)
        if self.method not in ("auc", "gfc"):
            raise InputError(f"unknown selection method {self.method!r}", source="select", hint="use 'auc' or 'gfc'")
        classes = np.unique(y)
        if len(classes) != 2:
            raise InputError("feature selection needs two classes in the training data", source="select")
        k = int(self.k)
        if k < 1:
            raise InputError(f"select k must be >= 1, got {k}", source="select")
        if k > X.shape[1]:
            raise InputError(
                f"asked to select {k} features but only {X.shape[1]} reach the selection step",
                source="select",
                hint="lower k (select=...) or loosen the filter",
            )
        pos = y == classes[1]
        if self.method == "auc":
            R = rankdata(X, axis=0, method="average")
            n1, n0 = int(pos.sum()), int((~pos).sum())
            auc = (R[pos].sum(axis=0) - n1 * (n1 + 1) / 2) / (n1 * n0)
            score = np.abs(auc - 0.5)
        else:
            qs = np.linspace(0.1, 0.9, 9)
            score = np.abs((np.quantile(X[pos], qs, axis=0) - np.quantile(X[~pos], qs, axis=0)).mean(axis=0))
        self.scores_ = score
        order = np.argsort(-score, kind="stable")
        keep = np.zeros(X.shape[1], dtype=bool)
        keep[order[:k]] = True
        self.support_ = keep
        return self
