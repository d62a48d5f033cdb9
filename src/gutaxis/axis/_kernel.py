"""numba-compiled RK4 kernel over patients (compiled on first use, cached on disk).

The equations are not copied: the code objects of :mod:`gutaxis.axis.equations` are re-bound to
globals in which their helpers are the jitted versions, so numba compiles exactly the code that
the numpy and scipy paths run.
"""

from __future__ import annotations

import types

import numba
import numpy as np

from . import equations as _eq

_ns = dict(vars(_eq))


def _jit(name):
    fn = getattr(_eq, name)
    clone = types.FunctionType(fn.__code__, _ns, name, fn.__defaults__, fn.__closure__)
    _ns[name] = numba.njit(cache=True, fastmath=True, error_model="numpy")(clone)
    return _ns[name]


_jit("_pos")
_jit("_floor")
_jit("fast")
rhs = _jit("rhs")


@numba.njit(parallel=True, cache=True, fastmath=True, error_model="numpy")
def rk4_kernel(y0, P, base, mult, add, group, adh, n_sub, rec, out):  # pragma: no cover - compiled
    """Integrate each patient (parallel over patients) with ``n_sub`` RK4 steps per day."""
    n_state, N = y0.shape
    n_days = mult.shape[0]
    n_in = base.shape[0]
    dt = 1.0 / n_sub
    for j in numba.prange(N):
        p = P[:, j].copy()
        y = y0[:, j].copy()
        u = np.empty(n_in)
        k1 = np.empty(n_state)
        k2 = np.empty(n_state)
        k3 = np.empty(n_state)
        k4 = np.empty(n_state)
        yt = np.empty(n_state)
        g = group[j]
        r = 0
        if rec[0] == 0:
            out[0, :, j] = y
            r = 1
        for d in range(n_days):
            for i in range(n_in):
                b = base[i, j]
                u[i] = b + adh[j] * (b * mult[d, i, g] + add[d, i, g] - b)
            for s in range(n_sub):
                rhs(y, p, u, k1)
                for i in range(n_state):
                    yt[i] = y[i] + 0.5 * dt * k1[i]
                rhs(yt, p, u, k2)
                for i in range(n_state):
                    yt[i] = y[i] + 0.5 * dt * k2[i]
                rhs(yt, p, u, k3)
                for i in range(n_state):
                    yt[i] = y[i] + dt * k3[i]
                rhs(yt, p, u, k4)
                for i in range(n_state):
                    y[i] = y[i] + dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
            if r < rec.shape[0] and rec[r] == d + 1:
                out[r, :, j] = y
                r += 1
