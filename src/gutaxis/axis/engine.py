"""Integrators for the axis model: numba over patients (default), numpy, scipy solve_ivp, and an
optional JAX/diffrax engine (:mod:`gutaxis.axis._jax`, ``pip install "gutaxis[jax]"``).

All of them integrate the same equations (:mod:`gutaxis.axis.equations`) with inputs held constant
within each day (piecewise-constant schedules). The fixed-step engines take ``1/dt`` steps per day
so that every step lies within one day. Two fixed-step schemes:

* ``"etd4"`` (default): exponential time differencing RK4 (Cox & Matthews 2002,
  doi:10.1006/jcph.2002.6995). The linear decay of the relaxation states (cortisol, CRP,
  permeability, LBP, T cells, Baker core, GR, diversity) is integrated exactly and the guilds use
  their Jacobian diagonal, so dt = 0.5-1 d is stable and accurate although the fastest rates reach
  ~5 /d under extreme diets;
* ``"rk4"``: classical RK4 (stable for dt * rate < 2.7; use dt <= 0.25 d for extreme inputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from ..errors import InputError
from . import equations as eq
from .equations import FAST_NAMES, INPUT_NAMES, N_INPUTS, N_PARAMS, N_STATES, STATE_NAMES
from .inputs import Schedule

__all__ = ["OUTPUT_NAMES", "Trajectory", "fast_quantities", "healthy_state", "simulate", "steady_state"]

OUTPUT_NAMES = STATE_NAMES + FAST_NAMES + ("cortisol", "das28", "sledai")


_SCHEMES = {"rk4": 0, "etd4": 1}


def _get_kernel():
    """The numba kernel (imported lazily: compiling costs seconds on first use, then it is cached)."""
    from ._kernel import integrate

    return integrate


@dataclass
class Trajectory:
    """Simulated states at the recorded days.

    ``states`` has shape ``(n_times, N_STATES, n_patients)`` (a view of patient-major memory);
    ``inputs`` the inputs of the day that ends at each recorded time (a read-out at day d is taken at
    the end of day d; at t = 0 the baseline inputs), so that the QSSA quantities match what a
    measurement would see. ``inputs`` is materialised on first use (it is as large as ``states``);
    :meth:`inputs_at` gives one recorded time cheaply.
    """

    days: np.ndarray
    states: np.ndarray
    params: np.ndarray
    meta: dict = field(default_factory=dict)
    _plan: tuple | None = field(default=None, repr=False)
    _inputs: np.ndarray | None = field(default=None, repr=False)

    def inputs_at(self, i: int) -> np.ndarray:
        """``(N_INPUTS, n_patients)`` inputs in force at recorded time index ``i``."""
        if self._inputs is not None:
            return self._inputs[i]
        if self._plan is None:
            raise ValueError("Trajectory has neither inputs nor the plan to rebuild them")
        base, mult, add, group, adh = self._plan
        if self.days[i] == 0:
            return base.copy()
        d = int(self.days[i]) - 1
        return base + adh * (base * mult[d][:, group] + add[d][:, group] - base)

    @property
    def inputs(self) -> np.ndarray:
        """``(n_times, N_INPUTS, n_patients)`` inputs at the recorded times."""
        if self._inputs is None:
            self._inputs = np.stack([self.inputs_at(i) for i in range(self.days.size)])
        return self._inputs

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
    out = {n: np.asarray(v) for n, v in zip(FAST_NAMES, vals, strict=True)}
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
        raise InputError(
            f"baseline inputs must have shape ({N_INPUTS}, {n}) in the order {INPUT_NAMES}, got {base.shape}"
        )
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
    dt: float = 0.5,
    method: str = "numba",
    record="daily",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    scheme: str = "etd4",
    dtype=np.float64,
    solver: str = "tsit5",
    chunk: int | None = None,
    client=None,
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
    dt : step in days; ``1/dt`` must be an integer (default 0.5)
    method : ``"numba"`` (parallel over patients), ``"numpy"`` (vectorised RHS) or ``"scipy"``
        (``solve_ivp`` LSODA per patient and per constant-input segment; reference path) or
        ``"jax"`` (optional extra: diffrax, adaptive steps within each day, ``vmap`` over patients,
        float64, CPU or GPU; ``rtol``/``atol``, ``solver`` and ``chunk`` apply)
    record : ``"daily"``, ``"end"`` or a sorted array of integer days to keep
    scheme : ``"etd4"`` (exponential RK4, default) or ``"rk4"`` (fixed-step engines only)
    dtype : dtype of the recorded states (``np.float32`` halves the memory of large runs; the
        integration itself is always in float64)
    solver : ``"jax"`` only: ``"tsit5"`` (default), ``"dopri5"`` or ``"kvaerno5"`` (implicit, stiff)
    chunk : ``"jax"`` only: patients per device call (default all), to bound device memory
    client : a :class:`dask.distributed.Client` (or a scheduler address): patients are simulated in
        blocks on the cluster, each patient's trajectory equal to the single-machine one to the last
        bit (``docs/scale.md``); ``None`` (default): this machine
    """
    P, y0, base, group, adh = _check(params, y0, base_inputs, schedule, group, adherence)
    n_days = schedule.n_days
    if isinstance(record, str) and record == "daily":
        rec = np.arange(n_days + 1)
    elif isinstance(record, str) and record == "end":
        rec = np.array([0, n_days])
    else:
        if isinstance(record, str):
            raise InputError(f"record={record!r}", hint="use 'daily', 'end' or a list of days")
        rec = np.unique(np.asarray(record, dtype=np.int64))
        if rec.size == 0 or rec.min() < 0 or rec.max() > n_days:
            raise InputError(f"record days must lie in 0-{n_days}")
    rec = rec.astype(np.int64)
    n_sub = round(float(1.0 / dt))
    if method not in ("scipy", "jax") and (n_sub < 1 or abs(n_sub * dt - 1.0) > 1e-12):
        raise InputError(f"dt={dt} must divide one day (e.g. 0.5, 0.25, 0.1)")
    if scheme not in _SCHEMES:
        raise InputError(f"unknown scheme {scheme!r}", hint="use 'etd4' or 'rk4'")
    n = P.shape[1]
    mult = np.ascontiguousarray(schedule.mult)
    add = np.ascontiguousarray(schedule.add)
    if client is not None and method in ("numba", "numpy", "scipy", "jax"):  # patients in blocks on the cluster
        from ..scale import check_client
        from ._engine_dask import simulate_blocks

        opts = {"dt": dt, "method": method, "record": rec, "rtol": rtol, "atol": atol, "scheme": scheme}
        opts.update(dtype=dtype, solver=solver, chunk=chunk)
        out = simulate_blocks(check_client(client), P, y0, base, schedule, group, adh, opts)
    elif method == "numba":
        # patient-major memory (each thread writes contiguously); exposed as a (time, state, patient) view
        buf = np.empty((n, rec.size, N_STATES), dtype=dtype)
        _get_kernel()(y0, P, base, mult, add, group, adh, n_sub, rec, buf, _SCHEMES[scheme])
        out = buf.transpose(1, 2, 0)
    elif method == "numpy":
        out = _integrate_numpy(y0, P, base, mult, add, group, adh, n_sub, rec, _SCHEMES[scheme]).astype(
            dtype, copy=False
        )
    elif method == "scipy":
        out = _scipy(y0, P, base, mult, add, group, adh, rec, rtol, atol)
    elif method == "jax":
        from . import _jax

        out = _jax.integrate(y0, P, base, mult, add, group, adh, rec, rtol, atol, solver=solver, chunk=chunk)
        out = out.astype(dtype, copy=False)
    else:
        raise InputError(f"unknown method {method!r}", hint="use 'numba', 'numpy', 'scipy' or 'jax'")
    meta = {"dt": dt, "method": method, "scheme": scheme}
    if method == "jax":
        meta.update(solver=solver, rtol=rtol, atol=atol)
    return Trajectory(days=rec.astype(float), states=out, params=P, meta=meta, _plan=(base, mult, add, group, adh))


def _day_inputs(base, mult, add, group, adh, d):
    target = base * mult[d][:, group] + add[d][:, group]
    return base + adh * (target - base)


def _etd_coefficients_np(lam, h):
    """Vectorised :func:`gutaxis.axis.equations.etd_coefficients`."""
    z = -lam * h
    small = np.abs(z) < 0.2
    zs = np.where(small, 1.0, z)
    E2 = np.exp(0.5 * z)
    E = E2 * E2
    iz3 = h / zs**3
    Q = np.where(
        small, 0.5 * h * (1 + z / 4 + z**2 / 24 + z**3 / 192 + z**4 / 1920 + z**5 / 23040), h * (E2 - 1.0) / zs
    )
    f1 = np.where(
        small,
        h * (1 / 6 + z / 6 + 3 * z**2 / 40 + z**3 / 45 + 5 * z**4 / 1008 + z**5 / 1120 + 7 * z**6 / 51840),
        (-4 - zs + E * (4 - 3 * zs + zs * zs)) * iz3,
    )
    f2 = np.where(
        small,
        h * (1 / 6 + z / 12 + z**2 / 40 + z**3 / 180 + z**4 / 1008 + z**5 / 6720 + z**6 / 51840),
        (2 + zs + E * (-2 + zs)) * iz3,
    )
    f3 = np.where(
        small,
        h * (1 / 6 - z**2 / 120 - z**3 / 360 - z**4 / 1680 - z**5 / 10080 - z**6 / 72576),
        (-4 - 3 * zs - zs * zs + E * (4 - zs)) * iz3,
    )
    return E, E2, Q, f1, f2, f3


def _integrate_numpy(y0, P, base, mult, add, group, adh, n_sub, rec, scheme):
    y = y0.copy()
    n = y.shape[1]
    out = np.empty((rec.size, N_STATES, n))
    c = eq.derived(P, np.empty((eq.N_DERIVED, n)))
    dd = np.empty((eq.N_DAY, n))
    lam = np.zeros((N_STATES, n))
    h = 1.0 / n_sub
    if scheme == 1:
        eq.const_rates(P, lam)
    coef = _etd_coefficients_np(lam, h)
    g_rows = [eq.S_B, eq.S_L, eq.S_PB, eq.S_BC, eq.S_P, eq.S_GR]
    k1, k2, k3, k4 = (np.empty_like(y) for _ in range(4))
    r = 0
    if rec[0] == 0:
        out[0] = y
        r = 1
    for d in range(mult.shape[0]):
        u = _day_inputs(base, mult, add, group, adh, d)
        eq.day_terms(P, c, u, dd)
        for _ in range(n_sub):
            if scheme == 0:
                eq.rhs_core(y, P, c, dd, k1)
                eq.rhs_core(y + 0.5 * h * k1, P, c, dd, k2)
                eq.rhs_core(y + 0.5 * h * k2, P, c, dd, k3)
                eq.rhs_core(y + h * k3, P, c, dd, k4)
                y = y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
                continue
            eq.rhs_core(y, P, c, dd, k1)
            eq.stage_rates(y, P, c, dd, k1, lam)
            gc = _etd_coefficients_np(lam[g_rows], h)
            for cf, gv in zip(coef, gc, strict=True):
                cf[g_rows] = gv
            E, E2, Q, f1, f2, f3 = coef
            n1 = k1 + lam * y
            ya = E2 * y + Q * n1
            n2 = eq.rhs_core(ya, P, c, dd, k2) + lam * ya
            yb = E2 * y + Q * n2
            n3 = eq.rhs_core(yb, P, c, dd, k3) + lam * yb
            yc = E2 * ya + Q * (2.0 * n3 - n1)
            n4 = eq.rhs_core(yc, P, c, dd, k4) + lam * yc
            y = E * y + f1 * n1 + 2.0 * f2 * (n2 + n3) + f3 * n4
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
        U = np.stack(
            [
                _day_inputs(base[:, j : j + 1], mult, add, group[j : j + 1], adh[j : j + 1], d)[:, 0]
                for d in range(n_days)
            ]
        )
        # segments of constant inputs
        change = np.flatnonzero(np.any(np.diff(U, axis=0) != 0, axis=1)) + 1
        edges = np.concatenate([[0], change, [n_days]])
        y = y0[:, j].copy()
        for a, b in pairwise(edges):
            u = U[a]
            t_eval = rec[(rec >= a) & (rec <= b)].astype(float)

            def f(t, yy, u=u, p=p):
                return eq.rhs(yy, p, u, np.empty(N_STATES))

            sol = solve_ivp(f, (a, b), y, method="LSODA", t_eval=t_eval, rtol=rtol, atol=atol)
            if not sol.success:  # pragma: no cover
                raise RuntimeError(f"solve_ivp failed for patient {j}: {sol.message}")
            for t, col in zip(sol.t, sol.y.T, strict=True):
                out[np.searchsorted(rec, round(float(t))), :, j] = col
            y = (
                sol.y[:, -1]
                if sol.t.size and sol.t[-1] == b
                else solve_ivp(f, (a, b), y, method="LSODA", rtol=rtol, atol=atol).y[:, -1]
            )
    return out


def steady_state(params, base_inputs, y0=None, *, days: int = 400, dt: float = 0.5, method: str = "numba"):
    """Relax each patient to the steady state of their own baseline inputs.

    Starts from ``y0`` (default :func:`healthy_state`; pass a chronic-branch start for RA/SLE
    patients) and integrates ``days`` days. Returns ``(y_ss, max_rel_rate)``: the final states and
    the largest relative rate ``|dy/dt| / max(|y|, 1e-3)`` per patient (a convergence check).
    """
    P = np.asarray(params, dtype=float)
    y0 = healthy_state(P) if y0 is None else y0
    tr = simulate(P, y0, base_inputs, Schedule.baseline(days), dt=dt, method=method, record="end")
    y = tr.states[-1]
    dy = eq.rhs(y, P, np.asarray(base_inputs, float), np.empty_like(y))
    rel = np.max(np.abs(dy) / np.maximum(np.abs(y), 1e-3), axis=0)
    return y, rel
