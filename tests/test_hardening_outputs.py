"""Issue 12, audit section 'Outputs: not atomic, stale files, raw errors' (and S24-S26, L19 at the CLI).

Every command that writes a folder (report, demo, simulate, plan, diet scores, insights) or a file
(reference, food add, food alias) checks its ``-o`` before any work and refuses a bad one with one
``error:`` line that names the path and says what to do; a folder is written through a hidden
temporary folder beside the target and renamed into place at the end, so a failed or interrupted
run leaves the previous output (or nothing), and a non-empty target needs ``--overwrite``.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from _cli import cli

EXAMPLE = resources.files("gutaxis").joinpath("data", "example_person")
SCENARIO = (
    "name: t\nduration_days: 14\npopulation: {disease: healthy, n_candidates: 100, seed: 5}\ncontrol: usual\n"
    "trial: {n_per_arm: 5, replicates: 2}\n"
    "arms: {usual: {}, fiber: {interventions: [{input: fiber, shift: 20, ramp_days: 7}]}}\n"
    "endpoints: [R, butyrate, il6, CRP]\n"
)
RAW = (
    "FileExistsError",
    "IsADirectoryError",
    "PermissionError",
    "FileNotFoundError",
    "NotADirectoryError",
    "OSError",
    "Traceback",
)


def _one_error_line(r, *needles: str) -> str:
    """The run failed with exit 2 and one ``error:`` line holding every needle and a hint."""
    lines = [ln for ln in r.output.splitlines() if ln.strip() and not ln.startswith(("note:", "warning:"))]
    assert r.exit_code == 2, r.output
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert not any(raw in r.output for raw in RAW), r.output
    assert " — " in lines[0], f"no hint: {lines[0]}"
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, shared):
    """Small real inputs in their own folder: 4 and 12 samples of the GMHI validation cohort, a
    labelled demo table for `reference`, the tiny scenario and the shipped example diary."""
    d = tmp_path_factory.mktemp("inputs")
    full = pd.read_csv(shared("data", "gmhi2020_validation", "validation_abundance.csv"), index_col=0)
    for name, cols in (("s4.csv", full.columns[:4]), ("s12.csv", full.columns[4:16])):
        sub = full[cols]
        sub[(sub > 0).any(axis=1)].to_csv(d / name)
    from gutaxis.demo import demo_cohort

    cohort = demo_cohort(n_healthy=6, n_dysbiotic=6, seed=4)
    counts = pd.DataFrame(cohort.layers["counts"], index=cohort.obs_names, columns=cohort.var_names)
    counts.index.name = "sample"
    counts.to_csv(d / "small.tsv", sep="\t")
    cohort.obs[["group"]].rename(columns={"group": "Phenotype"}).to_csv(d / "meta.tsv", sep="\t")
    (d / "b.yaml").write_text(SCENARIO)
    for name in ("meals.csv", "symptoms.json", "stress.csv", "foods.csv"):
        shutil.copy(EXAMPLE / name, d / name)
    return d


def folder_commands(i: Path) -> dict[str, list]:
    """Every command that writes a folder, with small inputs; `-o` is appended by the tests."""
    return {
        "report": ["report", i / "s4.csv"],
        "demo": ["demo", "--n-healthy", 3, "--n-dysbiotic", 3],
        "simulate": ["simulate", i / "b.yaml"],
        "plan": ["plan", "--example", "--no-simulate"],
        "diet scores": ["diet", "scores", i / "meals.csv", "--foods", i / "foods.csv"],
        "insights": [
            "insights",
            "--meals",
            i / "meals.csv",
            "--symptoms",
            i / "symptoms.json",
            "--foods",
            i / "foods.csv",
        ],
    }


def file_commands(i: Path) -> dict[str, list]:
    """Every command that writes one file."""
    return {
        "reference": ["reference", i / "small.tsv", "-m", i / "meta.tsv", "--healthy", "Phenotype=healthy"],
        "food add": ["food", "add", "my soup", "--kcal", 50, "--fiber", 2, "--sugars", 1, "--sat-fat", 0.5],
        "food alias": ["food", "alias", "my porridge", "08121", "--grams", 250],
    }


FOLDER_CMDS = ["report", "demo", "simulate", "plan", "diet scores", "insights"]
FILE_CMDS = ["reference", "food add", "food alias"]

# where each command starts its real work: the output path must be refused before any of it runs
WORK = {
    "report": "gutaxis.io.read_profile",
    "demo": "gutaxis.demo.demo_cohort",
    "simulate": "gutaxis.axis.scenario.load_scenario",
    "plan": "gutaxis.lifestyle.person.read_person",
    "diet scores": "gutaxis.lifestyle.imports.read_diary",
    "insights": "gutaxis.lifestyle.imports.read_diary",
    "reference": "gutaxis.io.read_profile",
    "food add": "gutaxis.lifestyle.own_foods.add_own_food",
    "food alias": "gutaxis.lifestyle.own_foods.add_alias",
}


@pytest.fixture
def no_work(monkeypatch):
    """Make the first step of a command's work fail loudly (to prove the path check came first)."""

    def patch(cmd: str):
        def boom(*a, **k):
            raise AssertionError(f"{cmd}: work started before the output path was checked")

        monkeypatch.setattr(WORK[cmd], boom)

    return patch


# --------------------------------------------------------------------------- O02-O04, O06-O15
@pytest.mark.parametrize("cmd", FOLDER_CMDS)
def test_O02_O15_existing_file_as_output_folder(cmd, inputs, tmp_path, no_work):
    """FileExistsError from simulate, diet scores, insights (report, plan: O01/O05, kept passing)."""
    f = tmp_path / "f"
    f.write_text("not a folder")
    no_work(cmd)
    _one_error_line(cli(*folder_commands(inputs)[cmd], "-o", f), str(f), "is a file, not a folder")
    assert f.read_text() == "not a folder"


@pytest.mark.parametrize("cmd", FOLDER_CMDS)
def test_O02_O15_file_as_parent_of_output_folder(cmd, inputs, tmp_path, no_work):
    f = tmp_path / "f"
    f.write_text("x")
    no_work(cmd)
    _one_error_line(cli(*folder_commands(inputs)[cmd], "-o", f / "sub"), str(f))


@pytest.mark.parametrize("cmd", FILE_CMDS)
def test_O02_O15_existing_folder_as_output_file(cmd, inputs, tmp_path, no_work):
    """IsADirectoryError from `reference -o DIR` (and `food add`/`food alias`)."""
    d = tmp_path / "dir"
    d.mkdir()
    no_work(cmd)
    _one_error_line(cli(*file_commands(inputs)[cmd], "-o", d), str(d), "is a folder, not a file")
    assert list(d.iterdir()) == []


@pytest.mark.parametrize("cmd", FOLDER_CMDS + FILE_CMDS)
def test_O02_O15_no_permission(cmd, inputs, unwritable, no_work):
    """PermissionError from report, simulate, plan, diet scores (`-o ro` and `-o ro/x`)."""
    no_work(cmd)
    args = folder_commands(inputs).get(cmd) or file_commands(inputs)[cmd]
    target = unwritable if cmd in FOLDER_CMDS else unwritable / "x.csv"
    _one_error_line(cli(*args, "-o", target), str(unwritable))
    _one_error_line(cli(*args, "-o", unwritable / "sub" / "x.csv"), str(unwritable))
    assert list(unwritable.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("cmd", FOLDER_CMDS + FILE_CMDS)
def test_O02_O15_unwritable_system_path(cmd, inputs, no_work):
    """FileNotFoundError from `-o /proc/x`."""
    no_work(cmd)
    args = folder_commands(inputs).get(cmd) or file_commands(inputs)[cmd]
    _one_error_line(cli(*args, "-o", "/proc/gutaxis-x"), "/proc")


# --------------------------------------------------------------------------- O16 and --overwrite
def test_O16_stale_files_are_not_listed_as_this_runs_output(inputs, tmp_path):
    out = tmp_path / "o"
    assert cli("report", inputs / "s12.csv", "-o", out).exit_code == 0
    assert (out / "pcoa.tsv").is_file()
    r = cli("report", inputs / "s12.csv", "--sample", "SAMEA2582024", "-o", out, "--overwrite")
    assert r.exit_code == 0, r.output
    assert "pcoa.tsv" not in r.output and not (out / "pcoa.tsv").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "single"
    assert sorted(p.name for p in out.iterdir()) == sorted({*summary["files"], "summary.json", "report.html"})
    listed = [ln.strip() for ln in r.output.splitlines() if ln.startswith("  ")]
    assert sorted(Path(p).name for p in listed) == sorted(p.name for p in out.iterdir() if p.name != "report.html")


@pytest.mark.parametrize("cmd", FOLDER_CMDS)
def test_O16_non_empty_target_is_refused_without_overwrite(cmd, inputs, tmp_path, no_work):
    out = tmp_path / "o"
    out.mkdir()
    (out / "old.txt").write_text("an earlier run")
    no_work(cmd)
    _one_error_line(cli(*folder_commands(inputs)[cmd], "-o", out), str(out), "--overwrite")
    assert _snapshot(out) == {"old.txt": b"an earlier run"}


@pytest.mark.parametrize("cmd", FOLDER_CMDS)
def test_O16_overwrite_replaces_the_folder_without_stale_files(cmd, inputs, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "old.txt").write_text("an earlier run")
    r = cli(*folder_commands(inputs)[cmd], "-o", out, "--overwrite")
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.iterdir())
    assert "old.txt" not in names and names, names
    assert sorted(os.listdir(tmp_path)) == ["o"], "a temporary folder was left beside the target"
    assert ".partial" not in r.output
    for p in out.iterdir():  # no file names the temporary folder it was written in
        if p.suffix in (".html", ".json", ".csv", ".tsv"):
            assert ".partial-" not in p.read_text(encoding="utf-8", errors="replace"), p
    printed = {Path(w).name for ln in r.output.splitlines() for w in ln.split() if str(out) in w}
    assert printed and printed <= set(names), (printed, names)


@pytest.mark.parametrize("cmd", FOLDER_CMDS)
def test_O16_empty_existing_folder_is_used(cmd, inputs, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    r = cli(*folder_commands(inputs)[cmd], "-o", out)
    assert r.exit_code == 0, r.output
    assert any(out.iterdir()) and sorted(os.listdir(tmp_path)) == ["o"]


def test_overwrite_never_deletes_an_input_inside_the_target(inputs, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(inputs / "s4.csv", data / "s.csv")
    _one_error_line(cli("report", data / "s.csv", "-o", data, "--overwrite"), str(data), "s.csv")
    assert (data / "s.csv").is_file()
    f = tmp_path / "x.yaml"
    f.write_text(SCENARIO)
    _one_error_line(cli("simulate", f, "-o", tmp_path, "--overwrite"), str(tmp_path))
    assert f.is_file()


def test_output_folder_is_not_the_current_folder(inputs, tmp_path, monkeypatch):
    work = tmp_path / "w"
    work.mkdir()
    monkeypatch.chdir(work)
    for target in (".", str(work), ".."):
        _one_error_line(cli("report", inputs / "s4.csv", "-o", target, "--overwrite"), "current folder")
    assert work.is_dir() and sorted(os.listdir(tmp_path)) == ["w"]


def test_demo_twice_replaces_its_own_earlier_output(tmp_path, monkeypatch):
    """`gutaxis demo` (the README's first command) run twice: the second run replaces the first's
    synthetic demo report; a folder holding anything else is refused."""
    monkeypatch.chdir(tmp_path)
    args = ["demo", "--n-healthy", 3, "--n-dysbiotic", 3]
    assert cli(*args).exit_code == 0
    first = _snapshot(tmp_path / "gutaxis-demo")
    r = cli(*args, "--seed", 1)
    assert r.exit_code == 0, r.output
    second = _snapshot(tmp_path / "gutaxis-demo")
    assert second.keys() == first.keys() and second["indices.tsv"] != first["indices.tsv"]
    (tmp_path / "gutaxis-demo" / "notes.txt").write_text("mine")
    _one_error_line(cli(*args), "gutaxis-demo", "--overwrite")
    assert (tmp_path / "gutaxis-demo" / "notes.txt").read_text() == "mine"
    # a real (non-synthetic) report in the folder is not the demo's to replace either
    real = tmp_path / "real"
    assert cli("report", EXAMPLE / "profile_metaphlan.txt", "-o", real).exit_code == 0
    _one_error_line(cli(*args, "-o", real), str(real), "--overwrite")


def test_plan_example_twice_replaces_its_own_earlier_output(tmp_path):
    out = tmp_path / "plan-demo"
    assert cli("plan", "--example", "--no-simulate", "-o", out).exit_code == 0
    r = cli("plan", "--example", "--no-simulate", "--age", 60, "-o", out)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "plan.json").read_text())["person"]["age"] == 60
    # a plan of a real person is not the example's to replace
    person = tmp_path / "person"
    shutil.copytree(EXAMPLE, person)
    doc = json.loads((person / "person.json").read_text())
    doc["synthetic"] = False
    (person / "person.json").write_text(json.dumps(doc))
    mine = tmp_path / "mine"
    r = cli("plan", person, "--no-simulate", "-o", mine)
    assert r.exit_code == 0, r.output
    _one_error_line(cli("plan", "--example", "--no-simulate", "-o", mine), str(mine), "--overwrite")


# --------------------------------------------------------------------------- INT1-INT2, A30-like
def test_INT1_interrupt_while_indices_tsv_is_written_keeps_the_previous_output(inputs, tmp_path, monkeypatch):
    out = tmp_path / "o"
    assert cli("report", inputs / "s4.csv", "-o", out).exit_code == 0
    before = _snapshot(out)
    original = pd.DataFrame.to_csv

    def header_then_interrupt(self, path=None, *a, **k):
        if path is not None and Path(str(path)).name == "indices.tsv":
            Path(path).write_text("sample\tgmhi\n")
            raise KeyboardInterrupt
        return original(self, path, *a, **k)

    monkeypatch.setattr(pd.DataFrame, "to_csv", header_then_interrupt)
    r = cli("report", inputs / "s12.csv", "-o", out, "--overwrite")
    assert r.exit_code == 130 and "interrupted" in r.output, r.output
    assert _snapshot(out) == before
    assert sorted(os.listdir(tmp_path)) == ["o"]


def test_INT2_interrupt_after_summary_json_keeps_the_previous_output(inputs, tmp_path, monkeypatch):
    """The audit's INT2: summary.json of the new run beside report.html of the old one."""
    out = tmp_path / "o"
    assert cli("report", inputs / "s4.csv", "-o", out).exit_code == 0
    before = _snapshot(out)
    import gutaxis.report.html as H

    def interrupted(**kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(H, "_render", interrupted)
    r = cli("report", inputs / "s12.csv", "-o", out, "--overwrite")
    assert r.exit_code == 130, r.output
    assert _snapshot(out) == before and len(json.loads(before["summary.json"])["samples"]) == 4
    assert sorted(os.listdir(tmp_path)) == ["o"]


# a failure after some files of each command are written (A30 is the same for `associate`)
FAIL_LATE = {
    "report": ("gutaxis.report.html._render", "write_report"),
    "demo": ("gutaxis.report.html._render", "write_report"),
    "simulate": ("gutaxis.axis.scenario.render_html", "render"),
    "plan": ("gutaxis.report.plan._write_pdf", "pdf"),
    "diet scores": ("to_csv", "weekly_scores.csv"),
    "insights": ("to_csv", "insights_skipped.csv"),
}


@pytest.mark.parametrize("cmd", FOLDER_CMDS)
def test_A30_like_failure_after_some_files_leaves_no_partial_folder(cmd, inputs, tmp_path, monkeypatch):
    where, name = FAIL_LATE[cmd]
    original = pd.DataFrame.to_csv

    def fail(*a, **k):
        raise RuntimeError("failed late")

    def fail_on_name(self, path=None, *a, **k):
        if path is not None and Path(str(path)).name == name:
            raise RuntimeError("failed late")
        return original(self, path, *a, **k)

    def break_it():
        if where == "to_csv":
            monkeypatch.setattr(pd.DataFrame, "to_csv", fail_on_name)
        else:
            monkeypatch.setattr(where, fail)

    args = folder_commands(inputs)[cmd]
    out = tmp_path / "o"
    break_it()
    r = cli(*args, "-o", out)
    assert r.exit_code == 1 and "failed late" in r.output, r.output
    assert not out.exists() and os.listdir(tmp_path) == []
    # and into an earlier run's folder: that folder is kept as it was
    monkeypatch.undo()
    assert cli(*args, "-o", out).exit_code == 0
    before = _snapshot(out)
    break_it()
    r = cli(*args, "-o", out, "--overwrite")
    assert r.exit_code == 1, r.output
    assert _snapshot(out) == before and os.listdir(tmp_path) == ["o"]


# --------------------------------------------------------------------------- S24-S26 at the CLI
def test_S24_a_word_is_not_read_as_a_scenario(tmp_path, no_work):
    no_work("simulate")
    line = _one_error_line(cli("simulate", "run", "-o", tmp_path / "o"), "run", "example")
    assert "YAML mapping" not in line
    assert not (tmp_path / "o").exists()


def test_S25_a_non_yaml_file_is_refused_by_name(inputs, tmp_path, no_work):
    b = tmp_path / "b.txt"
    b.write_text(SCENARIO)
    no_work("simulate")
    line = _one_error_line(cli("simulate", b, "-o", tmp_path / "o"), str(b), ".yaml")
    assert "YAML mapping" not in line


def test_S26_a_folder_named_like_a_scenario(tmp_path, no_work):
    d = tmp_path / "x.yaml"
    d.mkdir()
    no_work("simulate")
    _one_error_line(cli("simulate", d, "-o", tmp_path / "o"), str(d), "folder")


def test_S24_missing_scenario_file(tmp_path, no_work):
    no_work("simulate")
    _one_error_line(cli("simulate", tmp_path / "nope.yaml", "-o", tmp_path / "o"), "nope.yaml", "does not exist")


# --------------------------------------------------------------------------- L19-like option ranges
@pytest.mark.parametrize(
    "args",
    [
        ["diet", "scores", "MEALS", "--age", "-5"],
        ["diet", "scores", "MEALS", "--age", "200"],
        ["plan", "--example", "--age", "-5"],
        ["demo", "--seed", "-1"],
        ["insights", "--meals", "MEALS", "--symptoms", "MEALS", "--fdr", "0"],
        ["insights", "--meals", "MEALS", "--symptoms", "MEALS", "--fdr", "1.5"],
    ],
    ids=["diet-age-neg", "diet-age-200", "plan-age-neg", "demo-seed-neg", "fdr-0", "fdr-1.5"],
)
def test_L19_option_ranges(args, inputs, tmp_path):
    args = [str(inputs / "meals.csv") if a == "MEALS" else a for a in args]
    r = cli(*args, "-o", tmp_path / "o")
    assert r.exit_code == 2, r.output
    assert "Invalid value" in r.output and "Traceback" not in r.output, r.output
    opt = next(a for a in args if a.startswith("--") and a not in ("--example", "--meals", "--symptoms"))
    assert opt in r.output
    assert not (tmp_path / "o").exists()


def test_simulate_example_twice_replaces_its_own_earlier_output(tmp_path, inputs):
    """README: `gutaxis simulate example -o sim`, run again, replaces its own earlier output; the
    output of another scenario is not the example's to replace."""
    out = tmp_path / "sim"
    small = ["--replicates", 2, "--n-candidates", 100]
    assert cli("simulate", "example", "-o", out, *small).exit_code == 0
    r = cli("simulate", "example", "-o", out, *small, "--seed", 3)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "result.json").read_text())["provenance"]["seed"] == 3
    other = tmp_path / "other"
    assert cli("simulate", inputs / "b.yaml", "-o", other).exit_code == 0
    _one_error_line(cli("simulate", "example", "-o", other, *small), str(other), "--overwrite")
