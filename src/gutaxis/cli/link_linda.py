"""The ``gutaxis linda`` command: compositional differential abundance (LinDA) beside ``associate``."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import OVERWRITE_HELP, app
from ._app import guard as _guard
from ._app import stdout as _stdout


@app.command("linda")
def linda_cmd(
    data: Path = typer.Argument(
        ...,
        help="Count table or profile (MetaPhlAn, BIOM, QIIME 2 .qza, .h5ad, CSV/TSV), "
        "read as every command reads it; read counts are modelled where present.",
    ),
    metadata: Path = typer.Option(..., "--metadata", "-m", help="Sample metadata (TSV/CSV, one row per sample)."),
    out_dir: Path = typer.Option(
        ..., "-o", "--out", help="Folder for all_results.tsv, significant_results.tsv, params.json, report.html."
    ),
    formula: str | None = typer.Option(
        None, "--formula", help="Fixed effects, e.g. '~ diagnosis + age' (no random effects)."
    ),
    fixed: str | None = typer.Option(None, "--fixed", help="Fixed effects, comma-separated (instead of --formula)."),
    reference: str | None = typer.Option(
        None, "--reference", help="Reference levels 'variable,level[;variable,level]'."
    ),
    pseudocount: float = typer.Option(
        0.5, "--pseudocount", help="Added to every count when the table has zeros (the paper's 0.5)."
    ),
    min_prevalence: float = typer.Option(
        0.0, "--min-prevalence", help="Keep features present in more than this fraction of the samples."
    ),
    winsor_quantile: float | None = typer.Option(
        None,
        "--winsor-quantile",
        help="Cap each feature's proportions at this quantile first (the authors' R package: 0.97).",
    ),
    max_significance: float = typer.Option(
        0.05, "--max-significance", help="q-value threshold of significant_results.tsv."
    ),
    bias_se: str = typer.Option(
        "bootstrap",
        "--bias-se",
        help="bootstrap (the bias estimate's variance joins the tests' errors; default) or none (the paper's tests).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resamples."),
    intersection: bool = typer.Option(False, "--intersection", help="Model only the samples in both files."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """Differential abundance by LinDA (Zhou et al. 2022, doi:10.1186/s13059-022-02655-5): CLR, one linear
    model per feature, the compositional bias removed as the mode of the coefficients, t-tests, BH."""
    with _guard():
        from .._outputs import check_output_dir
        from ..io import read_metadata
        from ..link.linda import linda

        if bias_se.lower() not in ("bootstrap", "none"):
            from ..errors import InputError

            raise InputError(f"--bias-se must be bootstrap or none, got {bias_se!r}", source="--bias-se")
        check_output_dir(out_dir, overwrite=overwrite, what="folder for the LinDA results", inputs=[data, metadata])
        meta = read_metadata(metadata)
        result = linda(
            data,
            meta,
            formula=formula,
            fixed_effects=fixed,
            reference=reference,
            pseudocount=pseudocount,
            min_prevalence=min_prevalence,
            winsor_quantile=winsor_quantile,
            max_significance=max_significance,
            bias_se=None if bias_se.lower() == "none" else "bootstrap",
            seed=seed,
            match="intersection" if intersection else "exact",
        )
        result.params["inputs"] = {"data": str(data), "metadata": str(metadata)}
        paths = result.write(out_dir, overwrite=overwrite)
        out = _stdout()
        out.print(
            f"LinDA: {len(result.significant)} significant feature(s) (q <= {max_significance:g}; bias "
            + ", ".join(f"{k} {v:.3g}" for k, v in result.params["bias"].items())
            + f"); results in {out_dir}"
        )
        for p in paths.values():
            out.print(f"  {p}")
