"""Self-contained HTML report of :func:`gutaxis.link.associate` results.

Rendered from the template ``gutaxis/report/templates/associate.html.j2`` with the shared style and
scripts of the other gutaxis reports (inline CSS and JS, matplotlib figures as inline SVG, no
external resources: it opens offline). What it shows, as MaAsLin2 and MaAsLin3 draw it:

* a heatmap of the significant associations (features x coefficients, colour sign(coef) x
  -log10(q), as MaAsLin2's heatmap; for ``model="maaslin3"`` one panel for the abundance and one
  for the prevalence model), capped at the ``first_n`` features with the smallest q;
* one plot per top association (``max_plots``): the normalised, transformed abundance that was
  modelled against the metadata, a scatter plot with a least-squares line for a numeric
  variable, box and strip plots per level for a categorical one with the row's level
  highlighted; for MaAsLin3 the abundance model's non-zero values, and presence/absence for the
  prevalence model's rows; for an interaction coefficient (``params["interactions"]``), the
  outcome against the product of its numeric variables with the samples of its level
  combination highlighted, or a strip per level combination when all its variables are
  categorical;
* a sortable table of the significant results with their error and warning columns, the
  features that were not modelled (and why), and the run's ``params.json`` (provenance).

``model="maaslin3"`` results come through :func:`gutaxis.link._maaslin3.report_view`, which
adds the table's columns and the values its models saw (``view.outcome``).

The figures (heatmap, plots, their SVG output) are in :mod:`gutaxis.report._associate_plots`, the
labels and captions they share with this page in :mod:`gutaxis.report._associate_labels`; this
module holds the tables, the page's context and the public writer.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from ._associate_labels import _axis_label, _is_m3, _transform_note
from ._associate_plots import _heatmap, _plot_figure

__all__ = ["write_associate_report"]

_MAX_TABLE = 1000  # rows of the table of significant associations (all of them in significant_results.tsv)

_DISCLAIMER = (
    "Associations are statistical, not causal: a feature that goes with a diagnosis or an exposure "
    "in these samples is not shown to cause it or to be caused by it. gutaxis informs and never diagnoses."
)

#: (column, header, numeric) of the table of significant associations of ``model="LM"``
_LM_COLUMNS = [
    ("feature", "Feature", False),
    ("metadata", "Metadata", False),
    ("value", "Value", False),
    ("coef", "coef", True),
    ("stderr", "stderr", True),
    ("N", "N", True),
    ("N.not.0", "N not 0", True),
    ("pval", "p", True),
    ("qval", "q", True),
    ("error", "error", False),
    ("warning", "warning", False),
]


# ------------------------------------------------------------------------------------------- tables
def _cell(v, numeric: bool) -> dict:
    if numeric:
        try:
            x = float(v)
        except (TypeError, ValueError):
            x = float("nan")
        if not math.isfinite(x):
            return {"text": "NA", "raw": None, "num": True}
        text = str(int(x)) if float(x).is_integer() and abs(x) < 1e15 and not isinstance(v, float) else f"{x:.3g}"
        return {"text": text, "raw": repr(x), "num": True}
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return {"text": "", "raw": None, "num": False}
    return {"text": _breakable(str(v)), "raw": None, "num": False}


def _breakable(text: str):
    """Escaped text with line-break opportunities after ``.`` and ``_`` (long feature names wrap)."""
    from markupsafe import Markup

    if len(text) < 10 or " " in text:
        return text
    return Markup("<wbr>").join(re.split(r"(?<=[._])(?=.)", text))


def _column_class(name: str, sig: pd.DataFrame) -> str:
    if name == "feature":
        return "text feature"
    if name in ("error", "warning"):  # wide when any row has a message
        filled = sig[name].fillna("").astype(str).str.len().gt(0).any() if name in sig else False
        return "msg" if filled else "text"
    return "text"


def _table(sig: pd.DataFrame, columns) -> list[list[dict]]:
    cols = [(c, num) for c, _, num in columns if c in sig.columns]
    recs = sig[[c for c, _ in cols]].itertuples(index=False)
    return [[_cell(v, num) for v, (_, num) in zip(rec, cols, strict=True)] for rec in recs]


# ------------------------------------------------------------------------------------------- report
def _context(
    result, *, first_n: int, max_plots: int, plot_variable: str | None = None, figures: dict | None = None
) -> dict:
    from .. import __version__
    from ..link._associate_figures import plot_variable as _plot_variable
    from ..link._associate_figures import short_names

    p = dict(result.params or {})
    res = result.results
    sig = result.significant
    m3 = _is_m3(result)
    errors = res[res["error"].fillna("").astype(str).str.len() > 0] if "error" in res else res.iloc[:0]
    modelled = res[res["coef"].notna()]["feature"].nunique() if "coef" in res else 0
    not_modelled = res[res["coef"].isna()].drop_duplicates("feature") if "coef" in res else res.iloc[:0]

    heat, n_heat, n_sig_feat = _heatmap(result, sig, first_n)
    variable = _plot_variable(result, plot_variable)
    var_sig = sig[sig["metadata"].astype(str) == variable] if variable is not None else sig.iloc[:0]
    plots = []
    for _, row in var_sig.head(max_plots).iterrows():
        fig = _plot_figure(result, row)
        if fig is not None:
            plots.append(fig)

    columns = getattr(result, "columns", None) or _LM_COLUMNS
    columns = [c for c in columns if c[0] in sig.columns]
    short = short_names(result)
    shown = sig.head(_MAX_TABLE).copy()
    if "feature" in shown.columns:  # short names in the table; the IDs as given stay in the TSV files
        shown["feature"] = [short.get(str(f), str(f)) for f in shown["feature"]]
    rows = _table(shown, columns)

    fixed = [":".join(t) if isinstance(t, (list, tuple)) else str(t) for t in p.get("fixed_effects") or []]
    random = [str(r) for r in p.get("random_effects") or []]
    ms = p.get("max_significance")
    model_label = (
        "MaAsLin3 (abundance and prevalence models)"
        if m3
        else "LM (MaAsLin2's linear model" + (" with random intercepts, REML)" if random else ")")
    )
    model_rows = [("Model", model_label)]
    if p.get("formula"):
        model_rows.append(("Formula", str(p["formula"])))
    model_rows += [("Fixed effects", ", ".join(fixed) or "none"), ("Random intercepts", ", ".join(random) or "none")]
    if p.get("reference"):
        model_rows.append(("Reference levels", ", ".join(f"{k} = {v}" for k, v in p["reference"].items())))
    model_rows += [
        ("Normalisation / transform", f"{p.get('normalization')} / {p.get('transform')}"),
        ("Continuous metadata standardised", "yes (z-scores)" if p.get("standardize") else "no"),
        ("Multiple testing", f"{p.get('correction', 'BH')}, significance threshold {ms}"),
    ]
    if p.get("reml_optimizer"):
        model_rows.append(("REML optimiser", str(p["reml_optimizer"])))
    n_samples, n_mod = p.get("n_samples"), p.get("n_samples_modelled")
    cards = [
        {
            "label": "Significant associations",
            "value": str(len(sig)),
            "sub": f"{n_sig_feat} features; " + ("q_joint or q_individual" if m3 else "q") + f" ≤ {ms}",
        },
        {
            "label": "Samples modelled",
            "value": str(n_mod),
            "sub": f"of {n_samples} samples"
            + (" (complete cases of the model's variables)" if n_mod != n_samples else ""),
        },
        {"label": "Features modelled", "value": str(modelled), "sub": f"of {p.get('n_features')} in the table"},
        {
            "label": "Model",
            "value": "MaAsLin3" if m3 else "LM",
            "sub": f"{p.get('normalization')} / {p.get('transform')}",
        },
    ]
    provenance = json.dumps(
        {
            "params": p,
            "notes": list(getattr(result, "notes", []) or []),
            "filtered": list(getattr(result, "filtered", []) or []),
        },
        indent=2,
        default=str,
    )
    plotted_label = _axis_label(p.get("normalization"), p.get("transform"))
    return {
        "title": "Feature–metadata associations",
        "version": __version__ if p.get("gutaxis_version") is None else p["gutaxis_version"],
        "m3": m3,
        "has_random": bool(random),
        "standardized": bool(p.get("standardize")),
        "subtitle": f"gutaxis associate · {model_label} · {n_mod} samples · {modelled} features · "
        f"{len(sig)} significant associations",
        "cards": cards,
        "model_rows": model_rows,
        "ms": ms,
        "notes": list(getattr(result, "notes", []) or []),
        "heatmap": heat,
        "n_heat": n_heat,
        "n_sig_features": n_sig_feat,
        "first_n": first_n,
        "plots": plots,
        "plot_variable": variable,
        "plot_variable_default": plot_variable is None,
        "figures": figures,
        "n_plots_possible": len(var_sig),
        "max_plots": max_plots,
        "plotted_label": plotted_label,
        "zeros_note": _transform_note(m3, p.get("transform")),
        "columns": [
            {"name": c, "header": h, "num": n, "cls": _column_class(c, sig.head(_MAX_TABLE))} for c, h, n in columns
        ],
        "rows": rows,
        "n_sig": len(sig),
        "max_table": _MAX_TABLE,
        "not_modelled": [
            {"feature": str(r["feature"]), "why": str(r.get("error") or "")} for _, r in not_modelled.iterrows()
        ],
        "n_errors": len(errors),
        "provenance": provenance,
        "disclaimer": _DISCLAIMER,
    }


def render_associate_html(
    result, *, first_n: int = 50, max_plots: int = 12, plot_variable: str | None = None, figures: dict | None = None
) -> str:
    """The report's HTML text (template ``gutaxis/report/templates/associate.html.j2``): the plots
    are of ``plot_variable`` (default the first fixed effect); ``figures`` is what
    ``gutaxis.link._associate_figures.write_figures`` wrote beside it, when it did."""
    from ._render import render

    return render(
        "associate.html.j2",
        **_context(result, first_n=first_n, max_plots=max_plots, plot_variable=plot_variable, figures=figures),
    )


def write_associate_report(
    result,
    path,
    *,
    first_n: int = 50,
    max_plots: int = 12,
    plot_variable: str | None = None,
    figures: dict | None = None,
) -> Path:
    """Write the HTML report of an :class:`~gutaxis.link.associate.AssociationResult` (or of the view
    :func:`gutaxis.link._maaslin3.report_view` makes of a MaAsLin3 result) to ``path``."""
    path = Path(path)
    path.write_text(
        render_associate_html(
            result, first_n=first_n, max_plots=max_plots, plot_variable=plot_variable, figures=figures
        ),
        encoding="utf-8",
    )
    return path
