"""Tiny dependency-free SVG line charts with bands (inline in self-contained HTML reports)."""

from __future__ import annotations

from html import escape

import numpy as np

PALETTE = ("#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8d6a9f", "#5c5c5c")


def _ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        hi = lo + 1.0
    span = hi - lo
    step = 10 ** np.floor(np.log10(span / n))
    for m in (1, 2, 2.5, 5, 10):
        if span / (m * step) <= n:
            step *= m
            break
    start = np.ceil(lo / step) * step
    return np.arange(start, hi + step * 1e-9, step)


def _fmt(v: float) -> str:
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.3g}"
    return f"{v:.2g}"


def band_chart(x, series: dict, *, title: str = "", ylabel: str = "", xlabel: str = "day",
               width: int = 560, height: int = 300) -> str:
    """SVG with one median line and a shaded 5-95 % band per series.

    ``series``: name -> (median, low, high) arrays over ``x``.
    """
    x = np.asarray(x, float)
    ml, mr, mt, mb = 62, 130, 28, 42
    pw, ph = width - ml - mr, height - mt - mb
    allv = np.concatenate([np.concatenate([np.asarray(v, float) for v in s]) for s in series.values()]) if series else np.zeros(1)
    allv = allv[np.isfinite(allv)]
    lo, hi = (float(allv.min()), float(allv.max())) if allv.size else (0.0, 1.0)
    pad = 0.05 * (hi - lo if hi > lo else max(abs(hi), 1.0))
    lo, hi = lo - pad, hi + pad
    x0, x1 = float(x.min()), float(x.max()) if x.size > 1 else float(x.min()) + 1.0

    def sx(v):
        return ml + (np.asarray(v, float) - x0) / (x1 - x0 if x1 > x0 else 1.0) * pw

    def sy(v):
        return mt + ph - (np.asarray(v, float) - lo) / (hi - lo) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="11">']
    out.append(f'<text x="{ml}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>')
    out.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for t in _ticks(lo, hi):
        y = float(sy(t))
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{ml - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    for t in _ticks(x0, x1):
        xx = float(sx(t))
        out.append(f'<text x="{xx:.1f}" y="{mt + ph + 16}" text-anchor="middle">{_fmt(t)}</text>')
    out.append(f'<text x="{ml + pw / 2}" y="{height - 6}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text x="14" y="{mt + ph / 2}" text-anchor="middle" transform="rotate(-90 14 {mt + ph / 2})">{escape(ylabel)}</text>')
    for k, (name, (med, low, high)) in enumerate(series.items()):
        col = PALETTE[k % len(PALETTE)]
        px, plo, phi, pm = sx(x), sy(low), sy(high), sy(med)
        poly = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, phi)) + " " + " ".join(
            f"{a:.1f},{b:.1f}" for a, b in zip(px[::-1], plo[::-1]))
        out.append(f'<polygon points="{poly}" fill="{col}" fill-opacity="0.15" stroke="none"/>')
        line = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, pm))
        out.append(f'<polyline points="{line}" fill="none" stroke="{col}" stroke-width="2"/>')
        ly = mt + 14 + 16 * k
        out.append(f'<line x1="{ml + pw + 10}" x2="{ml + pw + 28}" y1="{ly - 4}" y2="{ly - 4}" stroke="{col}" stroke-width="3"/>')
        out.append(f'<text x="{ml + pw + 32}" y="{ly}">{escape(str(name))}</text>')
    out.append("</svg>")
    return "".join(out)
