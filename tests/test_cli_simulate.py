"""``gutaxis simulate``: the shipped example runs offline and writes its report; errors are one line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gutaxis.cli import app

runner = CliRunner()


def test_simulate_example_writes_report(tmp_path):
    out = tmp_path / "sim"
    r = runner.invoke(app, ["simulate", "example", "-o", str(out), "--replicates", "20", "--n-candidates", "600"])
    assert r.exit_code == 0, r.output
    assert f"report written to {out / 'report.html'}" in r.output
    html = (out / "report.html").read_text()
    assert "<svg" in html and "Context of use" in html and "http" not in html.split("<h2>Provenance")[0].replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    for name in ("summary.tsv", "comparisons.tsv", "result.json"):
        assert (out / name).is_file()
    assert (out / "trajectories.nc").is_file() or (out / "trajectories.tsv.gz").is_file()
    doc = json.loads((out / "result.json").read_text())
    comp = {(c["arm"], c["endpoint"]): c for c in doc["comparisons"]}
    assert comp[("fermented", "R")]["smd"] > 0  # fermented food raises diversity
    assert doc["provenance"]["n_patients"] > 40


def test_simulate_bad_scenario_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nduration_days: 10\narms:\n  a:\n    interventions:\n      - {input: coffee, shift: 2}\n")
    r = runner.invoke(app, ["simulate", str(bad), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "unknown input 'coffee'" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["simulate", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "does not exist" in r.output


@pytest.mark.parametrize("text,msg", [
    ("duration_days: 10\narms: {}\n", "arms must be"),
    ("duration_days: 10\narms: {a: {}}\ncontrol: b\n", "control arm"),
    ("duration_days: 10\narms: {a: {}}\nendpoints: [zonulin]\n", "unknown output"),
    ("arms: {a: {}}\n", "duration_days"),
])
def test_scenario_validation(text, msg):
    from gutaxis.axis.scenario import load_scenario
    from gutaxis.errors import InputError

    with pytest.raises(InputError, match=msg):
        load_scenario(text)
