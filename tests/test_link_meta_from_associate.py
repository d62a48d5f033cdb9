"""Issue 13, case 4: ``gutaxis meta`` straight from ``associate`` outputs, ``--min-studies``,
``meta`` on an ``.h5ad``, provenance through concatenation, and the HTML report.

Real cohorts: MLRepo's Gevers 2014 (RISK, ileal biopsies, CD 78 / not IBD 62) and Sokol (stool,
CD 62 / healthy 19) 16S genus tables (../shared/data/mlrepo_ibd_gevers_sokol). Each study is run
through ``associate`` (``Var``: reference CD, so the coefficient is not-IBD vs CD in both; Sokol
names that level ``Healthy``, Gevers ``no``, hence ``--value-map Healthy=no``).

Before: ``meta`` read only an effects table (feature, study, effect, se), so associate output
needed hand-written glue; the features of one study only got a pooled p and q and entered the
BH correction; ``meta`` on an .h5ad died with UnicodeDecodeError; ``anndata.concat`` dropped
``uns["provenance"]``; there was no HTML report.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import warnings

import anndata
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from typer.testing import CliRunner

from gutaxis.cli import app
from gutaxis.errors import InputError
from gutaxis.io import concat, read_h5ad, read_profile, write_h5ad
from gutaxis.link.associate import AssociationResult, associate
from gutaxis.link.meta import meta_analysis

runner = CliRunner()
DATA = ("data", "mlrepo_ibd_gevers_sokol")
TASKS = {
    "Gevers": ("gevers_gg_taxatable.txt", "gevers_task-ileum.txt"),
    "Sokol": ("sokol_gg_taxatable.txt", "sokol_task-healthy-cd.txt"),
}


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ok(res):
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def runs(shared, tmp_path_factory):
    """Each study through ``associate`` (API, written as the CLI writes it): {name: output folder}."""
    root = tmp_path_factory.mktemp("assoc")
    out = {}
    for name, (table, task) in TASKS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = associate(shared(*DATA, table), shared(*DATA, task), fixed_effects=["Var"], match="intersection")
        res.write(root / name.lower(), report=False)
        out[name] = root / name.lower()
    return out


@pytest.fixture(scope="module")
def meta_out(runs, tmp_path_factory):
    """``gutaxis meta --study Gevers=... --study Sokol=.../all_results.tsv --value-map Healthy=no``."""
    out = tmp_path_factory.mktemp("meta") / "out"
    single = "k__Bacteria..p__Fusobacteria..c__Fusobacteriia..o__Fusobacteriales..f__Fusobacteriaceae..g__Fusobacterium"
    _ok(
        runner.invoke(
            app,
            [
                "meta",
                "--study",
                f"Gevers={runs['Gevers']}",
                "--study",
                f"Sokol={runs['Sokol'] / 'all_results.tsv'}",
                "--value-map",
                "Healthy=no",
                "--plots",
                "6",
                "--feature",
                single,
                "-o",
                str(out),
            ],
        )
    )
    return out


def _by_hand(runs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """coef and stderr per feature (rows) and study (columns), read with pandas alone."""
    coef, se = {}, {}
    for name, folder in runs.items():
        t = pd.read_csv(folder / "all_results.tsv", sep="\t").dropna(subset=["coef", "stderr"])
        assert set(t["metadata"]) == {"Var"}
        coef[name], se[name] = t.set_index("feature")["coef"], t.set_index("feature")["stderr"]
    return pd.DataFrame(coef), pd.DataFrame(se)


def test_case04_single_study_features_get_no_pooled_p_and_q_is_bh_over_the_rest(runs, meta_out):
    coef, _ = _by_hand(runs)
    k = coef.notna().sum(axis=1)
    multi, single = set(k.index[k >= 2]), set(k.index[k == 1])
    print(f"Gevers + Sokol: {len(k)} features, {len(single)} in one study only, {len(multi)} in both")
    assert len(single) > 40 and len(multi) > 40  # 53 and 47 with associate's defaults

    pooled = pd.read_csv(meta_out / "meta_analysis.tsv", sep="\t")
    few = pd.read_csv(meta_out / "single_study.tsv", sep="\t")
    assert set(pooled["feature"]) == multi and (pooled["k"] == 2).all()
    assert set(few["feature"]) == single and (few["k"] == 1).all()
    assert few["reason"].str.contains("1 study; pooling needs at least 2").all()
    # the one study's coefficient is listed beside the reason, not pooled
    one = few.set_index("feature")
    np.testing.assert_allclose(one["effect"], coef.loc[one.index].sum(axis=1, min_count=1), rtol=1e-9)
    # q: Benjamini-Hochberg over the pooled features only
    want = multipletests(pooled["p"].to_numpy(), method="fdr_bh")[1]
    np.testing.assert_allclose(pooled["q"].to_numpy(), want, rtol=1e-9)
    # ... which is not what it was when every feature entered the correction
    everyone = meta_analysis({n: f for n, f in runs.items()}, value_map={"Healthy": "no"}, min_studies=1)
    assert everyone.table["q"].notna().sum() == len(k)
    old_q = everyone.table.droplevel(["metadata", "value"]).loc[pooled["feature"], "q"].to_numpy()
    assert not np.allclose(old_q, pooled["q"].to_numpy())
    # the API: no estimate, p or q; listed in .single_study
    res = meta_analysis(runs, value_map={"Healthy": "no"})
    t = res.table.droplevel(["metadata", "value"])
    assert t.loc[sorted(single), ["estimate", "p", "q"]].isna().all().all()
    assert len(res.single_study) == len(single) and len(res.pooled) == len(multi)


def test_case04_pooled_effects_equal_metafor_rma_reml(runs, meta_out, tmp_path):
    coef, se = _by_hand(runs)
    both = coef.dropna()
    yi, sei = both.to_numpy(), se.loc[both.index].to_numpy()
    pd.DataFrame({"feature": np.repeat(both.index, 2), "yi": yi.ravel(), "sei": sei.ravel()}).to_csv(
        tmp_path / "in.tsv", sep="\t", index=False
    )
    script = """
suppressPackageStartupMessages(library(metafor))
d <- read.delim(commandArgs(TRUE)[1], stringsAsFactors = FALSE)
out <- do.call(rbind, lapply(split(d, factor(d$feature, levels = unique(d$feature))), function(x) {
  m <- rma(yi = x$yi, sei = x$sei, method = "REML", control = list(threshold = 1e-12, maxiter = 1000))
  data.frame(feature = x$feature[1], estimate = m$beta[1], se = m$se, pval = m$pval, tau2 = m$tau2, I2 = m$I2)
}))
write.table(out, commandArgs(TRUE)[2], sep = "\\t", row.names = FALSE, quote = FALSE)
"""
    (tmp_path / "rma.R").write_text(script)
    proc = subprocess.run(
        ["Rscript", str(tmp_path / "rma.R"), str(tmp_path / "in.tsv"), str(tmp_path / "out.tsv")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, "R's metafor is needed (Debian r-cran-metafor, see .ci/run): " + proc.stderr[-800:]
    ref = pd.read_csv(tmp_path / "out.tsv", sep="\t").set_index("feature")
    ours = pd.read_csv(meta_out / "meta_analysis.tsv", sep="\t").set_index("feature").loc[ref.index]
    assert len(ref) == len(both) > 40
    for mine, theirs, tol in (
        ("estimate", "estimate", 1e-6),
        ("se", "se", 1e-6),
        ("p", "pval", 1e-5),
        ("tau2", "tau2", 1e-6),
        ("I2", "I2", 1e-4),
    ):
        np.testing.assert_allclose(ours[mine], ref[theirs], rtol=tol, atol=1e-8, err_msg=mine)
    assert (ref["tau2"] > 0).sum() >= 5  # not only the easy case tau^2 = 0


def _result(feature_rows) -> AssociationResult:
    rows = pd.DataFrame(feature_rows, columns=["feature", "metadata", "value", "coef", "stderr"])
    return AssociationResult(results=rows, params={"model": "LM", "max_significance": 0.25})


def test_case04_association_result_objects_hand_worked_dersimonian_laird():
    # three studies of 'taxon' (diagnosis = CD): y = (0, 1, 3), v = (1, 0.5, 0.25): w = (1, 2, 4),
    # y_FE = 2, Q = 10, C = 7 - 21/7 = 4, tau^2 = (10 - 2)/4 = 2; w* = (1/3, 2/5, 4/9),
    # mu = (2/5 + 4/3) / (53/45) = 78/53, SE = sqrt(45/53); 'lonely' only in study B
    studies = {
        "A": _result([("taxon", "diagnosis", "CD", 0.0, 1.0)]),
        "B": _result([("taxon", "diagnosis", "CD", 1.0, np.sqrt(0.5)), ("lonely", "diagnosis", "CD", 2.0, 0.1)]),
        "C": _result([("taxon", "diagnosis", "CD", 3.0, 0.5), ("taxon", "age", "age", 0.2, np.nan)]),
    }
    res = meta_analysis(studies, method="DL")
    row = res.table.loc[("taxon", "diagnosis", "CD")]
    assert row["tau2"] == pytest.approx(2.0) and row["Q"] == pytest.approx(10.0)
    assert row["estimate"] == pytest.approx(78 / 53) and row["se"] == pytest.approx(np.sqrt(45 / 53))
    assert row["q"] == pytest.approx(row["p"])  # the only pooled feature: BH over one p
    assert list(res.single_study.index) == [("lonely", "diagnosis", "CD")]
    assert res.single_study.iloc[0]["studies"] == "B"
    assert ("taxon", "age", "age") not in res.table.index  # no stderr: not an estimate
    assert [r["study"] for r in res.inputs] == ["A", "B", "C"] and res.inputs[0]["object"] == "AssociationResult"


def test_case04_provenance_of_the_inputs_is_recorded(runs, meta_out):
    record = json.loads((meta_out / "meta_analysis.json").read_text())
    assert record["command"] == "gutaxis meta" and record["params"]["min_studies"] == 2
    assert record["params"]["value_map"] == {"Healthy": "no"}
    studies = {s["study"]: s for s in record["studies"]}
    assert set(studies) == {"Gevers", "Sokol"}
    for name, folder in runs.items():
        s = studies[name]
        assert s["all_results"]["sha256"] == _sha(folder / "all_results.tsv")
        assert s["params_json"]["sha256"] == _sha(folder / "params.json")
        assert s["params_json"]["path"].endswith("params.json")
        # associate's own record: its profile and metadata files with their checksums
        table, task = TASKS[name]
        assert s["provenance"]["inputs"]["profile"]["path"].endswith(table)
        assert s["provenance"]["inputs"]["metadata"]["path"].endswith(task)
    listed = pd.read_csv(meta_out / "studies.tsv", sep="\t").set_index("study")
    assert listed.loc["Sokol", "all_results_sha256"] == _sha(runs["Sokol"] / "all_results.tsv")


def test_case04_study_names_from_folders_and_clear_errors(runs, tmp_path):
    out = tmp_path / "by_folder"
    res = _ok(
        runner.invoke(
            app,
            [
                "meta",
                str(runs["Gevers"]),
                str(runs["Sokol"] / "all_results.tsv"),
                "-o",
                str(out),
                "--plots",
                "0",
                "--no-report",
            ],
        )
    )
    said = " ".join(res.output.split())
    assert "metadata 'Var' has no value in two studies (gevers: no; sokol: Healthy)" in said and "--value-map" in said
    effects = pd.read_csv(out / "study_effects.tsv", sep="\t")
    assert set(effects["study"]) == {"gevers", "sokol"}  # the folders' names
    assert len(pd.read_csv(out / "meta_analysis.tsv", sep="\t")) == 0  # 'no' and 'Healthy' are not pooled together

    bad = runner.invoke(app, ["meta", str(runs["Gevers"]), str(runs["Gevers"]), "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "same name" in bad.output and "--study NAME=PATH" in bad.output
    mixed = runner.invoke(
        app, ["meta", str(runs["Gevers"]), str(runs["Sokol"] / "params.json"), "-o", str(tmp_path / "x")]
    )
    assert mixed.exit_code == 2 and "params.json" in mixed.output and "not a gutaxis associate output" in mixed.output
    extra = runner.invoke(
        app, ["meta", str(runs["Gevers"]), str(runs["Sokol"]), "--label", "Var", "-o", str(tmp_path / "x")]
    )
    assert extra.exit_code == 2 and "--label" in extra.output and "apply to a profile" in extra.output

    zero = tmp_path / "zero"
    zero.mkdir()
    t = pd.read_csv(runs["Sokol"] / "all_results.tsv", sep="\t")
    t.loc[0, "stderr"] = 0.0
    t.to_csv(zero / "all_results.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"zero/all_results.tsv: stderr 0.0 of feature .* is not > 0"):
        meta_analysis({"Gevers": runs["Gevers"], "Sokol": zero})
    with pytest.raises(InputError, match="std_errors is missing"):
        meta_analysis(pd.DataFrame({"a": [0.1]}))
    with pytest.raises(InputError, match="min_studies"):
        meta_analysis(runs, min_studies=0)


def _cohort(shared, name):
    table, task = TASKS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = read_profile(shared(*DATA, table), metadata=shared(*DATA, task), how="inner")
    adata.obs["dx"] = np.where(adata.obs["Var"].isin(["CD", "Crohn's disease"]), "CD", "control")
    return adata


def test_case04_concat_keeps_provenance_and_meta_reads_the_h5ad(shared, tmp_path):
    gevers, sokol = _cohort(shared, "Gevers"), _cohort(shared, "Sokol")
    plain = anndata.concat({"Gevers": gevers, "Sokol": sokol}, label="study")
    assert "provenance" not in plain.uns  # what anndata does: the parts' records are gone

    joined = concat({"Gevers": gevers, "Sokol": sokol}, label="study")
    prov = joined.uns["provenance"]
    assert prov["reader"] == "concat" and [p["key"] for p in prov["parts"]] == ["Gevers", "Sokol"]
    assert prov["parts"][0]["sha256"] == _sha(shared(*DATA, "gevers_gg_taxatable.txt"))
    assert prov["parts"][1]["metadata"]["sha256"] == _sha(shared(*DATA, "sokol_task-healthy-cd.txt"))
    assert {f["part"] for f in prov["filtered"]} == {"Gevers", "Sokol"}  # samples without metadata, per part
    assert joined.obs["study"].value_counts().to_dict() == {"Gevers": 140, "Sokol": 81}
    with pytest.raises(InputError, match="already has an obs column 'Var'"):
        concat([gevers, sokol], label="Var", keys=["G", "S"])

    path = tmp_path / "ibd.h5ad"
    write_h5ad(joined, path)
    assert [p["key"] for p in read_h5ad(path).uns["provenance"]["upstream"]["parts"]] == ["Gevers", "Sokol"]
    out = tmp_path / "meta"
    _ok(
        runner.invoke(
            app,
            ["meta", str(path), "--study", "study", "--label", "dx", "--case", "CD", "--plots", "2", "-o", str(out)],
        )
    )
    record = json.loads((out / "meta_analysis.json").read_text())
    profile = record["inputs"]["profile"]
    assert profile["sha256"] == _sha(path) and profile["reader"] == "h5ad"
    assert [(p["key"], p["sha256"]) for p in profile["parts"]] == [
        ("Gevers", _sha(shared(*DATA, "gevers_gg_taxatable.txt"))),
        ("Sokol", _sha(shared(*DATA, "sokol_gg_taxatable.txt"))),
    ]
    studies = pd.read_csv(out / "studies.tsv", sep="\t", index_col=0)
    assert studies.loc["Gevers", "n_case"] == 78 and studies.loc["Sokol", "n_control"] == 19
    pooled = pd.read_csv(out / "meta_analysis.tsv", sep="\t")
    assert len(pooled) > 50 and (pooled["k"] == 2).all()

    # the same columns in the h5ad's obs and a metadata file: the file's win (a warning), same numbers
    meta = joined.obs[["study", "dx"]].copy()
    meta.index.name = "sample_id"
    meta.to_csv(tmp_path / "meta.tsv", sep="\t")
    res = runner.invoke(
        app,
        [
            "meta",
            str(path),
            "-m",
            str(tmp_path / "meta.tsv"),
            "--study",
            "study",
            "--label",
            "dx",
            "--case",
            "CD",
            "--plots",
            "0",
            "--no-report",
            "-o",
            str(tmp_path / "meta2"),
        ],
    )
    _ok(res)
    again = pd.read_csv(tmp_path / "meta2" / "meta_analysis.tsv", sep="\t")
    np.testing.assert_allclose(again["estimate"], pooled["estimate"], rtol=1e-12)

    # without the columns: one clear line, not a UnicodeDecodeError
    res = runner.invoke(app, ["meta", str(path), "-o", str(tmp_path / "meta3")])
    assert res.exit_code == 2 and "--study, --label, --case needed" in res.output and "Traceback" not in res.output


def test_case04_meta_report_opens_in_headless_chromium(meta_out, tmp_path, run_browser):
    page = meta_out / "report.html"
    html = page.read_text(encoding="utf-8")
    pooled = pd.read_csv(meta_out / "meta_analysis.tsv", sep="\t")
    few = pd.read_csv(meta_out / "single_study.tsv", sep="\t")
    proc = run_browser(
        tmp_path / "profile", "--window-size=1280,2400", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    assert not console, "console messages:\n" + "\n".join(console)
    assert re.search(r'<html[^>]*data-js="ok"', dom) and 'id="js-error-marker"' not in dom
    for section in ("summary", "forest", "pooled", "single-study", "studies", "methods"):
        assert f'id="{section}"' in dom, section
    assert 'class="sort"' in dom  # the shared sortable-table script ran
    # forest plots of the 6 pooled features with the smallest q, then the --feature one (not pooled)
    figures = re.findall(r'<svg role="img" aria-label="Forest plot of ([^":]*)', html)
    top = list(pooled.sort_values(["q", "p"])["feature"][:6])
    assert [f.split(" (")[0] for f in figures] == [
        *top,
        few["feature"][few["feature"].str.endswith("g__Fusobacterium")].iloc[0],
    ]
    assert "not pooled (no diamond)" in html and "not pooled: 1 study" in html
    body = dom[dom.index('id="single-study-table"') :]
    assert body[: body.index("</table>")].count("<tr>") == len(few) + 1  # header and every not-pooled feature
    assert f"{len(pooled)} pooled features" in dom and "tau²" in dom and "I² (%)" in dom
    assert "meta_analysis.json" in dom and _sha_text(meta_out) in dom


def _sha_text(meta_out) -> str:
    """The sha256 of Gevers' all_results.tsv, as the report's Studies table shows it."""
    return pd.read_csv(meta_out / "studies.tsv", sep="\t").set_index("study").loc["Gevers", "all_results_sha256"]


def test_read_effects_names_a_binary_file(shared, tmp_path):
    path = tmp_path / "cohort.h5ad"
    write_h5ad(_cohort(shared, "Sokol"), path)
    from gutaxis.link.meta import read_effects

    with pytest.raises(InputError, match=r"not a text file, so not an effects table.*--study COLUMN"):
        read_effects(path)
