"""The gutaxis command line: demo, report, reference, datasets, --version, errors and --debug."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from gutaxis import __version__
from gutaxis.cli import app
from gutaxis.demo import demo_cohort
from gutaxis.report import DISCLAIMER

runner = CliRunner()
SCRIPT = Path(sys.executable).with_name("gutaxis")


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """A small TSV cohort (counts, samples as rows), its metadata, a one-sample TSV and a broken TSV."""
    d = tmp_path_factory.mktemp("tables")
    cohort = demo_cohort(n_healthy=6, n_dysbiotic=6, seed=4)
    counts = pd.DataFrame(cohort.layers["counts"], index=cohort.obs_names, columns=cohort.var_names)
    counts.index.name = "sample"
    counts.to_csv(d / "small.tsv", sep="\t")
    counts.iloc[[0]].to_csv(d / "one.tsv", sep="\t")
    cohort.obs[["group", "age", "sex"]].rename(columns={"group": "Phenotype"}).to_csv(d / "meta.tsv", sep="\t")
    (d / "bad.tsv").write_text("sample\tEscherichia coli\tBacteroides vulgatus\nS1\t1\tx\nS2\t2\t3\n")
    return d


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The installed console script (falls back to ``python -m gutaxis``)."""
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "gutaxis"]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200", **(env or {})}
    )


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"gutaxis {__version__}"


def test_demo_writes_the_report(tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "-o", str(out), "--seed", "3", "--n-healthy", "15", "--n-dysbiotic", "15"])
    assert result.exit_code == 0, result.output
    assert f"report written to {out / 'report.html'}" in result.output
    for name in ("report.html", "indices.tsv", "percentiles.tsv", "panels.tsv", "summary.json", "pcoa.tsv"):
        assert (out / name).is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["synthetic"] is True and summary["provenance"]["input"]["reader_params"]["seed"] == 3
    assert len(summary["samples"]) == 30


def test_demo_default_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo", "--n-healthy", "6", "--n-dysbiotic", "6"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "gutaxis-demo" / "report.html").is_file()


def test_report_cohort_from_tsv(tables, tmp_path):
    out = tmp_path / "r"
    result = runner.invoke(
        app,
        [
            "report",
            str(tables / "small.tsv"),
            "--metadata",
            str(tables / "meta.tsv"),
            "--group-column",
            "Phenotype",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "cohort" and summary["groups"]["column"] == "Phenotype"
    assert summary["groups"]["counts"] == {"healthy": 6, "dysbiotic": 6}
    assert len(summary["provenance"]["input"]["sha256"]) == 64
    assert summary["provenance"]["input"]["source"].endswith("small.tsv")


def test_reference_then_single_sample_report(tables, tmp_path):
    ref = tmp_path / "ref.json"
    result = runner.invoke(
        app,
        [
            "reference",
            str(tables / "small.tsv"),
            "--metadata",
            str(tables / "meta.tsv"),
            "--healthy",
            "Phenotype=healthy",
            "-o",
            str(ref),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(ref.read_text())["n_samples"] == 6
    out = tmp_path / "one"
    result = runner.invoke(app, ["report", str(tables / "one.tsv"), "--reference", str(ref), "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    assert DISCLAIMER in html and "Percentile among healthy" in html
    # without a reference the report says so
    result = runner.invoke(app, ["report", str(tables / "one.tsv"), "-o", str(tmp_path / "noref")])
    assert result.exit_code == 0
    assert "No healthy reference was supplied" in (tmp_path / "noref" / "report.html").read_text()


def test_input_errors_exit_2_with_one_line(tables, tmp_path):
    for args in (
        ["report", str(tables / "bad.tsv"), "-o", str(tmp_path / "x")],
        ["report", str(tmp_path / "missing.tsv"), "-o", str(tmp_path / "x")],
        ["report", str(tables / "small.tsv"), "--group-column", "nope", "-o", str(tmp_path / "x")],
        ["reference", str(tables / "small.tsv"), "--healthy", "Phenotype", "-o", str(tmp_path / "r.json")],
        ["datasets", "fetch", "no-such-dataset"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        lines = [ln for ln in result.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert "Traceback" not in result.output


def test_console_script_error_and_debug(tables, tmp_path):
    bad = tables / "bad.tsv"
    plain = _run("report", str(bad), "-o", str(tmp_path / "x"))
    assert plain.returncode == 2
    err = [ln for ln in plain.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and "bad.tsv" in err[0] and "'x'" in err[0]
    assert "Traceback" not in plain.stderr + plain.stdout
    debug = _run("--debug", "report", str(bad), "-o", str(tmp_path / "x"))
    assert debug.returncode == 2
    assert "Traceback (most recent call last)" in debug.stderr and "InputError" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("error: ")


def test_unexpected_errors_exit_1(monkeypatch, tmp_path):
    import gutaxis.demo

    def boom(**kwargs):
        raise RuntimeError("something broke")

    monkeypatch.setattr(gutaxis.demo, "demo_cohort", boom)
    result = runner.invoke(app, ["demo", "-o", str(tmp_path / "d")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: RuntimeError: something broke")
    assert "--debug" in result.output and "Traceback" not in result.output


def test_datasets_list():
    result = runner.invoke(app, ["datasets", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("gmhi2020_validation", "hmp2_maaslin2", "MIT", "doi:10.1038/s41467-020-18476-8"):
        assert text in result.output


def test_python_dash_m_help():
    proc = subprocess.run([sys.executable, "-m", "gutaxis", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for cmd in ("demo", "report", "datasets"):
        assert cmd in proc.stdout
