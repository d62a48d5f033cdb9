"""Figures of the HTML report: matplotlib figures on an Agg canvas (no pyplot, no GUI), saved as
inline SVG strings.

Each function returns an :class:`Figure` (the SVG markup with ``role="img"``, an ``aria-label``
and a ``<title>`` holding the alt text, plus the alt text and a caption) so that the report
stays one self-contained file. Group colours come from :func:`gutaxis.pl.palette` (Okabe-Ito,
distinguishable with the common colour-vision deficiencies, for up to 8 groups; beyond, colours
that never repeat), legends sit outside the axes and group labels are rotated and shortened with
an ellipsis, so that a cohort of 20 or more groups stays readable.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

__all__ = [
    "PALETTE",
    "Figure",
    "draw_index_distributions",
    "draw_ordination",
    "index_distributions",
    "ordination",
    "percentile_chart",
    "top_taxa",
]

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
_INK = "#1f2933"
_MUTED = "#52606d"
_GRID = "#d9e2ec"


@dataclass(frozen=True)
class Figure:
    """An inline SVG figure with its alt text and caption."""

    svg: str
    alt: str
    caption: str

    def __html__(self) -> str:  # lets Jinja insert the SVG unescaped (it is generated, not user text)
        return self.svg


def _figure(nrows: int = 1, ncols: int = 1, *, figsize, squeeze: bool = True):
    """A matplotlib Figure on an Agg canvas, without pyplot (no global state, any thread, no GUI)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=figsize, layout="tight")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=squeeze)
    return fig, axes


def _rc(salt: str):
    import matplotlib

    return matplotlib.rc_context(_style(salt))


def _style(salt: str) -> dict:
    return {
        "svg.fonttype": "none",  # text stays text: small, selectable, readable by screen readers
        "svg.hashsalt": f"gutaxis-{salt}",  # deterministic, figure-unique element IDs
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
        "font.size": 10,
        "axes.edgecolor": _MUTED,
        "axes.labelcolor": _INK,
        "axes.titlesize": 10.5,
        "axes.titleweight": "bold",
        "axes.titlecolor": _INK,
        "xtick.color": _MUTED,
        "ytick.color": _MUTED,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "figure.dpi": 100,
    }


def _to_svg(fig, alt: str, salt: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"gutaxis-{salt}", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML declaration and DOCTYPE (not allowed inside HTML)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    # responsive: keep the viewBox, let CSS scale it down, never above its natural width
    svg = re.sub(r'^<svg([^>]*?) width="([^"]*)" height="[^"]*"', r'<svg\1 style="max-width:\2"', svg, count=1)
    label = escape(alt, quote=True)
    svg = svg.replace("<svg", f'<svg role="img" aria-label="{label}" class="figure-svg"', 1)
    head_end = svg.index(">") + 1
    return svg[:head_end] + f"<title>{escape(alt)}</title>" + svg[head_end:]


def _fmt(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}"


def _colors(groups) -> dict:
    from ..pl._style import group_colors

    return group_colors(groups)


def draw_index_distributions(
    indices: pd.DataFrame,
    groups: pd.Series,
    labels: dict[str, str],
    order: list | None = None,
    *,
    max_points: int = 400,
):
    """The matplotlib Figure of :func:`index_distributions` (before it becomes SVG)."""
    from ..pl._style import set_tick_labels

    cols = list(indices.columns)
    order = list(order) if order is not None else [g for g in pd.unique(groups.dropna())]
    colors = _colors(order)
    many = len(order) > 8
    ncol = (2 if len(cols) > 1 else 1) if many else 3 if len(cols) > 4 else max(1, len(cols))
    nrow = int(np.ceil(len(cols) / ncol))
    width = max(3.3, 0.27 * len(order) + 0.9)  # each group a slot wide enough for its vertical label
    height = 2.6 + (min(24, max(len(str(g)) for g in order)) * 0.055 if many else 0.0) if order else 2.6
    rng = np.random.default_rng(0)  # jitter only; deterministic
    fig, axes = _figure(nrow, ncol, figsize=(width * ncol, height * nrow), squeeze=False)
    for ax, col in zip(axes.ravel(), cols, strict=False):  # the grid may have spare axes (hidden below)
        data = [indices.loc[groups == g, col].dropna().to_numpy() for g in order]
        keep = [i for i, d in enumerate(data) if len(d)]
        if keep:
            bp = ax.boxplot(
                [data[i] for i in keep],
                positions=keep,
                widths=0.55,
                showfliers=False,
                patch_artist=True,
                medianprops={"color": _INK, "linewidth": 1.6},
            )
            for patch, i in zip(bp["boxes"], keep, strict=True):
                patch.set_facecolor(colors[order[i]] + "33")
                patch.set_edgecolor(colors[order[i]])
            for part in ("whiskers", "caps"):
                for line in bp[part]:
                    line.set_color(_MUTED)
            for i in keep:
                d = data[i]
                if len(d) > max_points:
                    d = rng.choice(d, max_points, replace=False)
                ax.scatter(
                    i + rng.uniform(-0.18, 0.18, len(d)),
                    d,
                    s=9,
                    color=colors[order[i]],
                    alpha=0.75,
                    linewidths=0,
                    zorder=3,
                    rasterized=len(d) > 300,
                )
        set_tick_labels(ax, [str(g) for g in order], "x", width=22)
        ax.set_xlim(-0.6, len(order) - 0.4)
        ax.set_title(labels.get(col, col), loc="left")
        ax.grid(axis="y", color=_GRID, linewidth=0.6)
        ax.set_axisbelow(True)
    for ax in axes.ravel()[len(cols) :]:
        ax.set_visible(False)
    return fig


def index_distributions(
    indices: pd.DataFrame,
    groups: pd.Series,
    labels: dict[str, str],
    order: list | None = None,
    *,
    max_points: int = 400,
) -> Figure:
    """Box and strip plots of every index (columns of ``indices``) by group, as small multiples."""
    cols = list(indices.columns)
    order = list(order) if order is not None else [g for g in pd.unique(groups.dropna())]
    with _rc("dist"):
        fig = draw_index_distributions(indices, groups, labels, order, max_points=max_points)
    med = "; ".join(
        f"{labels.get(c, c)}: " + ", ".join(f"{g} median {_fmt(indices.loc[groups == g, c].median())}" for g in order)
        for c in cols
    )
    alt = f"Box and strip plots of {len(cols)} gut health indices by group ({', '.join(map(str, order))}). {med}."
    return Figure(
        _to_svg(fig, alt, "dist"),
        alt,
        "Each dot is one sample; boxes span the middle half (25th-75th percentile), the line is the median.",
    )


def draw_ordination(
    coords: pd.DataFrame,
    groups: pd.Series | None,
    proportion: list[float] | None,
    order: list | None = None,
    metric: str = "Bray-Curtis",
):
    """The matplotlib Figure of :func:`ordination` (before it becomes SVG): one colour per group,
    never repeated, the legend outside the axes."""
    from ..pl._style import legend_outside, truncate

    x, y = coords.iloc[:, 0].to_numpy(), coords.iloc[:, 1].to_numpy()
    n_groups = 0 if groups is None else len(order if order is not None else pd.unique(groups.dropna()))
    fig, ax = _figure(figsize=(8.8 if n_groups > 16 else 7.2 if n_groups > 1 else 6.2, 4.8))
    if groups is not None:
        order = list(order) if order is not None else list(pd.unique(groups.dropna()))
        colors = _colors(order)
        for g in order:
            m = (groups == g).to_numpy()
            ax.scatter(
                x[m],
                y[m],
                s=26 if len(x) <= 300 else 14,
                color=colors[g],
                alpha=0.85,
                linewidths=0.4,
                edgecolors="white",
                label=f"{truncate(g, 28)} (n={int(m.sum())})",
                rasterized=len(x) > 1500,
            )
        legend_outside(ax, fontsize=8.5 if len(order) <= 16 else 7.5)
    else:
        ax.scatter(x, y, s=26, color=PALETTE[0], alpha=0.85, linewidths=0.4, edgecolors="white")
    lab = [
        f"PCoA {i + 1}"
        + (
            f" ({100 * proportion[i]:.1f}%)"
            if proportion and i < len(proportion) and np.isfinite(proportion[i])
            else ""
        )
        for i in range(2)
    ]
    ax.set_xlabel(lab[0])
    ax.set_ylabel(lab[1])
    ax.axhline(0, color=_GRID, linewidth=0.8, zorder=0)
    ax.axvline(0, color=_GRID, linewidth=0.8, zorder=0)
    ax.set_title(f"Ordination of {metric} distances", loc="left")
    return fig


def ordination(
    coords: pd.DataFrame,
    groups: pd.Series | None,
    proportion: list[float] | None,
    order: list | None = None,
    metric: str = "Bray-Curtis",
) -> Figure:
    """Scatter of the first two PCoA axes, coloured by group."""
    if groups is not None and order is None:
        order = list(pd.unique(groups.dropna()))
    with _rc("pcoa"):
        fig = draw_ordination(coords, groups, proportion, order, metric)
    lab = [ax.get_xlabel() for ax in fig.axes[:1]] + [ax.get_ylabel() for ax in fig.axes[:1]]
    alt = (
        f"PCoA scatter plot of {len(coords)} samples on {lab[0]} and {lab[1]} of {metric} distances"
        + ("" if groups is None else f", coloured by group ({', '.join(map(str, order or ()))})")
        + "."
    )
    return Figure(
        _to_svg(fig, alt, "pcoa"),
        alt,
        "Samples close together have similar communities; the axes are the two directions of largest "
        "variation in community composition.",
    )


def percentile_chart(values: pd.Series, labels: dict[str, str], kinds: dict[str, str] | None = None) -> Figure:
    """One sample's percentile (0-100) of each index among the healthy reference.

    ``kinds`` maps an index to ``beneficial`` or ``pathobiont`` (panel entries) for the dot colour.
    """
    values = values.dropna()
    names = [labels.get(k, k) for k in values.index]
    kinds = kinds or {}
    cmap = {"index": PALETTE[0], "beneficial": PALETTE[2], "pathobiont": PALETTE[1]}
    dot_colors = [cmap.get(kinds.get(k, "index"), PALETTE[0]) for k in values.index]
    with _rc("pct"):
        fig, ax = _figure(figsize=(7.0, 0.45 * len(values) + 1.3))
        ypos = np.arange(len(values))[::-1]
        ax.axvspan(25, 75, color="#e6f0fa", zorder=0)
        ax.axvline(50, color=_MUTED, linewidth=0.8, linestyle=":", zorder=1)
        ax.hlines(ypos, 0, 100, color=_GRID, linewidth=1.0, zorder=1)
        ax.scatter(values.to_numpy(), ypos, s=60, color=dot_colors, zorder=3, clip_on=False)
        for yv, v in zip(ypos, values.to_numpy(), strict=True):
            ax.annotate(
                f"{v:.0f}", (v, yv), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=8.5, color=_INK
            )
        ax.set_yticks(ypos)
        ax.set_yticklabels(names)
        ax.set_xlim(0, 100)
        ax.set_ylim(-0.7, len(values) - 0.3)
        used = [k for k in ("index", "beneficial", "pathobiont") if k in {kinds.get(v, "index") for v in values.index}]
        if len(used) > 1:
            names_k = {"index": "index", "beneficial": "beneficial panel", "pathobiont": "pathobiont panel"}
            handles = [Line2D([], [], marker="o", linestyle="", color=cmap[k], label=names_k[k]) for k in used]
            ax.legend(
                handles=handles,
                loc="lower center",
                bbox_to_anchor=(0.5, 1.0),
                ncol=len(used),
                fontsize=8.5,
                borderaxespad=0.3,
            )
        ax.set_xlabel("percentile among the healthy reference (shaded: 25th-75th)")
    alt = (
        "Percentiles among the healthy reference: "
        + "; ".join(f"{n} {v:.0f}" for n, v in zip(names, values.to_numpy(), strict=True))
        + "."
    )
    return Figure(
        _to_svg(fig, alt, "pct"),
        alt,
        "The dot shows where this sample lies among the healthy reference samples (50 = their median). "
        "For pathobionts a high percentile means more than most healthy people.",
    )


def top_taxa(abundance: pd.Series, kind: pd.Series | None = None, n: int = 15) -> Figure:
    """Horizontal bars of the ``n`` most abundant taxa of one sample (percent), coloured by panel."""
    top = abundance[abundance > 0].sort_values(ascending=False).head(n)
    kind = (kind if kind is not None else pd.Series(dtype=object)).reindex(top.index).fillna("other")
    cmap = {"beneficial": PALETTE[2], "pathobiont": PALETTE[1], "other": "#9aa5b1"}
    with _rc("top"):
        fig, ax = _figure(figsize=(6.4, 0.32 * len(top) + 1.0))
        ypos = np.arange(len(top))[::-1]
        ax.barh(ypos, 100 * top.to_numpy(), color=[cmap.get(k, cmap["other"]) for k in kind], height=0.7)
        ax.set_yticks(ypos)
        ax.set_yticklabels([str(t) for t in top.index], fontstyle="italic")
        ax.set_xlabel("relative abundance (%)")
        ax.grid(axis="x", color=_GRID, linewidth=0.6)
        ax.set_axisbelow(True)
        handles = [Rectangle((0, 0), 1, 1, color=c) for c in cmap.values()]
        ax.legend(handles, ["beneficial panel", "pathobiont panel", "other"], loc="lower right", fontsize=8.5)
    alt = (
        f"Bar chart of the {len(top)} most abundant taxa: "
        + "; ".join(f"{t} {100 * v:.2g}%" for t, v in top.items())
        + "."
    )
    return Figure(
        _to_svg(fig, alt, "top"),
        alt,
        "Green bars are taxa of the beneficial panel, orange bars pathobionts (see the panel table).",
    )
