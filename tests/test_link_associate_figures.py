"""The associate report and its figure files (issue 13 case 10): short taxon names instead of
lineages, the variable of interest plotted (not mostly a covariate), and ``figures/`` laid out as
MaAsLin 2 writes it (``heatmap.pdf``, one PDF per plotted variable, a page per significant
association), checked against MaAsLin 2's own significant results of its HMP2 test run."""

from __future__ import annotations

import re
import warnings

import pandas as pd
import pytest
from typer.testing import CliRunner

from gutaxis.cli import app
from gutaxis.errors import InputError
from gutaxis.link import associate
from gutaxis.link._associate_figures import figure_file_name, write_figures

#: MaAsLin 2's test run 1 (tests/testthat/test_Maaslin2.R) whose significant results ship as
#: expected_results_run1.tsv
RUN1 = {
    "transform": "AST",
    "random_effects": ["site", "subject"],
    "reference": "diagnosis,nonIBD",
    "standardize": False,
    "fixed_effects": ["diagnosis", "dysbiosisnonIBD", "dysbiosisUC", "dysbiosisCD", "antibiotics", "age"],
}


@pytest.fixture(scope="module")
def hmp2(shared):
    data = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    return data, meta


@pytest.fixture(scope="module")
def expected(shared):
    return pd.read_csv(shared("data", "maaslin2_hmp2", "expected_results_run1.tsv"), sep="\t")


@pytest.fixture(scope="module")
def run1(hmp2):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return associate(*hmp2, **RUN1)


def _pages(pdf) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf.read_bytes()))


def _plots_tsv(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[0], pd.read_csv(path, sep="\t", comment="#")


def test_figures_folder_as_maaslin2_writes_it(run1, expected, tmp_path):
    paths = run1.write(tmp_path / "out")
    figs = tmp_path / "out" / "figures"
    assert paths["figures"] == figs
    # MaAsLin 2 writes heatmap.pdf and <variable>.pdf; the variable of interest is the first fixed effect
    assert sorted(p.name for p in figs.iterdir()) == ["diagnosis.pdf", "heatmap.pdf", "plots.tsv"]
    assert figs.joinpath("heatmap.pdf").read_bytes()[:5] == b"%PDF-" and _pages(figs / "heatmap.pdf") == 1
    maaslin = expected[expected["metadata"] == "diagnosis"]
    assert len(maaslin) == 27
    assert _pages(figs / "diagnosis.pdf") == len(maaslin)  # one page per significant association, as MaAsLin 2
    head, pages = _plots_tsv(figs / "plots.tsv")
    assert "variable plotted: diagnosis; 27 of its 27" in head
    assert pages["page"].tolist() == list(range(1, 28))
    # the same associations in MaAsLin 2's order (by q)
    assert list(zip(pages["feature"], pages["value"], strict=True)) == list(
        zip(maaslin["feature"], maaslin["value"], strict=True)
    )
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Plotted variable: <strong>diagnosis</strong> (the first fixed effect" in html
    assert "<code>diagnosis.pdf</code> holds 27 of the 27 significant associations of diagnosis" in html
    titles = re.findall(r"<svg role=\"img\" aria-label='([^']*)'", html)
    plot_titles = [t for t in titles if " ~ " in t]
    assert len(plot_titles) == 12  # the report's own cap
    assert all(" ~ diagnosis " in t for t in plot_titles)  # the variable of interest, not a covariate


def test_plot_variable_choice_and_cap(run1, expected, tmp_path):
    drawn = write_figures(run1, tmp_path / "f", variable="dysbiosisCD", max_plots=10)
    maaslin = expected[expected["metadata"] == "dysbiosisCD"]
    assert len(maaslin) == 57
    assert drawn["files"] == ["heatmap.pdf", "dysbiosisCD.pdf", "plots.tsv"]
    assert drawn["n_plotted"] == 10 and drawn["n_significant"] == 57
    assert _pages(tmp_path / "f" / "dysbiosisCD.pdf") == 10
    head, pages = _plots_tsv(tmp_path / "f" / "plots.tsv")
    assert "10 of its 57 significant associations (capped at 10, smallest q first)" in head
    assert pages["feature"].tolist() == maaslin["feature"].head(10).tolist()
    with pytest.raises(InputError, match="plot variable 'sex' is not a modelled variable") as e:
        write_figures(run1, tmp_path / "g", variable="sex")
    assert "dysbiosisCD" in str(e.value)


def test_maaslin2_file_names():
    # MaAsLin 2: gsub("[^[:alnum:]_]", "_", metadata) + ".pdf"
    assert figure_file_name("Group (1=HC,2=RA)") == "Group__1_HC_2_RA_.pdf"
    assert figure_file_name("age_years") == "age_years.pdf"


def test_report_shows_short_names_not_lineages(hmp2, tmp_path):
    data, meta = hmp2
    keep = meta[meta["subject"].isin(sorted(meta["subject"].unique())[:40])]
    data = data.loc[keep.index, list(data.columns[:30])]
    lineage = {
        c: f"k__Bacteria|p__Phylum|c__Class|o__Order|f__Family|g__{c.split(' ')[0]}|s__{c.replace(' ', '_')}"
        for c in data.columns
    }
    dpath, mpath = tmp_path / "features.tsv", tmp_path / "metadata.tsv"
    data.rename(columns=lineage).to_csv(dpath, sep="\t", index_label="ID")
    keep.to_csv(mpath, sep="\t", index_label="ID")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "associate",
            str(dpath),
            "-m",
            str(mpath),
            "-o",
            str(out),
            "--fixed",
            "diagnosis,antibiotics,age",
            "--random",
            "subject",
            "--reference",
            "diagnosis,nonIBD",
            "--plot-variable",
            "antibiotics",
        ],
    )
    assert res.exit_code == 0, res.output
    allr = pd.read_csv(out / "all_results.tsv", sep="\t")
    assert allr["taxon"].str.startswith("k__Bacteria|").all()  # the results keep the IDs as given
    html = (out / "report.html").read_text(encoding="utf-8")
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)
    assert svgs and not any("k__Bacteria" in s or "s__" in s for s in svgs)
    sig = pd.read_csv(out / "significant_results.tsv", sep="\t")
    top = sig[sig["metadata"] == "antibiotics"].iloc[0]
    short = top["taxon"].rsplit("|s__", 1)[1].replace("_", " ")
    assert f"{short} ~ antibiotics Yes" in html  # the plot title: species name, the chosen variable
    table = html[html.index('id="sig-table"') :]
    assert "k__Bacteria" not in table[: table.index("</table>")]
    assert "Plotted variable: <strong>antibiotics</strong>." in html
    head, pages = _plots_tsv(out / "figures" / "plots.tsv")
    assert set(pages["metadata"]) == {"antibiotics"} and "variable plotted: antibiotics" in head
