"""Figure files of :func:`gutaxis.associate`, laid out as MaAsLin 2 writes them, and the choices
the report shares with them: which variable's associations are plotted, and the short taxon
names shown instead of whole lineages.

MaAsLin 2 writes ``figures/heatmap.pdf`` (the significant associations, at most
``heatmap_first_n = 50`` features) and one PDF per metadata variable, named after the variable
with every character other than a letter, digit or ``_`` replaced by ``_``, one page per
significant association. gutaxis writes the same two kinds of PDF (vector, one page per plot), for
the variable of interest only (the first fixed effect, or ``plot_variable``), at most
``max_plots`` pages (the smallest q first), and ``figures/plots.tsv``: which association is on
which page, and how many were left out.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..errors import InputError

__all__ = ["FIGURE_CAP", "figure_file_name", "plot_variable", "short_names", "write_figures"]

#: pages of the variable's PDF at most (the smallest q first), as MaAsLin's heatmap_first_n
FIGURE_CAP = 50


def short_names(result) -> dict[str, str]:
    """``{feature: short name}``: the last informative rank of each feature's lineage (from the
    ``taxon`` column, the feature ID as given, where there is one), unique over the features."""
    from ..pl._style import short_taxa

    res = result.results
    feats = list(dict.fromkeys(res["feature"].astype(str)))
    if "taxon" in res.columns:
        first = res.drop_duplicates("feature").set_index(res.drop_duplicates("feature")["feature"].astype(str))
        source = [
            str(first.at[f, "taxon"]) if isinstance(first.at[f, "taxon"], str) and first.at[f, "taxon"] else f
            for f in feats
        ]
    else:
        source = feats
    return dict(zip(feats, short_taxa(source), strict=True))


def plot_variable(result, variable: str | None = None) -> str | None:
    """The variable whose associations are plotted: ``variable`` when given (checked), else the
    first fixed effect of the model that has a modelled row; None when nothing was modelled."""
    from ..pl._inputs import default_variable

    res = result.results
    present = list(dict.fromkeys(res.loc[res["coef"].notna(), "metadata"].astype(str)))
    if variable is not None:
        if str(variable) not in present:
            raise InputError(
                f"plot variable {variable!r} is not a modelled variable",
                source="associate report",
                hint=f"give one of: {', '.join(present[:20]) or 'none (no feature was modelled)'} (--plot-variable)",
            )
        return str(variable)
    if not present:
        return None
    return default_variable(res[res["coef"].notna()], dict(result.params or {}))


def figure_file_name(variable: str) -> str:
    """MaAsLin 2's file name of a variable's plots: every character other than a letter, digit or
    ``_`` replaced by ``_``."""
    return re.sub(r"[^0-9A-Za-z_]", "_", str(variable)) + ".pdf"


def write_figures(
    result, folder, *, variable: str | None = None, first_n: int = 50, max_plots: int = FIGURE_CAP
) -> dict:
    """Write ``heatmap.pdf``, ``<variable>.pdf`` and ``plots.tsv`` into ``folder``; returns what
    was written (``files``, ``variable``, ``n_plotted``, ``n_significant``)."""
    from matplotlib.backends.backend_pdf import PdfPages

    from ..pl.heatmap import heatmap
    from ..report.associate import _plot_figure

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    variable = plot_variable(result, variable)
    sig = result.significant
    files = []
    meta = {"CreationDate": None, "Creator": "gutaxis"}
    if len(sig):
        ax = heatmap(result, max_features=first_n, title="Significant associations (coefficients)")
        ax.figure.savefig(out / "heatmap.pdf", metadata=meta)
        files.append("heatmap.pdf")
    rows = sig[sig["metadata"].astype(str) == variable] if variable is not None else sig.iloc[:0]
    shown = rows.head(max_plots)
    pages: list[dict] = []
    name = None
    if variable is not None and len(shown):  # shown is empty without a variable
        name = figure_file_name(variable)
        with PdfPages(out / name, metadata=meta) as pdf:
            for _, row in shown.iterrows():
                fig = _plot_figure(result, row, raw=True)
                if fig is None:
                    continue
                pdf.savefig(fig)
                pages.append(
                    {
                        "file": name,
                        "page": len(pages) + 1,
                        "feature": row["feature"],
                        "metadata": row["metadata"],
                        "value": row["value"],
                        "coef": row["coef"],
                        "qval": row["qval"],
                    }
                )
        files.append(name)
    table = pd.DataFrame(pages, columns=["file", "page", "feature", "metadata", "value", "coef", "qval"])
    with open(out / "plots.tsv", "w", encoding="utf-8") as fh:
        fh.write(
            f"# variable plotted: {variable}; {len(pages)} of its {len(rows)} significant associations "
            f"(capped at {max_plots}, smallest q first); heatmap: at most {first_n} features\n"
        )
        table.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    files.append("plots.tsv")
    return {
        "files": files,
        "variable": variable,
        "n_plotted": len(pages),
        "n_significant": len(rows),
        "cap": max_plots,
        "plots_file": name,
    }
