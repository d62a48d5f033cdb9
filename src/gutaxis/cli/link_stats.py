"""Commands of the *link* capability for community-level statistics: ``permanova`` and ``meta``.

A thin face over :func:`gutaxis.link.permanova.permanova` and :mod:`gutaxis.link.meta`.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import typer

from ._app import OVERWRITE_HELP, app
from ._app import guard as _guard
from ._app import stderr as _stderr
from ._app import stdout as _stdout
from ._inputs import ID_COLUMN_HELP, INTERSECTION_HELP, TAXONOMY_HELP, load_profile
from ._scale import SCHEDULER_HELP, WORKERS_HELP, cluster


@contextmanager
def _permutation_bar(total: int, description: str):
    """A rich progress bar on stderr; yields ``update(done, total)`` (the API's progress callback)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = _stderr()
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
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
    strata: str | None = typer.Option(
        None,
        "--strata",
        help="Metadata column of blocks (e.g. subject, for "
        "repeated measures); --permute says how they "
        "restrict the permutations.",
    ),
    permute: str = typer.Option(
        "within",
        "--permute",
        help="With --strata: 'within' exchanges samples only within their block (vegan "
        "how(blocks=)), for terms that vary within blocks (time, treatment); "
        "'whole' exchanges whole blocks, samples within a block kept together "
        "(vegan how(plots=Plots(strata=, type='free'), within=Within('none'))), "
        "for terms constant within blocks such as a subject's diagnosis; blocks "
        "of unequal size are allowed.",
    ),
    by: str = typer.Option("terms", "--by", help="terms (sequential) or margin (each term given all others)."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (same seed, same p-values)."),
    format: str | None = typer.Option(None, "--format", "-f", help="Input format; detected when omitted."),
    orientation: str | None = typer.Option(
        None, "--orientation", help="Plain tables: samples-as-rows or samples-as-columns."
    ),
    intersection: bool = typer.Option(False, "--intersection", help=INTERSECTION_HELP),
    id_column: str | None = typer.Option(None, "--id-column", help=ID_COLUMN_HELP),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help=TAXONOMY_HELP),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Replace OUT (and OUT.json) if they exist (default: "
        "refuse, so an earlier run's table is never replaced "
        "by mistake).",
    ),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP),
    workers: int | None = typer.Option(None, "--workers", metavar="N", help=WORKERS_HELP),
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
        adata = load_profile(
            profile,
            metadata=metadata,
            id_column=id_column,
            format=format,
            orientation=orientation,
            intersection=intersection,
            taxonomy=taxonomy,
        )
        with (
            cluster(scheduler, workers) as client,
            _permutation_bar(permutations, f"{permutations} permutations") as update,
        ):
            table = permanova(
                adata,
                adata.obs,
                formula,
                by=by,
                permutations=permutations,
                strata=strata,
                permute=permute,
                seed=seed,
                metric=metric,
                progress=update,
                client=client,
            )
        params = table.attrs["params"]
        record = provenance_record("gutaxis permanova", params=params, adata=adata, n_samples=table.attrs["n_samples"])
        # both files or neither: each is written beside its target and renamed into place at the end
        with (
            atomic_file(out, overwrite=overwrite, what="PERMANOVA table") as tmp_table,
            atomic_file(side, overwrite=overwrite, what="PERMANOVA record (OUT.json)") as tmp_side,
        ):
            table.to_csv(tmp_table, sep="\t", float_format="%.15g")
            tmp_side.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
        con = _stdout()
        scheme = ""
        if params.get("strata") is not None:
            scheme = (
                f", whole blocks of {params['strata']} exchanged"
                if params.get("permute") == "whole"
                else f", within blocks of {params['strata']}"
            )
            if params.get("complete_enumeration"):
                scheme += ": all block permutations (exact p)"
        con.print(
            f"PERMANOVA {params['formula']} ({metric}, {table.attrs['n_samples']} samples, "
            f"{params['permutations']} permutations{scheme}, seed {params['seed']})"
        )
        con.print("term\tDf\tSumOfSqs\tR2\tF\tp")
        for term, row in table.iterrows():
            con.print(
                "\t".join(
                    [
                        str(term),
                        str(int(row["Df"])),
                        _fmt(row["SumOfSqs"]),
                        _fmt(row["R2"]),
                        _fmt(row["F"]),
                        _fmt(row["p"], 4),
                    ]
                )
            )
        con.print(f"written to {out} (parameters and input checksums in {side})")


def _studies_named(study: list[str]) -> tuple[dict[str, Path], list[str]]:
    """``--study NAME=PATH`` entries (associate outputs) and the other ``--study`` values (a column)."""
    from ..errors import InputError

    named: dict[str, Path] = {}
    columns = []
    for item in study:
        if "=" in item:
            name, _, path = item.partition("=")
            if not name.strip() or not path.strip():
                raise InputError(
                    f"--study {item!r} is not NAME=PATH",
                    source="gutaxis meta",
                    hint="e.g. --study Gevers=gevers_out/ (an associate output folder)",
                )
            if name.strip() in named:
                raise InputError(
                    f"--study names {name.strip()!r} twice", source="gutaxis meta", hint="give each study its own name"
                )
            named[name.strip()] = Path(path.strip())
        else:
            columns.append(item)
    return named, columns


def _pairs(text: list[str], option: str) -> dict[str, str]:
    from ..errors import InputError

    out = {}
    for item in text:
        old, sep, new = item.partition("=")
        if not sep or not old:
            raise InputError(
                f"{option} {item!r} is not OLD=NEW", source="gutaxis meta", hint=f"e.g. {option} Healthy=no"
            )
        out[old] = new
    return out


def _is_effects_table(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            first = handle.readline(1 << 16).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return False
    cols = {c.strip().lower() for c in first.replace(",", "\t").split("\t")}
    return {"feature", "study", "effect"} <= cols


@app.command("meta")
def meta_cmd(
    inputs: list[Path] | None = typer.Argument(
        None,
        help="One effects TSV (columns feature, study, effect, se or variance); or a profile (with "
        "--metadata, or an .h5ad whose obs holds the columns); or several gutaxis associate outputs "
        "(folders or their all_results.tsv), one per study, named after their folders.",
    ),
    out_dir: Path = typer.Option(
        ...,
        "-o",
        "--out",
        help="Folder for meta_analysis.tsv, single_study.tsv, "
        "study_effects.tsv, meta_analysis.json, forest plots "
        "and report.html.",
    ),
    method: str = typer.Option("REML", "--method", help="tau^2 estimator: REML or DL."),
    min_studies: int = typer.Option(
        2,
        "--min-studies",
        min=1,
        help="Pool a feature only when this many studies estimate it; the others "
        "get no pooled estimate, p or q, are left out of the BH correction "
        "and are listed in single_study.tsv.",
    ),
    metadata: Path | None = typer.Option(
        None,
        "--metadata",
        "-m",
        help="Sample metadata: INPUT is then a profile and per-study case/control effects are computed first.",
    ),
    study: list[str] | None = typer.Option(
        None,
        "--study",
        help="NAME=PATH: an associate output (folder or all_results.tsv) "
        "and its study name (repeat per study). For a profile: the "
        "metadata column naming each sample's study.",
    ),
    value_map: list[str] | None = typer.Option(
        None,
        "--value-map",
        help="OLD=NEW: associate outputs name a level differently in "
        "different studies (Healthy in one, no in another): "
        "rename it before pooling (repeatable).",
    ),
    label: str | None = typer.Option(None, "--label", help="Metadata column with the case/control label."),
    case: str | None = typer.Option(None, "--case", help="Label value of cases."),
    control: str | None = typer.Option(None, "--control", help="Label value of controls (default: all others)."),
    effect: str = typer.Option("smd", "--effect", help="Per-study effect: smd (Hedges' g) or lm (mean difference)."),
    plots: int = typer.Option(
        10,
        "--plots",
        min=0,
        help="Forest plots (SVG, and in the report) for this many pooled features, lowest q first.",
    ),
    feature: list[str] | None = typer.Option(None, "--feature", help="Also plot this feature (repeatable)."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html."),
    format: str | None = typer.Option(None, "--format", "-f", help="Profile format; detected when omitted."),
    intersection: bool = typer.Option(False, "--intersection", help=INTERSECTION_HELP),
    id_column: str | None = typer.Option(None, "--id-column", help=ID_COLUMN_HELP),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help=TAXONOMY_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """Random-effects meta-analysis across studies (metafor rma: REML or DerSimonian-Laird) with forest plots
    and an HTML report: from effects, from a profile of several studies, or from associate outputs."""
    with _guard():
        from .._outputs import atomic_dir, check_output_dir
        from .._provenance import record as provenance_record
        from ..errors import InputError
        from ..link import meta as meta_mod
        from ..link.meta_associate import is_associate_output

        source = "gutaxis meta"
        what = "folder for the meta-analysis"
        inputs = list(inputs or [])
        named, columns = _studies_named(list(study or []))
        values = _pairs(list(value_map or []), "--value-map")
        associate_mode = bool(named) or any(is_associate_output(p) for p in inputs)
        if associate_mode:
            for path in inputs:
                if not is_associate_output(path):
                    raise InputError(
                        "not a gutaxis associate output (a folder with all_results.tsv, or that file)",
                        source=path,
                        hint="give only associate outputs, one per study",
                    )
            for name, path in named.items():
                if not is_associate_output(path):
                    raise InputError(
                        f"--study {name}={path}: not a gutaxis associate output",
                        source=path,
                        hint="give the folder gutaxis associate wrote, or its all_results.tsv",
                    )
            extra = [
                ("--metadata", metadata),
                ("--study COLUMN", columns or None),
                ("--label", label),
                ("--case", case),
                ("--control", control),
                ("--format", format),
            ]
            given = (
                [n for n, v in extra if v]
                + (["--intersection"] if intersection else [])
                + (["--id-column"] if id_column else [])
            )
            if given:
                raise InputError(
                    f"{', '.join(given)} apply to a profile, not to associate outputs",
                    source=source,
                    hint="leave them out; the studies' effects are the outputs' coef and stderr",
                )
        else:
            if len(inputs) != 1:
                raise InputError(
                    f"{len(inputs)} inputs given: one effects table or profile, or several associate outputs",
                    source=source,
                    hint="gutaxis meta gevers_out/ sokol_out/ -o meta_out",
                )
            if values:
                raise InputError("--value-map applies to associate outputs", source=source)
            if len(columns) > 1:
                raise InputError(
                    f"--study given {len(columns)} times for a profile",
                    source=source,
                    hint="name the one metadata column of the study (NAME=PATH is for associate outputs)",
                )
        profile_mode = not associate_mode and (metadata is not None or not _is_effects_table(inputs[0]))
        if not associate_mode and not profile_mode and (intersection or id_column is not None):
            raise InputError(
                "--intersection and --id-column need --metadata (INPUT is then a profile)",
                source=source,
                hint="leave them out when INPUT is an effects table",
            )
        study_col = columns[0] if columns else None
        if profile_mode:  # options, then the output folder: before any work
            lacking = [f"--{n}" for n, v in (("study", study_col), ("label", label), ("case", case)) if v is None]
            if lacking:
                raise InputError(
                    f"{', '.join(lacking)} needed with {'--metadata' if metadata else 'a profile'}",
                    source=source,
                    hint="e.g. --study study_name --label disease --case CD (an effects table needs "
                    "columns feature, study, effect and se; associate outputs are folders)",
                )
        files = [*inputs, *named.values()]
        guard_inputs = [(p / "all_results.tsv") if p.is_dir() else p for p in files] + [metadata]
        check_output_dir(out_dir, overwrite=overwrite, what=what, inputs=guard_inputs)
        adata, record_inputs = None, {}
        if associate_mode:
            studies_in = {**{(p if p.is_dir() else p.parent).resolve().name: p for p in inputs}, **named}
            if len(studies_in) != len(inputs) + len(named):
                raise InputError(
                    "two studies have the same name (named after their folders)",
                    source=source,
                    hint="name them: --study NAME=PATH for each",
                )
            result = meta_mod.meta_analysis(studies_in, method=method, min_studies=min_studies, value_map=values)
            effect_label = "associate coefficient"
        elif profile_mode:
            assert study_col is not None and label is not None  # refused above when missing
            adata = load_profile(
                inputs[0],
                metadata=metadata,
                id_column=id_column,
                format=format,
                intersection=intersection,
                taxonomy=taxonomy,
            )
            result = meta_mod.per_study_associations(
                adata,
                study=study_col,
                label=label,
                case=case,
                control=control,
                effect=effect,
                method=method,
                min_studies=min_studies,
            )
            effect_label = "Hedges' g (cases - controls)" if effect == "smd" else "difference in mean log10 abundance"
        else:
            effects, ses = meta_mod.read_effects(inputs[0])
            result = meta_mod.meta_analysis(effects, ses, method=method, min_studies=min_studies)
            effect_label = "effect"
            record_inputs = {"effects": inputs[0]}
        from ..link.meta_forest import feature_key
        from ..report.meta import ranked, write_meta_report

        table = ranked(result)
        wanted = list(table.index[:plots])
        for f in feature or []:
            key = feature_key(result.table, f)
            if key not in wanted:
                wanted.append(key)
        prov = provenance_record(
            source, params=result.params, adata=adata, inputs=record_inputs, studies=result.inputs or None
        )
        written = []
        # all files or none: written into a temporary folder that replaces OUT at the end
        with atomic_dir(out_dir, overwrite=overwrite, what=what, inputs=guard_inputs) as tmp:
            _write_tables(result, table, tmp)
            (tmp / "meta_analysis.json").write_text(json.dumps(prov, indent=2, default=str) + "\n", encoding="utf-8")
            for f in wanted:
                name = f"{meta_mod.safe_filename(f)}.svg"
                meta_mod.forest_plot(result, f, path=tmp / "forest" / name, effect_label=effect_label)
                written.append(out_dir / "forest" / name)
            if report:
                write_meta_report(
                    result,
                    tmp / "report.html",
                    provenance=prov,
                    plots=plots,
                    effect_label=effect_label,
                    extra=[k for k in wanted if k not in table.index[:plots]],
                )
        con = _stdout()
        n_sig = int((result.table["q"] < 0.05).sum())
        n_pooled, n_few = len(result.pooled), len(result.single_study)
        con.print(
            f"meta-analysis ({result.method}) across {result.effects.shape[1]} studies: {n_pooled} feature(s) "
            f"pooled, {n_sig} with q < 0.05; {n_few} in fewer than {min_studies} studies not pooled "
            f"(single_study.tsv)"
        )
        con.print(
            f"written to {out_dir} (meta_analysis.tsv, single_study.tsv, study_effects.tsv, meta_analysis.json"
            f"{', report.html' if report else ''}) and {len(written)} forest plot(s) in {out_dir / 'forest'}"
        )


def _write_tables(result, table, tmp: Path) -> None:
    import pandas as pd

    table.to_csv(tmp / "meta_analysis.tsv", sep="\t", float_format="%.10g")
    result.single_study.to_csv(tmp / "single_study.tsv", sep="\t", float_format="%.10g")
    long = pd.DataFrame(
        {
            "effect": result.effects.stack(future_stack=True),
            "se": result.std_errors.stack(future_stack=True),
            "weight_percent": result.weights.stack(future_stack=True),
        }
    )
    long = long[long["effect"].notna()]
    long.to_csv(tmp / "study_effects.tsv", sep="\t", float_format="%.10g")
    if result.studies is not None:
        result.studies.to_csv(tmp / "studies.tsv", sep="\t")
    elif result.inputs:
        rows = [
            {
                "study": r["study"],
                "all_results": (r.get("all_results") or {}).get("path"),
                "all_results_sha256": (r.get("all_results") or {}).get("sha256"),
                "params_json_sha256": (r.get("params_json") or {}).get("sha256"),
                "rows": r.get("rows"),
                "estimates": r.get("estimates"),
            }
            for r in result.inputs
        ]
        pd.DataFrame(rows).to_csv(tmp / "studies.tsv", sep="\t", index=False)
