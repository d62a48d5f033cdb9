"""The audit trail is append-only and hash-chained on the database itself (SQLite and PostgreSQL):
UPDATE, DELETE (and TRUNCATE on PostgreSQL) are refused; a row changed or removed by someone who
switched the guard off (the database owner) is found by ``gutaxis admin verify-audit``."""

from __future__ import annotations

import threading

import pytest
from _cli import cli
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from gutaxis.web import audit
from gutaxis.web.models import AuditEvent


def _events(app, n=5):
    with app.state.sessions() as db:
        for i in range(n):
            audit.record(db, 1, 2, "read", "diary", f"day:{i}")
        db.commit()


def _guard_off(db) -> None:
    """What the database owner can do: drop (SQLite) or disable (PostgreSQL) the append-only triggers."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(text("DROP TRIGGER audit_no_update"))
        db.execute(text("DROP TRIGGER audit_no_delete"))
    else:
        db.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_no_change"))


def test_chain_holds_and_rows_cannot_be_changed_or_deleted(app):
    _events(app)
    with app.state.sessions() as db:
        assert audit.verify_chain(db) is None
        stmts = [
            "UPDATE audit_event SET action = 'write' WHERE id = 2",
            "DELETE FROM audit_event WHERE id = 2",
            "UPDATE audit_event SET record = ''",
            "DELETE FROM audit_event",
        ]
        if db.get_bind().dialect.name == "postgresql":
            stmts.append("TRUNCATE audit_event")
        for stmt in stmts:
            with pytest.raises(DatabaseError, match="append-only"):
                db.execute(text(stmt))
            db.rollback()
        assert db.query(AuditEvent).count() == 5
        assert [e.action for e in db.query(AuditEvent).order_by(AuditEvent.id)] == ["read"] * 5
        assert audit.verify_chain(db) is None


def test_chain_check_finds_a_tampered_row(app):
    _events(app)
    with app.state.sessions() as db:  # an attacker with owner rights switches the guard off and edits a row
        _guard_off(db)
        db.execute(text("UPDATE audit_event SET actor_id = 99 WHERE id = 3"))
        db.commit()
        assert audit.verify_chain(db) == 3
        report = audit.check_chain(db)
        assert (report.ok, report.broken_id, report.events) == (False, 3, 3)
        assert "changed" in report.reason


def test_chain_check_finds_a_removed_row(app):
    _events(app)
    with app.state.sessions() as db:
        _guard_off(db)
        db.execute(text("DELETE FROM audit_event WHERE id = 2"))
        db.commit()
        assert audit.verify_chain(db) == 3
        assert "removed" in audit.check_chain(db).reason


def test_concurrent_requests_keep_one_chain(app):
    """Eight threads appending at once (as the request threadpool does) never fork the chain."""
    errors = []

    def writer(k):
        try:
            for i in range(15):
                with app.state.sessions() as db:
                    audit.record(db, k, k, "read", "diary", f"{k}:{i}")
                    db.commit()
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.state.sessions() as db:
        assert db.query(AuditEvent).count() == 120
        assert audit.check_chain(db).ok
        prevs = [e.prev_hash for e in db.query(AuditEvent)]
        assert len(set(prevs)) == 120  # no two events share a predecessor


def test_verify_audit_command_says_ok_then_finds_the_altered_row(app, settings):
    _events(app, 4)
    url = settings.database_url
    r = cli("admin", "verify-audit", "--database-url", url)
    assert r.exit_code == 0, r.output
    assert "OK" in r.output and "4 events" in r.output
    with app.state.sessions() as db:
        _guard_off(db)
        db.execute(text("UPDATE audit_event SET resource = 'plan' WHERE id = 2"))
        db.commit()
    r = cli("admin", "verify-audit", "--database-url", url)
    assert r.exit_code == 1, r.output
    assert "BROKEN" in r.output and "audit event 2 " in r.output and "changed" in r.output


def test_verify_audit_names_an_unreachable_database_without_its_password():
    r = cli("admin", "verify-audit", "--database-url", "postgresql://auditor:s3cr3t-pw@127.0.0.1:9/clinic")
    assert r.exit_code != 0
    assert "cannot open the database postgresql+psycopg://auditor:***@127.0.0.1:9/clinic" in r.output
    assert "s3cr3t-pw" not in r.output


def test_verify_audit_refuses_a_missing_sqlite_file(tmp_path):
    r = cli("admin", "verify-audit", "--data-dir", tmp_path / "nothing")
    assert r.exit_code == 2 and "no database at" in r.output, r.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_mode(app):
    with app.state.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
