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

The code lives in three files, one concept each: the data model (:class:`Scenario`, :class:`Arm`,
:class:`Intervention`; ``gutaxis.axis._scenario_model``), reading and validating a scenario
(:func:`load_scenario`; ``gutaxis.axis._scenario_file``) and, here, running it (:func:`run_scenario`,
:class:`ScenarioResult`). Import every public name from this module: it re-exports the other two.
"""

from __future__ import annotations

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
from ._scenario_file import MAX_SCENARIO_BYTES, _check_level, example_scenario_path, load_scenario
from ._scenario_model import _RELAX_DAYS, TRIAL_DRAWS_PER_SECOND, Scenario
from ._scenario_model import PATIENT_DAYS_PER_SECOND as PATIENT_DAYS_PER_SECOND
from ._scenario_model import Arm as Arm
from ._scenario_model import Intervention as Intervention
from .engine import fast_quantities, simulate
from .inputs import INPUT_RANGES
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

#: largest work estimate (:meth:`Scenario.work_estimate`) run without ``allow_large: true``: 5e7
#: patient-days, about 2.5 minutes at the measured ~3.5e5 patient-days per second of one core
MAX_PATIENT_DAYS = 5e7
#: largest memory estimate run without ``allow_large: true`` (4 GiB)
MAX_MEMORY_BYTES = 4 * 2**30
_PARAMETER_TABLE = "axis_parameters.tsv"


def _sha256_json(doc) -> str:
    """SHA-256 of the canonical JSON of a scenario mapping (sorted keys, so formatting, comments and key
    order of the YAML do not change it)."""
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


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
