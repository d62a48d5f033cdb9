"""The parameter table of the axis model (``gutaxis/data/axis_parameters.tsv``) and prior sampling.

Each row: ``name unit value prior_low prior_high source note``. ``source`` is a DOI/PMID, or
``calibrated: T#`` for a gain fitted to calibration target T# (see
``axis_calibration_targets.tsv``), or ``assumed`` with the reason in ``note``. A parameter whose
prior bounds are equal is fixed (structural); the others are sampled log-uniformly between the
bounds (uniformly when a bound is <= 0) for virtual populations.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from ..errors import InputError
from .equations import N_PARAMS, PARAM_NAMES

__all__ = ["default_parameters", "parameter_matrix", "parameter_table", "sample_parameters"]

_COLUMNS = ["name", "unit", "value", "prior_low", "prior_high", "source", "note"]


@lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    with resources.files("gutaxis.data").joinpath("axis_parameters.tsv").open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, sep="\t", dtype={"name": str, "unit": str, "source": str, "note": str})
    if list(df.columns) != _COLUMNS:
        raise InputError(f"columns {list(df.columns)} differ from {_COLUMNS}", source="axis_parameters.tsv")
    if tuple(df["name"]) != PARAM_NAMES:
        raise InputError(
            "parameter names/order differ from gutaxis.axis._indices",
            source="axis_parameters.tsv",
            hint="regenerate _indices.py from the table",
        )
    return df.set_index("name")


def parameter_table() -> pd.DataFrame:
    """The parameter table (a copy), indexed by parameter name."""
    return _table().copy()


def default_parameters() -> np.ndarray:
    """Vector of the table's point values, shape ``(N_PARAMS,)``."""
    return _table()["value"].to_numpy(dtype=float).copy()


def parameter_matrix(n: int, overrides: dict | None = None, base: np.ndarray | None = None) -> np.ndarray:
    """``(N_PARAMS, n)`` matrix of the default (or ``base``) values with ``overrides`` {name: value or array}."""
    vec = default_parameters() if base is None else np.asarray(base, dtype=float)
    P = np.repeat(vec[:, None], n, axis=1)
    for name, value in (overrides or {}).items():
        try:
            i = PARAM_NAMES.index(name)
        except ValueError:
            raise InputError(f"unknown parameter {name!r}", hint="see gutaxis.axis.parameter_table()") from None
        P[i] = value
    return P


#: parameters of the first release (rows 0-117 of the table). Rows added later draw their prior
#: samples from a side stream seeded by the generator's state (without advancing it), so adding a
#: parameter does not change the virtual patients of earlier seeds.
N_LEGACY = 118


def _uniforms(n: int, rng: np.random.Generator) -> np.ndarray:
    u = np.empty((N_PARAMS, n))
    u[:N_LEGACY] = rng.random((N_LEGACY, n))
    if N_PARAMS > N_LEGACY:
        st = rng.bit_generator.state
        key = [int(x) % (2**63) for x in (st.get("state", {}).get("state", 0), st.get("state", {}).get("inc", 0))]
        u[N_LEGACY:] = np.random.default_rng([*key, 2026]).random((N_PARAMS - N_LEGACY, n))
    return u


def sample_parameters(n: int, rng: np.random.Generator, spread: float = 1.0) -> np.ndarray:
    """Sample ``n`` parameter vectors from the priors, shape ``(N_PARAMS, n)``.

    Log-uniform between ``prior_low`` and ``prior_high`` (uniform if a bound is <= 0); fixed
    parameters keep their value. ``spread`` < 1 shrinks each range around the point value (in log
    space) for sensitivity runs. Rows beyond :data:`N_LEGACY` use a side stream (see there).
    """
    t = _table()
    lo = t["prior_low"].to_numpy(float)
    hi = t["prior_high"].to_numpy(float)
    val = t["value"].to_numpy(float)
    P = np.empty((N_PARAMS, n))
    u = _uniforms(n, rng)
    for i in range(N_PARAMS):
        if lo[i] == hi[i]:
            P[i] = val[i]
        elif lo[i] > 0:
            a, b = np.log(lo[i]), np.log(hi[i])
            c = np.log(val[i])
            a, b = c + spread * (a - c), c + spread * (b - c)
            P[i] = np.exp(a + (b - a) * u[i])
        else:
            a, b = val[i] + spread * (lo[i] - val[i]), val[i] + spread * (hi[i] - val[i])
            P[i] = a + (b - a) * u[i]
    return P
