"""One provenance record for the files a command writes.

:func:`record` returns the JSON-ready dict that ``permanova`` writes beside its table
(``OUT.json``) and ``associate`` into ``params.json`` (key ``provenance``)::

    {"command": "gutaxis associate", "gutaxis_version": "0.1.0", "created": "2026-...Z",
     "params": {...},
     "inputs": {"profile": {"path": ..., "sha256": ..., "reader": ..., "format": ...},
                "metadata": {"path": ..., "sha256": ...}},
     "samples": {"n": 16, "sha256": ...}, "features": {"n": 256, "sha256": ...},
     "filtered": [...], "environment": {"python": ..., "packages": {...}}}

``samples`` and ``features`` describe what the command used, in its order: ``sha256`` is
:func:`ids_digest` of the IDs, so two outputs made from the same table can be compared without
listing every ID (``gutaxis report``, ``associate``, ``permanova`` on one file give the same
digests).
"""

from __future__ import annotations

import hashlib
import os
import platform
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["ids_digest", "record"]

_PACKAGES = ("numpy", "pandas", "scipy", "anndata")


def ids_digest(ids: Iterable) -> str:
    """sha256 (hex) of the IDs as text, one per line, in the order given."""
    return hashlib.sha256("\n".join(str(i) for i in ids).encode("utf-8")).hexdigest()


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _input(path, prov: Mapping | None) -> dict[str, Any]:
    """``{"path", "sha256"}`` of one input file; the reader's checksum when it has one."""
    from .io._container import file_sha256

    sha = (prov or {}).get("sha256")
    if sha is None and path is not None and os.path.isfile(path):
        sha = file_sha256(path)
    entry = {"path": None if path is None else str(path), "sha256": sha}
    for key, name in (("reader", "reader"), ("detected_format", "format")):
        if prov and prov.get(key) is not None:
            entry[name] = prov[key]
    return entry


def _parts(prov: Mapping) -> list[dict[str, Any]]:
    """The parts of a cohort joined by :func:`gutaxis.io.concat` (directly, or read back from the
    ``.h5ad`` it was written to: under ``upstream``), each ``{"key", "path", "sha256", ...}``."""
    upstream = prov.get("upstream")
    parts = prov.get("parts") or (upstream.get("parts") if isinstance(upstream, Mapping) else None) or []
    out = []
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        source = part.get("source")
        entry = {"key": part.get("key"), **_input(source if isinstance(source, str) else None, part)}
        meta = part.get("metadata")
        if isinstance(meta, Mapping):
            entry["metadata"] = _input(meta.get("source"), {"sha256": meta.get("sha256")})
        for key in ("n_samples", "n_features"):
            if part.get(key) is not None:
                entry[key] = part[key]
        out.append(entry)
    return out


def record(
    command: str,
    *,
    params: Mapping,
    adata=None,
    inputs: Mapping[str, Any] | None = None,
    samples: Iterable | None = None,
    features: Iterable | None = None,
    **extra,
) -> dict[str, Any]:
    """The provenance record of one command's output.

    Parameters
    ----------
    command
        e.g. ``"gutaxis associate"``.
    params
        The parameters the result was computed with (as the API records them).
    adata
        The cohort the command read: its reader's record (``uns["provenance"]``) gives the
        profile's and the metadata's paths and checksums, what the readers left out, and the
        samples and features when ``samples``/``features`` are not given. A cohort joined by
        :func:`gutaxis.io.concat` lists its parts (``inputs["profile"]["parts"]``).
    inputs
        More input files by role (``{"reference": path}``), or a role's path when the cohort
        does not know it; ``None`` values are left out.
    samples, features
        The IDs used, in order (default: the cohort's).
    extra
        More top-level keys (e.g. ``n_samples``).
    """
    from . import __version__

    prov = dict((adata.uns.get("provenance") or {}) if adata is not None else {})
    files: dict[str, Any] = {}
    if prov:
        source = prov.get("source")
        files["profile"] = _input(source if isinstance(source, str) else None, prov)
        if isinstance(source, list):
            files["profile"]["path"] = [str(s) for s in source]
        parts = _parts(prov)
        if parts:
            files["profile"]["parts"] = parts
        meta = prov.get("metadata")
        if isinstance(meta, Mapping):
            files["metadata"] = _input(meta.get("source"), {"sha256": meta.get("sha256")})
    for role, path in (inputs or {}).items():
        if path is None:
            continue
        if role in files and files[role].get("path") == str(path):
            continue
        files[role] = _input(path, None)
    if adata is not None:
        samples = adata.obs_names if samples is None else samples
        features = adata.var_names if features is None else features
    out: dict[str, Any] = {
        "command": command,
        "gutaxis_version": __version__,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "params": dict(params),
        "inputs": files,
    }
    for key, ids in (("samples", samples), ("features", features)):
        if ids is not None:
            ids = [str(i) for i in ids]
            out[key] = {"n": len(ids), "sha256": ids_digest(ids)}
    if prov.get("filtered"):
        out["filtered"] = list(prov["filtered"])
    out.update(extra)
    out["environment"] = {"python": platform.python_version(), "packages": _versions()}
    return out
