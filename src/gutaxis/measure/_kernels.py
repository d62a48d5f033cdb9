"""Numba kernels behind :mod:`gutaxis.measure.alpha` and :mod:`gutaxis.measure.beta`.

Private module. Kernels are compiled once per machine (``cache=True``); callers pass float64
values (viewed as uint64 for the alpha kernels) and int64 index arrays so that one signature
serves (plus C/F order for the dense alpha kernel and float32/float64 output for the distance
kernel).

Alpha kernels make one pass over the stored values of each sample (O(nnz) for CSR input;
dense rows are compacted to their positive values first) and return per-sample sums from
which every index follows. They read the float64 values through a uint64 view, so that the
same pass also validates them (flags negative, NaN and infinite values) with integer
comparisons.

Beta kernels use an inverted index (the reference set in CSC form): for query sample ``i``,
each taxon ``k`` present in ``i`` visits only the samples ``j`` in which ``k`` is present too,
adding ``min(x_ik, x_jk)`` (Bray-Curtis) or ``1`` (Jaccard) to an accumulator row. The work is
the number of co-occurrences, not ``n_samples**2 * n_taxa``. Bray-Curtis then follows from
``|a - b| = a + b - 2 min(a, b)`` for ``a, b >= 0``::

    BC_ij = sum_k |x_ik - x_jk| / sum_k (x_ik + x_jk) = 1 - 2 sum_k min(x_ik, x_jk) / (s_i + s_j)

and Jaccard from ``|A u B| = |A| + |B| - |A n B|``.
"""

from __future__ import annotations

from contextlib import contextmanager

import numba
import numpy as np
import scipy.sparse as sp
from numba import njit, prange

__all__ = [
    "alpha_sums_csr",
    "alpha_sums_dense",
    "alpha_sums_dense_scalar",
    "as_csr64",
    "cross_rows",
    "mirror_upper",
    "row_sums",
    "threads",
]


@contextmanager
def threads(n_jobs: int | None):
    """Run numba kernels on ``n_jobs`` threads (None or -1: all cores), restoring the setting."""
    if n_jobs is None or n_jobs == -1:
        yield
        return
    n_jobs = max(1, min(int(n_jobs), numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]  # set via globals() at import
    previous = numba.get_num_threads()
    numba.set_num_threads(n_jobs)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def as_csr64(X) -> sp.csr_matrix:
    """CSR float64 (copy-free where possible) with explicit zeros removed and sorted indices.

    scipy may keep int32 index arrays; kernels get ``indptr.astype(np.int64)`` etc."""
    X = sp.csr_matrix(X) if not sp.issparse(X) else X.tocsr()
    if X.dtype != np.float64:
        X = X.astype(np.float64)
    if X.nnz and (X.data == 0).any():
        X = X.copy()
        X.eliminate_zeros()
    if not X.has_sorted_indices:
        X = X.copy()
        X.sort_indices()
    return X


# --------------------------------------------------------------------------- alpha


# (bits - 1) < _POS_LIMIT, on the uint64 bit pattern of a float64, holds exactly for 0 < x < inf:
# 0.0 wraps to 2**64 - 1; -0.0, negatives (sign bit set), +inf and NaN are all >= 0x7FF0...
_POS_LIMIT = np.uint64(0x7FEFFFFFFFFFFFFF)


@njit(cache=True, nogil=True, inline="always")
def _alpha_row(vals, c, i, total, plogp, p2, f1, f2, nonint):
    """Statistics of one sample from its ``c`` positive values ``vals[:c]`` (in stored order).

    The total is summed over the positive values only, in stored order: for a valid row (all
    values >= 0) that is bit for bit the sum over every stored value, zeros included."""
    s = 0.0
    for q in range(c):
        s += vals[q]
    total[i] = s
    h = 0.0
    d = 0.0
    c1 = 0
    c2 = 0
    bad = 0
    for q in range(c):
        x = vals[q]
        c1 += x == 1.0
        c2 += x == 2.0
        bad += x != np.floor(x)
        p = x / s
        h += p * np.log(p)
        d += p * p
    plogp[i] = h
    p2[i] = d
    f1[i] = c1
    f2[i] = c2
    nonint[i] = bad


@njit(parallel=True, cache=True, nogil=True)
def alpha_sums_csr(indptr, bits, nchunk, total, nnz, plogp, p2, f1, f2, nonint, suspect):
    """Per row: total, #positive, sum p ln p, sum p^2, #(x == 1), #(x == 2), #non-integer.

    ``bits`` is the CSR ``data`` (float64) viewed as uint64. Proportions ``p = x / total`` as
    vegan; O(nnz). Explicit zeros are skipped. The input is validated in the same pass:
    ``suspect[i]`` is set where row ``i`` stores anything but +0.0 or a positive finite value
    (negative, -0.0, NaN, inf); the caller then runs the full check, which names the cell."""
    n = indptr.shape[0] - 1
    nchunk = max(1, min(n, nchunk))
    for ch in prange(nchunk):
        ubuf = np.empty(0, np.uint64)
        buf = ubuf.view(np.float64)
        for i in range(ch * n // nchunk, (ch + 1) * n // nchunk):
            a = indptr[i]
            b = indptr[i + 1]
            if ubuf.shape[0] < b - a:
                ubuf = np.empty(b - a, np.uint64)
                buf = ubuf.view(np.float64)
            c = 0
            z = 0
            for q in range(a, b):
                u = bits[q]
                ubuf[c] = u
                c += (u - np.uint64(1)) < _POS_LIMIT
                z += u == 0
            nnz[i] = c
            suspect[i] = c + z != b - a
            _alpha_row(buf, c, i, total, plogp, p2, f1, f2, nonint)


@njit(parallel=True, cache=True, nogil=True)
def alpha_sums_dense_scalar(bits, nchunk, total, nnz, plogp, p2, f1, f2, nonint, suspect):
    """As :func:`alpha_sums_csr` for a dense samples x taxa float64 array viewed as uint64.

    C or F order, read in place (for F order consecutive samples share cache lines, so one
    pass over memory still suffices). One pass over each row both validates it and compacts
    it to its positive values without branching (most cells are zero and a branch per cell
    mispredicts); only those then enter the sum and the logarithms."""
    n, m = bits.shape
    nchunk = max(1, min(n, nchunk))
    for ch in prange(nchunk):
        ubuf = np.empty(m, np.uint64)
        buf = ubuf.view(np.float64)
        for i in range(ch * n // nchunk, (ch + 1) * n // nchunk):
            c = 0
            z = 0
            for k in range(m):
                u = bits[i, k]
                ubuf[c] = u
                c += (u - np.uint64(1)) < _POS_LIMIT
                z += u == 0
            nnz[i] = c
            suspect[i] = c + z != m
            _alpha_row(buf, c, i, total, plogp, p2, f1, f2, nonint)


def alpha_sums_dense(bits, nchunk, total, nnz, plogp, p2, f1, f2, nonint, suspect):
    """Per-sample sums of a dense uint64-viewed float64 array (C or F order)."""
    alpha_sums_dense_scalar(bits, nchunk, total, nnz, plogp, p2, f1, f2, nonint, suspect)


# --------------------------------------------------------------------------- beta


@njit(cache=True, nogil=True)
def row_sums(indptr, data, binary, out):
    """Row totals in stored order (the order the beta kernels accumulate in), or #present."""
    n = indptr.shape[0] - 1
    for i in range(n):
        s = 0.0
        for q in range(indptr[i], indptr[i + 1]):
            if binary:
                s += 1.0
            else:
                s += data[q]
        out[i] = s


@njit(cache=True, nogil=True, inline="always")
def _finish(acc, si, sj, binary):
    """Distance from the accumulated overlap ``acc`` and the two row totals."""
    if binary:
        union = si + sj - acc
        if union > 0.0:
            return 1.0 - acc / union
        return np.nan
    den = si + sj
    if den > 0.0:
        # |a-b| = a + b - 2 min(a, b); numerator computed as such, kept >= 0
        num = den - 2.0 * acc
        if num < 0.0:
            num = 0.0
        return num / den
    return np.nan


@njit(cache=True, nogil=True, inline="always")
def _first_after(rowidx, a, b, i):
    """First position p in [a, b) with rowidx[p] > i (rowidx sorted ascending there)."""
    lo = a
    hi = b
    while lo < hi:
        mid = (lo + hi) >> 1
        if rowidx[mid] <= i:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(parallel=True, cache=True, nogil=True)
def cross_rows(a_indptr, a_indices, a_data, a_sums, r0, r1, b_colptr, b_rowidx, b_data, b_sums, binary, is_self,
               upper, nchunk, out):  # fmt: skip
    """Distances of query rows ``r0:r1`` of A (CSR) to the rows of B (CSC) into ``out``.

    ``out`` (float64 or float32) has shape ``(r1 - r0, n_b)``; accumulation is in float64.
    ``binary`` selects Jaccard on presence (sums are then the numbers of taxa present) instead
    of Bray-Curtis. ``is_self``: B is A, so ``out[t, r0 + t]`` (self-distance) is set to 0.
    ``upper`` (with ``is_self``): only columns ``j > i`` are computed (half the work), the
    others are left untouched for the caller to mirror.

    Rows are dealt to ``nchunk`` parallel tasks round-robin (balanced also for ``upper``),
    each with one float64 scratch accumulator. Tiling B's samples so that the accumulator
    stays in L1 measured no faster: the loop streams the postings and is bound by that.
    """
    nb = b_sums.shape[0]
    nrows = r1 - r0
    nchunk = max(1, min(nrows, nchunk))
    for c in prange(nchunk):
        acc = np.empty(nb)
        for t in range(c, nrows, nchunk):
            i = r0 + t
            j0 = i + 1 if upper else 0
            acc[j0:] = 0.0
            for q in range(a_indptr[i], a_indptr[i + 1]):
                k = a_indices[q]
                p0 = b_colptr[k]
                p1 = b_colptr[k + 1]
                if upper:
                    p0 = _first_after(b_rowidx, p0, p1, i)
                if binary:
                    for p in range(p0, p1):
                        acc[b_rowidx[p]] += 1.0
                else:
                    x = a_data[q]
                    for p in range(p0, p1):
                        y = b_data[p]
                        acc[b_rowidx[p]] += x if x < y else y
            si = a_sums[i]
            row = out[t]
            for j in range(j0, nb):
                row[j] = _finish(acc[j], si, b_sums[j], binary)
            if is_self:
                row[i] = 0.0


def mirror_upper(D: np.ndarray, tile: int = 256) -> None:
    """Copy the upper triangle of the square ``D`` onto its lower triangle, tile by tile."""
    n = D.shape[0]
    for i0 in range(0, n, tile):
        i1 = min(n, i0 + tile)
        for j0 in range(0, i0, tile):
            D[i0:i1, j0 : j0 + tile] = D[j0 : j0 + tile, i0:i1].T
        blk = D[i0:i1, i0:i1]
        low = np.tril_indices(i1 - i0, -1)
        blk[low] = blk.T[low]
