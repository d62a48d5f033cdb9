"""The ``client=`` switch: validate it at the public entry, or open one for the command line."""

from __future__ import annotations

from typing import Any

from ..errors import InputError

__all__ = ["check_client", "open_client", "require_distributed"]

_INSTALL = 'pip install "gutaxis[dask]"'


def require_distributed(source: str = "client"):
    """``dask.distributed``, imported on demand, or an :class:`InputError` that says how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise InputError(
            f"running on a Dask cluster needs dask and distributed, which are not installed ({exc})",
            source=source,
            hint=_INSTALL,
        ) from None
    return distributed


def check_client(client: Any, source: str = "client"):
    """``None`` (the single-machine path), a :class:`distributed.Client` as given, or a
    connected client for a scheduler address string (``"tcp://host:8786"``).

    Raises
    ------
    InputError
        When dask is not installed, ``client`` is neither a Client nor an address, or the client
        is closed.
    """
    if client is None:
        return None
    distributed = require_distributed(source)
    if isinstance(client, str):
        try:
            return distributed.Client(client, timeout="30s")
        except (OSError, ValueError) as exc:  # TimeoutError is an OSError
            raise InputError(
                f"cannot reach the Dask scheduler at {client!r} ({exc})",
                source=source,
                hint="start one with `dask scheduler` (and `dask worker ADDRESS` on each node), or pass a Client",
            ) from None
    if not isinstance(client, distributed.Client):
        raise InputError(
            f"client must be a dask.distributed.Client or a scheduler address, got {type(client).__name__}",
            source=source,
            hint="e.g. client=dask.distributed.Client(LocalCluster(n_workers=4)), or None for one machine",
        )
    if client.status not in ("running", "connecting", "newly-created"):
        raise InputError(f"the Dask client is {client.status}", source=source, hint="open a new Client")
    return client


def open_client(scheduler: str | None = None, workers: int | None = None, source: str = "--scheduler"):
    """A client for the command line: connect to ``scheduler`` (an address), or start a
    ``LocalCluster`` of ``workers`` single-threaded processes; ``(None, None)`` with neither.

    Returns ``(client, cluster)``; close both when done (the cluster is ``None`` when connecting).
    """
    if scheduler and workers:
        raise InputError("give --scheduler or --workers, not both", source=source)
    if not scheduler and not workers:
        return None, None
    distributed = require_distributed(source)
    if scheduler:
        return check_client(scheduler, source), None
    n = int(workers or 0)
    if n < 1:
        raise InputError(f"--workers must be >= 1, got {workers}", source="--workers")
    cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True)
    return distributed.Client(cluster), cluster
