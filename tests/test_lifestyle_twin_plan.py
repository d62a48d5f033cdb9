"""The plan's simulated effect says what is the person's and what is the model's, and never contradicts
the evidence shown beside it (issue 11)."""

from __future__ import annotations

import warnings
from typing import ClassVar

import pandas as pd
import pytest

from gutaxis.lifestyle import _plan_effect
from gutaxis.lifestyle import plan as P
from gutaxis.lifestyle.person import example_person
from gutaxis.lifestyle.report import write_plan_reports


def _plan(tmp_path, name, **person_fields):
    person = example_person()
    for k, v in person_fields.items():
        setattr(person, k, v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = P.build_plan(person, n_draws=40, days=56, seed=1)
    out = tmp_path / name
    write_plan_reports(plan, out)
    return plan, (out / "plan.html").read_text(encoding="utf-8"), pd.read_csv(out / "simulated_effect.csv")


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("twinplan")
    return {"measured": _plan(tmp, "measured", markers={"crp": 3.2}), "none": _plan(tmp, "none")}


def test_a_measured_crp_is_shown_as_the_persons_and_the_rest_as_model_patients(plans):
    plan, html, eff = plans["measured"]
    assert plan.effect.available, plan.effect.message
    crp = eff.set_index("endpoint").loc["crp"]
    assert crp["baseline_source"] == "yours: 3.2 mg/L (measured)"
    assert "yours: 3.2 mg/L (measured)" in html
    rest = eff.set_index("endpoint").drop(index=["crp", "diversity"])["baseline_source"]
    assert (rest == "model patient (not measured)").all()
    # the example person's stool profile is measured: its diversity is theirs
    assert eff.set_index("endpoint").at["diversity", "baseline_source"].endswith("(from your stool profile)")
    _, html0, eff0 = plans["none"]
    assert "yours: 3.2" not in html0 and "CRP" in html0
    assert (
        eff0.set_index("endpoint").drop(index="diversity")["baseline_source"] == "model patient (not measured)"
    ).all()


def test_the_probiotic_step_never_shows_a_das28_effect_the_trials_did_not_find(plans):
    plan, html, eff = plans["none"]
    assert any(s.id == "probiotic_ra" for s in plan.suggestions)
    alone = plan.effect.per_suggestion["probiotic_ra"]
    assert alone["disease_activity"] is None and "p=0.94" in alone["_evidence"]["disease_activity"]
    assert "disease activity: not simulated, because in trials of people with RA" in html
    row = eff.set_index("endpoint").loc["disease_activity"]
    assert "probiotic" in row["evidence_note"].lower()


def test_a_twin_that_cannot_be_fitted_says_it_is_the_model_not_the_person(monkeypatch):
    class Fake:
        meta: ClassVar[dict[str, object]] = {"fitted": False, "n_plausible": 3, "n_candidates": 2000}

    # where simulate_plan_effect looks the twin up
    monkeypatch.setattr(_plan_effect, "_axis_api", lambda: (lambda *a, **k: Fake(), lambda *a, **k: None))
    person = example_person()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = P.build_plan(person, simulate=False)
        eff = P.simulate_plan_effect(person, plan, n_draws=40, days=28)
    assert (
        not eff.available and "could not be fitted" in eff.message and "says nothing about your health" in eff.message
    )


@pytest.mark.parametrize(
    "tag, label, unit", [("SLE", "not a measured SLEDAI", "SLEDAI points (model)"), ("MS", "not EDSS", "index 0-1")]
)
def test_sle_and_ms_are_labelled_in_plain_words(tmp_path, tag, label, unit):
    plan, html, eff = _plan(tmp_path, tag, conditions=[tag])
    if not plan.effect.available:
        pytest.fail(plan.effect.message)
    row = eff.set_index("endpoint").loc["disease_activity"]
    assert label in row["label"] and row["unit"] == unit
    assert "Baker p" not in html and "SLEDAI proxy" not in html


def test_the_twins_fit_to_the_persons_measurements_is_reported(plans, tmp_path):
    plan, html, _ = plans["measured"]
    fit = plan.effect.fit.set_index("quantity")
    crp = fit.loc["CRP (mg/L)"]
    assert crp["yours"] == 3.2 and crp["model_p05"] <= crp["model_median"] <= crp["model_p95"]
    assert crp["within_band"] == (crp["model_p05"] <= 3.2 <= crp["model_p95"])
    assert "How closely the model patients match your data" in html


def test_markers_the_model_does_not_use_are_refused_not_silently_kept():
    from gutaxis.errors import InputError
    from gutaxis.lifestyle.person import Person

    with pytest.raises(InputError, match="not used by the model"):
        Person(conditions=["SLE"], markers={"sledai": 6})
    with pytest.raises(InputError, match="rheumatoid arthritis score"):  # DAS28 is observed for RA only
        Person(markers={"das28": 3.4})
    with pytest.raises(InputError, match="check the unit"):
        Person(markers={"crp": 3200})
    assert Person(markers={"CRP": "3.2"}).markers == {"crp": 3.2}
