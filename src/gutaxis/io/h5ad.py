"""Read and write cohorts as AnnData ``.h5ad`` files.

h5ad cannot store a list of dicts in ``uns``, so :func:`write_h5ad` stores
``uns["provenance"]`` as a JSON string and :func:`read_h5ad` parses it back (a provenance
dict written by other tools is accepted as well).
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._typing import AnnDataObject
from .._validation import check_abundance, zero_sum_samples
from ..errors import InputError
from ..taxonomy import RANKS, parse_lineage
from ._container import ensure_provenance, file_sha256, gutaxis_version
from ._hdf5 import check_h5ad
from ._text import HDF5_MAGIC

__all__ = ["read_h5ad", "write_h5ad"]

log = logging.getLogger("gutaxis.io")


def read_h5ad(path: str | os.PathLike) -> AnnDataObject:
    """Read an AnnData ``.h5ad`` cohort and validate it like every other reader's output.

    ``X`` must be samples x taxa with finite values >= 0, unique IDs, no sample summing to zero.
    When ``X`` holds counts or percentages (some row sums above 1) it is moved to
    ``layers["counts"]`` (integers) or rescaled, and ``X`` becomes proportions. Missing ``var``
    lineage columns are parsed from ``var["lineage"]`` or the feature IDs.

    Parameters
    ----------
    path
        The ``.h5ad`` file.

    Returns
    -------
    anndata.AnnData
        With ``uns["provenance"]`` for this read; the provenance found in the file is kept under
        ``"upstream"`` and its ``filtered`` records are carried over.
    """
    import anndata as ad

    source = str(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except FileNotFoundError as exc:
        raise InputError("file not found", source=source, hint="check the path") from exc
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", source=source) from exc
    if not head.startswith(HDF5_MAGIC):
        raise InputError(
            "not an HDF5 file, so not an .h5ad",
            source=source,
            hint="give an .h5ad written by anndata (or use read_profile to detect the format)",
        )
    try:
        import h5py

        with h5py.File(path, "r") as handle:  # sparse arrays checked before anndata/scipy trust them
            check_h5ad(handle, os.path.getsize(path), source=source)
        adata = ad.read_h5ad(path)
    except InputError:
        raise
    except Exception as exc:  # h5py/anndata raise many types on damaged files
        raise InputError(
            f"not a readable .h5ad ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})",
            source=source,
            hint="the file may be truncated or not written by anndata",
        ) from exc

    samples = pd.Index([str(s) for s in adata.obs_names], dtype=object)
    features = pd.Index([str(f) for f in adata.var_names], dtype=object)
    X = adata.X
    if X is None:
        raise InputError("the AnnData has no X matrix", source=source, hint="store abundances in X")
    try:
        X = sp.csr_matrix(X, dtype=np.float64) if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"X is not numeric ({exc})", source=source, hint="store abundances as numbers") from exc
    if X.ndim != 2:
        raise InputError("X is not a matrix", source=source)
    check_abundance(X, samples, features, name=source)
    zero_sum_samples(X, samples, name=source)
    adata.obs_names = samples
    adata.var_names = features

    upstream = ensure_provenance(adata.uns.get("provenance"))
    notes = []
    totals = np.asarray(X.sum(axis=1)).ravel()
    if np.any(totals > 1.0 + 1e-6):
        values = np.asarray(X.data) if sp.issparse(X) else X
        if "counts" not in adata.layers and np.all(values == np.round(values)):
            adata.layers["counts"] = X.copy()
            notes.append("X held counts: moved to layers['counts'], X = proportions")
        else:
            notes.append("X rows summed above 1: X rescaled to proportions of each sample's total")
        X = sp.csr_matrix(sp.diags(1.0 / totals) @ X) if sp.issparse(X) else X / totals[:, None]
        adata.X = X
    missing = [r for r in (*RANKS, "taxon", "rank", "lineage") if r not in adata.var.columns]
    if missing:
        lineage = adata.var["lineage"].astype(str) if "lineage" in adata.var.columns else pd.Series(features)
        parsed = parse_lineage(pd.Series(lineage.to_numpy(), index=features))
        for col in missing:
            adata.var[col] = parsed[col].to_numpy()
    filtered = upstream.pop("filtered")
    prov = {
        "gutaxis_version": gutaxis_version(),
        "reader": "h5ad",
        "source": source,
        "sha256": file_sha256(path),
        "params": {},
        "filtered": filtered,
        "upstream": upstream,
    }
    if notes:
        prov["notes"] = notes
        for n in notes:
            log.info("%s: %s", source, n)
    adata.uns["provenance"] = prov
    if filtered:
        log.info("%s: carries %d filtered record(s) from when it was made", source, len(filtered))
    return adata


def write_h5ad(adata: AnnDataObject, path: str | os.PathLike) -> None:
    """Write a cohort to ``.h5ad``; ``uns["provenance"]`` is stored as a JSON string.

    Parameters
    ----------
    adata
        The cohort.
    path
        Where to write.
    """
    out = adata.copy()
    prov = out.uns.get("provenance")
    if prov is not None and not isinstance(prov, str):
        out.uns["provenance"] = json.dumps(prov, default=_json_default)
    for frame in (out.obs, out.var):
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = frame[col].map(
                    lambda v: v if v is None or isinstance(v, str) or (isinstance(v, float) and np.isnan(v)) else str(v)
                )
    try:
        out.write_h5ad(path)
    except Exception as exc:
        raise InputError(
            f"cannot write the .h5ad ({type(exc).__name__}: {exc})",
            source=str(path),
            hint="check the folder exists and is writable",
        ) from exc


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
