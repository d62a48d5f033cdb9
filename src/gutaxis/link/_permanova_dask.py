"""PERMANOVA's permutations in blocks on a Dask cluster.

The permutations are drawn here, on the client, from the one seeded stream the single-machine
path draws from (:func:`._permutations.permutation_batches`, or the whole-block batches), in the
same order; only the permuted F statistics are computed on the workers, block by block, by the
single-machine engine (:func:`.permanova._run` with the block's permutations). So the seed gives
the same permutations, the same observed statistics (computed here) and the same p-values as
without a cluster. The permuted F of ``precision="mixed"`` are screened in float32 within each
block; every permutation near an observed F is recomputed in float64 there as on one machine,
so the counts behind p are those of a float64 computation either way.

Memory per worker: the Gower-centred matrix ``G`` (``n x n`` float64, sent once) and a copy of
it while a block runs, plus one batch of permuted basis vectors.
"""

from __future__ import annotations

import numpy as np

__all__ = ["run"]


def _chunks(perms: np.ndarray, size: int):
    for a in range(0, len(perms), size):
        yield perms[a : a + size]


def _perm_block(perms, *, G, design, precision):
    from .permanova import _run

    # _run overwrites its G: the worker's copy is shared by its tasks, so each works on its own
    res = _run(G.copy(), design, len(perms), None, None, None, precision, None, batches=lambda s: _chunks(perms, s))
    return res.F_perm, res.rechecked, res.precision


def _drawn(n, n_perm, seed, strata, order, batches, size):
    """The single path's permutations, in its order, as blocks of ``size`` (matrix positions)."""
    from ._permutations import permutation_batches

    if batches is not None:
        yield from batches(size)
        return
    if order is not None and strata is not None:
        strata = np.asarray(strata)[order]
    for perms in permutation_batches(n, n_perm, seed, strata=strata, batch=size):
        if order is not None:  # drawn in sample-ID order, as _run maps them
            mapped = np.empty_like(perms)
            mapped[:, order] = order[perms]
            perms = mapped
        yield perms


def run(client, G, design, n_perm, seed, strata, progress, precision, order, batches):
    """``_run``'s result with the permuted F computed on the cluster (``G`` is overwritten)."""
    from ..scale.blocks import run_tasks
    from .permanova import _run

    n = len(G)
    threads = max(1, sum(client.nthreads().values()))
    size = int(max(32, -(-n_perm // (4 * threads))))  # ~4 blocks per worker thread
    n_blocks = -(-n_perm // size) if n_perm else 0
    shared = {"G": np.array(G), "design": design, "precision": precision}
    res = _run(G, design, 0, seed, None, None, precision, order)  # the observed statistics, here
    if not n_perm:
        return res
    done = [0]

    def report(k, total):
        if progress is not None:
            done[0] = min(n_perm, k * size)
            progress(done[0], n_perm)

    args = ((p,) for p in _drawn(n, n_perm, seed, strata, order, batches, size))
    out = run_tasks(client, _perm_block, args, shared=shared, name="gutaxis-permanova", total=n_blocks, progress=report)
    res.F_perm = np.concatenate([o[0] for o in out])
    res.rechecked = int(sum(o[1] for o in out))
    res.precision = "mixed" if all(o[2] == "mixed" for o in out) else "double"
    return res
