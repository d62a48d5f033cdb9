"""Split work into blocks, run each block as a Dask task, gather the results in block order."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["blocks", "run_tasks"]

# shared arguments larger than this are scattered to the workers once instead of riding in every task
_SCATTER_BYTES = 1 << 20


def blocks(n: int, block_size: int | None = None, *, n_blocks: int | None = None) -> list[slice]:
    """Contiguous slices covering ``range(n)``: of ``block_size`` items, or ``n_blocks`` of near-equal size."""
    if block_size is None:
        n_blocks = max(1, min(int(n), int(n_blocks or 1)))
        edges = np.linspace(0, n, n_blocks + 1).round().astype(int)
        return [slice(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]
    if int(block_size) < 1:
        raise InputError(f"block_size must be >= 1, got {block_size!r}", source="block_size")
    return [slice(a, min(n, a + int(block_size))) for a in range(0, n, int(block_size))]


def default_blocks(client, n: int, per_worker: int = 4, min_size: int = 1) -> list[slice]:
    """A few blocks per worker thread (so a lost or slow worker costs a small share of the run),
    none smaller than ``min_size`` items."""
    threads = max(1, sum(client.nthreads().values()))
    n_blocks = max(1, min(threads * per_worker, n // max(1, min_size)))
    return blocks(n, n_blocks=n_blocks)


def _nbytes(x) -> int:
    if isinstance(x, np.ndarray):
        return x.nbytes
    nbytes = getattr(x, "nbytes", None)  # pandas objects, scipy sparse
    if isinstance(nbytes, (int, np.integer)):
        return int(nbytes)
    return 0


def _in_worker(func: Callable, args: tuple, kwargs: dict):
    """Run one task with as many BLAS and numba threads as the worker has task threads: a worker
    is one slot of the cluster, and more threads per task would oversubscribe its cores."""
    from distributed import get_worker
    from threadpoolctl import threadpool_limits

    threads = max(1, int(get_worker().state.nthreads))
    try:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - numba is a dependency
        pass
    with threadpool_limits(limits=threads):
        return func(*args, **kwargs)


def run_tasks(
    client,
    func: Callable,
    arg_list: Iterable[tuple],
    *,
    shared: dict[str, Any] | None = None,
    name: str = "gutaxis",
    progress: Callable[[int, int], None] | None = None,
    total: int | None = None,
    retries: int = 2,
    in_flight: int | None = None,
    scatter_repeated: bool = False,
) -> list:
    """``[func(*args, **shared) for args in arg_list]`` on the cluster, in the order of ``arg_list``.

    ``shared`` keyword arguments are the same for every task; large ones are scattered once to
    every worker. Each task's own arguments travel with the task, so a worker lost mid-run loses
    nothing: the scheduler reruns its tasks elsewhere; a task that raises is retried ``retries``
    times. At most ``in_flight`` tasks (default: 2 per worker thread) are submitted at once and
    each result is fetched and released as it arrives, so the scheduler and the workers hold a
    bounded number of blocks whatever the size of the run (``arg_list`` may be a generator).
    ``progress(done, total)`` is called as tasks finish; the dashboard shows them as ``name-...``.
    ``scatter_repeated``: a large argument passed to many tasks as one object (the data of every
    fold) is scattered once to every worker instead of travelling with each task.
    """
    import dask
    from distributed import as_completed

    kwargs = {}
    for key, value in (shared or {}).items():
        big = _nbytes(value) > _SCATTER_BYTES
        kwargs[key] = client.scatter(value, broadcast=True, hash=False) if big else value
    if total is None and isinstance(arg_list, Sequence):
        total = len(arg_list)
    limit = in_flight or max(2, 2 * sum(client.nthreads().values()))
    tag = uuid.uuid4().hex[:8]
    todo = enumerate(arg_list)
    index: dict = {}
    results: dict[int, Any] = {}

    scattered: dict[int, Any] = {}

    def share(x):
        if not scatter_repeated or _nbytes(x) <= _SCATTER_BYTES:
            return x
        if id(x) not in scattered:
            scattered[id(x)] = (x, client.scatter(x, broadcast=True, hash=False))  # x kept: its id stays unique
        return scattered[id(x)][1]

    def submit(pool) -> bool:
        try:
            i, args = next(todo)
        except StopIteration:
            return False
        args = tuple(share(a) for a in args)
        # a block's data ride in its task on purpose (a lost worker loses nothing): no warning for it
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1GiB"}):
            fut = client.submit(
                _in_worker, func, tuple(args), kwargs, key=f"{name}-{tag}-{i}", retries=retries, pure=False
            )
        index[fut.key] = i
        pool.add(fut)
        return True

    pool = as_completed([])
    for _ in range(limit):
        if not submit(pool):
            break
    try:
        for fut in pool:
            results[index.pop(fut.key)] = fut.result()  # raises the task's own exception
            fut.release()
            if progress is not None:
                progress(len(results), total if total is not None else len(results) + len(index))
            submit(pool)
    finally:
        for value in [*kwargs.values(), *(f for _, f in scattered.values())]:
            if hasattr(value, "release"):
                value.release()
    return [results[i] for i in range(len(results))]
