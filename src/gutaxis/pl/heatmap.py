"""``gutaxis.pl.heatmap``: features x variables (or levels) of association coefficients, or any
features x columns table, on a diverging palette centred at 0."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ._inputs import results_table, threshold
from ._style import new_figure, short_taxa, truncate

__all__ = ["coefficient_grid", "heatmap"]

_SOURCE = "gutaxis.pl.heatmap"


def _col_label(metadata, value) -> str:
    return str(metadata) if str(metadata) == str(value) else f"{metadata}: {value}"


def coefficient_grid(
    results, *, variables=None, q: float | None = None, max_features: int = 50, significant_only: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(coefficients, q-values): features x ``variable: level`` columns of association results;
    rows the features with at least one significant association (``significant_only``), at most
    ``max_features`` of them, those with the smallest q first."""
    table, params = results_table(results, _SOURCE)
    if variables is not None:
        variables = [variables] if isinstance(variables, str) else [str(v) for v in variables]
        present = set(table["metadata"].astype(str))
        missing = [v for v in variables if v not in present]
        if missing:
            raise InputError(
                f"variable(s) {', '.join(map(repr, missing))} not in the results",
                source=_SOURCE,
                hint=f"the results have: {', '.join(sorted(present)[:20])}",
            )
        table = table[table["metadata"].astype(str).isin(variables)]
    thr = threshold(params, q)
    table = table.assign(col=[_col_label(m, v) for m, v in zip(table["metadata"], table["value"], strict=True)])
    best = table.groupby("name", sort=False)["qval"].min()
    if significant_only:
        best = best[best <= thr]
    feats = list(best.sort_values(kind="stable").index[:max_features])
    cols = list(dict.fromkeys(table["col"]))
    part = table[table["name"].isin(feats)]
    coef = part.pivot_table(index="name", columns="col", values="coef", aggfunc="first").reindex(
        index=feats, columns=cols
    )
    qv = part.pivot_table(index="name", columns="col", values="qval", aggfunc="first").reindex(
        index=feats, columns=cols
    )
    return coef, qv


def _order(matrix: np.ndarray) -> np.ndarray:
    """Leaf order of an average-linkage clustering of the rows (missing values as 0)."""
    if matrix.shape[0] < 3:
        return np.arange(matrix.shape[0])
    from scipy.cluster.hierarchy import leaves_list, linkage

    m = np.nan_to_num(matrix, nan=0.0)
    return leaves_list(linkage(m, method="average", metric="euclidean"))


def heatmap(
    data,
    *,
    variables=None,
    q: float | None = None,
    max_features: int = 50,
    cluster: bool = True,
    significant_only: bool = True,
    mark_significant: bool = True,
    label: str = "coefficient",
    ax=None,
    title: str | None = None,
):
    """Heatmap of association coefficients (features x variables or their levels).

    Parameters
    ----------
    data
        What :func:`gutaxis.associate` returns (or its ``all_results.tsv`` as a DataFrame), or a
        numeric features x columns DataFrame drawn as it is.
    variables
        Variables of the results to show (default all).
    q
        Significance threshold (default the model's ``max_significance``): rows are the features
        with a significant association (``significant_only``), and significant cells carry a dot
        (``mark_significant``).
    max_features
        At most this many rows (the smallest q first), as MaAsLin's ``heatmap_first_n``.
    cluster
        Order rows (and columns, when more than two) by average-linkage clustering; else by q.

    Returns
    -------
    The matplotlib Axes.
    """
    qv = None
    if isinstance(data, pd.DataFrame) and not {"feature", "metadata", "coef"} <= set(data.columns):
        coef = data.apply(pd.to_numeric, errors="coerce")
        if coef.empty or not np.isfinite(coef.to_numpy(dtype=float)).any():
            raise InputError(
                "the table has no numeric values to draw",
                source=_SOURCE,
                hint="give a features x columns table of numbers, or associate's results",
            )
        names = [str(i) for i in coef.index]
    else:
        coef, qv = coefficient_grid(
            data, variables=variables, q=q, max_features=max_features, significant_only=significant_only
        )
        if coef.empty:
            raise InputError(
                "no feature has a significant association to draw"
                if significant_only
                else "the results have no coefficient to draw",
                source=_SOURCE,
                hint="raise q=, or pass significant_only=False to draw the top features anyway",
            )
        names = list(coef.index)
    m = coef.to_numpy(dtype=float)
    rows = _order(m) if cluster else np.arange(m.shape[0])
    cols = _order(m.T) if cluster and m.shape[1] > 2 else np.arange(m.shape[1])
    m = m[np.ix_(rows, cols)]
    row_labels = short_taxa([names[r] for r in rows])
    col_labels = [str(coef.columns[c]) for c in cols]
    vmax = float(np.nanmax(np.abs(m))) if np.isfinite(m).any() else 1.0
    vmax = vmax if vmax > 0 else 1.0
    if ax is None:
        longest = max(len(truncate(r, 40)) for r in row_labels)
        ax = new_figure(
            (
                1.6 + 0.07 * longest + 0.42 * len(col_labels) + 1.2,
                1.4 + 0.22 * len(row_labels) + 0.06 * max(len(truncate(c, 30)) for c in col_labels),
            )
        ).subplots()
    fig = ax.figure
    ax.set_facecolor("#f5f7fa")
    mesh = ax.pcolormesh(np.ma.masked_invalid(m), cmap="RdBu_r", vmin=-vmax, vmax=vmax, linewidth=0)
    if qv is not None and mark_significant:
        thr = threshold(getattr(data, "params", {}) or {}, q)
        qm = qv.to_numpy(dtype=float)[np.ix_(rows, cols)]
        rr, cc = np.nonzero(np.isfinite(qm) & (qm <= thr))
        ax.scatter(cc + 0.5, rr + 0.5, s=6, color="#1f2933", linewidths=0, zorder=3)
    ax.set_xlim(0, m.shape[1])
    ax.set_ylim(m.shape[0], 0)
    ax.set_xticks(np.arange(len(col_labels)) + 0.5)
    ax.set_xticklabels(
        [truncate(c, 30) for c in col_labels], rotation=45, ha="right", rotation_mode="anchor", fontsize=8.5
    )
    ax.set_yticks(np.arange(len(row_labels)) + 0.5)
    ax.set_yticklabels(
        [truncate(r, 40) for r in row_labels], fontsize=8 if len(row_labels) > 25 else 8.5, fontstyle="italic"
    )
    ax.tick_params(length=0)
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    cb = fig.colorbar(mesh, ax=ax, shrink=min(1.0, max(0.3, 12 / max(len(row_labels), 1))), aspect=18, pad=0.02)
    cb.set_label(label + (" (dot: q ≤ threshold)" if qv is not None and mark_significant else ""))
    cb.outline.set_visible(False)
    if title:
        ax.set_title(title, loc="left")
    ax.gutaxis_rows = [names[r] for r in rows]
    return ax
