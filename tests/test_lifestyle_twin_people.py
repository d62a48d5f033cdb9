"""Issue 11 acceptance: the example person and three realistic people (RA with a real MetaPhlAn 2
profile of the GMHI validation cohort, SLE, MS) each get a simulated effect; each table is printed
(``pytest -s``)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from gutaxis.lifestyle import plan as P
from gutaxis.lifestyle.person import example_person


def _person(kind, shared):
    p = example_person()
    p.synthetic = True
    if kind == "ra_real_profile":  # a real RA stool profile: the first RA sample of the GMHI validation cohort
        import gutaxis

        cohort = gutaxis.read_profile(
            shared("data", "gmhi2020_validation", "validation_abundance.csv"),
            metadata=shared("data", "gmhi2020_validation", "validation_metadata.csv"),
        )
        ra = cohort.obs_names[cohort.obs["Phenotype_all"].astype(str).str.strip() == "Rheumatoid arthritis"]
        p.profile = cohort[[ra[0]]].copy()
        p.conditions = ["RA"]
    elif kind == "sle":
        p.conditions, p.profile = ["SLE"], None
    elif kind == "ms":
        p.conditions, p.profile = ["MS"], None
    return p


@pytest.mark.parametrize("kind", ["example", "ra_real_profile", "sle", "ms"])
def test_realistic_people_get_a_simulated_effect(kind, shared):
    person = _person(kind, shared)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = P.build_plan(person, n_draws=200, days=84, seed=0)
    eff = plan.effect
    assert eff.available, eff.message
    cols = [
        "label",
        "unit",
        "baseline_source",
        "usual_median",
        "plan_median",
        "effect_median",
        "effect_p05",
        "effect_p95",
    ]
    with pd.option_context("display.width", 220, "display.max_colwidth", 60):
        print(
            f"\n{kind}: {', '.join(person.conditions)}; fitted {eff.meta.get('n_plausible')} of "
            f"{eff.meta.get('n_candidates')} model patients\n{eff.summary[cols].round(3).to_string()}"
        )
    assert set(eff.summary.index) >= {"diversity", "butyrate", "il6", "crp", "disease_activity"}
    assert "Baker p" not in eff.summary["unit"].tolist()
