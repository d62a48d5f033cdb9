"""The shared look of gutaxis plots: a palette that does not repeat, legends outside the axes,
tick labels rotated and shortened with an ellipsis, and figures made without pyplot.

Used by :mod:`gutaxis.pl` and by the HTML reports, so that a cohort of 21 groups looks the same
in both: every group its own colour, the legend beside the plot (never over the points) and
labels that do not overlap.
"""

from __future__ import annotations

import colorsys
from typing import Literal

__all__ = [
    "OKABE_ITO",
    "group_colors",
    "legend_outside",
    "new_figure",
    "palette",
    "set_tick_labels",
    "short_taxa",
    "short_taxon",
    "truncate",
]

#: Okabe & Ito (2008): distinguishable with the common colour-vision deficiencies
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
ELLIPSIS = "…"


def _qualitative() -> list[str]:
    """Okabe-Ito, then matplotlib's tab20, tab20b and tab20c, each colour once."""
    import matplotlib
    from matplotlib.colors import to_hex

    out = [c.lower() for c in OKABE_ITO]
    for name in ("tab20", "tab20b", "tab20c"):
        cmap = matplotlib.colormaps[name]
        for i in range(cmap.N):  # a listed map's i-th colour, as the Colormap type has it
            h = to_hex(cmap(i)).lower()
            if h not in out:
                out.append(h)
    return out


def palette(n: int) -> list[str]:
    """``n`` distinct colours (hex): Okabe-Ito for up to 8, then tab20, tab20b and tab20c (68 in
    all), then evenly spaced hues at two lightness levels. No colour is repeated for any ``n``."""
    from ..errors import InputError

    if not isinstance(n, int) or n < 0:
        raise InputError(f"palette needs a number of colours >= 0, got {n!r}", source="gutaxis.pl.palette")
    base = _qualitative()
    if n <= len(base):
        return base[:n]
    out = list(base)
    extra = n - len(base)
    seen = set(out)
    k = 0
    while len(out) < n:
        # golden-ratio steps round the hue circle: evenly spread however many are asked
        hue = (k * 0.618033988749895) % 1.0
        light = 0.42 if k % 2 == 0 else 0.62
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.65)
        h = f"#{round(255 * r):02x}{round(255 * g):02x}{round(255 * b):02x}"
        if h not in seen:
            seen.add(h)
            out.append(h)
        k += 1
        if k > 50 * (extra + 10):  # pragma: no cover - 16.7 million hex colours: never reached
            raise RuntimeError("could not find enough distinct colours")
    return out


def group_colors(groups) -> dict:
    """``{group: colour}`` in the order given (each group once)."""
    order = list(dict.fromkeys(groups))
    return dict(zip(order, palette(len(order)), strict=True))


def truncate(label, width: int = 24) -> str:
    """``label`` as text, cut to ``width`` characters with an ellipsis when longer."""
    text = str(label)
    if width < 2 or len(text) <= width:
        return text
    return text[: width - 1].rstrip() + ELLIPSIS


def legend_outside(ax, handles=None, labels=None, *, title: str | None = None, fontsize: float = 8.5):
    """A legend to the right of ``ax``, outside the axes (never over the data); two columns
    beyond 16 entries. Returns the Legend (``None`` when there is nothing to show)."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    ncol = 1 if len(handles) <= 16 else 2
    kw = {} if labels is None else {"labels": [truncate(x, 32) for x in labels]}
    return ax.legend(
        handles=handles,
        **kw,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        frameon=False,
        fontsize=fontsize,
        title=title,
        title_fontsize=fontsize,
        ncol=ncol,
        handletextpad=0.4,
        columnspacing=1.0,
        markerscale=1.2,
    )


def set_tick_labels(
    ax, labels, axis: str = "x", *, width: int = 24, fontsize: float | None = None, rotation: float | None = None
) -> None:
    """Tick labels at positions 0..n-1, shortened to ``width`` characters with an ellipsis; on
    the x axis rotated (45 degrees, anchored at their end) when long or many, and smaller when
    there are many, so that neighbours do not overlap."""
    labels = [truncate(x, width) for x in labels]
    n = len(labels)
    if fontsize is None:
        fontsize = 9.0 if n <= 8 else 8.0 if n <= 16 else 7.0
    if axis == "y":
        ax.set_yticks(range(n))
        ax.set_yticklabels(labels, fontsize=fontsize)
        return
    longest = max((len(x) for x in labels), default=0)
    if rotation is None:  # upright when short and few; beyond 8 labels vertical (neighbours never touch)
        rotation = 0 if longest * n <= 40 else 45 if n <= 8 else 90
    ax.set_xticks(range(n))
    if rotation:
        ax.set_xticklabels(
            labels,
            rotation=rotation,
            ha="right",
            va="center" if rotation == 90 else "top",
            rotation_mode="anchor",
            fontsize=fontsize,
        )
    else:
        ax.set_xticklabels(labels, fontsize=fontsize)


def new_figure(figsize=(6.0, 4.5), *, layout: Literal["constrained", "compressed", "tight"] | None = "constrained"):
    """A matplotlib Figure on an Agg canvas, without pyplot (no global state, any thread, no GUI):
    ``fig.savefig(path)`` writes it; in Jupyter it shows itself as the cell's value."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def short_taxon(name) -> str:
    """The last informative rank of a lineage: ``k__Bacteria|...|s__Faecalibacterium_prausnitzii`` ->
    ``Faecalibacterium prausnitzii``; ``...|g__Roseburia|s__`` -> ``Roseburia``. Lineages whose
    ``|`` or ``;`` became ``.`` (R's ``make.names``, as in MaAsLin's output) are read too; a name
    without ranks is returned as it is."""
    import re

    from ..taxonomy import parse_lineage

    text = str(name)
    if "|" not in text and ";" not in text and re.search(r"\.[kpcofgst]__", text):
        text = "|".join(re.split(r"\.(?=[kpcofgst]__)", text))
    if "|" not in text and ";" not in text and "__" not in text:
        return str(name)
    parsed = parse_lineage([text]).iloc[0]
    taxon = parsed["taxon"]
    if isinstance(taxon, str) and taxon:
        return taxon
    return str(name)


def short_taxa(names) -> list[str]:
    """:func:`short_taxon` of each name, kept unique: two lineages with the same last name get
    their rank above in brackets, and if still alike a number."""
    names = [str(x) for x in names]
    short = [short_taxon(x) for x in names]
    dup = {s for s in short if short.count(s) > 1}
    if dup:
        from ..taxonomy import RANKS, parse_lineage

        parsed = parse_lineage(names)
        for i, s in enumerate(short):
            if s not in dup:
                continue
            row = parsed.iloc[i]
            known = [row[r] for r in RANKS if isinstance(row[r], str) and row[r] and row[r] != s]
            if known:
                short[i] = f"{s} ({known[-1]})"
    seen: dict[str, int] = {}
    out = []
    for s in short:
        seen[s] = seen.get(s, 0) + 1
        out.append(s if seen[s] == 1 else f"{s} [{seen[s]}]")
    return out
