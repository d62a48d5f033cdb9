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
    Base URL replacing ``https://raw.githubusercontent.com/`` (a mirror, or a local server in tests).
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from ..errors import GutaxisError, InputError

__all__ = [
    "list_datasets",
    "fetch",
    "dataset_info",
    "cache_dir",
    "DatasetError",
    "DatasetChecksumError",
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


def _base_url() -> str:
    base = os.environ.get(ENV_URL) or _registry()["default_base_url"]
    return base if base.endswith("/") else base + "/"


class _RichBar:
    """The progress-bar protocol pooch expects (``total``, ``update``, ``reset``, ``close``), drawn by rich."""

    def __init__(self, description: str):
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            console=Console(stderr=True), transient=False,
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
    import pooch
    import requests

    from urllib.parse import quote

    # "remote": the file's name upstream where it differs from the cache name (e.g. has spaces)
    url = _base_url() + _datasets()[name]["path"] + quote(meta.get("remote", fname))
    expected = meta["sha256"].lower()
    bar = _RichBar(f"{name}/{fname}") if progress else False
    downloader = pooch.HTTPDownloader(progressbar=bar, timeout=60)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # pooch logs every download at INFO; rich shows progress instead
    try:
        path = pooch.retrieve(url, known_hash=f"sha256:{expected}", fname=fname, path=folder,
                              downloader=downloader, progressbar=False)
    except ValueError as exc:
        m = re.search(r"expected (\S+) but got (\S+?)\.", str(exc))
        if m is None:
            raise
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
        if bar:
            bar.close()
    return Path(path)


def fetch(name: str, *, cache_dir: str | os.PathLike | None = None, progress: bool = True) -> Path | dict[str, Path]:
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

    Returns
    -------
    pathlib.Path or dict of str to pathlib.Path
        The file's path for ``"dataset/file"``; ``{file name: path}`` for a whole dataset.

    Raises
    ------
    InputError
        Unknown dataset or file name.
    DatasetChecksumError
        A downloaded file's sha256 differs from the registry (the file is deleted).
    DatasetError
        The download failed.
    """
    dataset, _, single = str(name).partition("/")
    entry = dataset_info(dataset)
    files = entry["files"]
    if single:
        if single not in files:
            raise InputError(f"dataset {dataset!r} has no file {single!r}", source="gutaxis datasets",
                             hint=f"its files are: {', '.join(files)}")
        files = {single: files[single]}
    root = _cache_root(cache_dir)
    folder = root / dataset
    out = {fname: _fetch_file(dataset, fname, meta, folder, progress) for fname, meta in files.items()}
    return out[single] if single else out


_cache_root = cache_dir
