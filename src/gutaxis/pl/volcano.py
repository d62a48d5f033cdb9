"""``gutaxis.pl.volcano``: coefficient against -log10(q) for one variable of association results."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._inputs import check_variable, default_variable, results_table, threshold
from ._style import new_figure, short_taxa, truncate

if TYPE_CHECKING:
    from matplotlib.transforms import Bbox

__all__ = ["volcano"]

_SOURCE = "gutaxis.pl.volcano"
_UP, _DOWN, _NS = "#D55E00", "#0072B2", "#aab4be"
# label positions tried round a point, in points (dx, dy, ha, va): the first free one is taken
_OFFSETS = [
    (5, 4, "left", "bottom"),
    (-5, 4, "right", "bottom"),
    (5, -4, "left", "top"),
    (-5, -4, "right", "top"),
    (0, 9, "center", "bottom"),
    (0, -9, "center", "top"),
    (12, 12, "left", "bottom"),
    (-12, 12, "right", "bottom"),
    (12, -12, "left", "top"),
    (-12, -12, "right", "top"),
    (0, 20, "center", "bottom"),
    (0, -20, "center", "top"),
]


def volcano(
    results,
    variable: str | None = None,
    value: str | None = None,
    *,
    q: float | None = None,
    n_labels: int = 12,
    ax=None,
    title: str | None = None,
):
    """Volcano plot of one variable's associations: coefficient (x) against -log10(q) (y).

    Parameters
    ----------
    results
        What :func:`gutaxis.associate` returns, or its ``all_results.tsv`` as a DataFrame.
    variable
        Metadata variable to show; default the first fixed effect of the model (the variable of
        interest; covariates follow it).
    value
        One level of a categorical variable (default: all its levels, each a separate point).
    q
        Significance threshold (default the model's ``max_significance``): the dashed line;
        significant points are coloured (vermilion: higher, blue: lower).
    n_labels
        The most significant associations labelled with their short taxon names; a label that
        would overlap another label is left out (``ax.gutaxis_unlabelled`` lists them).

    Returns
    -------
    The matplotlib Axes.
    """
    table, params = results_table(results, _SOURCE)
    variable = default_variable(table, params) if variable is None else str(variable)
    check_variable(table, variable, _SOURCE)
    part = table[table["metadata"].astype(str) == variable]
    if value is not None:
        levels = list(dict.fromkeys(part["value"].astype(str)))
        if str(value) not in levels:
            from ..errors import InputError

            raise InputError(
                f"value {value!r} is not a level of {variable!r} in the results",
                source=_SOURCE,
                hint=f"levels: {', '.join(levels[:20])}",
            )
        part = part[part["value"].astype(str) == str(value)]
    thr = threshold(params, q)
    qv = part["qval"].to_numpy(dtype=float)
    coef = part["coef"].to_numpy(dtype=float)
    yv = -np.log10(np.clip(np.where(np.isfinite(qv), qv, 1.0), 1e-300, 1.0))
    sig = np.isfinite(qv) & (qv <= thr)
    if ax is None:
        ax = new_figure((6.4, 4.8)).subplots()
    col = np.where(~sig, _NS, np.where(coef > 0, _UP, _DOWN))
    ax.scatter(coef, yv, s=14, c=list(col), alpha=0.85, linewidths=0)
    ax.axhline(-np.log10(thr), color="#52606d", linewidth=0.8, linestyle="--", zorder=0)
    ax.axvline(0, color="#d9e2ec", linewidth=0.8, zorder=0)
    ax.set_xlabel(
        f"coefficient ({truncate(variable, 30)}" + (f" {truncate(value, 20)}" if value is not None else "") + ")"
    )
    ax.set_ylabel("−log10(q)")
    ax.set_title(title or f"{truncate(variable, 40)}: {int(sig.sum())} of {len(part)} with q ≤ {thr:g}", loc="left")
    unique = list(dict.fromkeys(part["name"].astype(str)))
    short = dict(zip(unique, short_taxa(unique), strict=True))  # a feature's rows (one per level) share its name
    names = [truncate(short[n], 26) for n in part["name"].astype(str)]
    levels = part["value"].astype(str).tolist()
    many_levels = len(set(levels)) > 1
    order = [k for k in np.argsort(np.where(sig, qv, np.inf), kind="stable") if sig[k]][: max(0, n_labels)]
    ax.gutaxis_unlabelled = _label(
        ax, coef, yv, [(names[k] + (f" ({truncate(levels[k], 12)})" if many_levels else ""), k) for k in order]
    )
    return ax


def _label(ax, x, y, items) -> list[str]:
    """Label points without overlaps: each label takes the first free place round its point;
    returns the labels for which none was free."""
    fig = ax.figure
    fig.canvas.draw()  # the axes limits and the layout are final before labels are measured
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed: list[Bbox] = []
    points = ax.transData.transform(np.column_stack([x, y]))
    dropped = []
    for text, k in items:
        for dx, dy, ha, va in _OFFSETS:
            ann = ax.annotate(
                text,
                (x[k], y[k]),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=7.5,
                fontstyle="italic",
                color="#1f2933",
            )
            box = ann.get_window_extent(renderer)
            inside = box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1
            clash = any(box.overlaps(b) for b in placed)
            # a label must not cover another labelled point either
            covers = any(
                box.x0 <= points[j][0] <= box.x1 and box.y0 <= points[j][1] <= box.y1 for _, j in items if j != k
            )
            if inside and not clash and not covers:
                placed.append(box)
                break
            ann.remove()
        else:
            dropped.append(text)
    return dropped
