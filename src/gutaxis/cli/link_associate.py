"""The ``gutaxis associate`` command: MaAsLin-class associations between features and metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import app
from ._app import guard as _guard
from ._app import progress as _progress
from ._app import stdout as _stdout


def _read_data(path: Path, sample_ids):
    """A plain TSV/CSV table read with the values as given (no rescaling); other formats via read_profile."""
    import pandas as pd

    from ..errors import InputError

    suffix = "".join(path.suffixes).lower()
    if any(suffix.endswith(s) for s in (".h5ad", ".biom", ".qza")):
        from ..io import read_profile

        return read_profile(path)
    sep = "," if suffix.endswith((".csv", ".csv.gz")) else "\t"
    try:
        frame = pd.read_csv(path, sep=sep, index_col=0)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read the table: {exc}", source=path,
                         hint="give a TSV/CSV with sample IDs in the first column or the header") from None
    frame.index = frame.index.astype(str)
    frame.columns = frame.columns.astype(str)
    ids = set(sample_ids)
    if not frame.index.isin(ids).any() and frame.columns.isin(ids).any():
        frame = frame.T
    return frame


@app.command("associate")
def associate_cmd(
    data: Path = typer.Argument(..., help="Feature table (TSV/CSV samples x features or features x samples; .h5ad, .biom)."),
    metadata: Path = typer.Argument(..., help="Sample metadata (TSV/CSV, one row per sample)."),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for all_results.tsv, significant_results.tsv, report.html."),
    formula: Optional[str] = typer.Option(None, "--formula", help="e.g. '~ diagnosis + age + (1|subject)'; interactions as in R: "
                                           "'~ diagnosis * age' (= diagnosis + age + diagnosis:age)."),
    fixed: Optional[str] = typer.Option(None, "--fixed", help="Fixed effects, comma-separated (terms such as diagnosis:age allowed)."),
    random: Optional[str] = typer.Option(None, "--random", help="Random intercepts, comma-separated."),
    reference: Optional[str] = typer.Option(None, "--reference", help="Reference levels 'variable,level[;variable,level]'."),
    normalization: str = typer.Option("TSS", "--normalization", help="TSS, CLR or NONE."),
    transform: str = typer.Option("LOG", "--transform", help="LOG, AST, LOGIT or NONE."),
    model: str = typer.Option("LM", "--model", help="LM (MaAsLin2) or maaslin3 (abundance + prevalence models)."),
    min_abundance: float = typer.Option(0.0, "--min-abundance"),
    min_prevalence: Optional[float] = typer.Option(None, "--min-prevalence",
                                                   help="Default: 0.1 for LM, 0 for maaslin3 (each tool's own)."),
    min_variance: float = typer.Option(0.0, "--min-variance"),
    standardize: bool = typer.Option(True, "--standardize/--no-standardize", help="z-score continuous metadata."),
    max_significance: Optional[float] = typer.Option(None, "--max-significance",
                                                     help="q-value threshold. Default: 0.25 for LM, 0.1 for maaslin3."),
    correction: str = typer.Option("BH", "--correction", help="BH, BY, holm, hochberg or bonferroni."),
    intersection: bool = typer.Option(False, "--intersection", help="Model only the samples in both files (the rest are reported)."),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Metadata column holding the sample IDs."),
    reml_optimizer: str = typer.Option("lme4", "--reml-optimizer",
                                       help="lme4 (variances found as lme4::lmer finds them: MaAsLin2's numbers) or "
                                            "exact (the REML optimum)."),
) -> None:
    """Associate every feature with metadata (MaAsLin2's LM path; random intercepts by REML)."""
    with _guard():
        from ..io import read_metadata
        from ..link.associate import associate

        with _progress(3, "reading inputs") as advance:
            advance("reading inputs")
            meta = read_metadata(metadata, id_column=id_column)
            table = _read_data(data, meta.index)
            advance("fitting models")
            result = associate(table, meta, formula=formula, fixed_effects=fixed, random_effects=random,
                               reference=reference, normalization=normalization, transform=transform, model=model,
                               min_abundance=min_abundance, min_prevalence=min_prevalence, min_variance=min_variance,
                               standardize=standardize, max_significance=max_significance, correction=correction,
                               match="intersection" if intersection else "exact", reml_optimizer=reml_optimizer)
            advance("writing results")
            paths = result.write(out_dir)
        out = _stdout()
        out.print(f"{len(result.significant)} significant association(s) (q <= {result.params['max_significance']}); results in {out_dir}")
        for p in paths.values():
            out.print(f"  {p}")
