"""Sobol sensitivity (SALib): indices are finite, and the dominant parameters are the expected ones."""

from __future__ import annotations

import numpy as np
import pytest
import SALib  # noqa: F401  (in the test extra: a missing package fails, not skips)

from gutaxis.axis import Schedule
from gutaxis.errors import InputError


def test_sobol_ranks_the_driving_parameters():
    from gutaxis.axis.sensitivity import sobol_sensitivity

    names = ["il6_b", "R_ref", "e_R_ff", "K_FF", "bu_ref", "cv_il6"]  # cv_il6 is fixed: rejected below
    with pytest.raises(InputError, match="unknown parameter"):
        sobol_sensitivity(("R",), params=["not_a_parameter"], n_base=8)
    r = sobol_sensitivity(
        ("il6", "R"),
        schedule=Schedule.baseline(56).shift(fermented=6.0),
        params=names[:5],
        n_base=64,
        relax_days=200,
        seed=1,
    )
    assert np.isfinite(r[["S1", "ST"]].to_numpy()).all()
    il6 = r.loc["il6"]
    assert il6["ST"].idxmax() == "il6_b"  # IL-6 change scales with the person's IL-6 level
    dR = r.loc["R"]
    assert set(dR["ST"].nlargest(2).index) == {"R_ref", "e_R_ff"}  # diversity gain of fermented food
    assert dR.loc["bu_ref", "ST"] < 0.02 and dR.loc["il6_b", "ST"] < 0.02  # not involved
