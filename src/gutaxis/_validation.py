"""Turn what users pass (AnnData or DataFrame) into validated arrays.

Public functions of ``gutaxis.measure`` accept either an ``anndata.AnnData`` (samples x taxa)
or a ``pandas.DataFrame`` (samples x taxa). They call :func:`abundance_frame` first, so every
index sees the same checks and the same error messages.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError

__all__ = [
    "abundance_frame",
    "abundance_matrix",
    "check_abundance",
    "feature_names",
    "finite_or_none",
    "sample_names",
    "zero_sum_samples",
]


def finite_or_none(x) -> float | None:
    """``x`` as a float when it is a finite number, else None (for JSON and pages: NaN and inf are not numbers)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _is_anndata(data) -> bool:
    return type(data).__name__ == "AnnData" and hasattr(data, "obs_names")


def _named(labels, name: str) -> pd.Index:
    """``pd.Index(labels, name=name)``; a (flat) Index is renamed, which keeps what pandas has
    cached on it (uniqueness, hash table), so repeated calls on one table do not rehash it."""
    if isinstance(labels, pd.Index) and not isinstance(labels, pd.MultiIndex):
        return labels.rename(name)
    return pd.Index(labels, name=name)


def sample_names(data) -> pd.Index:
    return _named(data.obs_names if _is_anndata(data) else data.index, "sample")


def feature_names(data) -> pd.Index:
    return _named(data.var_names if _is_anndata(data) else data.columns, "taxon")


def abundance_matrix(data, *, layer: str | None = None, name: str = "table"):
    """Return ``(X, samples, features)``; ``X`` stays sparse (CSR, float64) when it was sparse.

    Raises :class:`InputError` for negative, NaN/inf or non-numeric cells, duplicate IDs and
    empty tables, naming the offending sample and taxon.
    """
    X, samples, features = _float64_matrix(data, layer=layer, name=name, copy_sparse=True)
    check_abundance(X, samples, features, name=name)
    return X, samples, features


def _float64_matrix(data, *, layer: str | None = None, name: str = "table", copy_sparse: bool = False):
    """``(X, samples, features)`` as :func:`abundance_matrix`, without any check of ``X``.

    ``X`` is float64 (CSR when sparse). It shares memory with ``data`` where it can (a sparse
    matrix is copied only with ``copy_sparse``): do not modify it. Non-numeric DataFrame
    columns raise here; the caller must still run :func:`_check_table` and
    :func:`_check_values` (or a fused equivalent that falls back to :func:`_check_values`).
    """
    if _is_anndata(data):
        X = data.layers[layer] if layer is not None else data.X
        samples, features = sample_names(data), feature_names(data)
    elif isinstance(data, pd.DataFrame):
        if layer is not None:
            raise InputError("a layer was requested but a DataFrame has no layers", source=name)
        samples, features = sample_names(data), feature_names(data)
        dtypes = data.dtypes
        # one test per distinct dtype (a table has thousands of columns, mostly of one dtype)
        non_numeric = (
            [c for c, dtype in dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)]
            if not all(pd.api.types.is_numeric_dtype(d) for d in set(dtypes.tolist()))
            else []
        )
        if non_numeric:
            col = non_numeric[0]
            bad = pd.to_numeric(data[col], errors="coerce").isna() & data[col].notna()
            row = data.index[bad.to_numpy()][0] if bad.any() else data.index[0]
            raise InputError(
                f"non-numeric value {data.at[row, col]!r} for sample {row!r}, taxon {col!r}",
                source=name,
                hint="abundances must be numbers; fix or remove that cell",
            )
        X = data.to_numpy(dtype=np.float64)
    else:
        raise InputError(
            f"expected an AnnData or a pandas DataFrame (samples x taxa), got {type(data).__name__}",
            source=name,
            hint="read a profile with gutaxis.read_profile(...) or build a DataFrame",
        )
    X = X.tocsr().astype(np.float64, copy=copy_sparse) if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    return X, samples, features


def check_abundance(X, samples: pd.Index, features: pd.Index, *, name: str = "table") -> None:
    """Validate an abundance matrix; raise :class:`InputError` naming the first bad cell."""
    _check_table(X, samples, features, name=name)
    _check_values(X, samples, features, name=name)


def _check_table(X, samples: pd.Index, features: pd.Index, *, name: str = "table") -> None:
    """The cheap part of :func:`check_abundance`: an empty table or duplicate IDs."""
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(
            f"the table is empty ({X.shape[0]} samples x {X.shape[1]} taxa)",
            source=name,
            hint="check that the file holds a profile and the orientation is right",
        )
    for kind, idx in (("sample", samples), ("taxon", features)):
        dup = idx[idx.duplicated()]
        if len(dup):
            raise InputError(
                f"duplicate {kind} ID {dup[0]!r} ({len(dup)} duplicate(s))",
                source=name,
                hint=f"make {kind} IDs unique, or sum the duplicates first",
            )


def _check_values(X, samples: pd.Index, features: pd.Index, *, name: str = "table") -> None:
    """The full-matrix part of :func:`check_abundance`: NaN/inf first, then negative values."""
    values = X.data if sp.issparse(X) else X
    if values.size == 0 or (values.min() >= 0 and np.isfinite(values.max())):
        return  # fast path: NaN propagates through min/max, so a clean min/max means a clean table
    bad = ~np.isfinite(values)
    if bad.any():
        i, j = _locate(X, bad)
        raise InputError(
            f"missing or infinite value for sample {samples[i]!r}, taxon {features[j]!r}",
            source=name,
            hint="fill missing abundances with 0 or remove the sample",
        )
    neg = values < 0
    if neg.any():
        i, j = _locate(X, neg)
        raise InputError(
            f"negative abundance {float(_cell(X, i, j))!r} for sample {samples[i]!r}, taxon {features[j]!r}",
            source=name,
            hint="abundances must be counts or proportions >= 0",
        )


def abundance_frame(data, *, layer: str | None = None, name: str = "table") -> pd.DataFrame:
    """A validated dense samples x taxa DataFrame of float64."""
    X, samples, features = abundance_matrix(data, layer=layer, name=name)
    if sp.issparse(X):
        X = X.toarray()
    return pd.DataFrame(X, index=samples, columns=features)


def zero_sum_samples(X, samples: pd.Index, *, name: str = "table") -> None:
    """Raise :class:`InputError` if any sample sums to zero (indices that divide by the total)."""
    totals = np.asarray(X.sum(axis=1)).ravel()
    zero = np.flatnonzero(totals <= 0)
    if len(zero):
        raise InputError(
            f"sample {samples[zero[0]]!r} sums to zero ({len(zero)} such sample(s))",
            source=name,
            hint="remove empty samples before computing indices",
        )


def _locate(X, mask):
    if sp.issparse(X):
        k = int(np.flatnonzero(mask)[0])
        coo = X.tocoo()
        # CSR data order equals COO order after tocoo()
        return int(coo.row[k]), int(coo.col[k])
    i, j = np.argwhere(mask)[0]
    return int(i), int(j)


def _cell(X, i, j):
    return X[i, j]
