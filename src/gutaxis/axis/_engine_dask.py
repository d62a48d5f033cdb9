"""The simulator on a Dask cluster: patients in blocks.

Each patient is integrated on its own (the numba kernel runs one patient per iteration; the
numpy, scipy and JAX engines vectorise over patients without mixing them), so a block of patients
gives each patient the same trajectory as the whole population at once (to a relative 1e-12: the
fastmath numba kernel may vectorise across the patients of a chunk, so the last bit can move). The
blocks come back in patient order. Memory per worker: one block's parameters, inputs and
recorded states (``n_recorded x N_STATES x block`` of ``dtype``); the client gathers the whole
trajectory, so record ``"end"`` or a few days (or ``dtype=np.float32``) for millions of patients.
"""

from __future__ import annotations

import numpy as np

__all__ = ["simulate_blocks"]


def _block(P, y0, base, group, adh, *, schedule, options):
    from .engine import simulate

    return np.ascontiguousarray(simulate(P, y0, base, schedule, group, adh, **options).states)


def simulate_blocks(client, P, y0, base, schedule, group, adh, options: dict, block_size: int | None = None):
    """``(n_recorded, N_STATES, n)`` states of every patient, simulated in blocks on the cluster."""
    from ..scale.blocks import blocks, default_blocks, run_tasks

    n = P.shape[1]
    parts = blocks(n, block_size) if block_size else default_blocks(client, n, min_size=256)
    args = ((P[:, sl], y0[:, sl], base[:, sl], group[sl], adh[sl]) for sl in parts)
    shared = {"schedule": schedule, "options": options}
    out = run_tasks(client, _block, args, shared=shared, name="gutaxis-simulate", total=len(parts))
    return np.concatenate(out, axis=2)
