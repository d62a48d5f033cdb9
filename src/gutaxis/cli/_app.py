"""The ``gutaxis`` Typer app, its global options and the helpers every command uses.

Problems are printed as one red line ``error: ...`` on stderr (exit code 2 for input the user
can fix, 1 otherwise); ``--debug`` adds the traceback. Commands live in the sibling modules,
one per capability; they register themselves on :data:`app`.

Interruptions: Ctrl-C (SIGINT), and SIGTERM or SIGHUP while a command runs, stop it with
``error: interrupted`` (exit code 128 + the signal number, 130 for Ctrl-C) after the clean-up of
its temporary output (:func:`gutaxis._outputs.interruptible`; a command's output folder is
written whole or not at all).
"""

from __future__ import annotations

import logging
import signal
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.text import Text

__all__ = ["OVERWRITE_HELP", "app", "datasets_app", "guard", "progress", "stderr", "stdout"]

OVERWRITE_HELP = (
    "Replace the contents of a non-empty output folder (default: refuse it, so an earlier "
    "run's files are never mixed with or mistaken for this run's)."
)

app = typer.Typer(
    name="gutaxis",
    help="Gut health and autoimmunity: measure a stool profile, link taxa to conditions, simulate the "
    "gut-immune axis, and turn diet, stress and symptom logs into an evidence-graded plan.\n\n"
    "gutaxis informs and never diagnoses: discuss personal results with a clinician or a registered dietitian.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
datasets_app = typer.Typer(
    help="Public datasets: list them, download them (sha256-checked, cached).", no_args_is_help=True
)
app.add_typer(datasets_app, name="datasets")

_state = {"debug": False}


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


@contextmanager
def _guard() -> Iterator[None]:
    """Turn exceptions into one ``error:`` line and an exit code; warnings into ``warning:`` lines."""
    from .._outputs import check_interrupted, interruptible
    from ..errors import GutaxisError, InputError

    err = _stderr()
    try:
        with interruptible(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
                check_interrupted()  # a signal whose exception Python swallowed (see gutaxis._outputs)
            finally:
                seen = set()
                for w in caught:
                    msg = _one_line(w.message)
                    if msg not in seen and not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
                        seen.add(msg)
                        err.print(Text(f"warning: {msg}", style="yellow"))
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        err.print(
            Text(
                "error: interrupted" + ("" if signum == signal.SIGINT else f" ({signal.Signals(signum).name})"),
                style="bold red",
            )
        )
        raise typer.Exit(128 + int(signum)) from None
    except Exception as exc:
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
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
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


class _ConsoleLogHandler(logging.Handler):
    """gutaxis log records as one ``warning: ...`` (or ``info: ...`` with --debug) line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = "warning" if record.levelno >= logging.WARNING else "info"
            style = "yellow" if level == "warning" else "dim"
            _stderr().print(Text(f"{level}: {_one_line(record.getMessage())}", style=style))
        except Exception:
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
        from .. import __version__

        typer.echo(f"gutaxis {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the gutaxis version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors and informational log messages."),
) -> None:
    """Gut health and autoimmunity: measure, link, simulate, act."""
    _state["debug"] = debug
    _log_to_console(logging.INFO if debug else logging.WARNING)


# names the command modules use
guard = _guard
progress = _progress
stdout = _stdout
stderr = _stderr
