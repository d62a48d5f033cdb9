"""Where a command writes: one helper for every output path, and writes that are all-or-nothing.

A run writes its files into a fresh hidden folder beside the target and renames it into place
only when every file is written (:func:`atomic_dir`); a single file goes through a temporary
file and :func:`os.replace` (:func:`atomic_file`). An interrupted or failed run therefore leaves
either the previous complete output or none, never a mix. A target that already holds files is
refused unless the caller passes ``overwrite=True`` (the CLI's ``--overwrite``), so files of an
earlier run are never listed as this run's.

Details that make this hold:

- The path is checked before any work (:func:`check_output_dir`, :func:`check_output_file`):
  a file where a folder is wanted (and the reverse), a folder that cannot be created or written
  (tried, not guessed, so read-only mounts, immutable folders and ``/proc`` are caught), the
  current folder or one that holds it, the home or root folder, and a folder that holds one of
  the run's own input files (``--overwrite`` would delete it) are refused with an
  :class:`~gutaxis.errors.InputError` that says what to do.
- On Linux the finished folder is swapped with the old one in one ``renameat2(RENAME_EXCHANGE)``
  call, so there is no moment without a complete target; elsewhere the old folder is first
  renamed aside (a moment without a target, never a mixed one).
- Temporary names are ``.NAME.partial-HOST-PID-XXXXXXXX`` (and ``.NAME.old-...``) beside the
  target. Those left by a run that was killed outright (SIGKILL: no clean-up possible) are
  removed by the next run into the same target once their process is gone.
- Creating the temporary folder, the swap and each clean-up run with SIGINT/SIGTERM/SIGHUP held
  back (delivered right after), so Ctrl-C never strands a temporary folder or half a swap.
- Inside :func:`interruptible` (every CLI command runs in it) SIGTERM and SIGHUP interrupt a run
  as Ctrl-C does (Python's default would end the process at once, with no clean-up), and every
  such signal is remembered: where Python swallows the exception a signal handler raises (it
  arrived inside a weakref callback or ``__del__``: "Exception ignored in ..."), the run still
  stops, at the latest before :func:`atomic_dir` would put its output in place.
- New folders and files get the usual permissions (``0o777``/``0o666`` less the umask), as
  ``mkdir`` and ``open`` give them, not the private ones of :mod:`tempfile`.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError

__all__ = [
    "Interrupted",
    "atomic_dir",
    "atomic_file",
    "check_interrupted",
    "check_output_dir",
    "check_output_file",
    "interruptible",
]


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal (SIGINT, SIGTERM or SIGHUP); ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = int(signum)


_pending: list[int] = []  # signals received inside interruptible(), even where their exception was swallowed


def _on_signal(signum, frame):
    _pending.append(signum)
    raise Interrupted(signum)


def check_interrupted() -> None:
    """Raise :class:`Interrupted` if a signal arrived inside :func:`interruptible` (even one whose
    exception Python swallowed)."""
    if _pending:
        raise Interrupted(_pending[0])


@contextmanager
def interruptible() -> Iterator[None]:
    """Run a command so that SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` (a
    ``KeyboardInterrupt``), clean-ups run, and no such signal is lost; handlers that others have
    set (not Python's defaults) are kept. Only the main thread can do this; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _pending.clear()
    saved = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
            saved[sig] = signal.signal(sig, _on_signal)
    previous_hook = sys.unraisablehook

    def hook(unraisable):  # the swallowed interruption is remembered in _pending: no traceback for it
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            previous_hook(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)
        sys.unraisablehook = previous_hook


_OVERWRITE_HINT = "choose a new folder, or pass --overwrite to replace its contents"


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:20] or "host"


def _temp_name(target: Path, kind: str) -> str:
    return f".{target.name}.{kind}-{_host()}-{os.getpid()}-{secrets.token_hex(4)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: a process of another user
        return True
    return True


def _remove_stale(target: Path) -> None:
    """Remove temporary folders/files of earlier runs into ``target`` whose process is gone."""
    pattern = re.compile(
        rf"^\.{re.escape(target.name)}\.(?:partial|old)-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[0-9a-f]{{8}}"
    )
    host = _host()
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return
    for p in entries:
        m = pattern.match(p.name)
        if not m or m["host"] != host or _pid_alive(int(m["pid"])):
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        except OSError:
            pass


def _probe(parent: Path, shown: Path, source: Path, what: str) -> None:
    """Create and remove a folder in ``parent``: the only sure test that this run can write there."""
    probe = parent / _temp_name(source, "partial")
    try:
        with _signals_held():  # an interruption between the two calls would strand the probe
            os.mkdir(probe)
            os.rmdir(probe)
    except OSError as exc:
        reason = "no permission" if exc.errno in (errno.EACCES, errno.EPERM) else (exc.strerror or str(exc))
        raise InputError(
            f"cannot write in the folder {shown} ({reason})",
            source=source,
            hint=f"choose a place you can write to for the {what}",
        ) from None


def _writable_parent(path: Path, what: str) -> Path:
    """Make sure the folder that will hold ``path`` exists and can be written; messages name the
    path as the user gave it, the work is done on its absolute form."""
    shown = path.parent
    parent = _absolute(path.parent)
    bad = next((a for a in [shown, *shown.parents] if str(a) and a.exists() and not a.is_dir()), None)
    if bad is not None:
        raise InputError(f"{bad} is a file, not a folder", source=path, hint=f"choose another place for the {what}")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "no permission" if exc.errno in (errno.EACCES, errno.EPERM) else (exc.strerror or str(exc))
        raise InputError(
            f"cannot create the folder {shown} ({reason})",
            source=path,
            hint=f"choose a place you can write to for the {what}",
        ) from None
    _probe(parent, shown if str(shown) else Path("."), path, what)
    return parent


def _absolute(path: Path) -> Path:
    """The path made absolute with symbolic links resolved (the folder that is really written)."""
    return Path(os.path.realpath(path))


def check_output_dir(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    what: str = "output folder",
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Path:
    """Validate an output folder before any work; returns it as given.

    Refused: an existing file; the current folder or one that holds it, the home or root folder;
    a folder holding one of ``inputs`` (the run's own input files); a non-empty folder unless
    ``overwrite``; a place that cannot be written to (tried).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError("is a file, not a folder", source=path, hint=f"give a folder path for the {what}")
    real = _absolute(path)
    cwd = _absolute(Path.cwd())
    if real == cwd or real in cwd.parents:
        raise InputError(
            "is the current folder (or holds it): the run would replace it",
            source=path,
            hint="give a new folder, e.g. -o results",
        )
    if real == _absolute(Path.home()) or real == Path(real.anchor):
        raise InputError(
            "is the home or root folder: the run would replace it",
            source=path,
            hint="give a new folder, e.g. -o results",
        )
    for inp in inputs:
        if inp is None:
            continue
        inp_real = _absolute(Path(inp))
        if real == inp_real or real in inp_real.parents:
            raise InputError(
                f"holds the input {inp}, which replacing the folder would delete",
                source=path,
                hint=f"write the {what} somewhere else, e.g. -o {path.name or 'out'}-results",
            )
    if path.is_dir():
        try:
            non_empty = any(path.iterdir())
        except OSError as exc:
            raise InputError(
                f"cannot read the folder ({exc.strerror or exc})",
                source=path,
                hint=f"choose a folder you can write to for the {what}",
            ) from None
        if non_empty and not overwrite:
            raise InputError("already holds files (from an earlier run?)", source=path, hint=_OVERWRITE_HINT)
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(
                "cannot be replaced (no permission, or the folder is read-only or immutable)",
                source=path,
                hint=f"choose a place you can write to for the {what}",
            )
    _writable_parent(path, what)
    if real.parent != _absolute(path.parent):  # a symbolic link: the run writes beside the folder it points to
        _probe(real.parent, real.parent, path, what)
    return path


def check_output_file(
    path: str | os.PathLike, *, overwrite: bool = True, what: str = "output file", example: str = "out.tsv"
) -> Path:
    """Validate an output file path before any work: not a folder, writable place; returns it as given.

    ``example`` is the file name the hint suggests inside a folder given by mistake.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(
            "is a folder, not a file", source=path, hint=f"give a file path for the {what}, e.g. {path / example}"
        )
    if path.exists() and not overwrite:
        raise InputError("already exists", source=path, hint="choose a new name, or pass --overwrite")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(
            "cannot be replaced (no permission, or the file is read-only or immutable)",
            source=path,
            hint=f"choose a place you can write to for the {what}",
        )
    _writable_parent(path, what)
    return path


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2``); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back SIGINT, SIGTERM and SIGHUP for a few system calls; deliver one received meanwhile
    right after (to the handler that was in place). Only the main thread can do this."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    saved = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is None:  # not on this platform (SIGHUP on Windows)
            continue
        old = signal.getsignal(sig)
        if old is None or old is signal.SIG_IGN:
            continue
        saved[sig] = signal.signal(sig, lambda signum, frame: got.append(signum))
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)
        if got:
            signal.raise_signal(got[0])


def _mkdir_fresh(parent: Path, target: Path, kind: str) -> Path:
    while True:
        p = parent / _temp_name(target, kind)
        try:
            os.mkdir(p)  # 0o777 less the umask, as the folder a plain mkdir makes
            return p
        except FileExistsError:
            continue


@contextmanager
def atomic_dir(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    what: str = "output folder",
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Iterator[Path]:
    """Yield a fresh folder to write a run's files into; on success it replaces ``path``.

    On any exception (or interruption) the temporary folder is removed and ``path`` is untouched.
    """
    inputs = list(inputs)
    check_output_dir(path, overwrite=overwrite, what=what, inputs=inputs)
    target = _absolute(Path(path))
    parent = target.parent
    _remove_stale(target)
    tmp = None
    try:
        with _signals_held():
            tmp = _mkdir_fresh(parent, target, "partial")
        yield tmp
        check_interrupted()  # an interruption Python swallowed still keeps the output from being put in place
        # the target may have changed while the run worked: check again before replacing it
        check_output_dir(path, overwrite=overwrite, what=what, inputs=inputs)
        with _signals_held():
            if os.path.lexists(target):
                if not _exchange(tmp, target):
                    old = parent / _temp_name(target, "old")
                    os.rename(target, old)  # between the two renames there is no target, never a mixed one
                    os.rename(tmp, target)
                    tmp = old
                # tmp now holds the previous output: removed below
            else:
                os.rename(tmp, target)
            if os.path.lexists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if tmp is not None and os.path.lexists(tmp):
            with _signals_held():
                shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_file(
    path: str | os.PathLike, *, overwrite: bool = True, what: str = "output file", suffix: str | None = None
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    The temporary file ends in ``suffix`` (default: that of ``path``) for writers that choose
    the format by suffix.
    """
    check_output_file(path, overwrite=overwrite, what=what)
    target = _absolute(Path(path).parent) / Path(path).name
    _remove_stale(target)
    tmp = None
    try:
        with _signals_held():
            while tmp is None:
                name = target.parent / (
                    _temp_name(target, "partial") + (suffix if suffix is not None else target.suffix)
                )
                try:
                    os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                    tmp = name
                except FileExistsError:
                    continue
        yield tmp
        check_interrupted()
        with _signals_held():
            os.replace(tmp, target)
    finally:
        if tmp is not None and os.path.lexists(tmp):
            with _signals_held():
                tmp.unlink(missing_ok=True)
