"""numba-compiled integrators over patients (compiled on first use, cached on disk).

The equations are not copied: the code objects of :mod:`gutaxis.axis.equations` are re-bound to
globals in which their helpers are the jitted versions, so numba compiles exactly the code that
the numpy and scipy paths run.

Two schemes share one kernel (``scheme`` 0 = classical RK4, 1 = ETDRK4):

* per patient, the derived constants (:func:`~gutaxis.axis.equations.derived`) and the ETD weights of
  the relaxation states are computed once; per day, the input terms
  (:func:`~gutaxis.axis.equations.day_terms`); per stage only the state-dependent right-hand side;
* ETDRK4 (Cox & Matthews 2002) integrates the linear decay of the relaxation states exactly and
  uses the Jacobian diagonal (frozen per step) as the linear part of the guilds, Baker p and GR, so a step of 0.5-1 day
  is stable and accurate although cortisol, CRP and the pathobionts relax within hours to a day.

Disk cache: numba invalidates a cached function only when *its own* file changes, not when a
function it calls from another file does. A cache locator registered here stamps every cached
function of this subpackage with a hash of ``_indices.py``, ``equations.py`` and ``_kernel.py`` instead.
"""

from __future__ import annotations

import hashlib
import os
import types

import numba
import numpy as np

from . import equations as _eq

_HERE = os.path.dirname(os.path.abspath(__file__))
_MARK = "_gutaxis_axis_locator"  # set on numba's caching module once our locators are in


def _package_stamp() -> str:
    h = hashlib.sha256()
    for name in ("_indices.py", "equations.py", "_kernel.py"):  # the files the compiled code comes from
        if os.path.exists(os.path.join(_HERE, name)):
            with open(os.path.join(_HERE, name), "rb") as fh:
                h.update(name.encode())
                h.update(fh.read())
    return h.hexdigest()


def _register_locator() -> bool:
    """Put a locator in front of numba's own ones for functions defined in this folder."""
    try:
        from numba.core import caching
    except ImportError:  # pragma: no cover
        return False
    if getattr(caching, _MARK, False):
        return True
    stamp = _package_stamp()
    base_classes = [
        c for c in caching.CacheImpl._locator_classes if c.__name__ in ("InTreeCacheLocator", "UserWideCacheLocator")
    ]
    made = []
    for base in base_classes:

        class _Loc(base):  # type: ignore[misc, valid-type]
            def get_source_stamp(self):
                return stamp

            @classmethod
            def from_function(cls, py_func, py_file):
                if os.path.dirname(os.path.abspath(py_file)) != _HERE:
                    return None
                return super().from_function(py_func, py_file)

        _Loc.__name__ = "GutaxisAxis" + base.__name__
        made.append(_Loc)
    caching.CacheImpl._locator_classes[0:0] = made
    setattr(caching, _MARK, True)
    return bool(made)


_CACHE = _register_locator()
_ns = dict(vars(_eq))


def _jit(name):
    fn = getattr(_eq, name)
    clone = types.FunctionType(fn.__code__, _ns, name, fn.__defaults__, fn.__closure__)
    _ns[name] = numba.njit(cache=_CACHE, fastmath=True, error_model="numpy")(clone)
    return _ns[name]


_jit("_pos")
_jit("_floor")
derived = _jit("derived")
day_terms = _jit("day_terms")
fast_core = _jit("fast_core")
rhs_core = _jit("rhs_core")
const_rates = _jit("const_rates")
stage_rates = _jit("stage_rates")
etd_coefficients = _jit("etd_coefficients")

_N_DERIVED = _eq.N_DERIVED
_N_DAY = _eq.N_DAY
_VAR = np.array([_eq.S_B, _eq.S_L, _eq.S_PB, _eq.S_BC, _eq.S_P, _eq.S_GR], dtype=np.int64)


@numba.njit(parallel=True, cache=_CACHE, fastmath=True, error_model="numpy")
def integrate(y0, P, base, mult, add, group, adh, n_sub, rec, out, scheme):  # pragma: no cover - compiled
    """Integrate each patient (parallel over patients), ``n_sub`` steps per day; see module docstring.

    ``out`` has shape ``(n_patients, n_records, n_states)`` so that each thread writes one
    contiguous block per patient (the engine returns a transposed view).
    """
    n_state, N = y0.shape
    n_days = mult.shape[0]
    n_in = base.shape[0]
    h = 1.0 / n_sub
    for j in numba.prange(N):
        p = P[:, j].copy()
        y = y0[:, j].copy()
        c = np.empty(_N_DERIVED)
        derived(p, c)
        dd = np.empty(_N_DAY)
        u = np.empty(n_in)
        k1 = np.empty(n_state)
        k2 = np.empty(n_state)
        k3 = np.empty(n_state)
        k4 = np.empty(n_state)
        ya = np.empty(n_state)
        yb = np.empty(n_state)
        yc = np.empty(n_state)
        lam = np.zeros(n_state)
        cE = np.ones(n_state)
        cE2 = np.ones(n_state)
        cQ = np.full(n_state, 0.5 * h)
        cf1 = np.full(n_state, h / 6.0)
        cf2 = np.full(n_state, h / 6.0)
        cf3 = np.full(n_state, h / 6.0)
        if scheme == 1:
            const_rates(p, lam)
            for i in range(n_state):
                cE[i], cE2[i], cQ[i], cf1[i], cf2[i], cf3[i] = etd_coefficients(lam[i], h)
        g = group[j]
        r = 0
        if rec[0] == 0:
            for i in range(n_state):
                out[j, 0, i] = y[i]
            r = 1
        for d in range(n_days):
            for i in range(n_in):
                b = base[i, j]
                u[i] = b + adh[j] * (b * mult[d, i, g] + add[d, i, g] - b)
            day_terms(p, c, u, dd)
            for _sub in range(n_sub):
                if scheme == 0:
                    rhs_core(y, p, c, dd, k1)
                    for i in range(n_state):
                        ya[i] = y[i] + 0.5 * h * k1[i]
                    rhs_core(ya, p, c, dd, k2)
                    for i in range(n_state):
                        ya[i] = y[i] + 0.5 * h * k2[i]
                    rhs_core(ya, p, c, dd, k3)
                    for i in range(n_state):
                        ya[i] = y[i] + h * k3[i]
                    rhs_core(ya, p, c, dd, k4)
                    for i in range(n_state):
                        y[i] = y[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
                else:
                    rhs_core(y, p, c, dd, k1)
                    stage_rates(y, p, c, dd, k1, lam)
                    for gi in range(_VAR.shape[0]):
                        i = _VAR[gi]
                        cE[i], cE2[i], cQ[i], cf1[i], cf2[i], cf3[i] = etd_coefficients(lam[i], h)
                    for i in range(n_state):
                        k1[i] += lam[i] * y[i]
                        ya[i] = cE2[i] * y[i] + cQ[i] * k1[i]
                    rhs_core(ya, p, c, dd, k2)
                    for i in range(n_state):
                        k2[i] += lam[i] * ya[i]
                        yb[i] = cE2[i] * y[i] + cQ[i] * k2[i]
                    rhs_core(yb, p, c, dd, k3)
                    for i in range(n_state):
                        k3[i] += lam[i] * yb[i]
                        yc[i] = cE2[i] * ya[i] + cQ[i] * (2.0 * k3[i] - k1[i])
                    rhs_core(yc, p, c, dd, k4)
                    for i in range(n_state):
                        k4[i] += lam[i] * yc[i]
                        y[i] = cE[i] * y[i] + cf1[i] * k1[i] + 2.0 * cf2[i] * (k2[i] + k3[i]) + cf3[i] * k4[i]
            if r < rec.shape[0] and rec[r] == d + 1:
                for i in range(n_state):
                    out[j, r, i] = y[i]
                r += 1
