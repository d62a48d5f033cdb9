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

Settings can be overridden without editing the file (:meth:`Scenario.with_overrides`, used by the
``--replicates``, ``--n-candidates`` and ``--seed`` options of ``gutaxis simulate``). The provenance of a
result records the scenario as read (path, SHA-256 of the file, SHA-256 of its content), every override
with its value, the *effective* scenario that ran (:meth:`Scenario.effective_source`, with its SHA-256;
``result.json`` holds it as ``scenario_effective``, a scenario that re-runs exactly what ran), the seeds,
replicates and population sizes used, the parameter table's SHA-256 and the gutaxis, Python, numpy and
numba versions.

:meth:`ScenarioResult.write` writes trajectories (NetCDF through xarray; a gzipped TSV when xarray
is not installed), ``summary.tsv``, ``comparisons.tsv``, ``result.json`` and a self-contained
``report.html`` (:func:`render_html`: the template ``gutaxis/report/templates/simulate.html.j2`` with the
shared style of the other reports, matplotlib figures as inline SVG, no external resources).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import platform
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from . import equations as eq
from .engine import OUTPUT_NAMES, fast_quantities, simulate
from .inputs import Schedule
from .population import Population, plausible_patients, select_population
from .trials import hedges_g, measured, replicate_indices

__all__ = ["Scenario", "ScenarioResult", "load_scenario", "run_scenario", "example_scenario_path", "ENDPOINT_LABELS"]

ENDPOINT_LABELS = {
    "R": "diversity (effective taxa)", "butyrate": "faecal butyrate (mM)", "lm": "permeability (L/M)",
    "lps": "endotoxin (fold-change)", "il6": "IL-6 (pg/mL)", "tnf": "TNF-a (pg/mL)", "il1b": "IL-1b (pg/mL)",
    "il10": "IL-10 (pg/mL)", "il17": "IL-17 (pg/mL)", "CRP": "CRP (mg/L)", "LBP": "LBP (ug/mL)",
    "Treg": "Treg (% CD4+)", "Th17": "Th17 (% CD4+)", "cortisol": "cortisol (ug/dL)", "das28": "DAS28",
    "sledai": "SLEDAI proxy", "B": "butyrate producers (fraction)", "L": "lactic-acid bacteria (fraction)",
    "Pb": "pathobionts (fraction)", "Bc": "Bacteroidetes/others (fraction)", "IP": "structural permeability (L/M)",
}

_TOP_KEYS = {"name", "description", "duration_days", "duration_weeks", "seed", "population", "control", "trial",
             "record_every", "arms", "endpoints", "dt", "citation"}

#: settings that :meth:`Scenario.with_overrides` can change: attribute -> its place in the YAML form (the
#: first three are the command-line overrides of ``gutaxis simulate``, in the order of its options)
_SETTINGS = {
    "replicates": ("trial", "replicates"), "n_candidates": ("population", "n_candidates"), "seed": ("seed",),
    "population_seed": ("population", "seed"), "n_per_arm": ("trial", "n_per_arm"), "disease": ("population", "disease"),
    "days": ("duration_days",), "control": ("control",), "record_every": ("record_every",), "dt": ("dt",),
    "name": ("name",), "description": ("description",), "citation": ("citation",),
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
            adherence = ({"mean": arm.adherence_mean, "sd": arm.adherence_sd} if arm.adherence_sd
                         else arm.adherence_mean)
            arms[arm.name] = {"adherence": adherence, "interventions": [
                {"input": iv.input, iv.mode: iv.value, "start": iv.start, "stop": iv.stop, "ramp_days": iv.ramp_days}
                for iv in arm.interventions]}
        return {
            "name": self.name, "description": self.description, "citation": self.citation,
            "duration_days": self.days, "seed": self.seed,
            "population": {"disease": self.disease, "n_candidates": self.n_candidates, "seed": self.population_seed},
            "control": self.control, "trial": {"n_per_arm": self.n_per_arm, "replicates": self.replicates},
            "record_every": self.record_every, "dt": self.dt, "arms": arms,
            "endpoints": [{"output": o, "day": d} for o, d in self.endpoints],
        }

    def _as_read(self) -> "Scenario | None":
        return load_scenario(self.source) if self.source else None

    def effective_overrides(self) -> dict:
        """Every setting that differs from the scenario as read, or was given to :meth:`with_overrides`:
        name -> the value that runs (also catches attributes set directly, e.g. ``sc.seed = 7``)."""
        read = self._as_read()
        names = list(self.overrides)
        if read is not None:
            names += [k for k in list(_SETTINGS) + ["arms", "endpoints"] if getattr(read, k) != getattr(self, k)]
        order = list(_SETTINGS) + ["arms", "endpoints"]
        full = self.to_dict() if {"arms", "endpoints"} & set(names) else {}
        return {k: full[k] if k in ("arms", "endpoints") else _plain(getattr(self, k))
                for k in sorted(dict.fromkeys(names), key=order.index)}

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

    def with_overrides(self, **settings) -> "Scenario":
        """A copy with some settings changed (names of :data:`_SETTINGS`: ``replicates``,
        ``n_candidates``, ``seed``, ``population_seed``, ``n_per_arm``, ``days``, ...), validated as if
        they had been in the file; the copy keeps the scenario as read and records the overrides."""
        unknown = sorted(set(settings) - set(_SETTINGS))
        if unknown:
            raise InputError(f"cannot override {', '.join(unknown)}", source="scenario",
                             hint=f"settings that can be overridden: {', '.join(_SETTINGS)}")
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


def _num(v, key: str, where: str, lo=None, hi=None, integer=False):
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise _err(f"{key} must be a number, got {v!r}", where) from None
    if not np.isfinite(x) or (lo is not None and x < lo) or (hi is not None and x > hi):
        raise _err(f"{key} = {v!r} is outside {lo}-{hi}", where)
    if integer:
        if x != int(x):
            raise _err(f"{key} must be a whole number, got {v!r}", where)
        return int(x)
    return x


def load_scenario(source) -> Scenario:
    """Read and validate a scenario from a YAML path, YAML text or a dict."""
    import yaml

    where = "scenario"
    path = file_sha256 = None
    if isinstance(source, dict):
        raw = source
    else:
        p = Path(str(source))
        if "\n" not in str(source) and p.suffix.lower() in (".yaml", ".yml", ".json"):
            if not p.exists():
                raise InputError(f"scenario file {p} does not exist", hint="give the path of a YAML scenario")
            where = path = str(p)
            data = p.read_bytes()
            file_sha256 = hashlib.sha256(data).hexdigest()
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise _err("not UTF-8 text", where) from None
        else:
            text = str(source)
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise _err(f"not valid YAML: {' '.join(str(exc).split())}", where) from None
    if not isinstance(raw, dict):
        raise _err("a scenario is a YAML mapping (name, duration_days, arms, endpoints, ...)", where)
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise _err(f"unknown key(s) {sorted(unknown)}", where, hint=f"keys are {', '.join(sorted(_TOP_KEYS))}")
    if "duration_days" in raw:
        days = _num(raw["duration_days"], "duration_days", where, 1, 3650, True)
    elif "duration_weeks" in raw:
        days = 7 * _num(raw["duration_weeks"], "duration_weeks", where, 1, 520, True)
    else:
        raise _err("duration_days (or duration_weeks) is missing", where)
    arms_raw = raw.get("arms")
    if not isinstance(arms_raw, dict) or not arms_raw:
        raise _err("arms must be a mapping of arm name -> {interventions, adherence}", where)
    arms = {}
    for name, spec in arms_raw.items():
        spec = spec or {}
        w = f"{where}: arms.{name}"
        if not isinstance(spec, dict):
            raise _err("an arm is a mapping with interventions and adherence", w)
        bad = set(spec) - {"interventions", "adherence", "description"}
        if bad:
            raise _err(f"unknown key(s) {sorted(bad)}", w, hint="use interventions, adherence, description")
        ivs = []
        for k, iv in enumerate(spec.get("interventions") or []):
            wi = f"{w}.interventions[{k}]"
            if not isinstance(iv, dict) or "input" not in iv:
                raise _err("an intervention needs input and shift or set", wi)
            inp = str(iv["input"])
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
                raise _err(f"unknown input {inp!r}", wi, hint=f"inputs are {', '.join(eq.INPUT_NAMES)} and pss10")
            start = _num(iv.get("start", 0), "start", wi, 0, days - 1, True)
            stop = _num(iv.get("stop", days), "stop", wi, start + 1, days, True)
            ramp = _num(iv.get("ramp_days", 0), "ramp_days", wi, 0, days, True)
            bad = set(iv) - {"input", "shift", "set", "start", "stop", "ramp_days"}
            if bad:
                raise _err(f"unknown key(s) {sorted(bad)}", wi)
            ivs.append(Intervention(inp, mode, val, start, stop, ramp))
        adh = spec.get("adherence", 1.0)
        if isinstance(adh, dict):
            am = _num(adh.get("mean", 1.0), "adherence.mean", w, 0, 1)
            asd = _num(adh.get("sd", 0.0), "adherence.sd", w, 0, 1)
        else:
            am, asd = _num(adh, "adherence", w, 0, 1), 0.0
        arms[str(name)] = Arm(str(name), ivs, am, asd)
    endpoints = []
    for k, e in enumerate(raw.get("endpoints") or ["R", "butyrate", "lm", "il6", "CRP"]):
        we = f"{where}: endpoints[{k}]"
        if isinstance(e, str):
            out, day = e, days
        elif isinstance(e, dict) and "output" in e:
            out, day = str(e["output"]), _num(e.get("day", days), "day", we, 1, days, True)
        else:
            raise _err("an endpoint is an output name or {output, day}", we)
        if out not in OUTPUT_NAMES:
            raise _err(f"unknown output {out!r}", we, hint=f"outputs are {', '.join(OUTPUT_NAMES)}")
        endpoints.append((out, day))
    pop = raw.get("population") or {}
    if not isinstance(pop, dict):
        raise _err("population must be a mapping {disease, n_candidates, seed}", where)
    disease = str(pop.get("disease", "healthy")).lower()
    if disease not in ("healthy", "ra", "sle", "ms"):
        raise _err(f"unknown disease {disease!r}", f"{where}: population", hint="use healthy, ra, sle or ms")
    control = raw.get("control")
    if control is not None and str(control) not in arms:
        raise _err(f"control arm {control!r} is not one of the arms", where, hint=f"arms: {', '.join(arms)}")
    trial = raw.get("trial") or {}
    return Scenario(
        name=str(raw.get("name", "scenario")),
        description=str(raw.get("description", "")),
        citation=str(raw.get("citation", "")),
        days=days,
        arms=arms,
        endpoints=endpoints,
        disease=disease,
        n_candidates=_num(pop.get("n_candidates", 3000), "population.n_candidates", where, 50, 2_000_000, True),
        population_seed=_num(pop.get("seed", 20240), "population.seed", where, 0, None, True),
        seed=_num(raw.get("seed", 0), "seed", where, 0, None, True),
        control=None if control is None else str(control),
        n_per_arm=None if trial.get("n_per_arm") is None else _num(trial["n_per_arm"], "trial.n_per_arm", where, 2, None, True),
        replicates=_num(trial.get("replicates", 200), "trial.replicates", where, 1, 100_000, True),
        record_every=_num(raw.get("record_every", 7), "record_every", where, 1, days, True),
        dt=_num(raw.get("dt", 0.5), "dt", where, 0.01, 1.0),
        source=raw,
        path=path,
        file_sha256=file_sha256,
    )


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
        ds.attrs.update({"title": self.scenario.name, "gutaxis_scenario_sha256": prov.get("sha256") or "",
                         "gutaxis_scenario_file_sha256": prov.get("scenario_file_sha256") or "",
                         "gutaxis_overrides": json.dumps(prov.get("overrides", {}), sort_keys=True, default=str),
                         "gutaxis_effective_scenario_sha256": prov.get("effective_sha256") or "",
                         "gutaxis_version": str(prov.get("gutaxis_version", "")),
                         "context_of_use": "hypothesis generation and teaching; not clinical decisions"})
        return ds

    def trajectory_frame(self) -> pd.DataFrame:
        """Tidy table: arm, patient, day, one column per output."""
        arms = list(self.scenario.arms)
        na, n, nd = next(iter(self.values.values())).shape
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
        doc = {"scenario": self.scenario.source, "scenario_effective": self.scenario.effective_source(),
               "provenance": self.provenance,
               "summary": json.loads(self.summary.to_json(orient="records")),
               "comparisons": json.loads(self.comparisons.to_json(orient="records"))}
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
        raise InputError(f"only {pop.n} plausible patients from {sc.n_candidates} candidates",
                         hint="raise population.n_candidates")
    return pop


def _n_per_arm(sc: Scenario, pop: Population) -> int:
    """Patients per arm of one virtual trial: the scenario's, or up to 30 (half the population)."""
    return sc.n_per_arm or max(2, min(30, pop.n // 2))


def _versions() -> dict:
    import numba

    return {"python_version": platform.python_version(), "numpy_version": np.__version__,
            "numba_version": numba.__version__}


def _provenance(sc: Scenario, effective: dict, pop: Population, population_given: bool, meta: dict,
                n_comparisons: int) -> dict:
    """What a re-run needs: see the module docstring (the keys are listed in ``docs/axis.md``)."""
    from .. import __version__

    ptable = _parameter_table_info()
    prov = {"gutaxis_version": __version__, **_versions(),
            "scenario_path": sc.path, "scenario_file_sha256": sc.file_sha256,
            "sha256": _sha256_json(sc.source), "overrides": sc.effective_overrides(),
            "effective_sha256": _sha256_json(effective),
            "parameter_table": {"path": f"gutaxis/data/{_PARAMETER_TABLE}", "sha256": ptable["sha256"],
                                "n": ptable["n"]},
            "n_patients": int(pop.n), "disease": sc.disease, "population_seed": sc.population_seed,
            "seed": sc.seed, "n_candidates": sc.n_candidates, "replicates": sc.replicates,
            "n_per_arm": _n_per_arm(sc, pop) if n_comparisons else None,
            "dt": sc.dt, "scheme": meta.get("scheme", "etd4"), "method": meta.get("method", "numba")}
    if population_given:
        prov["population"] = "given to run_scenario, not built from the scenario's population settings"
    return prov


def run_scenario(scenario, *, progress=None, population: Population | None = None) -> ScenarioResult:
    """Run a scenario (path, YAML text, dict or :class:`Scenario`); see the module docstring."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if not sc.source:  # built in Python: what is "read" is its complete form
        sc = dataclasses.replace(sc, source=sc.to_dict())
    # the effective scenario recorded in the provenance must be the one that runs (also when attributes
    # were set directly): it is checked by loading it back, which also validates directly set values
    effective = sc.effective_source()
    if load_scenario(effective).settings() != sc.settings():  # pragma: no cover - to_dict() round-trips
        raise InputError("the scenario's settings cannot be recorded in its YAML form", source="scenario",
                         hint="change settings with Scenario.with_overrides(...)")
    step = progress or (lambda _msg: None)
    step("building the virtual population")
    pop = population if population is not None else _population(sc)
    n, na = pop.n, len(sc.arms)
    rng = np.random.default_rng(sc.seed)
    adh = np.empty((na, n))
    for a, arm in enumerate(sc.arms.values()):
        adh[a] = np.clip(arm.adherence_mean + arm.adherence_sd * rng.standard_normal(n), 0.0, 1.0)
    step(f"simulating {n} patients x {na} arms x {sc.days} days")
    rec = sc.record_days()
    P = np.tile(pop.params, (1, na))
    tr = simulate(P, np.tile(pop.states, (1, na)), np.tile(pop.inputs, (1, na)), sc.schedule(),
                  np.repeat(np.arange(na), n), adh.reshape(-1), dt=sc.dt, record=rec)
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
    comparisons = _comparisons(sc, rec, values, pop, rng)
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
            rows.append({"arm": arm, "endpoint": o, "day": day, "n": n, "baseline_mean": base.mean(),
                         "end_mean": end.mean(), "change_mean": ch.mean(), "change_ci_low": ch.mean() - 1.96 * se,
                         "change_ci_high": ch.mean() + 1.96 * se, "change_median": np.median(ch),
                         "pct_change_of_mean": 100.0 * (end.mean() / base.mean() - 1.0) if base.mean() != 0 else np.nan})
    return pd.DataFrame(rows)


def _comparisons(sc: Scenario, rec, values, pop, rng) -> pd.DataFrame:
    cols = ["arm", "control", "endpoint", "day", "n_per_arm", "replicates", "md", "md_p2.5", "md_p97.5", "smd",
            "smd_ci_low", "smd_ci_high", "smd_p2.5", "smd_p97.5", "power"]
    if sc.control is None or len(sc.arms) < 2:
        return pd.DataFrame(columns=cols)
    arms = list(sc.arms)
    c = arms.index(sc.control)
    n_arm = _n_per_arm(sc, pop)
    if 2 * n_arm > pop.n:
        raise InputError(f"a trial of 2 x {n_arm} patients needs a larger virtual population ({pop.n})",
                         hint="raise population.n_candidates or lower trial.n_per_arm")
    rows = []
    for a, arm in enumerate(arms):
        if a == c:
            continue
        it, ic = replicate_indices(pop.n, [n_arm, n_arm], sc.replicates, rng)
        for o, day in sc.endpoints:
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
            rows.append({"arm": arm, "control": sc.control, "endpoint": o, "day": day, "n_per_arm": n_arm,
                         "replicates": sc.replicates, "md": float(np.mean(md)), "md_p2.5": float(np.percentile(md, 2.5)),
                         "md_p97.5": float(np.percentile(md, 97.5)), "smd": gm, "smd_ci_low": gm - 1.96 * se_m,
                         "smd_ci_high": gm + 1.96 * se_m, "smd_p2.5": float(np.nanpercentile(g, 2.5)),
                         "smd_p97.5": float(np.nanpercentile(g, 97.5)), "power": float(np.mean((lo > 0) | (hi < 0)))})
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- report.html
#: the caution printed in the report (the framing of the other gutaxis reports)
DISCLAIMER = ("This simulation informs a conversation with a clinician or registered dietitian; it is not a "
              "diagnosis, a prediction for any person or a prescription. Do not start, stop or change a diet, "
              "supplement or treatment because of it.")

_INPUT_LABELS = {"fiber": "fiber", "fermented": "fermented food", "probiotic": "probiotic",
                 "upf": "ultra-processed food", "sugar": "added sugar", "satfat": "saturated fat",
                 "stress": "stress load", "mindbody": "mind-body practice", "ra": "RA flag", "sle": "SLE flag",
                 "dmard": "DMARD flag", "propionate": "oral propionate", "ms": "MS flag"}
_DISEASE_LABELS = {"healthy": "healthy adults", "ra": "people with rheumatoid arthritis",
                   "sle": "people with systemic lupus erythematosus", "ms": "people with multiple sclerosis"}
_SUMMARY_COLS = ("baseline_mean", "end_mean", "change_mean", "change_ci_low", "change_ci_high", "change_median",
                 "pct_change_of_mean")


def _number(v, *, signed: bool = False, decimals: int | None = None, percent: bool = False) -> dict:
    """``{"raw": float|None, "text": str}`` of a table cell. ``decimals``: fixed decimals; otherwise 3
    significant digits (scientific below 0.001). ``percent`` shows a 0-1 fraction as a whole percentage;
    ``signed`` adds ``+`` to values shown above 0 (a value that rounds to 0 shows no sign)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = float("nan")
    if not np.isfinite(x):
        return {"raw": None, "text": "—"}
    y = 100.0 * x if percent else x
    if percent:
        decimals = 0
    a = abs(y)
    if decimals is not None:
        text = f"{y:.{decimals}f}"
    elif y == 0:
        text = "0"
    elif a >= 999.5:
        text = f"{y:.0f}"
    elif a >= 0.001:
        text = f"{y:.3g}"
    else:
        text = f"{y:.2e}"
    if float(text) == 0:
        text = text.lstrip("-")
    elif signed and float(text) > 0:
        text = "+" + text
    return {"raw": x, "text": text}


def _decimals(scale: float) -> int | None:
    """Decimals that give 4 significant digits at the size of ``scale`` (an endpoint's baseline mean), so that
    every number of one endpoint is shown at one resolution; None (significant digits) when it is 0 or missing."""
    scale = abs(float(scale)) if scale is not None else float("nan")
    if not np.isfinite(scale) or scale == 0:
        return None
    return int(np.clip(3 - np.floor(np.log10(scale)), 0, 8))


def _describe_intervention(iv: Intervention) -> str:
    unit = eq.INPUT_UNITS[eq.INPUT_NAMES.index(iv.input)]
    label = _INPUT_LABELS.get(iv.input, iv.input)
    if iv.mode == "shift":
        what = f"{label} {iv.value:+g} {unit} over the usual intake"
    elif iv.input == "stress":
        what = f"{label} set to {iv.value:g} (PSS-10 {40 * iv.value:g})"
    else:
        what = f"{label} set to {iv.value:g} {unit}"
    ramp = f", full size after a {iv.ramp_days}-day ramp" if iv.ramp_days else ""
    return f"{what}, day {iv.start} to {iv.stop}{ramp}"


def _trajectory_figure(res: ScenarioResult):
    """Small multiples of every endpoint: per arm the median and the 5-95 % band over the virtual
    patients (matplotlib on an Agg canvas, as inline SVG)."""
    from ..report.figures import PALETTE, Figure, _figure, _rc, _to_svg

    sc = res.scenario
    outs = list(dict.fromkeys(o for o, _ in sc.endpoints))
    arms = list(sc.arms)
    colors, k = {}, 0
    for arm in arms:
        if arm == sc.control:
            colors[arm] = "#52606d"
        else:
            colors[arm] = PALETTE[k % len(PALETTE)]
            k += 1
    ncol = 3 if len(outs) > 4 else min(2, len(outs))
    nrow = int(np.ceil(len(outs) / ncol))
    x = np.asarray(res.days, float)
    ends = []
    with _rc("scenario"):
        fig, axes = _figure(nrow, ncol, figsize=(3.5 * ncol, 2.55 * nrow + 0.45), squeeze=False)
        fig.set_layout_engine("constrained")
        for ax, o in zip(axes.ravel(), outs):
            bands = res.bands(o)
            for arm in arms:
                med, lo, hi = bands[arm]
                if arm != sc.control:  # the control's band: outline only, so the others stay visible
                    ax.fill_between(x, lo, hi, color=colors[arm], alpha=0.12, linewidth=0)
                ax.plot(x, lo, color=colors[arm], linewidth=0.9, linestyle=(0, (2, 2)))
                ax.plot(x, hi, color=colors[arm], linewidth=0.9, linestyle=(0, (2, 2)))
                ax.plot(x, med, color=colors[arm], linewidth=2.0, label=arm)
            for day in sorted({d for e, d in sc.endpoints if e == o and d != sc.days}):
                ax.axvline(day, color="#9aa5b1", linewidth=0.8, linestyle="--")
            ax.set_title(ENDPOINT_LABELS.get(o, o), loc="left")
            ax.set_xlabel("day", fontsize=9)
            ax.set_xlim(float(x.min()), float(x.max()))
            ax.grid(axis="y", color="#d9e2ec", linewidth=0.6)
            ax.tick_params(labelsize=8.5)
            ends.append(f"{ENDPOINT_LABELS.get(o, o)}: " + ", ".join(
                f"{arm} {_number(bands[arm][0][-1])['text']}" for arm in arms))
        for ax in axes.ravel()[len(outs):]:
            ax.set_visible(False)
        handles, labels = axes.ravel()[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncol=len(arms), fontsize=9.5)
    alt = (f"Small multiples of {len(outs)} endpoints over {sc.days} days: for each arm ({', '.join(arms)}) the median "
           "(line) and the 5th-95th percentile (band between dashed lines) among the virtual patients. "
           f"Medians on day {int(x.max())}: " + "; ".join(ends) + ".")
    caption = ("Solid lines: median over the virtual patients; between the dashed lines of the same colour: 5th to "
               "95th percentile" + (f" (shaded, except for the control arm {sc.control})" if sc.control else " (shaded)")
               + ". The band is the spread between virtual patients, not a prediction interval for a person."
               + (" Dashed vertical lines: endpoint days before the end." if any(d != sc.days for _, d in sc.endpoints)
                  else ""))
    return Figure(_to_svg(fig, alt, "scenario"), alt, caption)


def _parameter_table_info() -> dict:
    data = resources.files("gutaxis.data").joinpath("axis_parameters.tsv").read_bytes()
    return {"sha256": hashlib.sha256(data).hexdigest(), "n": len(eq.PARAM_NAMES)}


def _report_context(res: ScenarioResult, trajectories: str) -> dict:
    from .. import __version__
    from ..report.html import _citations

    sc, prov = res.scenario, res.provenance
    arms = []
    for arm in sc.arms.values():
        adherence = f"{arm.adherence_mean:g}" + (f" (sd {arm.adherence_sd:g}, per patient, 0-1)" if arm.adherence_sd else "")
        arms.append({"name": arm.name, "interventions": [_describe_intervention(iv) for iv in arm.interventions],
                     "adherence": adherence if arm.interventions else "—"})
    order = {o: k for k, (o, _) in enumerate(sc.endpoints)}
    arm_order = {a: k for k, a in enumerate(sc.arms)}

    def endpoint_key(row):
        return order.get(row["endpoint"], len(order)), row["day"], arm_order.get(row["arm"], len(arm_order))

    scale = res.summary.groupby("endpoint")["baseline_mean"].apply(lambda v: np.nanmax(np.abs(v))).to_dict() \
        if len(res.summary) else {}
    summary_rows = []
    for row in sorted(res.summary.to_dict("records"), key=endpoint_key):
        d = _decimals(scale.get(row["endpoint"]))
        cells = {c: _number(row[c], signed=c.startswith("change"), decimals=d) for c in _SUMMARY_COLS}
        cells["pct_change_of_mean"] = _number(row["pct_change_of_mean"], signed=True, decimals=1)
        summary_rows.append({"arm": row["arm"], "endpoint": row["endpoint"], "day": _number(row["day"]),
                             "label": ENDPOINT_LABELS.get(row["endpoint"], row["endpoint"]),
                             "control": row["arm"] == sc.control, **cells})
    n_summary = sorted({int(v) for v in res.summary["n"]}) if len(res.summary) else []
    comparison_rows = []
    for row in sorted(res.comparisons.to_dict("records"), key=endpoint_key):
        d = _decimals(scale.get(row["endpoint"]))
        cells = {c: _number(row[c], signed=True, decimals=d) for c in ("md", "md_p2.5", "md_p97.5")}
        cells.update({c: _number(row[c], signed=True, decimals=2)
                      for c in ("smd", "smd_ci_low", "smd_ci_high", "smd_p2.5", "smd_p97.5")})
        cells["power"] = _number(row["power"], percent=True)
        comparison_rows.append({"arm": row["arm"], "control": row["control"], "endpoint": row["endpoint"],
                                "day": _number(row["day"]), "cells": cells,
                                "label": ENDPOINT_LABELS.get(row["endpoint"], row["endpoint"])})
    trial = None
    if len(res.comparisons):
        trial = {"n_per_arm": _number(res.comparisons["n_per_arm"].iloc[0]),
                 "replicates": _number(res.comparisons["replicates"].iloc[0]), "control": sc.control}
    n_pat = int(prov.get("n_patients", res.population.n))
    who = _DISEASE_LABELS.get(sc.disease, sc.disease)
    ptable = prov.get("parameter_table") or {"sha256": _parameter_table_info()["sha256"]}
    versions = {k: prov.get(k) or v for k, v in _versions().items()}
    read = prov.get("scenario_path")
    read = (f"{read} (SHA-256 of the file {prov['scenario_file_sha256']})" if read and prov.get("scenario_file_sha256")
            else "given as text or a mapping, not read from a file")
    provenance_rows = [
        ("gutaxis (model) version", str(prov.get("gutaxis_version", __version__))),
        ("Python, numpy, numba", f"Python {versions['python_version']}, numpy {versions['numpy_version']}, "
                                 f"numba {versions['numba_version']}"),
    ]
    if prov.get("command"):
        provenance_rows.append(("command", str(prov["command"])))
    provenance_rows += [
        ("scenario file", read),
        ("scenario SHA-256", f"{prov.get('sha256', '—')} (of the scenario as read, before the overrides)"),
        ("effective scenario SHA-256", f"{prov.get('effective_sha256', '—')} (of the scenario that ran, after the "
                                       "overrides; it is recorded in result.json as scenario_effective)"),
        ("model parameters", f"gutaxis/data/axis_parameters.tsv ({len(eq.PARAM_NAMES)} parameters; point values, "
                             "priors and sources, gains calibrated to gutaxis/data/axis_calibration_targets.tsv); "
                             f"SHA-256 {ptable['sha256']}"),
        ("virtual population", f"{n_pat} virtual {who} ({prov.get('disease', sc.disease)}), accepted from "
                               f"{prov.get('n_candidates', sc.n_candidates)} plausible-patient candidates sampled "
                               "from the parameter priors; population seed "
                               f"{prov.get('population_seed', sc.population_seed)}"
                               + (f" ({prov['population']})" if prov.get("population") else "")),
        ("seed", f"{prov.get('seed', sc.seed)} (adherence draws, trial sampling and measurement noise)"),
        ("solver", f"{prov.get('scheme', '—')} ({prov.get('method', 'numba')}), step {prov.get('dt', sc.dt)} d; "
                   f"trajectories stored on days {', '.join(str(int(d)) for d in res.days)}"),
    ]
    if trial:
        provenance_rows.append(("virtual trials", f"{trial['replicates']['text']} replicate trials per arm, "
                                                  f"{trial['n_per_arm']['text']} patients per arm, vs {sc.control}"))
    else:
        provenance_rows.append(("virtual trials", "none (no control arm)"))
    shown = {"gutaxis_version", "sha256", "n_patients", "disease", "population_seed", "seed", "n_candidates", "dt",
             "scheme", "method", "python_version", "numpy_version", "numba_version", "command", "scenario_path",
             "scenario_file_sha256", "effective_sha256", "parameter_table", "overrides", "replicates", "n_per_arm",
             "population"}
    provenance_rows += [(str(k), json.dumps(v, default=str) if not isinstance(v, str) else v)
                        for k, v in prov.items() if k not in shown]
    overrides = prov.get("overrides") or {}
    overrides_line = {
        "label": "Command-line overrides" if prov.get("command") else "Overrides of the scenario's settings",
        "text": ", ".join(f"{k} = {json.dumps(v, default=str) if not isinstance(v, str) else v}"
                          for k, v in overrides.items()) or "none"}
    files = [
        {"name": "report.html", "about": "this report (self-contained; opens offline)"},
        {"name": "summary.tsv", "about": "change from baseline per arm and endpoint (every number of that table)"},
        {"name": "comparisons.tsv", "about": "virtual trials against the control arm (every number of that table)"},
        {"name": trajectories, "about": "trajectories of every virtual patient, arm and stored day"},
        {"name": "result.json", "about": "the scenario as read and as it ran (scenario_effective, after the "
                                         "overrides; re-run it to reproduce these numbers), provenance, summary "
                                         "and comparisons"},
    ]
    cards = [{"label": "Virtual patients", "text": str(n_pat), "sub": f"{who}, each under every arm"},
             {"label": "Arms", "text": str(len(sc.arms)), "sub": ", ".join(sc.arms)},
             {"label": "Duration", "text": f"{sc.days} days",
              "sub": "endpoints on day " + ", ".join(str(d) for d in sorted({d for _, d in sc.endpoints}))}]
    if trial:
        cards.append({"label": "Virtual trials", "text": trial["replicates"]["text"],
                      "sub": f"{trial['n_per_arm']['text']} patients per arm, vs {sc.control}"})
    return {
        "title": sc.name, "description": sc.description, "citation": sc.citation,
        "citation_links": _citations(sc.citation),
        "version": __version__, "disclaimer": DISCLAIMER, "disease": sc.disease, "who": who, "n_patients": n_pat,
        "days": sc.days, "dt": sc.dt, "arms": arms, "control": sc.control, "cards": cards,
        "n_summary": [_number(v) for v in n_summary], "summary_rows": summary_rows,
        "comparison_rows": comparison_rows, "trial": trial, "figure": _trajectory_figure(res),
        "provenance_rows": provenance_rows, "overrides": overrides_line, "files": files,
        "recorded": json.dumps({"scenario": sc.source, "scenario_effective": sc.effective_source(), "provenance": prov},
                               indent=1, sort_keys=True, default=str),
    }


def render_html(res: ScenarioResult, *, trajectories: str = "trajectories.nc") -> str:
    """The self-contained ``report.html`` (template ``gutaxis/report/templates/simulate.html.j2``: the
    shared style and scripts of the other reports, inline SVG figures, no external resources);
    ``trajectories`` is the name of the trajectory file listed with the files written beside it."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("gutaxis.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True)
    return env.get_template("simulate.html.j2").render(**_report_context(res, trajectories))
