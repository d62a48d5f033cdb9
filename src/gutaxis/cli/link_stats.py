"""Commands of the *link* capability for community-level statistics: ``permanova`` and ``meta``.

A thin face over :func:`gutaxis.link.permanova.permanova` and :mod:`gutaxis.link.meta`.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from ._app import OVERWRITE_HELP, app
from ._app import guard as _guard
from ._app import stderr as _stderr
from ._app import stdout as _stdout
from ._inputs import ID_COLUMN_HELP, INTERSECTION_HELP, load_profile


@contextmanager
def _permutation_bar(total: int, description: str):
    """A rich progress bar on stderr; yields ``update(done, total)`` (the API's progress callback)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = _stderr()
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal)
    task = progress.add_task(description, total=max(total, 1))

    def update(done: int, of: int) -> None:
        progress.update(task, completed=done, total=max(of, 1))

    with progress:
        yield update


def _fmt(value, digits: int = 6) -> str:
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


@app.command("permanova")
def permanova_cmd(
    profile: Path = typer.Argument(..., help="Profile file: MetaPhlAn, BIOM, QIIME 2 .qza, CSV/TSV or .h5ad."),
    metadata: Path = typer.Option(..., "--metadata", "-m", help="Sample metadata (CSV/TSV), one row per sample."),
    formula: str = typer.Option(..., "--formula", help="Terms, e.g. '~ Phenotype' or '~ diagnosis + age'."),
    out: Path = typer.Option(..., "-o", "--out", help="TSV file for the PERMANOVA table."),
    metric: str = typer.Option("braycurtis", "--metric", help="Distance: braycurtis or jaccard."),
    permutations: int = typer.Option(999, "--permutations", min=0, help="Number of permutations."),
    strata: Optional[str] = typer.Option(None, "--strata", help="Metadata column of blocks (e.g. subject, for "
                                                                "repeated measures); --permute says how they "
                                                                "restrict the permutations."),
    permute: str = typer.Option("within", "--permute",
                                help="With --strata: 'within' exchanges samples only within their block (vegan "
                                     "how(blocks=)), for terms that vary within blocks (time, treatment); "
                                     "'whole' exchanges whole blocks, samples within a block kept together "
                                     "(vegan how(plots=Plots(strata=, type='free'), within=Within('none'))), "
                                     "for terms constant within blocks such as a subject's diagnosis; blocks "
                                     "of unequal size are allowed."),
    by: str = typer.Option("terms", "--by", help="terms (sequential) or margin (each term given all others)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (same seed, same p-values)."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Input format; detected when omitted."),
    orientation: Optional[str] = typer.Option(None, "--orientation",
                                              help="Plain tables: samples-as-rows or samples-as-columns."),
    intersection: bool = typer.Option(False, "--intersection", help=INTERSECTION_HELP),
    id_column: Optional[str] = typer.Option(None, "--id-column", help=ID_COLUMN_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT (and OUT.json) if they exist (default: "
                                                              "refuse, so an earlier run's table is never replaced "
                                                              "by mistake)."),
) -> None:
    """PERMANOVA (vegan adonis2) of a distance between samples against metadata terms."""
    with _guard():
        import json

        from .._outputs import atomic_file, check_output_file
        from .._provenance import record as provenance_record
        from ..link.permanova import permanova

        side = out.with_name(out.name + ".json")
        for path, what in ((out, "PERMANOVA table"), (side, "PERMANOVA record (OUT.json)")):
            check_output_file(path, overwrite=overwrite, what=what)  # before any work
        adata = load_profile(profile, metadata=metadata, id_column=id_column, format=format, orientation=orientation,
                             intersection=intersection)
        with _permutation_bar(permutations, f"{permutations} permutations") as update:
            table = permanova(adata, adata.obs, formula, by=by, permutations=permutations, strata=strata,
                              permute=permute, seed=seed, metric=metric, progress=update)
        params = table.attrs["params"]
        record = provenance_record("gutaxis permanova", params=params, adata=adata,
                                   n_samples=table.attrs["n_samples"])
        # both files or neither: each is written beside its target and renamed into place at the end
        with atomic_file(out, overwrite=overwrite, what="PERMANOVA table") as tmp_table, \
                atomic_file(side, overwrite=overwrite, what="PERMANOVA record (OUT.json)") as tmp_side:
            table.to_csv(tmp_table, sep="\t", float_format="%.15g")
            tmp_side.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
        con = _stdout()
        scheme = ""
        if params.get("strata") is not None:
            scheme = (f", whole blocks of {params['strata']} exchanged" if params.get("permute") == "whole"
                      else f", within blocks of {params['strata']}")
            if params.get("complete_enumeration"):
                scheme += ": all block permutations (exact p)"
        con.print(f"PERMANOVA {params['formula']} ({metric}, {table.attrs['n_samples']} samples, "
                  f"{params['permutations']} permutations{scheme}, seed {params['seed']})")
        con.print("term\tDf\tSumOfSqs\tR2\tF\tp")
        for term, row in table.iterrows():
            con.print("\t".join([str(term), str(int(row["Df"])), _fmt(row["SumOfSqs"]), _fmt(row["R2"]),
                                 _fmt(row["F"]), _fmt(row["p"], 4)]))
        con.print(f"written to {out} (parameters and input checksums in {side})")


@app.command("meta")
def meta_cmd(
    input: Path = typer.Argument(..., help="Effects TSV (columns feature, study, effect, se or variance), or a "
                                           "profile when --metadata is given."),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for meta_analysis.tsv, study_effects.tsv and "
                                                          "forest plots."),
    method: str = typer.Option("REML", "--method", help="tau^2 estimator: REML or DL."),
    metadata: Optional[Path] = typer.Option(None, "--metadata", "-m",
                                            help="Sample metadata: INPUT is then a profile and per-study "
                                                 "case/control effects are computed first."),
    study: Optional[str] = typer.Option(None, "--study", help="Metadata column naming each sample's study."),
    label: Optional[str] = typer.Option(None, "--label", help="Metadata column with the case/control label."),
    case: Optional[str] = typer.Option(None, "--case", help="Label value of cases."),
    control: Optional[str] = typer.Option(None, "--control", help="Label value of controls (default: all others)."),
    effect: str = typer.Option("smd", "--effect", help="Per-study effect: smd (Hedges' g) or lm (mean difference)."),
    plots: int = typer.Option(10, "--plots", min=0, help="Forest plots (SVG) for this many features, lowest p first."),
    feature: Optional[list[str]] = typer.Option(None, "--feature", help="Also plot this feature (repeatable)."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Profile format; detected when omitted."),
    intersection: bool = typer.Option(False, "--intersection", help=INTERSECTION_HELP),
    id_column: Optional[str] = typer.Option(None, "--id-column", help=ID_COLUMN_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """Random-effects meta-analysis across studies (metafor rma: REML or DerSimonian-Laird) with forest plots."""
    with _guard():
        import json

        import numpy as np
        import pandas as pd

        from .. import __version__
        from .._outputs import atomic_dir, check_output_dir
        from ..errors import InputError
        from ..link import meta as meta_mod

        what = "folder for the meta-analysis"
        inputs = [input, metadata]
        if metadata is None and (intersection or id_column is not None):
            raise InputError("--intersection and --id-column need --metadata (INPUT is then a profile)",
                             source="gutaxis meta", hint="leave them out when INPUT is an effects table")
        if metadata is not None:  # options, then the output folder: before any work
            lacking = [f"--{n}" for n, v in (("study", study), ("label", label), ("case", case)) if v is None]
            if lacking:
                raise InputError(f"{', '.join(lacking)} needed with --metadata", source="gutaxis meta",
                                 hint="e.g. --study study_name --label disease --case CD")
        check_output_dir(out_dir, overwrite=overwrite, what=what, inputs=inputs)
        if metadata is not None:
            adata = load_profile(input, metadata=metadata, id_column=id_column, format=format,
                                 intersection=intersection)
            result = meta_mod.per_study_associations(adata, study=study, label=label, case=case, control=control,
                                                     effect=effect, method=method)
            effect_label = "Hedges' g (cases - controls)" if effect == "smd" else "difference in mean log10 abundance"
        else:
            effects, ses = meta_mod.read_effects(input)
            result = meta_mod.meta_analysis(effects, ses, method=method)
            effect_label = "effect"
        table = result.table.sort_values("p", na_position="last")
        wanted = list(table.index[np.isfinite(table["p"].to_numpy())][:plots])
        for f in feature or []:
            if f not in result.table.index:
                raise InputError(f"unknown feature {f!r}", source="gutaxis meta --feature",
                                 hint=f"features are e.g. {', '.join(map(repr, list(result.table.index[:3])))}")
            if f not in wanted:
                wanted.append(f)
        written = []
        # all files or none: written into a temporary folder that replaces OUT at the end
        with atomic_dir(out_dir, overwrite=overwrite, what=what, inputs=inputs) as tmp:
            table.to_csv(tmp / "meta_analysis.tsv", sep="\t", float_format="%.10g")
            long = pd.DataFrame({"effect": result.effects.stack(), "se": result.std_errors.stack(),
                                 "weight_percent": result.weights.stack()})
            long.index.names = ["feature", "study"]
            long.to_csv(tmp / "study_effects.tsv", sep="\t", float_format="%.10g")
            if result.studies is not None:
                result.studies.to_csv(tmp / "studies.tsv", sep="\t")
            record = {"command": "gutaxis meta", "gutaxis_version": __version__, "input": str(input),
                      "metadata": None if metadata is None else str(metadata), "params": result.params}
            (tmp / "meta_analysis.json").write_text(json.dumps(record, indent=2, default=str) + "\n",
                                                    encoding="utf-8")
            for f in wanted:
                name = f"{meta_mod.safe_filename(f)}.svg"
                meta_mod.forest_plot(result, f, path=tmp / "forest" / name, effect_label=effect_label)
                written.append(out_dir / "forest" / name)
        con = _stdout()
        n_sig = int((result.table["q"] < 0.05).sum())
        con.print(f"meta-analysis ({result.method}) of {len(result.table)} feature(s) across "
                  f"{result.effects.shape[1]} studies: {n_sig} with q < 0.05")
        con.print(f"written to {out_dir / 'meta_analysis.tsv'}, {out_dir / 'study_effects.tsv'} and "
                  f"{len(written)} forest plot(s) in {out_dir / 'forest'}")
