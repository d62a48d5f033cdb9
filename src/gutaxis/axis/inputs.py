"""Inputs as daily piecewise-constant schedules, and the PSS-10 -> stress-load map.

A :class:`Schedule` describes what each *group* (trial arm) does on each day, relative to each
patient's own baseline inputs (their usual diet, stress, disease flags)::

    u[d, i, patient] = base[i, patient] + adherence[patient] * (target - base[i, patient])
    target           = base[i, patient] * mult[d, i, group] + add[d, i, group]

``set`` (mult 0, add value) fixes an input; ``shift`` (mult 1, add delta) adds to it. Memory is
``n_days x n_inputs x n_groups`` whatever the number of patients.

:data:`INPUT_RANGES` gives the physically possible level of every input (scenarios refuse doses whose
resulting level lies outside it, see :mod:`gutaxis.axis.scenario`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .equations import INPUT_NAMES, INPUT_UNITS, N_INPUTS

__all__ = [
    "INPUT_RANGES",
    "REFERENCE_INPUTS",
    "Schedule",
    "input_range_text",
    "reference_inputs",
    "stress_load_from_pss10",
    "usual_input_bounds",
]

#: the reference (usual Western) inputs that define the model's reference state
REFERENCE_INPUTS = {
    "fiber": 20.0,
    "fermented": 0.5,
    "probiotic": 0.0,
    "upf": 50.0,
    "sugar": 70.0,
    "satfat": 12.0,
    "stress": 0.325,
    "mindbody": 0.0,
    "ra": 0.0,
    "sle": 0.0,
    "dmard": 0.0,
    "propionate": 0.0,
    "ms": 0.0,
}


#: physically possible level of each input: name -> (low, high, where the limits come from). The lower
#: limits are those of the units (``equations.INPUT_UNITS``): an intake, a dose, minutes or a share cannot
#: be negative; a log10 dose of 0 is the model's "none" (:data:`REFERENCE_INPUTS`). Upper limits: the
#: unit's own (a share of energy, the 0-1 stress load, a 0/1 flag, the minutes of a day) or, for amounts
#: without one, a generous documented ceiling above any reported habitual intake or trial dose (the
#: model's response saturates well below them, so they only catch typos and unit mix-ups).
INPUT_RANGES = {
    "fiber": (
        0.0,
        150.0,
        "g/d >= 0; 150 g/d lies above the highest habitual intakes reported (about "
        "100-150 g/d in hunter-gatherer diets, e.g. Sonnenburg & Sonnenburg 2014 Cell Metab 20:779) "
        "and 2.5x the virtual population's highest usual intake (60 g/d)",
    ),
    "fermented": (
        0.0,
        20.0,
        "servings/d >= 0; 20 is assumed, 3x the high-fermented-food arm of Wastyk 2021 "
        "(about 6 servings/d, the model's calibration trial)",
    ),
    "probiotic": (
        0.0,
        13.0,
        "log10 CFU/d; 0 is 'none' (REFERENCE_INPUTS); 13 is assumed, 10x the largest "
        "marketed daily doses (about 1e12 CFU); trial doses are 1e8-1e11 (axis_parameters.tsv "
        "pro_log50)",
    ),
    "upf": (0.0, 100.0, "a share of energy (INPUT_UNITS % energy)"),
    "sugar": (0.0, 500.0, "g/d >= 0; 500 g/d is 2000 kcal (4 kcal/g), an adult's whole energy intake"),
    "satfat": (0.0, 100.0, "a share of energy (INPUT_UNITS % energy)"),
    "stress": (0.0, 1.0, "the chronic stress load, 0-1 (INPUT_UNITS); load = PSS-10/40 (stress_load_from_pss10)"),
    "mindbody": (0.0, 1440.0, "min/d >= 0; a day has 1440 minutes"),
    "ra": (0.0, 1.0, "a 0/1 flag (INPUT_UNITS); values between weight the RA terms linearly"),
    "sle": (0.0, 1.0, "a 0/1 flag (INPUT_UNITS); values between weight the SLE terms linearly"),
    "dmard": (0.0, 1.0, "a 0/1 flag (INPUT_UNITS); values between weight the DMARD effect linearly"),
    "propionate": (
        0.0,
        10.0,
        "g/d >= 0; 10 g/d is assumed, 10x the oral dose of Duscha 2020 (2 x 500 mg/d, the calibration trial of k_prop)",
    ),
    "ms": (0.0, 1.0, "a 0/1 flag (INPUT_UNITS); values between weight the MS terms linearly"),
}

#: how the unit of an input is written after a number (none for the 0-1 scales and flags)
_UNIT_TEXT = {"stress": "(stress load)", "ra": "(flag)", "sle": "(flag)", "dmard": "(flag)", "ms": "(flag)"}


def input_range_text(name: str) -> str:
    """``"0-150 g/d"``: the possible range of input ``name`` with its unit."""
    lo, hi, _ = INPUT_RANGES[name]
    unit = _UNIT_TEXT.get(name, INPUT_UNITS[INPUT_NAMES.index(name)])
    return f"{lo:g}-{hi:g} {unit}"


def usual_input_bounds(disease: str) -> tuple[dict, dict]:
    """``(low, high)``: input name -> the lowest and highest *usual* level a patient of a virtual population
    of ``disease`` can have (:func:`gutaxis.axis.population._sample_inputs` clips its draws to
    :data:`gutaxis.axis.population.USUAL_INPUT_CLIPS`; the other inputs stay at :data:`REFERENCE_INPUTS`
    and the disease flags at 0 or 1)."""
    from .population import USUAL_INPUT_CLIPS

    lo = dict(REFERENCE_INPUTS)
    for flag, on in (("ra", ("ra",)), ("sle", ("sle",)), ("dmard", ("ra",)), ("ms", ("ms",))):
        lo[flag] = 1.0 if disease in on else 0.0
    hi = dict(lo)
    for name, (a, b) in USUAL_INPUT_CLIPS.items():
        lo[name], hi[name] = float(a), float(b)
    return lo, hi


def reference_inputs(n: int = 1, **overrides) -> np.ndarray:
    """``(N_INPUTS, n)`` array of the reference inputs with ``overrides`` (name=value or array)."""
    base = np.array([REFERENCE_INPUTS[k] for k in INPUT_NAMES], dtype=float)
    U = np.repeat(base[:, None], n, axis=1)
    for k, v in overrides.items():
        U[_index(k)] = v
    return U


def stress_load_from_pss10(pss10):
    """Map a Perceived Stress Scale (PSS-10, 0-40) score to the model's chronic stress load (0-1).

    ``load = PSS-10 / 40`` (linear, documented assumption): the population mean of about 13
    gives the reference load 0.325; 40 (maximal perceived stress) gives 1.
    """
    x = np.asarray(pss10, dtype=float)
    if np.any((x < 0) | (x > 40)):
        raise InputError("PSS-10 scores must lie in 0-40", hint="check the questionnaire scoring")
    return x / 40.0


def _index(name: str) -> int:
    try:
        return INPUT_NAMES.index(name)
    except ValueError:
        raise InputError(f"unknown input {name!r}", hint=f"inputs are {', '.join(INPUT_NAMES)}") from None


@dataclass
class Schedule:
    """Daily schedule for ``n_groups`` groups over ``n_days`` days (see module docstring)."""

    mult: np.ndarray  # (n_days, N_INPUTS, n_groups)
    add: np.ndarray  # (n_days, N_INPUTS, n_groups)

    @classmethod
    def baseline(cls, n_days: int, n_groups: int = 1) -> Schedule:
        """Everyone keeps their own baseline inputs."""
        if n_days < 1:
            raise InputError("a schedule needs at least one day")
        return cls(np.ones((n_days, N_INPUTS, n_groups)), np.zeros((n_days, N_INPUTS, n_groups)))

    @property
    def n_days(self) -> int:
        return self.mult.shape[0]

    @property
    def n_groups(self) -> int:
        return self.mult.shape[2]

    def _slice(self, start, stop, group):
        start = 0 if start is None else int(start)
        stop = self.n_days if stop is None else int(stop)
        if not 0 <= start < stop <= self.n_days:
            raise InputError(f"days {start}-{stop} lie outside the schedule's 0-{self.n_days}")
        g = slice(None) if group is None else group
        return slice(start, stop), g

    def set(self, start=None, stop=None, group=None, **values) -> Schedule:
        """Fix inputs to values on days ``[start, stop)`` for ``group`` (all groups if None)."""
        d, g = self._slice(start, stop, group)
        for k, v in values.items():
            i = _index(k)
            self.mult[d, i, g] = 0.0
            self.add[d, i, g] = v
        return self

    def shift(self, start=None, stop=None, group=None, **deltas) -> Schedule:
        """Add ``deltas`` to each patient's baseline input on days ``[start, stop)``."""
        d, g = self._slice(start, stop, group)
        for k, v in deltas.items():
            i = _index(k)
            self.mult[d, i, g] = 1.0
            self.add[d, i, g] = v
        return self

    def inputs(self, base: np.ndarray, group: np.ndarray, adherence: np.ndarray | None = None) -> np.ndarray:
        """Materialise ``(n_days, N_INPUTS, n_patients)`` inputs (small runs and tests only)."""
        g = np.asarray(group)
        target = base[None] * self.mult[:, :, g] + self.add[:, :, g]
        adh = 1.0 if adherence is None else np.asarray(adherence)[None, None]
        return base[None] + adh * (target - base[None])
