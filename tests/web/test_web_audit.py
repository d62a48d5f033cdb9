"""The audit trail is append-only and hash-chained on the database itself; the schema migrates
up, down one step and up again."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError

from gutaxis.web import audit
from gutaxis.web.db import alembic_config, make_engine, migrate
from gutaxis.web.models import AuditEvent, Base


def _events(app, n=5):
    with app.state.sessions() as db:
        for i in range(n):
            audit.record(db, 1, 2, "read", "diary", f"day:{i}")
        db.commit()


def test_chain_holds_and_rows_cannot_be_changed_or_deleted(app):
    _events(app)
    with app.state.sessions() as db:
        assert audit.verify_chain(db) is None
        for stmt in ("UPDATE audit_event SET action = 'write' WHERE id = 2", "DELETE FROM audit_event WHERE id = 2"):
            with pytest.raises(DatabaseError, match="append-only"):
                db.execute(text(stmt))
            db.rollback()
        assert db.query(AuditEvent).count() == 5


def test_chain_check_finds_a_tampered_row(app):
    _events(app)
    with app.state.sessions() as db:  # an attacker with file access drops the guard and edits a row
        db.execute(text("DROP TRIGGER audit_no_update"))
        db.execute(text("UPDATE audit_event SET actor_id = 99 WHERE id = 3"))
        db.commit()
        assert audit.verify_chain(db) == 3


def test_chain_check_finds_a_removed_row(app):
    _events(app)
    with app.state.sessions() as db:
        db.execute(text("DROP TRIGGER audit_no_delete"))
        db.execute(text("DELETE FROM audit_event WHERE id = 2"))
        db.commit()
        assert audit.verify_chain(db) == 3


def test_migrations_round_trip_and_match_the_models(tmp_path):
    from alembic import command

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(Base.metadata.tables)
    cfg = alembic_config(engine)
    command.downgrade(cfg, "-1")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(cfg, "head")
    assert set(inspect(engine).get_table_names()) - {"alembic_version"} == set(Base.metadata.tables)
    with engine.connect() as conn:  # the append-only guard came back with the upgrade
        names = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))}
    assert {"audit_no_update", "audit_no_delete"} <= names


def test_models_and_migration_agree(tmp_path):
    """No change in the models is left without a migration (autogenerate finds nothing to do)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode(app):
    with app.state.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
