"""YAML scenarios: virtual trials with arms, intervention schedules, adherence, duration, endpoints.

A scenario file (see ``gutaxis/data/axis_scenario_wastyk.yaml``)::

    name: Fermented food vs high fiber (Wastyk 2021 design)
    description: ...
    duration_days: 70
    seed: 1
    population: {disease: healthy, n_candidates: 3000, seed: 20240}   # healthy | ra | sle | ms
    control: usual                      # arm that the others are compared with (optional)
    trial: {n_per_arm: 18, replicates: 200}
    record_every: 7                     # days between stored trajectory points
    arms:
      usual: {}
      fermented:
        adherence: {mean: 0.9, sd: 0.1}  # or a number in 0-1
        interventions:
          - {input: fermented, shift: 6, ramp_days: 28}     # + start, stop (days)
      fiber:
        interventions:
          - {input: fiber, shift: 20, ramp_days: 28}
    endpoints: [R, il6, CRP, {output: butyrate, day: 42}]

Interventions change one input of :data:`~gutaxis.axis.equations.INPUT_NAMES` (or ``pss10``, mapped
to the stress load) with ``shift`` (added to each patient's usual value) or ``set`` (a fixed
level), on days ``[start, stop)``, reaching full size linearly over ``ramp_days``. Adherence scales
each patient's deviation from their usual inputs (per-patient draws, clipped to 0-1).

:func:`run_scenario` simulates every patient of the virtual population under every arm (same
patients, so arms differ only by the intervention), then

* ``summary``: per arm and endpoint, over the whole population: baseline and end means, mean
  change with its 95 % CI, % change of the mean;
* ``comparisons``: per non-control arm and endpoint, replicate virtual trials of ``n_per_arm``
  patients per arm (disjoint random patients, measurement noise of ``trials.measured``): mean
  difference of change (MD) and Hedges' g of change scores (SMD) averaged over the replicates, the
  95 % CI that one trial of that size would report at that SMD, the 2.5-97.5 % range over the
  replicates and the fraction of trials whose CI excludes 0 (power).

What a scenario may hold (:func:`load_scenario`; anything else is an :class:`~gutaxis.errors.InputError`
naming the file, the place in it and what to do):

* a file, given as a path (a one-line string that is not a YAML mapping, such as ``run`` or ``b.txt``, names a
  file too): it must exist, be a regular file (not a folder) of at most :data:`MAX_SCENARIO_BYTES` (256 kB;
  environment variable ``GUTAXIS_MAX_SCENARIO_BYTES``) and hold UTF-8 YAML;
* YAML without aliases (``*name``; they make a 1 kB file expand to gigabytes: "billion laughs"), without
  duplicate keys (a second arm ``usual:`` silently replaced the first) and nested at most 50 levels deep
  (:func:`gutaxis._yaml.load_yaml`); arm names are text (``no:`` is ``false`` in YAML: quote it);
* only the keys above in every mapping (top level, ``population``, ``trial``, arms, interventions,
  ``adherence``, endpoints); an unknown key is named with the nearest known one ("did you mean");
* numbers as YAML numbers: ``true``/``false`` are not numbers, integers beyond a float are refused;
* ``endpoints``: leave it out for the defaults (R, butyrate, lm, il6, CRP); an empty list is refused;
* doses whose resulting level is physically possible: ``set`` within the input's range
  (:data:`~gutaxis.axis.inputs.INPUT_RANGES`, e.g. fiber 0-150 g/d, stress load 0-1, shares of energy 0-100 %),
  ``shift`` such that every patient's usual level plus the shift stays within it (the usual levels a virtual
  population can have: :func:`~gutaxis.axis.inputs.usual_input_bounds`, e.g. fiber 5-60 g/d, so a fiber shift
  lies within -5 to +90 g/d); a run checks the shifts again on its own patients.

Before it starts, :func:`run_scenario` estimates the work (:meth:`Scenario.work_estimate`: ``n_candidates x
365`` patient-days to build the population plus ``patients x arms x duration_days``, the random draws of
the replicate trials, and the memory of the trajectories and replicate trials) and refuses above
:data:`MAX_PATIENT_DAYS` (5e7 patient-days, ~2.5 min) or :data:`MAX_MEMORY_BYTES` (4 GiB) unless the
scenario says ``allow_large: true`` (or ``with_overrides(allow_large=True)``). Random draws (adherence, trial
sampling, measurement noise) come from streams of their own arm and endpoint, so the order of the arms does not
change any number.

Settings can be overridden without editing the file (:meth:`Scenario.with_overrides`, used by the
``--replicates``, ``--n-candidates`` and ``--seed`` options of ``gutaxis simulate``). The provenance of a
result records the scenario as read (path, SHA-256 of the file, SHA-256 of its content), every override
with its value, the *effective* scenario that ran (:meth:`Scenario.effective_source`, with its SHA-256;
``result.json`` holds it as ``scenario_effective``, a scenario that re-runs exactly what ran), the seeds,
replicates and population sizes used, the parameter table's SHA-256 and the gutaxis, Python, numpy and
numba versions.

:meth:`ScenarioResult.write` writes trajectories (NetCDF through xarray; a gzipped TSV when xarray
is not installed), ``summary.tsv``, ``comparisons.tsv``, ``result.json`` and a self-contained
``report.html`` (:func:`render_html`, drawn by ``gutaxis.report.scenario``: the template
``simulate.html.j2`` with the shared style of the other reports, matplotlib figures as inline SVG, no
external resources).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import platform
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .._yaml import load_yaml
from ..errors import InputError
from . import equations as eq
from .engine import OUTPUT_NAMES, fast_quantities, simulate
from .inputs import INPUT_RANGES, Schedule, input_range_text, usual_input_bounds
from .population import Population, plausible_patients, select_population
from .trials import hedges_g, measured, replicate_indices

__all__ = [
    "ENDPOINT_LABELS",
    "MAX_MEMORY_BYTES",
    "MAX_PATIENT_DAYS",
    "MAX_SCENARIO_BYTES",
    "Scenario",
    "ScenarioResult",
    "example_scenario_path",
    "load_scenario",
    "run_scenario",
]

ENDPOINT_LABELS = {
    "R": "diversity (effective taxa)",
    "butyrate": "faecal butyrate (mM)",
    "lm": "permeability (L/M)",
    "lps": "endotoxin (fold-change)",
    "il6": "IL-6 (pg/mL)",
    "tnf": "TNF-a (pg/mL)",
    "il1b": "IL-1b (pg/mL)",
    "il10": "IL-10 (pg/mL)",
    "il17": "IL-17 (pg/mL)",
    "CRP": "CRP (mg/L)",
    "LBP": "LBP (ug/mL)",
    "Treg": "Treg (% CD4+)",
    "Th17": "Th17 (% CD4+)",
    "cortisol": "cortisol (ug/dL)",
    "das28": "DAS28",
    "sledai": "SLEDAI proxy",
    "B": "butyrate producers (fraction)",
    "L": "lactic-acid bacteria (fraction)",
    "Pb": "pathobionts (fraction)",
    "Bc": "Bacteroidetes/others (fraction)",
    "IP": "structural permeability (L/M)",
}

_TOP_KEYS = {
    "name",
    "description",
    "duration_days",
    "duration_weeks",
    "seed",
    "population",
    "control",
    "trial",
    "record_every",
    "arms",
    "endpoints",
    "dt",
    "citation",
    "allow_large",
}
_POPULATION_KEYS = {"disease", "n_candidates", "seed"}
_TRIAL_KEYS = {"n_per_arm", "replicates"}
_ARM_KEYS = {"interventions", "adherence", "description"}
_INTERVENTION_KEYS = {"input", "shift", "set", "start", "stop", "ramp_days"}
_DEFAULT_ENDPOINTS = ("R", "butyrate", "lm", "il6", "CRP")

#: largest scenario file (or text) read, in bytes (environment variable ``GUTAXIS_MAX_SCENARIO_BYTES``
#: overrides it): a scenario is a few kB, and a YAML document costs ~200 bytes of memory and ~10 us per
#: node to parse (a 1 MB flat list took 5.7 s and 190 MB), so 256 kB keeps any file under ~2 s and ~60 MB
MAX_SCENARIO_BYTES = 256 * 1024
#: largest work estimate (:meth:`Scenario.work_estimate`) run without ``allow_large: true``: 5e7
#: patient-days, about 2.5 minutes at the measured ~3.5e5 patient-days per second of one core
MAX_PATIENT_DAYS = 5e7
#: largest memory estimate run without ``allow_large: true`` (4 GiB)
MAX_MEMORY_BYTES = 4 * 2**30
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
_PARAMETER_TABLE = "axis_parameters.tsv"


def _sha256_json(doc) -> str:
    """SHA-256 of the canonical JSON of a scenario mapping (sorted keys, so formatting, comments and key
    order of the YAML do not change it)."""
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


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


def example_scenario_path() -> Path:
    """Path of the shipped example: the Wastyk 2021 fermented-food vs high-fiber design."""
    return Path(str(resources.files("gutaxis.data").joinpath("axis_scenario_wastyk.yaml")))


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


def _err(msg: str, where: str, hint: str | None = None) -> InputError:
    return InputError(msg, source=where, hint=hint)


def _short(v, n: int = 60) -> str:
    """``repr`` of a value cut to ``n`` characters: a value quoted in an error line keeps the line short."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, dict, tuple, set)):
        return f"a {'list' if isinstance(v, (list, tuple)) else 'mapping' if isinstance(v, dict) else 'set'}"
    text = repr(v)
    return text if len(text) <= n else text[: n - 3] + "..."


def _names(items, n: int = 12) -> str:
    """``a, b, c`` of at most ``n`` names (each cut short), ``... (N in all)`` beyond."""
    items = [x if isinstance(x, str) and x.isprintable() and len(x) <= 40 else _short(x, 40) for x in items]
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")


def _check_keys(mapping: dict, allowed, where: str) -> None:
    """Refuse keys of ``mapping`` that are not ``allowed``, suggesting the nearest allowed key."""
    import difflib

    bad = [k for k in mapping if k not in allowed]
    if not bad:
        return
    allowed = sorted(allowed)
    first = bad[0]
    close = difflib.get_close_matches(first, allowed, n=1, cutoff=0.6) if isinstance(first, str) else []
    what = f"unknown key {_short(first)}" if len(bad) == 1 else f"unknown keys {_names(bad, 5)}"
    hint = (f"did you mean {close[0]!r}? " if close else "") + f"keys here are {', '.join(allowed)}"
    raise _err(what, where, hint=hint)


def _num(v, key: str, where: str, lo=None, hi=None, integer=False):
    """A number of the scenario: a YAML int or float (or a numeric string such as ``1e3``, which YAML 1.1
    reads as text), finite, within ``lo``-``hi``; never a boolean (``true`` is not 1 day)."""
    if isinstance(v, (bool, np.bool_)):
        raise _err(f"{key} must be a number, got {_short(bool(v))} (true or false is not a number)", where)
    if isinstance(v, (int, np.integer)):
        exact = int(v)
        x = float(exact) if abs(exact) < 2**1023 else float("inf") * (1 if exact > 0 else -1)
    else:
        exact = None
        try:
            x = float(v)
        except (TypeError, ValueError, OverflowError):
            raise _err(f"{key} must be a number, got {_short(v)}", where) from None
    shown = _short(v)
    if not np.isfinite(x):
        raise _err(f"{key} = {shown} is not a finite number", where)
    value = exact if exact is not None else x
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        if lo is not None and hi is not None:
            raise _err(f"{key} = {shown} is outside {lo}-{hi}", where)
        raise _err(f"{key} = {shown} is {'below' if lo is not None else 'above'} {lo if lo is not None else hi}", where)
    if integer:
        if exact is not None:
            return exact
        if x != int(x):
            raise _err(f"{key} must be a whole number, got {shown}", where)
        return int(x)
    return x


def _text(v, key: str, where: str, default: str = "") -> str:
    """A text setting (name, description, citation): YAML text or a plain scalar, never a list or mapping."""
    if v is None:
        return default
    if isinstance(v, (list, tuple, dict, set, bytes)):
        raise _err(f"{key} must be text, got {_short(v)}", where, hint="quote it, or write it on one line")
    return str(v)


def _mapping(v, key: str, where: str, what: str) -> dict:
    """An optional sub-mapping (``population``, ``trial``): missing or empty -> {}, else a mapping."""
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise _err(f"{key} must be a mapping {what}, got {_short(v)}", where)
    return v


# --------------------------------------------------------------------------- reading the YAML safely
#: a scenario's YAML refusals in its own words (gutaxis._yaml: aliases, nesting, duplicate keys, size)
_YAML_MESSAGES = {
    "size": "the scenario is larger than {limit} bytes ({size} bytes)",
    "alias": "YAML aliases (*name, which repeat an &anchor) are not allowed in a scenario (line {line})",
    "depth": "the YAML nests more than {limit} levels deep (line {line}); a scenario needs a few",
    "duplicate": "duplicate key {key} (line {line})",
    "key": "a key is a list or mapping (line {line})",
    "syntax": "not valid YAML: {detail}",
    "value": "not valid YAML: {error}: {detail}",
}
_YAML_HINTS = {
    "size": "a scenario is a few kB of YAML; raise GUTAXIS_MAX_SCENARIO_BYTES if this one really is that large",
    "alias": "write each value out where it is used",
    "duplicate": "each key appears once per mapping; give each arm its own name",
    "key": "keys are plain names",
    "value": "a scenario needs no !!tags; write plain values",
}


def _parse_yaml(text: str, where: str):
    """The scenario's YAML, read by the one safe loader (:func:`gutaxis._yaml.load_yaml`): no aliases, no
    duplicate keys, bounded nesting and at most :func:`_max_scenario_bytes`."""
    return load_yaml(text, source=where, max_bytes=_max_scenario_bytes(), messages=_YAML_MESSAGES, hints=_YAML_HINTS)


def _max_scenario_bytes() -> int:
    """:data:`MAX_SCENARIO_BYTES`, or the environment variable ``GUTAXIS_MAX_SCENARIO_BYTES``."""
    env = os.environ.get("GUTAXIS_MAX_SCENARIO_BYTES")
    try:
        return int(env) if env else MAX_SCENARIO_BYTES
    except ValueError:
        return MAX_SCENARIO_BYTES


def _too_large(size: int, where: str) -> InputError:
    return _err(_YAML_MESSAGES["size"].format(limit=_max_scenario_bytes(), size=size), where, hint=_YAML_HINTS["size"])


def _looks_like_text(s: str) -> bool:
    """A string given to :func:`load_scenario` is YAML text when it spans lines or is a one-line mapping
    (``{...}`` or ``key: value``); anything else (``run``, ``b.txt``) names a file."""
    s = s.strip()
    return "\n" in s or s.startswith("{") or (": " in s and Path(s).suffix.lower() not in (".yaml", ".yml", ".json"))


def _read_file(p: Path) -> tuple[str, str, str]:
    """``(text, where, sha256)`` of a scenario file, or an InputError saying why it cannot be read."""
    where = str(p)
    hint = "give the path of a YAML scenario file, or 'example' for the shipped one"
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(f"no such scenario file {_short(str(p), 200)} (it does not exist)", hint=hint) from None
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot use {_short(str(p), 200)} as a scenario file: {exc.__class__.__name__}", hint=hint
        ) from None
    import stat as _stat

    if _stat.S_ISDIR(st.st_mode):
        raise _err("is a folder, not a scenario file", where, hint=hint)
    if not _stat.S_ISREG(st.st_mode):
        raise _err("is not a regular file (a device, pipe or socket)", where, hint=hint)
    limit = _max_scenario_bytes()
    if st.st_size > limit:
        raise _too_large(st.st_size, where)
    try:
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
    except PermissionError:
        raise _err("cannot be read (permission denied)", where, hint="check the file's permissions") from None
    except OSError as exc:
        raise _err(f"cannot be read ({exc.strerror or exc.__class__.__name__})", where) from None
    if len(data) > limit:
        raise _too_large(len(data), where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _err("not UTF-8 text", where, hint="save the scenario as UTF-8 YAML") from None
    return text, where, hashlib.sha256(data).hexdigest()


def load_scenario(source) -> Scenario:
    """Read and validate a scenario from a YAML file (a path: ``pathlib.Path`` or a one-line string), YAML
    text (a string of several lines, or a one-line mapping) or a dict.

    A file must exist, be a regular file of at most :data:`MAX_SCENARIO_BYTES` and hold UTF-8 YAML without
    aliases or duplicate keys; every mapping of it has a fixed set of keys (a near miss is named with a
    suggestion); numbers are YAML numbers (not ``true``); every intervention's resulting input level must be
    physically possible (:func:`_check_level`). Everything else is an :class:`~gutaxis.errors.InputError`.
    """
    where = "scenario"
    path = file_sha256 = None
    if isinstance(source, dict):
        raw = source
    elif isinstance(source, (str, os.PathLike)):
        if isinstance(source, str) and _looks_like_text(source):
            text = source  # its size is checked by _parse_yaml
        else:
            p = Path(source)
            text, where, file_sha256 = _read_file(p)
            path = where
        raw = _parse_yaml(text, where)
    else:
        raise _err(
            f"cannot read a scenario from {type(source).__name__}", where, hint="give a path, YAML text or a mapping"
        )
    if not isinstance(raw, dict):
        raise _err("a scenario is a YAML mapping (name, duration_days, arms, endpoints, ...)", where)
    _check_keys(raw, _TOP_KEYS, where)
    if "duration_days" in raw:
        days = _num(raw["duration_days"], "duration_days", where, 1, 3650, True)
    elif "duration_weeks" in raw:
        days = 7 * _num(raw["duration_weeks"], "duration_weeks", where, 1, 520, True)
    else:
        raise _err("duration_days (or duration_weeks) is missing", where)
    pop = _mapping(raw.get("population"), "population", where, "{disease, n_candidates, seed}")
    _check_keys(pop, _POPULATION_KEYS, f"{where}: population")
    disease = str(pop.get("disease", "healthy")).lower()
    if disease not in ("healthy", "ra", "sle", "ms"):
        raise _err(f"unknown disease {_short(disease)}", f"{where}: population", hint="use healthy, ra, sle or ms")
    usual = usual_input_bounds(disease)
    arms_raw = raw.get("arms")
    if not isinstance(arms_raw, dict) or not arms_raw:
        raise _err("arms must be a mapping of arm name -> {interventions, adherence}", where)
    arms = {}
    for name, spec in arms_raw.items():
        if not isinstance(name, str):
            raise _err(
                f"arm names must be text; {_short(name)} is read as a {type(name).__name__}",
                f"{where}: arms",
                hint="write the name in quotes, e.g. 'no' or '1'",
            )
        w = f"{where}: arms.{_names([name])}"
        spec = {} if spec is None else spec
        if not isinstance(spec, dict):
            raise _err("an arm is a mapping with interventions and adherence", w)
        _check_keys(spec, _ARM_KEYS, w)
        _text(spec.get("description"), "description", w)
        ivs_raw = spec.get("interventions")
        ivs_raw = [] if ivs_raw is None else ivs_raw
        if not isinstance(ivs_raw, list):
            raise _err("interventions must be a list of {input, shift or set, start, stop, ramp_days}", w)
        ivs = []
        for k, iv in enumerate(ivs_raw):
            wi = f"{w}.interventions[{k}]"
            if not isinstance(iv, dict) or "input" not in iv:
                raise _err("an intervention needs input and shift or set", wi)
            _check_keys(iv, _INTERVENTION_KEYS, wi)
            inp = iv["input"]
            inp = inp if isinstance(inp, str) else _short(inp)
            modes = [m for m in ("shift", "set") if m in iv]
            if len(modes) != 1:
                raise _err("give exactly one of shift or set", wi)
            mode = modes[0]
            val = _num(iv[mode], mode, wi)
            if inp == "pss10":
                if mode != "set":
                    raise _err("pss10 can only be set", wi)
                inp, val = "stress", _num(val, "pss10", wi, 0, 40) / 40.0
            if inp not in eq.INPUT_NAMES:
                raise _err(f"unknown input {_short(inp)}", wi, hint=f"inputs are {', '.join(eq.INPUT_NAMES)} and pss10")
            start = _num(iv.get("start", 0), "start", wi, 0, days - 1, True)
            stop = _num(iv.get("stop", days), "stop", wi, start + 1, days, True)
            ramp = _num(iv.get("ramp_days", 0), "ramp_days", wi, 0, days, True)
            iv_ = Intervention(inp, mode, val, start, stop, ramp)
            _check_level(iv_, usual[0][inp], usual[1][inp], wi)
            ivs.append(iv_)
        adh = spec.get("adherence", 1.0)
        if isinstance(adh, dict):
            _check_keys(adh, {"mean", "sd"}, f"{w}.adherence")
            am = _num(adh.get("mean", 1.0), "adherence.mean", w, 0, 1)
            asd = _num(adh.get("sd", 0.0), "adherence.sd", w, 0, 1)
        else:
            am, asd = _num(adh, "adherence", w, 0, 1), 0.0
        arms[name] = Arm(name, ivs, am, asd)
    if "endpoints" in raw:
        eps = raw["endpoints"]
        if not isinstance(eps, list):
            raise _err(
                f"endpoints must be a list of outputs, got {_short(eps)}",
                where,
                hint="e.g. endpoints: [R, il6, {output: CRP, day: 14}]",
            )
        if not eps:
            raise _err(
                "endpoints is empty",
                where,
                hint="name at least one output, or leave the key out for the defaults "
                f"({', '.join(_DEFAULT_ENDPOINTS)})",
            )
    else:
        eps = list(_DEFAULT_ENDPOINTS)
    endpoints = []
    for k, e in enumerate(eps):
        we = f"{where}: endpoints[{k}]"
        if isinstance(e, str):
            out, day = e, days
        elif isinstance(e, dict) and "output" in e:
            _check_keys(e, {"output", "day"}, we)
            out, day = e["output"], _num(e.get("day", days), "day", we, 1, days, True)
            out = out if isinstance(out, str) else _short(out)
        else:
            raise _err("an endpoint is an output name or {output, day}", we)
        if out not in OUTPUT_NAMES:
            raise _err(f"unknown output {_short(out)}", we, hint=f"outputs are {', '.join(OUTPUT_NAMES)}")
        endpoints.append((out, day))
    control = raw.get("control")
    if control is not None and str(control) not in arms:
        raise _err(f"control arm {_short(control)} is not one of the arms", where, hint=f"arms: {_names(arms)}")
    trial = _mapping(raw.get("trial"), "trial", where, "{n_per_arm, replicates}")
    _check_keys(trial, _TRIAL_KEYS, f"{where}: trial")
    allow_large = raw.get("allow_large", False)
    if not isinstance(allow_large, bool):
        raise _err(f"allow_large must be true or false, got {_short(allow_large)}", where)
    return Scenario(
        name=_text(raw.get("name"), "name", where, "scenario"),
        description=_text(raw.get("description"), "description", where),
        citation=_text(raw.get("citation"), "citation", where),
        days=days,
        arms=arms,
        endpoints=endpoints,
        disease=disease,
        n_candidates=_num(pop.get("n_candidates", 3000), "population.n_candidates", where, 50, 2_000_000, True),
        population_seed=_num(pop.get("seed", 20240), "population.seed", where, 0, None, True),
        seed=_num(raw.get("seed", 0), "seed", where, 0, None, True),
        control=None if control is None else str(control),
        n_per_arm=None
        if trial.get("n_per_arm") is None
        else _num(trial["n_per_arm"], "trial.n_per_arm", where, 2, None, True),
        replicates=_num(trial.get("replicates", 200), "trial.replicates", where, 1, 100_000, True),
        record_every=_num(raw.get("record_every", 7), "record_every", where, 1, days, True),
        dt=_num(raw.get("dt", 0.5), "dt", where, 0.01, 1.0),
        allow_large=allow_large,
        source=raw,
        path=path,
        file_sha256=file_sha256,
    )


def _signed(x: float) -> str:
    return "0" if x == 0 else f"{x:+g}"


def _check_level(
    iv: Intervention, usual_lo: float, usual_hi: float, where: str, n_out: int | None = None, n: int | None = None
) -> None:
    """Refuse an intervention whose resulting level can leave the input's physically possible range
    (:data:`~gutaxis.axis.inputs.INPUT_RANGES`). ``set``: the level itself. ``shift``: each patient moves
    from their usual level towards usual + shift (adherence and ramps stop in between), so the usual levels
    ``usual_lo``-``usual_hi`` plus the shift must stay within the range. When loading, the usual levels are
    those a virtual population can have (:func:`~gutaxis.axis.inputs.usual_input_bounds`, whatever the
    seed); in a run, those of its own patients, ``n_out`` of the ``n`` of which leave the range."""
    lo, hi, _ = INPUT_RANGES[iv.input]
    allowed = input_range_text(iv.input)
    unit = allowed.split(" ", 1)[1]
    if iv.mode == "set":
        if not lo <= iv.value <= hi:
            raise _err(
                f"{iv.input} set to {iv.value:g} is outside its possible range {allowed}",
                where,
                hint=f"set it within {allowed}" + (" (or pss10: 0-40)" if iv.input == "stress" else ""),
            )
        return
    if (n_out == 0) or (n_out is None and lo <= usual_lo + iv.value and usual_hi + iv.value <= hi):
        return
    a, b = lo - usual_lo, hi - usual_hi
    unit = "" if unit.startswith("(") else f" {unit}"  # no unit after the levels of a 0-1 scale or a flag
    usual = f"{usual_lo:g}-{usual_hi:g}{unit}" if usual_lo != usual_hi else f"{usual_lo:g}{unit}"
    if n_out is None:
        what = (
            f"{iv.input} shift {_signed(iv.value)}{unit} can take virtual patients outside its possible range "
            f"{allowed} (usual {iv.input} in a virtual population: {usual})"
        )
    else:
        what = (
            f"{iv.input} shift {_signed(iv.value)}{unit} takes {n_out} of {n} virtual patients outside its "
            f"possible range {allowed} (their usual {iv.input}: {usual})"
        )
    if a < b:
        hint = (
            f"a shift of {iv.input} must lie within {_signed(a)} to {_signed(b)}{unit} here; "
            "or use set: for a fixed level"
        )
    else:
        hint = (
            f"usual levels already reach both ends of the range, so no shift is possible; use set: for a fixed "
            f"level within {allowed}"
        )
    raise _err(what, where, hint=hint)


@dataclass
class ScenarioResult:
    """Outputs of :func:`run_scenario`: trajectories, per-arm summary and arm comparisons."""

    scenario: Scenario
    days: np.ndarray
    values: dict  # output -> (n_arms, n_patients, n_days) array
    summary: pd.DataFrame
    comparisons: pd.DataFrame
    population: Population
    adherence: np.ndarray  # (n_arms, n_patients)
    provenance: dict = field(default_factory=dict)

    def to_xarray(self):
        """Trajectories as an ``xarray.Dataset`` (dims arm, patient, day)."""
        import xarray as xr

        arms = list(self.scenario.arms)
        data = {k: (("arm", "patient", "day"), v) for k, v in self.values.items()}
        data["adherence"] = (("arm", "patient"), self.adherence)
        ds = xr.Dataset(data, coords={"arm": arms, "patient": np.arange(self.population.n), "day": self.days})
        for k in self.values:
            ds[k].attrs["long_name"] = ENDPOINT_LABELS.get(k, k)
        prov = self.provenance
        ds.attrs.update(
            {
                "title": self.scenario.name,
                "gutaxis_scenario_sha256": prov.get("sha256") or "",
                "gutaxis_scenario_file_sha256": prov.get("scenario_file_sha256") or "",
                "gutaxis_overrides": json.dumps(prov.get("overrides", {}), sort_keys=True, default=str),
                "gutaxis_effective_scenario_sha256": prov.get("effective_sha256") or "",
                "gutaxis_version": str(prov.get("gutaxis_version", "")),
                "context_of_use": "hypothesis generation and teaching; not clinical decisions",
            }
        )
        return ds

    def trajectory_frame(self) -> pd.DataFrame:
        """Tidy table: arm, patient, day, one column per output."""
        arms = list(self.scenario.arms)
        _na, n, _nd = next(iter(self.values.values())).shape
        idx = pd.MultiIndex.from_product([arms, range(n), self.days], names=["arm", "patient", "day"])
        return pd.DataFrame({k: v.reshape(-1) for k, v in self.values.items()}, index=idx).reset_index()

    def bands(self, output: str) -> dict:
        """arm -> (median, p05, p95) over patients, each over :attr:`days`."""
        v = self.values[output]
        q = np.nanpercentile(v, [50, 5, 95], axis=1)
        return {arm: (q[0, a], q[1, a], q[2, a]) for a, arm in enumerate(self.scenario.arms)}

    def write(self, out_dir) -> dict:
        """Write trajectories, tables, JSON and ``report.html`` into ``out_dir``; returns the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        try:
            ds = self.to_xarray()
            p = out / "trajectories.nc"
            ds.to_netcdf(p)
            paths["trajectories"] = p
        except ImportError:
            p = out / "trajectories.tsv.gz"
            self.trajectory_frame().to_csv(p, sep="\t", index=False)
            paths["trajectories"] = p
        p = out / "summary.tsv"
        self.summary.to_csv(p, sep="\t", index=False, float_format="%.6g")
        paths["summary"] = p
        p = out / "comparisons.tsv"
        self.comparisons.to_csv(p, sep="\t", index=False, float_format="%.6g")
        paths["comparisons"] = p
        p = out / "result.json"
        doc = {
            "scenario": self.scenario.source,
            "scenario_effective": self.scenario.effective_source(),
            "provenance": self.provenance,
            "summary": json.loads(self.summary.to_json(orient="records")),
            "comparisons": json.loads(self.comparisons.to_json(orient="records")),
        }
        p.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
        paths["json"] = p
        p = out / "report.html"
        p.write_text(render_html(self, trajectories=paths["trajectories"].name), encoding="utf-8")
        paths["report"] = p
        return paths


def _population(sc: Scenario) -> Population:
    pop = plausible_patients(sc.n_candidates, sc.disease, seed=sc.population_seed)
    if sc.disease == "healthy":
        pop = select_population(pop, seed=sc.population_seed + 1)
    if pop.n < 2:
        raise InputError(
            f"only {pop.n} plausible patients from {sc.n_candidates} candidates", hint="raise population.n_candidates"
        )
    return pop


def _n_per_arm(sc: Scenario, pop: Population) -> int:
    """Patients per arm of one virtual trial: the scenario's, or up to 30 (half the population)."""
    return sc.n_per_arm or max(2, min(30, pop.n // 2))


def _versions() -> dict:
    import numba

    return {
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "numba_version": numba.__version__,
    }


def _provenance(
    sc: Scenario, effective: dict, pop: Population, population_given: bool, meta: dict, n_comparisons: int
) -> dict:
    """What a re-run needs: see the module docstring (the keys are listed in ``docs/axis.md``)."""
    from .. import __version__

    ptable = _parameter_table_info()
    prov = {
        "gutaxis_version": __version__,
        **_versions(),
        "scenario_path": sc.path,
        "scenario_file_sha256": sc.file_sha256,
        "sha256": _sha256_json(sc.source),
        "overrides": sc.effective_overrides(),
        "effective_sha256": _sha256_json(effective),
        "parameter_table": {"path": f"gutaxis/data/{_PARAMETER_TABLE}", "sha256": ptable["sha256"], "n": ptable["n"]},
        "n_patients": int(pop.n),
        "disease": sc.disease,
        "population_seed": sc.population_seed,
        "seed": sc.seed,
        "n_candidates": sc.n_candidates,
        "replicates": sc.replicates,
        "n_per_arm": _n_per_arm(sc, pop) if n_comparisons else None,
        "dt": sc.dt,
        "scheme": meta.get("scheme", "etd4"),
        "method": meta.get("method", "numba"),
    }
    if population_given:
        prov["population"] = "given to run_scenario, not built from the scenario's population settings"
    return prov


def run_scenario(scenario, *, progress=None, population: Population | None = None, client=None) -> ScenarioResult:
    """Run a scenario (path, YAML text, dict or :class:`Scenario`); see the module docstring.
    ``client`` (a :class:`dask.distributed.Client`): the patients are simulated in blocks on the
    cluster, with the same trajectories (``docs/scale.md``)."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if not sc.source:  # built in Python: what is "read" is its complete form
        sc = dataclasses.replace(sc, source=sc.to_dict())
    # the effective scenario recorded in the provenance must be the one that runs (also when attributes
    # were set directly): it is checked by loading it back, which also validates directly set values
    effective = sc.effective_source()
    if load_scenario(effective).settings() != sc.settings():  # pragma: no cover - to_dict() round-trips
        raise InputError(
            "the scenario's settings cannot be recorded in its YAML form",
            source="scenario",
            hint="change settings with Scenario.with_overrides(...)",
        )
    _check_work(sc, None if population is None else population.n)
    step = progress or (lambda _msg: None)
    step("building the virtual population")
    pop = population if population is not None else _population(sc)
    _check_population_levels(sc, pop)
    n, na = pop.n, len(sc.arms)
    # every random draw comes from a stream of its own arm (and endpoint), not from one stream drawn in the
    # order of the arms: the same scenario with its arms (or endpoints) in another order gives the same numbers
    adh = np.empty((na, n))
    for a, arm in enumerate(sc.arms.values()):
        draw = _stream(sc.seed, "adherence", arm.name).standard_normal(n)
        adh[a] = np.clip(arm.adherence_mean + arm.adherence_sd * draw, 0.0, 1.0)
    step(f"simulating {n} patients x {na} arms x {sc.days} days")
    rec = sc.record_days()
    P = np.tile(pop.params, (1, na))
    tr = simulate(
        P,
        np.tile(pop.states, (1, na)),
        np.tile(pop.inputs, (1, na)),
        sc.schedule(),
        np.repeat(np.arange(na), n),
        adh.reshape(-1),
        dt=sc.dt,
        record=rec,
        client=client,
    )
    outs = sorted({o for o, _ in sc.endpoints} | {"R", "butyrate", "lm", "il6", "CRP"})
    if sc.disease == "ra":
        outs = sorted(set(outs) | {"das28"})
    if sc.disease == "ms":
        outs = sorted(set(outs) | {"p"})
    fq = fast_quantities(tr.states, tr.params, tr.inputs)
    values = {}
    for o in outs:
        v = tr.states[:, eq.STATE_NAMES.index(o)] if o in eq.STATE_NAMES else fq[o]
        values[o] = np.ascontiguousarray(np.asarray(v).T.reshape(na, n, rec.size))
    step("summarising arms and virtual trials")
    summary = _summary(sc, rec, values)
    comparisons = _comparisons(sc, rec, values, pop)
    prov = _provenance(sc, effective, pop, population is not None, getattr(tr, "meta", {}) or {}, len(comparisons))
    return ScenarioResult(sc, rec, values, summary, comparisons, pop, adh, prov)


def _summary(sc: Scenario, rec: np.ndarray, values: dict) -> pd.DataFrame:
    rows = []
    for a, arm in enumerate(sc.arms):
        for o, day in sc.endpoints:
            v = values[o][a]
            i = int(np.searchsorted(rec, day))
            base, end = v[:, 0], v[:, i]
            ch = end - base
            n = ch.size
            se = ch.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
            rows.append(
                {
                    "arm": arm,
                    "endpoint": o,
                    "day": day,
                    "n": n,
                    "baseline_mean": base.mean(),
                    "end_mean": end.mean(),
                    "change_mean": ch.mean(),
                    "change_ci_low": ch.mean() - 1.96 * se,
                    "change_ci_high": ch.mean() + 1.96 * se,
                    "change_median": np.median(ch),
                    "pct_change_of_mean": 100.0 * (end.mean() / base.mean() - 1.0) if base.mean() != 0 else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _stream(seed: int, *labels) -> np.random.Generator:
    """A random stream of its own for ``labels`` (e.g. an arm's adherence draws), seeded by the scenario's
    seed and a SHA-256 of the labels (stable across processes and Python versions)."""
    digest = hashlib.sha256("\x1f".join(map(str, labels)).encode("utf-8", "surrogatepass")).digest()
    return np.random.default_rng([int(seed), int.from_bytes(digest[:8], "little")])


def _gib(n: float) -> str:
    x = n / 2**30
    return f"{x:,.0f}" if x >= 100 else f"{x:.2g}"


def _check_work(sc: Scenario, n_patients: int | None) -> None:
    """Refuse a run above :data:`MAX_PATIENT_DAYS` or :data:`MAX_MEMORY_BYTES` unless ``allow_large``."""
    est = sc.work_estimate(n_patients)
    if sc.allow_large or (est["work"] <= MAX_PATIENT_DAYS and est["memory_bytes"] <= MAX_MEMORY_BYTES):
        return
    secs = est["seconds"]
    took = f"{secs / 3600:.3g} h" if secs >= 3600 else f"{secs / 60:.3g} min" if secs >= 60 else f"{secs:.2g} s"
    parts = (
        f"{est['patients']} candidates x {_RELAX_DAYS} d + " if est["relax_patient_days"] else ""
    ) + f"{est['patients']} patients x {est['arms']} arms x {est['days']} d"
    if est["trial_draws"] / TRIAL_DRAWS_PER_SECOND > 0.1 * secs:
        parts += f"; with the {est['trial_draws']:.3g} random draws of the virtual trials: {est['work']:.3g}"
    raise InputError(
        f"this run needs about {est['patient_days']:.3g} patient-days ({parts}), about {took} on one core and "
        f"{_gib(est['memory_bytes'])} GiB of memory; the limits are {MAX_PATIENT_DAYS:.3g} patient-days and "
        f"{MAX_MEMORY_BYTES / 2**30:g} GiB",
        source=sc.path or "scenario",
        hint="lower population.n_candidates, duration_days, trial.replicates or the endpoints, "
        "or add allow_large: true to the scenario to run it anyway",
    )


def _check_population_levels(sc: Scenario, pop: Population) -> None:
    """The levels of every shift for the patients of this population (a population given to
    :func:`run_scenario` may hold usual inputs beyond those of a built one)."""
    for arm in sc.arms.values():
        for k, iv in enumerate(arm.interventions):
            if iv.mode != "shift":
                continue
            base = pop.inputs[eq.INPUT_NAMES.index(iv.input)]
            lo, hi, _ = INPUT_RANGES[iv.input]
            level = base + iv.value
            n_out = int(np.count_nonzero((level < lo) | (level > hi)))
            if n_out:
                _check_level(
                    iv,
                    float(base.min()),
                    float(base.max()),
                    f"{sc.path or 'scenario'}: arms.{arm.name}.interventions[{k}]",
                    n_out,
                    pop.n,
                )


def _comparisons(sc: Scenario, rec, values, pop) -> pd.DataFrame:
    cols = [
        "arm",
        "control",
        "endpoint",
        "day",
        "n_per_arm",
        "replicates",
        "md",
        "md_p2.5",
        "md_p97.5",
        "smd",
        "smd_ci_low",
        "smd_ci_high",
        "smd_p2.5",
        "smd_p97.5",
        "power",
    ]
    if sc.control is None or len(sc.arms) < 2:
        return pd.DataFrame(columns=cols)
    arms = list(sc.arms)
    c = arms.index(sc.control)
    n_arm = _n_per_arm(sc, pop)
    if 2 * n_arm > pop.n:
        raise InputError(
            f"a trial of 2 x {n_arm} patients needs a larger virtual population ({pop.n})",
            hint="raise population.n_candidates or lower trial.n_per_arm",
        )
    rows = []
    for a, arm in enumerate(arms):
        if a == c:
            continue
        it, ic = replicate_indices(pop.n, [n_arm, n_arm], sc.replicates, _stream(sc.seed, "trials", arm))
        for o, day in sc.endpoints:
            rng = _stream(sc.seed, "noise", arm, o, day)
            i = int(np.searchsorted(rec, day))
            ch = {}
            for k, idx in ((a, it), (c, ic)):
                v = values[o][k]
                if o in ("das28", "sledai"):
                    sd = pop.params[eq.PARAM_NAMES.index("sd_das"), idx]
                    pre = v[idx, 0] + sd * rng.standard_normal(idx.shape)
                    post = v[idx, i] + sd * rng.standard_normal(idx.shape)
                else:
                    pre = measured(v[idx, 0], o, pop.params[:, idx], rng)
                    post = measured(v[idx, i], o, pop.params[:, idx], rng)
                ch[k] = post - pre
            md = ch[a].mean(axis=1) - ch[c].mean(axis=1)
            g = hedges_g(ch[a], ch[c])
            var_g = 2.0 / n_arm + g**2 / (4.0 * n_arm)
            lo, hi = g - 1.96 * np.sqrt(var_g), g + 1.96 * np.sqrt(var_g)
            gm = float(np.nanmean(g))
            se_m = np.sqrt(2.0 / n_arm + gm**2 / (4.0 * n_arm))
            rows.append(
                {
                    "arm": arm,
                    "control": sc.control,
                    "endpoint": o,
                    "day": day,
                    "n_per_arm": n_arm,
                    "replicates": sc.replicates,
                    "md": float(np.mean(md)),
                    "md_p2.5": float(np.percentile(md, 2.5)),
                    "md_p97.5": float(np.percentile(md, 97.5)),
                    "smd": gm,
                    "smd_ci_low": gm - 1.96 * se_m,
                    "smd_ci_high": gm + 1.96 * se_m,
                    "smd_p2.5": float(np.nanpercentile(g, 2.5)),
                    "smd_p97.5": float(np.nanpercentile(g, 97.5)),
                    "power": float(np.mean((lo > 0) | (hi < 0))),
                }
            )
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- report.html (gutaxis.report.scenario)
def _parameter_table_info() -> dict:
    data = resources.files("gutaxis.data").joinpath("axis_parameters.tsv").read_bytes()
    return {"sha256": hashlib.sha256(data).hexdigest(), "n": len(eq.PARAM_NAMES)}


def render_html(res: ScenarioResult, *, trajectories: str = "trajectories.nc") -> str:
    """The self-contained ``report.html`` (template ``gutaxis/report/templates/simulate.html.j2``: the
    shared style and scripts of the other reports, inline SVG figures, no external resources);
    ``trajectories`` is the name of the trajectory file listed with the files written beside it.
    Rendered by ``gutaxis.report.scenario``."""
    from ..report.scenario import render_html as _render_html

    return _render_html(res, trajectories=trajectories)
