"""Self-contained HTML report of :func:`gutaxis.link.associate` results (inline SVG, no scripts, no CDN).

A heatmap of the significant associations (features x metadata values, colour = sign(coef) x
-log10(q), as MaAsLin2's heatmap) and one plot per top association: a scatter plot for a
continuous variable, a strip plot per level for a categorical one; for an interaction
coefficient (``params["interactions"]``), the outcome against the product of its numeric
variables with the samples of its level combination highlighted, or a strip plot per level
combination when all its variables are categorical.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_associate_report"]

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.plots{display:flex;flex-wrap:wrap;gap:12px}
.note{color:#555;font-size:13px}h2{margin-top:1.5em}"""


def _esc(x) -> str:
    return html.escape(str(x))


def _colour(v: float, vmax: float) -> str:
    if not np.isfinite(v) or vmax <= 0:
        return "#f7f7f7"
    t = max(-1.0, min(1.0, v / vmax))
    if t >= 0:
        r, g, b = 255, int(255 * (1 - t)), int(255 * (1 - t))
    else:
        r, g, b = int(255 * (1 + t)), int(255 * (1 + t)), 255
    return f"#{r:02x}{g:02x}{b:02x}"


def _interactions(result) -> dict:
    """``{(metadata, value): (coefficient name, [(variable, level or None), ...])}``."""
    out = {}
    for name, d in ((getattr(result, "params", None) or {}).get("interactions") or {}).items():
        out[(d["metadata"], d["value"])] = (name, [tuple(p) for p in d["parts"]])
    return out


def _as_levels(x: pd.Series) -> np.ndarray:
    # level strings as the design codes them (logical columns as R's TRUE/FALSE)
    if pd.api.types.is_bool_dtype(x):
        return x.map({True: "TRUE", False: "FALSE"}).astype(str).to_numpy()
    return x.astype(str).to_numpy()


def _heatmap(sig: pd.DataFrame, first_n: int = 50, inter: dict | None = None) -> str:
    if sig.empty:
        return "<p class='note'>No association reached the significance threshold.</p>"
    sig = sig.copy()
    sig["col"] = sig["metadata"].astype(str) + (np.where(sig["metadata"] == sig["value"], "",
                                                          "-" + sig["value"].astype(str)))
    if inter:  # an interaction column is labelled by its coefficient name (diagnosisCD:age)
        names = [inter.get((m, v), (None,))[0] for m, v in zip(sig["metadata"], sig["value"])]
        sig["col"] = [n if n is not None else c for n, c in zip(names, sig["col"])]
    feats = list(dict.fromkeys(sig["feature"]))[:first_n]
    cols = list(dict.fromkeys(sig["col"]))
    sig = sig[sig["feature"].isin(feats)]
    val = np.sign(sig["coef"]) * -np.log10(np.maximum(sig["qval"].to_numpy(dtype=float), 1e-300))
    grid = pd.Series(val.to_numpy(), index=pd.MultiIndex.from_arrays([sig["feature"], sig["col"]])).groupby(level=[0, 1]).first()
    vmax = float(np.nanmax(np.abs(val))) if len(val) else 1.0
    cw, ch, left, top = 26, 14, 260, 120
    w, h = left + cw * len(cols) + 20, top + ch * len(feats) + 40
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-size='10' role='img' "
           "aria-label='heatmap of significant associations'>"]
    for j, c in enumerate(cols):
        x = left + j * cw + cw / 2
        out.append(f"<text transform='translate({x:.1f},{top - 6}) rotate(-60)'>{_esc(c)}</text>")
    for i, f in enumerate(feats):
        y = top + i * ch
        out.append(f"<text x='{left - 4}' y='{y + ch - 3}' text-anchor='end'>{_esc(f)}</text>")
        for j, c in enumerate(cols):
            v = grid.get((f, c), np.nan)
            title = f"{f} ~ {c}: sign(coef)*-log10(q) = {v:.2f}" if np.isfinite(v) else f"{f} ~ {c}: not significant"
            out.append(f"<rect x='{left + j * cw}' y='{y}' width='{cw - 1}' height='{ch - 1}' fill='{_colour(v, vmax)}'>"
                       f"<title>{_esc(title)}</title></rect>")
    out.append(f"<text x='{left}' y='{h - 12}'>colour: sign(coef) x -log10(q); red positive, blue negative; "
               f"|max| = {vmax:.1f}</text></svg>")
    return "".join(out)


def _plot_interaction(result, row, name, parts) -> str:
    data, meta = result.data, result.metadata
    f = row["feature"]
    if data is None or meta is None or f not in data.columns or any(v not in meta.columns for v, _ in parts):
        return ""
    y = data[f].to_numpy(dtype=float)
    nums = [v for v, lev in parts if lev is None]
    cats = [(v, lev) for v, lev in parts if lev is not None]
    ok = np.isfinite(y) & meta[[v for v, _ in parts]].notna().all(axis=1).to_numpy()
    cell = np.ones(len(y), bool)
    for v, lev in cats:
        cell &= _as_levels(meta[v]) == str(lev)
    w, h, m = 300, 220, 40
    title = f"{f} ~ {name}"
    sub = f"coef {row['coef']:.3g}, q {row['qval']:.2g}"
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-size='10' role='img' "
           f"aria-label='{_esc(title)}'><text x='{m}' y='12' font-weight='bold'>{_esc(title)}</text>"
           f"<text x='{m}' y='24'>{_esc(sub)}</text>"]
    ylo, yhi = (float(np.nanmin(y[ok])), float(np.nanmax(y[ok]))) if ok.any() else (0.0, 1.0)
    yhi = yhi if yhi > ylo else ylo + 1

    def sy(v):
        return h - m - (v - ylo) / (yhi - ylo) * (h - 2 * m)

    out.append(f"<line x1='{m}' y1='{h - m}' x2='{w - 10}' y2='{h - m}' stroke='#888'/>"
               f"<line x1='{m}' y1='{m}' x2='{m}' y2='{h - m}' stroke='#888'/>"
               f"<text x='4' y='{m}'>{yhi:.2g}</text><text x='4' y='{h - m}'>{ylo:.2g}</text>")
    cell_label = ", ".join(f"{v} = {lev}" for v, lev in cats)
    if nums:  # outcome against the product of the numeric variables; the level combination in red
        xv = np.prod([meta[v].to_numpy(dtype=float) for v in nums], axis=0)
        xlo, xhi = (float(np.nanmin(xv[ok])), float(np.nanmax(xv[ok]))) if ok.any() else (0.0, 1.0)
        xhi = xhi if xhi > xlo else xlo + 1
        idx = np.flatnonzero(ok)
        if idx.size > 1500:
            idx = idx[np.linspace(0, idx.size - 1, 1500).astype(int)]
        for i in idx:
            px = m + (xv[i] - xlo) / (xhi - xlo) * (w - m - 20)
            colour = "#cc3333" if cats and cell[i] else "#3366aa"
            out.append(f"<circle cx='{px:.1f}' cy='{sy(y[i]):.1f}' r='1.6' fill='{colour}' fill-opacity='0.5'/>")
        xlab = " x ".join(nums) + (f"; red: {cell_label}" if cats else "")
        out.append(f"<text x='{w / 2}' y='{h - 8}' text-anchor='middle'>{_esc(xlab)}</text>")
    else:  # all categorical: one strip per level combination, the coefficient's cell in red
        combo = np.array([" / ".join(t) for t in zip(*[_as_levels(meta[v]) for v, _ in cats])])
        target = " / ".join(str(lev) for _, lev in cats)
        levels = sorted(dict.fromkeys(combo[ok]), key=lambda s: (s == target, s))
        bw = (w - m - 20) / max(1, len(levels))
        rng = np.random.default_rng(0)
        for k, lev in enumerate(levels):
            sel = np.flatnonzero(ok & (combo == lev))
            if sel.size > 600:
                sel = sel[np.linspace(0, sel.size - 1, 600).astype(int)]
            cx = m + bw * (k + 0.5)
            for i in sel:
                out.append(f"<circle cx='{cx + rng.uniform(-bw / 4, bw / 4):.1f}' cy='{sy(y[i]):.1f}' r='1.6' "
                           f"fill='{'#cc3333' if lev == target else '#3366aa'}' fill-opacity='0.4'/>")
            med = float(np.median(y[ok & (combo == lev)]))
            out.append(f"<line x1='{cx - bw / 3:.1f}' x2='{cx + bw / 3:.1f}' y1='{sy(med):.1f}' y2='{sy(med):.1f}' "
                       f"stroke='#000' stroke-width='2'/><text x='{cx:.1f}' y='{h - m + 14}' text-anchor='middle' "
                       f"font-size='8'>{_esc(lev)}</text>")
        out.append(f"<text x='{w / 2}' y='{h - 8}' text-anchor='middle'>{_esc(' / '.join(v for v, _ in cats))}</text>")
    out.append("</svg>")
    return "".join(out)


def _plot(result, row) -> str:
    data, meta = result.data, result.metadata
    f, var, val = row["feature"], row["metadata"], row["value"]
    hit = _interactions(result).get((var, val))
    if hit is not None:
        return _plot_interaction(result, row, *hit)
    if data is None or meta is None or f not in data.columns or var not in meta.columns:
        return ""
    y = data[f].to_numpy(dtype=float)
    x = meta[var]
    w, h, m = 300, 220, 40
    title = f"{f} ~ {var}{'' if var == val else ' ' + str(val)}"
    sub = f"coef {row['coef']:.3g}, q {row['qval']:.2g}"
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-size='10' role='img' "
           f"aria-label='{_esc(title)}'><text x='{m}' y='12' font-weight='bold'>{_esc(title)}</text>"
           f"<text x='{m}' y='24'>{_esc(sub)}</text>"]
    ok = np.isfinite(y) & x.notna().to_numpy()
    ylo, yhi = (float(np.nanmin(y[ok])), float(np.nanmax(y[ok]))) if ok.any() else (0.0, 1.0)
    yhi = yhi if yhi > ylo else ylo + 1

    def sy(v):
        return h - m - (v - ylo) / (yhi - ylo) * (h - 2 * m)

    out.append(f"<line x1='{m}' y1='{h - m}' x2='{w - 10}' y2='{h - m}' stroke='#888'/>"
               f"<line x1='{m}' y1='{m}' x2='{m}' y2='{h - m}' stroke='#888'/>"
               f"<text x='4' y='{m}'>{yhi:.2g}</text><text x='4' y='{h - m}'>{ylo:.2g}</text>")
    if pd.api.types.is_numeric_dtype(x):
        xv = x.to_numpy(dtype=float)
        xlo, xhi = float(np.nanmin(xv[ok])), float(np.nanmax(xv[ok]))
        xhi = xhi if xhi > xlo else xlo + 1
        idx = np.flatnonzero(ok)
        if idx.size > 1500:
            idx = idx[np.linspace(0, idx.size - 1, 1500).astype(int)]
        for i in idx:
            px = m + (xv[i] - xlo) / (xhi - xlo) * (w - m - 20)
            out.append(f"<circle cx='{px:.1f}' cy='{sy(y[i]):.1f}' r='1.6' fill='#3366aa' fill-opacity='0.5'/>")
        out.append(f"<text x='{w / 2}' y='{h - 8}' text-anchor='middle'>{_esc(var)}</text>")
    else:
        levels = list(dict.fromkeys(x[ok].astype(str)))
        levels = sorted(levels, key=lambda s: (s != str(val), s))[::-1]
        bw = (w - m - 20) / max(1, len(levels))
        rng = np.random.default_rng(0)
        xs = x.astype(str).to_numpy()
        for k, lev in enumerate(levels):
            sel = np.flatnonzero(ok & (xs == lev))
            if sel.size > 600:
                sel = sel[np.linspace(0, sel.size - 1, 600).astype(int)]
            cx = m + bw * (k + 0.5)
            for i in sel:
                out.append(f"<circle cx='{cx + rng.uniform(-bw / 4, bw / 4):.1f}' cy='{sy(y[i]):.1f}' r='1.6' "
                           f"fill='{'#cc3333' if lev == str(val) else '#3366aa'}' fill-opacity='0.4'/>")
            med = float(np.median(y[ok & (xs == lev)]))
            out.append(f"<line x1='{cx - bw / 3:.1f}' x2='{cx + bw / 3:.1f}' y1='{sy(med):.1f}' y2='{sy(med):.1f}' "
                       f"stroke='#000' stroke-width='2'/><text x='{cx:.1f}' y='{h - m + 14}' text-anchor='middle'>"
                       f"{_esc(lev)}</text>")
    out.append("</svg>")
    return "".join(out)


def write_associate_report(result, path, *, first_n: int = 50, max_plots: int = 12) -> Path:
    """Write the HTML report of an :class:`~gutaxis.link.associate.AssociationResult`."""
    path = Path(path)
    p = result.params
    res = result.results
    sig = result.significant
    errors = res[res["error"].astype(str).str.len() > 0]
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>gutaxis associate</title>"
             f"<style>{_CSS}</style></head><body><h1>Feature–metadata associations</h1>"]
    parts.append("<p class='note'>Model " + _esc(p.get("model")) + "; fixed effects " + _esc(", ".join(p.get("fixed_effects", [])))
                 + ("; random intercepts " + _esc(", ".join(p["random_effects"])) if p.get("random_effects") else "")
                 + f"; normalization {_esc(p.get('normalization'))}, transform {_esc(p.get('transform'))}; "
                 f"{p.get('n_samples')} samples ({p.get('n_samples_modelled')} modelled), {p.get('n_features')} features; "
                 f"{len(sig)} associations with q &le; {p.get('max_significance')} ({_esc(p.get('correction'))}).</p>")
    for note in result.notes:
        parts.append(f"<p class='note'>{_esc(note)}</p>")
    parts.append("<h2>Significant associations</h2>" + _heatmap(sig, first_n, _interactions(result)))
    parts.append("<h2>Top associations</h2><div class='plots'>")
    for _, row in sig.head(max_plots).iterrows():
        parts.append(_plot(result, row))
    parts.append("</div><h2>Table of significant associations</h2><table><tr>")
    cols = ["feature", "metadata", "value", "coef", "stderr", "N", "N.not.0", "pval", "qval", "warning"]
    parts.append("".join(f"<th class='l'>{_esc(c)}</th>" for c in cols) + "</tr>")
    for _, row in sig.head(500).iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if isinstance(v, float):
                cells.append(f"<td>{v:.4g}</td>" if math.isfinite(v) else "<td>NA</td>")
            else:
                cells.append(f"<td class='l'>{_esc('' if v is None else v)}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</table>")
    if len(errors):
        parts.append(f"<h2>Features not modelled ({errors['feature'].nunique()})</h2><table>"
                     "<tr><th class='l'>feature</th><th class='l'>why</th></tr>")
        for _, row in errors.drop_duplicates("feature").iterrows():
            parts.append(f"<tr><td class='l'>{_esc(row['feature'])}</td><td class='l'>{_esc(row['error'])}</td></tr>")
        parts.append("</table>")
    parts.append("<p class='note'>Associations are statistical, not causal; gutaxis informs and never diagnoses.</p>"
                 "</body></html>")
    path.write_text("".join(parts), encoding="utf-8")
    return path
