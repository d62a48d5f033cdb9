"""The scenario data model: :class:`Scenario`, its arms (:class:`Arm`) and their interventions (:class:`Intervention`).

What a validated scenario holds and what it can say about itself: its settings, its complete YAML form
(:meth:`Scenario.to_dict`), the overrides and the effective scenario that runs
(:meth:`Scenario.with_overrides`, :meth:`Scenario.effective_source`), the intervention schedule of its
arms, the days it records and the cost estimate of a run (:meth:`Scenario.work_estimate`, with the
measured throughputs it converts the work with).

Kept apart from reading a scenario file (``gutaxis.axis._scenario_file``) and from running one
(:mod:`gutaxis.axis.scenario`, which re-exports these classes and is the public place to import them
from), so each concept has a file of its own. The reader builds these classes; the three methods that
validate an altered scenario by loading it back import ``load_scenario`` from the reader where they
run, so that the modules import each other one way only (reader -> model).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from . import equations as eq
from .inputs import Schedule

#: measured throughput of the numba engine (patient-days per second on one core, dt 0.5 d; 3000-20000
#: candidates, 70-700 days, 2026 development machine): converts the work estimate into a duration
PATIENT_DAYS_PER_SECOND = 3.5e5
#: measured cost of the virtual trials: random numbers drawn and sorted per second (trial sampling and
#: measurement noise, ``replicates x (patients + endpoints x n_per_arm x 4)`` per compared arm)
TRIAL_DRAWS_PER_SECOND = 3e6
#: days each candidate is relaxed to its steady state when the population is built (population.plausible_patients)
_RELAX_DAYS = 365
#: memory per candidate while the population is built, and per patient, arm and stored day of the
#: trajectories (states, fast quantities, inputs and endpoint copies), measured with some margin
_BYTES_PER_CANDIDATE = 4 * 1024
_BYTES_PER_RECORD = 600

#: settings that :meth:`Scenario.with_overrides` can change: attribute -> its place in the YAML form (the
#: first three are the command-line overrides of ``gutaxis simulate``, in the order of its options)
_SETTINGS = {
    "replicates": ("trial", "replicates"),
    "n_candidates": ("population", "n_candidates"),
    "seed": ("seed",),
    "population_seed": ("population", "seed"),
    "n_per_arm": ("trial", "n_per_arm"),
    "disease": ("population", "disease"),
    "days": ("duration_days",),
    "control": ("control",),
    "record_every": ("record_every",),
    "dt": ("dt",),
    "name": ("name",),
    "description": ("description",),
    "citation": ("citation",),
    "allow_large": ("allow_large",),
}
#: fields of :class:`Scenario` that describe where it came from rather than what runs
_ORIGIN_FIELDS = ("source", "path", "file_sha256", "overrides")


def _put(doc: dict, name: str, value) -> None:
    """Set setting ``name`` of :data:`_SETTINGS` in a scenario mapping, in its place."""
    *parents, leaf = _SETTINGS[name]
    node = doc
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[leaf] = value
    if name == "days":
        doc.pop("duration_weeks", None)


def _plain(v):
    """A JSON/YAML-friendly copy of a setting's value (numpy scalars as Python numbers)."""
    return v.item() if isinstance(v, np.generic) else v


@dataclass
class Intervention:
    input: str
    mode: str  # "shift" or "set"
    value: float
    start: int
    stop: int
    ramp_days: int = 0


@dataclass
class Arm:
    name: str
    interventions: list
    adherence_mean: float = 1.0
    adherence_sd: float = 0.0


@dataclass
class Scenario:
    """A validated scenario (see the module docstring for the YAML form)."""

    name: str
    days: int
    arms: dict
    endpoints: list  # list of (output, day)
    disease: str = "healthy"
    n_candidates: int = 3000
    population_seed: int = 20240
    seed: int = 0
    control: str | None = None
    n_per_arm: int | None = None
    replicates: int = 200
    record_every: int = 7
    dt: float = 0.5
    description: str = ""
    citation: str = ""
    allow_large: bool = False  # run above MAX_PATIENT_DAYS / MAX_MEMORY_BYTES (see work_estimate)
    source: dict = field(default_factory=dict)  # the scenario as read (before any override)
    path: str | None = None  # the file it was read from, if any
    file_sha256: str | None = None  # SHA-256 of that file's bytes
    overrides: dict = field(default_factory=dict)  # settings given by :meth:`with_overrides`, name -> value

    # ------------------------------------------------------------------ overrides and the effective scenario
    def settings(self) -> dict:
        """Everything that determines a run (all fields but the origin: source, path, hash, overrides)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _ORIGIN_FIELDS}

    def to_dict(self) -> dict:
        """The complete YAML form of this scenario (defaults written out; ``pss10`` as the stress load);
        :func:`load_scenario` of it gives the same settings."""
        arms = {}
        for arm in self.arms.values():
            adherence = {"mean": arm.adherence_mean, "sd": arm.adherence_sd} if arm.adherence_sd else arm.adherence_mean
            arms[arm.name] = {
                "adherence": adherence,
                "interventions": [
                    {
                        "input": iv.input,
                        iv.mode: iv.value,
                        "start": iv.start,
                        "stop": iv.stop,
                        "ramp_days": iv.ramp_days,
                    }
                    for iv in arm.interventions
                ],
            }
        doc = {
            "name": self.name,
            "description": self.description,
            "citation": self.citation,
            "duration_days": self.days,
            "seed": self.seed,
            "population": {"disease": self.disease, "n_candidates": self.n_candidates, "seed": self.population_seed},
            "control": self.control,
            "trial": {"n_per_arm": self.n_per_arm, "replicates": self.replicates},
            "record_every": self.record_every,
            "dt": self.dt,
            "arms": arms,
            "endpoints": [{"output": o, "day": d} for o, d in self.endpoints],
        }
        if self.allow_large:
            doc["allow_large"] = True
        return doc

    def work_estimate(self, n_patients: int | None = None) -> dict:
        """What a run costs, estimated before it starts (``n_patients``: a population given to
        :func:`run_scenario`; otherwise one is built from ``n_candidates``, and every candidate counts as a
        patient, an upper bound):

        * ``patient_days``: ``n_candidates x 365`` (relaxing each candidate to its steady state) ``+
          patients x arms x duration_days x 0.5/dt`` (the trial, in days at the default step of 0.5 d);
        * ``trial_draws``: random numbers of the replicate virtual trials, per compared arm ``replicates x
          (patients + endpoints x n_per_arm x 4)``;
        * ``seconds``: both at the measured :data:`PATIENT_DAYS_PER_SECOND` and :data:`TRIAL_DRAWS_PER_SECOND`;
        * ``work``: ``seconds`` in patient-days (``patient_days`` plus the draws at the same cost);
        * ``memory_bytes``: the population build, the stored trajectories (patients x arms x stored days)
          and the replicate-trial draws (``replicates x patients x 16`` bytes per comparison).

        :func:`run_scenario` refuses a scenario whose ``work`` exceeds :data:`MAX_PATIENT_DAYS` or whose
        ``memory_bytes`` exceed :data:`MAX_MEMORY_BYTES` unless it says ``allow_large: true``."""
        build = n_patients is None
        n = self.n_candidates if n_patients is None else int(n_patients)
        na = len(self.arms)
        relax = n * _RELAX_DAYS if build else 0
        trial = n * na * self.days * (0.5 / self.dt)
        n_rec = len(
            set(range(0, self.days + 1, max(1, self.record_every))) | {0, self.days} | {d for _, d in self.endpoints}
        )
        compared = na - 1 if self.control is not None and na > 1 else 0
        n_arm = self.n_per_arm or 30
        draws = compared * self.replicates * (n + len(self.endpoints) * n_arm * 4)
        memory = (
            (n * _BYTES_PER_CANDIDATE if build else 0)
            + n * na * n_rec * _BYTES_PER_RECORD
            + (self.replicates * n * 16 if compared else 0)
        )
        days = relax + trial
        seconds = days / PATIENT_DAYS_PER_SECOND + draws / TRIAL_DRAWS_PER_SECOND
        return {
            "patient_days": round(float(days)),
            "trial_draws": int(draws),
            "seconds": seconds,
            "work": round(float(seconds * PATIENT_DAYS_PER_SECOND)),
            "memory_bytes": int(memory),
            "patients": n,
            "arms": na,
            "days": self.days,
            "relax_patient_days": relax,
        }

    def _as_read(self) -> Scenario | None:
        from ._scenario_file import load_scenario

        return load_scenario(self.source) if self.source else None

    def effective_overrides(self) -> dict:
        """Every setting that differs from the scenario as read, or was given to :meth:`with_overrides`:
        name -> the value that runs (also catches attributes set directly, e.g. ``sc.seed = 7``)."""
        read = self._as_read()
        names = list(self.overrides)
        if read is not None:
            names += [k for k in [*_SETTINGS, "arms", "endpoints"] if getattr(read, k) != getattr(self, k)]
        order = [*_SETTINGS, "arms", "endpoints"]
        full = self.to_dict() if {"arms", "endpoints"} & set(names) else {}
        return {
            k: full[k] if k in ("arms", "endpoints") else _plain(getattr(self, k))
            for k in sorted(dict.fromkeys(names), key=order.index)
        }

    def effective_source(self) -> dict:
        """The scenario that runs, in YAML form: the scenario as read with every override in its place
        (the complete form of :meth:`to_dict` when there is nothing read, or when settings were changed
        together in a way that the patched form does not reproduce). Load it (or save it as YAML and give
        it to ``gutaxis simulate``) to re-run exactly this scenario."""
        from ._scenario_file import load_scenario

        full = self.to_dict()
        if not self.source:
            return full
        doc = copy.deepcopy(self.source)
        for k, v in self.effective_overrides().items():
            if k in ("arms", "endpoints"):
                doc[k] = full[k]
            else:
                _put(doc, k, v)
        try:
            same = load_scenario(doc).settings() == self.settings()
        except InputError:
            same = False
        return doc if same else full

    def with_overrides(self, **settings) -> Scenario:
        """A copy with some settings changed (names of :data:`_SETTINGS`: ``replicates``,
        ``n_candidates``, ``seed``, ``population_seed``, ``n_per_arm``, ``days``, ...), validated as if
        they had been in the file; the copy keeps the scenario as read and records the overrides."""
        from ._scenario_file import load_scenario

        unknown = sorted(set(settings) - set(_SETTINGS))
        if unknown:
            raise InputError(
                f"cannot override {', '.join(unknown)}",
                source="scenario",
                hint=f"settings that can be overridden: {', '.join(_SETTINGS)}",
            )
        merged = {**self.overrides, **{k: _plain(v) for k, v in settings.items()}}
        doc = self.effective_source()
        for k, v in settings.items():
            _put(doc, k, _plain(v))
        new = load_scenario(doc)
        new.source, new.path, new.file_sha256, new.overrides = self.source, self.path, self.file_sha256, merged
        return new

    def schedule(self) -> Schedule:
        """One group per arm, in the order of :attr:`arms`."""
        s = Schedule.baseline(self.days, n_groups=len(self.arms))
        for g, arm in enumerate(self.arms.values()):
            for iv in arm.interventions:
                i = eq.INPUT_NAMES.index(iv.input)
                for day in range(iv.start, iv.stop):
                    frac = 1.0 if iv.ramp_days <= 0 else min(1.0, (day - iv.start + 1) / iv.ramp_days)
                    if iv.mode == "shift":
                        s.mult[day, i, g] = 1.0
                        s.add[day, i, g] = frac * iv.value
                    else:
                        s.mult[day, i, g] = 1.0 - frac
                        s.add[day, i, g] = frac * iv.value
        return s

    def record_days(self) -> np.ndarray:
        days = set(range(0, self.days + 1, max(1, self.record_every))) | {0, self.days} | {d for _, d in self.endpoints}
        return np.array(sorted(days), dtype=np.int64)
