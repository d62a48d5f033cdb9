"""Plots (``gutaxis.pl``, as scanpy's ``sc.pl``): matplotlib Axes drawn without pyplot.

Each function draws into ``ax=`` when given, else into a new matplotlib Figure (no pyplot, no
global state), and returns the Axes: ``ax.figure.savefig("plot.svg")`` writes it.

- :func:`pcoa`: samples on two principal coordinates, coloured by a metadata column;
- :func:`volcano`: one variable's association coefficients against -log10(q);
- :func:`heatmap`: features x variables of association coefficients (or any table), centred at 0;
- :func:`palette`: the colours every gutaxis plot uses (Okabe-Ito for up to 8 groups, then
  tab20, tab20b, tab20c and evenly spaced hues: never a repeated colour).
"""

from ._style import (
    OKABE_ITO,
    group_colors,
    legend_outside,
    palette,
    short_taxa,
    short_taxon,
    truncate,
)
from .heatmap import heatmap
from .pcoa import pcoa
from .volcano import volcano

__all__ = [
    "OKABE_ITO",
    "group_colors",
    "heatmap",
    "legend_outside",
    "palette",
    "pcoa",
    "short_taxa",
    "short_taxon",
    "truncate",
    "volcano",
]
