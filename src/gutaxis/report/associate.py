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
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_associate_report"]

_HIGHLIGHT = "#D55E00"  # Okabe-Ito vermilion: the row's level / level combination
_OTHER = "#0072B2"  # Okabe-Ito blue: the other samples
_MAX_POINTS = 3000  # points drawn per plot (a deterministic thinning above it, stated in the caption)
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


# ------------------------------------------------------------------------------------------- helpers
def _txt(x) -> str:
    """Text for a matplotlib label: ``$`` escaped so that no name is read as mathtext."""
    return str(x).replace("$", r"\$")


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "NA"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{float(v):.{digits}g}"


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


def _is_numeric(x: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)


def _is_m3(result) -> bool:
    return (getattr(result, "params", None) or {}).get("model") == "maaslin3"


def _col_label(result, metadata, value) -> str:
    """Heatmap column: the coefficient's name for an interaction, else ``metadata-value`` (MaAsLin2)
    or ``metadata value`` (MaAsLin3), or the variable alone for a numeric one."""
    hit = _interactions(result).get((metadata, value))
    if hit is not None:
        return hit[0]
    if str(metadata) == str(value):
        return str(metadata)
    return f"{metadata}{' ' if _is_m3(result) else '-'}{value}"


def _model_variables(result) -> list[str]:
    """Metadata columns the model used (complete cases over these were modelled)."""
    p = result.params
    meta = result.metadata
    names: list[str] = []
    for term in list(p.get("fixed_effects") or []) + list(p.get("random_effects") or []):
        parts = term if isinstance(term, (list, tuple)) else str(term).split(":")
        names.extend(str(v) for v in parts)
    return [v for v in dict.fromkeys(names) if meta is not None and v in meta.columns]


def _axis_label(norm: str | None, tr: str | None, what: str = "abundance", *, short: bool = False) -> str:
    """Name of the modelled values, e.g. ``log2(relative abundance)`` (``short``: ``log2(rel. abundance)``)."""
    rel = "rel." if short else "relative"
    base = {"TSS": f"{rel} {what}", "CLR": f"CLR {what}", "NONE": what}.get(str(norm), f"{norm} {what}")
    return {
        "LOG": f"log2({base})",
        "PLOG": f"log2({base})",
        "AST": f"arcsin(sqrt({base}))",
        "LOGIT": f"logit({base})",
        "NONE": base,
    }.get(str(tr), f"{tr}({base})")


def _transform_note(model_m3: bool, tr: str | None) -> str:
    """How zeros enter the plotted values (MaAsLin3's abundance model leaves them out whatever the transform)."""
    if model_m3:
        return ""
    return {"LOG": "zeros at half the feature's smallest non-zero value, as MaAsLin2's LOG"}.get(str(tr), "")


def _outcome(result, row) -> tuple[np.ndarray, str, str]:
    """The values the row's model saw, per sample of ``result.data`` (NaN: not in that model), the
    axis label and the kind (``"abundance"`` or ``"presence"``, 0/1)."""
    fn = getattr(result, "outcome", None)
    if fn is not None:
        return fn(row)
    from ..link._normalize import transform

    p = result.params
    x = result.data[row["feature"]].to_numpy(dtype=float)
    y = transform(x[:, None], str(p.get("transform", "NONE")))[:, 0]
    return y, _axis_label(p.get("normalization", "NONE"), p.get("transform", "NONE"), short=True), "abundance"


def _short(result, feature) -> str:
    """The feature's short name (last informative rank of its lineage) for titles and labels."""
    from ..pl._style import short_taxon

    res = result.results
    if "taxon" in res.columns:
        hit = res.loc[res["feature"].astype(str) == str(feature), "taxon"]
        if len(hit) and isinstance(hit.iloc[0], str) and hit.iloc[0]:
            return short_taxon(hit.iloc[0])
    return short_taxon(feature)


def _title(feature: str, coef_label: str) -> str:
    """``feature ~ coefficient`` on one line when short, else on two (a long name cut every 40 characters)."""
    if len(feature) + len(coef_label) <= 34:
        return f"{feature} ~ {coef_label}"
    parts = [feature[i : i + 40] for i in range(0, len(feature), 40)] or [""]
    return "\n".join(parts) + f"\n~ {coef_label}"


def _flat(title: str) -> str:
    return title.replace("\n~", " ~").replace("\n", "")


def _subtitle(result, row) -> str:
    bits = [f"coef {_fmt(row.get('coef'))}", f"q {_fmt(row.get('qval'), 2)}"]
    if _is_m3(result) and "model" in row:
        bits.insert(0, str(row["model"]))
    return " · ".join(bits)


def _caption(result, row, n: int, extra: str = "") -> str:
    """The short caption under one plot: the model and its numbers not in the plot's title."""
    bits = []
    if _is_m3(result) and "model" in row:
        bits.append(f"{row['model']} model, joint q {_fmt(row.get('qval_joint'), 2)}")
    bits.append(f"stderr {_fmt(row.get('stderr'))}, p {_fmt(row.get('pval'), 2)}")
    who = "samples with the feature present" if _is_m3(result) and row.get("model") == "abundance" else "samples"
    bits.append(f"{n} {who} shown")
    return "; ".join(bits) + (f". {extra}" if extra else ".")


def _thin(idx: np.ndarray, limit: int = _MAX_POINTS) -> np.ndarray:
    if idx.size > limit:
        idx = idx[np.linspace(0, idx.size - 1, limit).astype(int)]
    return idx


# ------------------------------------------------------------------------------------------- SVG output
_CIRCLE_DEF = re.compile(r'<path id="([\w-]+)" d="M 0 ([0-9.]+) *\nC ')
_USE = re.compile(r'<use (?:xlink:)?href="#([\w-]+)" x="([-0-9.e]+)" y="([-0-9.e]+)"((?: style="[^"]*")?)\s*/>')
_BLOCK = re.compile(r'(<g clip-path="url\(#[\w-]+\)")>((?:\s*<circle [^>]*/>)+)(\s*</g>)')


def _circles(svg: str) -> str:
    """Matplotlib writes each scatter point as a ``<use>`` of a circular marker path; written as
    ``<circle>`` elements instead the points are plain SVG shapes (and the file smaller)."""
    radii = dict(_CIRCLE_DEF.findall(svg))
    if not radii:
        return svg

    def sub(m):
        r = radii.get(m.group(1))
        if r is None:
            return m.group(0)
        return f'<circle cx="{float(m.group(2)):.1f}" cy="{float(m.group(3)):.1f}" r="{float(r):.2f}"{m.group(4)}/>'

    def hoist(m):  # one style for a group of points of one colour: on the group, not on each point
        styles = set(re.findall(r'<circle [^>]*?( style="[^"]*")/>', m.group(2)))
        if len(styles) != 1 or m.group(2).count("<circle") != len(re.findall(r" style=", m.group(2))):
            return m.group(0)
        style = styles.pop()
        body = "\n".join(c.replace(style, "") for c in re.findall(r"<circle [^>]*/>", m.group(2)))
        return f"{m.group(1)}{style}>\n{body}{m.group(3)}"

    return _BLOCK.sub(hoist, _USE.sub(sub, svg))


def _svg(fig, alt: str, salt: str, caption: str):
    from .figures import Figure, _to_svg

    svg = _circles(_to_svg(fig, alt, salt))
    # SVG 2 ``href`` instead of ``xlink:href``: no XLink namespace, the page names no address but the SVG one
    svg = svg.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "", 1).replace(" xlink:href=", " href=")
    # matplotlib names its groups figure_1, axes_1, line2d_1, ... in every figure: unreferenced, and
    # repeated over the figures of one page, so left out (ids that clip paths and markers use stay)
    svg = re.sub(r'<g id="[^"]*"', "<g", svg)
    # the label in single quotes (the markup's own attributes use double quotes)
    svg = re.sub(r'^(<svg role="img") aria-label="([^"]*)"', r"\1 aria-label='\2'", svg, count=1)
    return Figure(svg, alt, caption)


def _new_figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


# ------------------------------------------------------------------------------------------- heatmap
def _heatmap(result, sig: pd.DataFrame, first_n: int = 50):
    """MaAsLin2's heatmap of the significant associations (a :class:`~gutaxis.report.figures.Figure`),
    the number of features shown and the number significant; ``(None, 0, 0)`` without any."""
    from .figures import Figure, _rc

    if sig.empty:
        return None, 0, 0
    sig = sig.copy()
    sig["col"] = [_col_label(result, m, v) for m, v in zip(sig["metadata"], sig["value"], strict=True)]
    q = pd.to_numeric(sig["qval"], errors="coerce").to_numpy(dtype=float)
    sig["score"] = np.sign(sig["coef"].to_numpy(dtype=float)) * -np.log10(np.clip(q, 1e-300, 1.0))
    best = sig.assign(_q=np.where(np.isfinite(q), q, np.inf)).groupby("feature", sort=False)["_q"].min()
    n_sig = len(best)
    feats = list(best.sort_values(kind="stable").index[:first_n])
    cols = list(dict.fromkeys(sig["col"]))
    panels = ["abundance", "prevalence"] if _is_m3(result) and "model" in sig else [None]
    sig = sig[sig["feature"].isin(feats)]
    grids = []
    for panel in panels:
        part = sig if panel is None else sig[sig["model"] == panel]
        g = part.groupby(["feature", "col"], sort=False)["score"].first().unstack()
        grids.append(g.reindex(index=feats, columns=cols).to_numpy(dtype=float))
    finite = np.concatenate([g[np.isfinite(g)] for g in grids])
    vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
    # colour classes of -log10(q), as steps (q <= threshold, 0.1, 0.01, ... 1e-20): one large q-value
    # does not wash out the others, and a class reads as a q-value
    thr = -math.log10(float(result.params.get("max_significance") or 0.25))
    steps = [thr] + [b for b in (1, 2, 3, 5, 10, 20) if b > thr * 1.0001]
    top = max(vmax, steps[-1]) * 1.0001 + 1e-9
    if top > steps[-1] * 1.0001 + 1e-9:
        steps.append(top)
    bounds = [-b for b in steps[::-1]] + steps

    from ..link._associate_figures import short_names

    short = short_names(result)
    names = [short.get(str(f), str(f)) for f in feats]
    longest_feat = max(len(n) for n in names)
    longest_col = max(len(c) for c in cols)
    width = 0.8 + 0.075 * longest_feat + len(panels) * (0.32 * len(cols) + 0.2) + 1.1
    height = 1.0 + 0.2 * len(feats) + 0.065 * longest_col + (0.3 if panels[0] else 0.0)
    with _rc("heatmap"):
        import matplotlib

        fig = _new_figure((max(4.2, width), max(2.6, height)))
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        from matplotlib.colors import BoundaryNorm, ListedColormap

        div = matplotlib.colormaps["RdBu_r"]
        k = len(steps) - 1
        shades = [0.1 + 0.4 * (i / max(1, k - 1)) for i in range(k)]  # distance from the centre, light to dark
        colours = [div(0.5 - d) for d in shades[::-1]] + ["#d9dee4"] + [div(0.5 + d) for d in shades]
        cmap = ListedColormap(colours)
        norm = BoundaryNorm(bounds, cmap.N)
        for ax, panel, grid in zip(axes, panels, grids, strict=True):
            ax.set_facecolor("#f5f7fa")
            mesh = ax.pcolormesh(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, linewidth=0)
            ax.hlines(np.arange(1, len(feats)), 0, len(cols), color="white", linewidth=0.8)
            ax.vlines(np.arange(1, len(cols)), 0, len(feats), color="white", linewidth=0.8)
            ax.set_xticks(np.arange(len(cols)) + 0.5)
            ax.set_xticklabels([_txt(c) for c in cols], rotation=45, ha="right", rotation_mode="anchor")
            ax.set_yticks(np.arange(len(feats)) + 0.5)
            ax.set_yticklabels([_txt(n) for n in names], fontsize=8.5)
            ax.set_xlim(0, len(cols))
            ax.set_ylim(len(feats), 0)  # the smallest q at the top
            ax.tick_params(length=0)
            for side in ("left", "bottom", "top", "right"):
                ax.spines[side].set_visible(False)
            if panel is not None:
                ax.set_title(f"{panel} model", loc="left")
        cb = fig.colorbar(
            mesh,
            ax=list(axes),
            shrink=min(1.0, max(0.4, 14 / max(len(feats), 1))),
            aspect=22,
            pad=0.02,
            spacing="uniform",
            ticks=bounds[1:-1],
        )
        cb.ax.set_yticklabels([f"{b:.2g}" for b in bounds[1:-1]], fontsize=8)
        cb.set_label("sign(coef) × −log10(q)")
        cb.outline.set_visible(False)
    shown = f"the {len(feats)} features with the smallest q" if len(feats) < n_sig else f"all {n_sig} features"
    alt = (
        f"heatmap of the significant associations, {shown} (rows) by {len(cols)} coefficients (columns: "
        f"{', '.join(cols)}); colour sign(coef) times -log10(q) in classes, red positive, blue negative, "
        f"largest magnitude {vmax:.1f}."
    )
    m3 = _is_m3(result)
    caption = (
        "Each coloured cell is one significant association: red, the feature is higher "
        + ("(prevalence model: more often present) " if m3 else "")
        + "with the coefficient's variable or level, blue, lower; the darker, the smaller q (colour classes "
        "of −log10(q): "
        + ", ".join(f"{b:.2g}" for b in steps[:-1])
        + "). "
        + ("Mid grey: significant by the joint q only (its own q is above the threshold). " if m3 else "")
        + "Light: not significant. Rows are sorted by their smallest q."
    )
    out = _svg(fig, alt, "heatmap", caption)
    # the cells of the heatmap: empty (masked) cells left out, coordinates to 0.01 pt
    svg = re.sub(
        r'<path d="M ([-0-9.]+) ([-0-9.]+) \nL ([-0-9.]+) ([-0-9.]+) \nL ([-0-9.]+) ([-0-9.]+) \n'
        r'L ([-0-9.]+) ([-0-9.]+) \nL [-0-9.]+ [-0-9.]+ \n"',
        lambda m: (
            '<path d="M '
            + " L ".join(f"{float(m.group(i)):.2f} {float(m.group(i + 1)):.2f}" for i in (1, 3, 5, 7))
            + ' z"'
        ),
        out.svg,
    )
    svg = re.sub(r'\s*<path d="[^"]*"(?: clip-path="[^"]*")? style="fill: none"/>', "", svg)
    return Figure(svg, out.alt, out.caption), len(feats), n_sig


# ------------------------------------------------------------------------------------------- plots
def _box_strip(
    ax, groups: list[np.ndarray], labels: list[str], highlight: list[bool], rng, *, horizontal: bool = False
) -> None:
    """Box (middle half, median) and jittered points per group; highlighted groups in vermilion."""
    from .figures import _INK, _MUTED

    keep = [i for i, g in enumerate(groups) if len(g)]
    if keep:
        import matplotlib

        orient: dict[str, str | bool]
        if not horizontal:
            orient = {}
        elif tuple(int(x) for x in re.findall(r"\d+", matplotlib.__version__)[:2]) >= (3, 10):
            orient = {"orientation": "horizontal"}
        else:  # pragma: no cover - matplotlib < 3.10
            orient = {"vert": False}
        bp = ax.boxplot(
            [groups[i] for i in keep],
            positions=keep,
            widths=0.55,
            showfliers=False,
            patch_artist=True,
            medianprops={"color": _INK, "linewidth": 1.6},
            **orient,
        )
        for patch, i in zip(bp["boxes"], keep, strict=True):
            c = _HIGHLIGHT if highlight[i] else _OTHER
            patch.set_facecolor(c + "22")
            patch.set_edgecolor(c)
        for part in ("whiskers", "caps"):
            for line in bp[part]:
                line.set_color(_MUTED)
    for i in keep:
        d = groups[i]
        d = d[_thin(np.arange(d.size), max(200, _MAX_POINTS // max(1, len(keep))))]
        c = _HIGHLIGHT if highlight[i] else _OTHER
        jit = i + rng.uniform(-0.2, 0.2, d.size)
        xy = (d, jit) if horizontal else (jit, d)
        ax.scatter(*xy, s=6, color=c, alpha=0.45, linewidths=0, zorder=3)
    ticks = range(len(groups))
    if horizontal:
        ax.set_yticks(list(ticks))
        ax.set_yticklabels([_txt(s) for s in labels])
        ax.set_ylim(-0.6, len(groups) - 0.4)
    else:
        ax.set_xticks(list(ticks))
        long = max((len(s) for s in labels), default=0) * len(labels) > 28
        ax.set_xticklabels(
            [_txt(s) for s in labels],
            rotation=30 if long else 0,
            ha="right" if long else "center",
            rotation_mode="anchor" if long else "default",
            fontsize=8.5,
        )
        ax.set_xlim(-0.6, len(groups) - 0.4)
    for lab, hi in zip(ax.get_yticklabels() if horizontal else ax.get_xticklabels(), highlight, strict=True):
        if hi:
            lab.set_color(_HIGHLIGHT)
            lab.set_fontweight("bold")


def _scatter_line(ax, x: np.ndarray, y: np.ndarray, colours: np.ndarray | None = None, *, fit: bool = True) -> None:
    """Points (vermilion where ``colours`` is True) and, for ``fit``, a least-squares line."""
    from .figures import _INK

    idx = _thin(np.arange(x.size))
    hi = np.zeros(x.size, bool) if colours is None else colours
    for sel, c in ((idx[~hi[idx]], _OTHER), (idx[hi[idx]], _HIGHLIGHT)):
        if sel.size:
            ax.scatter(x[sel], y[sel], s=7, color=c, alpha=0.5, linewidths=0, zorder=3)
    if fit and x.size > 2 and np.ptp(x) > 0:
        b, a = np.polyfit(x, y, 1)
        xs = np.array([x.min(), x.max()])
        ax.plot(xs, a + b * xs, color=_INK, linewidth=1.6, zorder=4)


def _setup_axes(fig, ax, title: str, subtitle: str) -> None:
    from .figures import _GRID, _INK, _MUTED

    fig.suptitle(_txt(title), x=0.02, ha="left", fontsize=9.5, fontweight="bold", color=_INK)
    ax.set_title(_txt(subtitle), loc="left", fontsize=8.5, fontweight="normal", color=_MUTED)
    ax.grid(axis="y", color=_GRID, linewidth=0.6)
    ax.set_axisbelow(True)


def _reference_level(result, var: str, levels: list[str]) -> str | None:
    ref = ((result.params or {}).get("reference") or {}).get(var)
    if ref is not None and str(ref) in levels:
        return str(ref)
    return sorted(levels)[0] if levels else None


def _plot_interaction(result, row, name, parts, raw: bool = False):
    """An interaction coefficient: the outcome against the product of its numeric variables (the
    samples of its level combination in vermilion), or a strip per level combination when all its
    variables are categorical. A :class:`~gutaxis.report.figures.Figure`, or None without data."""
    from .figures import _rc

    data, meta = result.data, result.metadata
    f = row["feature"]
    if data is None or meta is None or f not in data.columns or any(v not in meta.columns for v, _ in parts):
        return None
    y, ylabel, kind = _outcome(result, row)
    meta = meta.reindex(data.index)
    model_vars = _model_variables(result)
    ok = np.isfinite(y) & meta[model_vars or [v for v, _ in parts]].notna().all(axis=1).to_numpy()
    nums = [v for v, lev in parts if lev is None]
    cats = [(v, lev) for v, lev in parts if lev is not None]
    cell = np.ones(len(y), bool)
    for v, lev in cats:
        cell &= _as_levels(meta[v]) == str(lev)
    sf = _short(result, f)
    title = _title(sf, str(name))
    sub = _subtitle(result, row)
    cell_label = ", ".join(f"{v} = {lev}" for v, lev in cats)
    rng = np.random.default_rng(0)
    with _rc("interaction"):
        fig = _new_figure((3.7, 3.3))
        ax = fig.subplots()
        if nums:
            xv = np.prod([meta[v].to_numpy(dtype=float) for v in nums], axis=0)
            ok &= np.isfinite(xv)
            xlab = " x ".join(nums) + (f"; vermilion: {cell_label}" if cats else "")
            if kind == "presence":
                groups = [xv[ok & (y == 0)], xv[ok & (y == 1)]]
                _box_strip(ax, groups, ["absent", "present"], [False, False], rng, horizontal=True)
            else:
                _scatter_line(ax, xv[ok], y[ok], cell[ok] if cats else None, fit=not cats)
                ax.set_ylabel(_txt(ylabel), fontsize=8.5)
            ax.set_xlabel(_txt(xlab))
            alt_body = f"{ylabel} of {sf} against the product {' x '.join(nums)}"
        else:  # all categorical: one strip per level combination, the coefficient's cell highlighted
            combo = np.array([" / ".join(t) for t in zip(*[_as_levels(meta[v]) for v, _ in cats], strict=True)])
            target = " / ".join(str(lev) for _, lev in cats)
            levels = sorted(dict.fromkeys(combo[ok]), key=lambda s: (s == target, s))
            groups = [y[ok & (combo == lev)] for lev in levels]
            hi = [lev == target for lev in levels]
            if kind == "presence":
                _presence_bars(ax, groups, levels, hi)
            else:
                _box_strip(ax, groups, levels, hi, rng)
                ax.set_ylabel(_txt(ylabel), fontsize=8.5)
            ax.set_xlabel(_txt(" / ".join(v for v, _ in cats)))
            alt_body = f"{ylabel} of {sf} by level combination of {' / '.join(v for v, _ in cats)}"
        _setup_axes(fig, ax, title, sub)
    alt = f"{_flat(title)} ({sub}): {alt_body}, {int(ok.sum())} samples."
    caption = _caption(
        result,
        row,
        int(ok.sum()),
        "Interaction coefficient" + (f"; vermilion: the samples with {cell_label}" if cats else "") + ".",
    )
    if raw:
        return fig
    return _svg(fig, alt, f"plot-{f}-{name}-{row.get('model', '')}", caption)


def _presence_bars(ax, groups: list[np.ndarray], labels: list[str], highlight: list[bool]) -> None:
    """Share of samples with the feature present per group (0/1 values), with the counts."""
    from .figures import _INK

    share = [100 * float(np.mean(g)) if len(g) else 0.0 for g in groups]
    ax.bar(range(len(groups)), share, width=0.6, color=[_HIGHLIGHT if h else _OTHER for h in highlight], alpha=0.8)
    for i, g in enumerate(groups):
        ax.annotate(
            f"{int(np.sum(g))}/{len(g)}",
            (i, share[i]),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            fontsize=7.5,
            color=_INK,
        )
    ax.set_ylim(0, 108)
    ax.set_ylabel("present (% of samples)")
    long = max((len(s) for s in labels), default=0) * len(labels) > 28
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(
        [_txt(s) for s in labels],
        rotation=30 if long else 0,
        ha="right" if long else "center",
        rotation_mode="anchor" if long else "default",
        fontsize=8.5,
    )
    for lab, hi in zip(ax.get_xticklabels(), highlight, strict=True):
        if hi:
            lab.set_color(_HIGHLIGHT)
            lab.set_fontweight("bold")


def _plot_figure(result, row, raw: bool = False):
    """The plot of one association (a :class:`~gutaxis.report.figures.Figure`; with ``raw`` the
    matplotlib Figure), or None without data."""
    from .figures import _rc

    data, meta = result.data, result.metadata
    f, var, val = row["feature"], row["metadata"], row["value"]
    hit = _interactions(result).get((var, val))
    if hit is not None:
        name, parts = hit
        return _plot_interaction(result, row, name, parts, raw=raw)
    if data is None or meta is None or f not in data.columns or var not in meta.columns:
        return None
    y, ylabel, kind = _outcome(result, row)
    meta = meta.reindex(data.index)
    x = meta[var]
    model_vars = _model_variables(result)
    ok = np.isfinite(y) & meta[model_vars or [var]].notna().all(axis=1).to_numpy()
    coef_label = str(var) if str(var) == str(val) else f"{var} {val}"
    sf = _short(result, f)
    title = _title(sf, coef_label)
    sub = _subtitle(result, row)
    rng = np.random.default_rng(0)
    with _rc("plot"):
        fig = _new_figure((3.7, 3.3))
        ax = fig.subplots()
        if _is_numeric(x):
            xv = x.to_numpy(dtype=float)
            ok &= np.isfinite(xv)
            if kind == "presence":
                _box_strip(
                    ax,
                    [xv[ok & (y == 0)], xv[ok & (y == 1)]],
                    ["absent", "present"],
                    [False, False],
                    rng,
                    horizontal=True,
                )
                what = f"{var} of the samples without and with {sf}"
            else:
                _scatter_line(ax, xv[ok], y[ok])
                ax.set_ylabel(_txt(ylabel), fontsize=8.5)
                what = f"scatter plot of {ylabel} of {sf} against {var}"
            ax.set_xlabel(_txt(var))
        else:
            xs = _as_levels(x)
            levels = sorted(dict.fromkeys(xs[ok]))
            ref = _reference_level(result, str(var), levels)
            levels = ([ref] if ref in levels else []) + [lev for lev in levels if lev != ref]
            hi = [lev == str(val) for lev in levels]
            groups = [y[ok & (xs == lev)] for lev in levels]
            labels = [f"{lev}\n(n={len(g)})" for lev, g in zip(levels, groups, strict=True)]
            if kind == "presence":
                _presence_bars(ax, groups, [str(lev) for lev in levels], hi)
                what = f"bar chart of the share of samples with {sf} present per level of {var}"
            else:
                _box_strip(ax, groups, labels, hi, rng)
                ax.set_ylabel(_txt(ylabel), fontsize=8.5)
                what = f"box and strip plot of {ylabel} of {sf} per level of {var}"
            ax.set_xlabel(_txt(var))
        _setup_axes(fig, ax, title, sub)
    ref_note = "" if _is_numeric(x) else f"Vermilion: {val}; reference level {ref}."
    caption = _caption(result, row, int(ok.sum()), ref_note)
    alt = f"{_flat(title)} ({sub}): {what}, {int(ok.sum())} samples."
    if raw:
        return fig
    return _svg(fig, alt, f"plot-{f}-{var}-{val}-{row.get('model', '')}", caption)


def _plot(result, row) -> str:
    """The SVG markup of one association's plot ("" without data)."""
    fig = _plot_figure(result, row)
    return "" if fig is None else fig.svg


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
