"""Global sensitivity: Sobol indices (SALib) of each endpoint over the parameter priors.

Saltelli/Sobol sampling (Saltelli 2010, doi:10.1016/j.cpc.2009.09.018; SALib, Herman & Usher 2017,
doi:10.21105/joss.00097) of the parameters whose prior range is not a point (log-uniform, sampled
as uniform in log space, as the virtual populations are), usual inputs at the reference diet. Each
sample relaxes to its steady state (``relax_days``), then follows ``schedule``; the endpoint is the
change from baseline of each output at the end (or the baseline value itself with
``schedule=None``). Cost: ``n_base (D + 2)`` patients (``2 D + 2`` with second order).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from . import equations as eq
from .engine import fast_quantities, healthy_state, simulate, steady_state
from .inputs import Schedule, reference_inputs
from .parameters import default_parameters, parameter_table

__all__ = ["sobol_sensitivity", "varied_parameters"]


def varied_parameters() -> list:
    """Parameters with a prior range (the others are fixed)."""
    t = parameter_table()
    return [n for n in t.index if t.at[n, "prior_low"] < t.at[n, "prior_high"]]


def sobol_sensitivity(
    endpoints=("R", "butyrate", "lm", "il6", "CRP"),
    *,
    schedule: Schedule | None = None,
    disease: str = "healthy",
    params=None,
    n_base: int = 256,
    relax_days: int = 365,
    seed: int = 0,
    second_order: bool = False,
    dt: float = 0.5,
) -> pd.DataFrame:
    """First-order and total Sobol indices of each endpoint.

    Parameters
    ----------
    endpoints : outputs of :data:`~gutaxis.axis.engine.OUTPUT_NAMES`
    schedule : one-group intervention (default: none, i.e. the baseline value is the endpoint)
    disease : "healthy", "ra" or "sle" (sets the flags and starts on the chronic branch)
    params : names to vary (default :func:`varied_parameters`)
    n_base : base sample size N (a power of 2)

    Returns
    -------
    DataFrame with rows (endpoint, parameter) and columns ``S1 S1_conf ST ST_conf``.
    """
    try:
        from SALib.analyze import sobol as sobol_analyze
        from SALib.sample import sobol as sobol_sample
    except ImportError as exc:  # pragma: no cover
        raise InputError("Sobol sensitivity needs SALib", hint="pip install SALib") from exc
    t = parameter_table()
    names = list(params or varied_parameters())
    bad = [n for n in names if n not in t.index]
    if bad:
        raise InputError(f"unknown parameter(s) {bad}")
    for n in endpoints:
        if n not in eq.STATE_NAMES + eq.FAST_NAMES + ("cortisol", "das28", "sledai"):
            raise InputError(f"unknown endpoint {n!r}")
    lo = t.loc[names, "prior_low"].to_numpy(float)
    hi = t.loc[names, "prior_high"].to_numpy(float)
    logs = (lo > 0) & (hi > lo)
    bounds = [[np.log(a), np.log(b)] if lg else [a, b] for a, b, lg in zip(lo, hi, logs, strict=True)]
    problem = {"num_vars": len(names), "names": names, "bounds": bounds}
    X = sobol_sample.sample(problem, n_base, calc_second_order=second_order, seed=seed)
    n = X.shape[0]
    P = np.repeat(default_parameters()[:, None], n, axis=1)
    for k, name in enumerate(names):
        P[eq.PARAM_NAMES.index(name)] = np.exp(X[:, k]) if logs[k] else X[:, k]
    U = reference_inputs(n)
    y0 = healthy_state(P)
    if disease != "healthy":
        U[eq.INPUT_NAMES.index(disease)] = 1.0
        y0[eq.S_P], y0[eq.S_A] = 1.5, 3.0
    y, _ = steady_state(P, U, y0, days=relax_days, dt=dt)
    base = _values(y, P, U, endpoints)
    if schedule is not None:
        tr = simulate(P, y, U, schedule, dt=dt, record="end")
        end = _values(tr.states[-1], P, tr.inputs_at(1), endpoints)
        Yv = {k: end[k] - base[k] for k in endpoints}
    else:
        Yv = base
    rows = []
    for k in endpoints:
        v = np.asarray(Yv[k], float)
        v = np.where(np.isfinite(v), v, np.nanmedian(v))
        res = sobol_analyze.analyze(problem, v, calc_second_order=second_order, seed=seed)
        for i, name in enumerate(names):
            rows.append(
                {
                    "endpoint": k,
                    "parameter": name,
                    "S1": res["S1"][i],
                    "S1_conf": res["S1_conf"][i],
                    "ST": res["ST"][i],
                    "ST_conf": res["ST_conf"][i],
                }
            )
    out = pd.DataFrame(rows).set_index(["endpoint", "parameter"])
    out.attrs["params"] = {
        "n_base": n_base,
        "n_runs": n,
        "disease": disease,
        "seed": seed,
        "second_order": second_order,
        "schedule": schedule is not None,
    }
    return out


def _values(y, P, U, endpoints) -> dict:
    f = fast_quantities(y, P, U)
    return {k: (y[eq.STATE_NAMES.index(k)] if k in eq.STATE_NAMES else np.asarray(f[k])) for k in endpoints}
