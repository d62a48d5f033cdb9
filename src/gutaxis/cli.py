"""The ``gutaxis`` command line: a thin face over the Python API (no science lives here).

Commands: ``demo``, ``report``, ``reference``, ``datasets list``, ``datasets fetch``; global
options ``--version`` and ``--debug``. Problems are printed as one red line ``error: ...`` on
stderr (exit code 2 for input the user can fix, 1 otherwise); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import logging
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.text import Text

__all__ = ["app"]

app = typer.Typer(
    name="gutaxis",
    help="Gut microbiome health from a stool profile: indices, percentiles and a self-contained HTML report.\n\n"
    "gutaxis informs and never diagnoses: discuss personal results with a clinician or a registered dietitian.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
datasets_app = typer.Typer(help="Public datasets: list them, download them (sha256-checked, cached).",
                           no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")

_state = {"debug": False}


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


@contextmanager
def _guard() -> Iterator[None]:
    """Turn exceptions into one ``error:`` line and an exit code; warnings into ``warning:`` lines."""
    from .errors import GutaxisError, InputError

    err = _stderr()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            finally:
                seen = set()
                for w in caught:
                    msg = _one_line(w.message)
                    if msg not in seen and not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
                        seen.add(msg)
                        err.print(Text(f"warning: {msg}", style="yellow"))
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except KeyboardInterrupt:
        err.print(Text("error: interrupted", style="bold red"))
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 (the CLI's one place that reports every failure)
        if _state["debug"]:
            traceback.print_exc(file=sys.stderr)
        message = _one_line(exc) or type(exc).__name__
        if not isinstance(exc, GutaxisError):
            message = f"{type(exc).__name__}: {message}"
            if not _state["debug"]:
                message += " (run `gutaxis --debug ...` for the traceback)"
        err.print(Text(f"error: {message}", style="bold red"))
        raise typer.Exit(2 if isinstance(exc, InputError) else 1) from None


@contextmanager
def _progress(total: int, first: str) -> Iterator:
    """A rich progress bar of named steps on stderr; yields ``advance(step_name)``."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = _stderr()
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal)
    task = progress.add_task(first, total=total)
    started = {"n": 0}

    def advance(step: str) -> None:
        if started["n"]:
            progress.advance(task)
        started["n"] += 1
        progress.update(task, description=step)

    with progress:
        yield advance
        progress.update(task, completed=total)


def _report_steps() -> int:
    from .report.html import _STEPS

    return len(_STEPS)


def _print_written(path: Path) -> None:
    out = _stdout()
    out.print(f"report written to {path}")
    for f in sorted(p.name for p in path.parent.iterdir() if p.is_file() and p.name != path.name):
        out.print(f"  {path.parent / f}")


class _ConsoleLogHandler(logging.Handler):
    """gutaxis log records as one ``warning: ...`` (or ``info: ...`` with --debug) line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = "warning" if record.levelno >= logging.WARNING else "info"
            style = "yellow" if level == "warning" else "dim"
            _stderr().print(Text(f"{level}: {_one_line(record.getMessage())}", style=style))
        except Exception:  # noqa: BLE001 (logging must never break the command)
            self.handleError(record)


def _log_to_console(level: int) -> None:
    logger = logging.getLogger("gutaxis")
    for h in [h for h in logger.handlers if isinstance(h, _ConsoleLogHandler)]:
        logger.removeHandler(h)
    handler = _ConsoleLogHandler(level)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def _version_callback(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"gutaxis {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Show the gutaxis version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors and informational log messages."),
) -> None:
    """Gut microbiome health: indices, percentiles and a self-contained HTML report."""
    _state["debug"] = debug
    _log_to_console(logging.INFO if debug else logging.WARNING)


@app.command()
def demo(
    out_dir: Path = typer.Option(Path("gutaxis-demo"), "-o", "--out", help="Folder for the report and its files."),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic cohort (same seed, same cohort)."),
    n_healthy: int = typer.Option(40, "--n-healthy", min=0, help="Synthetic healthy samples."),
    n_dysbiotic: int = typer.Option(40, "--n-dysbiotic", min=0, help="Synthetic dysbiotic samples."),
) -> None:
    """Write a report for a built-in SYNTHETIC demo cohort (offline; invented data, not real people)."""
    with _guard():
        from .demo import demo_cohort
        from .report import write_report

        with _progress(_report_steps() + 1, "generating the synthetic cohort") as advance:
            advance("generating the synthetic cohort")
            cohort = demo_cohort(n_healthy=n_healthy, n_dysbiotic=n_dysbiotic, seed=seed)
            path = write_report(cohort, out_dir, progress=advance)
        _print_written(path)


@app.command()
def report(
    profile: Path = typer.Argument(..., help="Profile file: MetaPhlAn, BIOM, QIIME 2 .qza, CSV/TSV or .h5ad."),
    out_dir: Path = typer.Option(..., "-o", "--out", help="Folder for the report and its files."),
    metadata: Optional[Path] = typer.Option(None, "--metadata", "-m", help="Sample metadata (CSV/TSV) to join by sample ID."),
    reference: Optional[Path] = typer.Option(None, "--reference", "-r",
                                             help="Healthy reference JSON (from `gutaxis reference` or build_reference)."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Input format (metaphlan, biom, qza, table, h5ad); detected when omitted."),
    orientation: Optional[str] = typer.Option(None, "--orientation", help="Plain tables: samples-as-rows or samples-as-columns."),
    group_column: Optional[str] = typer.Option(None, "--group-column", "-g", help="Metadata column that groups a cohort, e.g. Phenotype."),
    sample: Optional[str] = typer.Option(None, "--sample", help="Report on this one sample of the profile."),
    title: Optional[str] = typer.Option(None, "--title", help="Report title."),
) -> None:
    """Write a gut-health report (HTML + TSV/JSON) for one sample or a cohort."""
    with _guard():
        from .io import read_profile
        from .report import write_report

        with _progress(_report_steps() + 1, "reading the profile") as advance:
            advance("reading the profile")
            adata = read_profile(profile, format=format, orientation=orientation, metadata=metadata)
            path = write_report(adata, out_dir, reference=reference, group=group_column, title=title, sample=sample,
                                progress=advance)
        _print_written(path)


@app.command("reference")
def reference_cmd(
    profile: Path = typer.Argument(..., help="Profile of a cohort with healthy people labelled in its metadata."),
    healthy: str = typer.Option(..., "--healthy", help="Which samples are healthy: COLUMN=VALUE, e.g. Phenotype=Healthy."),
    out: Path = typer.Option(..., "-o", "--out", help="JSON file to write."),
    metadata: Optional[Path] = typer.Option(None, "--metadata", "-m", help="Sample metadata (CSV/TSV) to join by sample ID."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Input format; detected when omitted."),
    orientation: Optional[str] = typer.Option(None, "--orientation", help="Plain tables: samples-as-rows or samples-as-columns."),
) -> None:
    """Build a healthy reference (JSON) from the healthy samples of a labelled cohort."""
    with _guard():
        from .errors import InputError
        from .io import read_profile
        from .measure.reference import build_reference

        column, sep, value = healthy.partition("=")
        if not sep or not column.strip() or not value.strip():
            raise InputError(f"--healthy {healthy!r} is not COLUMN=VALUE", source="gutaxis reference",
                             hint="e.g. --healthy Phenotype=Healthy")
        with _progress(2, "reading the profile") as advance:
            advance("reading the profile")
            adata = read_profile(profile, format=format, orientation=orientation, metadata=metadata)
            advance("health indices of the healthy samples")
            ref = build_reference(adata, healthy=(column.strip(), value.strip()),
                                  source=f"{profile.name}: samples with {column.strip()} == {value.strip()!r}")
        out.parent.mkdir(parents=True, exist_ok=True)
        ref.to_json(out)
        _stdout().print(f"healthy reference of {ref.n_samples} samples written to {out}")


@datasets_app.command("list")
def datasets_list() -> None:
    """List the public datasets with their source, licence and citation."""
    with _guard():
        from rich.table import Table

        from .io.datasets import list_datasets

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
    cache: Optional[Path] = typer.Option(None, "--cache", help="Cache folder (default: $GUTAXIS_DATA_DIR or the user cache)."),
) -> None:
    """Download a public dataset once (checked by sha256) and print the local paths."""
    with _guard():
        from .io.datasets import fetch

        result = fetch(name, cache_dir=cache, progress=_stderr().is_terminal)
        paths = result.values() if isinstance(result, dict) else [result]
        out = _stdout()
        for p in paths:
            out.print(str(p))


if __name__ == "__main__":  # pragma: no cover
    app()
