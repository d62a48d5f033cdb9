"""Performance measures of binary predictions and their bootstrap confidence intervals (private).

- AUROC: the Mann-Whitney statistic (ties count one half), equal to ``sklearn.metrics.roc_auc_score``.
- AUPRC: average precision (step-wise area under the precision-recall curve, thresholds at the
  distinct predicted values), equal to ``sklearn.metrics.average_precision_score``.
- Balanced accuracy: mean of sensitivity and specificity at a probability cutoff of 0.5.

The bootstrap resamples samples within each class (stratified), or whole groups when groups are
given (cluster bootstrap), and reports percentile intervals.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import rankdata

__all__ = ["METRICS", "accuracy_ci", "auprc", "auroc", "balanced_accuracy", "bootstrap_ci", "score_all"]

METRICS = ("auroc", "auprc", "balanced_accuracy")


def auroc(y, score) -> float:
    y = np.asarray(y) > 0.5
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(score)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auprc(y, score) -> float:
    y = np.asarray(y) > 0.5
    n1 = int(y.sum())
    if n1 == 0 or n1 == y.size:
        return float("nan")
    score = np.asarray(score, dtype=float)
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]  # last index of each distinct threshold
    tp = np.cumsum(t)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / n1
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def balanced_accuracy(y, prob, cutoff: float = 0.5) -> float:
    y = np.asarray(y) > 0.5
    if y.all() or not y.any():
        return float("nan")
    pred = np.asarray(prob) > cutoff
    return float(0.5 * (pred[y].mean() + (~pred[~y]).mean()))


_FUNCS: dict[str, Callable[..., float]] = {"auroc": auroc, "auprc": auprc, "balanced_accuracy": balanced_accuracy}


def score_all(y, prob) -> dict[str, float]:
    return {m: _FUNCS[m](y, prob) for m in METRICS}


def bootstrap_ci(y, prob, *, groups=None, n_boot: int = 1000, confidence: float = 0.95, seed=0) -> dict:
    """Percentile bootstrap intervals ``{metric: (low, high)}`` of every metric in :data:`METRICS`."""
    y = np.asarray(y) > 0.5
    prob = np.asarray(prob, dtype=float)
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {m: [] for m in METRICS}
    if n_boot <= 0:
        return {m: (float("nan"), float("nan")) for m in METRICS}
    if groups is None:
        pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
        for _ in range(n_boot):
            idx = np.r_[rng.choice(pos, pos.size), rng.choice(neg, neg.size)]
            for m in METRICS:
                out[m].append(_FUNCS[m](y[idx], prob[idx]))
    else:
        codes, uniq = _codes(groups)
        members = [np.flatnonzero(codes == g) for g in range(len(uniq))]
        for _ in range(n_boot):
            pick = rng.integers(0, len(members), len(members))
            idx = np.concatenate([members[g] for g in pick])
            for m in METRICS:
                out[m].append(_FUNCS[m](y[idx], prob[idx]))
    a = (1 - confidence) / 2
    res = {}
    for m, vals in out.items():
        v = np.asarray(vals, dtype=float)
        v = v[np.isfinite(v)]
        res[m] = (float(np.quantile(v, a)), float(np.quantile(v, 1 - a))) if v.size else (float("nan"), float("nan"))
    return res


def accuracy_ci(y, prob, *, n_boot: int = 1000, confidence: float = 0.95, seed=0) -> tuple[float, float]:
    """Percentile bootstrap interval of the accuracy at 0.5 (samples resampled)."""
    correct = ((np.asarray(prob) > 0.5) == (np.asarray(y) > 0.5)).astype(float)
    if n_boot <= 0 or correct.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = correct[rng.integers(0, correct.size, (n_boot, correct.size))].mean(axis=1)
    a = (1 - confidence) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def _codes(groups):
    uniq, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    return codes, uniq
