"""Public datasets: a registry with sha256 checksums, downloaded once into a cache.

The registry is ``gutaxis/data/datasets.json`` (source, licence and citation per dataset).
Files are fetched with :mod:`pooch` from ``<base URL><dataset path><file>`` and checked against
their sha256 before use; a file whose checksum does not match is deleted and
:class:`DatasetChecksumError` names it with the expected and the received checksum.

Environment variables
---------------------
``GUTAXIS_DATA_DIR``
    Cache folder (default: ``pooch.os_cache("gutaxis")``, e.g. ``~/.cache/gutaxis``).
``GUTAXIS_DATASETS_URL``
    Base URL replacing ``https://raw.githubusercontent.com/`` (a mirror, or a local server in tests);
    an ``http(s)://`` or ``ftp://`` URL with a host, anything else is an :class:`InputError`.

Cached files are verified on use, not only when fetched: a reader that takes a file from the cache
(``<cache>/<dataset>/<file>`` of a registry file) calls :func:`verify_cached`, which compares the
file's sha256 with the registry. To keep this cheap, a stamp beside the file
(``.<file>.sha256-stamp``: size, modification time and sha256) is written once the file is verified
(by :func:`fetch` or on first use); the file is hashed again only when its size or modification
time differ from the stamp. A file that does not match raises :class:`DatasetCacheError` with the
command that downloads it again. A file passed to a reader by its own path is the user's copy: no
registry checksum applies to it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from ..errors import GutaxisError, InputError
from ._container import file_sha256

__all__ = [
    "DatasetCacheError",
    "DatasetChecksumError",
    "DatasetError",
    "cache_dir",
    "cached_file",
    "dataset_info",
    "fetch",
    "list_datasets",
    "verify_cached",
]

ENV_CACHE = "GUTAXIS_DATA_DIR"
ENV_URL = "GUTAXIS_DATASETS_URL"


class DatasetError(GutaxisError):
    """A public dataset could not be downloaded (network, server or cache problem)."""


class DatasetChecksumError(DatasetError):
    """A downloaded file's sha256 differs from the registry; the file was deleted."""

    def __init__(self, file: str, url: str, expected: str, got: str):
        self.file, self.url, self.expected, self.got = file, url, expected, got
        super().__init__(
            f"{file}: sha256 checksum mismatch (expected {expected}, got {got}); the download from {url} "
            "was deleted — retry later, or check the mirror set in GUTAXIS_DATASETS_URL"
        )


class DatasetCacheError(DatasetError, InputError):
    """A file in the dataset cache differs from the registry's sha256 (changed or damaged after download).

    The file is left in place; ``gutaxis datasets fetch NAME`` downloads it again (the fetch
    replaces a cached file whose checksum does not match).
    """


@lru_cache(maxsize=1)
def _registry() -> dict:
    text = resources.files("gutaxis").joinpath("data", "datasets.json").read_text(encoding="utf-8")
    return json.loads(text)


def _datasets() -> dict:
    return _registry()["datasets"]


def dataset_info(name: str) -> dict:
    """The registry entry of dataset ``name`` (title, source, licence, citation, files)."""
    datasets = _datasets()
    if name not in datasets:
        raise InputError(
            f"unknown dataset {name!r}",
            source="gutaxis datasets",
            hint=f"choose one of: {', '.join(sorted(datasets))} (see `gutaxis datasets list`)",
        )
    return datasets[name]


def list_datasets() -> pd.DataFrame:
    """The public datasets gutaxis can fetch, one row each.

    Returns
    -------
    pandas.DataFrame
        Indexed by dataset name; columns ``title``, ``files`` (comma-separated), ``n_files``,
        ``size_mb``, ``licence``, ``citation``, ``source``.
    """
    rows = []
    for name, entry in sorted(_datasets().items()):
        files = entry["files"]
        rows.append(
            {
                "name": name,
                "title": entry["title"],
                "files": ", ".join(files),
                "n_files": len(files),
                "size_mb": round(sum(f.get("bytes", 0) for f in files.values()) / 1e6, 2),
                "licence": entry["licence"],
                "citation": entry["citation"],
                "source": entry["source"],
            }
        )
    return pd.DataFrame(rows).set_index("name")


def cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """The cache root: ``cache`` if given, else ``$GUTAXIS_DATA_DIR``, else ``pooch.os_cache("gutaxis")``."""
    if cache is not None:
        return Path(cache).expanduser()
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("gutaxis"))


_URL_SCHEMES = ("http", "https", "ftp", "sftp")


class _BadURL(DatasetError, InputError):
    """``GUTAXIS_DATASETS_URL`` is not a URL gutaxis can download from."""


def _base_url() -> str:
    """The base URL: ``$GUTAXIS_DATASETS_URL`` (checked) or the registry's default."""
    from urllib.parse import urlsplit

    env = os.environ.get(ENV_URL)
    base = env or _registry()["default_base_url"]
    try:
        parts = urlsplit(base.strip())
        ok = (
            parts.scheme.lower() in _URL_SCHEMES
            and bool(parts.hostname)
            and base == base.strip()
            and not any(c.isspace() for c in base)
        )
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        ok = False
    if not ok:
        raise _BadURL(
            f"{base!r} is not a download URL",
            source=ENV_URL if env else "gutaxis/data/datasets.json",
            hint=(
                f"set {ENV_URL} to the base URL of a mirror, e.g. https://mirror.example.org/gutaxis/ or "
                f"http://127.0.0.1:8000/ (scheme {', '.join(_URL_SCHEMES)} and a host), or unset it to use "
                f"{_registry()['default_base_url']}"
            ),
        )
    return base if base.endswith("/") else base + "/"


# ----------------------------------------------------------------------------- verified cache use


def _stamp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.sha256-stamp")


def _stat_key(path: Path) -> dict:
    st = os.stat(path)  # follows a symlink: the file's own size and time
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(path: Path, sha256: str) -> None:
    """Record that ``path`` (as it is now) has ``sha256``; best effort (a read-only cache is fine)."""
    stamp = _stamp_path(path)
    try:
        data = json.dumps({**_stat_key(path), "sha256": sha256})
        fd, tmp = tempfile.mkstemp(prefix=stamp.name + ".", dir=stamp.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
            os.replace(tmp, stamp)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass


def _stamp_ok(path: Path, sha256: str) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
        return stamp == {**_stat_key(path), "sha256": sha256}
    except (OSError, ValueError, TypeError):
        return False


def _registry_file_of(path: Path, cache: str | os.PathLike | None = None) -> tuple[str, str, dict] | None:
    """``(dataset, file, meta)`` when ``path`` is a registry file's place in the cache, else None."""
    p = Path(path).expanduser()
    dataset, fname = p.parent.name, p.name
    entry = _datasets().get(dataset)
    if entry is None or fname not in entry["files"]:
        return None
    folder = _cache_root(cache) / dataset
    try:
        same = os.path.realpath(p.parent) == os.path.realpath(folder)
    except (OSError, ValueError):
        return None
    return (dataset, fname, entry["files"][fname]) if same else None


def verify_cached(path: str | os.PathLike, *, cache: str | os.PathLike | None = None) -> Path:
    """Check a file taken from the dataset cache against the registry's sha256; return its path.

    ``path`` that is not a registry file's place in the cache (``<cache>/<dataset>/<file>``, the
    cache being ``cache`` or :func:`cache_dir`), or that does not exist, is returned unchecked: a
    file the user passes by its own path carries no registry checksum. The file is hashed only
    when its stamp (size, modification time, sha256) is missing or out of date.

    Raises
    ------
    DatasetCacheError
        The cached file's sha256 differs from the registry; the message names the file, both
        checksums and the ``gutaxis datasets fetch`` command that downloads it again.
    """
    p = Path(path).expanduser()
    found = _registry_file_of(p, cache)
    if found is None or not p.is_file():
        return p
    dataset, fname, meta = found
    expected = meta["sha256"].lower()
    if _stamp_ok(p, expected):
        return p
    got = file_sha256(p)
    if got != expected:
        size = p.stat().st_size
        raise DatasetCacheError(
            f"the cached file {dataset}/{fname} differs from the copy gutaxis knows (sha256 {got}, expected "
            f"{expected}; {size:,} bytes, expected {meta.get('bytes', '?'):,}): it was changed or damaged after it "
            "was downloaded, so its numbers cannot be trusted",
            source=p,
            hint=f"download it again with `gutaxis datasets fetch {dataset}` (it replaces the changed file), or "
            "pass your own copy by its path",
        )
    _write_stamp(p, expected)
    return p


def cached_file(name: str, *, cache: str | os.PathLike | None = None, verify: bool = True) -> Path:
    """The cache path of ``"dataset/file"`` (verified with :func:`verify_cached` when it exists).

    The file need not exist (check ``.is_file()``); an unknown dataset or file is an :class:`InputError`.
    """
    dataset, _, fname = str(name).partition("/")
    entry = dataset_info(dataset)
    if fname not in entry["files"]:
        raise InputError(
            f"dataset {dataset!r} has no file {fname!r}",
            source="gutaxis datasets",
            hint=f"its files are: {', '.join(entry['files'])}",
        )
    p = _cache_root(cache) / dataset / fname
    return verify_cached(p, cache=cache) if verify else p


class _RichBar:
    """The progress-bar protocol pooch expects (``total``, ``update``, ``reset``, ``close``), drawn by rich."""

    def __init__(self, description: str):
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(description, total=None)
        self._started = False
        self._total = None

    @property
    def total(self):
        return self._total

    @total.setter
    def total(self, value):
        self._total = value or None
        if not self._started:
            self._progress.start()
            self._started = True
        self._progress.update(self._task, total=self._total)

    def update(self, n):
        self._progress.advance(self._task, n)

    def reset(self):
        self._progress.reset(self._task, total=self._total)

    def close(self):
        if self._started:
            self._progress.stop()
            self._started = False


def _fetch_file(name: str, fname: str, meta: dict, folder: Path, progress: bool) -> Path:
    from urllib.parse import quote

    import pooch
    import requests

    # "remote": the file's name upstream where it differs from the cache name (e.g. has spaces)
    url = _base_url() + _datasets()[name]["path"] + quote(meta.get("remote", fname))
    expected = meta["sha256"].lower()
    bar = _RichBar(f"{name}/{fname}") if progress else False
    downloader = pooch.HTTPDownloader(progressbar=bar, timeout=60)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # pooch logs every download at INFO; rich shows progress instead
    try:
        path = pooch.retrieve(
            url, known_hash=f"sha256:{expected}", fname=fname, path=folder, downloader=downloader, progressbar=False
        )
    except ValueError as exc:
        m = re.search(r"expected (\S+) but got (\S+?)\.", str(exc))
        if m is None:  # e.g. requests' InvalidURL, pooch's "unrecognized URL protocol"
            raise DatasetError(
                f"{name}/{fname}: cannot download from {url} ({type(exc).__name__}: {exc})"
                f" — check {ENV_URL} (a base URL such as https://mirror.example.org/), or unset it"
            ) from None
        got = m.group(2)
        raise DatasetChecksumError(f"{name}/{fname}", url, expected, got) from None
    except requests.RequestException as exc:
        raise DatasetError(
            f"{name}/{fname}: download from {url} failed ({type(exc).__name__}: {exc})"
            " — check the network, or point GUTAXIS_DATASETS_URL at a mirror"
        ) from None
    except OSError as exc:
        raise DatasetError(
            f"{name}/{fname}: cannot write to the cache {folder} ({exc.strerror or exc})"
            f" — choose another folder with --cache or {ENV_CACHE}"
        ) from None
    finally:
        logger.setLevel(level)
        if isinstance(bar, _RichBar):
            bar.close()
    _write_stamp(Path(path), expected)  # pooch checked the sha256: later uses need not hash it again
    return Path(path)


def _copy_file(name: str, fname: str, meta: dict, folder: Path, source: Path) -> Path:
    """Install one registry file from a local copy (an offline mirror): checked by sha256, written atomically."""
    import shutil

    candidates = [source / fname] + ([source / meta["remote"]] if meta.get("remote") else [])
    src = next((c for c in candidates if c.is_file()), None)
    if src is None:
        raise InputError(
            f"{source}: no file {fname!r} of dataset {name!r} there",
            source=source,
            hint="point --from at the folder that holds the dataset's files "
            f"({', '.join(dataset_info(name)['files'])})",
        )
    expected = meta["sha256"].lower()
    got = file_sha256(src)
    if got != expected:
        raise DatasetChecksumError(f"{name}/{fname}", str(src), expected, got)
    target = folder / fname
    if target.is_file() and file_sha256(target) == expected:
        _write_stamp(target, expected)
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{fname}.", dir=folder)
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, target)  # a half-copied file never has the cache's name
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise DatasetError(
            f"{name}/{fname}: cannot write to the cache {folder} ({exc.strerror or exc})"
            f" — choose another folder with --cache or {ENV_CACHE}"
        ) from None
    _write_stamp(target, expected)
    return target


def fetch(
    name: str,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    source: str | os.PathLike | None = None,
) -> Path | dict[str, Path]:
    """Download a public dataset (once) and return the local path(s), each checked by sha256.

    Parameters
    ----------
    name
        A dataset name from :func:`list_datasets` (all its files), or ``"dataset/file"`` for one file.
    cache_dir
        Cache root (default ``$GUTAXIS_DATA_DIR`` or ``pooch.os_cache("gutaxis")``); files go to
        ``<cache>/<dataset>/``. A file already there with the right checksum is not downloaded again.
    progress
        Show a rich progress bar per downloaded file (on stderr).
    source
        A local folder holding the dataset's files (a copy made elsewhere, for machines without
        internet access, such as cluster nodes): each file is checked against the registry's
        sha256 and copied into the cache instead of being downloaded.

    Returns
    -------
    pathlib.Path or dict of str to pathlib.Path
        The file's path for ``"dataset/file"``; ``{file name: path}`` for a whole dataset.

    Raises
    ------
    InputError
        Unknown dataset or file name.
    DatasetChecksumError
        A downloaded file's sha256 differs from the registry (the file is deleted), or a file of
        ``source`` does (nothing is copied).
    DatasetError
        The download failed.
    """
    dataset, _, single = str(name).partition("/")
    entry = dataset_info(dataset)
    files = entry["files"]
    if single:
        if single not in files:
            raise InputError(
                f"dataset {dataset!r} has no file {single!r}",
                source="gutaxis datasets",
                hint=f"its files are: {', '.join(files)}",
            )
        files = {single: files[single]}
    root = _cache_root(cache_dir)
    folder = root / dataset
    if source is not None:
        src = Path(source).expanduser()
        if not src.is_dir():
            raise InputError(f"{src}: not a folder", source=src, hint="give the folder that holds the dataset's files")
        out = {fname: _copy_file(dataset, fname, meta, folder, src) for fname, meta in files.items()}
        return out[single] if single else out
    _base_url()  # a bad GUTAXIS_DATASETS_URL is refused before anything is written
    out = {fname: _fetch_file(dataset, fname, meta, folder, progress) for fname, meta in files.items()}
    return out[single] if single else out


_cache_root = cache_dir
