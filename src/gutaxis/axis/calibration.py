"""Calibration targets (``gutaxis/data/axis_calibration_targets.tsv``) and the virtual trials that test them.

Each ``trial_T#`` function runs the study's design on a virtual population — the study's size and
duration, >= 200 seeded replicate trials — and returns the simulated figures named in the targets
table (the mean over replicates, plus what the direction checks need). Intervention doses that the
papers do not state exactly are documented in each function (``assumed``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from . import equations as eq
from .inputs import Schedule
from .population import Population, plausible_patients, select_population
from .trials import hedges_g, measured, replicate_indices, run_arms

__all__ = ["TRIALS", "calibration_targets", "population"]


def calibration_targets() -> pd.DataFrame:
    """The published target numbers with citations, indexed by ``key`` (``T#:endpoint``)."""
    with resources.files("gutaxis.data").joinpath("axis_calibration_targets.tsv").open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, sep="\t")
    df["key"] = df["target"] + ":" + df["endpoint"]
    return df.set_index("key")


@lru_cache(maxsize=8)
def population(disease: str = "healthy", n_candidates: int = 6000, seed: int = 20240) -> Population:
    """Seeded virtual population used by the calibration trials (cached per process)."""
    pop = plausible_patients(n_candidates, disease, seed=seed)
    if disease == "healthy":
        pop = select_population(pop, seed=seed + 1)
    return pop


def _ramp(n_days: int, name: str, full: float, ramp_weeks: int = 4) -> Schedule:
    """Wastyk-style ramp: the increase reaches ``full`` in ``ramp_weeks`` weekly steps, then holds."""
    s = Schedule.baseline(n_days)
    for w in range(ramp_weeks):
        s.shift(7 * w, 7 * (w + 1), **{name: full * (w + 1) / ramp_weeks})
    s.shift(7 * ramp_weeks, n_days, **{name: full})
    return s


def _single_arm_changes(res, arm, outputs, day, n, n_rep, rng, relative=False):
    (idx,) = replicate_indices(res.pop.n, [n], n_rep, rng)
    out = {}
    for o in outputs:
        pre = measured(res.values(arm, o, 0)[idx], o, res.pop.params[:, idx], rng)
        post = measured(res.values(arm, o, day)[idx], o, res.pop.params[:, idx], rng)
        out[o] = 100.0 * (post / pre - 1.0) if relative else post - pre
    return out, idx


def trial_T1_T2(n_rep: int = 200, seed: int = 1) -> dict:
    """Wastyk 2021: +6 fermented servings/d or +20 g/d fiber, 10 weeks (4-week ramp), n = 18/arm."""
    pop = population("healthy")
    days = 70
    schedules = {
        "ff2": _ramp(days, "fermented", 2.0),
        "ff4": _ramp(days, "fermented", 4.0),
        "ff6": _ramp(days, "fermented", 6.0),
        "fib20": _ramp(days, "fiber", 20.0),
    }
    res = run_arms(pop, schedules, record=[0, days])
    rng = np.random.default_rng(seed)
    outs = ["R", "il6", "tnf", "il1b", "il17", "CRP", "LBP"]
    f = {}
    for arm in schedules:
        ch, idx = _single_arm_changes(res, arm, outs, days, 18, n_rep, rng)
        for o in outs:
            f[f"{arm}:{o}"] = ch[o].mean(axis=1)  # per-replicate mean change
        # per-replicate one-sample t statistic for IL-6 change
        c = ch["il6"]
        f[f"{arm}:il6_t"] = c.mean(axis=1) / (c.std(axis=1, ddof=1) / np.sqrt(c.shape[1]))
        if arm == "fib20":
            base_r = res.values(arm, "R", 0)[idx]
            f["fib20:corr_baseR_dil6"] = np.array([np.corrcoef(base_r[k], c[k])[0, 1] for k in range(n_rep)])
    return f


def trial_T3(n_rep: int = 200, seed: int = 3) -> dict:
    """Pendyala 2012: Western vs prudent diet, 1 month each (crossover, washout), n = 8.

    Diets (assumed, mirror images around the reference diet; the letter's abstract gives no nutrient
    table): Western = saturated fat 16 % energy, added sugar 100 g/d, UPF 70 %, fiber 12 g/d;
    prudent = 8 %, 40 g/d, 30 %, 28 g/d.
    Effect = % change of the arm mean of measured endotoxin activity after 30 days.
    """
    pop = population("healthy")
    days = 30
    w = Schedule.baseline(days).set(satfat=16.0, sugar=100.0, upf=70.0, fiber=12.0)
    p = Schedule.baseline(days).set(satfat=8.0, sugar=40.0, upf=30.0, fiber=28.0)
    res = run_arms(pop, {"western": w, "prudent": p}, record=[0, days])
    rng = np.random.default_rng(seed)
    (idx,) = replicate_indices(pop.n, [8], n_rep, rng)
    f = {}
    for arm in ("western", "prudent"):
        for o in ("lps", "tnf"):
            pre = measured(res.values(arm, o, 0)[idx], o, pop.params[:, idx], rng)
            post = measured(res.values(arm, o, days)[idx], o, pop.params[:, idx], rng)
            f[f"{arm}:{o}_pct"] = 100.0 * (post.mean(axis=1) / pre.mean(axis=1) - 1.0)
    return f


def trial_T4(n_rep: int = 200, seed: int = 4) -> dict:
    """Karl 2017: 4-day ski march (maximal load 1.0 for 4 days), n = 73; permeability % change."""
    pop = population("healthy")
    days = 4
    res = run_arms(pop, {"march": Schedule.baseline(days).set(stress=1.0)}, record=[0, days])
    rng = np.random.default_rng(seed)
    ch, _idx = _single_arm_changes(res, "march", ["lm", "il6"], days, 73, n_rep, rng, relative=True)
    dil6, _ = ch["il6"], None
    corr = np.array([np.corrcoef(ch["lm"][k], dil6[k])[0, 1] for k in range(n_rep)])
    return {"lm_pct": ch["lm"].mean(axis=1), "il6_pct": dil6.mean(axis=1), "corr_dlm_dil6": corr}


def trial_T8(n_rep: int = 200, seed: int = 8) -> dict:
    """Probiotic in RA: 1e10 CFU/d vs placebo for 10 weeks, n = 22/arm (Sanchez 2022; Mohammed 2017)."""
    pop = population("ra")
    days = 70
    sch = {"probiotic": Schedule.baseline(days).set(probiotic=10.0), "placebo": Schedule.baseline(days)}
    res = run_arms(pop, sch, record=[0, days])
    rng = np.random.default_rng(seed)
    it, ic = replicate_indices(pop.n, [22, 22], n_rep, rng)
    f = {}
    for o in ("CRP", "il6", "das28"):
        ch = {}
        for arm, idx in (("probiotic", it), ("placebo", ic)):
            if o == "das28":
                pre = res.values(arm, o, 0)[idx] + pop.params[
                    eq.PARAM_NAMES.index("sd_das"), idx
                ] * rng.standard_normal(idx.shape)
                post = res.values(arm, o, days)[idx] + pop.params[
                    eq.PARAM_NAMES.index("sd_das"), idx
                ] * rng.standard_normal(idx.shape)
            else:
                pre = measured(res.values(arm, o, 0)[idx], o, pop.params[:, idx], rng)
                post = measured(res.values(arm, o, days)[idx], o, pop.params[:, idx], rng)
            ch[arm] = post - pre
        f[f"{o}:md"] = ch["probiotic"].mean(axis=1) - ch["placebo"].mean(axis=1)
        f[f"{o}:smd"] = hedges_g(ch["probiotic"], ch["placebo"])
    return f


def trial_T9(n_rep: int = 200, seed: int = 9) -> dict:
    """Mind-body practice 30 min/d for 8 weeks vs control, n = 50/arm, stressed adults (PSS-10 >= 14)."""
    pop = population("healthy")
    pop = pop.subset(np.flatnonzero(pop.inputs[eq.U_S] >= 14 / 40))
    days = 56
    sch = {"mbi": Schedule.baseline(days).set(mindbody=30.0), "control": Schedule.baseline(days)}
    res = run_arms(pop, sch, record=[0, days])
    rng = np.random.default_rng(seed)
    it, ic = replicate_indices(pop.n, [50, 50], n_rep, rng)
    f = {}
    for o in ("il6", "CRP"):
        ch = {}
        for arm, idx in (("mbi", it), ("control", ic)):
            pre = measured(res.values(arm, o, 0)[idx], o, pop.params[:, idx], rng)
            post = measured(res.values(arm, o, days)[idx], o, pop.params[:, idx], rng)
            ch[arm] = post - pre
        f[f"{o}:smd"] = hedges_g(ch["mbi"], ch["control"])
    return f


def trial_T10(n_rep: int = 200, seed: int = 10) -> dict:
    """Duscha 2020: propionate 1 g/d for 14 days in MS (n = 24, single arm); Häger 2019: RA, +20 g/d fiber
    for 28 days (n = 36, single arm; the fiber dose of the bars/cereals is assumed)."""
    f = {}
    rng = np.random.default_rng(seed)
    pop = population("ms")  # MS virtual population (relapsing-remitting variant, random cycle phases)
    res = run_arms(pop, {"pa": Schedule.baseline(14).set(propionate=1.0)}, record=[0, 14])
    ch, _ = _single_arm_changes(res, "pa", ["Treg", "Th17"], 14, 24, n_rep, rng, relative=True)
    f["pa:Treg_pct"] = ch["Treg"].mean(axis=1)
    f["pa:Th17_pct"] = ch["Th17"].mean(axis=1)
    ra = population("ra")
    res = run_arms(ra, {"fib": Schedule.baseline(28).shift(fiber=20.0)}, record=[0, 28])
    ch, _ = _single_arm_changes(res, "fib", ["Treg", "Th17"], 28, 36, n_rep, rng, relative=True)
    f["fib:Treg_pct"] = ch["Treg"].mean(axis=1)
    f["fib:Th17_pct"] = ch["Th17"].mean(axis=1)
    return f


def trial_T11(n_rep: int = 200, seed: int = 11) -> dict:
    """Baseline distributions: healthy VP quartiles (CoLaus size n = 6085, resampled), and SLE vs
    healthy IL-6 Hedges' g in studies of 75 SLE and 36 controls (Ding 2020: 1817 / 874 over 24 studies)."""
    rng = np.random.default_rng(seed)
    h = population("healthy")
    s = population("sle")
    rh = h.readouts()
    f = {}
    for o in ("il6", "tnf", "CRP"):
        x = rh[o][rng.integers(0, h.n, size=(n_rep, 6085))]
        q = np.percentile(x, [25, 50, 75], axis=1)
        f[f"{o}:q1"], f[f"{o}:median"], f[f"{o}:q3"] = q
    ih = rng.integers(0, h.n, size=(n_rep, 36))
    i_s = rng.integers(0, s.n, size=(n_rep, 75))
    xh = measured(rh["il6"][ih], "il6", h.params[:, ih], rng)
    xs = measured(s.readouts()["il6"][i_s], "il6", s.params[:, i_s], rng)
    f["sle_il6:smd"] = hedges_g(xs, xh)
    return f


def _acute_noise(x, pop_params, idx, rng):
    cv = pop_params[eq.PARAM_NAMES.index("cv_acute"), idx]
    return x * np.exp(cv * rng.standard_normal(np.shape(x)))


def trial_T5(n_rep: int = 200, seed: int = 5) -> dict:
    """Vanuytsel 2014: public speech (1 h at the lab-stressor load ``S_lab``) vs control, within
    subject, n = 23; 2-h L/M from the start of the speech; peripheral CRH at the end of the speech.
    Also the speech with the mast-cell path blocked (g_mc = 0, DSCG) and with no stress reactivity
    (react = 0, no cortisol response)."""
    from .acute import lab_stressor, simulate_acute

    pop = population("healthy")
    P, Y, U = pop.params, pop.states, pop.inputs
    st = lab_stressor(P, duration_h=1.0)
    kw: dict[str, Any] = {"hours": 2.5, "record_min": 5.0}
    ctl = simulate_acute(P, Y, U, **kw)
    spe = simulate_acute(P, Y, U, stress=st, **kw)
    # blocked mast cells (DSCG) and no stress reactivity, each against its own unstressed control
    blk = {o: simulate_acute(P, Y, U, stress=s, overrides={"g_mc": 0.0}, **kw) for o, s in (("s", st), ("c", ()))}
    nor = {o: simulate_acute(P, Y, U, stress=s, overrides={"react": 0.0}, **kw) for o, s in (("s", st), ("c", ()))}
    lm = {k: t.window_mean("lm", 0.0, 2.0) for k, t in (("ctl", ctl), ("spe", spe))}
    d_blk = blk["s"].window_mean("lm", 0.0, 2.0) - blk["c"].window_mean("lm", 0.0, 2.0)
    d_nor = nor["s"].window_mean("lm", 0.0, 2.0) - nor["c"].window_mean("lm", 0.0, 2.0)
    crh = 0.028 * spe.at("crh", 1.0) / np.median(ctl.at("crh", 1.0))
    d_cort = spe.peak("cortisol")[0] / ctl.at("cortisol", 0.0) - 1.0
    rng = np.random.default_rng(seed)
    (idx,) = replicate_indices(pop.n, [23], n_rep, rng)
    f = {}
    for k in lm:
        f[f"lm_{k}"] = measured(lm[k][idx], "lm", P[:, idx], rng).mean(axis=1)
    f["crh"] = measured(crh[idx], "lm", P[:, idx], rng).mean(axis=1)  # peripheral CRH assay noise ~ cv_lm
    f["dlm_blocked"] = d_blk[idx].mean(axis=1)
    f["dlm_no_cortisol"] = d_nor[idx].mean(axis=1)
    dl = lm["spe"] - lm["ctl"]
    f["corr_dcort_dlm"] = np.array([np.corrcoef(d_cort[i], dl[i])[0, 1] for i in idx])
    return f


def trial_T6(n_rep: int = 200, seed: int = 6) -> dict:
    """Copeland 2005: 2 ng/kg intravenous endotoxin (E. coli O113) bolus, healthy volunteers, 8 h;
    n = 10 per virtual study (assumed). Read-outs from the mean curves of each replicate study."""
    from .acute import simulate_acute

    pop = population("healthy")
    tr = simulate_acute(pop.params, pop.states, pop.inputs, hours=8.0, lps_dose=2.0, record_min=10.0)
    rng = np.random.default_rng(seed)
    (idx,) = replicate_indices(pop.n, [10], n_rep, rng)
    h = tr.hours
    f = {}
    mean = {k: tr.values[k][:, idx].mean(axis=2) for k in ("il6", "tnf", "il10")}  # (n_times, n_rep)
    i2 = int(np.argmin(np.abs(h - 2.0)))
    i6 = int(np.argmin(np.abs(h - 6.0)))
    f["il6_2h"] = _acute_noise(tr.values["il6"][i2][idx], pop.params, idx, rng).mean(axis=1)
    for k in ("il6", "tnf", "il10"):
        f[f"{k}_peak_h"] = h[np.argmax(mean[k], axis=0)]
    f["resolved_6h"] = np.maximum(mean["il6"][i6] / mean["il6"].max(axis=0), mean["tnf"][i6] / mean["tnf"].max(axis=0))
    return f


def trial_T7(n_rep: int = 200, seed: int = 7) -> dict:
    """Marsland 2017: acute laboratory stressor (30 min at ``S_lab``), IL-6 90 min after its end;
    CRP 2 h after; n = 30 per virtual study (assumed); paired d of log values with same-session
    noise ``cv_acute``."""
    from .acute import lab_stressor, simulate_acute

    pop = population("healthy")
    st = lab_stressor(pop.params, duration_h=0.5)
    tr = simulate_acute(pop.params, pop.states, pop.inputs, hours=3.0, stress=st, record_min=5.0)
    rng = np.random.default_rng(seed)
    (idx,) = replicate_indices(pop.n, [30], n_rep, rng)
    end = st[0][1]
    f = {}
    for name, out, t in (("il6_d", "il6", end + 1.5), ("crp_d", "CRP", end + 2.0)):
        pre = _acute_noise(tr.at(out, 0.0)[idx], pop.params, idx, rng)
        post = _acute_noise(tr.at(out, t)[idx], pop.params, idx, rng)
        dl = np.log(post) - np.log(pre)
        f[name] = dl.mean(axis=1) / dl.std(axis=1, ddof=1)
    m = tr.values["il6"][:, idx].mean(axis=2)
    f["il6_peak_min"] = 60.0 * (tr.hours[np.argmax(m, axis=0)] - end)
    return f


def trial_T12_ms(n_rep: int = 200, seed: int = 12, n: int = 100, years: int = 2) -> dict:
    """Vélez de Mendizábal 2011: early RRMS; cohorts of ``n`` virtual patients followed ``years``
    years (assumed design): annualised relapse rate and median relapse duration per cohort."""
    from .population import relapses

    pop = population("ms")
    days = round(float(365.25 * years))
    tr = run_arms(pop, {"fu": Schedule.baseline(days)}, record="daily").arms["fu"]
    thr = float(np.median(pop.params[eq.PARAM_NAMES.index("ms_relapse")]))
    arr, _ = relapses(tr.days, tr.state("p"), thr)
    rng = np.random.default_rng(seed)
    (idx,) = replicate_indices(pop.n, [n], n_rep, rng)
    med = np.empty(n_rep)
    for k in range(n_rep):
        _, dur = relapses(tr.days, tr.state("p")[:, idx[k]], thr)
        med[k] = np.median(dur) if dur.size else np.nan
    return {"arr": arr[idx].mean(axis=1), "duration_days": med}


TRIALS = {
    "T1": trial_T1_T2,
    "T2": trial_T1_T2,
    "T3": trial_T3,
    "T4": trial_T4,
    "T5": trial_T5,
    "T6": trial_T6,
    "T7": trial_T7,
    "T8": trial_T8,
    "T9": trial_T9,
    "T10": trial_T10,
    "T11": trial_T11,
    "T12": trial_T12_ms,
}
