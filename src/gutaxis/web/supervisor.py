"""Keep the job worker alive beside the server: ``gutaxis serve`` starts it, and starts a new one when it dies.

A worker killed in the middle of a job (SIGKILL, out of memory) leaves the job ``running`` with a
heartbeat that stops; the new worker puts it back in the queue once the heartbeat lapses
(:func:`gutaxis.web.jobs.requeue_lapsed`) and runs it to the end. Without a new worker the server
would go on answering while no upload or plan ever finished.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["WorkerSupervisor"]

log = logging.getLogger("gutaxis.web.supervisor")


class WorkerSupervisor:
    """Start a process from ``make()`` and start another whenever the current one has ended.

    ``make`` returns an unstarted :class:`multiprocessing.Process`; ``every`` is how often (seconds)
    the process is checked; ``on_restart(exitcode)`` is told of each restart (the CLI prints it).
    """

    def __init__(
        self, make: Callable[[], Any], *, every: float = 1.0, on_restart: Callable[[Any], None] | None = None
    ) -> None:
        self.make, self.every, self.on_restart = make, every, on_restart
        self.proc: Any = None
        self.restarts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            self.proc = self.make()
            self.proc.start()
        self._thread = threading.Thread(target=self._watch, name="gutaxis-worker-supervisor", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.every):
            with self._lock:
                if self._stop.is_set() or self.proc is None or self.proc.is_alive():
                    continue
                code = self.proc.exitcode
                log.warning("the job worker stopped (exit code %s); starting a new one", code)
                self.proc = self.make()
                self.proc.start()
                self.restarts += 1
            if self.on_restart is not None:
                with contextlib.suppress(Exception):  # a failed message never stops the supervision
                    self.on_restart(code)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching and end the worker (SIGTERM, then wait up to ``timeout`` seconds)."""
        self._stop.set()
        with self._lock:
            proc = self.proc
        if proc is not None:
            proc.terminate()
            proc.join(timeout)
        if self._thread is not None:
            self._thread.join(self.every + 1)
