"""``gutaxis atlas``: the autoimmune atlas (a thin face over :func:`gutaxis.atlas.run_atlas`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer

from ._app import OVERWRITE_HELP, app
from ._app import guard as _guard
from ._app import progress as _progress
from ._app import stderr as _stderr
from ._app import stdout as _stdout
from ._scale import SCHEDULER_HELP, WORKERS_HELP, cluster


def _f(x, digits: int = 3) -> str:
    import math

    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


@app.command("atlas")
def atlas_cmd(
    out: Path = typer.Option(..., "-o", "--out", help="Output folder: atlas.html and a TSV of every number."),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Folder holding the dataset folders (ra1000_16s, imsms_ms_16s, ...), as the "
        "shared data folder lays them out. Default: the dataset registry (datasets not in it are listed as not "
        "analysed, with the reason).",
    ),
    cohort: list[str] | None = typer.Option(
        None, "--cohort", help="Run only this cohort (repeatable; names as in the report, e.g. 'iMSMS')."
    ),
    permutations: int = typer.Option(999, "--permutations", min=0, help="PERMANOVA permutations per cohort."),
    seed: int = typer.Option(2026, "--seed", help="Seed of the PERMANOVA permutations."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP),
    workers: int | None = typer.Option(None, "--workers", metavar="N", help=WORKERS_HELP),
) -> None:
    """The autoimmune atlas: every cohort we hold through one harmonised analysis (MaAsLin 2-style
    associations, Shannon, PERMANOVA), meta-analysis per disease, shared vs specific genera, the
    MicrobiomeHD comparison and the seed's claims with rule-based verdicts. It informs; it never
    diagnoses."""
    with _guard():
        from ..atlas import COHORTS, run_atlas, write_atlas

        err, con = _stderr(), _stdout()
        n = (len(cohort) if cohort else len(COHORTS)) + 3
        started = time.perf_counter()
        with _progress(n, "starting") as advance:

            def report(stage: str, seconds):
                if seconds is None:
                    advance(stage)
                else:
                    err.print(f"[dim]{stage}: {seconds:.1f} s[/dim]")

            with cluster(scheduler, workers) as client:
                result = run_atlas(
                    data_dir,
                    cohorts=cohort or None,
                    permutations=permutations,
                    seed=seed,
                    progress=report,
                    client=client,
                )
            advance("writing the report")
            t0 = time.perf_counter()
            paths = write_atlas(result, out, overwrite=overwrite)
            err.print(f"[dim]report and TSVs: {time.perf_counter() - t0:.1f} s[/dim]")
        total = time.perf_counter() - started
        load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        err.print(
            f"total: {total:.1f} s on {cores} core(s) of {os.cpu_count()}; load average {load[0]:.2f} "
            f"{load[1]:.2f} {load[2]:.2f}"
        )
        coh = result.cohorts
        for _, r in coh[coh.status != "analysed"].iterrows():
            con.print(f"not analysed: {r['cohort']} ({r['disease']}): {r['reason']}")
        for _, r in result.microbiomehd.iterrows():
            if "share_agree" in r:
                con.print(
                    f"MicrobiomeHD agreement, {r['disease']} ({r['microbiomehd_datasets']}): "
                    f"{r['agree']}/{r['called_in_both']} genera called in both agree in direction "
                    f"(share {_f(r['share_agree'])}); our calls vs its direction at any q: "
                    f"{_f(r['share_agree_any_q'])} of {r['called_here_tested_there']}"
                )
            else:
                con.print(f"MicrobiomeHD agreement, {r['disease']}: {r.get('note', '')}")
        con.print("The seed's claims (verdicts by the rule in gutaxis.atlas.claims; all digits in claims.tsv):")
        head = ("claim", "disease", "rank", "observed", "effect (95% CI)", "I2", "k", "n", "verdict")
        widths = (22, 18, 6, 9, 26, 5, 3, 6, 0)
        con.print(
            "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip(), soft_wrap=True, highlight=False
        )
        for _, r in result.claims.iterrows():
            cells = (
                r["claim"],
                r["disease"],
                r["rank"],
                r["observed"] or "-",
                f"{_f(r['effect'])} ({_f(r['ci_low'])}, {_f(r['ci_high'])})",
                _f(r["I2"], 2),
                str(r["cohorts"]),
                str(r["samples"]),
                r["verdict"],
            )
            con.print(
                "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip(),
                soft_wrap=True,
                highlight=False,
                markup=False,
            )
        con.print(f"wrote {paths['atlas.html']} and {len(paths) - 1} other files")
