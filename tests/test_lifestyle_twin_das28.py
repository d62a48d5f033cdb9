"""A measured DAS28 (rheumatoid arthritis) is an observed input of the twin: it moves the model
patients towards it and is shown as the person's own baseline; DAS28 without RA, SLEDAI and EDSS are
refused because the model would do nothing with them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gutaxis.axis.personal import twin
from gutaxis.errors import InputError
from gutaxis.lifestyle import plan as P
from gutaxis.lifestyle.person import Person, example_person


def _das28_median(**kw) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tw = twin(disease="ra", n_draws=200, seed=3, **kw)
    return float(tw.baseline().loc["disease_activity", "median"])


def test_a_measured_das28_moves_the_twin_towards_it():
    prior = _das28_median()
    high, low = _das28_median(markers={"das28": 6.8}), _das28_median(markers={"das28": 3.4})
    assert abs(high - 6.8) < abs(prior - 6.8) and high > prior
    assert abs(low - 3.4) < abs(prior - 3.4) and low < prior


def test_das28_needs_rheumatoid_arthritis():
    with pytest.raises(InputError, match=r"DAS28|RA"):
        twin(disease="sle", markers={"das28": 5.0}, n_draws=20)
    with pytest.raises(InputError, match="rheumatoid arthritis score"):
        Person(conditions=["SLE"], markers={"das28": 5.0})
    assert Person(conditions=["RA"], markers={"DAS28": 5.0}).markers == {"das28": 5.0}
    with pytest.raises(InputError, match=r"outside 0-9.4"):
        Person(conditions=["RA"], markers={"das28": 12})


@pytest.mark.parametrize("score", ["sledai", "EDSS"])
def test_scores_the_model_does_not_observe_are_refused_with_the_reason(score):
    with pytest.raises(InputError, match="not calibrated to SLEDAI points"):
        Person(conditions=["SLE", "MS"], markers={score: 4})


def test_the_plan_shows_a_measured_das28_as_the_persons_own_baseline():
    def effect(markers):
        p = example_person()
        p.markers = markers
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return P.build_plan(p, n_draws=60, days=56, seed=0).effect

    without, with_ = effect({}), effect({"das28": 5.9})
    assert without.available and with_.available
    assert without.summary.loc["disease_activity", "baseline_source"] == "model patient (not measured)"
    assert with_.summary.loc["disease_activity", "baseline_source"] == "yours: 5.9 DAS28 (measured)"
    fit = with_.fit.set_index("quantity")
    assert fit.loc["DAS28", "yours"] == 5.9
    # the measurement changed the model patients: their baseline DAS28 is nearer 5.9 than without it
    assert abs(with_.summary.loc["disease_activity", "baseline"] - 5.9) < abs(
        without.summary.loc["disease_activity", "baseline"] - 5.9
    )
    assert np.isfinite(with_.summary.loc["disease_activity", "effect_median"])
