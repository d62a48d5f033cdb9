"""Checks of HDF5 files (BIOM v2, .h5ad) made with h5py *before* biom-format or anndata read them.

biom-format and anndata hand the stored ``indptr``/``indices`` arrays to scipy without checking
them, and scipy's compressed-matrix code trusts them: an index outside the matrix makes it write
out of bounds (a segmentation fault, not an exception). So the arrays of every compressed sparse
matrix are checked here first, and an HDF5 file whose datasets would expand far beyond its size
(compressed chunks of zeros, or a huge declared shape) is refused before anything is read.

Limits (module constants; raise them for unusual genuine files):

``MAX_HDF5_BYTES``
    Largest total size of all datasets (uncompressed, as declared), in bytes: 4 GiB.
``MAX_HDF5_RATIO``
    Largest ratio of that total to the size of the file, for totals above
    ``HDF5_RATIO_FLOOR_BYTES`` (64 MiB): 50. Sparse abundance tables compress a few fold; a
    larger ratio means chunks of repeated bytes, a decompression bomb.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = [
    "HDF5_RATIO_FLOOR_BYTES",
    "MAX_HDF5_BYTES",
    "MAX_HDF5_RATIO",
    "check_biom_hdf5",
    "check_compressed",
    "check_declared_size",
    "check_h5ad",
]

#: Largest total uncompressed size of the datasets of one HDF5 file, in bytes.
MAX_HDF5_BYTES = 4 << 30
#: Largest ratio of the datasets' total uncompressed size to the file size (above the floor).
MAX_HDF5_RATIO = 50
#: Totals below this size are not held to MAX_HDF5_RATIO.
HDF5_RATIO_FLOOR_BYTES = 64 << 20


def _dataset_bytes(handle) -> int:
    import h5py

    total = 0

    def visit(_name, obj):
        nonlocal total
        if isinstance(obj, h5py.Dataset):
            itemsize = obj.dtype.itemsize if obj.dtype.kind not in ("O",) else 16
            size = obj.size if obj.size is not None else 0
            total += int(size) * int(itemsize)

    handle.visititems(visit)
    return total


def check_declared_size(handle, file_bytes: int, *, source, where: str) -> None:
    """Refuse an HDF5 file whose datasets declare more than the limits allow (see the module)."""

    declared = _dataset_bytes(handle)
    if declared > MAX_HDF5_BYTES:
        raise InputError(
            f"{where} declares {declared} bytes of data, above MAX_HDF5_BYTES = {MAX_HDF5_BYTES}",
            source=source,
            hint="the file looks damaged or hostile; for a genuine table raise gutaxis.io._hdf5.MAX_HDF5_BYTES",
        )
    if declared > HDF5_RATIO_FLOOR_BYTES and declared > MAX_HDF5_RATIO * max(file_bytes, 1):
        raise InputError(
            f"{where} would expand from {file_bytes} bytes to {declared} bytes of data (ratio "
            f"{declared / max(file_bytes, 1):.0f}, above MAX_HDF5_RATIO = {MAX_HDF5_RATIO})",
            source=source,
            hint="the file looks like a decompression bomb; for a genuine table raise gutaxis.io._hdf5.MAX_HDF5_RATIO",
        )


def _int_array(dataset, name: str, *, source, where: str, length: int | None = None) -> np.ndarray:
    if getattr(dataset, "ndim", None) != 1:
        raise InputError(
            f"{where}: {name} is not a one-dimensional array", source=source, hint="the file is damaged; write it again"
        )
    if length is not None and dataset.shape[0] != length:
        raise InputError(
            f"{where}: {name} has {dataset.shape[0]} entries, expected {length}",
            source=source,
            hint="the file is damaged (its shape and its arrays disagree); write it again",
        )
    if dataset.dtype.kind not in "iu":
        raise InputError(
            f"{where}: {name} holds {dataset.dtype} values, not integers",
            source=source,
            hint="the file is damaged; write it again",
        )
    return np.asarray(dataset[()], dtype=np.int64)


def check_compressed(group, n_major: int, n_minor: int, *, source, where: str) -> None:
    """Check the ``data``/``indices``/``indptr`` of one compressed sparse matrix (CSR over
    ``n_major`` rows of ``n_minor`` columns, or CSC the other way round).

    ``indptr`` must have ``n_major + 1`` non-decreasing entries from 0 to ``len(indices)``;
    every index must lie in ``0 .. n_minor - 1``; ``data`` must be as long as ``indices``.
    """
    for name in ("data", "indices", "indptr"):
        if name not in group:
            raise InputError(f"{where}: no {name} array", source=source, hint="the file is damaged; write it again")
    indptr = _int_array(group["indptr"], "indptr", source=source, where=where, length=n_major + 1)
    data = group["data"]
    if getattr(data, "ndim", None) != 1:
        raise InputError(
            f"{where}: data is not a one-dimensional array", source=source, hint="the file is damaged; write it again"
        )
    nnz = group["indices"].shape[0] if getattr(group["indices"], "ndim", None) == 1 else -1
    if data.shape[0] != nnz:
        raise InputError(
            f"{where}: data has {data.shape[0]} values but indices {nnz}",
            source=source,
            hint="the file is damaged; write it again",
        )
    if indptr[0] != 0 or indptr[-1] != nnz or np.any(np.diff(indptr) < 0):
        raise InputError(
            f"{where}: indptr does not run from 0 to {nnz} in order",
            source=source,
            hint="the file is damaged; write it again",
        )
    indices = _int_array(group["indices"], "indices", source=source, where=where, length=nnz)
    if nnz:
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= n_minor:
            bad = low if low < 0 else high
            raise InputError(
                f"{where}: index {bad} is outside the matrix (0 to {n_minor - 1}); "
                f"{int(((indices < 0) | (indices >= n_minor)).sum())} such index(es)",
                source=source,
                hint="the file is damaged; write it again (a reader trusting it could crash)",
            )


def _shape(attrs, name: str, *, source, where: str) -> tuple[int, int]:
    if name not in attrs:
        raise InputError(
            f"{where} has no {name!r} attribute",
            source=source,
            hint="the file is damaged or not of this format; write it again",
        )
    try:
        shape = tuple(int(v) for v in np.asarray(attrs[name]).ravel())
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(
            f"{where}: its {name!r} attribute is not a pair of integers",
            source=source,
            hint="the file is damaged; write it again",
        ) from exc
    if len(shape) != 2 or min(shape) < 0:
        raise InputError(
            f"{where}: its {name!r} attribute {shape} is not a matrix shape",
            source=source,
            hint="the file is damaged; write it again",
        )
    return shape


def check_biom_hdf5(handle, file_bytes: int, *, source, where: str = "the BIOM table") -> None:
    """Check a BIOM v2 file (an open ``h5py.File``) before ``biom.load_table`` reads it: sizes,
    shape, ID counts and both compressed matrices (observation-major CSR, sample-major CSC)."""
    import h5py

    check_declared_size(handle, file_bytes, source=source, where=where)
    n_obs, n_samples = _shape(handle.attrs, "shape", source=source, where=where)
    for axis, n_major, n_minor in (("observation", n_obs, n_samples), ("sample", n_samples, n_obs)):
        group = handle.get(axis)
        if (
            not isinstance(group, h5py.Group)
            or not isinstance(group.get("matrix"), h5py.Group)
            or not isinstance(group.get("ids"), h5py.Dataset)
        ):
            raise InputError(
                f"{where} has no {axis}/ids and {axis}/matrix",
                source=source,
                hint="the file is damaged or not a BIOM v2 table; write it again",
            )
        ids = group["ids"]
        if ids.ndim != 1 or ids.shape[0] != n_major:
            raise InputError(
                f"{where}: {axis}/ids holds {ids.shape} IDs but the shape says {n_major}",
                source=source,
                hint="the file is damaged; write it again",
            )
        matrix = group["matrix"]
        for name in ("data", "indices", "indptr"):
            if not isinstance(matrix.get(name), h5py.Dataset):
                raise InputError(
                    f"{where}: no {axis}/matrix/{name}", source=source, hint="the file is damaged; write it again"
                )
        check_compressed(matrix, n_major, n_minor, source=source, where=f"{where}, {axis}/matrix")


def check_h5ad(handle, file_bytes: int, *, source, where: str = "the .h5ad") -> None:
    """Check an .h5ad (an open ``h5py.File``) before anndata reads it: sizes, and the arrays of
    every sparse matrix (``X`` and ``layers/*``) against its shape."""
    import h5py

    check_declared_size(handle, file_bytes, source=source, where=where)
    groups = []
    if isinstance(handle.get("X"), h5py.Group):
        groups.append(("X", handle["X"]))
    layers = handle.get("layers")
    if isinstance(layers, h5py.Group):
        groups += [(f"layers/{k}", v) for k, v in layers.items() if isinstance(v, h5py.Group)]
    for name, group in groups:
        encoding = group.attrs.get("encoding-type", group.attrs.get("h5sparse_format"))
        if isinstance(encoding, bytes):
            encoding = encoding.decode("utf-8", "replace")
        encoding = str(encoding)
        if encoding not in ("csr_matrix", "csc_matrix", "csr", "csc"):
            continue
        attr = "shape" if "shape" in group.attrs else "h5sparse_shape"
        n_rows, n_cols = _shape(group.attrs, attr, source=source, where=f"{where}, {name}")
        major, minor = (n_rows, n_cols) if encoding.startswith("csr") else (n_cols, n_rows)
        check_compressed(group, major, minor, source=source, where=f"{where}, {name}")
