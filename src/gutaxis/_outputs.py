"""Where a command writes: one helper for every output path, and writes that are all-or-nothing.

A run writes its files into a fresh hidden folder beside the target and renames it into place
only when every file is written (:func:`atomic_dir`); a single file goes through a temporary
file and :func:`os.replace` (:func:`atomic_file`). An interrupted or failed run therefore leaves
either the previous complete output or none, never a mix. A target that already holds files is
refused unless the caller passes ``overwrite=True`` (the CLI's ``--overwrite``), so files of an
earlier run are never listed as this run's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError

__all__ = ["atomic_dir", "atomic_file", "check_output_dir", "check_output_file"]


def _writable_parent(path: Path, what: str) -> Path:
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{parent} is a file, not a folder", source=path, hint=f"choose another place for the {what}") from None
    except OSError as exc:
        raise InputError(f"cannot create the folder {parent} ({exc.strerror or exc})", source=path,
                         hint=f"choose a place you can write to for the {what}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"no permission to write in {parent}", source=path,
                         hint=f"choose a place you can write to for the {what}")
    return parent


def check_output_dir(path: str | os.PathLike, *, overwrite: bool = False, what: str = "output folder") -> Path:
    """Validate an output folder before any work: not a file, writable, empty unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError("is a file, not a folder", source=path, hint=f"give a folder path for the {what}")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise InputError("already holds files (from an earlier run?)", source=path,
                         hint="choose a new folder, or pass --overwrite to replace its contents")
    _writable_parent(path, what)
    return path


def check_output_file(path: str | os.PathLike, *, overwrite: bool = True, what: str = "output file") -> Path:
    """Validate an output file path before any work: not a folder, writable place."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder, not a file", source=path, hint=f"give a file path for the {what}, e.g. {path / 'out.tsv'}")
    if path.exists() and not overwrite:
        raise InputError("already exists", source=path, hint="choose a new name, or pass --overwrite")
    _writable_parent(path, what)
    return path


@contextmanager
def atomic_dir(path: str | os.PathLike, *, overwrite: bool = False, what: str = "output folder") -> Iterator[Path]:
    """Yield a fresh folder to write a run's files into; on success it replaces ``path``.

    On any exception (or interruption) the temporary folder is removed and ``path`` is untouched.
    """
    target = check_output_dir(path, overwrite=overwrite, what=what)
    parent = target.parent if str(target.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=parent))
        old.rmdir()
        os.rename(target, old)  # between the two renames there is no target, never a mixed one
    os.rename(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_file(path: str | os.PathLike, *, overwrite: bool = True, what: str = "output file",
                suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename."""
    target = check_output_file(path, overwrite=overwrite, what=what)
    parent = target.parent if str(target.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.partial-", suffix=suffix or target.suffix, dir=parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
