"""Small server-drawn SVG charts for the diary pages, each with a text table saying the same.

Only presentation attributes (``fill=``, ``stroke=``, ``x=`` ...): no ``style=`` attribute, no
``<style>`` and no ``<script>``, so the page's CSP (``style-src 'self'``) holds. Every piece of
text (titles, labels, legend names, values) is escaped with :func:`markupsafe.escape`, so the
result may be marked safe. A chart with too few values says "not enough data yet" instead.

The charts draw numbers computed elsewhere (:mod:`gutaxis.lifestyle`); they compute nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeGuard

from markupsafe import Markup, escape

__all__ = ["MIN_POINTS", "bar_chart", "line_chart", "not_enough"]

#: fewest days with a value before a chart is drawn (fewer: "not enough data yet")
MIN_POINTS = 3
W, H = 340, 200
LEFT, RIGHT, TOP, BOTTOM = 38, 10, 22, 34
BAR = "#0b5cad"
TARGET = "#1d6b32"
MUTED = "#4a5560"
GRID = "#d5dbe0"
SERIES = ("#0b5cad", "#a4161a", "#1d6b32", "#8a4f00", "#5b2a86", "#00616b")


def _ok(v: object) -> TypeGuard[float]:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def _fmt(v, fmt: str) -> str:
    return fmt.format(v) if _ok(v) else "no data"


def not_enough(title: str, n: int, why: str = "") -> Markup:
    extra = f" {why}" if why else ""
    return Markup(
        '<div class="chart-empty"><h3>{}</h3><p class="hint">Not enough data yet: {} {} with a value '
        "(a chart needs at least {}).{}</p></div>"
    ).format(title, n, "day" if n == 1 else "days", MIN_POINTS, extra)


def _nice_step(span: float) -> float:
    """A tick step of 1, 2, 2.5 or 5 times a power of ten, so that 4 steps cover ``span``."""
    raw = span / 4 if span > 0 else 0.25
    exp = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * exp * (1 + 1e-9):
            return m * exp
    return 10 * exp  # pragma: no cover


def _range(values, extra=(), y_max: float | None = None) -> tuple[float, float, float]:
    """(low, high, step) of the y axis: from 0 (or below, for negative values) to just above the largest."""
    vals = [v for v in list(values) + list(extra) if _ok(v)]
    lo_v, hi_v = min([*vals, 0.0]), max([*vals, 0.0])
    if y_max is not None and lo_v >= 0:
        return 0.0, y_max, y_max / 4
    step = _nice_step(hi_v - lo_v)
    lo = step * math.floor(lo_v / step) if lo_v < 0 else 0.0
    while lo + 4 * step < hi_v or (lo < 0 and lo + 4 * step < 0):
        step = _nice_step(step * 4.2)
        lo = step * math.floor(lo_v / step) if lo_v < 0 else 0.0
    return lo, lo + 4 * step, step


def _frame(title_id: str, title: str, desc: str, lo: float, hi: float, y_unit: str) -> list[str]:
    ph = H - TOP - BOTTOM
    out = [
        (
            f'<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
            f'aria-labelledby="{title_id}-t {title_id}-d" xmlns="http://www.w3.org/2000/svg">'
        ),
        f'<title id="{title_id}-t">{escape(title)}</title>',
        f'<desc id="{title_id}-d">{escape(desc)}</desc>',
    ]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        y = TOP + ph - ph * k / 4
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>')
        out.append(
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10" fill="{MUTED}">'
            f"{escape(f'{round(v, 6):g}')}</text>"
        )
    if y_unit:
        out.append(f'<text x="2" y="{TOP - 2}" font-size="10" fill="{MUTED}">{escape(y_unit)}</text>')
    return out


def _y(v: float, lo: float, hi: float) -> float:
    ph = H - TOP - BOTTOM
    return TOP + ph - ph * (min(max(v, lo), hi) - lo) / (hi - lo)


def _table(title: str, labels: Sequence[str], columns: dict[str, Sequence], fmt: str) -> str:
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in columns)
    rows = []
    for i, lab in enumerate(labels):
        cells = "".join(f"<td>{escape(_fmt(vals[i], fmt))}</td>" for vals in columns.values())
        rows.append(f'<tr><th scope="row">{escape(lab)}</th>{cells}</tr>')
    return (
        f"<details><summary>{escape(title)}: as a table</summary><table><caption>{escape(title)}</caption>"
        f'<thead><tr><th scope="col">Day</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></details>'
    )


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    value_name: str,
    fmt: str = "{:.0f}",
    y_unit: str = "",
    target: float | None = None,
    target_label: str = "",
    y_max: float | None = None,
    note: str = "",
) -> Markup:
    """One bar per label (a day); missing values are marked "no data" on the axis, never drawn as 0."""
    n = sum(_ok(v) for v in values)
    if n < MIN_POINTS:
        return not_enough(title, n, note)
    lo, hi, _ = _range(values, [target] if _ok(target) else [], y_max)
    pw = W - LEFT - RIGHT
    desc = f"{n} of {len(values)} days with a value" + (f"; {target_label}" if target_label else "")
    out = _frame(chart_id, title, desc, lo, hi, y_unit)
    step = pw / max(len(labels), 1)
    bw = step * 0.62
    base = _y(0.0, lo, hi)
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + i * step + (step - bw) / 2
        if _ok(v):
            y = _y(v, lo, hi)
            top, h = min(y, base), abs(base - y)
            out.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{bw:.1f}" height="{max(h, 0.5):.1f}" '
                f'fill="{BAR}"><title>{escape(lab)}: {escape(_fmt(v, fmt))}</title></rect>'
            )
        else:
            out.append(
                f'<text x="{x + bw / 2:.1f}" y="{base - 3:.1f}" text-anchor="middle" font-size="9" '
                f'fill="{MUTED}">no data</text>'
            )
        out.append(
            f'<text x="{x + bw / 2:.1f}" y="{H - BOTTOM + 14}" text-anchor="middle" font-size="11" '
            f'fill="#1b1f23">{escape(lab)}</text>'
        )
    if lo < 0:
        out.append(
            f'<line x1="{LEFT}" y1="{base:.1f}" x2="{W - RIGHT}" y2="{base:.1f}" stroke="{MUTED}" stroke-width="1"/>'
        )
    if _ok(target) and lo <= target <= hi:
        y = _y(target, lo, hi)
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="{TARGET}" stroke-width="2" '
            f'stroke-dasharray="6 4"/>'
        )
        out.append(
            f'<text x="{W - RIGHT}" y="{y - 4:.1f}" text-anchor="end" font-size="10" fill="{TARGET}">'
            f"{escape(target_label)}</text>"
        )
    out.append("</svg>")
    extra = f'<p class="hint">{escape(note)}</p>' if note else ""
    return Markup(
        f'<figure class="chart-box"><h3>{escape(title)}</h3>{"".join(out)}{extra}'
        f"{_table(title, labels, {value_name: values}, fmt)}</figure>"
    )


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    fmt: str = "{:.0f}",
    y_unit: str = "",
    y_max: float | None = None,
    note: str = "",
) -> Markup:
    """One line per series (points where a day has a value; gaps are left open)."""
    days_with = [any(_ok(vals[i]) for vals in series.values()) for i in range(len(labels))]
    n = sum(days_with)
    if n < MIN_POINTS or not series:
        return not_enough(title, n, note)
    lo, hi, _ = _range([v for vals in series.values() for v in vals], (), y_max)
    pw = W - LEFT - RIGHT
    desc = f"{len(series)} series over {n} of {len(labels)} days"
    out = _frame(chart_id, title, desc, lo, hi, y_unit)
    step = pw / max(len(labels), 1)

    def xy(i, v):
        return LEFT + i * step + step / 2, _y(v, lo, hi)

    for k, (name, vals) in enumerate(series.items()):
        color = SERIES[k % len(SERIES)]
        seg: list[str] = []
        for i, v in enumerate([*vals, None]):
            if _ok(v):
                x, y = xy(i, v)
                seg.append(f"{x:.1f},{y:.1f}")
                out.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"><title>{escape(name)}, '
                    f"{escape(labels[i])}: {escape(_fmt(v, fmt))}</title></circle>"
                )
            else:
                if len(seg) > 1:
                    out.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{color}" stroke-width="2"/>')
                seg = []
        if k < 3:  # the legend has room for three; the table lists every series
            out.append(f'<rect x="{LEFT + 4 + 90 * k}" y="{H - 13}" width="10" height="10" fill="{color}"/>')
            out.append(
                f'<text x="{LEFT + 18 + 90 * k}" y="{H - 4}" font-size="10" fill="#1b1f23">{escape(name[:14])}</text>'
            )
    for i, lab in enumerate(labels):
        x = LEFT + i * step + step / 2
        out.append(
            f'<text x="{x:.1f}" y="{H - BOTTOM + 14}" text-anchor="middle" font-size="11" '
            f'fill="#1b1f23">{escape(lab)}</text>'
        )
    out.append("</svg>")
    more = ""
    if len(series) > 3:
        more = f'<p class="hint">{len(series) - 3} more in the table below.</p>'
    extra = f'<p class="hint">{escape(note)}</p>' if note else ""
    return Markup(
        f'<figure class="chart-box"><h3>{escape(title)}</h3>{"".join(out)}{more}{extra}'
        f"{_table(title, labels, series, fmt)}</figure>"
    )
