"""Optional: simulate BIOMD0000000550 with libroadrunner and compare with the gutaxis tissue core."""

from __future__ import annotations

import numpy as np
import pytest

from gutaxis import axis
from gutaxis.axis import equations as eq

roadrunner = pytest.importorskip("roadrunner")


def _gutaxis_core(alpha2, p0, a0, t_end):
    P = axis.parameter_matrix(1, {"alpha2": alpha2, "beta_L": 0.0, "beta_17": 0.0, "beta_T": 0.0, "k_A": 1.0})
    y0 = axis.healthy_state(P)
    y0[eq.S_P], y0[eq.S_A] = p0, a0
    tr = axis.simulate(P, y0, axis.reference_inputs(1), axis.Schedule.baseline(t_end), dt=0.05, record="end")
    return tr.states[-1, eq.S_P, 0], tr.states[-1, eq.S_A, 0]


@pytest.mark.parametrize("alpha2,p0,a0", [(1.0, 0.5, 0.1), (12.0, 0.01, 0.0), (12.0, 2.0, 1.0)])
def test_roadrunner_biomd550_matches_gutaxis_core(shared, alpha2, p0, a0):
    rr = roadrunner.RoadRunner(str(shared("data", "biomodels_sbml", "BIOMD0000000550.xml")))
    rr["parameter_2"] = alpha2
    # the SBML species are boundary species driven by rate rules; set their initial values
    rr["species_2"] = p0
    rr["species_1"] = a0
    res = rr.simulate(0, 100, 1001)
    cols = [c.strip("[]") for c in res.colnames]
    p_rr = res[-1, cols.index("species_2")]
    a_rr = res[-1, cols.index("species_1")]
    p_gx, a_gx = _gutaxis_core(alpha2, p0, a0, 100)
    assert p_gx == pytest.approx(p_rr, rel=1e-4)
    assert a_gx == pytest.approx(a_rr, rel=1e-4)
