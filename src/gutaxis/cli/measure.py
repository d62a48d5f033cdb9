"""Commands of the *measure* capability: ``demo``, ``report``, ``reference``, ``datasets``."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import OVERWRITE_HELP, app, datasets_app
from ._app import guard as _guard
from ._app import progress as _progress
from ._app import stderr as _stderr
from ._app import stdout as _stdout
from ._inputs import ID_COLUMN_HELP, INTERSECTION_HELP, TAXONOMY_HELP, load_profile


def _report_steps() -> int:
    from ..report.html import _STEPS

    return len(_STEPS)


# the files `write_report` can write: a folder holding only these (and a synthetic summary.json)
# is an earlier demo report, which `gutaxis demo` replaces without --overwrite
_REPORT_FILES = frozenset({"report.html", "indices.tsv", "percentiles.tsv", "panels.tsv", "pcoa.tsv", "summary.json"})


def _print_written(out_dir: Path, files: list[str]) -> None:
    """The report and the other files of this run (never files of an earlier run: the folder is new)."""
    out = _stdout()
    out.print(f"report written to {out_dir / 'report.html'}")
    for f in sorted(files):
        if f != "report.html":
            out.print(f"  {out_dir / f}")


def _earlier_demo(path: Path) -> bool:
    """Whether ``path`` holds just a report of gutaxis's synthetic demo cohort (from `gutaxis demo`)."""
    import json

    try:
        entries = list(path.iterdir()) if path.is_dir() else []
        if not entries or any(not p.is_file() or p.name not in _REPORT_FILES for p in entries):
            return False
        summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and summary.get("synthetic") is True


def _write_report_atomically(adata, out_dir: Path, *, overwrite: bool, inputs=(), **kw) -> list[str]:
    """`write_report` into a hidden folder beside ``out_dir``, renamed into place when complete."""
    from .._outputs import atomic_dir
    from ..report import write_report

    with atomic_dir(out_dir, overwrite=overwrite, what="report folder", inputs=inputs) as tmp:
        write_report(adata, tmp, **kw)
        return sorted(p.name for p in tmp.iterdir())


@app.command()
def demo(
    out_dir: Path = typer.Option(
        Path("gutaxis-demo"),
        "-o",
        "--out",
        help="Folder for the report and its files (an earlier demo report there is replaced).",
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the synthetic cohort (same seed, same cohort)."),
    n_healthy: int = typer.Option(40, "--n-healthy", min=0, help="Synthetic healthy samples."),
    n_dysbiotic: int = typer.Option(40, "--n-dysbiotic", min=0, help="Synthetic dysbiotic samples."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """Write a report for a built-in SYNTHETIC demo cohort (offline; invented data, not real people).

    Run again, it replaces its own earlier demo report in the folder; a folder holding anything
    else needs --overwrite.
    """
    with _guard():
        from .._outputs import check_output_dir
        from ..demo import demo_cohort

        overwrite = overwrite or _earlier_demo(out_dir)
        check_output_dir(out_dir, overwrite=overwrite, what="report folder")
        with _progress(_report_steps() + 1, "generating the synthetic cohort") as advance:
            advance("generating the synthetic cohort")
            cohort = demo_cohort(n_healthy=n_healthy, n_dysbiotic=n_dysbiotic, seed=seed)
            files = _write_report_atomically(cohort, out_dir, overwrite=overwrite, progress=advance)
        _print_written(out_dir, files)


@app.command()
def report(
    profile: Path = typer.Argument(..., help="Profile file: MetaPhlAn, BIOM, QIIME 2 .qza, CSV/TSV or .h5ad."),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for the report and its files."),
    metadata: Path | None = typer.Option(
        None, "--metadata", "-m", help="Sample metadata (CSV/TSV) to join by sample ID."
    ),
    reference: Path | None = typer.Option(
        None, "--reference", "-r", help="Healthy reference JSON (from `gutaxis reference` or build_reference)."
    ),
    format: str | None = typer.Option(
        None, "--format", "-f", help="Input format (metaphlan, biom, qza, table, h5ad); detected when omitted."
    ),
    orientation: str | None = typer.Option(
        None, "--orientation", help="Plain tables: samples-as-rows or samples-as-columns."
    ),
    group_column: str | None = typer.Option(
        None, "--group-column", "-g", help="Metadata column that groups a cohort, e.g. Phenotype."
    ),
    sample: str | None = typer.Option(None, "--sample", help="Report on this one sample of the profile."),
    groups: list[str] | None = typer.Option(
        None,
        "--groups",
        help="Keep only these groups of the group column: names separated by commas "
        '(--groups "Healthy (N-1),RA"; \\, for a comma inside a name), or the option repeated.',
    ),
    title: str | None = typer.Option(None, "--title", help="Report title."),
    intersection: bool = typer.Option(False, "--intersection", help=INTERSECTION_HELP),
    id_column: str | None = typer.Option(None, "--id-column", help=ID_COLUMN_HELP),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help=TAXONOMY_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """Write a gut-health report (HTML + TSV/JSON) for one sample or a cohort.

    The folder is written whole or not at all: an interrupted or failed run leaves the earlier
    output as it was. A folder that already holds files needs --overwrite.
    """
    with _guard():
        from .._outputs import check_output_dir

        inputs = [profile, metadata, reference, taxonomy]
        check_output_dir(out_dir, overwrite=overwrite, what="report folder", inputs=inputs)
        with _progress(_report_steps() + 1, "reading the profile") as advance:
            advance("reading the profile")
            adata = load_profile(
                profile,
                metadata=metadata,
                id_column=id_column,
                format=format,
                orientation=orientation,
                intersection=intersection,
                taxonomy=taxonomy,
            )
            files = _write_report_atomically(
                adata,
                out_dir,
                overwrite=overwrite,
                inputs=inputs,
                reference=reference,
                group=group_column,
                title=title,
                sample=sample,
                groups=groups,
                progress=advance,
            )
        _print_written(out_dir, files)


@app.command("reference")
def reference_cmd(
    profile: Path | None = typer.Argument(
        None, help="Profile of a cohort with healthy people labelled in its metadata (leave out with --from-dataset)."
    ),
    out: Path = typer.Option(..., "-o", "--out", help="JSON file to write."),
    healthy: str | None = typer.Option(
        None, "--healthy", help="Which samples are healthy: COLUMN=VALUE, e.g. Phenotype=Healthy."
    ),
    from_dataset: str | None = typer.Option(
        None,
        "--from-dataset",
        help="Build the reference from a public healthy cohort of the dataset registry "
        "(gmhi2020_validation: MetaPhlAn2, 118 healthy samples); downloaded once, "
        "or installed with `gutaxis datasets fetch NAME --from FOLDER`.",
    ),
    cache: Path | None = typer.Option(
        None,
        "--cache",
        help="With --from-dataset: the dataset cache folder (default: $GUTAXIS_DATA_DIR or the user cache).",
    ),
    profiler: str | None = typer.Option(
        None,
        "--profiler",
        help="The profiler of the cohort, e.g. 'MetaPhlAn 2' (default: read from the profile, else unknown).",
    ),
    metadata: Path | None = typer.Option(
        None, "--metadata", "-m", help="Sample metadata (CSV/TSV) to join by sample ID."
    ),
    format: str | None = typer.Option(None, "--format", "-f", help="Input format; detected when omitted."),
    orientation: str | None = typer.Option(
        None, "--orientation", help="Plain tables: samples-as-rows or samples-as-columns."
    ),
    intersection: bool = typer.Option(False, "--intersection", help=INTERSECTION_HELP),
    id_column: str | None = typer.Option(None, "--id-column", help=ID_COLUMN_HELP),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help=TAXONOMY_HELP),
) -> None:
    """Build a healthy reference (JSON) from the healthy samples of a labelled cohort, or from a public
    healthy cohort (--from-dataset gmhi2020_validation)."""
    with _guard():
        import os

        from .._outputs import atomic_file, check_output_file
        from ..errors import InputError
        from ..measure.reference import build_reference

        if from_dataset is not None:
            given = [
                o
                for o, v in (
                    ("PROFILE", profile),
                    ("--healthy", healthy),
                    ("--metadata", metadata),
                    ("--taxonomy", taxonomy),
                )
                if v is not None
            ]
            if given:
                raise InputError(
                    f"--from-dataset builds the reference from the dataset's own files; {given[0]} "
                    "cannot be given with it",
                    source="gutaxis reference",
                    hint=f"leave out {', '.join(given)}, or leave out --from-dataset",
                )
        elif profile is None or healthy is None:
            raise InputError(
                "give a PROFILE and --healthy COLUMN=VALUE, or --from-dataset NAME",
                source="gutaxis reference",
                hint="e.g. `gutaxis reference cohort.tsv -m metadata.tsv --healthy Phenotype=Healthy -o "
                "healthy.json`, or `gutaxis reference --from-dataset gmhi2020_validation -o "
                "healthy.json`",
            )
        check_output_file(out, what="reference JSON", example="reference.json")
        if from_dataset is not None:
            from ..measure.reference_datasets import reference_from_dataset

            with _progress(1, f"healthy reference from {from_dataset}") as advance:
                advance(f"healthy reference from {from_dataset}")
                ref = reference_from_dataset(from_dataset, cache=cache, progress=_stderr().is_terminal)
            if profiler is not None:
                ref.profiler = profiler
        else:
            assert profile is not None and healthy is not None  # refused above when missing
            column, sep, value = healthy.partition("=")
            if not sep or not column.strip() or not value.strip():
                raise InputError(
                    f"--healthy {healthy!r} is not COLUMN=VALUE",
                    source="gutaxis reference",
                    hint="e.g. --healthy Phenotype=Healthy",
                )
            for inp in (profile, metadata):
                if inp is not None and os.path.realpath(inp) == os.path.realpath(out):
                    raise InputError(
                        f"is also the input {inp}: writing it would replace the input",
                        source=out,
                        hint="write the reference to a new file, e.g. -o reference.json",
                    )
            with _progress(2, "reading the profile") as advance:
                advance("reading the profile")
                adata = load_profile(
                    profile,
                    metadata=metadata,
                    id_column=id_column,
                    format=format,
                    orientation=orientation,
                    intersection=intersection,
                    taxonomy=taxonomy,
                )
                advance("health indices of the healthy samples")
                ref = build_reference(
                    adata,
                    healthy=(column.strip(), value.strip()),
                    profiler=profiler,
                    source=f"{profile.name}: samples with {column.strip()} == {value.strip()!r}",
                )
        with atomic_file(out, what="reference JSON") as tmp:
            ref.to_json(tmp)
        _stdout().print(f"healthy reference of {ref.n_samples} samples (profiler: {ref.profiler}) written to {out}")


@datasets_app.command("list")
def datasets_list() -> None:
    """List the public datasets with their source, licence and citation."""
    with _guard():
        from rich.table import Table

        from ..io.datasets import list_datasets

        table = list_datasets()
        out = _stdout()
        view = Table(show_lines=True)
        for col in ("name", "title", "files", "MB", "licence"):
            view.add_column(col, overflow="fold")
        for name, row in table.iterrows():
            view.add_row(str(name), row["title"], row["files"], f"{row['size_mb']:.2f}", row["licence"])
        out.print(view)
        for name, row in table.iterrows():
            out.print(f"{name}: {row['citation']} Source: {row['source']}")


@datasets_app.command("fetch")
def datasets_fetch(
    name: str = typer.Argument(..., help="Dataset name (see `gutaxis datasets list`), or DATASET/FILE for one file."),
    cache: Path | None = typer.Option(
        None, "--cache", help="Cache folder (default: $GUTAXIS_DATA_DIR or the user cache)."
    ),
    source: Path | None = typer.Option(
        None,
        "--from",
        help="Install from a local copy of the dataset's files (a machine without internet access): "
        "each file is checked by sha256 and copied into the cache.",
    ),
) -> None:
    """Download a public dataset once (checked by sha256) and print the local paths."""
    with _guard():
        from ..io.datasets import fetch

        result = fetch(name, cache_dir=cache, progress=_stderr().is_terminal, source=source)
        paths = result.values() if isinstance(result, dict) else [result]
        out = _stdout()
        for p in paths:
            out.print(str(p))
