"""Read BIOM tables: v1 (JSON) and v2 (HDF5), through the biom-format package.

Observation metadata ``taxonomy`` (a list of ranks, or one ``;``-joined string; Greengenes
``k__``, SILVA ``D_0__`` or GTDB/SILVA 138 ``d__`` prefixes) is parsed into ``var`` rank
columns. Sample metadata, when present, becomes ``obs`` columns.
"""

from __future__ import annotations

import io
import logging
import os
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._typing import AnnDataObject
from ..errors import InputError
from ._container import build_cohort, file_sha256
from ._hdf5 import check_biom_hdf5
from ._text import HDF5_MAGIC, raw_bytes

__all__ = ["cohort_from_biom_table", "read_biom"]

log = logging.getLogger("gutaxis.io")

_TAXONOMY_KEYS = ("taxonomy", "Taxonomy", "taxon", "Taxon", "lineage", "Lineage")


def read_biom(path: str | os.PathLike) -> AnnDataObject:
    """Read a BIOM v1 (JSON) or v2 (HDF5) table.

    Parameters
    ----------
    path
        The ``.biom`` file (JSON may be gzip-compressed).

    Returns
    -------
    anndata.AnnData
        Samples x observations; ``X`` sparse (CSR) proportions of each sample's total; the values
        as given in ``layers["counts"]`` when they are all integers; ``var`` lineage from the
        ``taxonomy`` observation metadata (else from the observation IDs).

    Raises
    ------
    InputError
        When the file is not a readable BIOM table, or holds bad values.
    """
    import biom
    import h5py

    source = str(path)
    data = raw_bytes(path)
    if not data.strip():
        raise InputError("the file is empty", source=source, hint="re-export the BIOM table")
    try:
        if data.startswith(HDF5_MAGIC):
            with h5py.File(io.BytesIO(data), "r") as handle:
                check_biom_hdf5(handle, len(data), source=source)  # before biom/scipy trust its arrays
                table = biom.load_table(handle)
            version = "2 (HDF5)"
        else:
            text = data.decode("utf-8-sig")
            table = biom.load_table(io.StringIO(text))
            version = "1 (JSON)" if text.lstrip().startswith("{") else "classic (TSV)"
    except InputError:
        raise
    except Exception as exc:  # biom/h5py/json raise many types on damaged input
        raise InputError(
            f"not a readable BIOM table ({type(exc).__name__}: {_short(exc)})",
            source=source,
            hint="check that the file is a complete BIOM v1 (JSON) or v2 (HDF5) table",
        ) from exc
    return cohort_from_biom_table(
        table, source=path, reader="biom", sha256=file_sha256(path), extra_provenance={"biom_format_version": version}
    )


def _short(exc: Exception | str, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _lineage_of(md: Any) -> str | None:
    if not md:
        return None
    for key in _TAXONOMY_KEYS:
        if key in md and md[key] is not None:
            value = md[key]
            if isinstance(value, (list, tuple, np.ndarray)):
                parts = [str(v).strip() for v in value]
                return "; ".join(parts)
            return str(value)
    return None


def cohort_from_biom_table(
    table,
    *,
    source,
    reader: str,
    sha256: str | None,
    extra_provenance: dict[str, Any] | None = None,
    params: dict | None = None,
) -> AnnDataObject:
    """Turn a ``biom.Table`` into a cohort AnnData (shared by :func:`read_biom` and ``read_qza``)."""
    try:
        sample_ids = [str(s) for s in table.ids(axis="sample")]
        obs_ids = [str(o) for o in table.ids(axis="observation")]
        matrix = table.matrix_data
        obs_md = table.metadata(axis="observation")
        sample_md = table.metadata(axis="sample")
        table_type = getattr(table, "type", None)
        table_id = getattr(table, "table_id", None)
        generated_by = getattr(table, "generated_by", None)
    except Exception as exc:
        raise InputError(
            f"the BIOM table is malformed ({type(exc).__name__}: {_short(exc)})",
            source=str(source),
            hint="re-export the table",
        ) from exc
    if not sp.issparse(matrix):
        matrix = sp.csr_matrix(np.asarray(matrix, dtype=np.float64))
    values = sp.csr_matrix(matrix.T, dtype=np.float64)
    if values.shape != (len(sample_ids), len(obs_ids)):
        raise InputError(
            f"the BIOM matrix shape {values.shape[::-1]} does not match its "
            f"{len(obs_ids)} observation and {len(sample_ids)} sample IDs",
            source=str(source),
            hint="re-export the table",
        )

    lineage = None
    if obs_md is not None:
        found = [_lineage_of(md) for md in obs_md]
        if any(f is not None for f in found):
            lineage = [f if f is not None else o for f, o in zip(found, obs_ids, strict=True)]
    obs = None
    if sample_md is not None:
        rows = []
        for md in sample_md:
            row = {}
            for k, v in dict(md or {}).items():
                row[str(k)] = "; ".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else v
            rows.append(row)
        obs = pd.DataFrame(rows, index=sample_ids)
        if not len(obs.columns):
            obs = None
    extra = dict(extra_provenance or {})
    extra["biom"] = {
        "type": None if table_type is None else str(table_type),
        "table_id": None if table_id is None else str(table_id),
        "generated_by": None if generated_by is None else str(generated_by),
    }
    return build_cohort(
        values,
        sample_ids,
        obs_ids,
        source=source,
        reader=reader,
        sha256=sha256,
        params=params or {},
        scale="total",
        lineage=lineage,
        obs=obs,
        extra_provenance=extra,
    )
