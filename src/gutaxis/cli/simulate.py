"""Command of the *simulate* capability: ``gutaxis simulate SCENARIO -o DIR`` (a thin face over
:func:`gutaxis.axis.scenario.run_scenario`; register it with ``from . import simulate`` in
``gutaxis/cli/__init__.py``)."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from ._app import OVERWRITE_HELP, app
from ._app import guard as _guard
from ._app import progress as _progress
from ._app import stdout as _stdout
from ._scale import SCHEDULER_HELP, WORKERS_HELP, cluster

_SCENARIO_HINT = (
    "give the path of a scenario YAML file (gutaxis simulate SCENARIO.yaml -o DIR; see docs/axis.md), "
    "or 'example' for the shipped Wastyk 2021 design"
)


def _scenario_file(scenario: str) -> Path:
    """The scenario argument as an existing YAML file, or a clear refusal (it is never read as YAML text)."""
    from ..errors import InputError

    path = Path(scenario)
    if path.is_dir():
        raise InputError("is a folder, not a scenario file", source=path, hint=_SCENARIO_HINT)
    if not path.exists():
        raise InputError("scenario file does not exist", source=path, hint=_SCENARIO_HINT)
    if not path.is_file():
        raise InputError("is not a regular file", source=path, hint=_SCENARIO_HINT)
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise InputError(
            "a scenario file's name ends in .yaml or .yml",
            source=path,
            hint=f"rename it (e.g. {path.with_suffix('.yaml').name}) if it is a YAML scenario",
        )
    return path


# the files ScenarioResult.write can write
_SIMULATE_FILES = frozenset(
    {"trajectories.nc", "trajectories.tsv.gz", "summary.tsv", "comparisons.tsv", "result.json", "report.html"}
)


def _earlier_example(path: Path, example: Path) -> bool:
    """Whether ``path`` holds just a simulation of the shipped example scenario (same file, by SHA-256)."""
    import hashlib
    import json

    try:
        entries = list(path.iterdir()) if path.is_dir() else []
        if not entries or any(not p.is_file() or p.name not in _SIMULATE_FILES for p in entries):
            return False
        doc = json.loads((path / "result.json").read_text(encoding="utf-8"))
        sha = hashlib.sha256(example.read_bytes()).hexdigest()
    except (OSError, ValueError):
        return False
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("provenance"), dict)
        and doc["provenance"].get("scenario_file_sha256") == sha
    )


@app.command("simulate")
def simulate_cmd(
    scenario: str = typer.Argument(
        ..., help="Scenario YAML file (.yaml/.yml), or 'example' for the shipped Wastyk 2021 design."
    ),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for trajectories, tables and report.html."),
    replicates: int | None = typer.Option(
        None, "--replicates", min=1, help="Replicate virtual trials (overrides the scenario)."
    ),
    n_candidates: int | None = typer.Option(
        None, "--n-candidates", min=50, help="Prior candidates of the virtual population (overrides the scenario)."
    ),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="Seed of adherence draws and trials (overrides the scenario)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP),
    workers: int | None = typer.Option(None, "--workers", metavar="N", help=WORKERS_HELP),
) -> None:
    """Simulate a virtual trial of the gut-immune axis model (offline) and write its report.

    For hypothesis generation and teaching; not for clinical decisions. The folder is written whole
    or not at all; a folder that already holds files needs --overwrite, except an earlier run of
    'example', which 'example' replaces.
    """
    with _guard():
        from .._outputs import atomic_dir, check_output_dir
        from ..axis.scenario import example_scenario_path, load_scenario, run_scenario

        path = example_scenario_path() if scenario == "example" else _scenario_file(scenario)
        inputs = [] if scenario == "example" else [path]
        if scenario == "example":
            overwrite = overwrite or _earlier_example(out_dir, path)
        check_output_dir(out_dir, overwrite=overwrite, what="simulation folder", inputs=inputs)
        # every option that overrides a setting of the scenario, in the order of the options; recorded
        # (with the effective scenario and its SHA-256) in the provenance of result.json and report.html
        given = {"replicates": replicates, "n_candidates": n_candidates, "seed": seed}
        overrides = {k: v for k, v in given.items() if v is not None}
        sc = load_scenario(path)
        if overrides:
            sc = sc.with_overrides(**overrides)
        command = ["gutaxis", "simulate", scenario, "-o", str(out_dir)]
        for k, v in overrides.items():
            command += [f"--{k.replace('_', '-')}", str(v)]
        with _progress(4, "reading the scenario") as advance:
            advance("reading the scenario")
            with cluster(scheduler, workers) as client:
                res = run_scenario(sc, progress=advance, client=client)
            res.provenance["command"] = shlex.join(command)
            with atomic_dir(out_dir, overwrite=overwrite, what="simulation folder", inputs=inputs) as tmp:
                written = res.write(tmp)
            paths = {key: out_dir / p.name for key, p in written.items()}
        out = _stdout()
        out.print(f"report written to {paths['report']}")
        for key in ("trajectories", "summary", "comparisons", "json"):
            out.print(f"  {paths[key]}")
