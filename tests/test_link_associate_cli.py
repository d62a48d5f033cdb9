"""The ``gutaxis associate`` command and its HTML report."""

from __future__ import annotations

import numpy as np
import pandas as pd
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
    dpath, mpath, data, meta = _small(shared, tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["associate", str(dpath), str(mpath), "-o", str(out), "--fixed",
                                   "diagnosis,dysbiosis,antibiotics,age", "--random", "subject",
                                   "--reference", "diagnosis,nonIBD", "--no-standardize"])
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
    assert "<script" not in html


def test_associate_command_reports_bad_input_in_one_line(shared, tmp_path):
    dpath, mpath, data, meta = _small(shared, tmp_path)
    res = CliRunner().invoke(app, ["associate", str(dpath), str(mpath), "-o", str(tmp_path / "o"), "--fixed",
                                   "diagnosis,age"])
    assert res.exit_code == 2
    assert "no reference level" in res.output and "--reference diagnosis,<level>" in res.output


def test_associate_command_reml_optimizer(shared, tmp_path):
    import json

    dpath, mpath, data, meta = _small(shared, tmp_path, n_subjects=200)  # every site
    base = ["associate", str(dpath), str(mpath), "--fixed", "diagnosis,dysbiosis,antibiotics,age", "--random",
            "site,subject", "--reference", "diagnosis,nonIBD", "--no-standardize"]
    runs = {}
    for opt in ("lme4", "exact"):
        out = tmp_path / opt
        res = CliRunner().invoke(app, base + ["-o", str(out), "--reml-optimizer", opt])
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
    res = CliRunner().invoke(app, base + ["-o", str(tmp_path / "bad"), "--reml-optimizer", "bobyqa"])
    assert res.exit_code == 2 and "reml_optimizer" in res.output
