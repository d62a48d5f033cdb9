"""One exception family for problems a user can act on.

Every message names *where* the problem is (file, row/column, sample or feature) and
*what to do*. The CLI prints ``str(error)`` as one line; tracebacks only with ``--debug``.
"""

from __future__ import annotations

from os import PathLike

__all__ = ["GutaxisError", "InputError"]


class GutaxisError(Exception):
    """Base class of all errors raised on purpose by gutaxis."""


class InputError(GutaxisError, ValueError):
    """Input that gutaxis cannot use as given.

    Parameters
    ----------
    problem
        What is wrong, naming the row/column, sample or feature.
    source
        The file (or object description) the problem was found in.
    hint
        What the user can do about it.
    """

    def __init__(self, problem: str, *, source: str | PathLike | None = None, hint: str | None = None):
        self.problem = problem
        self.source = None if source is None else str(source)
        self.hint = hint
        parts = []
        if self.source:
            parts.append(f"{self.source}: ")
        parts.append(problem)
        if hint:
            parts.append(f" — {hint}")
        super().__init__("".join(parts))
