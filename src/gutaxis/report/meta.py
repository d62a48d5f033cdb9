"""Self-contained HTML report of a meta-analysis (:class:`gutaxis.link.meta.MetaResult`).

Rendered from ``gutaxis/report/templates/meta.html.j2`` with the shared style and scripts of the
other gutaxis reports (inline CSS and JS, figures as inline SVG, nothing fetched: it opens
offline). It shows the pooled features ranked by q (estimate, CI, p, q, heterogeneity tau² and
I²), forest plots of the top ones (:func:`gutaxis.link.meta_forest.forest_plot`), the features
seen in fewer than ``min_studies`` studies (not pooled, with the reason), the studies and what
was read from each, and the run's provenance record.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ranked", "render_meta_html", "write_meta_report"]

_MAX_TABLE = 1000  # rows of the pooled table in the page (all in meta_analysis.tsv)
_COLUMNS = [
    ("k", "studies", True),
    ("estimate", "estimate", True),
    ("ci_low", "CI low", True),
    ("ci_high", "CI high", True),
    ("p", "p", True),
    ("q", "q", True),
    ("tau2", "tau²", True),
    ("I2", "I² (%)", True),
    ("Q_p", "Q p", True),
]


def ranked(result) -> pd.DataFrame:
    """The pooled rows of ``result.table`` (``k >= min_studies``), smallest q (then p) first."""
    pooled = result.pooled
    order = np.lexsort((pooled["p"].to_numpy(dtype=float), pooled["q"].to_numpy(dtype=float)))
    return pooled.iloc[order]


def _num(v) -> dict:
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = float("nan")
    if not math.isfinite(x):
        return {"text": "NA", "raw": "", "num": True}
    text = str(int(x)) if x.is_integer() and abs(x) < 1e9 else f"{x:.3g}"
    return {"text": text, "raw": repr(x), "num": True}


def _key_cells(key, nlevels: int) -> list[dict]:
    parts = list(key) if isinstance(key, tuple) else [key]
    return [{"text": str(v), "raw": "", "num": False} for v in parts[:nlevels]]


def _key_headers(table: pd.DataFrame) -> list[str]:
    names = [str(n) if n is not None else "feature" for n in table.index.names]
    return names


def _forest(result, key, effect_label: str, i: int):
    from ..link.meta_forest import feature_label, forest_plot
    from .figures import Figure, _to_svg

    row = result.table.loc[key]
    name = feature_label(key)
    fig = forest_plot(result, key, effect_label=effect_label, title=_short_title(key, row))
    alt = f"Forest plot of {name}: {int(row['k'])} studies"
    if np.isfinite(row["estimate"]):
        caption = (
            f"{name}: pooled {row['estimate']:.3g} [{row['ci_low']:.3g}, {row['ci_high']:.3g}], "
            f"q = {row['q']:.2g}; tau² = {row['tau2']:.3g}, I² = {row['I2']:.1f}%. Squares: each study's "
            "estimate (size: its weight) with its CI; diamond: the pooled estimate."
        )
    else:
        caption = f"{name}: in {int(row['k'])} study(ies), not pooled (no diamond)."
    return Figure(_to_svg(fig, alt, f"meta-forest-{i}"), alt, caption)


def _short(name: str, parts: int = 2) -> str:
    """The last ranks of a lineage (``k__A..p__B..g__C`` -> ``p__B g__C``); other names as given."""
    pieces = [x for x in re.split(r"\.\.|;\s*|\|", str(name)) if x.strip()]
    return " ".join(pieces[-parts:]) if len(pieces) > parts else str(name)


def _short_title(key, row) -> str:
    """The forest plot's title: the feature's last ranks (the full name is in the caption)."""
    head = _short(key[0] if isinstance(key, tuple) else key)
    if isinstance(key, tuple) and len(key) >= 3:
        head += f" ({key[1]} = {key[2]})"
    if not np.isfinite(row["estimate"]):
        return f"{head}\nin {int(row['k'])} study: not pooled"
    return (
        f"{head}\npooled {row['estimate']:.3g} [{row['ci_low']:.3g}, {row['ci_high']:.3g}], q = {row['q']:.2g}; "
        f"tau² = {row['tau2']:.3g}, I² = {row['I2']:.1f}%"
    )


def _context(result, *, provenance: dict | None, plots: int, effect_label: str, extra=()) -> dict:
    from .. import __version__

    table = ranked(result)
    few = result.single_study
    nlev = result.table.index.nlevels
    keys = _key_headers(result.table)
    top = list(table.index[:plots]) + [k for k in extra if k not in table.index[:plots]]
    n_top = min(plots, len(table))
    figures = [_forest(result, k, effect_label, i) for i, k in enumerate(top)]
    rows = [_key_cells(k, nlev) + [_num(r[c]) for c, _, _ in _COLUMNS] for k, r in table.head(_MAX_TABLE).iterrows()]
    few_rows = [
        [
            *_key_cells(k, nlev),
            {"text": str(r["studies"]), "raw": "", "num": False},
            _num(r["effect"]),
            _num(r["se"]),
            {"text": str(r["reason"]), "raw": "", "num": False},
        ]
        for k, r in few.iterrows()
    ]
    studies = [str(s) for s in result.effects.columns]
    n_est = result.effects.notna().sum(axis=0)
    inputs = {str(r.get("study")): r for r in (result.inputs or [])}
    study_rows = []
    for s in studies:
        rec = inputs.get(s, {})
        path = (rec.get("all_results") or {}).get("path") or ("AssociationResult" if rec.get("object") else "")
        sha = (rec.get("all_results") or {}).get("sha256") or ""
        study_rows.append({"name": s, "estimates": int(n_est[s]), "path": path, "sha256": sha})
    n_sig = int((table["q"] < 0.05).sum())
    i2 = table["I2"].to_numpy(dtype=float)
    cards = [
        {
            "label": "Studies",
            "value": str(len(studies)),
            "sub": ", ".join(studies[:6]) + (" …" if len(studies) > 6 else ""),
        },
        {"label": "Pooled", "value": str(len(table)), "sub": f"estimated in at least {result.min_studies} studies"},
        {"label": "q < 0.05", "value": str(n_sig), "sub": "BH over the pooled features only"},
        {"label": "Not pooled", "value": str(len(few)), "sub": f"in fewer than {result.min_studies} studies"},
    ]
    method_rows = [
        ("Model", f"random effects, tau² by {result.method} (as metafor's rma)"),
        ("Effect", effect_label),
        ("Confidence level", f"{result.level:g}%"),
        ("Fewest studies to pool", str(result.min_studies)),
        ("Multiple testing", "Benjamini-Hochberg over the pooled features"),
        (
            "Heterogeneity",
            "median I² "
            + (f"{np.nanmedian(i2):.1f}%" if np.isfinite(i2).any() else "NA")
            + f"; {int((table['Q_p'] < 0.05).sum())} pooled feature(s) with Cochran's Q p < 0.05",
        ),
    ]
    return {
        "title": "Meta-analysis across studies",
        "version": __version__,
        "subtitle": f"gutaxis meta · {result.method} · {len(studies)} studies · {len(table)} features pooled · "
        f"{len(few)} not pooled",
        "cards": cards,
        "method_rows": method_rows,
        "key_headers": keys,
        "columns": [{"header": h, "num": n} for _, h, n in _COLUMNS],
        "rows": rows,
        "n_pooled": len(table),
        "max_table": _MAX_TABLE,
        "figures": figures,
        "plots": plots,
        "n_top": n_top,
        "few_rows": few_rows,
        "min_studies": result.min_studies,
        "studies": study_rows,
        "provenance": json.dumps(
            provenance if provenance is not None else {"params": result.params}, indent=2, default=str
        ),
    }


def render_meta_html(
    result, *, provenance: dict | None = None, plots: int = 10, effect_label: str = "effect", extra=()
) -> str:
    """The report's HTML text (template ``gutaxis/report/templates/meta.html.j2``)."""
    from ._render import render

    context = _context(result, provenance=provenance, plots=plots, effect_label=effect_label, extra=extra)
    return render("meta.html.j2", **context)


def write_meta_report(
    result, path, *, provenance: dict | None = None, plots: int = 10, effect_label: str = "effect", extra=()
) -> Path:
    """Write the HTML report of a :class:`~gutaxis.link.meta.MetaResult` to ``path``: forest plots
    of the ``plots`` pooled features with the smallest q (and of the keys in ``extra``)."""
    path = Path(path)
    path.write_text(
        render_meta_html(result, provenance=provenance, plots=plots, effect_label=effect_label, extra=extra),
        encoding="utf-8",
    )
    return path
