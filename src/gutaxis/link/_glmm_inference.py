"""What lme4 reports after a logistic mixed-model fit, for the one- and several-grouping-factor
fits alike (:mod:`._glmm`, :mod:`._glmm_multi`).

Standard errors of the fixed effects as ``summary(glmer)`` (``vcov.merMod``: ``2 [H^-1]_beta``
from the Hessian of the Laplace deviance in ``(theta, beta)``, else lme4's ``RX`` fallback;
:func:`_wald_se`), lme4's convergence checks (``checkConv``, lme4 1.1-31: scaled gradient above
0.002, degenerate or near-singular Hessians, none for a singular fit; :func:`lme4_conv_messages`,
:func:`_check_hess`) as lme4's warning texts, and glm.fit's warning for fitted probabilities
numerically 0 or 1 (:func:`_at_boundary`). Bates, Maechler, Bolker & Walker 2015, J Stat Softw
67(1), doi:10.18637/jss.v067.i01. Kept apart from the fits themselves, which only produce the
estimate, its gradient and Hessian.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lme4_conv_messages"]

_GRAD_TOL = 0.002  # lme4 check.conv.grad
_HESS_TOL = 1e-6  # lme4 check.conv.hess
_SINGULAR_TOL = 1e-4  # lme4 check.conv.singular


def _check_hess(H, hesstype=""):
    """lme4's ``checkHess``: the warning text for one Hessian, or None."""
    if not np.all(np.isfinite(H)):
        return "Problem with Hessian check (infinite or missing values?)"
    evd = np.linalg.eigvalsh(H)
    neg = int((evd < -_HESS_TOL).sum())
    if neg:
        return f"Model failed to converge: degenerate {hesstype} Hessian with {neg} negative eigenvalues"
    try:
        np.linalg.cholesky(H)
        chol_ok = True
    except np.linalg.LinAlgError:
        chol_ok = False
    if (np.abs(evd) < _HESS_TOL).any() or not chol_ok:
        return f"{hesstype} Hessian is numerically singular: parameters are not uniquely determined"
    msgs = []
    if evd.max() * _HESS_TOL > 1:
        msgs.append("Model is nearly unidentifiable: very large eigenvalue\n - Rescale variables?")
    if evd.min() / evd.max() < _HESS_TOL:
        msgs.append("Model is nearly unidentifiable: large eigenvalue ratio\n - Rescale variables?")
    return ";".join(msgs) or None


def lme4_conv_messages(theta, grad, hess):
    """The warnings ``lme4::checkConv`` (1.1-31) gives for one fit, in order (possibly empty).

    ``theta``: (K,) estimates; ``grad``, ``hess``: gradient and Hessian of the deviance in
    ``(theta, beta)``. A singular fit (some ``theta < 1e-4``) gets only a message, no warning.
    """
    theta = np.atleast_1d(theta)
    K = theta.size
    if (theta < _SINGULAR_TOL).any():
        return []
    out = []
    try:
        R = np.linalg.cholesky(hess).T  # R's chol(): upper triangle, H = R'R
        scgrad = np.linalg.solve(R, grad)
        if not np.all(np.isfinite(scgrad)):
            raise np.linalg.LinAlgError
        mg = float(np.max(np.minimum(np.abs(scgrad), np.abs(grad))))
        if mg > _GRAD_TOL:
            # lme4 reports which.max() of the (scalar) maximum: always component 1
            out.append(f"Model failed to converge with max|grad| = {mg:.6g} (tol = {_GRAD_TOL:g}, component 1)")
    except np.linalg.LinAlgError:
        out.append("unable to evaluate scaled gradient")
    if hess.shape[0] > K:
        m = _check_hess(hess[K:, K:], "fixed-effect")
        if m:
            out.append(m)
    m = _check_hess(hess, "")
    if m:
        out.append(m)
    return out


def _wald_se(H, RX, k):
    """Standard errors of the fixed effects as ``vcov.merMod``: ``2 [H^-1]_beta`` from the Hessian
    ``H`` of the deviance in (theta_1..k, beta) where that is positive definite, else lme4's RX
    fallback ``RX^-1``. Returns ``(se, from_hessian)``."""
    try:
        Hi = np.linalg.inv(H)
        V = Hi[k:, k:] + Hi[k:, k:].T
        if np.all(np.isfinite(V)) and np.linalg.eigvalsh(V).min() > 0:
            with np.errstate(invalid="ignore"):
                return np.sqrt(np.diagonal(V)), True
    except np.linalg.LinAlgError:
        pass
    try:
        V = np.linalg.inv(RX)
    except np.linalg.LinAlgError:
        return np.full(RX.shape[0], np.nan), False
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.diagonal(V)), False


def _at_boundary(mu):
    """Fitted probabilities numerically 0 or 1 (glm.fit's warning), per feature."""
    eps10 = 10 * np.finfo(float).eps
    return ((mu < eps10) | (mu > 1 - eps10)).any(axis=1)
