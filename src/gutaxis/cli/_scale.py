"""``--scheduler ADDRESS`` / ``--workers N``: run a command's heavy part on a Dask cluster."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["SCHEDULER_HELP", "WORKERS_HELP", "cluster"]

SCHEDULER_HELP = (
    "Run on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://10.0.0.1:8786); the results are "
    'the same as on one machine. Needs pip install "gutaxis[dask]". See docs/scale.md.'
)
WORKERS_HELP = "Run on a Dask LocalCluster of N single-threaded worker processes started for this command."


@contextmanager
def cluster(scheduler: str | None, workers: int | None) -> Iterator:
    """The client of ``--scheduler`` / ``--workers`` (``None`` with neither), closed at the end;
    the dashboard's address is printed on stderr so progress can be followed there."""
    from ..scale import open_client

    client, local = open_client(scheduler, workers)
    if client is None:
        yield None
        return
    from ._app import _stderr

    _stderr().print(f"Dask: {len(client.nthreads())} worker(s); dashboard {client.dashboard_link}")
    try:
        yield client
    finally:
        client.close()
        if local is not None:
            local.close()
