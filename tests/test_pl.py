"""``gutaxis.pl``: PCoA coloured by a column, volcano and heatmap of association results, and the
palette they share (issue 13 case 12: there was no plotting namespace)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import gutaxis
from gutaxis.errors import InputError


@pytest.fixture(scope="module")
def gmhi(shared):
    d = shared("data", "gmhi2020_validation")
    adata = gutaxis.read_profile(d / "validation_abundance.csv")
    meta = pd.read_csv(d / "validation_metadata.csv", index_col=0, encoding="utf-8-sig")
    return adata, meta


@pytest.fixture(scope="module")
def hmp2_result(shared):
    data = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gutaxis.associate(
            data,
            meta,
            fixed_effects=["diagnosis", "dysbiosis", "antibiotics", "age"],
            random_effects=["site", "subject"],
            reference="diagnosis,nonIBD",
            standardize=False,
        )


def _extent(artist):
    fig = artist.figure
    fig.canvas.draw()
    return artist.get_window_extent(fig.canvas.get_renderer())


def test_pl_is_reachable_from_a_plain_import():
    code = "import gutaxis; print(gutaxis.pl.pcoa.__module__, gutaxis.pl.volcano.__name__, gutaxis.pl.heatmap.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["gutaxis.pl.pcoa", "volcano", "heatmap"]


@pytest.mark.parametrize("n", [1, 8, 9, 21, 68, 69, 150])
def test_palette_never_repeats(n):
    from matplotlib.colors import to_hex

    cols = gutaxis.pl.palette(n)
    assert len(cols) == n
    assert len({to_hex(c) for c in cols}) == n  # every colour distinct, beyond the 68 named ones too
    if n <= 8:  # Okabe-Ito first
        assert [c.lower() for c in cols] == [
            c.lower()
            for c in ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")[:n]
        ]


def test_truncate_and_short_taxon():
    assert gutaxis.pl.truncate("Colorectal adenoma (N-7)", 12) == "Colorectal…"
    assert len(gutaxis.pl.truncate("x" * 40, 10)) == 10 and gutaxis.pl.truncate("short", 10) == "short"
    lineage = (
        "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|g__Faecalibacterium|"
        "s__Faecalibacterium_prausnitzii"
    )
    assert gutaxis.pl.short_taxon(lineage) == "Faecalibacterium prausnitzii"
    assert gutaxis.pl.short_taxon(lineage.replace("|", ".")) == "Faecalibacterium prausnitzii"  # R make.names
    assert gutaxis.pl.short_taxon("k__Bacteria;p__Firmicutes;g__Roseburia;s__") == "Roseburia"
    assert gutaxis.pl.short_taxa(["k__B|f__A|g__X", "k__B|f__C|g__X"]) == ["X (A)", "X (C)"]


def test_pcoa_21_groups_distinct_colours_legend_outside(gmhi):
    adata, meta = gmhi
    ax = gutaxis.pl.pcoa(adata, color="Phenotype_all1", metadata=meta, metric="braycurtis")
    groups = meta["Phenotype_all1"].nunique()
    assert groups == 21
    colours = {tuple(np.round(c.get_facecolor()[0][:3], 4)) for c in ax.collections if len(c.get_offsets())}
    assert len(colours) == 21
    n_points = sum(len(c.get_offsets()) for c in ax.collections)
    assert n_points == adata.n_obs
    legend = ax.get_legend()
    assert legend is not None and len(legend.get_texts()) == 21
    lb, axb, fb = _extent(legend), _extent(ax), ax.figure.bbox
    assert lb.x0 >= axb.x1  # beside the axes, not over the points
    assert lb.x1 <= fb.x1 + 1 and lb.y0 >= fb.y0 - 1 and lb.y1 <= fb.y1 + 1  # and inside the figure
    # the legend counts are the metadata's own counts
    texts = [t.get_text() for t in legend.get_texts()]
    assert "LC (n=164)" in texts and "UW (N-8) (n=1)" in texts


def test_pcoa_of_coordinates_into_a_given_axes(gmhi):
    from matplotlib.figure import Figure

    adata, meta = gmhi
    coords = gutaxis.pcoa(adata[:60], metric="braycurtis", n_components=3)
    fig = Figure()
    ax = fig.subplots()
    out = gutaxis.pl.pcoa(coords, color="Phenotype", metadata=meta, components=(1, 3), ax=ax)
    assert out is ax and ax.get_xlabel().startswith("PCoA 1") and ax.get_ylabel().startswith("PCoA 3")
    drawn = np.vstack([c.get_offsets() for c in ax.collections])
    assert np.allclose(np.sort(drawn[:, 0]), np.sort(coords["PC1"].to_numpy()))
    assert np.allclose(np.sort(drawn[:, 1]), np.sort(coords["PC3"].to_numpy()))


def test_pcoa_errors_name_the_column_and_the_fix(gmhi):
    adata, meta = gmhi
    with pytest.raises(InputError, match="'Diagnosis' is not in the sample metadata") as e:
        gutaxis.pl.pcoa(adata, color="Diagnosis", metadata=meta, metric="braycurtis")
    assert "Phenotype_all1" in str(e.value)
    with pytest.raises(InputError, match="metric="):
        gutaxis.pl.pcoa(adata, color="Phenotype")


def test_volcano_plots_the_first_fixed_effect_and_labels_do_not_overlap(hmp2_result):
    r = hmp2_result.results
    ax = gutaxis.pl.volcano(hmp2_result)
    assert ax.get_xlabel().startswith("coefficient (diagnosis")
    part = r[(r["metadata"] == "diagnosis") & r["coef"].notna()]
    n_sig = int((part["qval"] <= 0.25).sum())
    assert n_sig > 12
    assert f"{n_sig} of {len(part)}" in ax.get_title(loc="left")
    pts = ax.collections[0]
    assert len(pts.get_offsets()) == len(part)
    grey = np.all(np.isclose(pts.get_facecolors()[:, :3], [0xAA / 255, 0xB4 / 255, 0xBE / 255], atol=1e-3), axis=1)
    assert int((~grey).sum()) == n_sig
    labels = [t for t in ax.texts]
    assert 0 < len(labels) <= 12 and len(labels) + len(ax.gutaxis_unlabelled) == 12
    boxes = [_extent(t) for t in labels]
    frame = _extent(ax)
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 for b in boxes)
    assert not any("." in t.get_text().split(" (")[0] for t in labels)  # short names, not R's make.names IDs


def test_volcano_other_variable_and_errors(hmp2_result):
    ax = gutaxis.pl.volcano(hmp2_result, variable="antibiotics", q=0.05)
    assert "antibiotics" in ax.get_title(loc="left") and "q ≤ 0.05" in ax.get_title(loc="left")
    with pytest.raises(InputError, match="'sex' is not in the results") as e:
        gutaxis.pl.volcano(hmp2_result, variable="sex")
    assert "diagnosis" in str(e.value)
    with pytest.raises(InputError, match="not a level"):
        gutaxis.pl.volcano(hmp2_result, variable="diagnosis", value="IBS")


def test_heatmap_rows_are_the_significant_features_centred_at_zero(hmp2_result):
    r = hmp2_result.results
    ax = gutaxis.pl.heatmap(hmp2_result, max_features=30)
    sig = r[r["qval"] <= 0.25]
    best = sig.groupby("taxon")["qval"].min().sort_values(kind="stable")
    assert set(ax.gutaxis_rows) == set(best.index[:30])
    mesh = ax.collections[0]
    lo, hi = mesh.get_clim()
    assert lo == pytest.approx(-hi) and hi == pytest.approx(np.nanmax(np.abs(mesh.get_array())))
    assert mesh.get_cmap().name == "RdBu_r"
    cols = [t.get_text() for t in ax.get_xticklabels()]
    assert sorted(cols) == sorted(["diagnosis: CD", "diagnosis: UC", "dysbiosis", "antibiotics: Yes", "age"])
    # a plain table is drawn as it is
    table = pd.DataFrame({"a": [1.0, -2.0, 0.5], "b": [0.0, 1.0, -1.0]}, index=["x", "y", "z"])
    ax2 = gutaxis.pl.heatmap(table, cluster=False)
    assert [t.get_text() for t in ax2.get_yticklabels()] == ["x", "y", "z"] and ax2.collections[0].get_clim() == (-2, 2)
    with pytest.raises(InputError, match="no feature has a significant association"):
        gutaxis.pl.heatmap(hmp2_result, q=1e-300)
