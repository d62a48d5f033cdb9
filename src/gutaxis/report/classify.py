"""Self-contained HTML report of a classification result (inline SVG figures, no scripts).

ROC and precision-recall curves of the mean prediction (and of each repeat), the permuted-label
null distribution, the consensus features (SIAMCAT's interpretation plot, as bars of the median
relative weight and the share of models that selected each feature), and every table; each
figure states its scheme and whether it is within-study or cross-study.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1b1b1b;line-height:1.45}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}\
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right}
th{background:#f2f2f2}td.l,th.l{text-align:left}\
.scheme{background:#eef5ff;border-left:4px solid #3a78c2;padding:.5em 1em}
.note{color:#7a4b00}.figs{display:flex;flex-wrap:wrap;gap:1em}\
.figs figure{margin:0}figcaption{font-size:.85em;color:#444}
.flag{color:#b00020;font-weight:bold}
"""


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg") :]


def _fig(w=4.2, h=4.0):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(w, h))


def _roc_pr(result) -> list[tuple[str, str]]:
    from sklearn.metrics import precision_recall_curve, roc_curve

    mp = result.mean_prediction
    y = mp["label"].to_numpy()
    p = mp["probability"].to_numpy()
    s = result.summary.set_index("metric")
    figs = []
    fig, ax = _fig()
    for _, grp in result.predictions.groupby("repeat"):
        ok = np.isfinite(grp["probability"].to_numpy())
        if ok.sum() and len(np.unique(grp["label"].to_numpy()[ok])) == 2:
            fpr, tpr, _ = roc_curve(grp["label"].to_numpy()[ok], grp["probability"].to_numpy()[ok])
            ax.plot(fpr, tpr, color="#9bbbe0", lw=0.7)
    fpr, tpr, _ = roc_curve(y, p)
    ax.plot(fpr, tpr, color="#1f4e8c", lw=2, label=f"mean prediction, AUROC {s.loc['auroc', 'mean_prediction']:.3f}")
    ax.plot([0, 1], [0, 1], color="#999", ls="--", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("ROC (light: each repeat)", fontsize=10)
    figs.append((_svg(fig), f"ROC, {result.scheme['description']}"))
    fig, ax = _fig()
    prec, rec, _ = precision_recall_curve(y, p)
    ax.plot(rec, prec, color="#8c1f4e", lw=2, label=f"AUPRC {s.loc['auprc', 'mean_prediction']:.3f}")
    ax.axhline(y.mean(), color="#999", ls="--", lw=0.8, label=f"prevalence {y.mean():.2f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("precision-recall of the mean prediction", fontsize=10)
    figs.append((_svg(fig), f"Precision-recall, {result.scheme['description']}"))
    if result.permutations is not None and len(result.permutations):
        fig, ax = _fig()
        null = result.permutations["auroc"].to_numpy(dtype=float)
        ax.hist(null[np.isfinite(null)], bins=min(20, max(5, len(null) // 2)), color="#bbb")
        obs = s.loc["auroc", "repeat_mean"]
        ax.axvline(obs, color="#1f4e8c", lw=2, label=f"observed {obs:.3f}")
        ax.axvline(0.5, color="#999", ls="--", lw=0.8)
        ax.set_xlabel("AUROC with permuted labels")
        ax.set_ylabel("permutations")
        ax.legend(fontsize=8)
        ax.set_title(f"permuted-label control, p = {s.loc['auroc', 'p_value']:.3g}", fontsize=10)
        figs.append((_svg(fig), "Permuted-label controls (same scheme, labels shuffled)"))
    return figs


def _consensus_fig(cons: pd.DataFrame, n: int = 20):
    if cons is None or cons.empty:
        return None
    top = cons.head(n).iloc[::-1]
    if (top["fraction_selected"] == 0).all():
        return None
    fig, (ax1, ax2) = __import__("matplotlib.pyplot", fromlist=["subplots"]).subplots(
        1, 2, figsize=(8.5, 0.28 * len(top) + 1.2), sharey=True, gridspec_kw={"width_ratios": [2, 1]}
    )
    labels = [t if len(t) <= 45 else t[:42] + "..." for t in top["feature"]]
    colors = ["#1f4e8c" if v >= 0 else "#c2593a" for v in top["median_relative_weight"]]
    ax1.barh(labels, top["median_relative_weight"], color=colors)
    ax1.axvline(0, color="#555", lw=0.6)
    ax1.set_xlabel("median relative weight (blue: towards case)")
    ax1.tick_params(axis="y", labelsize=7)
    ax2.barh(labels, top["fraction_selected"], color="#777")
    ax2.axvline(0.5, color="#b00020", ls="--", lw=0.8)
    ax2.set_xlim(0, 1)
    ax2.set_xlabel("share of models selecting it")
    return _svg(fig)


def _table(df: pd.DataFrame | None, max_rows: int = 40) -> str:
    if df is None or len(df) == 0:
        return "<p>(none)</p>"
    d = df.head(max_rows)
    head = "".join(
        (f"<th class='l'>{html.escape(str(c))}</th>" if d[c].dtype == object else f"<th>{html.escape(str(c))}</th>")
        for c in d.columns
    )
    body = []
    for _, row in d.iterrows():
        cells = []
        for c in d.columns:
            v = row[c]
            if isinstance(v, (float, np.floating)):
                txt = "NA" if not np.isfinite(v) else f"{v:.4g}"
                cells.append(f"<td>{txt}</td>")
            elif isinstance(v, (bool, np.bool_)):
                cells.append(f"<td class='l{' flag' if v else ''}'>{'yes' if v else ''}</td>")
            else:
                cells.append(f"<td class='l'>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p>({len(df) - max_rows} more rows in the TSV)</p>" if len(df) > max_rows else ""
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def _matrix_fig(mat: pd.DataFrame):
    fig, ax = _fig(1.0 + 0.8 * mat.shape[1], 0.8 + 0.7 * mat.shape[0])
    im = ax.imshow(mat.to_numpy(dtype=float), vmin=0.5, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(mat.shape[1]), mat.columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(mat.shape[0]), mat.index, fontsize=8)
    ax.set_xlabel("test study")
    ax.set_ylabel("training study")
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            v = mat.iat[i, j]
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color="white" if v < 0.8 else "black")
    fig.colorbar(im, ax=ax, shrink=0.8, label="AUROC")
    return _svg(fig)


def write_html(result, path: str | Path, *, extra: dict | None = None, extra_tables: dict | None = None) -> Path:
    """Write the report of a :class:`CVResult` or :class:`CrossStudyResult` to ``path``."""
    from ..classify.result import CVResult
    from .html import DISCLAIMER

    head = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>gutaxis classify</title>"
        f"<style>{_CSS}</style></head><body>"
    )
    scheme = (
        f"<p class='scheme'><b>{html.escape(result.scheme['kind'])}</b>: "
        f"{html.escape(result.scheme['description'])}</p>"
    )
    parts = [head, "<h1>gutaxis classify</h1>", scheme]
    prov = result.provenance
    parts.append(
        f"<p>{prov.get('n_samples')} samples ({prov.get('n_case')} {html.escape(str(result.classes[1]))}, "
        f"{prov.get('n_control')} {html.escape(str(result.classes[0]))}), {prov.get('n_features')} features; "
        f"gutaxis {html.escape(str(prov.get('gutaxis_version')))}, scikit-learn "
        f"{html.escape(str(prov.get('scikit_learn_version')))}; input sha256 "
        f"<code>{html.escape(str(prov.get('input_sha256', ''))[:16])}</code>.</p>"
    )
    if isinstance(result, CVResult):
        parts.append("<h2>Performance</h2>")
        parts.append(
            "<p>Estimate: metric of the mean out-of-fold prediction over repeats; <i>ci</i>: bootstrap "
            "interval of that estimate; <i>repeat</i>: spread over repeats; <i>fold</i>: over folds "
            "(MetAML's figure). Balanced accuracy at probability 0.5.</p>"
        )
        kind = str(result.summary["ci_kind"].iloc[0]) if "ci_kind" in result.summary else ""
        parts.append(f"<p>CI: {html.escape(kind)}.</p>")
        parts.append(_table(result.summary.drop(columns=["ci_kind"], errors="ignore")))
        parts.append(
            "<div class='figs'>"
            + "".join(
                f"<figure>{svg}<figcaption>{html.escape(cap)}</figcaption></figure>" for svg, cap in _roc_pr(result)
            )
            + "</div>"
        )
        parts.append("<h2>Features (consensus over all models)</h2>")
        svg = _consensus_fig(result.consensus)
        if svg is None:
            parts.append(
                "<p class='note'>No model selected any feature, or the model exposes no weights: "
                "nothing to interpret.</p>"
            )
        else:
            parts.append(
                f"<figure>{svg}<figcaption>Top features: median relative weight across "
                f"{int(result.consensus['n_models'].iloc[0])} models and the share of models that selected "
                "each (robust: at least half).</figcaption></figure>"
            )
        parts.append(_table(result.consensus, 30))
    else:
        parts.append("<h2>Cross-study performance</h2>")
        if result.matrix is not None and result.matrix.notna().any().any():
            parts.append(
                f"<figure>{_matrix_fig(result.matrix)}<figcaption>AUROC, training study (rows) x test study "
                "(columns); the diagonal is within-study cross-validation.</figcaption></figure>"
            )
        parts.append(_table(result.table, 100))
    for name, frame in (extra_tables or {}).items():
        parts.append(f"<h2>{html.escape(name)}</h2>" + _table(frame, 60))
    if extra:
        for key, value in extra.items():
            if isinstance(value, (list, tuple)) and value and isinstance(value[0], dict):
                parts.append(f"<h2>{html.escape(str(key))}</h2>" + _table(pd.DataFrame(value), 60))
    if result.notes:
        parts.append(
            "<h2>Notes</h2><ul>" + "".join(f"<li class='note'>{html.escape(n)}</li>" for n in result.notes) + "</ul>"
        )
    if result.filtered:
        parts.append(
            "<h2>Left out</h2><ul>"
            + "".join(
                f"<li>{html.escape(str(f['what']))}: {f['n']} ({html.escape(str(f['reason']))})</li>"
                for f in result.filtered
            )
            + "</ul>"
        )
    parts.append(
        f"<p><small>{html.escape(DISCLAIMER)} Every figure here is a statistical association in the data "
        "given, not a diagnostic test.</small></p></body></html>"
    )
    path = Path(path)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
