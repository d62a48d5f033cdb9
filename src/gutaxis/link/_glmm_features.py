"""The per-feature arrays of a logistic mixed-model problem and the starting fixed effects, shared
by the one-grouping-factor fit (:mod:`._glmm`) and the several-factor fit (:mod:`._glmm_multi`).

:func:`_sub` takes the arrays of a subset of features (the optimisers run all features in lockstep
and drop those that converged; a :class:`_View` holds what remains), :func:`_start` fits the
weighted (augmented) logistic regression at ``theta = 0`` that both fits start from. Kept apart so
that both fits can import them without an import cycle: ``_glmm`` imports ``_glmm_multi``, and
both import this module, which imports neither.
"""

from __future__ import annotations

import numpy as np
from scipy import special


class _View:
    """The per-feature arrays of a subset of features (see :func:`_sub`)."""


def _start(prob, v, maxit=25):
    """Starting fixed effects: the weighted (augmented) logistic regression at gamma = 0."""
    X = prob.X
    F = v.P.shape[0]
    beta = np.zeros((F, prob.p))
    with np.errstate(divide="ignore", invalid="ignore"):
        p0 = np.clip(v.P.sum(axis=1) / v.a.sum(axis=1), 1e-6, 1 - 1e-6)
    icpt = np.flatnonzero(np.all(X == 1.0, axis=0))
    if icpt.size:
        beta[:, icpt[0]] = special.logit(p0)
    outer = prob.O
    for _ in range(maxit):
        eta = beta @ X.T
        mu = special.expit(eta)
        W = v.a * mu * (1 - mu)
        H = (W @ outer).reshape(F, prob.p, prob.p) + 1e-10 * np.eye(prob.p)
        gr = (v.P - v.a * mu) @ X
        step = np.linalg.solve(H, gr[:, :, None])[:, :, 0]
        nrm = np.abs(step).max(axis=1, keepdims=True)
        step = step * np.minimum(1.0, 5.0 / np.maximum(nrm, 1e-300))  # no wild first steps
        beta = beta + step
        if np.all(nrm < 1e-8):
            break
    return beta


def _sub(v, idx):
    """The per-feature arrays of features ``idx`` of a problem or view."""
    out = _View()
    for k in ("P", "N", "a", "Lp", "Ln", "c", "Psum", "Nsum"):
        if hasattr(v, k):  # group sums exist for one grouping factor only
            setattr(out, k, getattr(v, k)[idx])
    return out
