"""Bray-Curtis / Jaccard matrices in row blocks on a Dask cluster, or into a chunked Zarr array.

Each distance is computed by the same kernel call whatever the block (:func:`.beta._compute`,
float64 accumulation over one pair of samples), so the blocks change no bit:

* in memory, each task computes the upper triangle of its rows, as the single-machine path does,
  and the caller mirrors it: the matrix equals the single-machine one exactly;
* into Zarr (``out="d.zarr"``), each task computes whole rows (as ``out="d.npy"`` does) and
  writes them straight into the array's row chunks, so no process ever holds more than its
  blocks: memory per worker is the table (sparse) plus one ``rows x n`` block.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["distances", "is_zarr"]


def is_zarr(out) -> bool:
    """True for an output path ending in ``.zarr``."""
    return out is not None and str(out).rstrip("/\\").endswith(".zarr")


def _upper_rows(r0: int, r1: int, *, prep, dtype):
    from .beta import _compute

    out = np.zeros((r1 - r0, len(prep)), dtype=dtype)
    _compute(prep, prep, r0, r1, out, upper=True)
    return out[:, r0:]  # right of the diagonal (and the zero diagonal): the rest is mirrored


def _write_rows(r0: int, r1: int, *, prep, dtype, path: str):
    import zarr

    from .beta import _compute

    out = np.empty((r1 - r0, len(prep)), dtype=dtype)
    _compute(prep, prep, r0, r1, out)
    zarr.open_array(path, mode="r+")[r0:r1, :] = out
    return r1 - r0


def _row_blocks(client, n: int, block_size: int | None, writing: bool) -> list[slice]:
    from ..scale.blocks import blocks, default_blocks
    from ._blocks import block_size as _block_size

    if writing or client is None:  # Zarr: one block per row chunk, so no two tasks write one chunk
        rows = _block_size(block_size, n)
        if client is not None and not block_size:  # at least ~4 blocks per worker thread
            threads = max(1, sum(client.nthreads().values()))
            rows = max(1, min(rows, -(-n // (4 * threads))))
        return blocks(n, rows)
    if block_size:
        return blocks(n, _block_size(block_size, n))
    return default_blocks(client, n, per_worker=8, min_size=16)


def distances(client, prep, dtype: np.dtype, block_size: int | None, out: Path | None):
    """The upper triangle of the distance matrix (the caller mirrors it), or with ``out`` the
    Zarr array written there (returned opened for reading and writing)."""
    n = len(prep)
    parts = _row_blocks(client, n, block_size, out is not None)
    func: Callable
    if out is not None:
        try:
            import zarr
        except ImportError:
            raise InputError(
                "writing a .zarr array needs zarr", source="beta_diversity", hint='pip install "gutaxis[dask]"'
            ) from None
        rows = parts[0].stop - parts[0].start
        # uncompressed: distances are dense floats that compress little, and raw chunks write ~4x faster
        layout: dict[str, Any] = {"shape": (n, n), "chunks": (rows, min(n, 4096)), "dtype": dtype, "fill_value": np.nan}
        if hasattr(zarr, "create_array"):  # zarr 3
            arr = zarr.create_array(str(out), compressors=None, overwrite=True, **layout)
        else:  # pragma: no cover - zarr 2
            arr = zarr.open_array(str(out), mode="w", compressor=None, **layout)
        arr.attrs.update({"samples": [str(s) for s in prep.samples], "metric": prep.metric})
        func, shared = _write_rows, {"prep": prep, "dtype": dtype, "path": str(out)}
    else:
        func, shared = _upper_rows, {"prep": prep, "dtype": dtype}
    args = [(sl.start, sl.stop) for sl in parts]
    if client is None:  # a Zarr array on this machine: the same blocks, one after another
        results = [func(*a, **shared) for a in args]
    else:
        from ..scale.blocks import run_tasks

        results = run_tasks(client, func, args, shared=shared, name=f"gutaxis-{prep.metric}")
    if out is not None:
        return zarr.open_array(str(out), mode="r+")
    D = np.empty((n, n), dtype=dtype)
    for sl, block in zip(parts, results, strict=True):
        D[sl, sl.start :] = block
    return D
