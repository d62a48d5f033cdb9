"""The job queue on SQLite and PostgreSQL: concurrent workers never run the same job, and a job whose
worker died (SIGKILL) is re-queued once its heartbeat lapses and then completes."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from gutaxis.web import jobs
from gutaxis.web.models import Job, User

RUNS: list[tuple[int, str]] = []
_RUNS_LOCK = threading.Lock()


@jobs.handler("test.record")
def _record(db, job, settings, progress):
    with _RUNS_LOCK:
        RUNS.append((job.id, job.locked_by))
    time.sleep(0.002)  # long enough for the other workers to try the same rows
    return {"ran_by": job.locked_by}


@jobs.handler("test.finish")
def _finish(db, job, settings, progress):
    progress("finishing")
    return {"finished_by": job.locked_by}


def _person(app) -> int:
    with app.state.sessions() as db:
        u = User(email="jobs@example.org", password_hash="x", role="person")
        db.add(u)
        db.commit()
        return u.id


@pytest.mark.parametrize("n_workers", [2, 4])
def test_concurrent_workers_run_each_job_exactly_once(app, settings, n_workers):
    pid = _person(app)
    sessions = app.state.sessions
    with sessions() as db:
        ids = [jobs.enqueue(db, "test.record", pid).id for _ in range(100)]
    RUNS.clear()
    errors = []
    start = threading.Barrier(n_workers)

    def worker(name):
        try:
            start.wait()
            while (jid := jobs.claim(sessions, name)) is not None:
                jobs.run_job(sessions, jid, settings, worker=name)
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(f"w{k}",)) for k in range(n_workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    counts = Counter(jid for jid, _ in RUNS)
    assert sorted(counts) == sorted(ids) and set(counts.values()) == {1}, counts.most_common(3)
    with sessions() as db:
        rows = db.execute(select(Job.id, Job.status, Job.locked_by, Job.attempts, Job.result)).all()
    assert {r.status for r in rows} == {"done"} and {r.attempts for r in rows} == {1}
    ran_by = dict(RUNS)
    assert all(r.locked_by == ran_by[r.id] == r.result["ran_by"] for r in rows)
    assert len(set(ran_by.values())) >= 2, "only one worker ever got a job: the test did not exercise concurrency"


_DOOMED_WORKER = textwrap.dedent("""
    import sys, time
    from gutaxis.web import jobs
    from gutaxis.web.db import make_engine, session_factory
    from gutaxis.web.settings import Settings

    @jobs.handler("test.finish")
    def hang(db, job, settings, progress):
        print("running", job.id, flush=True)
        time.sleep(3600)

    settings = Settings(database_url=sys.argv[1], data_dir=sys.argv[2], job_lapse_seconds=float(sys.argv[3]))
    sessions = session_factory(make_engine(settings.database_url))
    jid = jobs.claim(sessions, "doomed", lapse=jobs._lapse_of(settings))
    jobs.run_job(sessions, jid, settings, worker="doomed")
""")


def test_a_job_whose_worker_was_killed_is_requeued_after_its_heartbeat_lapses_and_completes(app, settings, tmp_path):
    lapse = 2.0
    settings.job_lapse_seconds = lapse
    pid = _person(app)
    sessions = app.state.sessions
    with sessions() as db:
        jid = jobs.enqueue(db, "test.finish", pid).id
    proc = subprocess.Popen(
        [sys.executable, "-c", _DOOMED_WORKER, settings.database_url, str(tmp_path / "w"), str(lapse)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.split() == ["running", str(jid)], (line, proc.stderr.read() if proc.poll() is not None else "")
        # alive: its heartbeat keeps the job for well past the lapse, so nobody else may take it
        time.sleep(2.5 * lapse)
        assert jobs.claim(sessions, "rescuer", lapse=timedelta(seconds=lapse)) is None
        with sessions() as db:
            job = db.get(Job, jid)
            assert (job.status, job.locked_by, job.attempts) == ("running", "doomed", 1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
    # dead: once the heartbeat has lapsed the job goes back to the queue and the next worker finishes it
    assert jobs.claim(sessions, "rescuer", lapse=timedelta(seconds=lapse)) is None  # not yet lapsed
    time.sleep(lapse + 0.3)
    with sessions() as db:
        assert jobs.requeue_lapsed(db, timedelta(seconds=lapse)) == 1
        db.commit()
        job = db.get(Job, jid)
        assert (job.status, job.locked_by) == ("queued", None)
    assert jobs.run_pending(sessions, settings, worker="rescuer") == 1
    with sessions() as db:
        job = db.get(Job, jid)
        assert (job.status, job.locked_by, job.attempts, job.result) == (
            "done",
            "rescuer",
            2,
            {"finished_by": "rescuer"},
        )


def test_a_job_that_keeps_killing_its_worker_is_failed_with_a_plain_message(app, settings):
    pid = _person(app)
    sessions = app.state.sessions
    with sessions() as db:
        jid = jobs.enqueue(db, "test.finish", pid).id
    lapse = timedelta(seconds=60)
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):  # each time the worker "dies" right after claiming
        assert jobs.claim(sessions, f"w{attempt}", lapse=lapse) == jid
        with sessions() as db:
            db.get(Job, jid).heartbeat_at -= 2 * lapse
            db.commit()
    assert jobs.claim(sessions, "last", lapse=lapse) is None
    with sessions() as db:
        job = db.get(Job, jid)
        assert (job.status, job.attempts) == ("failed", jobs.MAX_ATTEMPTS)
        assert "stopped 3 times" in job.error and "Traceback" not in job.error


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_claims_skip_a_row_another_worker_has_locked(app):
    """FOR UPDATE SKIP LOCKED: a worker does not wait for a row another transaction holds; it takes the next."""
    from sqlalchemy import text

    pid = _person(app)
    sessions = app.state.sessions
    with sessions() as db:
        first, second = (jobs.enqueue(db, "test.finish", pid).id for _ in range(2))
    got = []
    with sessions() as holder:
        holder.execute(text("SELECT id FROM job WHERE id = :id FOR UPDATE"), {"id": first})
        t = threading.Thread(target=lambda: got.append(jobs.claim(sessions, "other")))
        t.start()
        t.join(5)  # a claim that waited for the lock would still be blocked here
        blocked = t.is_alive()
        holder.rollback()
    t.join(10)
    assert not blocked, "the claim waited for the locked row instead of skipping it"
    assert got == [second]
    assert jobs.claim(sessions, "other") == first
