"""The ``gutaxis associate`` command: MaAsLin-class associations between features and metadata."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import OVERWRITE_HELP, app
from ._app import guard as _guard
from ._app import progress as _progress
from ._app import stdout as _stdout
from ._inputs import ID_COLUMN_HELP, INTERSECTION_HELP, TAXONOMY_HELP, load_profile, metadata_columns
from ._scale import SCHEDULER_HELP, WORKERS_HELP, cluster

_FIXED_HELP = (
    "Fixed effect: a metadata column, a term such as diagnosis:age, or C(column) to model a numeric "
    "column as categorical (C(group) for a 1/2 code). Repeat the option for several effects "
    "(--fixed diagnosis --fixed age); one value may also list several separated by commas, except a "
    "column whose own name holds a comma (Group (1=HC,2=RA)): give it as one --fixed value, it is never "
    "split."
)


def _effects(values: list[str] | None, columns) -> list[str] | None:
    """The --fixed/--random values as a list of effects: each value a column name as a whole, or
    split at its commas (not inside parentheses or backticks)."""
    from ..link._design import split_top

    if not values:
        return None
    names = set(map(str, columns))
    out: list[str] = []
    for value in values:
        parts = [value.strip()] if value.strip() in names else [p.strip() for p in split_top(value, ",")]
        out.extend(p for p in parts if p)
    return out


@app.command("associate")
def associate_cmd(
    data: Path = typer.Argument(
        ...,
        help="Profile or feature table, read as every command reads it: MetaPhlAn "
        "(single or merged), BIOM, QIIME 2 .qza, .h5ad, or CSV/TSV (either "
        "orientation, with or without a taxonomy column).",
    ),
    metadata_arg: Path | None = typer.Argument(
        None, metavar="[METADATA]", help="Sample metadata (older form of --metadata)."
    ),
    out_dir: Path = typer.Option(
        ...,
        "-o",
        "--out",
        help="Folder for all_results.tsv, significant_results.tsv, "
        "params.json (parameters and input checksums), report.html, "
        "figures/ (heatmap.pdf and the plotted variable's PDF).",
    ),
    metadata: Path | None = typer.Option(
        None, "--metadata", "-m", help="Sample metadata (TSV/CSV, one row per sample)."
    ),
    formula: str | None = typer.Option(
        None,
        "--formula",
        help="e.g. '~ diagnosis + age + (1|subject)'; interactions as in R: "
        "'~ diagnosis * age' (= diagnosis + age + diagnosis:age); C(group) makes a "
        "numeric column categorical; odd column names in backticks.",
    ),
    fixed: list[str] | None = typer.Option(None, "--fixed", help=_FIXED_HELP),
    random: list[str] | None = typer.Option(
        None, "--random", help="Random intercept: a metadata column (repeatable; or comma-separated)."
    ),
    reference: str | None = typer.Option(
        None, "--reference", help="Reference levels 'variable,level[;variable,level]'."
    ),
    normalization: str = typer.Option("TSS", "--normalization", help="TSS, CLR or NONE."),
    transform: str = typer.Option("LOG", "--transform", help="LOG, AST, LOGIT or NONE."),
    model: str = typer.Option("LM", "--model", help="LM (MaAsLin2) or maaslin3 (abundance + prevalence models)."),
    min_abundance: float = typer.Option(0.0, "--min-abundance"),
    min_prevalence: float | None = typer.Option(
        None, "--min-prevalence", help="Default: 0.1 for LM, 0 for maaslin3 (each tool's own)."
    ),
    min_variance: float = typer.Option(0.0, "--min-variance"),
    standardize: bool = typer.Option(True, "--standardize/--no-standardize", help="z-score continuous metadata."),
    max_significance: float | None = typer.Option(
        None, "--max-significance", help="q-value threshold in (0, 1]. Default: 0.25 for LM, 0.1 for maaslin3."
    ),
    correction: str = typer.Option("BH", "--correction", help="BH, BY, holm, hochberg or bonferroni."),
    intersection: bool = typer.Option(False, "--intersection", help=INTERSECTION_HELP),
    id_column: str | None = typer.Option(None, "--id-column", help=ID_COLUMN_HELP),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help=TAXONOMY_HELP),
    format: str | None = typer.Option(
        None, "--format", "-f", help="Input format (metaphlan, biom, qza, table, h5ad); detected when omitted."
    ),
    orientation: str | None = typer.Option(
        None, "--orientation", help="Plain tables: samples-as-rows or samples-as-columns."
    ),
    reml_optimizer: str = typer.Option(
        "lme4",
        "--reml-optimizer",
        help="lme4 (variances found as lme4::lmer finds them: MaAsLin2's numbers) or exact (the REML optimum).",
    ),
    plot_variable: str | None = typer.Option(
        None,
        "--plot-variable",
        help="Variable whose significant associations are plotted in the "
        "report and in figures/ (default: the first fixed effect).",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP),
    workers: int | None = typer.Option(None, "--workers", metavar="N", help=WORKERS_HELP),
) -> None:
    """Associate every feature with metadata (MaAsLin2's LM path; random intercepts by REML)."""
    with _guard():
        from .._outputs import check_output_dir
        from ..errors import InputError
        from ..link.associate import associate, check_options

        if (metadata is None) == (metadata_arg is None):
            raise InputError(
                "give the sample metadata once: --metadata FILE (or as the second argument)",
                source="gutaxis associate",
                hint="e.g. gutaxis associate profile.tsv -m metadata.tsv -o out",
            )
        metadata = metadata or metadata_arg
        # everything that can be checked before any work: the options, then the output folder
        check_options(
            normalization=normalization,
            transform=transform,
            model=model,
            min_abundance=min_abundance,
            min_prevalence=min_prevalence,
            min_variance=min_variance,
            max_significance=max_significance,
            correction=correction,
            reml_optimizer=reml_optimizer,
        )
        check_output_dir(
            out_dir, overwrite=overwrite, what="folder for the association results", inputs=[data, metadata]
        )
        with _progress(3, "reading inputs") as advance:
            advance("reading inputs")
            adata = load_profile(
                data,
                metadata=metadata,
                id_column=id_column,
                format=format,
                orientation=orientation,
                intersection=intersection,
                keep_values=True,
                taxonomy=taxonomy,
            )
            meta = adata.obs[metadata_columns(adata)].copy()
            meta.attrs["source"] = str(metadata)
            advance("fitting models")
            with cluster(scheduler, workers) as client:
                result = associate(
                    adata,
                    meta,
                    formula=formula,
                    fixed_effects=_effects(fixed, meta.columns),
                    random_effects=_effects(random, meta.columns),
                    reference=reference,
                    normalization=normalization,
                    transform=transform,
                    model=model,
                    min_abundance=min_abundance,
                    min_prevalence=min_prevalence,
                    min_variance=min_variance,
                    standardize=standardize,
                    max_significance=max_significance,
                    correction=correction,
                    match="intersection" if intersection else "exact",
                    reml_optimizer=reml_optimizer,
                    client=client,
                )
            advance("writing results")
            paths = result.write(out_dir, overwrite=overwrite, plot_variable=plot_variable)
        out = _stdout()
        out.print(
            f"{len(result.significant)} significant association(s) (q <= {result.params['max_significance']});"
            f" results in {out_dir}"
        )
        for p in paths.values():
            out.print(f"  {p}")
