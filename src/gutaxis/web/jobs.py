"""Background jobs in a database table, run by one worker process (no Redis).

A request enqueues (:func:`enqueue`) and answers at once with a page that shows the job's
progress; the worker (:func:`worker_loop`, started by ``gutaxis serve``) claims one job at a time
with a single atomic ``UPDATE … RETURNING`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two
workers never run the same job, and re-claims a job whose worker stopped sending heartbeats.
Handlers are registered with :func:`handler`; an :class:`~gutaxis.errors.InputError` becomes the
job's message, any other failure a plain sentence (never a traceback).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from ..errors import GutaxisError
from .models import Job, utcnow

__all__ = ["handler", "enqueue", "submit", "claim", "run_job", "run_pending", "worker_loop", "HEARTBEAT_LAPSE", "MAX_ATTEMPTS"]

log = logging.getLogger("gutaxis.web.jobs")
HEARTBEAT_LAPSE = timedelta(seconds=120)
MAX_ATTEMPTS = 3
_HANDLERS: dict[str, Callable] = {}


def handler(kind: str):
    """Register ``fn(db, job, settings, progress) -> dict`` as the handler of ``kind`` jobs."""
    def deco(fn):
        _HANDLERS[kind] = fn
        return fn
    return deco


def enqueue(db: Session, kind: str, person_id: int, *, requested_by: int | None = None, params: dict | None = None) -> Job:
    job = Job(kind=kind, person_id=person_id, requested_by=requested_by, params=params or {})
    db.add(job)
    db.commit()
    return job


def claim(sessions: sessionmaker, worker: str) -> int | None:
    """Atomically take the oldest queued job (or one whose worker went silent); its id, or None."""
    lapsed = utcnow() - HEARTBEAT_LAPSE
    with sessions() as db:
        pg = db.get_bind().dialect.name == "postgresql"
        pick = ("SELECT id FROM job WHERE (status = 'queued' OR (status = 'running' AND heartbeat_at < :lapsed)) "
                "AND attempts < :max ORDER BY id LIMIT 1" + (" FOR UPDATE SKIP LOCKED" if pg else ""))
        row = db.execute(text(
            f"UPDATE job SET status = 'running', locked_by = :w, heartbeat_at = :now, attempts = attempts + 1, "
            f"progress = 'started' WHERE id = ({pick}) RETURNING id"),
            {"w": worker, "now": utcnow(), "lapsed": lapsed, "max": MAX_ATTEMPTS}).first()
        db.commit()
        return None if row is None else int(row[0])


def run_job(sessions: sessionmaker, job_id: int, settings) -> Job:
    """Run one claimed job to its end (done or failed)."""
    with sessions() as db:
        job = db.get(Job, job_id)
        fn = _HANDLERS.get(job.kind)

        def progress(message: str) -> None:
            job.progress = message[:200]
            job.heartbeat_at = utcnow()
            db.commit()

        try:
            if fn is None:
                raise GutaxisError(f"no handler for jobs of kind {job.kind!r}")
            result = fn(db, job, settings, progress)
            job.status, job.result, job.progress = "done", result or {}, "done"
        except GutaxisError as exc:
            db.rollback()
            job = db.get(Job, job_id)
            job.status, job.error, job.progress = "failed", str(exc), "failed"
        except Exception as exc:  # noqa: BLE001 (a job must end; the type is logged, no values)
            db.rollback()
            job = db.get(Job, job_id)
            log.error("job %s (%s) failed: %s", job_id, job.kind, type(exc).__name__)
            job.status, job.progress = "failed", "failed"
            job.error = "The job failed on our side; nothing you sent was lost. Try again, or tell your dietitian."
        job.finished_at = utcnow()
        db.commit()
        return job


def run_pending(sessions: sessionmaker, settings, *, worker: str = "inline") -> int:
    """Run every queued job now (tests, ``run_jobs_inline``); returns how many ran."""
    from . import tasks  # noqa: F401 (registers the handlers)

    n = 0
    while (jid := claim(sessions, worker)) is not None:
        run_job(sessions, jid, settings)
        n += 1
    return n


def worker_loop(settings, *, poll: float = 1.0, stop: Callable[[], bool] = lambda: False) -> None:
    """The worker process: claim and run jobs until ``stop()``."""
    from . import tasks  # noqa: F401 (registers the handlers)
    from .db import make_engine, session_factory

    sessions = session_factory(make_engine(settings.database_url))
    name = f"{socket.gethostname()}:{os.getpid()}"
    while not stop():
        jid = claim(sessions, name)
        if jid is None:
            time.sleep(poll)
            continue
        run_job(sessions, jid, settings)


def submit(request, db: Session, kind: str, person_id: int, *, requested_by: int | None = None,
           params: dict | None = None) -> Job:
    """Enqueue from a request; with ``settings.run_jobs_inline`` (tests, bench) run it before answering."""
    job = enqueue(db, kind, person_id, requested_by=requested_by, params=params)
    settings = request.app.state.settings
    if settings.run_jobs_inline:
        run_pending(request.app.state.sessions, settings)
        db.refresh(job)
    return job
