"""Every "no effect" in the evidence shown beside a simulated suggestion is reproduced by the model
itself, through a calibration target (issue 11, item 4), or the suggestion changes no model input.

- ``gutaxis/data/evidence_nulls.tsv`` names, for each null, its calibration target; the target must
  exist, be on the same endpoint and intervention, and its published interval must include 0 (the
  calibration suite, tests/test_axis_calibration.py, checks the model against it on 200 replicate
  trials).
- The high-fiber arm of Wastyk 2021 did not change diversity (shown beside the fermented-food and
  fiber suggestions): T2's equivalence target, and the fiber step's simulated diversity change in the
  example person's plan is zero.
"""

from __future__ import annotations

import warnings

import pandas as pd

from gutaxis._data import package_table

#: evidence endpoint -> the calibration target's endpoint prefix for RA
_ENDPOINT = {"disease_activity": "das28"}
#: the suggestion's model input -> how the calibration targets name that intervention
_INTERVENTION = {"probiotic": "T8"}


def _recommendations() -> pd.DataFrame:
    return package_table("recommendations.tsv", comment="#").set_index("id")


def test_each_evidence_null_names_a_calibration_target_that_states_the_null():
    nulls = package_table("evidence_nulls.tsv", comment="#")
    targets = package_table("axis_calibration_targets.tsv")
    rec = _recommendations()
    assert len(nulls) >= 2
    for r in nulls.itertuples(index=False):
        change = rec.loc[r.suggestion_id, "simulated_change"]
        if r.calibration_target == "not simulated":
            assert pd.isna(change), f"{r.suggestion_id} changes model inputs ({change}) but names no calibration target"
            continue
        assert isinstance(change, str), r.suggestion_id
        tid, endpoint = r.calibration_target.split()
        row = targets[(targets["target"] == tid) & (targets["endpoint"] == endpoint)]
        assert len(row) == 1, r.calibration_target
        row = row.iloc[0]
        assert endpoint.startswith(_ENDPOINT.get(r.endpoint, r.endpoint))
        model_input = change.split("_")[0]
        assert _INTERVENTION.get(model_input) == tid, (model_input, tid)
        assert row["kind"] == "ci" and float(row["ci_low"]) < 0 < float(row["ci_high"]), row.to_dict()


def test_the_fiber_null_on_diversity_is_a_target_and_holds_in_a_plan():
    targets = package_table("axis_calibration_targets.tsv")
    t2 = targets[(targets["target"] == "T2") & (targets["endpoint"] == "fib20:R")].iloc[0]
    assert t2["kind"] == "equivalence" and float(t2["ci_low"]) < 0 < float(t2["ci_high"])
    assert "did not change diversity" in _recommendations().loc["fermented_foods", "effect_summary"]

    from gutaxis.lifestyle import plan as P
    from gutaxis.lifestyle.person import example_person

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = P.build_plan(example_person(), n_draws=60, days=84, seed=0)
    fiber = plan.effect.per_suggestion["fiber_target"]["diversity"]
    assert all(abs(x) <= float(t2["ci_high"]) for x in fiber), fiber
