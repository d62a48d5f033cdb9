"""A small flowing page layout for PDFs drawn natively with matplotlib (``PdfPages``; fonts embedded).

No browser, system library or extra Python package is needed: pages are matplotlib figures on which
:class:`_Pdf` places headings, wrapped paragraphs, tables with wrapped cells and figures.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..lifestyle.plan import DISCLAIMER
from .plan_figures import _GRID, _INK, _MUTED, _new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class _Pdf:
    """A small flowing layout on A4 pages drawn with matplotlib: headings, wrapped paragraphs,
    tables with wrapped cells, figures; page numbers at the end."""

    W, H = 8.27, 11.69  # inches (A4)
    ML, MR, MT, MB = 0.6, 0.6, 0.65, 0.7

    def __init__(self, title: str, footer: str, banner: str | None = None):
        self.title, self.footer, self.banner = title, footer, banner
        self.pages: list[Figure] = []
        self.fig: Figure  # the current page, set by new_page()
        self.y = 0.0
        self.new_page()

    # geometry helpers (inches from the top of the page)
    @property
    def width(self) -> float:
        return self.W - self.ML - self.MR

    def _fy(self, y_in: float) -> float:
        return 1.0 - y_in / self.H

    def _fx(self, x_in: float) -> float:
        return x_in / self.W

    def new_page(self) -> None:
        fig: Figure = _new_figure((self.W, self.H))
        self.pages.append(fig)
        self.fig = fig
        self.y = self.MT
        # running header
        fig.text(self._fx(self.ML), self._fy(0.38), self.title, fontsize=8, color=_MUTED)
        if self.banner:
            fig.text(
                self._fx(self.W - self.MR),
                self._fy(0.38),
                self.banner,
                fontsize=8,
                color="#7a1f5c",
                ha="right",
                fontweight="bold",
            )
        fig.add_artist(_line(self, 0.45))

    def ensure(self, h: float) -> None:
        if self.y + h > self.H - self.MB:
            self.new_page()

    @staticmethod
    def _chars(width_in: float, size: float, bold: bool = False) -> int:
        # DejaVu Sans: average glyph advance about 0.55 em (bold about 0.62 em)
        return max(8, int(width_in * 72.0 / ((0.62 if bold else 0.56) * size)))

    def wrap(self, text: str, width_in: float, size: float, bold: bool = False) -> list[str]:
        out = []
        for para in str(text).split("\n"):
            out.extend(
                textwrap.wrap(para, self._chars(width_in, size, bold), break_long_words=True, break_on_hyphens=False)
                or [""]
            )
        return out

    def heading(self, text: str, size: float = 13, color: str = _INK, space: float = 0.18) -> None:
        self.ensure(space + size / 72 * 1.6 + 0.5)
        self.y += space
        self.fig.text(
            self._fx(self.ML),
            self._fy(self.y + size / 72),
            text,
            fontsize=size,
            fontweight="bold",
            color=color,
            parse_math=False,
        )
        self.y += size / 72 * 1.45
        self.fig.add_artist(_line(self, self.y, color=_GRID, lw=1.0))
        self.y += 0.08

    def para(
        self,
        text: str,
        size: float = 9,
        color: str = _INK,
        bold: bool = False,
        indent: float = 0.0,
        box: str | None = None,
        edge: str | None = None,
        space_after: float = 0.08,
    ) -> None:
        width = self.width - indent - (0.25 if box else 0)
        lines = self.wrap(text, width, size, bold)
        lh = size / 72 * 1.32
        h = len(lines) * lh + (0.16 if box else 0)
        if h > self.H - self.MT - self.MB:  # longer than a page: split
            half = len(lines) // 2
            self.para(" ".join(lines[:half]), size, color, bold, indent, box, edge, space_after)
            self.para(" ".join(lines[half:]), size, color, bold, indent, box, edge, space_after)
            return
        self.ensure(h)
        x0 = self.ML + indent
        if box:
            from matplotlib.patches import Rectangle

            self.fig.add_artist(
                Rectangle(
                    (self._fx(x0), self._fy(self.y + h)),
                    (self.width - indent) / self.W,
                    h / self.H,
                    transform=self.fig.transFigure,
                    facecolor=box,
                    edgecolor="none",
                )
            )
            if edge:
                self.fig.add_artist(
                    Rectangle(
                        (self._fx(x0), self._fy(self.y + h)),
                        0.06 / self.W,
                        h / self.H,
                        transform=self.fig.transFigure,
                        facecolor=edge,
                        edgecolor="none",
                    )
                )
            x0 += 0.14
            self.y += 0.08
        for ln in lines:
            self.fig.text(
                self._fx(x0),
                self._fy(self.y + lh * 0.8),
                ln,
                fontsize=size,
                color=color,
                fontweight="bold" if bold else "normal",
                parse_math=False,
            )
            self.y += lh
        if box:
            self.y += 0.08
        self.y += space_after

    def table(
        self,
        header: list[str],
        rows: list[list[str]],
        widths: list[float],
        *,
        size: float = 7.8,
        align: list[str] | None = None,
        colors: list[list[str | None]] | None = None,
    ) -> None:
        from matplotlib.patches import Rectangle

        align = align or ["left"] * len(header)
        total = sum(widths)
        cols_in = [w / total * self.width for w in widths]
        lh = size / 72 * 1.3
        pad = 0.05

        def draw_row(cells, bold=False, fill=None, cell_colors=None):
            wrapped = [self.wrap(c, cw - 2 * pad, size, bold) for c, cw in zip(cells, cols_in, strict=True)]
            h = max(len(w) for w in wrapped) * lh + 2 * pad
            if self.y + h > self.H - self.MB:
                self.new_page()
                if not bold:
                    draw_row(header, bold=True, fill="#eef2f6")
            if fill:
                self.fig.add_artist(
                    Rectangle(
                        (self._fx(self.ML), self._fy(self.y + h)),
                        self.width / self.W,
                        h / self.H,
                        transform=self.fig.transFigure,
                        facecolor=fill,
                        edgecolor="none",
                    )
                )
            x = self.ML
            for k, (lines, cw) in enumerate(zip(wrapped, cols_in, strict=True)):
                col = cell_colors[k] if cell_colors and cell_colors[k] else _INK
                for j, ln in enumerate(lines):
                    xx = x + pad if align[k] == "left" else x + cw - pad
                    self.fig.text(
                        self._fx(xx),
                        self._fy(self.y + pad + lh * (j + 0.8)),
                        ln,
                        fontsize=size,
                        color=col,
                        ha="left" if align[k] == "left" else "right",
                        fontweight="bold" if bold else "normal",
                        parse_math=False,
                    )
                x += cw
            self.y += h
            self.fig.add_artist(_line(self, self.y, color=_GRID, lw=0.5))

        self.ensure(lh * 3)
        draw_row(header, bold=True, fill="#eef2f6")
        for i, r in enumerate(rows):
            draw_row(r, fill="#fafbfc" if i % 2 else None, cell_colors=colors[i] if colors else None)
        self.y += 0.12

    def figure(self, draw: Callable, height: float) -> None:
        self.ensure(height)
        rect = (self._fx(self.ML), self._fy(self.y + height), self.width / self.W, height / self.H)
        draw(self.fig, rect)
        self.y += height + 0.05

    def save(self, path: Path) -> None:
        from matplotlib.backends.backend_pdf import PdfPages

        n = len(self.pages)
        with PdfPages(
            path,
            metadata={
                "Title": self.title,
                "Author": "gutaxis",
                "Subject": DISCLAIMER,
                "Creator": "gutaxis (matplotlib PdfPages)",
                "CreationDate": None,
            },
        ) as pdf:
            for i, fig in enumerate(self.pages, start=1):
                fig.add_artist(_line(self, self.H - self.MB + 0.2, color=_GRID, lw=0.6))
                fig.text(self._fx(self.ML), self._fy(self.H - self.MB + 0.38), self.footer, fontsize=7, color=_MUTED)
                fig.text(
                    self._fx(self.W - self.MR),
                    self._fy(self.H - self.MB + 0.38),
                    f"page {i} of {n}",
                    fontsize=7,
                    color=_MUTED,
                    ha="right",
                )
                pdf.savefig(fig)


def _line(pdf: _Pdf, y_in: float, color: str = _GRID, lw: float = 0.8):
    from matplotlib.lines import Line2D

    return Line2D([pdf._fx(pdf.ML), pdf._fx(pdf.W - pdf.MR)], [pdf._fy(y_in)] * 2, color=color, linewidth=lw)
