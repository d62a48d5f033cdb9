"""The ``gutaxis associate`` command and its HTML report."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from gutaxis.cli import app


def _small(shared, tmp_path, n_subjects=30):
    data = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_taxonomy.tsv"), sep="\t", index_col=0)
    meta = pd.read_csv(shared("data", "maaslin2_hmp2", "HMP2_metadata.tsv"), sep="\t", index_col=0)
    keep_subj = sorted(meta["subject"].unique())[:n_subjects]
    meta = meta[meta["subject"].isin(keep_subj)]
    data = data.loc[data.index.isin(meta.index), list(data.columns[:25])]
    dpath, mpath = tmp_path / "features.tsv", tmp_path / "metadata.tsv"
    data.T.to_csv(dpath, sep="\t", index_label="feature")  # features as rows: the command turns it round
    meta.to_csv(mpath, sep="\t", index_label="ID")
    return dpath, mpath, data, meta


def test_associate_command_writes_results_and_report(shared, tmp_path):
    dpath, mpath, _data, _meta = _small(shared, tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "associate",
            str(dpath),
            str(mpath),
            "-o",
            str(out),
            "--fixed",
            "diagnosis,dysbiosis,antibiotics,age",
            "--random",
            "subject",
            "--reference",
            "diagnosis,nonIBD",
            "--no-standardize",
        ],
    )
    assert res.exit_code == 0, res.output
    allr = pd.read_csv(out / "all_results.tsv", sep="\t")
    sig = pd.read_csv(out / "significant_results.tsv", sep="\t")
    assert list(allr.columns[:9]) == ["feature", "metadata", "value", "coef", "stderr", "N", "N.not.0", "pval", "qval"]
    assert allr["feature"].nunique() == 25  # every feature has a row (modelled or with its reason)
    assert (sig["qval"] <= 0.25).all() and len(sig) == int((allr["qval"] <= 0.25).sum())
    q = allr["qval"].dropna().to_numpy()
    assert np.all(np.diff(q) >= 0)
    html = (out / "report.html").read_text()
    assert "<svg" in html and "heatmap" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    # self-contained, as the other reports: inline script and style only, nothing loaded from elsewhere
    assert "<script>" in html and "<style>" in html and "Content-Security-Policy" in html
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", html, flags=re.I)
    assert not re.search(r"<link\b|@import|url\(\s*[\"']?(?:https?:)?//", html, flags=re.I)
    assert not re.search(
        r"<(?:img|iframe|image|use)\b[^>]*\b(?:xlink:)?(?:src|href)\s*=\s*[\"']?https?:", html, flags=re.I
    )
    svgs = re.findall(r"<svg\b[^>]*>", html)
    assert len(svgs) >= 2 and all('role="img"' in s and "aria-label=" in s for s in svgs)
    assert 'class="sortable"' in html and 'id="sig-table"' in html
    for col in ("error", "warning"):  # the table shows the error and warning columns
        assert f'<th scope="col">{col}</th>' in html
    assert "gutaxis_version" in html and "max_significance" in html  # params.json as provenance


def test_associate_command_reports_bad_input_in_one_line(shared, tmp_path):
    dpath, mpath, _data, _meta = _small(shared, tmp_path)
    res = CliRunner().invoke(
        app, ["associate", str(dpath), str(mpath), "-o", str(tmp_path / "o"), "--fixed", "diagnosis,age"]
    )
    assert res.exit_code == 2
    assert "no reference level" in res.output and "--reference diagnosis,<level>" in res.output


def test_associate_command_reml_optimizer(shared, tmp_path):
    import json

    dpath, mpath, _data, _meta = _small(shared, tmp_path, n_subjects=200)  # every site
    base = [
        "associate",
        str(dpath),
        str(mpath),
        "--fixed",
        "diagnosis,dysbiosis,antibiotics,age",
        "--random",
        "site,subject",
        "--reference",
        "diagnosis,nonIBD",
        "--no-standardize",
    ]
    runs = {}
    for opt in ("lme4", "exact"):
        out = tmp_path / opt
        res = CliRunner().invoke(app, [*base, "-o", str(out), "--reml-optimizer", opt])
        assert res.exit_code == 0, res.output
        assert json.loads((out / "params.json").read_text())["params"]["reml_optimizer"] == opt
        runs[opt] = pd.read_csv(out / "all_results.tsv", sep="\t").dropna(subset=["coef"])
    m = runs["lme4"].merge(runs["exact"], on=["feature", "metadata", "value"])
    assert len(m) == len(runs["lme4"])
    # the two optimisers land on the same REML surface: most coefficients agree; where lme4's way
    # stops well short of the optimum (here Bifidobacterium bifidum, 0.46 SE on age, as lme4 in R
    # does), the row says so
    far = np.abs(m.coef_x - m.coef_y) > 0.05 * m.stderr_x
    assert (np.abs(m.coef_x - m.coef_y) < 1e-4 * np.abs(m.coef_x) + 1e-8).mean() > 0.8
    assert far.any() and m.loc[far, "warning_x"].str.contains("stops short of the REML optimum").all()
    res = CliRunner().invoke(app, [*base, "-o", str(tmp_path / "bad"), "--reml-optimizer", "bobyqa"])
    assert res.exit_code == 2 and "reml_optimizer" in res.output


# --------------------------------------------------------------------------- headless Chromium
#: appended to a copy of the report: records the page's horizontal overflow on <html> for --dump-dom
_PROBE = """<script>
window.addEventListener("load", function () {
  var d = document.documentElement, bad = [];
  Array.prototype.forEach.call(document.querySelectorAll(".table-wrap, figure, main, header, nav, footer, section"),
    function (el) {
      if (el.scrollWidth > el.clientWidth + 1) {
        bad.push((el.id || el.className || el.tagName.toLowerCase()) + ":" + el.scrollWidth + ">" + el.clientWidth);
      }
    });
  d.setAttribute("data-probe-width", String(d.clientWidth));
  d.setAttribute("data-probe-page", String(d.scrollWidth - d.clientWidth));
  d.setAttribute("data-probe-boxes", bad.join(" "));
});
</script>"""


def _attr(dom: str, name: str) -> str:
    m = re.search(rf'<html[^>]*\s{name}="([^"]*)"', dom)
    assert m, f"{name} not set: the probe did not run"
    return m.group(1)


@pytest.mark.browser
def test_associate_report_opens_in_headless_chromium(shared, tmp_path, run_browser):
    dpath, mpath, _data, _meta = _small(shared, tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "associate",
            str(dpath),
            str(mpath),
            "-o",
            str(out),
            "--formula",
            "~ diagnosis + antibiotics + age * dysbiosis + (1|subject)",
            "--reference",
            "diagnosis,nonIBD",
        ],
    )
    assert res.exit_code == 0, res.output
    page = out / "report.html"
    probed = page.with_name("probed-report.html")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE + "\n</body>"), encoding="utf-8")
    png = tmp_path / "associate-1280.png"
    proc = run_browser(
        tmp_path / "profile",
        "--window-size=1280,2400",
        "--virtual-time-budget=5000",
        f"--screenshot={png}",
        "--dump-dom",
        probed.as_uri(),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    assert not console, "console messages:\n" + "\n".join(console)
    assert 'id="js-error-marker"' not in dom
    assert re.search(r'<html[^>]*data-js="ok"', dom), "the report's script did not run to the end"
    assert 'class="sort"' in dom  # the shared sortable-table script set up the table
    for section in ("summary", "heatmap", "top", "table", "methods"):
        assert f'id="{section}"' in dom, section
    assert int(_attr(dom, "data-probe-width")) <= 1280
    assert int(_attr(dom, "data-probe-page")) <= 0, "the page scrolls sideways at 1280 px"
    boxes = _attr(dom, "data-probe-boxes").split()
    assert not boxes, f"content wider than its box at 1280 px: {boxes}"
    from PIL import Image

    with Image.open(png) as im:
        colors = im.convert("RGB").resize((128, 240)).getcolors(maxcolors=128 * 240)
        assert colors is not None and len(colors) > 150  # text, table and figures, not a blank page
    keep = os.environ.get("GUTAXIS_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)
