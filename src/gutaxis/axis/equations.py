"""The gut-immune axis model: slow (day-scale) ODEs and quasi-steady-state (QSSA) fast quantities.

One source of truth for the equations. Every function here works element-wise, so the same code runs

* vectorised over patients with numpy (``y`` of shape ``(N_STATES, n_patients)``, ``p`` of shape
  ``(N_PARAMS, n_patients)``, ``u`` of shape ``(N_INPUTS, n_patients)``),
* on one patient with 1-D arrays (scipy ``solve_ivp``),
* compiled per patient by numba (:mod:`gutaxis.axis.engine`), and
* traced per patient by JAX (:mod:`gutaxis.axis._jax`; ``c``, ``d`` and ``dy`` passed as Python
  lists, which is why the ``*_core`` functions call no numpy function).

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

with ``A_ii = 1`` and ``g_i`` = derived ``g0_i`` + person offset ``dg_i`` (0 in virtual populations; set by
the personal twin to reproduce a measured profile) + diet terms: Monod fiber signal
``phi = F/(K_F+F) * R/(R+K_Rf)`` (normalised to 1 at the reference) for B and Bc; saturated fat,
sugar and UPF for Pb; immigration into L from fermented food (``i_L_ff * servings``) and probiotics
(``i_L_pro * D/(1+D)``, ``D = 10**(log10 CFU - pro_log50)``). Diversity R colonisation-resists Pb.

Diversity: ``dR/dt = k_R (R_ref (1 + e_R_ff (ff - ff_ref) - e_R_upf (UPF/UPF_ref - 1))^+ - R)``,
``ff = FF/(K_FF+FF)``.

Permeability (structural, slow): ``dIP/dt = k_IP (IP_ref h(Bu) X - IP)``, ``h(Bu) = (1+c_bu)/(1+c_bu Bu/bu_ref)``,
``X = (1 + g_IP_crh (CRH-1)^+ + g_IP_tnf (TNF/tnf_b-1)^+) (1 + g_IP_diet (UPF/UPF_ref-1))^+ (1 + g_IP_res (rho-1)^+)``,
``rho = F (1-kappa) / (F_ref (1-kappa_ref))``, ``kappa = R/(R+K_Rf)``: fiber beyond the reference load that the
community lacks the capacity to ferment (low diversity) stresses the barrier, so that fiber's net effect on inflammation
depends on fermentation capacity (Wastyk 2021: no average fall of IL-6 on high fiber; response set by baseline
diversity).
Diet deviations *below* the reference act with weight ``asym_dn`` on pathobiont growth and chylomicron LPS
transport (a prudent diet lowers endotoxin less than a Western diet raises it, Pendyala 2012).
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

Tissue inflammation, Baker 2013 core with systemic inputs and time scale ``k_A`` (for MS the ``a``
equation is replaced by ``da/dt = ms_kon p a_ind - ms_koff a / a_ind``, a relaxation oscillator of
relapses and remissions after Velez de Mendizabal 2011, and ``p`` spills into blood cytokines only with
weight ``ms_spill``)::

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
``IL6 = il6_b f6(LPS) (1+E6_A p)/(1+E6_A p0) (1+E6_17 Th17/Th17_ref)/(1+E6_17) sup sns6 + sle il6_sle sup``
(in SLE, ``E6_A`` is replaced by ``E6_A_sle``)
with ``f(LPS) = (1 + E l)/(1 + E l0)``, ``l = LPS/(K_LPS+LPS)``, ``sup = (1+G)/(1+G O)
(1+I_10)/(1+I_10 IL10/il10_b)``, ``sns = (1 + e S_eff)/(1 + e S_ref)``; TNF and IL-1b alike;
``IL17 = il17_b Th17/Th17_ref``.
"""

from __future__ import annotations

import numpy as np

from ._indices import (
    N_PARAMS,
    P_E1_A,
    P_E1_LPS,
    P_E6_17,
    P_E6_A,
    P_E6_LPS,
    P_E10_LPS,
    P_I_10,
    P_K_F,
    P_K_FF,
    P_K_LPS,
    P_K_M,
    PARAM_NAMES,
    P_a_B_Bc,
    P_a_B_L,
    P_a_Bc_B,
    P_a_L_B,
    P_a_LBP,
    P_a_Pb_B,
    P_a_Pb_L,
    P_a_Pb_R,
    P_alpha1,
    P_alpha2,
    P_alpha2_ms,
    P_alpha2_ra,
    P_alpha2_sle,
    P_alpha3,
    P_alpha4,
    P_asym_dn,
    P_B_ref,
    P_Bc_ref,
    P_beta_17,
    P_beta_L,
    P_beta_T,
    P_bu_ref,
    P_c_bu,
    P_c_chylo,
    P_c_cyt,
    P_crp_gain,
    P_crp_K,
    P_crp_max,
    P_dg_B,
    P_dg_Bc,
    P_dg_L,
    P_dg_Pb,
    P_dmard_eff,
    P_E6_A_sle,
    P_e10_O,
    P_e10_T,
    P_e_17_6,
    P_e_17_Pb,
    P_e_B_fib,
    P_e_Bc_fib,
    P_e_Pb_sf,
    P_e_Pb_sug,
    P_e_Pb_upf,
    P_e_R_ff,
    P_e_R_upf,
    P_e_sns6,
    P_e_snst,
    P_e_T_L,
    P_e_T_scfa,
    P_Et_A,
    P_Et_LPS,
    P_F_ref,
    P_FF_ref,
    P_G_gc,
    P_g_IP_crh,
    P_g_IP_diet,
    P_g_IP_res,
    P_g_IP_tnf,
    P_g_mc,
    P_gamma,
    P_hpa_K,
    P_hpa_kfb,
    P_hpa_r1,
    P_i_17_T,
    P_i_L_ff,
    P_i_L_pro,
    P_i_T_6,
    P_il1b_b,
    P_il6_b,
    P_il6_sle,
    P_il10_b,
    P_il17_b,
    P_IP_ref,
    P_k_17,
    P_k_A,
    P_k_CRP,
    P_k_GR,
    P_k_IP,
    P_k_LBP,
    P_k_O,
    P_k_prop,
    P_k_R,
    P_K_Rf,
    P_k_T,
    P_L_ref,
    P_LBP_ref,
    P_m_max,
    P_ms_koff,
    P_ms_kon,
    P_ms_spill,
    P_Pb_ref,
    P_pro_log50,
    P_r_B,
    P_r_Bc,
    P_r_L,
    P_r_Pb,
    P_R_ref,
    P_react,
    P_s_gain,
    P_S_ref,
    P_SF_ref,
    P_SUG_ref,
    P_Th17_ref,
    P_tnf_b,
    P_Treg_ref,
    P_UPF_ref,
    P_w_bu,
)

__all__ = [
    "FAST_NAMES",
    "INPUT_NAMES",
    "INPUT_UNITS",
    "N_DAY",
    "N_DERIVED",
    "N_INPUTS",
    "N_PARAMS",
    "N_STATES",
    "PARAM_NAMES",
    "P_HEALTHY",
    "STATE_NAMES",
    "STATE_UNITS",
    "const_rates",
    "day_terms",
    "derived",
    "fast",
    "fast_core",
    "rhs",
    "rhs_core",
    "stage_rates",
]

STATE_NAMES = ("B", "L", "Pb", "Bc", "R", "IP", "LBP", "Treg", "Th17", "O", "GR", "p", "a", "CRP")
STATE_UNITS = (
    "fraction",
    "fraction",
    "fraction",
    "fraction",
    "effective taxa",
    "L/M ratio",
    "ug/mL",
    "% CD4",
    "% CD4",
    "1 (x cort_ref)",
    "1",
    "1",
    "1",
    "mg/L",
)
(S_B, S_L, S_PB, S_BC, S_R, S_IP, S_LBP, S_TREG, S_TH17, S_O, S_GR, S_P, S_A, S_CRP) = range(14)
N_STATES = 14

INPUT_NAMES = (
    "fiber",
    "fermented",
    "probiotic",
    "upf",
    "sugar",
    "satfat",
    "stress",
    "mindbody",
    "ra",
    "sle",
    "dmard",
    "propionate",
    "ms",
)
INPUT_UNITS = (
    "g/d",
    "servings/d",
    "log10 CFU/d",
    "% energy",
    "g/d",
    "% energy",
    "0-1",
    "min/d",
    "0/1",
    "0/1",
    "0/1",
    "g/d",
    "0/1",
)
(U_F, U_FF, U_PRO, U_UPF, U_SUG, U_SF, U_S, U_M, U_RA, U_SLE, U_DMARD, U_PROP, U_MS) = range(13)
N_INPUTS = 13

FAST_NAMES = ("butyrate", "scfa", "crh", "lm", "lps", "il10", "il6", "tnf", "il1b", "il17", "s_eff")
N_FAST = 11

#: pro-inflammatory steady state of BIOMD0000000550 at its published parameters (used only to
#: normalise the IL-6/TNF/IL-1b spill-over so that ``il6_b`` is the healthy IL-6).
P_HEALTHY = 0.0203298


def _pos(x):
    """Positive part, written so that it works on scalars and arrays alike (numba, numpy and JAX).

    The builtin ``abs`` (not ``np.abs``) keeps :func:`derived`, :func:`day_terms`, :func:`fast_core`
    and :func:`rhs_core` free of any array-library call, so the JAX engine traces this same code.
    """
    return 0.5 * (x + abs(x))


def _floor(x):
    """``max(x, 1e-3)``: keeps relaxation targets positive (states stay > 0)."""
    return _pos(x - 1e-3) + 1e-3


# --------------------------------------------------------------------------------------------
# Evaluation order for speed (the maths is the one in the module docstring):
#   derived(p, c)            per-patient constants (reciprocals, normalisers, derived growth terms)
#   day_terms(p, c, u, d)    what depends on the inputs, which are constant within a day
#   fast_core / rhs_core     only the state-dependent work, evaluated at every integrator stage
# rhs(y, p, u, dy) and fast(y, p, u) chain the three; all work element-wise on scalars or arrays.
# --------------------------------------------------------------------------------------------
(
    C_iB,
    C_iL,
    C_iPb,
    C_iBc,
    C_iR,
    C_iIP,
    C_ibu,
    C_iTreg,
    C_iTh17,
    C_iil6,
    C_itnf,
    C_fibref_inv,
    C_gB0,
    C_gL0,
    C_gBc0,
    C_gPb0,
    C_den10,
    C_n6,
    C_nt,
    C_n1,
    C_ninfl6,
    C_ntA,
    C_n1A,
    C_supnum,
    C_ndrive,
    C_nsns6,
    C_nsnst,
    C_lbp,
    C_treg,
    C_th17,
    C_r0,
    C_Kn,
    C_a3sq,
    C_crp,
    C_cbu1,
    C_ffsref,
    C_kfb1,
    C_ires,
) = range(38)
N_DERIVED = 38

(
    D_fibF,
    D_gPb,
    D_imm,
    D_rtarget,
    D_xdiet,
    D_chylo,
    D_seff,
    D_sns6,
    D_snst,
    D_drive,
    D_a2,
    D_dmard,
    D_prop,
    D_fres,
    D_e6a,
    D_il6sle,
    D_ms,
    D_spill,
) = range(18)
N_DAY = 18


def derived(p, c):
    """Fill ``c`` (``N_DERIVED`` rows) with per-patient constants of parameters ``p``."""
    c[C_iB] = 1.0 / p[P_B_ref]
    c[C_iL] = 1.0 / p[P_L_ref]
    c[C_iPb] = 1.0 / p[P_Pb_ref]
    c[C_iBc] = 1.0 / p[P_Bc_ref]
    c[C_iR] = 1.0 / p[P_R_ref]
    c[C_iIP] = 1.0 / p[P_IP_ref]
    c[C_ibu] = 1.0 / p[P_bu_ref]
    c[C_iTreg] = 1.0 / p[P_Treg_ref]
    c[C_iTh17] = 1.0 / p[P_Th17_ref]
    c[C_iil6] = 1.0 / p[P_il6_b]
    c[C_itnf] = 1.0 / p[P_tnf_b]
    fib_ref = p[P_F_ref] / (p[P_K_F] + p[P_F_ref]) * p[P_R_ref] / (p[P_R_ref] + p[P_K_Rf])
    c[C_fibref_inv] = 1.0 / fib_ref
    imm_ref = p[P_i_L_ff] * p[P_FF_ref]
    # derived intrinsic terms so that the reference composition is an equilibrium
    c[C_gB0] = 1.0 + p[P_a_B_L] + p[P_a_B_Bc] + p[P_dg_B]
    c[C_gL0] = 1.0 + p[P_a_L_B] - imm_ref / (p[P_r_L] * p[P_L_ref]) + p[P_dg_L]
    c[C_gPb0] = 1.0 + p[P_a_Pb_B] + p[P_a_Pb_L] + p[P_a_Pb_R] + p[P_dg_Pb]
    c[C_gBc0] = 1.0 + p[P_a_Bc_B] + p[P_dg_Bc]
    l0 = 1.0 / (p[P_K_LPS] + 1.0)
    c[C_den10] = 1.0 / (1.0 + p[P_e10_T] + p[P_E10_LPS] * l0 + p[P_e10_O])
    c[C_n6] = 1.0 / (1.0 + p[P_E6_LPS] * l0)
    c[C_nt] = 1.0 / (1.0 + p[P_Et_LPS] * l0)
    c[C_n1] = 1.0 / (1.0 + p[P_E1_LPS] * l0)
    c[C_ninfl6] = 1.0 / (1.0 + p[P_E6_17])
    c[C_ntA] = 1.0 / (1.0 + p[P_Et_A] * P_HEALTHY)
    c[C_n1A] = 1.0 / (1.0 + p[P_E1_A] * P_HEALTHY)
    c[C_supnum] = (1.0 + p[P_G_gc]) * (1.0 + p[P_I_10])
    c[C_ndrive] = 1.0 / (1.0 + p[P_s_gain] * p[P_S_ref])
    c[C_nsns6] = 1.0 / (1.0 + p[P_e_sns6] * p[P_S_ref])
    c[C_nsnst] = 1.0 / (1.0 + p[P_e_snst] * p[P_S_ref])
    c[C_lbp] = p[P_LBP_ref] / (1.0 + p[P_a_LBP])
    c[C_treg] = p[P_Treg_ref] * (1.0 + p[P_i_T_6])
    c[C_th17] = p[P_Th17_ref] * (1.0 + p[P_i_17_T]) / (1.0 + p[P_e_17_6] + p[P_e_17_Pb])
    K2 = p[P_hpa_K] * p[P_hpa_K]
    Kn = K2 * K2  # Hill exponent 4: cooperative self-induction by the GR homodimer
    c[C_Kn] = Kn
    c[C_r0] = 1.0 - p[P_hpa_r1] / (Kn + 1.0)
    c[C_a3sq] = p[P_alpha3] * p[P_alpha3]
    c[C_crp] = p[P_crp_gain] * p[P_crp_max]
    c[C_cbu1] = 1.0 + p[P_c_bu]
    c[C_ffsref] = p[P_FF_ref] / (p[P_K_FF] + p[P_FF_ref])
    c[C_kfb1] = 1.0 + p[P_hpa_kfb]
    # 1 / (F_ref (1 - kappa_ref)) with kappa_ref = R_ref/(R_ref + K_Rf)
    c[C_ires] = (p[P_R_ref] + p[P_K_Rf]) / (p[P_F_ref] * p[P_K_Rf])
    return c


def day_terms(p, c, u, d):
    """Fill ``d`` (``N_DAY`` rows) with the input-dependent terms (inputs are constant within a day)."""
    F = u[U_F]
    d[D_fibF] = F / (p[P_K_F] + F) * c[C_fibref_inv]
    dsf = u[U_SF] / p[P_SF_ref] - 1.0
    dsug = u[U_SUG] / p[P_SUG_ref] - 1.0
    dupf = u[U_UPF] / p[P_UPF_ref] - 1.0
    # asymmetric diet response: deviations below the reference act with weight asym_dn (T3)
    w = p[P_asym_dn]
    dsf_a = _pos(dsf) - w * _pos(-dsf)
    dsug_a = _pos(dsug) - w * _pos(-dsug)
    dupf_a = _pos(dupf) - w * _pos(-dupf)
    d[D_gPb] = c[C_gPb0] + p[P_e_Pb_sf] * dsf_a + p[P_e_Pb_sug] * dsug_a + p[P_e_Pb_upf] * dupf_a
    # immigration into L (fraction of biomass per day)
    dose = 10.0 ** (u[U_PRO] - p[P_pro_log50])
    d[D_imm] = p[P_i_L_ff] * u[U_FF] + p[P_i_L_pro] * dose / (1.0 + dose)
    ffs = u[U_FF] / (p[P_K_FF] + u[U_FF])
    d[D_rtarget] = p[P_R_ref] * _floor(1.0 + p[P_e_R_ff] * (ffs - c[C_ffsref]) - p[P_e_R_upf] * dupf)
    d[D_xdiet] = _floor(1.0 + p[P_g_IP_diet] * dupf)
    d[D_chylo] = _pos(1.0 + p[P_c_chylo] * dsf_a) * c[C_iPb]
    # fiber residue (not fermented for lack of capacity) relative to the reference: F (1 - kappa),
    # kappa = R/(R + K_Rf); the R-dependent factor is applied in rhs_core (T2)
    d[D_fres] = p[P_g_IP_res] * F * c[C_ires]
    # SLE: its own (smaller) spill-over of tissue inflammation into IL-6 plus an additive IL-6 source
    # (B cells / interferon-driven), which is less variable between people than the multiplicative
    # chain (T11: SLE vs healthy IL-6 SMD +2.1, Ding 2020)
    d[D_e6a] = p[P_E6_A] + u[U_SLE] * (p[P_E6_A_sle] - p[P_E6_A])
    d[D_il6sle] = u[U_SLE] * p[P_il6_sle]
    M = u[U_M]
    s_eff = u[U_S] * p[P_react] * (1.0 - p[P_m_max] * M / (p[P_K_M] + M))
    d[D_seff] = s_eff
    d[D_sns6] = (1.0 + p[P_e_sns6] * s_eff) * c[C_nsns6]
    d[D_snst] = (1.0 + p[P_e_snst] * s_eff) * c[C_nsnst]
    d[D_drive] = (1.0 + p[P_s_gain] * s_eff) * c[C_ndrive]
    d[D_a2] = (
        p[P_alpha2]
        + u[U_RA] * (p[P_alpha2_ra] - p[P_alpha2])
        + u[U_SLE] * (p[P_alpha2_sle] - p[P_alpha2])
        + u[U_MS] * (p[P_alpha2_ms] - p[P_alpha2])
    )
    # MS: the core is read as CNS effector (p) and regulatory (a) T-cell activity; its inflammation
    # hardly spills into blood cytokines
    d[D_ms] = u[U_MS]
    d[D_spill] = 1.0 - u[U_MS] * (1.0 - p[P_ms_spill])
    d[D_dmard] = 1.0 - p[P_dmard_eff] * u[U_DMARD]
    d[D_prop] = p[P_k_prop] * u[U_PROP]
    return d


def _aux_shape(p, u):
    return np.broadcast_shapes(np.shape(p[0]), np.shape(u[0]))


def fast(y, p, u):
    """Quasi-steady-state quantities from slow states ``y``, parameters ``p`` and inputs ``u``.

    Returns a tuple in the order of :data:`FAST_NAMES`: faecal butyrate (mM), SCFA signal
    (1 at reference), CRH drive (1 at reference), measured L/M ratio, LPS fold-change, IL-10,
    IL-6, TNF, IL-1b, IL-17 (pg/mL), effective stress load.
    """
    c = derived(p, np.empty((N_DERIVED, *np.shape(p[0]))))
    d = day_terms(p, c, u, np.empty((N_DAY, *_aux_shape(p, u))))
    return fast_core(y, p, c, d)


def rhs(y, p, u, dy):
    """Write dy/dt (per day) of the slow states into ``dy``; see the module docstring."""
    c = derived(p, np.empty((N_DERIVED, *np.shape(p[0]))))
    d = day_terms(p, c, u, np.empty((N_DAY, *_aux_shape(p, u))))
    return rhs_core(y, p, c, d, dy)


def fast_core(y, p, c, d):
    """:func:`fast` given the derived constants ``c`` and day terms ``d``."""
    B = y[S_B]
    Pb = y[S_PB]
    Bc = y[S_BC]
    R = y[S_R]
    IP = y[S_IP]
    Treg = y[S_TREG]
    Th17 = y[S_TH17]
    cort = y[S_O]
    GR = y[S_GR]
    pp = y[S_P] * d[D_spill]  # tissue inflammation as seen by blood cytokines

    # fermentable fiber signal, normalised to 1 at the reference diet and diversity
    phi = d[D_fibF] * R / (R + p[P_K_Rf])
    bu = p[P_bu_ref] * (B * c[C_iB]) * phi
    scfa = p[P_w_bu] * bu * c[C_ibu] + (1.0 - p[P_w_bu]) * (Bc * c[C_iBc] * phi + d[D_prop])

    lps_pre = Pb * d[D_chylo]
    # CRH (QSSA). Its cytokine input uses IL-6 evaluated with the structural permeability IP
    # (without the fast mast-cell term, which itself depends on CRH): an explicit, loop-free order.
    K = p[P_K_LPS]
    l_struct = lps_pre * IP * c[C_iIP]
    ls = l_struct / (K + l_struct)
    base10 = 1.0 + p[P_e10_T] * Treg * c[C_iTreg] + p[P_e10_O] * cort
    gcs = c[C_supnum] / (1.0 + p[P_G_gc] * cort)
    sup_s = gcs / (1.0 + p[P_I_10] * (base10 + p[P_E10_LPS] * ls) * c[C_den10])
    infl6 = (1.0 + d[D_e6a] * pp) / (1.0 + d[D_e6a] * P_HEALTHY) * (1.0 + p[P_E6_17] * Th17 * c[C_iTh17]) * c[C_ninfl6]
    il6r_s = (1.0 + p[P_E6_LPS] * ls) * c[C_n6] * infl6 * sup_s * d[D_sns6] + d[D_il6sle] * c[C_iil6] * sup_s
    drive = d[D_drive] * (1.0 + p[P_c_cyt] * _pos(il6r_s - 1.0))
    kfb = p[P_hpa_kfb]
    crh = drive * c[C_kfb1] / (1.0 + kfb * GR * cort)

    # measured permeability and LPS with the fast mast-cell path
    lm = IP * (1.0 + p[P_g_mc] * _pos(crh - 1.0))
    lps = lps_pre * lm * c[C_iIP]
    lf = lps / (K + lps)

    il10r = (base10 + p[P_E10_LPS] * lf) * c[C_den10]
    il10 = p[P_il10_b] * il10r
    sup = gcs / (1.0 + p[P_I_10] * il10r)
    il6 = p[P_il6_b] * (1.0 + p[P_E6_LPS] * lf) * c[C_n6] * infl6 * sup * d[D_sns6] + d[D_il6sle] * sup
    supt = sup * d[D_snst]
    tnf = p[P_tnf_b] * (1.0 + p[P_Et_LPS] * lf) * c[C_nt] * (1.0 + p[P_Et_A] * pp) * c[C_ntA] * supt
    il1b = p[P_il1b_b] * (1.0 + p[P_E1_LPS] * lf) * c[C_n1] * (1.0 + p[P_E1_A] * pp) * c[C_n1A] * supt
    il17 = p[P_il17_b] * Th17 * c[C_iTh17]
    return bu, scfa, crh, lm, lps, il10, il6, tnf, il1b, il17, d[D_seff]


def rhs_core(y, p, c, d, dy):
    """:func:`rhs` given the derived constants ``c`` and day terms ``d``."""
    bu, scfa, crh, _lm, lps, _il10, il6, tnf, _il1b, _il17, _s_eff = fast_core(y, p, c, d)
    B = y[S_B]
    L = y[S_L]
    Pb = y[S_PB]
    Bc = y[S_BC]
    R = y[S_R]
    IP = y[S_IP]
    LBP = y[S_LBP]
    Treg = y[S_TREG]
    Th17 = y[S_TH17]
    cort = y[S_O]
    GR = y[S_GR]
    pp = y[S_P]
    aa = y[S_A]
    CRP = y[S_CRP]

    b = B * c[C_iB]
    lr = L * c[C_iL]
    pb = Pb * c[C_iPb]
    bc = Bc * c[C_iBc]
    rr = R * c[C_iR]
    dfib = d[D_fibF] * R / (R + p[P_K_Rf]) - 1.0

    dy[S_B] = p[P_r_B] * B * (c[C_gB0] + p[P_e_B_fib] * dfib - b - p[P_a_B_L] * lr - p[P_a_B_Bc] * bc)
    dy[S_L] = p[P_r_L] * L * (c[C_gL0] - lr - p[P_a_L_B] * b) + d[D_imm]
    dy[S_PB] = p[P_r_Pb] * Pb * (d[D_gPb] - pb - p[P_a_Pb_B] * b - p[P_a_Pb_L] * lr - p[P_a_Pb_R] * rr)
    dy[S_BC] = p[P_r_Bc] * Bc * (c[C_gBc0] + p[P_e_Bc_fib] * dfib - bc - p[P_a_Bc_B] * b)

    dy[S_R] = p[P_k_R] * (d[D_rtarget] - R)

    h = c[C_cbu1] / (1.0 + p[P_c_bu] * bu * c[C_ibu])
    res = 1.0 + _pos(d[D_fres] * p[P_K_Rf] / (R + p[P_K_Rf]) - p[P_g_IP_res])
    x_ip = (1.0 + p[P_g_IP_crh] * _pos(crh - 1.0) + p[P_g_IP_tnf] * _pos(tnf * c[C_itnf] - 1.0)) * d[D_xdiet] * res
    dy[S_IP] = p[P_k_IP] * (p[P_IP_ref] * h * x_ip - IP)

    dy[S_LBP] = p[P_k_LBP] * (c[C_lbp] * (1.0 + p[P_a_LBP] * lps) - LBP)

    il6r = il6 * c[C_iil6]
    t_ind = _floor(1.0 + p[P_e_T_scfa] * (scfa - 1.0) + p[P_e_T_L] * (lr - 1.0))
    dy[S_TREG] = p[P_k_T] * (c[C_treg] * t_ind / (1.0 + p[P_i_T_6] * il6r) - Treg)
    th_ind = 1.0 + p[P_e_17_6] * il6r + p[P_e_17_Pb] * pb
    dy[S_TH17] = p[P_k_17] * (c[C_th17] * th_ind / (1.0 + p[P_i_17_T] * Treg * c[C_iTreg]) - Th17)

    dy[S_O] = p[P_k_O] * (crh - cort)
    X = GR * cort
    X2 = X * X
    Xn = X2 * X2
    dy[S_GR] = p[P_k_GR] * (c[C_r0] + p[P_hpa_r1] * Xn / (c[C_Kn] + Xn) - GR)

    sysin = p[P_beta_L] * (lps - 1.0) + p[P_beta_17] * (Th17 * c[C_iTh17] - 1.0)
    pp2 = pp * pp
    prod = _pos(p[P_alpha1] + sysin) * d[D_dmard] + d[D_a2] * pp2 / (1.0 + pp2)
    dy[S_P] = p[P_k_A] * (-p[P_gamma] * pp + prod / (1.0 + aa * aa))
    a_ind = _pos(1.0 + p[P_beta_T] * (Treg * c[C_iTreg] - 1.0))
    da = p[P_k_A] * (-aa + p[P_alpha4] * pp2 / (c[C_a3sq] + pp2) * a_ind)
    # MS (Velez de Mendizabal 2011, reduced): regulatory activity a is built up by effector activity
    # and decays over months; a relapse starts when a has decayed so far that only the high branch of
    # p remains, and ends when a has risen enough to remove it (relaxation oscillation)
    da_ms = p[P_ms_kon] * pp * a_ind - p[P_ms_koff] * aa / _floor(a_ind)
    dy[S_A] = da + d[D_ms] * (da_ms - da)

    dy[S_CRP] = p[P_k_CRP] * (c[C_crp] * il6 / (p[P_crp_K] + il6) - CRP)
    return dy


def const_rates(p, lam):
    """Diagonal linear decay rates (1/d) of the relaxation states, for the exponential integrator.

    The rows of B, L, Pb, Bc, p and GR are overwritten at every step by :func:`stage_rates`.
    """
    lam[S_R] = p[P_k_R]
    lam[S_IP] = p[P_k_IP]
    lam[S_LBP] = p[P_k_LBP]
    lam[S_TREG] = p[P_k_T]
    lam[S_TH17] = p[P_k_17]
    lam[S_O] = p[P_k_O]
    lam[S_GR] = p[P_k_GR]
    lam[S_P] = p[P_k_A] * p[P_gamma]
    lam[S_A] = p[P_k_A]
    lam[S_CRP] = p[P_k_CRP]
    return lam


def stage_rates(y, p, c, d, f, lam):
    """State-dependent linear rates for the exponential integrator: minus the Jacobian diagonal of
    the states whose own feedback is nonlinear (guilds, Baker p, GR), given ``f`` = dy/dt at ``y``.

    For a guild ``dx/dt = r x (G - x/x*) + I`` the diagonal is ``r (G - 2 x/x*) = (f - I)/x - r x/x*``.
    A guild's rate may be < 0 (growth from low abundance); the rates of p and GR are clipped at 0
    (on a self-activating branch their growth is left to the explicit part, which keeps the step stable).
    """
    B = y[S_B]
    L = y[S_L]
    Pb = y[S_PB]
    Bc = y[S_BC]
    lam[S_B] = p[P_r_B] * B * c[C_iB] - f[S_B] / (B + 1e-300)
    lam[S_L] = p[P_r_L] * L * c[C_iL] - (f[S_L] - d[D_imm]) / (L + 1e-300)
    lam[S_PB] = p[P_r_Pb] * Pb * c[C_iPb] - f[S_PB] / (Pb + 1e-300)
    lam[S_BC] = p[P_r_Bc] * Bc * c[C_iBc] - f[S_BC] / (Bc + 1e-300)
    pp = y[S_P]
    aa = y[S_A]
    q = 1.0 + pp * pp
    lam[S_P] = _pos(p[P_k_A] * (p[P_gamma] - d[D_a2] * 2.0 * pp / (q * q * (1.0 + aa * aa))))
    cort = y[S_O]
    X = y[S_GR] * cort
    X3 = X * X * X
    den = c[C_Kn] + X3 * X
    lam[S_GR] = _pos(p[P_k_GR] * (1.0 - p[P_hpa_r1] * 4.0 * c[C_Kn] * X3 * cort / (den * den)))
    return lam


def etd_coefficients(lam, h):
    """ETDRK4 (Cox & Matthews 2002, doi:10.1006/jcph.2002.6995) weights for decay rate ``lam`` and step ``h``.

    Returns ``(E, E2, Q, f1, f2, f3)`` with ``z = -lam h``: ``E = e^z``, ``E2 = e^(z/2)``,
    ``Q = h (E2 - 1)/z`` and the three quadrature weights; Taylor series for ``|z| < 0.2``. At
    ``lam = 0`` they are the classical RK4 weights.
    """
    z = -lam * h
    E2 = np.exp(0.5 * z)
    E = E2 * E2
    if abs(z) < 0.2:
        z2 = z * z
        z3 = z2 * z
        z4 = z2 * z2
        z5 = z4 * z
        z6 = z3 * z3
        Q = 0.5 * h * (1.0 + z / 4.0 + z2 / 24.0 + z3 / 192.0 + z4 / 1920.0 + z5 / 23040.0)
        f1 = h * (
            1.0 / 6.0 + z / 6.0 + 3.0 * z2 / 40.0 + z3 / 45.0 + 5.0 * z4 / 1008.0 + z5 / 1120.0 + 7.0 * z6 / 51840.0
        )
        f2 = h * (1.0 / 6.0 + z / 12.0 + z2 / 40.0 + z3 / 180.0 + z4 / 1008.0 + z5 / 6720.0 + z6 / 51840.0)
        f3 = h * (1.0 / 6.0 - z2 / 120.0 - z3 / 360.0 - z4 / 1680.0 - z5 / 10080.0 - z6 / 72576.0)
    else:
        iz3 = h / (z * z * z)
        Q = h * (E2 - 1.0) / z  # no cancellation for |z| >= 0.2
        f1 = (-4.0 - z + E * (4.0 - 3.0 * z + z * z)) * iz3
        f2 = (2.0 + z + E * (-2.0 + z)) * iz3
        f3 = (-4.0 - 3.0 * z - z * z + E * (4.0 - z)) * iz3
    return E, E2, Q, f1, f2, f3


assert len(PARAM_NAMES) == N_PARAMS
