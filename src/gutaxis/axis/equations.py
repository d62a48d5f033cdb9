"""The gut-immune axis model: slow (day-scale) ODEs and quasi-steady-state (QSSA) fast quantities.

One source of truth for the equations. Every function here works element-wise, so the same code runs

* vectorised over patients with numpy (``y`` of shape ``(N_STATES, n_patients)``, ``p`` of shape
  ``(N_PARAMS, n_patients)``, ``u`` of shape ``(N_INPUTS, n_patients)``),
* on one patient with 1-D arrays (scipy ``solve_ivp``), and
* compiled per patient by numba (:mod:`gutaxis.axis.engine`).

Units and time
--------------
Time is in days. Guild abundances are fractions of the healthy total biomass; the reference
composition (``*_ref`` parameters) is the equilibrium at the reference diet by construction (the
intrinsic growth terms ``g0`` are derived, not free). Cortisol ``O`` and pituitary glucocorticoid
receptor ``GR`` are normalised to 1 at the healthy steady state; ``p``/``a`` are the dimensionless
pro-/anti-inflammatory cytokines of Baker et al. 2013 (Math Med Biol 30:311, PMID 23002057,
BIOMD0000000550). Cytokines are in pg/mL, CRP in mg/L, LBP in ug/mL, Treg/Th17 in % of CD4+,
permeability ``IP`` as a 2-h lactulose/mannitol (L/M) ratio, LPS as a fold-change vs the
reference state. Parameters and their sources: ``gutaxis/data/axis_parameters.tsv``.

Slow states (``STATE_NAMES``)
-----------------------------
Guilds, generalised Lotka-Volterra in relative form (x* = reference abundance)::

    dx_i/dt = r_i x_i [ g_i(diet) - sum_j A_ij x_j / x*_j ] + I_i(fermented food, probiotic)

with ``A_ii = 1`` and ``g_i`` = derived ``g0_i`` + diet terms: Monod fiber signal
``phi = F/(K_F+F) * R/(R+K_Rf)`` (normalised to 1 at the reference) for B and Bc; saturated fat,
sugar and UPF for Pb; immigration into L from fermented food (``i_L_ff * servings``) and probiotics
(``i_L_pro * D/(1+D)``, ``D = 10**(log10 CFU - pro_log50)``). Diversity R colonisation-resists Pb.

Diversity: ``dR/dt = k_R (R_ref (1 + e_R_ff (ff - ff_ref) - e_R_upf (UPF/UPF_ref - 1))^+ - R)``,
``ff = FF/(K_FF+FF)``.

Permeability (structural, slow): ``dIP/dt = k_IP (IP_ref h(Bu) X - IP)``, ``h(Bu) = (1+c_bu)/(1+c_bu Bu/bu_ref)``,
``X = (1 + g_IP_crh (CRH-1)^+ + g_IP_tnf (TNF/tnf_b-1)^+) (1 + g_IP_diet (UPF/UPF_ref-1))^+``.
The *measured* L/M adds the fast mast-cell path (Vanuytsel 2014): ``LM = IP (1 + g_mc (CRH-1)^+)``.

LBP: ``dLBP/dt = k_LBP (LBP_ref (1 + a_LBP LPS)/(1 + a_LBP) - LBP)``.

Treg/Th17 (reduced mutual inhibition of Hong 2011)::

    dTreg/dt = k_T (Treg_ref (1 + e_T_scfa (SCFA-1) + e_T_L (L/L_ref-1))^+ (1+i_T_6)/(1+i_T_6 IL6/il6_b) - Treg)
    dTh17/dt = k_17 (Th17_ref (1 + e_17_6 IL6/il6_b + e_17_Pb Pb/Pb_ref)/(1 + e_17_6 + e_17_Pb)
                      (1+i_17_T)/(1+i_17_T Treg/Treg_ref) - Th17)

HPA, a two-state reduction of Gupta et al. 2007 (doi:10.1186/1742-4682-4-8) with CRH in QSSA::

    CRH = D (1+kfb) / (1 + kfb GR O),    D = (1 + s_gain S_eff)/(1 + s_gain S_ref) (1 + c_cyt (IL6/il6_b - 1)^+)
    dO/dt  = k_O (CRH - O)
    dGR/dt = k_GR (r0 + r1 X^4/(K^4 + X^4) - GR),   X = GR O,   r0 = 1 - r1/(K^4 + 1)

``S_eff = S react (1 - m_max M/(K_M+M))`` (mind-body practice M in min/d). GR self-induction by the
cortisol-GR dimer gives two stable states at the reference drive: normal (GR = O = 1) and a
high-GR, low-cortisol state that a sustained drive above ~1.9 forces and that persists after the
drive returns (lock-in).

Tissue inflammation, Baker 2013 core with systemic inputs and time scale ``k_A``::

    dp/dt = k_A (-gamma p + ((alpha1 + s)^+ (1 - dmard_eff dmard) + alpha2_eff p^2/(1+p^2)) / (1 + a^2))
    da/dt = k_A (-a + alpha4 p^2/(alpha3^2 + p^2) (1 + beta_T (Treg/Treg_ref - 1))^+)
    s = beta_L (LPS - 1) + beta_17 (Th17/Th17_ref - 1)

``alpha2_eff`` = alpha2 (healthy), alpha2_ra (RA flag) or alpha2_sle (SLE flag).

CRP (IL-6 -> hepatic CRP, Dwivedi 2014 shape): ``dCRP/dt = k_CRP (crp_gain crp_max IL6/(crp_K+IL6) - CRP)``.

Fast quantities (QSSA, ``FAST_NAMES``)
--------------------------------------
``Bu = bu_ref (B/B_ref) phi``; ``SCFA = w_bu Bu/bu_ref + (1-w_bu) ((Bc/Bc_ref) phi + k_prop prop)``;
``LPS = (Pb/Pb_ref)(LM/IP_ref)(1 + c_chylo (SF/SF_ref - 1))^+``;
``IL10 = il10_b (1 + e10_T Treg/Treg_ref + E10_LPS l + e10_O O)/(1 + e10_T + E10_LPS l0 + e10_O)``;
``IL6 = il6_b f6(LPS) (1+E6_A p)/(1+E6_A p0) (1+E6_17 Th17/Th17_ref)/(1+E6_17) sup sns6``
with ``f(LPS) = (1 + E l)/(1 + E l0)``, ``l = LPS/(K_LPS+LPS)``, ``sup = (1+G)/(1+G O)
(1+I_10)/(1+I_10 IL10/il10_b)``, ``sns = (1 + e S_eff)/(1 + e S_ref)``; TNF and IL-1b alike;
``IL17 = il17_b Th17/Th17_ref``.
"""

from __future__ import annotations

import numpy as np

from ._indices import *  # noqa: F401,F403  (P_<name> row indices, PARAM_NAMES, N_PARAMS)
from ._indices import N_PARAMS, PARAM_NAMES

__all__ = [
    "STATE_NAMES",
    "STATE_UNITS",
    "INPUT_NAMES",
    "INPUT_UNITS",
    "FAST_NAMES",
    "PARAM_NAMES",
    "N_STATES",
    "N_INPUTS",
    "N_PARAMS",
    "P_HEALTHY",
    "fast",
    "rhs",
]

STATE_NAMES = ("B", "L", "Pb", "Bc", "R", "IP", "LBP", "Treg", "Th17", "O", "GR", "p", "a", "CRP")
STATE_UNITS = (
    "fraction", "fraction", "fraction", "fraction", "effective taxa", "L/M ratio", "ug/mL",
    "% CD4", "% CD4", "1 (x cort_ref)", "1", "1", "1", "mg/L",
)
(S_B, S_L, S_PB, S_BC, S_R, S_IP, S_LBP, S_TREG, S_TH17, S_O, S_GR, S_P, S_A, S_CRP) = range(14)
N_STATES = 14

INPUT_NAMES = (
    "fiber", "fermented", "probiotic", "upf", "sugar", "satfat", "stress", "mindbody",
    "ra", "sle", "dmard", "propionate",
)
INPUT_UNITS = (
    "g/d", "servings/d", "log10 CFU/d", "% energy", "g/d", "% energy", "0-1", "min/d",
    "0/1", "0/1", "0/1", "g/d",
)
(U_F, U_FF, U_PRO, U_UPF, U_SUG, U_SF, U_S, U_M, U_RA, U_SLE, U_DMARD, U_PROP) = range(12)
N_INPUTS = 12

FAST_NAMES = ("butyrate", "scfa", "crh", "lm", "lps", "il10", "il6", "tnf", "il1b", "il17", "s_eff")
N_FAST = 11

#: pro-inflammatory steady state of BIOMD0000000550 at its published parameters (used only to
#: normalise the IL-6/TNF/IL-1b spill-over so that ``il6_b`` is the healthy IL-6).
P_HEALTHY = 0.0203298


def _pos(x):
    """Positive part, written so that it works on scalars and arrays alike (numba and numpy)."""
    return 0.5 * (x + np.abs(x))


def _floor(x):
    """``max(x, 1e-3)``: keeps relaxation targets positive (states stay > 0)."""
    return _pos(x - 1e-3) + 1e-3


def fast(y, p, u):
    """Quasi-steady-state quantities from slow states ``y``, parameters ``p`` and inputs ``u``.

    Returns a tuple in the order of :data:`FAST_NAMES`: faecal butyrate (mM), SCFA signal
    (1 at reference), CRH drive (1 at reference), measured L/M ratio, LPS fold-change, IL-10,
    IL-6, TNF, IL-1b, IL-17 (pg/mL), effective stress load.
    """
    B = y[S_B]
    L = y[S_L]
    Pb = y[S_PB]
    Bc = y[S_BC]
    R = y[S_R]
    IP = y[S_IP]
    Treg = y[S_TREG]
    Th17 = y[S_TH17]
    O = y[S_O]
    GR = y[S_GR]
    pp = y[S_P]

    # fermentable fiber signal, normalised to 1 at the reference diet and diversity
    F = u[U_F]
    fib = F / (p[P_K_F] + F) * R / (R + p[P_K_Rf])
    fib_ref = p[P_F_ref] / (p[P_K_F] + p[P_F_ref]) * p[P_R_ref] / (p[P_R_ref] + p[P_K_Rf])
    phi = fib / fib_ref
    bu = p[P_bu_ref] * (B / p[P_B_ref]) * phi
    scfa = p[P_w_bu] * bu / p[P_bu_ref] + (1.0 - p[P_w_bu]) * (
        (Bc / p[P_Bc_ref]) * phi + p[P_k_prop] * u[U_PROP]
    )

    # stress and HPA drive
    M = u[U_M]
    s_eff = u[U_S] * p[P_react] * (1.0 - p[P_m_max] * M / (p[P_K_M] + M))
    sg = p[P_s_gain]
    il10_0 = p[P_il10_b]
    # cytokines need IL-10 first (it depends on states only)
    lps_pre = (Pb / p[P_Pb_ref]) * _pos(1.0 + p[P_c_chylo] * (u[U_SF] / p[P_SF_ref] - 1.0))

    # CRH (QSSA). Its cytokine input uses IL-6 evaluated with the structural permeability IP
    # (without the fast mast-cell term, which itself depends on CRH): an explicit, loop-free order.
    l_struct = lps_pre * IP / p[P_IP_ref]
    K = p[P_K_LPS]
    l0 = 1.0 / (K + 1.0)
    ls = l_struct / (K + l_struct)
    il10_s = il10_0 * (
        1.0 + p[P_e10_T] * Treg / p[P_Treg_ref] + p[P_E10_LPS] * ls + p[P_e10_O] * O
    ) / (1.0 + p[P_e10_T] + p[P_E10_LPS] * l0 + p[P_e10_O])
    sup_s = (1.0 + p[P_G_gc]) / (1.0 + p[P_G_gc] * O) * (1.0 + p[P_I_10]) / (
        1.0 + p[P_I_10] * il10_s / il10_0
    )
    sns6 = (1.0 + p[P_e_sns6] * s_eff) / (1.0 + p[P_e_sns6] * p[P_S_ref])
    infl6 = (1.0 + p[P_E6_A] * pp) / (1.0 + p[P_E6_A] * P_HEALTHY) * (
        1.0 + p[P_E6_17] * Th17 / p[P_Th17_ref]
    ) / (1.0 + p[P_E6_17])
    il6r_s = (1.0 + p[P_E6_LPS] * ls) / (1.0 + p[P_E6_LPS] * l0) * infl6 * sup_s * sns6
    drive = (1.0 + sg * s_eff) / (1.0 + sg * p[P_S_ref]) * (1.0 + p[P_c_cyt] * _pos(il6r_s - 1.0))
    kfb = p[P_hpa_kfb]
    crh = drive * (1.0 + kfb) / (1.0 + kfb * GR * O)

    # measured permeability and LPS with the fast mast-cell path
    lm = IP * (1.0 + p[P_g_mc] * _pos(crh - 1.0))
    lps = lps_pre * lm / p[P_IP_ref]
    lf = lps / (K + lps)

    il10 = il10_0 * (
        1.0 + p[P_e10_T] * Treg / p[P_Treg_ref] + p[P_E10_LPS] * lf + p[P_e10_O] * O
    ) / (1.0 + p[P_e10_T] + p[P_E10_LPS] * l0 + p[P_e10_O])
    sup = (1.0 + p[P_G_gc]) / (1.0 + p[P_G_gc] * O) * (1.0 + p[P_I_10]) / (
        1.0 + p[P_I_10] * il10 / il10_0
    )
    il6 = p[P_il6_b] * (1.0 + p[P_E6_LPS] * lf) / (1.0 + p[P_E6_LPS] * l0) * infl6 * sup * sns6
    snst = (1.0 + p[P_e_snst] * s_eff) / (1.0 + p[P_e_snst] * p[P_S_ref])
    tnf = (
        p[P_tnf_b]
        * (1.0 + p[P_Et_LPS] * lf) / (1.0 + p[P_Et_LPS] * l0)
        * (1.0 + p[P_Et_A] * pp) / (1.0 + p[P_Et_A] * P_HEALTHY)
        * sup * snst
    )
    il1b = (
        p[P_il1b_b]
        * (1.0 + p[P_E1_LPS] * lf) / (1.0 + p[P_E1_LPS] * l0)
        * (1.0 + p[P_E1_A] * pp) / (1.0 + p[P_E1_A] * P_HEALTHY)
        * sup * snst
    )
    il17 = p[P_il17_b] * Th17 / p[P_Th17_ref]
    return bu, scfa, crh, lm, lps, il10, il6, tnf, il1b, il17, s_eff


def rhs(y, p, u, dy):
    """Write dy/dt (per day) of the slow states into ``dy``; see the module docstring."""
    bu, scfa, crh, lm, lps, il10, il6, tnf, il1b, il17, s_eff = fast(y, p, u)
    B = y[S_B]
    L = y[S_L]
    Pb = y[S_PB]
    Bc = y[S_BC]
    R = y[S_R]
    IP = y[S_IP]
    LBP = y[S_LBP]
    Treg = y[S_TREG]
    Th17 = y[S_TH17]
    O = y[S_O]
    GR = y[S_GR]
    pp = y[S_P]
    aa = y[S_A]
    CRP = y[S_CRP]

    b = B / p[P_B_ref]
    lr = L / p[P_L_ref]
    pb = Pb / p[P_Pb_ref]
    bc = Bc / p[P_Bc_ref]
    rr = R / p[P_R_ref]

    # diet signals
    F = u[U_F]
    fib = F / (p[P_K_F] + F) * R / (R + p[P_K_Rf])
    fib_ref = p[P_F_ref] / (p[P_K_F] + p[P_F_ref]) * p[P_R_ref] / (p[P_R_ref] + p[P_K_Rf])
    dfib = (fib - fib_ref) / fib_ref
    dsf = u[U_SF] / p[P_SF_ref] - 1.0
    dsug = u[U_SUG] / p[P_SUG_ref] - 1.0
    dupf = u[U_UPF] / p[P_UPF_ref] - 1.0

    # immigration into L (fraction of biomass per day)
    dose = 10.0 ** (u[U_PRO] - p[P_pro_log50])
    imm = p[P_i_L_ff] * u[U_FF] + p[P_i_L_pro] * dose / (1.0 + dose)
    imm_ref = p[P_i_L_ff] * p[P_FF_ref]

    # derived intrinsic terms so that the reference composition is an equilibrium
    gB0 = 1.0 + p[P_a_B_L] + p[P_a_B_Bc]
    gL0 = 1.0 + p[P_a_L_B] - imm_ref / (p[P_r_L] * p[P_L_ref])
    gPb0 = 1.0 + p[P_a_Pb_B] + p[P_a_Pb_L] + p[P_a_Pb_R]
    gBc0 = 1.0 + p[P_a_Bc_B]

    dy[S_B] = p[P_r_B] * B * (gB0 + p[P_e_B_fib] * dfib - b - p[P_a_B_L] * lr - p[P_a_B_Bc] * bc)
    dy[S_L] = p[P_r_L] * L * (gL0 - lr - p[P_a_L_B] * b) + imm
    dy[S_PB] = p[P_r_Pb] * Pb * (
        gPb0
        + p[P_e_Pb_sf] * dsf
        + p[P_e_Pb_sug] * dsug
        + p[P_e_Pb_upf] * dupf
        - pb
        - p[P_a_Pb_B] * b
        - p[P_a_Pb_L] * lr
        - p[P_a_Pb_R] * rr
    )
    dy[S_BC] = p[P_r_Bc] * Bc * (gBc0 + p[P_e_Bc_fib] * dfib - bc - p[P_a_Bc_B] * b)

    ffs = u[U_FF] / (p[P_K_FF] + u[U_FF])
    ffs_ref = p[P_FF_ref] / (p[P_K_FF] + p[P_FF_ref])
    r_target = p[P_R_ref] * _floor(1.0 + p[P_e_R_ff] * (ffs - ffs_ref) - p[P_e_R_upf] * dupf)
    dy[S_R] = p[P_k_R] * (r_target - R)

    h = (1.0 + p[P_c_bu]) / (1.0 + p[P_c_bu] * bu / p[P_bu_ref])
    x_ip = (1.0 + p[P_g_IP_crh] * _pos(crh - 1.0) + p[P_g_IP_tnf] * _pos(tnf / p[P_tnf_b] - 1.0)) * (
        _floor(1.0 + p[P_g_IP_diet] * dupf)
    )
    dy[S_IP] = p[P_k_IP] * (p[P_IP_ref] * h * x_ip - IP)

    dy[S_LBP] = p[P_k_LBP] * (p[P_LBP_ref] * (1.0 + p[P_a_LBP] * lps) / (1.0 + p[P_a_LBP]) - LBP)

    il6r = il6 / p[P_il6_b]
    t_ind = _floor(1.0 + p[P_e_T_scfa] * (scfa - 1.0) + p[P_e_T_L] * (lr - 1.0))
    dy[S_TREG] = p[P_k_T] * (
        p[P_Treg_ref] * t_ind * (1.0 + p[P_i_T_6]) / (1.0 + p[P_i_T_6] * il6r) - Treg
    )
    th_ind = (1.0 + p[P_e_17_6] * il6r + p[P_e_17_Pb] * pb) / (1.0 + p[P_e_17_6] + p[P_e_17_Pb])
    dy[S_TH17] = p[P_k_17] * (
        p[P_Th17_ref] * th_ind * (1.0 + p[P_i_17_T]) / (1.0 + p[P_i_17_T] * Treg / p[P_Treg_ref]) - Th17
    )

    dy[S_O] = p[P_k_O] * (crh - O)
    K2 = p[P_hpa_K] * p[P_hpa_K]
    Kn = K2 * K2  # Hill exponent 4: cooperative self-induction by the GR homodimer
    X = GR * O
    X2 = X * X
    Xn = X2 * X2
    r0 = 1.0 - p[P_hpa_r1] / (Kn + 1.0)
    dy[S_GR] = p[P_k_GR] * (r0 + p[P_hpa_r1] * Xn / (Kn + Xn) - GR)

    a2 = p[P_alpha2] + u[U_RA] * (p[P_alpha2_ra] - p[P_alpha2]) + u[U_SLE] * (p[P_alpha2_sle] - p[P_alpha2])
    sysin = p[P_beta_L] * (lps - 1.0) + p[P_beta_17] * (Th17 / p[P_Th17_ref] - 1.0)
    pp2 = pp * pp
    prod = _pos(p[P_alpha1] + sysin) * (1.0 - p[P_dmard_eff] * u[U_DMARD]) + a2 * pp2 / (1.0 + pp2)
    dy[S_P] = p[P_k_A] * (-p[P_gamma] * pp + prod / (1.0 + aa * aa))
    a_ind = _pos(1.0 + p[P_beta_T] * (Treg / p[P_Treg_ref] - 1.0))
    dy[S_A] = p[P_k_A] * (-aa + p[P_alpha4] * pp2 / (p[P_alpha3] ** 2 + pp2) * a_ind)

    dy[S_CRP] = p[P_k_CRP] * (p[P_crp_gain] * p[P_crp_max] * il6 / (p[P_crp_K] + il6) - CRP)
    return dy


assert len(PARAM_NAMES) == N_PARAMS
