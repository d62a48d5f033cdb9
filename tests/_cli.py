"""Run the ``gutaxis`` command line in-process, as the tests do (arguments may be paths or numbers)."""

from __future__ import annotations

from typer.testing import CliRunner

from gutaxis.cli import app


def cli(*args, **kw):
    """``gutaxis ARGS...`` through Typer's :class:`~typer.testing.CliRunner`; ``kw`` go to ``invoke``."""
    return CliRunner().invoke(app, [str(a) for a in args], **kw)
