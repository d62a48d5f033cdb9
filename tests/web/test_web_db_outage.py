"""The database going away: a clear 503 page (JSON for API callers), nothing half-written, and the
writes resume when it is back, without restarting the app (issue 16, Faults).

PostgreSQL only, on a cluster of this test's own (the session-wide one that the other tests share is
never stopped): the cluster is stopped with ``pg_ctl stop -m immediate`` (a crash: no shutdown
checkpoint, every connection cut) once while a meal is being logged and started again later.

SQLite has no honest counterpart: it is a file inside the app's own process, so it does not "go away"
while the app runs; making its folder unreadable or deleting the file would test a broken install, not
an outage. Its "database is locked" after the 30 s busy timeout is an OperationalError too and gets the
same 503 (see :func:`gutaxis.web.app.database_outage`, tested below without a database).
"""

from __future__ import annotations

import uuid

import pytest
from conftest import CHEAP_ARGON2, DATABASES, ThrowawayCluster, _pg_binary, _under_ci, signup
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool

MEAL = "1 cup kimchi"


def _pg_ctl(cluster: ThrowawayCluster, *args: str) -> None:
    cluster._run(cluster.pg_ctl, "-D", str(cluster.data), *args)  # as the postgres user when root


def _crash(cluster: ThrowawayCluster) -> None:
    _pg_ctl(cluster, "-m", "immediate", "-w", "stop")


def _boot(cluster: ThrowawayCluster) -> None:
    """Start the stopped cluster again on the same port (crash recovery replays its WAL)."""
    opts = f"-h 127.0.0.1 -p {cluster.port} -k {cluster.root} -F -c max_connections=100"
    _pg_ctl(cluster, "-l", str(cluster.root / "log"), "-o", opts, "-w", "-t", "60", "start")


@pytest.fixture
def private_pg():
    """A PostgreSQL cluster of this test's own that it may stop and start: (cluster, URL)."""
    if "postgresql" not in DATABASES:
        pytest.skip("GUTAXIS_TEST_DATABASES leaves PostgreSQL out")
    if not (_pg_binary("initdb") and _pg_binary("pg_ctl")):
        msg = "PostgreSQL binaries (initdb, pg_ctl) not found: install the Debian package postgresql"
        if _under_ci():
            pytest.fail(msg + " (CI: the PostgreSQL half must run)", pytrace=False)
        pytest.skip(msg)
    cluster = ThrowawayCluster()
    try:
        url = cluster.start()
        # the shared clusters run with synchronous_commit=off (speed); an immediate stop could then lose an
        # acknowledged commit, which is not what this test is about: commits here are durable
        admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as conn:
            conn.execute(text("ALTER DATABASE postgres SET synchronous_commit = on"))
        admin.dispose()
        yield cluster, url
    finally:
        cluster.stop()  # an immediate stop if it runs, then the folder is removed


def _meals(app, client_id: str | None = None) -> list[tuple[str, str]]:
    from gutaxis.web.models import MealEntry

    q = select(MealEntry.client_id, MealEntry.text)
    if client_id:
        q = q.where(MealEntry.client_id == client_id)
    with app.state.sessions() as db:
        return [tuple(r) for r in db.execute(q).all()]


def test_the_database_going_away_gives_a_clear_page_and_the_same_meal_is_stored_once_when_it_returns(
    private_pg, tmp_path, monkeypatch, caplog
):
    from gutaxis.web import food
    from gutaxis.web.app import create_app
    from gutaxis.web.settings import Settings

    cluster, url = private_pg
    app = create_app(Settings(data_dir=tmp_path / "app", database_url=url, argon2=CHEAP_ARGON2, run_jobs_inline=True))
    try:
        with app.state.engine.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
        person = signup(app, "pat@example.org")
        assert person.post_form("/log/meal", {"text": "2 eggs and toast"}, page="/log").status_code == 303
        assert person.get("/healthz").status_code == 200

        # the form as drawn before the outage: its CSRF token and client id
        form = {"text": MEAL, "csrf_token": person.token("/log"), "client_id": str(uuid.uuid4())}

        # the database dies while the meal is being stored (after the CSRF check read the session)
        match_meal, crashed = food.match_meal, []

        def crash_then_match(*a, **kw):
            if not crashed:
                _crash(cluster)
                crashed.append(True)
            return match_meal(*a, **kw)

        monkeypatch.setattr(food, "match_meal", crash_then_match)
        caplog.set_level("DEBUG")
        r = person.post("/log/meal", data=form, headers={"accept": "text/html"})
        assert crashed, "the route never reached the meal matching"
        assert r.status_code == 503, r.text[:800]
        assert int(r.headers["retry-after"]) > 0
        assert r.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]  # the app's headers as always
        page = r.text
        assert "The database cannot be reached" in page and "NOT saved" in page and "again" in page
        assert '<html lang="en">' in page  # the app's base template, not a bare traceback
        assert "Traceback" not in page and "psycopg" not in page and "SELECT" not in page

        # still down: the form sent again (same client id) gets the page again, an API caller JSON
        r = person.post("/log/meal", data=form, headers={"accept": "text/html"})
        assert r.status_code == 503 and "NOT saved" in r.text and "retry-after" in r.headers
        r = person.post("/log/meal", data=form, headers={"accept": "application/json"})
        assert r.status_code == 503 and "retry-after" in r.headers
        assert "cannot be reached" in r.json()["detail"] and "NOT saved" in r.json()["detail"]
        r = person.get("/log", headers={"accept": "application/json"})
        assert r.status_code == 503 and "cannot be reached" in r.json()["detail"]
        r = person.get("/healthz")
        assert r.status_code == 503 and r.json() == {"ok": False, "database": "unreachable"}
        assert MEAL not in caplog.text and "pat@example.org" not in caplog.text  # types only in the log
        assert "database unreachable on POST /log/meal: OperationalError" in caplog.text

        # back: the same app (no restart) stores the same meal exactly once
        _boot(cluster)
        assert person.get("/healthz").status_code == 200
        r = person.post("/log/meal", data=form, headers={"accept": "text/html"})
        assert r.status_code == 303, r.text[:800]
        again = person.post("/log/meal", data=form, headers={"accept": "text/html"})
        assert again.status_code == 303 and again.headers["location"] == r.headers["location"]
        assert _meals(app, form["client_id"]) == [(form["client_id"], MEAL)]
        assert sorted(t for _, t in _meals(app)) == ["1 cup kimchi", "2 eggs and toast"]  # nothing lost
        assert person.html("/log").status_code == 200
    finally:
        app.state.engine.dispose()


def test_only_a_lost_database_counts_as_an_outage():
    """The 503 is kept for the database going away; a constraint violation stays a 500 (a bug)."""
    from gutaxis.web.app import database_outage

    class Orig(Exception):
        pass

    assert database_outage(OperationalError("SELECT 1", {}, Orig("connection refused")))
    assert database_outage(InterfaceError("SELECT 1", {}, Orig("connection already closed")))
    assert database_outage(PoolTimeout("QueuePool limit reached"))
    assert database_outage(IntegrityError("INSERT", {}, Orig("lost"), connection_invalidated=True))
    assert not database_outage(IntegrityError("INSERT", {}, Orig("duplicate key")))
    assert not database_outage(ValueError("no"))
