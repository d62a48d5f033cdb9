"""The figures of the associate report, drawn with matplotlib and written as inline SVG: MaAsLin2's
heatmap of the significant associations (:func:`_heatmap`) and one plot per association
(:func:`_plot_figure`: scatter with a least-squares line, box and strip per level, presence bars
for MaAsLin3's prevalence model, the product of an interaction's variables).

Kept apart from the page (:mod:`gutaxis.report.associate`: tables, context, writer) because the
drawing is a concept of its own and most of the report's code; the page only calls :func:`_heatmap`
and :func:`_plot_figure`, and :func:`gutaxis.link._associate_figures.write_figures` saves the same
plots (``_plot_figure(..., raw=True)``) as PDF. matplotlib is imported inside the functions only, so
importing this module does not load it. ``_plot_figure`` and ``_plot`` stay importable from
:mod:`gutaxis.report.associate`.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from ._associate_labels import (
    _as_levels,
    _caption,
    _col_label,
    _flat,
    _interactions,
    _is_m3,
    _is_numeric,
    _model_variables,
    _outcome,
    _short,
    _subtitle,
    _title,
    _txt,
)

_HIGHLIGHT = "#D55E00"  # Okabe-Ito vermilion: the row's level / level combination
_OTHER = "#0072B2"  # Okabe-Ito blue: the other samples
_MAX_POINTS = 3000  # points drawn per plot (a deterministic thinning above it, stated in the caption)


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
