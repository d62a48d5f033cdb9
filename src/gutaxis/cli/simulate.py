"""Command of the *simulate* capability: ``gutaxis simulate SCENARIO -o DIR`` (a thin face over
:func:`gutaxis.axis.scenario.run_scenario`; register it with ``from . import simulate`` in
``gutaxis/cli/__init__.py``)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

import typer

from ._app import app
from ._app import guard as _guard
from ._app import progress as _progress
from ._app import stdout as _stdout


@app.command("simulate")
def simulate_cmd(
    scenario: str = typer.Argument(..., help="Scenario YAML file, or 'example' for the shipped Wastyk 2021 design."),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for trajectories, tables and report.html."),
    replicates: Optional[int] = typer.Option(None, "--replicates", min=1, help="Replicate virtual trials (overrides the scenario)."),
    n_candidates: Optional[int] = typer.Option(None, "--n-candidates", min=50,
                                               help="Prior candidates of the virtual population (overrides the scenario)."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="Seed of adherence draws and trials (overrides the scenario)."),
) -> None:
    """Simulate a virtual trial of the gut-immune axis model (offline) and write its report.

    For hypothesis generation and teaching; not for clinical decisions.
    """
    with _guard():
        from ..axis.scenario import example_scenario_path, load_scenario, run_scenario

        path = example_scenario_path() if scenario == "example" else Path(scenario)
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
            res = run_scenario(sc, progress=advance)
            res.provenance["command"] = shlex.join(command)
            paths = res.write(out_dir)
        out = _stdout()
        out.print(f"report written to {paths['report']}")
        for key in ("trajectories", "summary", "comparisons", "json"):
            out.print(f"  {paths[key]}")
