"""The database: engine with SQLite pragmas, sessions, and migration to the newest schema (Alembic)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

__all__ = ["make_engine", "migrate", "alembic_config"]


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # one connection per request thread (FastAPI's pool has 40): SQLite serialises the writes itself
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20,
                               max_overflow=30)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # every pooled connection
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=30)


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("gutaxis.web") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (creates the database on first start)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
