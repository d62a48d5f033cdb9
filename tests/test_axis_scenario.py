"""Scenario schedules: ramps, set vs shift, pss10, adherence draws; summaries of a small run; its files
and report (rendered from a template with autoescape)."""

from __future__ import annotations

import numpy as np
import pytest

from gutaxis.axis import equations as eq
from gutaxis.axis.scenario import load_scenario, run_scenario

TEXT = """
name: t
duration_days: 20
seed: 3
population: {disease: healthy, n_candidates: 400, seed: 7}
control: usual
trial: {n_per_arm: 10, replicates: 30}
record_every: 5
arms:
  usual: {}
  ff:
    adherence: {mean: 0.8, sd: 0.1}
    interventions:
      - {input: fermented, shift: 4, ramp_days: 4}
      - {input: pss10, set: 30, start: 10, stop: 15}
endpoints: [R, il6, {output: CRP, day: 12}]
"""


def test_schedule_ramps_set_and_shift():
    sc = load_scenario(TEXT)
    s = sc.schedule()
    i = eq.INPUT_NAMES.index("fermented")
    np.testing.assert_allclose(s.add[:5, i, 1], [1, 2, 3, 4, 4])
    assert np.all(s.mult[:, i, 1] == 1) and np.all(s.add[:, i, 0] == 0)
    j = eq.INPUT_NAMES.index("stress")
    assert np.all(s.mult[10:15, j, 1] == 0) and np.allclose(s.add[10:15, j, 1], 0.75)
    assert np.all(s.mult[15:, j, 1] == 1)
    assert list(sc.record_days()) == [0, 5, 10, 12, 15, 20]


@pytest.fixture(scope="module")
def small():
    return run_scenario(TEXT)


def test_run_small_scenario(small):
    res = small
    assert set(res.summary["arm"]) == {"usual", "ff"}
    usual = res.summary[res.summary["arm"] == "usual"]
    assert np.allclose(usual["change_mean"], 0, atol=1e-3)  # usual diet: (near) steady state
    assert 0.5 < res.adherence[1].mean() < 0.95 and np.all(res.adherence[0] == 1)
    comp = res.comparisons.set_index("endpoint")
    assert comp.loc["R", "smd"] > 0 and comp.loc["R", "replicates"] == 30
    ds = res.to_xarray()
    assert ds["il6"].dims == ("arm", "patient", "day") and ds.sizes["day"] == 6
    b = res.bands("R")
    assert b["ff"][0][-1] > b["usual"][0][-1]


def test_unknown_keys_are_named():
    from gutaxis.errors import InputError

    with pytest.raises(InputError, match="unknown key"):
        load_scenario("duration_days: 5\narms: {a: {}}\ncolour: blue\n")
    with pytest.raises(InputError, match="pss10 can only be set"):
        load_scenario("duration_days: 5\narms: {a: {interventions: [{input: pss10, shift: 3}]}}\n")


def test_write_files_and_report(small, tmp_path):
    paths = small.write(tmp_path / "out")
    assert {k: p.name for k, p in paths.items() if k != "trajectories"} == {
        "summary": "summary.tsv",
        "comparisons": "comparisons.tsv",
        "json": "result.json",
        "report": "report.html",
    }
    assert paths["trajectories"].name in ("trajectories.nc", "trajectories.tsv.gz")
    html = paths["report"].read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and html.count("<svg") == 1
    for section in ("summary", "about", "design", "trajectories", "change", "trials", "methods"):
        assert f'id="{section}"' in html, section
    assert "stress load set to 0.75 (PSS-10 30), day 10 to 15" in html  # the pss10 intervention, as read
    assert "Dashed vertical lines: endpoint days before the end" in html  # CRP on day 12 of 20
    assert small.provenance["sha256"] in html and 'data-endpoint="CRP" data-day="12"' in html


def test_report_escapes_scenario_text_and_needs_no_control(tmp_path):
    from gutaxis.axis.scenario import render_html

    text = (
        TEXT.replace("name: t", 'name: "<script>alert(1)</script> & co"')
        .replace("control: usual\n", "")
        .replace("seed: 3\n", 'seed: 3\ndescription: "a <b>bold</b> claim"\n')
    )
    res = run_scenario(text)
    assert res.comparisons.empty
    html = render_html(res)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "<b>bold</b>" not in html and "a &lt;b&gt;bold&lt;/b&gt; claim" in html
    assert 'id="trials"' not in html and 'id="change"' in html


# --------------------------------------------------------------------------- provenance of overrides
def test_provenance_records_overrides_and_the_effective_scenario(small):
    import hashlib
    import platform
    from importlib import resources

    import pandas as pd

    base = small.provenance
    assert base["overrides"] == {} and base["effective_sha256"] == base["sha256"]  # nothing overridden
    assert base["scenario_path"] is None and base["scenario_file_sha256"] is None  # given as text
    assert base["replicates"] == 30 and base["seed"] == 3 and base["n_per_arm"] == 10 and base["n_candidates"] == 400
    assert base["python_version"] == platform.python_version() and base["numpy_version"] == np.__version__
    assert base["numba_version"] and base["gutaxis_version"]
    table = resources.files("gutaxis.data").joinpath("axis_parameters.tsv").read_bytes()
    assert base["parameter_table"]["sha256"] == hashlib.sha256(table).hexdigest()

    sc = load_scenario(TEXT).with_overrides(replicates=5, seed=7)
    assert (sc.replicates, sc.seed) == (5, 7) and sc.source == load_scenario(TEXT).source
    res = run_scenario(sc)
    prov = res.provenance
    assert prov["overrides"] == {"replicates": 5, "seed": 7}
    assert prov["replicates"] == 5 and prov["seed"] == 7 and res.comparisons["replicates"].eq(5).all()
    assert prov["sha256"] == base["sha256"]  # the scenario as read is the same ...
    assert prov["effective_sha256"] not in (base["effective_sha256"], prov["sha256"])  # ... what ran is not
    eff = sc.effective_source()
    assert eff["trial"]["replicates"] == 5 and eff["seed"] == 7 and eff["trial"]["n_per_arm"] == 10

    # re-running the recorded effective scenario reproduces the numbers exactly, and it is read with the
    # effective hash and no overrides
    again = run_scenario(eff)
    pd.testing.assert_frame_equal(again.summary, res.summary, check_exact=True)
    pd.testing.assert_frame_equal(again.comparisons, res.comparisons, check_exact=True)
    assert again.provenance["sha256"] == prov["effective_sha256"] == again.provenance["effective_sha256"]
    assert again.provenance["overrides"] == {}


def test_overrides_set_directly_are_recorded_and_validated():
    from gutaxis.errors import InputError

    sc = load_scenario(TEXT)
    sc.seed = 11  # not through with_overrides: still found and recorded
    assert sc.effective_overrides() == {"seed": 11} and sc.effective_source()["seed"] == 11
    # a setting given equal to the scenario's own value is still named (it was given)
    assert load_scenario(TEXT).with_overrides(seed=3).effective_overrides() == {"seed": 3}
    with pytest.raises(InputError, match="cannot override colour"):
        load_scenario(TEXT).with_overrides(colour="blue")
    with pytest.raises(InputError, match="replicates = 0 is outside"):
        load_scenario(TEXT).with_overrides(replicates=0)
    sc = load_scenario(TEXT)
    sc.replicates = 0
    with pytest.raises(InputError, match="replicates = 0 is outside"):
        run_scenario(sc)
    # duration in weeks: overriding the days writes duration_days in its place
    weeks = load_scenario(TEXT.replace("duration_days: 20", "duration_weeks: 3")).with_overrides(days=28)
    assert weeks.days == 28 and "duration_weeks" not in weeks.effective_source()
    assert weeks.effective_source()["duration_days"] == 28


def test_complete_form_round_trips():
    sc = load_scenario(TEXT)
    assert load_scenario(sc.to_dict()).settings() == sc.settings()
    assert sc.to_dict()["arms"]["ff"]["interventions"][1] == {
        "input": "stress",
        "set": 0.75,
        "start": 10,
        "stop": 15,
        "ramp_days": 0,
    }  # pss10 30, as the stress load


def test_report_shows_the_overrides(small):
    from gutaxis.axis.scenario import render_html

    html = render_html(small)
    methods = html[html.index('id="methods"') :]
    assert '<p id="overrides">Overrides of the scenario&#39;s settings: none</p>' in methods
    res = run_scenario(load_scenario(TEXT).with_overrides(replicates=5, seed=7))
    html = render_html(res)
    methods = html[html.index('id="methods"') :]
    assert "Overrides of the scenario&#39;s settings: replicates = 5, seed = 7</p>" in methods
    assert res.provenance["effective_sha256"] in methods and res.provenance["sha256"] in methods
    assert f"Python {res.provenance['python_version']}, numpy {res.provenance['numpy_version']}" in methods
