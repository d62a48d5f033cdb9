"""Acute (hour-scale) module: cytokines, CRH, cortisol and the mast-cell barrier path as true ODEs.

Used for acute challenges that the day-scale model holds in quasi-steady state: an intravenous
endotoxin bolus (T6, Copeland 2005, doi:10.1128/CDLI.12.1.60-67.2005) and acute psychological
stress (T5, Vanuytsel 2014, doi:10.1136/gutjnl-2013-305690; T7, Marsland 2017,
doi:10.1016/j.bbi.2017.01.011). Time is in hours; the slow states (guilds, IP, T cells, GR, Baker
core) are frozen at the patient's state, and every quantity starts at its day-scale value, so the
module is exactly at rest without a challenge.

Equations (rates ``k*_a`` per hour; ``x0`` = day-scale value at the start)::

    s(t)   = react (1 - m_max M/(K_M+M)) (S + S_acute(t))                  effective stress load
    dZ     = k_sns_a (s - Z),  dW = k_sns_a (Z - W)                       sympathetic drive, its transit (Z0 = W0 = s0)
    dLPSs  = -k_lps_a LPSs,  LPSs(0) = dose (ng/kg)                        intravenous endotoxin
    dA1    = k_act_a (LPSs/(K_sys + LPSs) - A1)                            monocyte activation (TNF)
    dA2    = k_act2_a (A1 - A2),  dA3 = k_act2_a (A2 - A3)                 secondary induction (IL-6, IL-10)
    dCRH   = k_crh_a (crh0 (1+s_gain s)/(1+s_gain s0) (1+h(x))/(1+h(x0)) (1+kfb GR O0)/(1+kfb GR O) - CRH)
             h(x) = c_cyt K_cyt_a x/(K_cyt_a + x),  x = (IL6/il6_b - 1)^+
    dO     = k_O_a (CRH O0/crh0 - O)                                       cortisol
    dMC    = k (CRH - MC), k = k_mc_a if CRH > MC else k_mc_off_a           mast-cell activation (MC0 = crh0):
                                                                           fast degranulation, slow barrier recovery
    L/M    = IP (1 + g_mc (MC - 1)^+)                                      the day model's mast-cell path
    sup    = (1+G_gc O0)/(1+G_gc O) (1 + I_10 IL10_0/il10_b)/(1 + I_10 IL10/il10_b)
    dTNF   = kt_a (tnf0 (1+e_snst Z)/(1+e_snst Z0) (1 + Et_sys A1) sup - TNF)
    dIL6   = k6_a (il60 (1+e_sns6 W)/(1+e_sns6 W0) (1 + E6_sys A3) sup - IL6)
    dIL10  = k10_a (il100 (1 + e10_O (O - O0)/B10) (1 + E10_sys A3) - IL10)
             B10 = 1 + e10_T Treg/Treg_ref + E10_LPS l + e10_O O0
    dCRP   = k_CRP/24 (crp_gain crp_max IL6/(crp_K + IL6) - CRP)

The stress gains (``s_gain``, ``e_sns6``, ``e_snst``, ``g_mc``), the feedback gains (``G_gc``,
``I_10``, ``e10_O``) and CRP kinetics are those of the day-scale model; the systemic-endotoxin
gains ``E*_sys`` are separate because intravenous endotoxin reaches blood monocytes directly (the
day-scale ``E*_LPS`` describe low-grade mucosal exposure and saturate at ~2-fold).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from . import equations as eq

__all__ = ["ACUTE_OUTPUTS", "AcuteTrajectory", "lab_stressor", "simulate_acute"]

ACUTE_OUTPUTS = ("il6", "tnf", "il10", "CRP", "cortisol", "crh", "lm", "lps_sys", "O", "Z")


def _p(P, name):
    return P[eq.PARAM_NAMES.index(name)]


@dataclass
class AcuteTrajectory:
    """Hour-scale trajectories: ``hours`` ``(n_times,)`` and ``values[name]`` ``(n_times, n_patients)``.

    ``crh`` is relative to the reference state (1 = reference), ``cortisol`` in ug/dL, ``lm`` the
    L/M ratio, cytokines in pg/mL, CRP in mg/L, ``lps_sys`` in ng/kg-equivalent.
    """

    hours: np.ndarray
    values: dict
    meta: dict = field(default_factory=dict)

    def at(self, name: str, hour: float) -> np.ndarray:
        i = int(np.argmin(np.abs(self.hours - hour)))
        return self.values[name][i]

    def peak(self, name: str):
        """``(peak value, hour of the peak)`` per patient."""
        v = self.values[name]
        i = np.argmax(v, axis=0)
        return v[i, np.arange(v.shape[1])], self.hours[i]

    def window_mean(self, name: str, start: float, stop: float) -> np.ndarray:
        """Time average over ``[start, stop]`` hours (trapezoid), e.g. a 2-h urine collection."""
        m = (self.hours >= start - 1e-9) & (self.hours <= stop + 1e-9)
        return np.trapezoid(self.values[name][m], self.hours[m], axis=0) / (stop - start)


def lab_stressor(params, start: float = 0.0, duration_h: float = 0.5):
    """A standard laboratory psychosocial stressor (TSST / public speech: anticipation and task,
    ``duration_h`` hours) as a ``stress`` episode with the table's intensity ``S_lab``."""
    s = float(np.median(_p(np.asarray(params, float), "S_lab")))
    return [(start, start + duration_h, s)]


def simulate_acute(
    params,
    states,
    inputs,
    *,
    hours: float = 8.0,
    stress=(),
    lps_dose: float = 0.0,
    dt_min: float = 1.0,
    record_min: float = 5.0,
    overrides: dict | None = None,
) -> AcuteTrajectory:
    """Simulate an acute challenge from each patient's state.

    Parameters
    ----------
    params, states, inputs : ``(N_PARAMS, n)``, ``(N_STATES, n)``, ``(N_INPUTS, n)`` (e.g. a
        :class:`~gutaxis.axis.population.Population`'s arrays)
    hours : duration
    stress : iterable of ``(start_h, stop_h, load)`` acute stress episodes; the load is added to the
        chronic load (0-1 scale of chronic stress; a standard laboratory psychosocial stressor has
        the load ``S_lab`` of the parameter table, see :data:`LAB_STRESSOR`)
    lps_dose : intravenous endotoxin bolus at t = 0, ng/kg
    dt_min, record_min : RK4 step and recording interval, minutes
    overrides : {parameter: value or array} applied to a copy of ``params`` (e.g. ``{"g_mc": 0}``)
    """
    P = np.array(params, dtype=float, copy=True)
    Y = np.asarray(states, dtype=float)
    U = np.asarray(inputs, dtype=float)
    if P.ndim != 2 or P.shape[0] != eq.N_PARAMS:
        raise InputError(f"params must have shape ({eq.N_PARAMS}, n)")
    for k, v in (overrides or {}).items():
        if k not in eq.PARAM_NAMES:
            raise InputError(f"unknown parameter {k!r}")
        P[eq.PARAM_NAMES.index(k)] = v
    if lps_dose < 0 or hours <= 0:
        raise InputError("lps_dose must be >= 0 and hours > 0")
    episodes = [(float(a), float(b), float(s)) for a, b, s in stress]
    f = dict(zip(eq.FAST_NAMES, eq.fast(Y, P, U), strict=True))
    n = P.shape[1]
    g = lambda k: _p(P, k)  # noqa: E731
    O0 = Y[eq.S_O]
    GR = Y[eq.S_GR]
    crh0 = f["crh"]
    il60, tnf0, il100 = f["il6"], f["tnf"], f["il10"]
    s_fac = (1.0 - g("m_max") * U[eq.U_M] / (g("K_M") + U[eq.U_M])) * g("react")
    s0 = f["s_eff"]
    K = g("K_LPS")
    lps = f["lps"]
    b10 = 1.0 + g("e10_T") * Y[eq.S_TREG] / g("Treg_ref") + g("E10_LPS") * lps / (K + lps) + g("e10_O") * O0

    def h_cyt(il6):
        x = np.maximum(il6 / g("il6_b") - 1.0, 0.0)
        return g("c_cyt") * g("K_cyt_a") * x / (g("K_cyt_a") + x)

    h0 = h_cyt(il60)
    sup_den0 = (1.0 + g("G_gc") * O0) * (1.0 + g("I_10") * il100 / g("il10_b"))

    def load(t):
        a = np.zeros(n)
        for t0, t1, s in episodes:
            if t0 <= t < t1:
                a = a + s
        return (U[eq.U_S] + a) * s_fac if episodes else s0

    # state vector rows: Z, W, LPSs, A1, A2, A3, CRH, O, MC, TNF, IL6, IL10, CRP
    y = np.vstack(
        [
            s0,
            s0,
            np.full(n, float(lps_dose)),
            np.zeros(n),
            np.zeros(n),
            np.zeros(n),
            crh0,
            O0,
            crh0,
            tnf0,
            il60,
            il100,
            Y[eq.S_CRP],
        ]
    )

    def rhs(t, y):
        Z, W, L, A1, A2, A3, CRH, cort, MC, TNF, IL6, IL10, CRP = y
        s = load(t)
        sup = sup_den0 / ((1.0 + g("G_gc") * cort) * (1.0 + g("I_10") * IL10 / g("il10_b")))
        crh_t = (
            crh0
            * (1.0 + g("s_gain") * s)
            / (1.0 + g("s_gain") * s0)
            * (1.0 + h_cyt(IL6))
            / (1.0 + h0)
            * (1.0 + g("hpa_kfb") * GR * O0)
            / (1.0 + g("hpa_kfb") * GR * cort)
        )
        return np.vstack(
            [
                g("k_sns_a") * (s - Z),
                g("k_sns_a") * (Z - W),
                -g("k_lps_a") * L,
                g("k_act_a") * (L / (g("K_sys") + L) - A1),
                g("k_act2_a") * (A1 - A2),
                g("k_act2_a") * (A2 - A3),
                g("k_crh_a") * (crh_t - CRH),
                g("k_O_a") * (CRH * O0 / crh0 - cort),
                np.where(CRH > MC, g("k_mc_a"), g("k_mc_off_a")) * (CRH - MC),
                g("kt_a")
                * (tnf0 * (1.0 + g("e_snst") * Z) / (1.0 + g("e_snst") * s0) * (1.0 + g("Et_sys") * A1) * sup - TNF),
                g("k6_a")
                * (il60 * (1.0 + g("e_sns6") * W) / (1.0 + g("e_sns6") * s0) * (1.0 + g("E6_sys") * A3) * sup - IL6),
                g("k10_a") * (il100 * (1.0 + g("e10_O") * (cort - O0) / b10) * (1.0 + g("E10_sys") * A3) - IL10),
                g("k_CRP") / 24.0 * (g("crp_gain") * g("crp_max") * IL6 / (g("crp_K") + IL6) - CRP),
            ]
        )

    h = dt_min / 60.0
    n_steps = round(float(hours / h))
    every = max(1, round(float(record_min / dt_min)))
    rec = [y.copy()]
    times = [0.0]
    t = 0.0
    for k in range(n_steps):
        k1 = rhs(t, y)
        k2 = rhs(t + h / 2, y + h / 2 * k1)
        k3 = rhs(t + h / 2, y + h / 2 * k2)
        k4 = rhs(t + h, y + h * k3)
        y = y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        t = (k + 1) * h
        if (k + 1) % every == 0:
            rec.append(y.copy())
            times.append(t)
    R = np.stack(rec)
    Z, _W, L, _A1, _A2, _A3, CRH, cort, MC, TNF, IL6, IL10, CRP = (R[:, i] for i in range(13))
    lm = Y[eq.S_IP][None] * (1.0 + g("g_mc")[None] * np.maximum(MC - 1.0, 0.0))
    values = {
        "il6": IL6,
        "tnf": TNF,
        "il10": IL10,
        "CRP": CRP,
        "cortisol": cort * g("cort_ref")[None],
        "O": cort,
        "crh": CRH,
        "lm": lm,
        "lps_sys": L,
        "Z": Z,
    }
    return AcuteTrajectory(np.asarray(times), values, {"stress": episodes, "lps_dose": lps_dose, "dt_min": dt_min})
