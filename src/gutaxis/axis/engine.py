"""Integrators for the axis model: numba RK4 over patients (default), numpy RK4, scipy solve_ivp.

All three integrate the same equations (:mod:`gutaxis.axis.equations`) with inputs held constant
within each day (piecewise-constant schedules). The fixed-step RK4 engines take ``1/dt`` steps per
day so that every step lies within one day; the fast quantities are in quasi-steady state, so the
slow system is non-stiff on the day scale (fastest rate ~2 /d; RK4 is stable for dt*rate < 2.7).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from . import equations as eq
from .equations import FAST_NAMES, INPUT_NAMES, N_INPUTS, N_PARAMS, N_STATES, STATE_NAMES
from .inputs import Schedule

__all__ = ["Trajectory", "simulate", "healthy_state", "steady_state", "fast_quantities", "OUTPUT_NAMES"]

OUTPUT_NAMES = STATE_NAMES + FAST_NAMES + ("cortisol", "das28", "sledai")


def _get_kernel():
    """The numba RK4 kernel (imported lazily: compiling costs seconds on first use)."""
    from ._kernel import rk4_kernel

    return rk4_kernel


@dataclass
class Trajectory:
    """Simulated states at the recorded days.

    ``states`` has shape ``(n_times, N_STATES, n_patients)``; ``inputs`` the inputs of the day that
    ends at each recorded time (a read-out at day d is taken at the end of day d; at t = 0 the
    baseline inputs), so that the QSSA quantities match what a measurement would see.
    """

    days: np.ndarray
    states: np.ndarray
    inputs: np.ndarray
    params: np.ndarray
    meta: dict = field(default_factory=dict)

    def state(self, name: str) -> np.ndarray:
        """``(n_times, n_patients)`` trajectory of one slow state."""
        return self.states[:, STATE_NAMES.index(name)]

    def output(self, name: str) -> np.ndarray:
        """``(n_times, n_patients)`` trajectory of any output in :data:`OUTPUT_NAMES`."""
        if name in STATE_NAMES:
            return self.state(name)
        return fast_quantities(self.states, self.params, self.inputs)[name]

    def outputs(self) -> dict:
        """All outputs as a dict name -> ``(n_times, n_patients)`` array."""
        out = {n: self.states[:, i] for i, n in enumerate(STATE_NAMES)}
        out.update(fast_quantities(self.states, self.params, self.inputs))
        return out


def fast_quantities(states: np.ndarray, params: np.ndarray, inputs: np.ndarray) -> dict:
    """QSSA quantities and clinical read-outs for states ``(..., N_STATES, n)``.

    ``params`` is ``(N_PARAMS, n)``; ``inputs`` has the same leading shape as ``states``.
    """
    y = np.moveaxis(states, -2, 0)
    u = np.moveaxis(inputs, -2, 0)
    p = params.reshape((N_PARAMS,) + (1,) * (y.ndim - 2) + (params.shape[-1],))
    vals = eq.fast(y, p, u)
    out = {n: np.asarray(v) for n, v in zip(FAST_NAMES, vals)}
    pt = eq.PARAM_NAMES
    out["cortisol"] = y[eq.S_O] * p[pt.index("cort_ref")]
    pinf = y[eq.S_P]
    ra = u[eq.U_RA]
    sle = u[eq.U_SLE]
    out["das28"] = np.where(ra > 0, p[pt.index("das_c0")] + p[pt.index("das_c1")] * pinf, np.nan)
    out["sledai"] = np.where(sle > 0, p[pt.index("sledai_c1")] * pinf, np.nan)
    return out


def healthy_state(params: np.ndarray) -> np.ndarray:
    """The reference steady state ``(N_STATES, n)``: guilds at their references, O = GR = 1, etc.

    Exact for the reference inputs except p/a/CRP, which are set to their healthy Baker values and
    the CRP implied by IL-6 = il6_b; use :func:`steady_state` to relax to a patient's own inputs.
    """
    P = np.atleast_2d(np.asarray(params, dtype=float).T).T
    n = P.shape[1]
    g = lambda k: P[eq.PARAM_NAMES.index(k)]  # noqa: E731
    y = np.empty((N_STATES, n))
    y[eq.S_B] = g("B_ref")
    y[eq.S_L] = g("L_ref")
    y[eq.S_PB] = g("Pb_ref")
    y[eq.S_BC] = g("Bc_ref")
    y[eq.S_R] = g("R_ref")
    y[eq.S_IP] = g("IP_ref")
    y[eq.S_LBP] = g("LBP_ref")
    y[eq.S_TREG] = g("Treg_ref")
    y[eq.S_TH17] = g("Th17_ref")
    y[eq.S_O] = 1.0
    y[eq.S_GR] = 1.0
    y[eq.S_P] = eq.P_HEALTHY
    y[eq.S_A] = 0.00577668
    il6 = g("il6_b")
    y[eq.S_CRP] = g("crp_gain") * g("crp_max") * il6 / (g("crp_K") + il6)
    return y


def _check(P, y0, base, schedule, group, adherence):
    P = np.ascontiguousarray(P, dtype=float)
    y0 = np.ascontiguousarray(y0, dtype=float)
    base = np.ascontiguousarray(base, dtype=float)
    if P.ndim != 2 or P.shape[0] != N_PARAMS:
        raise InputError(f"params must have shape ({N_PARAMS}, n_patients), got {P.shape}")
    n = P.shape[1]
    if y0.shape != (N_STATES, n):
        raise InputError(f"y0 must have shape ({N_STATES}, {n}), got {y0.shape}")
    if base.shape != (N_INPUTS, n):
        raise InputError(f"baseline inputs must have shape ({N_INPUTS}, {n}) in the order {INPUT_NAMES}, got {base.shape}")
    group = np.zeros(n, dtype=np.int64) if group is None else np.ascontiguousarray(group, dtype=np.int64)
    if group.shape != (n,) or group.min(initial=0) < 0 or group.max(initial=0) >= schedule.n_groups:
        raise InputError(f"group must be {n} indices into the schedule's {schedule.n_groups} groups")
    adherence = np.ones(n) if adherence is None else np.ascontiguousarray(np.broadcast_to(adherence, (n,)), dtype=float)
    return P, y0, base, group, adherence


def simulate(
    params,
    y0,
    base_inputs,
    schedule: Schedule,
    group=None,
    adherence=None,
    *,
    dt: float = 0.25,
    method: str = "numba",
    record="daily",
    rtol: float = 1e-8,
    atol: float = 1e-10,
) -> Trajectory:
    """Simulate patients over ``schedule.n_days`` days.

    Parameters
    ----------
    params : (N_PARAMS, n) array
    y0 : (N_STATES, n) array of initial states
    base_inputs : (N_INPUTS, n) array of each patient's usual inputs (order :data:`INPUT_NAMES`)
    schedule : :class:`~gutaxis.axis.inputs.Schedule`
    group : (n,) int array, the schedule group (arm) of each patient (default all 0)
    adherence : (n,) array in [0, 1] scaling each patient's deviation from baseline (default 1)
    dt : RK4 step in days; ``1/dt`` must be an integer
    method : ``"numba"`` (parallel over patients), ``"numpy"`` (vectorised RHS) or ``"scipy"``
        (``solve_ivp`` LSODA per patient and per constant-input segment; reference path)
    record : ``"daily"``, ``"end"`` or a sorted array of integer days to keep
    """
    P, y0, base, group, adh = _check(params, y0, base_inputs, schedule, group, adherence)
    n_days = schedule.n_days
    if record == "daily":
        rec = np.arange(n_days + 1)
    elif record == "end":
        rec = np.array([0, n_days])
    else:
        rec = np.unique(np.asarray(record, dtype=np.int64))
        if rec.min() < 0 or rec.max() > n_days:
            raise InputError(f"record days must lie in 0-{n_days}")
    rec = rec.astype(np.int64)
    n_sub = int(round(1.0 / dt))
    if method != "scipy" and (n_sub < 1 or abs(n_sub * dt - 1.0) > 1e-12):
        raise InputError(f"dt={dt} must divide one day (e.g. 0.5, 0.25, 0.1)")
    n = P.shape[1]
    mult = np.ascontiguousarray(schedule.mult)
    add = np.ascontiguousarray(schedule.add)
    if method == "numba":
        out = np.empty((rec.size, N_STATES, n))
        _get_kernel()(y0, P, base, mult, add, group, adh, n_sub, rec, out)
    elif method == "numpy":
        out = _rk4_numpy(y0, P, base, mult, add, group, adh, n_sub, rec)
    elif method == "scipy":
        out = _scipy(y0, P, base, mult, add, group, adh, rec, rtol, atol)
    else:
        raise InputError(f"unknown method {method!r}", hint="use 'numba', 'numpy' or 'scipy'")
    # inputs in force during the day that ends at each recorded time (baseline inputs at t = 0)
    dd = np.maximum(rec - 1, 0)
    target = base[None] * mult[dd][:, :, group] + add[dd][:, :, group]
    U = base[None] + adh[None, None] * (target - base[None])
    U[rec == 0] = base
    return Trajectory(days=rec.astype(float), states=out, inputs=U, params=P, meta={"dt": dt, "method": method})


def _day_inputs(base, mult, add, group, adh, d):
    target = base * mult[d][:, group] + add[d][:, group]
    return base + adh * (target - base)


def _rk4_numpy(y0, P, base, mult, add, group, adh, n_sub, rec):
    y = y0.copy()
    out = np.empty((rec.size, N_STATES, y.shape[1]))
    k = [np.empty_like(y) for _ in range(4)]
    r = 0
    if rec[0] == 0:
        out[0] = y
        r = 1
    h = 1.0 / n_sub
    for d in range(mult.shape[0]):
        u = _day_inputs(base, mult, add, group, adh, d)
        for _ in range(n_sub):
            eq.rhs(y, P, u, k[0])
            eq.rhs(y + 0.5 * h * k[0], P, u, k[1])
            eq.rhs(y + 0.5 * h * k[1], P, u, k[2])
            eq.rhs(y + h * k[2], P, u, k[3])
            y = y + h / 6.0 * (k[0] + 2 * k[1] + 2 * k[2] + k[3])
        if r < rec.size and rec[r] == d + 1:
            out[r] = y
            r += 1
    return out


def _scipy(y0, P, base, mult, add, group, adh, rec, rtol, atol):
    from scipy.integrate import solve_ivp

    n_days = mult.shape[0]
    out = np.empty((rec.size, N_STATES, y0.shape[1]))
    for j in range(y0.shape[1]):
        p = P[:, j]
        U = np.stack([_day_inputs(base[:, j : j + 1], mult, add, group[j : j + 1], adh[j : j + 1], d)[:, 0] for d in range(n_days)])
        # segments of constant inputs
        change = np.flatnonzero(np.any(np.diff(U, axis=0) != 0, axis=1)) + 1
        edges = np.concatenate([[0], change, [n_days]])
        y = y0[:, j].copy()
        for a, b in zip(edges[:-1], edges[1:]):
            u = U[a]
            t_eval = rec[(rec >= a) & (rec <= b)].astype(float)

            def f(t, yy, u=u, p=p):
                return eq.rhs(yy, p, u, np.empty(N_STATES))

            sol = solve_ivp(f, (a, b), y, method="LSODA", t_eval=t_eval, rtol=rtol, atol=atol)
            if not sol.success:  # pragma: no cover
                raise RuntimeError(f"solve_ivp failed for patient {j}: {sol.message}")
            for t, col in zip(sol.t, sol.y.T):
                out[np.searchsorted(rec, int(round(t))), :, j] = col
            y = sol.y[:, -1] if sol.t.size and sol.t[-1] == b else solve_ivp(f, (a, b), y, method="LSODA", rtol=rtol, atol=atol).y[:, -1]
    return out


def steady_state(params, base_inputs, y0=None, *, days: int = 400, dt: float = 0.5, method: str = "numba"):
    """Relax each patient to the steady state of their own baseline inputs.

    Starts from ``y0`` (default :func:`healthy_state`; pass a chronic-branch start for RA/SLE
    patients) and integrates ``days`` days. Returns ``(y_ss, max_rel_rate)``: the final states and
    the largest relative rate ``|dy/dt| / max(|y|, 1e-3)`` per patient (a convergence check).
    """
    P = np.asarray(params, dtype=float)
    n = P.shape[1]
    y0 = healthy_state(P) if y0 is None else y0
    tr = simulate(P, y0, base_inputs, Schedule.baseline(days), dt=dt, method=method, record="end")
    y = tr.states[-1]
    dy = eq.rhs(y, P, np.asarray(base_inputs, float), np.empty_like(y))
    rel = np.max(np.abs(dy) / np.maximum(np.abs(y), 1e-3), axis=0)
    return y, rel
