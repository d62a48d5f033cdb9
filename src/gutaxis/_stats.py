"""Multiple-testing corrections shared by every part of gutaxis that reports q-values."""

from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = ["CORRECTIONS", "p_adjust"]

CORRECTIONS = ("BH", "BY", "holm", "hochberg", "bonferroni")


def p_adjust(p, method: str = "BH") -> np.ndarray:
    """R's ``p.adjust`` over the non-missing p-values (missing stay missing)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    x = p[ok]
    n = x.size
    if n == 0:
        return out
    if method == "bonferroni":
        q = np.minimum(1.0, x * n)
    elif method in ("BH", "BY", "hochberg"):
        order = np.argsort(-x, kind="stable")
        i = np.arange(n, 0, -1)
        if method == "BH":
            adj = n / i * x[order]
        elif method == "BY":
            adj = (n / i) * np.sum(1.0 / np.arange(1, n + 1)) * x[order]
        else:
            adj = (n - i + 1) * x[order]
        q = np.empty(n)
        q[order] = np.minimum(1.0, np.minimum.accumulate(adj))
    elif method == "holm":
        order = np.argsort(x, kind="stable")
        i = np.arange(1, n + 1)
        q = np.empty(n)
        q[order] = np.minimum(1.0, np.maximum.accumulate((n - i + 1) * x[order]))
    else:
        raise InputError(
            f"unknown correction {method!r}", source="correction", hint=f"use one of {', '.join(CORRECTIONS)}"
        )
    out[ok] = q
    return out
