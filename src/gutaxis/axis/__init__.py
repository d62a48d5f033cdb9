"""gutaxis.axis: a mechanistic model of the gut-immune axis (diet, microbes, barrier, cytokines,
HPA axis, RA/SLE tissue inflammation), a fast engine over virtual patients, virtual populations
and in-silico trials calibrated to published human studies.

Context of use: hypothesis generation and teaching, not clinical decisions. See ``docs/axis.md``.
This subpackage imports nothing from other gutaxis subpackages except :mod:`gutaxis.errors`; the personal
twin reads profiles lazily through :mod:`gutaxis.io`, :mod:`gutaxis.taxonomy` and input validation.

Stable API for other modules (e.g. ``gutaxis.lifestyle.plan``): :func:`twin`, :func:`forecast`,
:class:`Twin`, :class:`Forecast`, :data:`ENDPOINTS` (documented in ``docs/axis.md``).
"""

from __future__ import annotations

from .engine import OUTPUT_NAMES, Trajectory, fast_quantities, healthy_state, simulate, steady_state
from .equations import FAST_NAMES, INPUT_NAMES, INPUT_UNITS, PARAM_NAMES, STATE_NAMES, STATE_UNITS, fast, rhs
from .inputs import REFERENCE_INPUTS, Schedule, reference_inputs, stress_load_from_pss10
from .parameters import default_parameters, parameter_matrix, parameter_table, sample_parameters
from .personal import DIET_KEYS, ENDPOINT_UNITS, ENDPOINTS, MARKERS, Forecast, Twin, forecast, profile_guilds, twin
from .population import (
    HEALTHY_BASELINE_TARGET,
    PLAUSIBLE_BOUNDS,
    Population,
    plausible_patients,
    select_population,
    virtual_population,
)
from .trials import ArmResults, hedges_g, measured, replicate_indices, run_arms

__all__ = [
    "DIET_KEYS",
    "ENDPOINTS",
    "ENDPOINT_UNITS",
    "FAST_NAMES",
    "HEALTHY_BASELINE_TARGET",
    "INPUT_NAMES",
    "INPUT_UNITS",
    "MARKERS",
    "OUTPUT_NAMES",
    "PARAM_NAMES",
    "PLAUSIBLE_BOUNDS",
    "REFERENCE_INPUTS",
    "STATE_NAMES",
    "STATE_UNITS",
    "ArmResults",
    "Forecast",
    "Population",
    "Schedule",
    "Trajectory",
    "Twin",
    "default_parameters",
    "fast",
    "fast_quantities",
    "forecast",
    "healthy_state",
    "hedges_g",
    "measured",
    "parameter_matrix",
    "parameter_table",
    "plausible_patients",
    "profile_guilds",
    "reference_inputs",
    "replicate_indices",
    "rhs",
    "run_arms",
    "sample_parameters",
    "select_population",
    "simulate",
    "steady_state",
    "stress_load_from_pss10",
    "twin",
    "virtual_population",
]
