"""In-silico trials on a virtual population: arms, replicate trials, measurement noise, effect sizes.

A patient's trajectory is deterministic given their parameters and arm, so each patient of the
virtual population is simulated once per arm; a *replicate trial* then randomises ``n_per_arm``
distinct patients to each arm (seeded) and measures them with log-normal within-subject/assay
noise (``cv_*`` parameters). Effects are reported the way meta-analyses report them:

* mean difference of change from baseline between arms (MD);
* standardised mean difference of change scores, Hedges' g:
  ``g = J (mean dT - mean dC) / SD_pooled(change)``, ``J = 1 - 3/(4 (nT + nC) - 9)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from . import equations as eq
from .engine import Trajectory, simulate
from .population import Population

__all__ = ["NOISE_PARAM", "ArmResults", "hedges_g", "measured", "replicate_indices", "run_arms"]

#: output -> observation-noise parameter (log SD) in axis_parameters.tsv
NOISE_PARAM = {
    "il6": "cv_il6",
    "tnf": "cv_tnf",
    "CRP": "cv_crp",
    "lps": "cv_lps",
    "lm": "cv_lm",
    "Treg": "cv_treg",
    "R": "cv_div",
    "il1b": "cv_tnf",
    "il17": "cv_tnf",
    "LBP": "cv_crp",
    "Th17": "cv_treg",
}


@dataclass
class ArmResults:
    """Per-arm trajectories of one virtual population (same patients in every arm)."""

    pop: Population
    arms: dict  # name -> Trajectory

    def values(self, arm: str, output: str, day: int) -> np.ndarray:
        tr: Trajectory = self.arms[arm]
        i = int(np.searchsorted(tr.days, day))
        if i >= tr.days.size or tr.days[i] != day:
            raise KeyError(f"day {day} was not recorded")
        if output in eq.STATE_NAMES:
            return tr.states[i, eq.STATE_NAMES.index(output)]
        from .engine import fast_quantities

        return np.asarray(fast_quantities(tr.states[i], tr.params, tr.inputs_at(i))[output])


def run_arms(
    pop: Population, schedules: dict, *, dt: float = 0.5, record="daily", method: str = "numba", client=None
) -> ArmResults:
    """Simulate every patient of ``pop`` under each single-group schedule in ``schedules``;
    ``client`` (a :class:`dask.distributed.Client`): patients in blocks on the cluster, the same
    trajectories (``docs/scale.md``)."""
    if client is not None:
        from ..scale import check_client

        client = check_client(client, "run_arms")
    arms = {}
    for name, sch in schedules.items():
        arms[name] = simulate(
            pop.params, pop.states, pop.inputs, sch, dt=dt, record=record, method=method, client=client
        )
    return ArmResults(pop, arms)


def replicate_indices(n_pop: int, n_per_arm, n_rep: int, rng: np.random.Generator) -> list:
    """For each replicate, disjoint random patient indices per arm: list of ``(n_rep, n_arm_i)`` arrays."""
    sizes = np.atleast_1d(n_per_arm).astype(int)
    total = int(sizes.sum())
    if total > n_pop:
        raise ValueError(f"a trial of {total} patients needs a population of at least that size ({n_pop})")
    idx = np.argsort(rng.random((n_rep, n_pop)), axis=1)[:, :total]
    cuts = np.concatenate([[0], np.cumsum(sizes)])
    return [idx[:, a:b] for a, b in pairwise(cuts)]


def measured(true_values: np.ndarray, output: str, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``true * exp(N(0, cv))`` with the output's within-subject/assay log SD (params of those patients)."""
    name = NOISE_PARAM.get(output)
    if name is None:
        return np.asarray(true_values, float)
    cv = params[eq.PARAM_NAMES.index(name)]
    return true_values * np.exp(cv * rng.standard_normal(np.shape(true_values)))


def hedges_g(change_t: np.ndarray, change_c: np.ndarray, axis: int = -1) -> np.ndarray:
    """Hedges' g of change scores between arms along ``axis``."""
    nt, nc = change_t.shape[axis], change_c.shape[axis]
    st = change_t.var(axis=axis, ddof=1)
    sc = change_c.var(axis=axis, ddof=1)
    sp = np.sqrt(((nt - 1) * st + (nc - 1) * sc) / (nt + nc - 2))
    J = 1.0 - 3.0 / (4.0 * (nt + nc) - 9.0)
    return J * (change_t.mean(axis=axis) - change_c.mean(axis=axis)) / sp
