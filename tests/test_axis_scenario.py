"""Scenario schedules: ramps, set vs shift, pss10, adherence draws; summaries of a small run."""

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


def test_run_small_scenario():
    res = run_scenario(TEXT)
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
