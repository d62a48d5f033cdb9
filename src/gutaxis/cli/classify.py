"""The ``gutaxis classify`` commands: predict a condition from the microbiome, validated honestly.

A thin face over :mod:`gutaxis.classify` (no science lives here): ``cv`` (within-study
cross-validation, with the confounder report), ``cross-study`` (leave-one-study-out and the
train x test matrix), ``confounders`` (the metadata report alone) and ``predict`` (apply a saved
model to a new table with its frozen preprocessing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import typer

from ._app import OVERWRITE_HELP, app
from ._app import guard as _guard
from ._app import progress as _progress
from ._app import stdout as _stdout
from ._inputs import TAXONOMY_HELP, load_profile, metadata_columns
from ._scale import SCHEDULER_HELP, WORKERS_HELP, cluster

classify_app = typer.Typer(
    help="Predict a condition from the microbiome: SIAMCAT-class classifiers validated "
    "within and across studies (cv, cross-study, confounders, predict).",
    no_args_is_help=True,
)
app.add_typer(classify_app, name="classify")

_DATA_HELP = (
    "Feature table: CSV/TSV (samples x features or features x samples; separator and orientation "
    "detected), MetaPhlAn, .biom, .qza or .h5ad."
)
_MODEL_HELP = "lasso, enet, ridge (SIAMCAT's lambda rule), rf (500 trees) or gb (gradient boosting)."


def _split(text: str | None):
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return parts if len(parts) > 1 else (parts[0] if parts else None)


def _read(data: Path, metadata: Path, id_column: str | None, intersection: bool, taxonomy: Path | None = None):
    """The table and its metadata through the commands' one loading path (:mod:`._inputs`)."""
    adata = load_profile(data, metadata=metadata, id_column=id_column, intersection=intersection, taxonomy=taxonomy)
    meta = adata.obs[metadata_columns(adata)].copy()
    meta.attrs["source"] = str(metadata)
    return adata, meta


def _labelled(adata, meta, label: str, case: str, control: str | None, intersection: bool):
    """Table and labels over the samples that have both; samples the user left out as neither case
    nor control go (reported); samples without metadata are an error unless --intersection."""
    import warnings

    from ..classify import labels_from_metadata
    from ..errors import InputError
    from ..io import FilteredWarning

    samples = [str(s) for s in adata.obs_names]
    meta.index = meta.index.astype(str)
    no_meta = [s for s in samples if s not in meta.index]
    if no_meta:
        if not intersection:
            raise InputError(
                f"{len(no_meta)} sample(s) of the table have no metadata row: "
                f"{', '.join(map(repr, no_meta[:5]))}{' ...' if len(no_meta) > 5 else ''}",
                source="metadata",
                hint="fix the IDs, or pass --intersection to use only the samples in both",
            )
        warnings.warn(
            f"{len(no_meta)} sample(s) without metadata left out (--intersection)", FilteredWarning, stacklevel=2
        )
    meta = meta.loc[[s for s in samples if s in meta.index]]
    y = labels_from_metadata(meta, label, case=_split(case), control=_split(control))
    labelled = set(y.index)
    keep = [s in labelled for s in samples]
    return adata[keep].copy(), y, meta.loc[y.index]


def _model(model: str, filter_: str, cutoff: float, normalization: str, select: int | None, trees: int | None):
    from ..classify import make_classifier

    params: dict[str, Any] = {}
    if trees is not None and model in ("rf", "gb"):
        params["n_estimators"] = trees
    if model == "rf":
        params["n_jobs"] = 1
    filt = None if filter_ == "pass" else (filter_, cutoff)
    return make_classifier(model, filter=filt, normalization=normalization, select=select, **params)


def _print_summary(res, what: str) -> None:
    out = _stdout()
    s = res.summary.set_index("metric")
    out.print(f"{res.scheme['description']}")
    for m in s.index:
        r = s.loc[m]
        line = (
            f"  {m}: {r['mean_prediction']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
            " (bootstrap 95% CI of the mean prediction)"
        )
        if "p_value" in s.columns and r.get("p_value") is not None and r["p_value"] == r["p_value"]:
            line += f"; permuted {r['null_mean']:.3f}, p = {r['p_value']:.3g}"
        out.print(line)
    out.print(f"results in {what}")


@classify_app.command("cv")
def cv_cmd(
    data: Path = typer.Argument(..., help=_DATA_HELP),
    metadata: Path = typer.Argument(..., help="Sample metadata (TSV/CSV, one row per sample)."),
    label: str = typer.Option(..., "--label", help="Metadata column holding the condition."),
    case: str = typer.Option(..., "--case", help="Value(s) of --label that are cases (comma-separated)."),
    control: str | None = typer.Option(
        None,
        "--control",
        help="Value(s) that are controls (default: every other value; samples in neither are left out and reported).",
    ),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for the TSV/JSON files and report.html."),
    model: str = typer.Option("lasso", "--model", help=_MODEL_HELP),
    filter_: str = typer.Option(
        "abundance", "--filter", help="abundance, cum.abundance, prevalence, variance or pass."
    ),
    cutoff: float = typer.Option(0.001, "--cutoff", help="Cutoff of --filter (SIAMCAT's default 0.001)."),
    normalization: str = typer.Option(
        "log.std", "--normalization", help="log.std, std, log.unit, log.clr, clr, rank.unit, rank.std or pass."
    ),
    select: int | None = typer.Option(
        None,
        "--select",
        help="Keep the K features most associated with the label in each training fold (supervised, inside the CV).",
    ),
    trees: int | None = typer.Option(None, "--trees", help="Trees of rf/gb (default 500/200)."),
    folds: str = typer.Option("10", "--folds", help="Stratified folds, or 'loo' for leave-one-out."),
    repeats: int = typer.Option(10, "--repeats", min=1, help="Repeats of the k-fold split."),
    groups: str | None = typer.Option(
        None,
        "--groups",
        help="Metadata column to block by (subject, household): a group never spans training and test.",
    ),
    mixed_groups: bool = typer.Option(
        False, "--mixed-groups", help="Allow groups holding cases and controls (households)."
    ),
    tune: bool = typer.Option(False, "--tune", help="Nested tuning of the model's main parameters (inner 5-fold CV)."),
    permutations: int = typer.Option(0, "--permutations", min=0, help="Permuted-label controls (empirical p-value)."),
    confounders: bool = typer.Option(
        True, "--confounders/--no-confounders", help="Report how well each metadata column alone predicts the label."
    ),
    threshold: float = typer.Option(0.75, "--threshold", help="Flag metadata columns at this AUROC or above."),
    within: str | None = typer.Option(None, "--within", help="Also cross-validate within each level of this column."),
    save_model: Path | None = typer.Option(
        None, "--save-model", help="Train on all samples and save the model here (a pickle: load only files you trust)."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of folds, permutations, bootstrap and models."),
    jobs: int = typer.Option(1, "--jobs", min=1, help="Folds fitted in parallel."),
    intersection: bool = typer.Option(
        False, "--intersection", help="Use only the samples in both files (the rest are reported)."
    ),
    id_column: str | None = typer.Option(None, "--id-column", help="Metadata column holding the sample IDs."),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help=TAXONOMY_HELP),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP),
    workers: int | None = typer.Option(None, "--workers", metavar="N", help=WORKERS_HELP),
) -> None:
    """Within-study repeated cross-validation of a classifier, with confounder report and controls."""
    with _guard():
        import os
        from contextlib import nullcontext

        from .._outputs import atomic_file, check_output_dir, check_output_file
        from ..classify import (
            DEFAULT_GRIDS,
            check_confounders,
            cross_validate,
            fit,
            within_strata,
        )
        from ..errors import InputError

        n_splits: int | str | None = "loo" if folds.lower() == "loo" else None
        if n_splits is None:
            try:
                n_splits = int(folds)
            except ValueError:
                raise InputError(f"--folds must be a number or 'loo', got {folds!r}", source="--folds") from None
        est = _model(model, filter_, cutoff, normalization, select, trees)
        inputs = [data, metadata]
        check_output_dir(out_dir, overwrite=overwrite, what="folder for the classification results", inputs=inputs)
        if save_model:
            real_out, real_model = Path(os.path.realpath(out_dir)), Path(os.path.realpath(save_model))
            if real_out == real_model or real_out in real_model.parents:
                raise InputError(
                    f"is inside the results folder {out_dir}, which the run replaces",
                    source=save_model,
                    hint="save the model outside it, e.g. --save-model model.pkl",
                )
            check_output_file(save_model, overwrite=overwrite, what="model file", example="model.pkl")
        steps = 3 + bool(save_model) + bool(within)
        with _progress(steps, "reading inputs") as advance:
            advance("reading inputs")
            adata, meta = _read(data, metadata, id_column, intersection, taxonomy)
            adata, y, meta = _labelled(adata, meta, label, case, control, intersection)
            g = None
            if groups is not None:
                if groups not in meta.columns:
                    raise InputError(
                        f"no column {groups!r} in the metadata", source=metadata, hint="give the --groups column"
                    )
                g = meta[groups]
            advance("cross-validating")
            # DEFAULT_GRIDS' values are all parameter grids (mypy infers object for their mixed lists)
            grid = cast("dict[str, list] | None", DEFAULT_GRIDS.get(model)) if tune else None
            with cluster(scheduler, workers) as client:
                res = cross_validate(
                    est,
                    adata,
                    y,
                    groups=g,
                    mixed_groups=mixed_groups,
                    n_splits=n_splits,
                    n_repeats=repeats,
                    param_grid=grid,
                    n_permutations=permutations,
                    random_state=seed,
                    n_jobs=jobs,
                    client=client,
                )
            extra_tables, extra_meta = {}, {}
            if confounders:
                rep = check_confounders(
                    meta,
                    y,
                    threshold=threshold,
                    exclude=[c for c in (groups,) if c] + [c for c in meta.columns if c == label],
                )
                extra_tables["confounders.tsv"] = rep.table
                extra_meta["confounders_flagged"] = rep.flagged
                if rep.flagged:
                    res.notes.append(
                        f"metadata column(s) {', '.join(rep.flagged)} alone predict the label with "
                        f"AUROC >= {threshold}: the classifier may have learned them (see confounders.tsv; "
                        "re-run with --within COLUMN)"
                    )
            if within:
                advance(f"cross-validating within {within}")
                if within not in meta.columns:
                    raise InputError(
                        f"no column {within!r} in the metadata", source=metadata, hint="give the --within column"
                    )
                n_within = n_splits if isinstance(n_splits, int) else 5
                extra_tables["within_strata.tsv"] = within_strata(
                    est,
                    adata,
                    y,
                    meta[within],
                    groups=g,
                    n_splits=n_within,
                    n_repeats=repeats,
                    random_state=seed,
                    mixed_groups=mixed_groups,
                    n_bootstrap=500,
                )
            if save_model:
                advance("training on all samples")
                trained = fit(est, adata, y, random_state=seed)
            advance("writing results")
            # the model file and the results folder are put in place together, or neither is
            with (
                atomic_file(save_model, overwrite=overwrite, what="model file") if save_model else nullcontext()
            ) as tmp:
                if tmp is not None:  # a model file is asked for (nullcontext yields None)
                    trained.save(tmp, overwrite=True)
                res.write(
                    out_dir,
                    report=report,
                    overwrite=overwrite,
                    extra_tables=extra_tables,
                    extra_meta=extra_meta,
                    inputs=inputs,
                )
        _print_summary(res, str(out_dir))
        if confounders and extra_meta.get("confounders_flagged"):
            _stdout().print(f"warning: flagged confounder(s): {', '.join(extra_meta['confounders_flagged'])}")
        if save_model:
            _stdout().print(f"model saved to {save_model}")


@classify_app.command("cross-study")
def cross_study_cmd(
    data: Path = typer.Argument(..., help=_DATA_HELP + " One table holding every study."),
    metadata: Path = typer.Argument(..., help="Sample metadata (TSV/CSV, one row per sample)."),
    label: str = typer.Option(..., "--label", help="Metadata column holding the condition."),
    case: str = typer.Option(..., "--case", help="Value(s) of --label that are cases (comma-separated)."),
    study: str = typer.Option(..., "--study", help="Metadata column naming each sample's study."),
    control: str | None = typer.Option(
        None, "--control", help="Value(s) that are controls (default: every other value)."
    ),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for the TSV/JSON files and report.html."),
    mode: str = typer.Option(
        "loso", "--mode", help="loso (leave one study out) or matrix (train x test, diagonal within-study CV)."
    ),
    model: str = typer.Option("lasso", "--model", help=_MODEL_HELP),
    filter_: str = typer.Option(
        "abundance", "--filter", help="abundance, cum.abundance, prevalence, variance or pass."
    ),
    cutoff: float = typer.Option(0.001, "--cutoff"),
    normalization: str = typer.Option("log.std", "--normalization"),
    trees: int | None = typer.Option(None, "--trees", help="Trees of rf/gb."),
    folds: int = typer.Option(10, "--folds", min=2, help="Folds of the within-study CV (matrix diagonal)."),
    repeats: int = typer.Option(10, "--repeats", min=1, help="Repeats of the within-study CV (matrix diagonal)."),
    seed: int = typer.Option(0, "--seed", min=0),
    intersection: bool = typer.Option(False, "--intersection", help="Use only the samples in both files."),
    id_column: str | None = typer.Option(None, "--id-column", help="Metadata column holding the sample IDs."),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help=TAXONOMY_HELP),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """Cross-study validation: leave-one-study-out or the train x test matrix."""
    with _guard():
        import pandas as pd

        from .._outputs import check_output_dir
        from ..classify import leave_one_study_out, study_matrix
        from ..errors import InputError

        if mode not in ("loso", "matrix"):
            raise InputError(f"unknown --mode {mode!r}", source="--mode", hint="use loso or matrix")
        est = _model(model, filter_, cutoff, normalization, None, trees)
        inputs = [data, metadata]
        check_output_dir(out_dir, overwrite=overwrite, what="folder for the cross-study results", inputs=inputs)
        with _progress(3, "reading inputs") as advance:
            advance("reading inputs")
            adata, meta = _read(data, metadata, id_column, intersection, taxonomy)
            adata, y, meta = _labelled(adata, meta, label, case, control, intersection)
            if study not in meta.columns:
                raise InputError(
                    f"no column {study!r} in the metadata", source=metadata, hint="give the --study column"
                )
            advance("validating across studies")
            if mode == "loso":
                res = leave_one_study_out(est, adata, y, meta[study], random_state=seed)
            else:
                res = study_matrix(est, adata, y, meta[study], n_splits=folds, n_repeats=repeats, random_state=seed)
            advance("writing results")
            res.write(out_dir, report=report, overwrite=overwrite, inputs=inputs)
        out = _stdout()
        out.print(res.scheme["description"])
        for _, r in res.table.iterrows():
            auc = r.get("auroc")
            txt = (
                "NA"
                if auc is None or pd.isna(auc)
                else f"{auc:.3f} [{r['auroc_ci_low']:.3f}, {r['auroc_ci_high']:.3f}]"
            )
            out.print(
                f"  {r['scheme']}: train {r['train']} -> test {r['test']}: AUROC {txt}"
                + (
                    f" ({r['note']})"
                    if isinstance(r.get("note"), str) and r["note"] and r["scheme"] != "within-study"
                    else ""
                )
            )
        out.print(f"results in {out_dir}")


@classify_app.command("confounders")
def confounders_cmd(
    metadata: Path = typer.Argument(..., help="Sample metadata (TSV/CSV, one row per sample)."),
    label: str = typer.Option(..., "--label", help="Metadata column holding the condition."),
    case: str = typer.Option(..., "--case", help="Value(s) of --label that are cases (comma-separated)."),
    control: str | None = typer.Option(None, "--control", help="Value(s) that are controls."),
    out: Path = typer.Option(..., "-o", "--out", help="TSV file to write."),
    threshold: float = typer.Option(0.75, "--threshold", help="Flag columns at this AUROC or above."),
    columns: str | None = typer.Option(None, "--columns", help="Columns to check (comma-separated; default all)."),
    id_column: str | None = typer.Option(None, "--id-column", help="Metadata column holding the sample IDs."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file."),
) -> None:
    """How well each metadata column alone predicts the label (AUROC), flagged above a threshold."""
    with _guard():
        import pandas as pd

        from .._outputs import check_output_file
        from ..classify import check_confounders, labels_from_metadata
        from ..io import read_metadata

        check_output_file(out, overwrite=overwrite, what="confounder table")
        meta = read_metadata(metadata, id_column=id_column)
        y = labels_from_metadata(meta, label, case=_split(case), control=_split(control))
        cols = [c.strip() for c in columns.split(",")] if columns else None
        rep = check_confounders(meta.loc[y.index], y, columns=cols, threshold=threshold)
        rep.write(out, overwrite=overwrite)
        o = _stdout()
        for _, r in rep.table.iterrows():
            auc = r["auroc"]
            o.print(
                f"  {r['column']}: AUROC {'NA' if pd.isna(auc) else f'{auc:.3f}'}{'  FLAGGED' if r['flagged'] else ''}"
                + (f" ({r['note']})" if isinstance(r["note"], str) and r["note"] else "")
            )
        o.print(f"flagged at AUROC >= {threshold}: {', '.join(rep.flagged) or 'none'}; table in {out}")


@classify_app.command("predict")
def predict_cmd(
    model_file: Path = typer.Argument(
        ..., help="Model saved by `gutaxis classify cv --save-model` (load only files you trust)."
    ),
    data: Path = typer.Argument(..., help=_DATA_HELP),
    out: Path = typer.Option(..., "-o", "--out", help="TSV file of predictions to write."),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help=TAXONOMY_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file."),
) -> None:
    """Apply a saved model to a new table (frozen normalisation; missing features filled with 0 and reported)."""
    with _guard():
        from .._outputs import check_output_file
        from ..classify import load_model
        from ..io import read_profile

        check_output_file(out, overwrite=overwrite, what="predictions file")
        model = load_model(model_file)
        adata = read_profile(data, taxonomy=taxonomy)
        pred = model.predict(adata, name=str(data))
        pred.write(out, overwrite=overwrite)
        o = _stdout()
        for note in pred.notes:
            o.print(f"note: {note}")
        n_case = int((pred.table["predicted"] == model.classes[1]).sum())
        o.print(f"{len(pred.table)} sample(s) scored, {n_case} predicted {model.classes[1]}; predictions in {out}")
