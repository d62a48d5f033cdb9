"""The ``gutaxis associate`` command: MaAsLin-class associations between features and metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import OVERWRITE_HELP, app
from ._app import guard as _guard
from ._app import progress as _progress
from ._app import stdout as _stdout

# columns of a taxa-as-rows table that annotate the taxa (as io.table reads them): not samples
_ANNOTATION_KEYS = {"taxonomy", "lineage", "consensuslineage", "taxonomicassignment", "ncbitaxid", "cladetaxid",
                    "taxid", "ncbitaxonid", "confidence", "additionalspecies"}


def _parse_table(path: Path, *, sample_ids, sep: str | None = None, id_name: str | None = None,
                 orientation: str | None = None):
    """A plain table's values as given, samples x features (a DataFrame), parsed as
    :func:`gutaxis.io.read_table` parses it: leading ``#`` lines skipped (a last one that looks
    like a header is the header), R's header without a row-name field, the separator from the
    header line, annotation columns (taxonomy, NCBI taxid...) left out, every cell a number.
    ``sep``, ``id_name`` and ``orientation`` as the reader found them; when not given: the first
    of tab, comma, semicolon in the header; the first column; the orientation in which the
    metadata's sample IDs are found."""
    import re

    import numpy as np
    import pandas as pd

    from ..errors import InputError
    from ..io._text import parse_delimited, read_lines, split_fields, to_numbers

    source = str(path)
    lines = read_lines(path)
    text, numbers = lines.text, lines.number
    i = 0
    while i < len(text) and text[i].startswith("#"):
        i += 1
    if i == len(text):
        raise InputError("the table holds only comment lines", source=source, hint="give a table with a header row")
    if sep is None:
        sep = next((c for c in ("\t", ",", ";") if c in text[i]), None)
        if sep is None:
            raise InputError("cannot find the column separator (tab, comma or semicolon) in the header",
                             source=source, hint="save the table as CSV/TSV")
    at = i - 1 if i > 0 and sep in text[i - 1] and text[i - 1].count(sep) >= text[i].count(sep) > 0 else i
    head = text[at]
    header = split_fields(head.lstrip("#") if head.startswith("#") else head, sep)
    body = [(t, n) for t, n in zip(text[at + 1:], numbers[at + 1:]) if not t.startswith("#")]
    rows, nums = [t for t, _ in body], [n for _, n in body]
    if not rows:
        raise InputError("the table has a header but no rows", source=source,
                         hint="check that the file was written completely")
    if len(split_fields(rows[0], sep)) == len(header) + 1:
        header = ["", *header]  # R's write.table: no name for the row-name column
    if id_name is not None and id_name not in header:
        raise InputError(f"no column {id_name!r}", source=source)
    id_col = header.index(id_name) if id_name is not None else 0
    key = [re.sub(r"[\s_#\-.]+", "", h).lower() for h in header]
    value_cols = [k for k in range(len(header)) if k != id_col and key[k] not in _ANNOTATION_KEYS]
    col_ids = [header[k] for k in value_cols]
    dup = pd.Index(col_ids)[pd.Index(col_ids).duplicated()]
    if len(dup):
        raise InputError(f"duplicate column name {dup[0]!r} in the header (line {numbers[at]})", source=source,
                         hint="make sample/taxon IDs unique")
    cells = parse_delimited(rows, nums, sep, len(header), source)
    row_ids = [str(c).strip() for c in cells[:, id_col]]
    values = to_numbers(cells[:, value_cols], row_ids, col_ids, source=source, row_kind="row", col_kind="column",
                        row_lines=nums)
    if orientation is None:
        known = {str(s) for s in sample_ids}
        in_rows, in_cols = sum(r in known for r in row_ids), sum(c in known for c in col_ids)
        orientation = "samples-as-columns" if in_cols > in_rows else "samples-as-rows"
    if orientation == "samples-as-columns":
        return pd.DataFrame(np.ascontiguousarray(values.T), index=col_ids, columns=row_ids)
    return pd.DataFrame(values, index=row_ids, columns=col_ids)


def _read_data(path: Path, sample_ids):
    """The feature table through the package's profile reader (format, separator, orientation
    and every check as for the other commands; the orientation guided by the metadata's sample
    IDs), with the values as given: the counts or numbers of a plain table (no rescaling),
    MetaPhlAn's percentages; BIOM, QIIME 2 and h5ad cohorts as the readers give them.

    A plain table with empty samples (all zeros), which the readers refuse, is still read:
    MaAsLin2 leaves those samples out of every model (``associate`` warns), and with
    ``--normalization NONE`` they are zero abundances like any other."""
    import warnings

    import numpy as np
    import pandas as pd

    from ..errors import InputError
    from ..io import FilteredWarning, detect_format, read_profile, read_table

    fmt, _ = detect_format(path)
    if fmt != "table":
        adata = read_profile(path, format=fmt)
        if fmt != "metaphlan":
            return adata
        values = adata.X.toarray() if hasattr(adata.X, "toarray") else adata.X
        return pd.DataFrame(values * 100.0, index=adata.obs_names, columns=adata.var_names)  # percent, as given
    try:
        adata = read_table(path, sample_ids=[str(s) for s in sample_ids])
    except InputError as exc:
        if "sums to zero" not in exc.problem:
            raise
        return _parse_table(path, sample_ids=sample_ids)
    samples, features = [str(s) for s in adata.obs_names], [str(f) for f in adata.var_names]
    if "counts" in adata.layers:
        values = adata.layers["counts"]
        values = values.toarray() if hasattr(values, "toarray") else np.asarray(values)
        return pd.DataFrame(values, index=samples, columns=features)
    prov = adata.uns.get("provenance", {})
    X = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
    try:
        frame = _parse_table(path, sample_ids=sample_ids, sep=prov.get("separator"), id_name=prov.get("id_column"),
                             orientation=prov.get("orientation")).loc[samples, features]
        raw = frame.to_numpy(dtype=np.float64)
        same = np.allclose(raw / raw.sum(axis=1, keepdims=True), X, rtol=1e-9, atol=0)
    except Exception:  # noqa: BLE001 (the values as given are a refinement; the reader's proportions stand)
        same = False
    if same:
        return frame
    warnings.warn(f"{path}: modelling each sample's proportions (its values divided by its total), not the values "
                  "as given", FilteredWarning, stacklevel=2)
    return pd.DataFrame(X, index=samples, columns=features)


@app.command("associate")
def associate_cmd(
    data: Path = typer.Argument(..., help="Feature table: CSV/TSV (samples x features or features x samples; "
                                          "separator and orientation detected), MetaPhlAn, .biom, .qza or .h5ad."),
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
                                                     help="q-value threshold in (0, 1]. Default: 0.25 for LM, 0.1 for "
                                                          "maaslin3."),
    correction: str = typer.Option("BH", "--correction", help="BH, BY, holm, hochberg or bonferroni."),
    intersection: bool = typer.Option(False, "--intersection", help="Model only the samples in both files (the rest are reported)."),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Metadata column holding the sample IDs."),
    reml_optimizer: str = typer.Option("lme4", "--reml-optimizer",
                                       help="lme4 (variances found as lme4::lmer finds them: MaAsLin2's numbers) or "
                                            "exact (the REML optimum)."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """Associate every feature with metadata (MaAsLin2's LM path; random intercepts by REML)."""
    with _guard():
        from .._outputs import check_output_dir
        from ..io import read_metadata
        from ..link.associate import associate, check_options

        # everything that can be checked before any work: the options, then the output folder
        check_options(normalization=normalization, transform=transform, model=model, min_abundance=min_abundance,
                      min_prevalence=min_prevalence, min_variance=min_variance, max_significance=max_significance,
                      correction=correction, reml_optimizer=reml_optimizer)
        check_output_dir(out_dir, overwrite=overwrite, what="folder for the association results",
                         inputs=[data, metadata])
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
            paths = result.write(out_dir, overwrite=overwrite)
        out = _stdout()
        out.print(f"{len(result.significant)} significant association(s) (q <= {result.params['max_significance']}); results in {out_dir}")
        for p in paths.values():
            out.print(f"  {p}")
