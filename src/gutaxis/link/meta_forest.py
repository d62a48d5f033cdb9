"""Forest plots of a :class:`~gutaxis.link.meta.MetaResult`: each study's estimate and confidence
interval (squares sized by their random-effects weight) and the pooled estimate (a diamond).

A feature seen in fewer than ``min_studies`` studies has no pooled estimate: its plot shows the
study's estimate and says so, with no diamond.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, ForwardRef

import numpy as np
from scipy import stats

from .._typing import MplFigure, PathLike
from ..errors import InputError
from ._permutations import show_ids

if TYPE_CHECKING:
    from .meta import MetaResult as _MetaResult
else:  # .meta imports this module: a forward reference that typing.get_type_hints resolves there
    _MetaResult = ForwardRef("MetaResult", module="gutaxis.link.meta")

__all__ = ["feature_key", "feature_label", "forest_plot", "safe_filename"]


def feature_key(table, feature):
    """The row of ``table`` that ``feature`` names: an index entry (a tuple for results pooled by
    feature, metadata and value), or a feature name that is unique in the first level."""
    multi = getattr(table.index, "nlevels", 1) > 1
    if not multi and feature in table.index:
        return feature
    if multi:
        if isinstance(feature, tuple) and feature in table.index:
            return feature
        hits = [key for key in table.index if str(key[0]) == str(feature)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise InputError(
                f"feature {feature!r} has {len(hits)} rows (one per metadata and value)",
                source="forest_plot",
                hint=f"name one as a tuple, e.g. {hits[0]!r}",
            )
    raise InputError(
        f"unknown feature {feature!r}",
        source="forest_plot",
        hint=f"features are e.g. {show_ids([str(k) for k in table.index], 3)}",
    )


def feature_label(key) -> str:
    """``feature`` or ``feature (metadata = value)`` for a row key."""
    if isinstance(key, tuple):
        feature, *rest = key
        if len(rest) >= 2:
            extra = f" [{rest[2]}]" if len(rest) > 2 else ""
            return f"{feature} ({rest[0]} = {rest[1]}){extra}"
        return str(feature)
    return str(key)


def forest_plot(
    result: _MetaResult,
    feature: Hashable | None = None,
    *,
    path: PathLike | None = None,
    title: str | None = None,
    effect_label: str = "effect",
) -> MplFigure:
    """Forest plot of one feature: each study's estimate and CI (squares sized by weight) and the
    pooled random-effects estimate (diamond; none for a feature in fewer than ``min_studies``
    studies). ``feature``: a row of ``result.table`` (for associate outputs a tuple (feature,
    metadata, value), or a feature name with one row). Returns a matplotlib ``Figure``; with
    ``path`` it is also written there (SVG unless the suffix says otherwise)."""
    import matplotlib
    from matplotlib.figure import Figure

    table = result.table
    if feature is None:
        if len(table) != 1:
            raise InputError(
                "the result holds several features; name one",
                source="forest_plot",
                hint=f"e.g. feature={table.index[0]!r}",
            )
        feature = table.index[0]
    key = feature_key(table, feature)
    row = table.loc[key]
    y = result.effects.loc[key]
    se = result.std_errors.loc[key]
    wt = result.weights.loc[key]
    have = y.notna().to_numpy()
    studies = list(y.index[have])
    yv, sv, wv = y.to_numpy()[have], se.to_numpy()[have], wt.to_numpy()[have]
    crit = stats.norm.ppf(0.5 + result.level / 200.0)
    lo, hi = yv - crit * sv, yv + crit * sv
    n = len(studies)
    pooled = bool(np.isfinite(row["estimate"]))
    min_studies = getattr(result, "min_studies", 1)
    with matplotlib.rc_context({"svg.hashsalt": "gutaxis", "svg.fonttype": "none"}):
        fig = Figure(figsize=(7.5, 1.4 + 0.32 * (n + 2)))
        ax = fig.add_subplot(1, 1, 1)
        pos = np.arange(n, 0, -1) + 1.0
        if n:
            w = np.where(np.isfinite(wv), wv, 100.0 / n)  # not pooled: no weights, equal squares
            sizes = 20 + 180 * (w / max(np.max(w), 1e-300))
            ax.hlines(pos, lo, hi, color="#333333", lw=1)
            ax.scatter(yv, pos, s=sizes, marker="s", color="#2b6cb0", zorder=3)
        est, cl, ch = row["estimate"], row["ci_low"], row["ci_high"]
        if pooled:
            ax.fill([cl, est, ch, est], [0.5, 0.8, 0.5, 0.2], color="#c53030", zorder=3)
            bottom = f"RE model ({result.method})"
            bottom_right = f"{est:.2f} [{cl:.2f}, {ch:.2f}]"
        else:
            bottom = f"not pooled: {n} stud{'y' if n == 1 else 'ies'}"
            bottom_right = f"needs {min_studies}"
        ax.axvline(0.0, color="#888888", lw=0.8, ls="--")
        ax.set_yticks([*pos, 0.5])
        ax.set_yticklabels([str(s) for s in studies] + [bottom])
        ax.set_ylim(-0.2, n + 1.6)
        ax.set_xlabel(f"{effect_label} [{result.level:g}% CI]")
        name = feature_label(key)
        if not pooled:
            head = f"{name}\nin {n} stud{'y' if n == 1 else 'ies'}: no pooled estimate (at least {min_studies} needed)"
        else:
            het = (
                f"tau² = {row['tau2']:.3g}, I² = {row['I2']:.1f}%, Q = {row['Q']:.2f} (df {int(row['Q_df'])}, "
                f"p = {row['Q_p']:.2g})"
                if row["k"] > 1
                else "one study"
            )
            head = f"{name}\nestimate {est:.3g} [{cl:.3g}, {ch:.3g}], p = {row['p']:.2g}; {het}"
        ax.set_title(title or head, fontsize=9)
        right = ax.secondary_yaxis("right")
        right.set_yticks([*pos, 0.5])
        right.set_yticklabels(
            [f"{a:.2f} [{b:.2f}, {c:.2f}]" for a, b, c in zip(yv, lo, hi, strict=True)] + [bottom_right], fontsize=8
        )
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        if path is not None:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(
                path,
                format=path.suffix.lstrip(".") or "svg",
                metadata={"Date": None} if path.suffix in ("", ".svg") else None,
            )
    return fig


def safe_filename(name) -> str:
    """A file name for a feature (a tuple key joined with ``__``): letters, digits, ``._-`` only."""
    if isinstance(name, tuple):
        name = "__".join(map(str, name))
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("_")[:120] or "feature"
