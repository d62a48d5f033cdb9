"""Command of the *simulate* capability: ``gutaxis simulate SCENARIO -o DIR`` (a thin face over
:func:`gutaxis.axis.scenario.run_scenario`; register it with ``from . import simulate`` in
``gutaxis/cli/__init__.py``)."""

from __future__ import annotations

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
        sc = load_scenario(path)
        if replicates is not None:
            sc.replicates = replicates
        if n_candidates is not None:
            sc.n_candidates = n_candidates
        if seed is not None:
            sc.seed = seed
        with _progress(4, "reading the scenario") as advance:
            advance("reading the scenario")
            res = run_scenario(sc, progress=advance)
            paths = res.write(out_dir)
        out = _stdout()
        out.print(f"report written to {paths['report']}")
        for key in ("trajectories", "summary", "comparisons", "json"):
            out.print(f"  {paths[key]}")
