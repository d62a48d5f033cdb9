"""Beta diversity: exact Bray-Curtis and Jaccard distances, in memory or blockwise to disk.

Definitions, as vegan ``vegdist`` (Oksanen et al., https://CRAN.R-project.org/package=vegan) and
``scipy.spatial.distance``:

- Bray-Curtis (Bray & Curtis 1957, doi:10.2307/1942268), on the values **as given**:
  ``BC_ij = sum_k |x_ik - x_jk| / sum_k (x_ik + x_jk)``. Like vegan and scipy, gutaxis does not
  renormalise samples first (``normalize=False``); pass ``normalize=True`` to divide every
  sample by its total (relative abundances) before the distance.
- Jaccard (Jaccard 1912, doi:10.1111/j.1469-8137.1912.tb05611.x) on presence/absence (value > 0):
  ``1 - |A n B| / |A u B|`` (vegan ``vegdist(x, "jaccard", binary=TRUE)``, scipy ``jaccard`` on
  booleans).

Empty samples (all zero) follow vegan: the distance of two empty samples is 0/0 = NaN
(scipy agrees for Bray-Curtis; scipy's Jaccard returns 0 there, vegan NaN), an empty sample is at
distance 1 from any non-empty one, and the diagonal is 0. A warning names the empty samples.

The computation is exact (no sketching). An inverted index visits only taxa that two samples
share (see :mod:`gutaxis.measure._kernels`); rows run in parallel with numba. ``n x n`` work is
done in row blocks: :func:`beta_blocks` yields them, ``beta_diversity(..., out="d.npy")``
streams them to a ``.npy`` file and returns a memory map, so 50,000 samples need memory for
one block (``block_size`` rows x ``n`` float64), not for the whole matrix.

Further metrics, computed elsewhere and returned the same way:

- ``"aitchison"`` and ``"robust_aitchison"`` (vegan's ``"robust.aitchison"``): Euclidean
  distances of CLR / robust-CLR transformed samples, blockwise too; the zero replacement of
  the CLR is the ``pseudocount`` argument (default: scikit-bio's multiplicative replacement).
  See :mod:`gutaxis.measure.logratio`.
- ``"unweighted_unifrac"`` and ``"weighted_unifrac"`` with ``tree=`` (a Newick file or a
  ``skbio.TreeNode``): computed by scikit-bio, see :mod:`gutaxis.measure.phylo`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, overload

import numba
import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from .._typing import AbundanceData, ClientLike, TreeLike, ZarrArray
from .._validation import abundance_matrix, feature_names
from ..errors import InputError
from . import _beta_dask, _kernels
from ._blocks import block_size as _block_size

__all__ = [
    "BETA_METRICS",
    "beta_blocks",
    "beta_diversity",
    "bray_curtis",
    "bray_curtis_cross",
    "cross_blocks",
    "cross_distance",
    "jaccard",
]

BETA_METRICS = ("braycurtis", "jaccard", "aitchison", "robust_aitchison", "unweighted_unifrac", "weighted_unifrac")
_ALIASES = {
    "braycurtis": "braycurtis",
    "bray_curtis": "braycurtis",
    "bray": "braycurtis",
    "jaccard": "jaccard",
    "aitchison": "aitchison",
    "robust_aitchison": "robust_aitchison",
    "robust.aitchison": "robust_aitchison",
    "unweighted_unifrac": "unweighted_unifrac",
    "unifrac": "unweighted_unifrac",
    "weighted_unifrac": "weighted_unifrac",
}
_LOGRATIO = ("aitchison", "robust_aitchison")
_UNIFRAC = ("unweighted_unifrac", "weighted_unifrac")


def _metric(metric: str) -> str:
    key = str(metric).lower().replace("-", "_")
    if key not in _ALIASES:
        raise InputError(
            f"unknown beta diversity metric {metric!r}",
            source="beta_diversity",
            hint=f"choose from {', '.join(BETA_METRICS)}",
        )
    return _ALIASES[key]


def _check_extras(metric: str, pseudocount, tree, source: str, blockwise: bool = False) -> None:
    """``pseudocount`` belongs to the Aitchison distance, ``tree`` to UniFrac: refuse them elsewhere."""
    if tree is not None and metric not in _UNIFRAC:
        raise InputError(
            f"a tree was given but the {metric} distance does not use one",
            source=source,
            hint="use metric='unweighted_unifrac' or 'weighted_unifrac' with tree=, or leave tree out",
        )
    if metric in _UNIFRAC:
        if blockwise:
            raise InputError(
                f"{metric} is computed by scikit-bio for all samples at once, not blockwise",
                source=source,
                hint="use gutaxis.beta_diversity(data, metric, tree=...)",
            )
        if tree is None:
            raise InputError(
                f"the {metric} distance needs a phylogenetic tree of the features",
                source=source,
                hint="give tree= (a Newick file or a skbio.TreeNode whose tips are the feature IDs)",
            )
    if not (isinstance(pseudocount, str) and pseudocount.lower() == "multiplicative") and metric != "aitchison":
        raise InputError(
            f"pseudocount={pseudocount!r} was given but the {metric} distance does not use one",
            source=source,
            hint="pseudocount applies to metric='aitchison' only",
        )


class _Prepared:
    """A validated table as CSR (queries), CSC (inverted index) and row totals."""

    def __init__(self, data, metric: str, normalize: bool, name: str, features: pd.Index | None = None):
        X, samples, feats = abundance_matrix(data, name=name)
        csr = _kernels.as_csr64(X)
        if features is not None and not feats.equals(features):
            csr = _reindex_columns(csr, feats, features)
            feats = features
        self.metric = metric
        self.binary = metric == "jaccard"
        self.samples = samples
        self.features = feats
        # kernel arrays: one signature (int64 indices) whatever index dtype scipy chose
        self.indptr = csr.indptr.astype(np.int64, copy=False)
        self.indices = csr.indices.astype(np.int64, copy=False)
        self.data = np.ascontiguousarray(csr.data, dtype=np.float64)
        sums = np.empty(csr.shape[0])
        _kernels.row_sums(self.indptr, self.data, False, sums)
        self.empty = np.flatnonzero(sums <= 0)
        if len(self.empty):
            warnings.warn(
                f"{name}: {len(self.empty)} sample(s) sum to zero (e.g. {samples[self.empty[0]]!r}); "
                f"the {metric} distance between two empty samples is NaN (0/0, as vegan), "
                "and 1 to any non-empty sample",
                UserWarning,
                stacklevel=4,
            )
        if self.binary:
            _kernels.row_sums(self.indptr, self.data, True, sums)
        elif normalize:
            scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
            self.data = self.data * np.repeat(scale, np.diff(self.indptr))
            _kernels.row_sums(self.indptr, self.data, False, sums)
        self.sums = sums
        self.shape = csr.shape
        self._csc = None

    @property
    def csc(self):
        """``(colptr, rowidx, data)`` of the table in CSC form, postings sorted by sample."""
        if self._csc is None:
            csr = sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)
            csc = csr.tocsc()
            csc.sort_indices()
            self._csc = (
                csc.indptr.astype(np.int64, copy=False),
                csc.indices.astype(np.int64, copy=False),
                np.ascontiguousarray(csc.data, dtype=np.float64),
            )
        return self._csc

    def __len__(self):
        return self.shape[0]


def _reindex_columns(csr, old: pd.Index, new: pd.Index):
    pos = new.get_indexer(old)
    if (pos < 0).any():  # pragma: no cover - callers pass a superset
        raise AssertionError("feature index is not a superset")
    return _kernels.as_csr64(sp.csr_matrix((csr.data, pos[csr.indices], csr.indptr), shape=(csr.shape[0], len(new))))


def _dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.float32, np.float64):
        raise InputError(f"dtype must be float32 or float64, got {dtype!r}", source="beta_diversity")
    return dt


def _compute(a: _Prepared, b: _Prepared, r0: int, r1: int, out: np.ndarray, upper: bool = False) -> np.ndarray:
    """Rows ``r0:r1`` of the distances of A to B into ``out`` (float32/64, C-contiguous).

    ``upper`` (A is B): only the part right of the diagonal is computed."""
    colptr, rowidx, cdata = b.csc
    _kernels.cross_rows(
        a.indptr, a.indices, a.data, a.sums, r0, r1,
        colptr, rowidx, cdata, b.sums, a.binary, a is b, upper and a is b, 4 * numba.get_num_threads(), out,
    )  # fmt: skip
    return out


def _iter_cross(a: _Prepared, b: _Prepared, block_size: int | None) -> Iterator[tuple[slice, np.ndarray]]:
    n_a, n_b = len(a), len(b)
    bs = _block_size(block_size, n_b)
    buf = np.empty((min(bs, n_a), n_b))
    for r0 in range(0, n_a, bs):
        r1 = min(n_a, r0 + bs)
        yield slice(r0, r1), _compute(a, b, r0, r1, buf[: r1 - r0])


def beta_blocks(
    data: AbundanceData,
    metric: str = "braycurtis",
    block_size: int | None = None,
    *,
    normalize: bool = False,
    n_jobs: int | None = None,
    pseudocount: str | float = "multiplicative",
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(row_slice, block)`` with ``block = D[row_slice, :]`` (float64), block by block.

    The block array is reused between iterations: copy it if you keep it. Memory is
    ``block_size x n_samples`` float64 (default: about 128 MiB). Rows/columns follow the
    sample order of ``data``.
    """
    metric = _metric(metric)
    _check_extras(metric, pseudocount, None, "beta_blocks", blockwise=True)
    if metric in _LOGRATIO:
        from . import logratio

        return logratio.blocks(data, metric, block_size, pseudocount=pseudocount, normalize=normalize)
    prep = _Prepared(data, metric, normalize, "beta_blocks")  # validate now, not at first next()
    _block_size(block_size, len(prep))
    return _threaded(_iter_cross(prep, prep, block_size), n_jobs)


def _threaded(blocks: Iterator, n_jobs: int | None) -> Iterator:
    with _kernels.threads(n_jobs):
        yield from blocks


@overload
def beta_diversity(
    data: AbundanceData,
    metric: str = "braycurtis",
    *,
    normalize: bool = False,
    block_size: int | None = None,
    out: None = None,
    dtype: npt.DTypeLike = np.float64,
    n_jobs: int | None = None,
    pseudocount: str | float = "multiplicative",
    tree: TreeLike | None = None,
    client: ClientLike | None = None,
) -> pd.DataFrame: ...


@overload
def beta_diversity(
    data: AbundanceData,
    metric: str = "braycurtis",
    *,
    normalize: bool = False,
    block_size: int | None = None,
    out: str | os.PathLike[str],
    dtype: npt.DTypeLike = np.float64,
    n_jobs: int | None = None,
    pseudocount: str | float = "multiplicative",
    tree: TreeLike | None = None,
    client: ClientLike | None = None,
) -> np.memmap | ZarrArray: ...


def beta_diversity(
    data: AbundanceData,
    metric: str = "braycurtis",
    *,
    normalize: bool = False,
    block_size: int | None = None,
    out: str | os.PathLike[str] | None = None,
    dtype: npt.DTypeLike = np.float64,
    n_jobs: int | None = None,
    pseudocount: str | float = "multiplicative",
    tree: TreeLike | None = None,
    client: ClientLike | None = None,
) -> pd.DataFrame | np.memmap | ZarrArray:
    """Pairwise beta diversity between all samples.

    Parameters
    ----------
    data
        AnnData or samples x taxa DataFrame (dense or sparse), values >= 0.
    metric
        ``"braycurtis"`` (on the values as given), ``"jaccard"`` (presence/absence),
        ``"aitchison"`` (Euclidean distance of CLR), ``"robust_aitchison"`` (of robust CLR, as
        vegan's ``"robust.aitchison"``), ``"unweighted_unifrac"`` or ``"weighted_unifrac"``
        (with ``tree``; by scikit-bio, unnormalized weighted UniFrac as scikit-bio's default).
    normalize
        Divide each sample by its total before Bray-Curtis (default False, as vegan/scipy).
    block_size
        Rows per block when writing to ``out`` (default: blocks of about 128 MiB).
    out
        Path of a ``.npy`` file: the matrix is written there block by block and returned as a
        ``numpy.memmap`` (rows and columns in the sample order of ``data``), keeping memory
        bounded. Without ``out``, a labelled DataFrame is returned.
    dtype
        ``float64`` (default) or ``float32`` storage; computation is always float64.
    n_jobs
        Numba threads (default: all cores).
    pseudocount
        Zero replacement of the CLR for ``metric="aitchison"``: ``"multiplicative"`` (default,
        scikit-bio's ``multi_replace`` with ``delta = 1 / n_features**2`` on each closed sample),
        a number added to every value (vegan's ``pseudocount=``), or 0 (zeros refused).
    tree
        For the UniFrac metrics: a Newick file or ``skbio.TreeNode`` with every feature as a tip.
    client
        A :class:`dask.distributed.Client` (or a scheduler address): ``braycurtis`` and ``jaccard``
        are computed in row blocks on the cluster, equal to the single-machine matrix to the last
        bit. With ``out="d.zarr"`` the workers write the matrix into a chunked Zarr array
        (returned), so memory stays bounded for 100,000+ samples; ``out=*.zarr`` also works
        without a client (``docs/scale.md``).

    Returns
    -------
    Square DataFrame indexed and labelled by sample, with ``attrs["params"]``; or a
    ``numpy.memmap`` when ``out`` is given.

    Examples
    --------
    Relative abundances (0.6, 0.3, 0.1) and (0, 0.5, 0.5): (0.6 + 0.2 + 0.4) / 2 = 0.6.

    >>> import pandas as pd
    >>> from gutaxis import beta_diversity
    >>> counts = pd.DataFrame({"Bacteroides": [60, 0], "Faecalibacterium": [30, 50], "Prevotella": [10, 50]},
    ...                       index=["s1", "s2"])
    >>> beta_diversity(counts, "braycurtis")
    sample   s1   s2
    sample
    s1      0.0  0.6
    s2      0.6  0.0
    """
    metric = _metric(metric)
    dtype = _dtype(dtype)
    _check_extras(metric, pseudocount, tree, "beta_diversity")
    if (client is not None or _beta_dask.is_zarr(out)) and (metric in _LOGRATIO or metric in _UNIFRAC):
        raise InputError(
            f"client= and out='*.zarr' compute braycurtis and jaccard; {metric} runs on one machine",
            source="beta_diversity",
            hint="leave out client= (and write out= as .npy)",
        )
    if metric in _LOGRATIO:
        from . import logratio

        return logratio.distance(
            data, metric, pseudocount=pseudocount, normalize=normalize, block_size=block_size, out=out, dtype=dtype
        )
    if metric in _UNIFRAC:
        if out is not None:
            raise InputError(
                f"{metric} is computed in memory by scikit-bio; out= is not supported",
                source="beta_diversity",
                hint="leave out out= and save the DataFrame",
            )
        from .phylo import unifrac

        return unifrac(data, tree, weighted=metric == "weighted_unifrac").astype(dtype)
    prep = _Prepared(data, metric, normalize, "beta_diversity")
    n = len(prep)
    params = {"metric": metric, "normalize": bool(normalize), "dtype": dtype.name}
    if client is not None or _beta_dask.is_zarr(out):  # row blocks on a cluster, or into Zarr
        from ..scale import check_client

        D = _beta_dask.distances(check_client(client), prep, dtype, block_size, None if out is None else Path(out))
        if out is not None:
            return D
    else:
        with _kernels.threads(n_jobs):
            if out is not None:
                return _to_npy(prep, Path(out), block_size, dtype)
            D = np.empty((n, n), dtype=dtype)
            _compute(prep, prep, 0, n, D, upper=True)  # upper triangle: half the work
    _kernels.mirror_upper(D)
    result = pd.DataFrame(D, index=prep.samples, columns=prep.samples.copy(), copy=False)
    result.attrs["params"] = params
    if len(prep.empty):
        result.attrs["notes"] = [f"{len(prep.empty)} empty sample(s); distances between them are NaN"]
    return result


def _to_npy(prep: _Prepared, path: Path, block_size: int | None, dtype: np.dtype):
    n = len(prep)
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n, n))
    offset = mm.offset
    del mm
    bs = _block_size(block_size, n)
    row_bytes = n * dtype.itemsize
    bufs = [np.empty((min(bs, n), n), dtype=dtype) for _ in range(2 if n > bs else 1)]

    def write(fd, pos, block):
        view = memoryview(block).cast("B")
        while len(view):
            done = os.pwrite(fd, view, pos)
            view, pos = view[done:], pos + done

    # Write through the file, not the map, so that written pages do not count as this
    # process's memory; a writer thread overlaps the writes of block k with the computation
    # of block k + 1 (two buffers).
    fd = os.open(path, os.O_RDWR)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = None
            for b, r0 in enumerate(range(0, n, bs)):
                r1 = min(n, r0 + bs)
                block = _compute(prep, prep, r0, r1, bufs[b % len(bufs)][: r1 - r0])
                if pending is not None:
                    pending.result()
                pending = pool.submit(write, fd, offset + r0 * row_bytes, block)
            if pending is not None:
                pending.result()
    finally:
        os.close(fd)
    return np.lib.format.open_memmap(path, mode="r+")


@overload
def bray_curtis(data: AbundanceData, *, out: None = None, **kwargs: Any) -> pd.DataFrame: ...


@overload
def bray_curtis(data: AbundanceData, *, out: str | os.PathLike[str], **kwargs: Any) -> np.memmap | ZarrArray: ...


def bray_curtis(data: AbundanceData, **kwargs: Any) -> pd.DataFrame | np.memmap | ZarrArray:
    """Bray-Curtis dissimilarity between all samples; see :func:`gutaxis.beta_diversity`."""
    return beta_diversity(data, "braycurtis", **kwargs)


@overload
def jaccard(data: AbundanceData, *, out: None = None, **kwargs: Any) -> pd.DataFrame: ...


@overload
def jaccard(data: AbundanceData, *, out: str | os.PathLike[str], **kwargs: Any) -> np.memmap | ZarrArray: ...


def jaccard(data: AbundanceData, **kwargs: Any) -> pd.DataFrame | np.memmap | ZarrArray:
    """Jaccard distance (presence/absence) between all samples; see :func:`gutaxis.beta_diversity`."""
    return beta_diversity(data, "jaccard", **kwargs)


def _prepare_pair(data_a, data_b, metric: str, normalize: bool):
    # align taxa by name (a taxon missing from one side is zero there)
    for name, d in (("data_a", data_a), ("data_b", data_b)):
        if not isinstance(d, pd.DataFrame) and not hasattr(d, "var_names"):
            abundance_matrix(d, name=name)  # raises InputError naming the type
    fa, fb = feature_names(data_a), feature_names(data_b)
    union = fa if fa.equals(fb) else fa.append(fb.difference(fa, sort=False))
    a = _Prepared(data_a, metric, normalize, "data_a", union)
    b = _Prepared(data_b, metric, normalize, "data_b", union)
    return a, b


def cross_blocks(
    data_a,
    data_b,
    metric: str = "braycurtis",
    block_size: int | None = None,
    *,
    normalize: bool = False,
    n_jobs: int | None = None,
    pseudocount="multiplicative",
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(row_slice, block)``: distances of samples ``data_a[row_slice]`` to every sample of
    ``data_b`` (float64, shape ``(rows, n_b)``). Taxa are aligned by name; a taxon absent from one
    table counts as 0 there. The block array is reused between iterations."""
    metric = _metric(metric)
    _check_extras(metric, pseudocount, None, "cross_blocks", blockwise=True)
    if metric in _LOGRATIO:
        from . import logratio

        return logratio.cross_blocks(data_a, data_b, metric, block_size, pseudocount=pseudocount, normalize=normalize)
    a, b = _prepare_pair(data_a, data_b, metric, normalize)  # validate now, not at first next()
    _block_size(block_size, len(b))
    return _threaded(_iter_cross(a, b, block_size), n_jobs)


def cross_distance(
    data_a,
    data_b,
    metric: str = "braycurtis",
    *,
    normalize: bool = False,
    block_size: int | None = None,
    dtype=np.float64,
    n_jobs: int | None = None,
    pseudocount="multiplicative",
) -> pd.DataFrame:
    """Distances between two sample sets: DataFrame ``n_a x n_b`` (index: samples of ``data_a``,
    columns: samples of ``data_b``). Same definitions as :func:`beta_diversity`; taxa aligned by
    name. For memory-bounded reductions (e.g. the median distance of each sample to a
    reference set) iterate :func:`cross_blocks` instead."""
    metric = _metric(metric)
    dtype = _dtype(dtype)
    _check_extras(metric, pseudocount, None, "cross_distance", blockwise=True)
    if metric in _LOGRATIO:
        from . import logratio

        return logratio.cross(
            data_a, data_b, metric, pseudocount=pseudocount, normalize=normalize, block_size=block_size, dtype=dtype
        )
    a, b = _prepare_pair(data_a, data_b, metric, normalize)
    D = np.empty((len(a), len(b)), dtype=dtype)
    bs = _block_size(block_size, len(b))
    with _kernels.threads(n_jobs):
        for r0 in range(0, len(a), bs):
            r1 = min(len(a), r0 + bs)
            _compute(a, b, r0, r1, D[r0:r1])
    result = pd.DataFrame(D, index=a.samples, columns=b.samples, copy=False)
    result.attrs["params"] = {"metric": metric, "normalize": bool(normalize), "dtype": dtype.name}
    return result


def bray_curtis_cross(data_a, data_b, **kwargs) -> pd.DataFrame:
    """Bray-Curtis dissimilarities between the samples of two tables; see :func:`cross_distance`."""
    return cross_distance(data_a, data_b, "braycurtis", **kwargs)
