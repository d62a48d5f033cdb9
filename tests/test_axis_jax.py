"""The optional JAX engine (``method="jax"``, extra ``gutaxis[jax]``): agreement with the scipy and
numba engines on a small mixed population under diet and stress changes, recording options, and
the error a user without JAX gets."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from gutaxis import axis
from gutaxis.axis import equations as eq
from gutaxis.errors import GutaxisError


@pytest.fixture(scope="module")
def mixed(mixed_axis_population):
    return mixed_axis_population(12)  # the population and schedule of test_axis_model.py, smaller


def test_jax_agrees_with_scipy_and_numba(mixed):
    P, y0, U, s, g = mixed
    j = axis.simulate(P, y0, U, s, g, method="jax", rtol=1e-9, atol=1e-12)
    assert j.states.shape == (61, eq.N_STATES, P.shape[1]) and j.meta["method"] == "jax"
    c = axis.simulate(P[:, :6], y0[:, :6], U[:, :6], s, g[:6], method="scipy", rtol=1e-9, atol=1e-12)
    # two adaptive solvers at the same tolerances: the bound test_engines_agree sets for numba at dt = 0.05 d
    np.testing.assert_allclose(j.states[:, :, :6], c.states, rtol=1e-4, atol=1e-8)
    # and the fixed-step engines, at their own accuracy (test_engines_agree's bound at dt = 0.25 d)
    for method in ("numba", "numpy"):
        a = axis.simulate(P, y0, U, s, g, dt=0.25, method=method)
        np.testing.assert_allclose(a.states, j.states, rtol=1e-2, atol=1e-6)
    # the QSSA read-outs follow from the states alike
    fj, fc = j.outputs(), c.outputs()
    for k in ("il6", "tnf", "CRP", "lm", "lps", "butyrate", "cortisol"):
        np.testing.assert_allclose(fj[k][:, :6], fc[k], rtol=1e-4, atol=1e-8)


def test_jax_record_options_and_solvers(mixed):
    P, y0, U, s, g = mixed
    P, y0, U, g = P[:, :4], y0[:, :4], U[:, :4], g[:4]
    full = axis.simulate(P, y0, U, s, g, method="jax", rtol=1e-8, atol=1e-10)
    end = axis.simulate(P, y0, U, s, g, method="jax", rtol=1e-8, atol=1e-10, record="end")
    some = axis.simulate(P, y0, U, s, g, method="jax", rtol=1e-8, atol=1e-10, record=[7, 30, 12], chunk=3)
    np.testing.assert_array_equal(end.days, [0, 60])
    np.testing.assert_allclose(end.states, full.states[[0, 60]], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(some.days, [7, 12, 30])
    np.testing.assert_allclose(some.states, full.states[[7, 12, 30]], rtol=1e-12, atol=0)
    stiff = axis.simulate(P, y0, U, s, g, method="jax", solver="kvaerno5", rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(stiff.states, full.states, rtol=1e-5, atol=1e-8)
    f32 = axis.simulate(P, y0, U, s, g, method="jax", rtol=1e-8, atol=1e-10, dtype=np.float32)
    assert f32.states.dtype == np.float32
    with pytest.raises(GutaxisError, match="solver"):
        axis.simulate(P, y0, U, s, g, method="jax", solver="euler")


def test_jax_missing_gives_install_hint(mixed, monkeypatch):
    P, y0, U, s, g = mixed
    monkeypatch.setitem(sys.modules, "diffrax", None)  # import diffrax -> ImportError
    with pytest.raises(GutaxisError, match=r'pip install "gutaxis\[jax\]"'):
        axis.simulate(P[:, :2], y0[:, :2], U[:, :2], s, g[:2], method="jax")
