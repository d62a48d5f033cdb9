"""The schema migrates up, down one step and up again on SQLite and PostgreSQL; the migrated schema is
exactly the models (autogenerate finds nothing to do); the append-only guard comes back with the upgrade."""

from __future__ import annotations

import pytest
from conftest import DATABASES
from sqlalchemy import inspect, text

from gutaxis.web.db import alembic_config, make_engine, migrate
from gutaxis.web.models import Base


@pytest.fixture(params=DATABASES)
def empty_db(request, tmp_path):
    """An engine on an empty database (no tables) of this test's own."""
    url = f"sqlite:///{tmp_path / 'm.db'}" if request.param == "sqlite" else request.getfixturevalue("fresh_pg")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def _guards(engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))}
        return {
            r[0]
            for r in conn.execute(
                text(
                    "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE c.relname = 'audit_event' AND NOT t.tgisinternal"
                )
            )
        }


def _expected_guards(engine) -> set[str]:
    if engine.dialect.name == "sqlite":
        return {"audit_no_update", "audit_no_delete"}
    return {"audit_no_change", "audit_no_truncate"}


def _revision(engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def test_migrations_round_trip_and_match_the_models(empty_db):
    from alembic import command
    from alembic.script import ScriptDirectory

    engine = empty_db
    assert _tables(engine) == set()
    migrate(engine)
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert _revision(engine) == head
    assert _tables(engine) == set(Base.metadata.tables)
    assert _guards(engine) == _expected_guards(engine)
    before = {t: sorted(c["name"] for c in inspect(engine).get_columns(t)) for t in _tables(engine)}

    cfg = alembic_config(engine)
    command.downgrade(cfg, "-1")
    assert _revision(engine) != head
    command.upgrade(cfg, "head")
    assert _revision(engine) == head
    assert _tables(engine) == set(Base.metadata.tables)
    assert {t: sorted(c["name"] for c in inspect(engine).get_columns(t)) for t in _tables(engine)} == before
    assert _guards(engine) == _expected_guards(engine)  # the append-only guard came back with the upgrade
    migrate(engine)  # a second start changes nothing
    assert _revision(engine) == head


def test_downgrade_to_base_removes_everything(empty_db):
    from alembic import command

    migrate(empty_db)
    command.downgrade(alembic_config(empty_db), "base")
    assert _tables(empty_db) == set()
    assert _guards(empty_db) == set()
    if empty_db.dialect.name == "postgresql":
        with empty_db.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_append_only'")).scalar() == 0


def test_models_and_migration_agree(empty_db):
    """No change in the models is left without a migration (autogenerate finds nothing to do)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate(empty_db)
    with empty_db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_serve_names_an_unreachable_database_without_its_password(tmp_path):
    from _cli import cli

    r = cli(
        "serve",
        "--no-worker",
        "--data-dir",
        tmp_path / "d",
        "--database-url",
        "postgresql://clinic:hunter2-secret@127.0.0.1:9/gutaxis",
    )
    assert r.exit_code == 1, r.output
    assert "error: cannot open the database postgresql+psycopg://clinic:***@127.0.0.1:9/gutaxis" in r.output
    assert "Connection refused" in r.output or "connection" in r.output.lower()
    assert "hunter2-secret" not in r.output


def test_a_bare_postgresql_url_gets_psycopg_3():
    from gutaxis.web.db import make_engine

    engine = make_engine("postgresql://u@127.0.0.1:9/db")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()
