"""Virtual populations: plausible patients from priors, then prevalence-based selection.

Allen, Rieger & Musante 2016, CPT Pharmacometrics Syst Pharmacol 5:140 (doi:10.1002/psp4.12063):

1. *Plausible patients*: parameter vectors sampled from the priors of ``axis_parameters.tsv`` and
   baseline inputs (usual diet, stress) sampled from documented distributions; each is relaxed to
   its steady state and kept only if its states and read-outs lie within physiological bounds
   (:data:`PLAUSIBLE_BOUNDS`) and the steady state has converged.
2. *Virtual population*: acceptance-rejection of plausible patients with probability
   ``min(1, f(z)/(c g(z)))``, where ``z`` are the observed baseline read-outs (log IL-6, log TNF,
   log CRP), ``f`` the target (observed) density, ``g`` a Gaussian-KDE estimate of the plausible
   patients' density and ``c`` a high quantile of ``f/g`` (so that a few extreme ratios do not
   shrink the acceptance of everyone). No weighting: accepted patients count once.

Everything is seeded: the same seed gives the same population.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from . import equations as eq
from .engine import fast_quantities, healthy_state, steady_state
from .inputs import reference_inputs
from .parameters import sample_parameters

__all__ = [
    "HEALTHY_BASELINE_TARGET",
    "PLAUSIBLE_BOUNDS",
    "USUAL_INPUT_CLIPS",
    "Population",
    "initial_state",
    "plausible_patients",
    "relapses",
    "select_population",
    "virtual_population",
]

#: physiological bounds (inclusive) of steady-state read-outs for a plausible patient, per disease
PLAUSIBLE_BOUNDS = {
    "healthy": {
        "il6": (0.05, 40.0),
        "tnf": (0.3, 30.0),
        "CRP": (0.02, 20.0),
        "lm": (0.005, 0.2),
        "O": (0.4, 2.5),
        "GR": (0.2, 3.0),
        "Treg": (1.0, 15.0),
        "Th17": (0.1, 6.0),
        "p": (0.0, 0.1),
    },
    "ra": {
        "il6": (2.0, 150.0),
        "tnf": (1.0, 60.0),
        "CRP": (2.0, 80.0),
        "lm": (0.005, 0.3),
        "O": (0.3, 3.0),
        "GR": (0.2, 3.0),
        "Treg": (0.5, 15.0),
        "Th17": (0.1, 10.0),
        "das28": (3.2, 7.5),
    },
    "ms": {
        "il6": (0.05, 60.0),
        "tnf": (0.3, 40.0),
        "CRP": (0.02, 30.0),
        "lm": (0.005, 0.2),
        "O": (0.4, 2.5),
        "GR": (0.2, 3.0),
        "Treg": (1.0, 15.0),
        "Th17": (0.1, 6.0),
    },
    "sle": {
        "il6": (1.0, 150.0),
        "tnf": (0.5, 60.0),
        "CRP": (0.1, 80.0),
        "lm": (0.005, 0.3),
        "O": (0.3, 3.0),
        "GR": (0.2, 3.0),
        "Treg": (0.5, 15.0),
        "Th17": (0.1, 10.0),
        "p": (0.2, 5.0),
    },
}

#: observed healthy baseline (CoLaus, Marques-Vidal 2011, doi:10.1371/journal.pone.0021002):
#: medians and IQRs; correlations between the log markers are assumed (not published there)
HEALTHY_BASELINE_TARGET = {
    "markers": ("il6", "tnf", "CRP"),
    "median": (1.47, 2.89, 1.3),
    "q1": (0.71, 1.82, 0.6),
    "q3": (3.53, 4.53, 2.7),
    "corr": ((1.0, 0.3, 0.45), (0.3, 1.0, 0.15), (0.45, 0.15, 1.0)),
}


@dataclass
class Population:
    """Patients with parameters ``(N_PARAMS, n)``, baseline inputs ``(N_INPUTS, n)`` and steady states."""

    params: np.ndarray
    inputs: np.ndarray
    states: np.ndarray
    disease: str
    seed: int | None = None

    @property
    def n(self) -> int:
        return self.params.shape[1]

    def readouts(self) -> dict:
        """Steady-state read-outs: states and fast quantities, each ``(n,)``."""
        out = {k: self.states[i] for i, k in enumerate(eq.STATE_NAMES)}
        out.update({k: np.asarray(v) for k, v in fast_quantities(self.states, self.params, self.inputs).items()})
        return out

    def subset(self, idx) -> Population:
        idx = np.asarray(idx)
        return Population(self.params[:, idx], self.inputs[:, idx], self.states[:, idx], self.disease, self.seed)


#: the limits to which :func:`_sample_inputs` clips each usual input it draws (the others stay at the
#: reference); scenarios check that a ``shift`` keeps every patient's level within the possible range
#: (:func:`gutaxis.axis.inputs.usual_input_bounds`)
USUAL_INPUT_CLIPS = {
    "fiber": (5, 60),
    "fermented": (0, 4),
    "upf": (10, 90),
    "sugar": (10, 250),
    "satfat": (5, 25),
    "stress": (0.0, 1.0),
}


def _sample_inputs(n: int, disease: str, rng: np.random.Generator) -> np.ndarray:
    """Usual diet and stress of adults (assumed distributions, documented in docs/axis.md)."""
    U = reference_inputs(n)
    c = USUAL_INPUT_CLIPS
    U[eq.U_F] = np.clip(np.exp(rng.normal(np.log(18.0), 0.35, n)), *c["fiber"])
    U[eq.U_FF] = np.clip(rng.exponential(0.6, n), *c["fermented"])
    U[eq.U_UPF] = np.clip(rng.normal(50.0, 12.0, n), *c["upf"])
    U[eq.U_SUG] = np.clip(np.exp(rng.normal(np.log(65.0), 0.45, n)), *c["sugar"])
    U[eq.U_SF] = np.clip(rng.normal(12.0, 2.5, n), *c["satfat"])
    U[eq.U_S] = np.clip(rng.normal(13.0, 6.5, n), 0, 40) / 40.0  # PSS-10 -> load (0-1: USUAL_INPUT_CLIPS)
    U[eq.U_RA] = 1.0 if disease == "ra" else 0.0
    U[eq.U_SLE] = 1.0 if disease == "sle" else 0.0
    U[eq.U_DMARD] = 1.0 if disease == "ra" else 0.0
    U[eq.U_MS] = 1.0 if disease == "ms" else 0.0
    return U


def initial_state(P: np.ndarray, disease: str, rng: np.random.Generator) -> np.ndarray:
    """Start of the relaxation: the reference state; RA/SLE on the chronic branch of the Baker
    core; MS in remission at a random phase of the relapse cycle (regulatory activity a)."""
    y0 = healthy_state(P)
    if disease in ("ra", "sle"):  # start on the chronic branch of the Baker core
        y0[eq.S_P] = 1.5
        y0[eq.S_A] = 3.0
    elif disease == "ms":
        y0[eq.S_A] = rng.uniform(0.6, 3.5, P.shape[1])
    return y0


def relapses(days: np.ndarray, p: np.ndarray, threshold: float = 0.5):
    """MS relapses from effector-activity trajectories ``p`` ``(n_times, n)`` on ``days``.

    Returns ``(arr, durations)``: annualised relapse rate per patient (onsets per year of follow-up)
    and the list of durations (days) of the relapses that ended within the follow-up.
    """
    p = np.asarray(p, float)
    above = p > threshold
    on = above[1:] & ~above[:-1]
    off = ~above[1:] & above[:-1]
    years = (days[-1] - days[0]) / 365.25
    arr = on.sum(axis=0) / years
    durations = []
    for j in range(p.shape[1]):
        t_on = days[1:][on[:, j]]
        t_off = days[1:][off[:, j]]
        for t in t_on:
            later = t_off[t_off > t]
            if later.size:
                durations.append(float(later[0] - t))
    return arr, np.asarray(durations)


def plausible_patients(n_candidates: int, disease: str = "healthy", seed: int = 0) -> Population:
    """Sample ``n_candidates`` patients from the priors and keep the plausible ones (step 1)."""
    if disease not in PLAUSIBLE_BOUNDS:
        raise InputError(f"unknown disease {disease!r}", hint=f"use one of {sorted(PLAUSIBLE_BOUNDS)}")
    rng = np.random.default_rng(seed)
    P = sample_parameters(n_candidates, rng)
    U = _sample_inputs(n_candidates, disease, rng)
    y0 = initial_state(P, disease, rng)
    y, rel = steady_state(P, U, y0, days=365, dt=0.5)
    pop = Population(P, U, y, disease, seed)
    r = pop.readouts()
    # MS patients relapse and remit (a limit cycle): they are not at a steady state; after 365 days
    # each is at its own phase of the cycle
    ok = np.isfinite(y).all(axis=0) & ((rel < 2e-3) | (disease == "ms"))
    for k, (lo, hi) in PLAUSIBLE_BOUNDS[disease].items():
        ok &= (r[k] >= lo) & (r[k] <= hi)
    return pop.subset(np.flatnonzero(ok))


def _target_logpdf(z: np.ndarray, target: dict) -> np.ndarray:
    med = np.log(np.asarray(target["median"]))
    sd = (np.log(np.asarray(target["q3"])) - np.log(np.asarray(target["q1"]))) / 1.3489795
    C = np.asarray(target["corr"]) * np.outer(sd, sd)
    d = z - med[:, None]
    Ci = np.linalg.inv(C)
    return -0.5 * np.einsum("in,ij,jn->n", d, Ci, d)


def select_population(pop: Population, target: dict | None = None, seed: int = 0, quantile: float = 0.98) -> Population:
    """Prevalence-based acceptance-rejection to match ``target`` (step 2; Allen 2016)."""
    from scipy.stats import gaussian_kde

    target = HEALTHY_BASELINE_TARGET if target is None else target
    r = pop.readouts()
    z = np.log(np.vstack([r[k] for k in target["markers"]]))
    logf = _target_logpdf(z, target)
    logg = np.log(gaussian_kde(z)(z))
    ratio = np.exp(logf - logg)
    c = np.quantile(ratio, quantile)
    rng = np.random.default_rng(seed)
    keep = rng.random(pop.n) < np.minimum(1.0, ratio / c)
    return pop.subset(np.flatnonzero(keep))


def virtual_population(
    n_candidates: int, disease: str = "healthy", seed: int = 0, target: dict | None = None
) -> Population:
    """Plausible patients then, for a disease with a baseline target (healthy), selection."""
    pop = plausible_patients(n_candidates, disease, seed)
    if disease == "healthy" or target is not None:
        pop = select_population(pop, target, seed=seed + 1)
    return pop
