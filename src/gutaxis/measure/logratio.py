"""Aitchison and robust Aitchison distances: Euclidean distances of log-ratio transformed samples.

- **CLR** (centred log-ratio; Aitchison 1986, *The Statistical Analysis of Compositional Data*,
  Chapman & Hall; Aitchison et al. 2000, doi:10.1023/A:1007529726302):
  ``clr(x)_k = ln x_k - mean_l ln x_l``. The logarithm needs every part positive, so zeros are
  replaced first (``pseudocount``):

  * ``"multiplicative"`` (default): scikit-bio's convention (``skbio.stats.composition``
    ``closure`` then ``multi_replace``; Martín-Fernández et al. 2003,
    doi:10.1023/A:1023866030544). Each sample is closed to proportions, every zero becomes
    ``delta = 1 / D**2`` (``D`` = number of features of the table, zero-everywhere features
    included) and the positive parts are shrunk by ``1 - n_zeros * delta`` so that the sample
    still sums to 1. It works the same for counts and relative abundances.
  * a number ``c > 0``: ``c`` is added to every value first (vegan's
    ``vegdist(x, "aitchison", pseudocount = c)``; ``c = 1`` is common for counts, nonsense for
    proportions).
  * ``0``: no replacement; a zero is refused with an :class:`InputError` naming the sample and
    feature.

  The **Aitchison distance** is the Euclidean distance of the CLR-transformed samples (vegan's
  ``"aitchison"``, scikit-bio's ``clr`` then Euclidean).

- **rCLR** (robust CLR; Martino et al. 2019, doi:10.1128/mSystems.00016-19), as vegan's
  ``decostand(x, "rclr")`` documents it: for each sample, the logarithm of every *positive*
  value divided by the geometric mean of the sample's positive values; zeros stay 0 and do not
  enter the geometric mean. No pseudocount. The **robust Aitchison distance** is the Euclidean
  distance of rCLR-transformed samples (vegan ``vegdist(x, "robust.aitchison")``). Two samples
  sharing no features are therefore not "maximally" distant: the distance only counts the
  spread of each one's observed parts.

Both distances are invariant to the scale of a sample (counts or proportions give the same
value), except with a fixed numeric pseudocount, which is added to the values as given.

Samples summing to zero have no composition: they raise :class:`InputError` (name them and
remove them). Distances are computed for blocks of rows from the transformed table
(``n_samples x n_features`` float64 in memory) with one matrix product per block,
``|a - b|^2 = |a|^2 + |b|^2 - 2 a.b``, after centring the columns (which leaves distances
unchanged and keeps the norms small); pairs whose squared distance is small next to the
squared norms (where that formula loses digits) are recomputed from the differences, so
every distance is exact to rounding.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._typing import AbundanceData
from .._validation import abundance_matrix, feature_names
from ..errors import InputError
from ._blocks import block_size as _block_size

__all__ = ["AITCHISON_METRICS", "aitchison", "clr", "rclr", "robust_aitchison"]

AITCHISON_METRICS = ("aitchison", "robust_aitchison")
#: the default zero replacement of the CLR (scikit-bio's multiplicative replacement)
DEFAULT_PSEUDOCOUNT = "multiplicative"
_RECHECK = 1e-3  # recompute pairs with d^2 < _RECHECK * (|a|^2 + |b|^2) from the differences


def _check_pseudocount(pseudocount, source: str):
    if isinstance(pseudocount, str):
        if pseudocount.lower() != "multiplicative":
            raise InputError(
                f"unknown pseudocount {pseudocount!r}",
                source=source,
                hint="give 'multiplicative' (scikit-bio's multiplicative replacement), a number "
                "added to every value (e.g. 1 for counts), or 0 (refuse zeros)",
            )
        return "multiplicative"
    try:
        c = float(pseudocount)
    except (TypeError, ValueError):
        raise InputError(
            f"pseudocount must be 'multiplicative' or a number >= 0, got {pseudocount!r}",
            source=source,
            hint="e.g. pseudocount=1 for counts",
        ) from None
    if not np.isfinite(c) or c < 0:
        raise InputError(
            f"pseudocount must be 'multiplicative' or a finite number >= 0, got {pseudocount!r}",
            source=source,
            hint="e.g. pseudocount=1 for counts",
        )
    return c


def _dense(X) -> np.ndarray:
    return X.toarray() if sp.issparse(X) else np.array(X, dtype=np.float64, copy=True)


def _refuse_empty(X, samples: pd.Index, source: str) -> np.ndarray:
    totals = np.asarray(X.sum(axis=1)).ravel()
    empty = np.flatnonzero(totals <= 0)
    if len(empty):
        names = ", ".join(repr(samples[i]) for i in empty[:5])
        raise InputError(
            f"{len(empty)} sample(s) sum to zero and have no composition, so their log-ratio "
            f"transform is undefined: {names}{' ...' if len(empty) > 5 else ''}",
            source=source,
            hint="remove the empty samples before computing Aitchison distances",
        )
    return totals


def _clr_matrix(X, samples: pd.Index, features: pd.Index, pseudocount, source: str) -> np.ndarray:
    """CLR of the validated ``X`` (n x D) as a new dense float64 array."""
    pc = _check_pseudocount(pseudocount, source)
    totals = _refuse_empty(X, samples, source)
    Z = _dense(X)
    if pc == "multiplicative":
        D = Z.shape[1]
        delta = 1.0 / D**2
        Z /= totals[:, None]
        zero = Z == 0
        nz = zero.sum(axis=1)
        Z *= (1.0 - nz * delta)[:, None]
        Z[zero] = delta
    else:
        if pc > 0:
            Z += pc
        elif (Z == 0).any():
            i, k = np.argwhere(Z == 0)[0]
            raise InputError(
                f"zero value for sample {samples[i]!r}, feature {features[k]!r}: the CLR needs "
                "positive values and pseudocount=0 adds nothing",
                source=source,
                hint="use pseudocount='multiplicative' (default) or a positive pseudocount, or "
                "the robust Aitchison distance, which ignores zeros",
            )
    np.log(Z, out=Z)
    Z -= Z.mean(axis=1, keepdims=True)
    return Z


def _rclr_matrix(X, samples: pd.Index, source: str) -> np.ndarray:
    """rCLR of the validated ``X``: log of each positive value over the geometric mean of the
    sample's positive values; zeros stay 0."""
    _refuse_empty(X, samples, source)
    Z = _dense(X)
    pos = Z > 0
    L = np.zeros_like(Z)
    np.log(Z, out=L, where=pos)
    mean_log = L.sum(axis=1) / pos.sum(axis=1)
    L -= mean_log[:, None]
    L[~pos] = 0.0
    return L


def _transform(data, metric: str, pseudocount, normalize: bool, source: str, features: pd.Index | None = None):
    X, samples, feats = abundance_matrix(data, name=source)
    if features is not None and not feats.equals(features):
        X = _align(X, feats, features)
        feats = features
    if normalize:  # only matters for a fixed pseudocount: CLR and rCLR are scale invariant
        totals = _refuse_empty(X, samples, source)
        X = sp.csr_matrix(sp.diags(1.0 / totals) @ X) if sp.issparse(X) else X / totals[:, None]
    if metric == "aitchison":
        return _clr_matrix(X, samples, feats, pseudocount, source), samples
    return _rclr_matrix(X, samples, source), samples


def _align(X, old: pd.Index, new: pd.Index):
    """Columns of ``X`` (features ``old``) placed at their positions in ``new`` (a superset); 0 elsewhere."""
    pos = new.get_indexer(old)
    move = sp.csr_matrix((np.ones(len(old)), (np.arange(len(old)), pos)), shape=(len(old), len(new)))
    return sp.csr_matrix(sp.csr_matrix(X) @ move)


def clr(data: AbundanceData, *, pseudocount: str | float = "multiplicative") -> pd.DataFrame:
    """Centred log-ratio transform of every sample (see the module's notes on ``pseudocount``).

    Parameters
    ----------
    data
        AnnData or samples x features DataFrame (counts or relative abundances, values >= 0).
    pseudocount
        ``"multiplicative"`` (default; scikit-bio's ``multi_replace`` after closing each
        sample, ``delta = 1 / n_features**2``), a number added to every value, or ``0``.

    Returns
    -------
    DataFrame of the same shape, each row summing to 0.

    Examples
    --------
    clr(x) = ln x - mean(ln x): for (1, 2, 4) the logs are (0, ln 2, 2 ln 2), their mean ln 2.

    >>> import pandas as pd
    >>> from gutaxis import clr
    >>> clr(pd.DataFrame({"a": [1], "b": [2], "c": [4]}, index=["s1"])).round(4)
    taxon        a    b       c
    sample
    s1     -0.6931  0.0  0.6931
    """
    X, samples, feats = abundance_matrix(data, name="clr")
    Z = _clr_matrix(X, samples, feats, pseudocount, "clr")
    out = pd.DataFrame(Z, index=samples, columns=feats, copy=False)
    out.attrs["params"] = {"transform": "clr", "pseudocount": _check_pseudocount(pseudocount, "clr")}
    return out


def rclr(data: AbundanceData) -> pd.DataFrame:
    """Robust CLR (vegan's ``decostand(x, "rclr")``): zeros stay 0; every positive value becomes
    the log of its ratio to the geometric mean of the sample's positive values."""
    X, samples, feats = abundance_matrix(data, name="rclr")
    out = pd.DataFrame(_rclr_matrix(X, samples, "rclr"), index=samples, columns=feats, copy=False)
    out.attrs["params"] = {"transform": "rclr"}
    return out


class _Euclid:
    """Blockwise Euclidean distances between the rows of ``A`` and those of ``B``."""

    def __init__(self, A: np.ndarray, B: np.ndarray, same: bool):
        centre = A.mean(axis=0) if same else np.vstack([A, B]).mean(axis=0)
        self.A = A - centre
        self.B = self.A if same else B - centre
        self.a2 = np.einsum("ij,ij->i", self.A, self.A)
        self.b2 = self.a2 if same else np.einsum("ij,ij->i", self.B, self.B)
        self.same = same

    def rows(self, r0: int, r1: int, out: np.ndarray) -> np.ndarray:
        Ar = self.A[r0:r1]
        d2 = self.a2[r0:r1, None] + self.b2[None, :] - 2.0 * (Ar @ self.B.T)
        scale = self.a2[r0:r1, None] + self.b2[None, :]
        redo = np.argwhere(d2 < _RECHECK * scale)
        if len(redo):
            diff = Ar[redo[:, 0]] - self.B[redo[:, 1]]
            d2[redo[:, 0], redo[:, 1]] = np.einsum("ij,ij->i", diff, diff)
        np.maximum(d2, 0.0, out=d2)
        np.sqrt(d2, out=d2)
        if self.same:
            idx = np.arange(r0, r1)
            d2[idx - r0, idx] = 0.0
        out[...] = d2
        return out


def _iter(eu: _Euclid, block_size: int | None) -> Iterator[tuple[slice, np.ndarray]]:
    n_a, n_b = eu.A.shape[0], eu.B.shape[0]
    bs = _block_size(block_size, n_b)
    buf = np.empty((min(bs, n_a), n_b))
    for r0 in range(0, n_a, bs):
        r1 = min(n_a, r0 + bs)
        yield slice(r0, r1), eu.rows(r0, r1, buf[: r1 - r0])


def distance(
    data,
    metric: str,
    *,
    pseudocount="multiplicative",
    normalize: bool = False,
    block_size: int | None = None,
    out=None,
    dtype=np.float64,
):
    """Square Aitchison / robust Aitchison distances (the back end of
    :func:`gutaxis.beta_diversity` for these metrics)."""
    T, samples = _transform(data, metric, pseudocount, normalize, "beta_diversity")
    eu = _Euclid(T, T, True)
    n = T.shape[0]
    params = {"metric": metric, "normalize": bool(normalize), "dtype": np.dtype(dtype).name}
    if metric == "aitchison":
        params["pseudocount"] = _check_pseudocount(pseudocount, "beta_diversity")
    if out is not None:
        path = Path(out)
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n, n))
        for rows, block in _iter(eu, block_size):
            mm[rows] = block
        mm.flush()
        del mm
        return np.lib.format.open_memmap(path, mode="r+")
    D = np.empty((n, n), dtype=dtype)
    bs = _block_size(block_size, n)
    for r0 in range(0, n, bs):
        r1 = min(n, r0 + bs)
        D[r0:r1] = eu.rows(r0, r1, np.empty((r1 - r0, n)))
    D = np.minimum(D, D.T)  # exact symmetry (the two triangles differ by rounding only)
    result = pd.DataFrame(D, index=samples, columns=samples.copy(), copy=False)
    result.attrs["params"] = params
    return result


def blocks(
    data, metric: str, block_size: int | None = None, *, pseudocount="multiplicative", normalize: bool = False
) -> Iterator[tuple[slice, np.ndarray]]:
    """``(row_slice, block)`` pairs of the square distance matrix (see :func:`gutaxis.measure.beta_blocks`)."""
    T, _ = _transform(data, metric, pseudocount, normalize, "beta_blocks")
    _block_size(block_size, T.shape[0])
    return _iter(_Euclid(T, T, True), block_size)


def _pair(data_a, data_b, metric, pseudocount, normalize):
    for name, d in (("data_a", data_a), ("data_b", data_b)):
        if not isinstance(d, pd.DataFrame) and not hasattr(d, "var_names"):
            abundance_matrix(d, name=name)  # raises InputError naming the type
    fa, fb = feature_names(data_a), feature_names(data_b)
    union = fa if fa.equals(fb) else fa.append(fb.difference(fa, sort=False))
    A, sa = _transform(data_a, metric, pseudocount, normalize, "data_a", union)
    B, sb = _transform(data_b, metric, pseudocount, normalize, "data_b", union)
    return A, sa, B, sb


def cross_blocks(
    data_a, data_b, metric: str, block_size: int | None = None, *, pseudocount="multiplicative", normalize: bool = False
) -> Iterator[tuple[slice, np.ndarray]]:
    """Distances of the samples of ``data_a`` to those of ``data_b``, block by block; features
    aligned by name (a feature missing from one table is 0 there, and counts in ``D`` of the
    multiplicative replacement)."""
    A, _, B, _ = _pair(data_a, data_b, metric, pseudocount, normalize)
    _block_size(block_size, B.shape[0])
    return _iter(_Euclid(A, B, False), block_size)


def cross(
    data_a,
    data_b,
    metric: str,
    *,
    pseudocount="multiplicative",
    normalize: bool = False,
    block_size: int | None = None,
    dtype=np.float64,
) -> pd.DataFrame:
    """``n_a x n_b`` DataFrame of distances between two sample sets (see :func:`cross_blocks`)."""
    A, sa, B, sb = _pair(data_a, data_b, metric, pseudocount, normalize)
    D = np.empty((A.shape[0], B.shape[0]), dtype=dtype)
    for rows, block in _iter(_Euclid(A, B, False), block_size):
        D[rows] = block
    result = pd.DataFrame(D, index=sa, columns=sb, copy=False)
    result.attrs["params"] = {"metric": metric, "normalize": bool(normalize), "dtype": np.dtype(dtype).name}
    if metric == "aitchison":
        result.attrs["params"]["pseudocount"] = _check_pseudocount(pseudocount, "cross_distance")
    return result


@overload
def aitchison(
    data: AbundanceData, *, pseudocount: str | float = ..., out: None = None, **kwargs: Any
) -> pd.DataFrame: ...


@overload
def aitchison(
    data: AbundanceData, *, pseudocount: str | float = ..., out: str | os.PathLike[str], **kwargs: Any
) -> np.memmap: ...


def aitchison(
    data: AbundanceData, *, pseudocount: str | float = "multiplicative", **kwargs: Any
) -> pd.DataFrame | np.memmap:
    """Aitchison distance (Euclidean distance of CLR) between all samples; see
    :func:`gutaxis.beta_diversity`."""
    from .beta import beta_diversity

    return beta_diversity(data, "aitchison", pseudocount=pseudocount, **kwargs)


@overload
def robust_aitchison(data: AbundanceData, *, out: None = None, **kwargs: Any) -> pd.DataFrame: ...


@overload
def robust_aitchison(data: AbundanceData, *, out: str | os.PathLike[str], **kwargs: Any) -> np.memmap: ...


def robust_aitchison(data: AbundanceData, **kwargs: Any) -> pd.DataFrame | np.memmap:
    """Robust Aitchison distance (Euclidean distance of rCLR, vegan's ``"robust.aitchison"``)
    between all samples; see :func:`gutaxis.beta_diversity`."""
    from .beta import beta_diversity

    return beta_diversity(data, "robust_aitchison", **kwargs)
