"""``gutaxis.pl.pcoa``: samples on two principal coordinates, coloured by a metadata column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ._inputs import obs_column
from ._style import group_colors, legend_outside, new_figure, truncate

__all__ = ["pcoa"]

_SOURCE = "gutaxis.pl.pcoa"


def _is_coords(data) -> bool:
    if not isinstance(data, pd.DataFrame):
        return False
    if "proportion_explained" in data.attrs or "eigenvalues" in data.attrs:
        return True
    return len(data.columns) >= 2 and all(str(c).startswith("PC") for c in data.columns)


def pcoa(
    data,
    color: str | None = None,
    *,
    metadata: pd.DataFrame | None = None,
    metric: str | None = None,
    components: tuple[int, int] = (1, 2),
    ax=None,
    title: str | None = None,
    size: float = 18.0,
):
    """Samples on two principal coordinates, coloured by ``color``.

    Parameters
    ----------
    data
        Coordinates from :func:`gutaxis.pcoa` (samples x PC1..PCk), or an abundance table (AnnData
        or samples x taxa DataFrame) with ``metric=`` (e.g. ``"braycurtis"``): its PCoA is computed
        first.
    color
        Column of ``metadata`` (or of the AnnData's ``obs``) to colour by: a categorical one gets
        one colour per group (never repeated, whatever the number of groups) and a legend outside
        the axes; a numeric one with more than 12 values a colour scale.
    metadata
        Sample metadata indexed by sample ID (default: the AnnData's ``obs``).
    metric
        Distance for an abundance table (required then; refused for coordinates).
    components
        The two axes to draw, 1-based (default PC1 and PC2).
    ax
        A matplotlib Axes to draw into; default a new Figure (no pyplot).

    Returns
    -------
    The matplotlib Axes (``ax.figure.savefig("pcoa.svg")`` writes it).
    """
    from .._validation import _is_anndata

    if _is_anndata(data):
        if metadata is None:
            metadata = data.obs
        if metric is None:
            raise InputError(
                "pl.pcoa of an abundance table needs metric=",
                source=_SOURCE,
                hint="e.g. gutaxis.pl.pcoa(adata, color='diagnosis', metric='braycurtis')",
            )
    if _is_coords(data):
        if metric is not None:
            raise InputError(
                "metric= is for an abundance table; these are already coordinates",
                source=_SOURCE,
                hint="drop metric=, or pass the abundance table",
            )
        coords = data
    else:
        from ..measure.ordination import pcoa as _pcoa

        if metric is None:
            raise InputError(
                "pl.pcoa of an abundance table needs metric=",
                source=_SOURCE,
                hint="e.g. metric='braycurtis', or pass coordinates from gutaxis.pcoa",
            )
        coords = _pcoa(data, n_components=max(components), metric=metric)
    i, j = (int(c) - 1 for c in components)
    if min(i, j) < 0 or max(i, j) >= coords.shape[1]:
        raise InputError(
            f"components {components!r} are not among the {coords.shape[1]} axes of the coordinates",
            source=_SOURCE,
            hint="give two 1-based axis numbers, e.g. components=(1, 2)",
        )
    x, y = coords.iloc[:, i].to_numpy(dtype=float), coords.iloc[:, j].to_numpy(dtype=float)
    if ax is None:
        n_groups = (
            0 if color is None or metadata is None or color not in metadata.columns else metadata[color].nunique()
        )
        ax = new_figure((8.6 if n_groups > 16 else 6.8, 4.8)).subplots()  # room for a legend of two columns
    fig = ax.figure
    if color is None:
        ax.scatter(x, y, s=size, color="#0072B2", alpha=0.85, linewidths=0.3, edgecolors="white")
    else:
        col = obs_column(metadata, color, coords.index, _SOURCE)
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) and col.nunique() > 12
        if numeric:
            sc = ax.scatter(
                x,
                y,
                c=col.to_numpy(dtype=float),
                s=size,
                cmap="viridis",
                alpha=0.9,
                linewidths=0.3,
                edgecolors="white",
                plotnonfinite=True,
            )
            fig.colorbar(sc, ax=ax, label=truncate(color, 40), shrink=0.85)
        else:
            labels = col.astype(object).where(col.notna(), None)
            counts = labels.dropna().astype(str).value_counts()
            if isinstance(col.dtype, pd.CategoricalDtype):
                order = [str(c) for c in col.cat.categories if str(c) in counts.index]
            else:  # largest groups first: the legend reads from the most to the fewest samples
                order = sorted(counts.index, key=lambda g: (-counts[g], g))
            colors = group_colors(order)
            lab = labels.map(lambda v: None if v is None else str(v)).to_numpy(dtype=object)
            missing = np.array([v is None for v in lab])
            if missing.any():
                ax.scatter(
                    x[missing],
                    y[missing],
                    s=size * 0.7,
                    color="#bcc5cf",
                    alpha=0.7,
                    linewidths=0,
                    label=f"no value (n={int(missing.sum())})",
                )
            for g in order:
                m = lab == g
                ax.scatter(
                    x[m],
                    y[m],
                    s=size,
                    color=colors[g],
                    alpha=0.85,
                    linewidths=0.3,
                    edgecolors="white",
                    label=f"{truncate(g, 28)} (n={int(m.sum())})",
                    rasterized=len(x) > 3000,
                )
            legend_outside(ax, title=truncate(color, 28))
    pe = list(coords.attrs.get("proportion_explained", []) or [])
    names = []
    for k in (i, j):
        lab = str(coords.columns[k]).replace("PC", "PCoA ")
        if k < len(pe) and np.isfinite(pe[k]):
            lab += f" ({100 * pe[k]:.1f}%)"
        names.append(lab)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.axhline(0, color="#d9e2ec", linewidth=0.8, zorder=0)
    ax.axvline(0, color="#d9e2ec", linewidth=0.8, zorder=0)
    if title:
        ax.set_title(title, loc="left")
    return ax
