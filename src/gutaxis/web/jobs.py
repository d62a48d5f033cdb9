"""Background jobs in a database table, run by one worker process (no Redis).

A request enqueues (:func:`enqueue`) and answers at once with a page that shows the job's
progress; the worker (:func:`worker_loop`, started by ``gutaxis serve``) claims one job at a time
with a single atomic ``UPDATE … WHERE status = 'queued' … RETURNING`` whose row is picked with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises writers itself), so two workers never
run the same job. While a job runs, a heartbeat thread touches ``heartbeat_at`` every quarter of
``Settings.job_lapse_seconds`` (default 60 s); a job whose heartbeat is older than that (its
worker died) is put back in the queue, or failed after :data:`MAX_ATTEMPTS` tries. Handlers are
registered with :func:`handler`; an :class:`~gutaxis.errors.InputError` becomes the job's message,
any other failure a plain sentence (never a traceback).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import cast

from sqlalchemy import CursorResult, select, text
from sqlalchemy.orm import Session, sessionmaker

from ..errors import GutaxisError
from .models import Job, utcnow

__all__ = [
    "HEARTBEAT_LAPSE",
    "MAX_ATTEMPTS",
    "claim",
    "enqueue",
    "handler",
    "requeue_lapsed",
    "run_job",
    "run_pending",
    "submit",
    "worker_loop",
]

log = logging.getLogger("gutaxis.web.jobs")
HEARTBEAT_LAPSE = timedelta(seconds=60)  # default of Settings.job_lapse_seconds
MAX_ATTEMPTS = 3
GAVE_UP = (
    "The job stopped {n} times before it could finish; nothing you sent was lost. Try again, or tell your dietitian."
)
_HANDLERS: dict[str, Callable] = {}


def handler(kind: str):
    """Register ``fn(db, job, settings, progress) -> dict`` as the handler of ``kind`` jobs."""

    def deco(fn):
        _HANDLERS[kind] = fn
        return fn

    return deco


def enqueue(
    db: Session, kind: str, person_id: int, *, requested_by: int | None = None, params: dict | None = None
) -> Job:
    job = Job(kind=kind, person_id=person_id, requested_by=requested_by, params=params or {})
    db.add(job)
    db.commit()
    return job


def _lapse_of(settings) -> timedelta:
    seconds = getattr(settings, "job_lapse_seconds", None)
    return HEARTBEAT_LAPSE if seconds is None else timedelta(seconds=float(seconds))


def requeue_lapsed(db: Session, lapse: timedelta = HEARTBEAT_LAPSE) -> int:
    """Put running jobs whose heartbeat is older than ``lapse`` back in the queue (or fail them after
    :data:`MAX_ATTEMPTS`); how many were re-queued. The caller commits."""
    params = {"lapsed": utcnow() - lapse, "max": MAX_ATTEMPTS}
    stale = "status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < :lapsed)"
    if db.execute(text(f"SELECT 1 FROM job WHERE {stale} LIMIT 1"), params).first() is None:
        return 0  # the usual case: a read, so an idle worker's poll takes no write lock on SQLite
    db.execute(
        text(
            f"UPDATE job SET status = 'failed', progress = 'failed', error = :gave_up, finished_at = :now "
            f"WHERE {stale} AND attempts >= :max"
        ),
        {**params, "gave_up": GAVE_UP.format(n=MAX_ATTEMPTS), "now": utcnow()},
    )
    requeued = db.execute(
        text(
            f"UPDATE job SET status = 'queued', locked_by = NULL, "
            f"progress = 'waiting for the worker (the previous one stopped)' WHERE {stale} AND attempts < :max"
        ),
        params,
    )
    n = cast(CursorResult, requeued).rowcount  # an UPDATE's result is a CursorResult
    if n:
        log.warning("re-queued %d job(s) whose worker stopped sending heartbeats", n)
    return n


def claim(sessions: sessionmaker, worker: str, *, lapse: timedelta = HEARTBEAT_LAPSE) -> int | None:
    """Atomically take the oldest queued job (after re-queuing those whose worker went silent); its id, or None."""
    with sessions() as db:
        requeue_lapsed(db, lapse)
        db.commit()
        if db.execute(text("SELECT 1 FROM job WHERE status = 'queued' LIMIT 1")).first() is None:
            db.rollback()
            return None  # nothing to do: an idle poll only reads
        pg = db.get_bind().dialect.name == "postgresql"
        pick = "SELECT id FROM job WHERE status = 'queued' ORDER BY id LIMIT 1" + (
            " FOR UPDATE SKIP LOCKED" if pg else ""
        )
        row = db.execute(
            text(
                f"UPDATE job SET status = 'running', locked_by = :w, heartbeat_at = :now, attempts = attempts + 1, "
                f"progress = 'started' WHERE id = ({pick}) AND status = 'queued' RETURNING id"
            ),
            {"w": worker, "now": utcnow()},
        ).first()
        db.commit()
        return None if row is None else int(row[0])


@contextmanager
def _heartbeat(sessions: sessionmaker, job_id: int, worker: str, every: float) -> Iterator[None]:
    """Touch the job's heartbeat every ``every`` seconds from a thread while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                with sessions() as db:
                    db.execute(
                        text(
                            "UPDATE job SET heartbeat_at = :now WHERE id = :id AND locked_by = :w "
                            "AND status = 'running'"
                        ),
                        {"now": utcnow(), "id": job_id, "w": worker},
                    )
                    db.commit()
            except Exception as exc:
                log.warning("heartbeat of job %s failed: %s", job_id, type(exc).__name__)

    t = threading.Thread(target=beat, name=f"gutaxis-heartbeat-{job_id}", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()


def run_job(sessions: sessionmaker, job_id: int, settings, *, worker: str = "inline") -> Job:
    """Run one job claimed by ``worker`` to its end (done or failed), sending heartbeats meanwhile."""
    every = max(_lapse_of(settings).total_seconds() / 4, 0.05)
    with _heartbeat(sessions, job_id, worker, every), sessions() as db:
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
        except Exception as exc:
            db.rollback()
            job = db.get(Job, job_id)
            log.error("job %s (%s) failed: %s", job_id, job.kind, type(exc).__name__)
            job.status, job.progress = "failed", "failed"
            job.error = "The job failed on our side; nothing you sent was lost. Try again, or tell your dietitian."
        with db.no_autoflush:
            owner = db.scalar(select(Job.locked_by).where(Job.id == job_id))
        if owner != worker:  # our heartbeat lapsed and another worker took the job over: its outcome counts
            log.warning("job %s was taken over by another worker; this run's outcome is dropped", job_id)
            db.rollback()
            return db.get(Job, job_id)
        job.finished_at = utcnow()
        db.commit()
        return job


def run_pending(sessions: sessionmaker, settings, *, worker: str = "inline") -> int:
    """Run every queued job now (tests, ``run_jobs_inline``); returns how many ran."""
    from . import tasks  # noqa: F401 (registers the handlers)

    n, lapse = 0, _lapse_of(settings)
    while (jid := claim(sessions, worker, lapse=lapse)) is not None:
        run_job(sessions, jid, settings, worker=worker)
        n += 1
    return n


def worker_loop(settings, *, poll: float = 1.0, stop: Callable[[], bool] = lambda: False) -> None:
    """The worker process: claim and run jobs until ``stop()``."""
    from . import tasks  # noqa: F401 (registers the handlers)
    from .db import make_engine, session_factory

    engine = make_engine(settings.database_url, getattr(settings, "database_key", None))
    if getattr(settings, "master_key", None):  # per-person encryption, as in the app
        from .person_keys import attach

        attach(engine, settings)
    sessions = session_factory(engine)
    name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    lapse = _lapse_of(settings)
    while not stop():
        jid = claim(sessions, name, lapse=lapse)
        if jid is None:
            time.sleep(poll)
            continue
        run_job(sessions, jid, settings, worker=name)


def submit(
    request, db: Session, kind: str, person_id: int, *, requested_by: int | None = None, params: dict | None = None
) -> Job:
    """Enqueue from a request; with ``settings.run_jobs_inline`` (tests, bench) run it before answering."""
    job = enqueue(db, kind, person_id, requested_by=requested_by, params=params)
    settings = request.app.state.settings
    if settings.run_jobs_inline:
        run_pending(request.app.state.sessions, settings)
        db.refresh(job)
    return job
