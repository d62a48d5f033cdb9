"""A cohort report with many groups stays readable (issue 13 case 9): the GMHI validation cohort's
21 phenotypes get 21 colours, the legend sits beside the plot, group labels do not overlap, the
summary cards show the largest groups, and ``--groups`` keeps only the groups asked for."""

from __future__ import annotations

import itertools
import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from gutaxis.cli import app

COLUMN = "Phenotype_all1"


@pytest.fixture(scope="module")
def gmhi_files(shared):
    d = shared("data", "gmhi2020_validation")
    return d / "validation_abundance.csv", d / "validation_metadata.csv"


@pytest.fixture(scope="module")
def counts(gmhi_files):
    meta = pd.read_csv(gmhi_files[1], index_col=0, encoding="utf-8-sig")
    return meta[COLUMN].value_counts()


@pytest.fixture(scope="module")
def report(gmhi_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("gmhi") / "report"
    res = CliRunner().invoke(
        app, ["report", str(gmhi_files[0]), "-m", str(gmhi_files[1]), "-g", COLUMN, "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    return out


def _figure_svg(html: str, starts: str) -> str:
    for m in re.finditer(r"<svg\b.*?</svg>", html, flags=re.DOTALL):
        if re.search(r"aria-label=\"" + re.escape(starts), m.group(0)[:400]):
            return m.group(0)
    raise AssertionError(f"no figure whose alt text starts with {starts!r}")


def test_ordination_svg_has_one_colour_per_group(report, counts):
    assert len(counts) == 21
    svg = _figure_svg((report / "report.html").read_text(encoding="utf-8"), "PCoA scatter plot")
    # every scatter marker (points and legend keys) is a <use> of a marker path with its fill
    fills = {f.lower() for f in re.findall(r"<use\b[^>]*style=\"fill: (#[0-9a-fA-F]{6})", svg)}
    assert len(fills) == 21
    legend_entries = re.findall(r">([^<>]+) \(n=(\d+)\)<", svg)
    assert len(legend_entries) == 21
    assert {(g, int(n)) for g, n in legend_entries} == {(g, int(n)) for g, n in counts.items()}


def test_summary_cards_name_the_largest_groups(report, counts):
    summary = json.loads((report / "summary.json").read_text())
    largest = list(counts.sort_values(ascending=False, kind="stable").index[:4])
    assert largest == ["LC", "AS (N-5)", "NAFLD (N-4)", "CRC (N-7: Italy)"]
    for metric in ("GMHI", "Shannon"):
        named = [
            c["label"].split(" — ", 1)[1] for c in summary["cards"] if c["label"].startswith(f"Median {metric} — ")
        ]
        assert named == largest
    subs = [c["sub"] for c in summary["cards"] if c["label"].startswith("Median GMHI")]
    assert subs[0] == "n=164 · largest of 21 groups"
    assert any("the cards show the 4 groups with the most samples" in n for n in summary["notes"])


def _groups_and_order(gmhi_files):
    import gutaxis
    from gutaxis.report._profile_input import resolve_group as _resolve_group

    adata = gutaxis.read_profile(gmhi_files[0])
    meta = pd.read_csv(gmhi_files[1], index_col=0, encoding="utf-8-sig")
    adata.obs = adata.obs.join(meta)
    _, labels, order, _ = _resolve_group(adata, COLUMN)
    return adata, labels, order


def test_legend_outside_and_group_labels_do_not_overlap(report, gmhi_files):
    from gutaxis.report import figures as F

    _, labels, order = _groups_and_order(gmhi_files)
    coords = pd.read_csv(report / "pcoa.tsv", sep="\t", index_col=0)
    fig = F.draw_ordination(coords, labels.reindex(coords.index), [0.1, 0.05], order)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legend, frame = ax.get_legend().get_window_extent(r), ax.get_window_extent(r)
    assert legend.x0 >= frame.x1 and legend.x1 <= fig.bbox.x1 + 1  # beside the axes, inside the figure

    indices = pd.read_csv(report / "indices.tsv", sep="\t", index_col=0)[["GMHI", "shannon", "richness"]]
    fig = F.draw_index_distributions(indices, labels.reindex(indices.index), {}, order)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 3
    for ax in shown:
        ticks = [t for t in ax.get_xticklabels() if t.get_text()]
        assert len(ticks) == 21
        assert all(len(t.get_text()) <= 22 for t in ticks)
        boxes = [t.get_window_extent(r) for t in ticks]
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b), "tick labels overlap"
    long = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text().endswith("…")]
    assert long == ["Colorectal Adenoma (N…"]  # the one label over 22 characters, shortened


def test_groups_option_keeps_exactly_the_asked_groups(gmhi_files, counts, tmp_path):
    out = tmp_path / "two"
    res = CliRunner().invoke(
        app,
        [
            "report",
            str(gmhi_files[0]),
            "-m",
            str(gmhi_files[1]),
            "-g",
            COLUMN,
            "--groups",
            "LC, RA",
            "--groups",
            "CRC (N-7: Italy)",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["groups"]["counts"] == {g: int(counts[g]) for g in ("CRC (N-7: Italy)", "LC", "RA")}
    assert len(summary["samples"]) == 164 + 49 + 61
    assert summary["provenance"]["parameters"]["groups_kept"] == ["LC", "RA", "CRC (N-7: Italy)"]
    assert any("Only the groups" in n for n in summary["notes"])
    pcoa = pd.read_csv(out / "pcoa.tsv", sep="\t", index_col=0)
    assert len(pcoa) == 274


def test_groups_option_names_unknown_groups(gmhi_files, tmp_path):
    res = CliRunner().invoke(
        app,
        [
            "report",
            str(gmhi_files[0]),
            "-m",
            str(gmhi_files[1]),
            "-g",
            COLUMN,
            "--groups",
            "LC,rheumatoid arthritis",
            "-o",
            str(tmp_path / "x"),
        ],
    )
    assert res.exit_code == 2
    assert "'rheumatoid arthritis' not in column 'Phenotype_all1'" in res.output and "'RA'" in res.output
    assert not (tmp_path / "x").exists()


def test_parse_groups_keeps_escaped_commas():
    from gutaxis.report._groups import parse_groups

    assert parse_groups(["a, b", "c\\,d", "a"]) == ["a", "b", "c,d"]
