"""Build the cohort AnnData every reader returns, with its provenance.

The data contract (``docs/contributing.md``): samples x taxa; ``var`` lineage by rank
(``kingdom ... strain``, ``taxon``, ``rank``, ``lineage``); ``X`` proportions; counts in
``layers["counts"]`` when the input had counts; ``obs["unclassified_fraction"]`` when the
format has an unclassified row; ``uns["provenance"]`` with ``gutaxis_version``, ``reader``,
``source``, ``sha256``, ``params`` and ``filtered`` (a list of ``{"what", "reason", "n", "ids"}``).
Everything a reader leaves out is listed in ``filtered`` and announced by one
:class:`FilteredWarning`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._typing import AnnDataObject
from .._validation import check_abundance, zero_sum_samples
from ..errors import InputError

__all__ = [
    "FilteredWarning",
    "announce_filtered",
    "build_cohort",
    "ensure_provenance",
    "file_sha256",
    "filtered_entry",
    "format_ids",
    "gutaxis_version",
]

log = logging.getLogger("gutaxis.io")


class FilteredWarning(UserWarning):
    """A reader (or :func:`gutaxis.taxonomy.collapse`) left something out of the table.

    What was left out, why and which IDs are listed in ``uns["provenance"]["filtered"]``.
    """


def gutaxis_version() -> str:
    from .. import __version__

    return __version__


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InputError(
            f"cannot read the file ({exc.strerror or exc})", source=path, hint="check the path and the file permissions"
        ) from exc
    return digest.hexdigest()


def format_ids(ids: Sequence, limit: int = 5) -> str:
    """``'a', 'b', 'c' and 7 more`` -- at most ``limit`` IDs named."""
    ids = [str(i) for i in ids]
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown if len(ids) <= limit else f"{shown} and {len(ids) - limit} more"


def filtered_entry(what: str, reason: str, ids: Sequence) -> dict[str, Any]:
    """One ``filtered`` record: ``{"what", "reason", "n", "ids"}``."""
    ids = [str(i) for i in ids]
    return {"what": what, "reason": reason, "n": len(ids), "ids": ids}


def announce_filtered(entries: Sequence[dict], source: str, *, stacklevel: int = 3) -> None:
    """One :class:`FilteredWarning` summarising ``entries`` (nothing when there are none)."""
    if not entries:
        return
    parts = [f"{e['n']} {e['what']} ({e['reason']})" for e in entries]
    message = f"{source}: left out " + "; ".join(parts) + " -- listed in uns['provenance']['filtered']"
    log.info(message)
    warnings.warn(message, FilteredWarning, stacklevel=stacklevel)


def _normalise_filtered(value) -> list[dict]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, np.ndarray):
        value = value.tolist()
    out = []
    for item in value if isinstance(value, (list, tuple)) else []:
        if isinstance(item, dict):
            entry = dict(item)
            ids = entry.get("ids", [])
            entry["ids"] = [str(i) for i in (ids.tolist() if isinstance(ids, np.ndarray) else list(ids))]
            entry["n"] = int(entry.get("n", len(entry["ids"])))
            out.append(entry)
    return out


def ensure_provenance(prov) -> dict[str, Any]:
    """A provenance dict with at least the contract keys (a copy; JSON strings are parsed)."""
    if isinstance(prov, str):
        try:
            prov = json.loads(prov)
        except ValueError:
            prov = {}
    prov = dict(prov) if isinstance(prov, dict) else {}
    prov.setdefault("gutaxis_version", gutaxis_version())
    prov.setdefault("reader", None)
    prov.setdefault("source", None)
    prov.setdefault("sha256", None)
    prov.setdefault("params", {})
    prov["filtered"] = _normalise_filtered(prov.get("filtered"))
    return prov


def _is_integral(values: np.ndarray) -> bool:
    return bool(values.size == 0 or np.all(values == np.round(values)))


def _to_str_index(labels) -> pd.Index:
    return pd.Index([str(x) for x in labels], dtype=object)


def build_cohort(
    values,
    samples: Sequence,
    features: Sequence,
    *,
    source: str | os.PathLike | Sequence,
    reader: str,
    sha256: str | list[str] | None,
    params: dict[str, Any],
    scale: str,
    lineage: Sequence | None = None,
    filtered: list[dict] | None = None,
    unclassified: np.ndarray | None = None,
    counts=None,
    obs: pd.DataFrame | None = None,
    extra_provenance: dict[str, Any] | None = None,
    warn_stacklevel: int = 4,
    keep_values: bool = False,
) -> AnnDataObject:
    """Validate a samples x taxa matrix and wrap it as a cohort AnnData.

    Parameters
    ----------
    values
        Dense array or scipy sparse matrix, samples x taxa, as read.
    samples, features
        Sample and feature IDs.
    source
        The file (or files) read; used in messages and provenance.
    reader, sha256, params
        Provenance fields.
    scale
        ``"percent"``: values are percentages, ``X = values / 100`` (MetaPhlAn). ``"total"``:
        ``X = values / row sum`` and, when every value is an integer, ``layers["counts"] = values``.
    lineage
        Lineage string per feature (defaults to the feature IDs) parsed into ``var``.
    filtered
        Records of what the reader left out; announced by one :class:`FilteredWarning`.
    unclassified
        Per-sample unclassified fraction (proportion) for ``obs["unclassified_fraction"]``.
    counts
        Counts to store in ``layers["counts"]`` (overrides the integer rule).
    obs
        Extra per-sample columns (index: sample IDs).
    extra_provenance
        More provenance keys (e.g. ``detected_format``, artifact uuid).
    keep_values
        Also keep the values as given in ``layers["values"]`` and accept samples that sum to
        zero (their ``X`` row is 0): for models of the values as given (``associate``, whose
        MaAsLin2 path leaves empty samples out of every model itself).

    Returns
    -------
    anndata.AnnData
    """
    import anndata as ad

    from ..taxonomy import parse_lineage

    name = source if isinstance(source, (str, os.PathLike)) else ", ".join(str(s) for s in source)
    name = str(name)
    samples = _to_str_index(samples)
    features = _to_str_index(features)
    if sp.issparse(values):
        values = sp.csr_matrix(values, dtype=np.float64)
        values.sum_duplicates()
    else:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2:
            raise InputError("the table is not two-dimensional", source=name)
    check_abundance(values, samples, features, name=name)
    if not keep_values:
        zero_sum_samples(values, samples, name=name)

    layers = {}
    if scale == "percent":
        X = values / 100.0 if not sp.issparse(values) else values.multiply(1 / 100.0).tocsr()
    elif scale == "total":
        totals = np.asarray(values.sum(axis=1), dtype=np.float64).ravel()
        if keep_values:
            totals = np.where(totals > 0, totals, 1.0)  # an empty sample keeps a row of zeros
        if sp.issparse(values):
            X = sp.diags(1.0 / totals) @ values
            X = sp.csr_matrix(X)
            integral = _is_integral(values.data)
        else:
            X = values / totals[:, None]
            integral = _is_integral(values)
        if integral and counts is None:
            layers["counts"] = values.copy()
    else:  # pragma: no cover - programming error
        raise ValueError(f"unknown scale {scale!r}")
    if counts is not None:
        layers["counts"] = counts
    if keep_values:
        layers["values"] = values.copy()

    lineage = list(features) if lineage is None else [str(x) for x in lineage]
    var = parse_lineage(pd.Series(lineage, index=features))
    var.index = features
    obs_frame = pd.DataFrame(index=samples)
    if obs is not None and len(obs.columns):
        obs_frame = obs_frame.join(obs.set_axis([str(i) for i in obs.index], axis=0), how="left")
    if unclassified is not None:
        obs_frame["unclassified_fraction"] = np.asarray(unclassified, dtype=np.float64)

    filtered = list(filtered or [])
    src = [str(s) for s in source] if not isinstance(source, (str, os.PathLike)) else str(source)
    prov: dict[str, Any] = {
        "gutaxis_version": gutaxis_version(),
        "reader": reader,
        "source": src,
        "sha256": sha256,
        "params": dict(params),
        "filtered": filtered,
    }
    if extra_provenance:
        prov.update(extra_provenance)
    adata = ad.AnnData(X=X, obs=obs_frame, var=var, layers=layers or None)
    adata.uns["provenance"] = prov
    announce_filtered(filtered, name, stacklevel=warn_stacklevel)
    return adata
