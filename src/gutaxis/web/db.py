"""The database: engine with SQLite pragmas, sessions, and migration to the newest schema (Alembic).

SQLite is the default; PostgreSQL (psycopg 3, ``pip install 'gutaxis[postgres]'``) takes a URL such as
``postgresql+psycopg://gutaxis:PASSWORD@db.example.org:5432/gutaxis`` (a bare ``postgresql://`` URL
is given the psycopg driver). A database that cannot be reached is one clear error naming the URL
without its password.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from ..errors import GutaxisError, InputError

__all__ = ["DatabaseUnreachable", "alembic_config", "check_reachable", "make_engine", "migrate", "safe_url"]


class DatabaseUnreachable(GutaxisError):
    """The database server did not answer, or refused the login."""


def safe_url(url) -> str:
    """``url`` as text with the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable database URL>"


def _normalise(url: str) -> str:
    """A bare ``postgresql://`` URL gets psycopg 3 (SQLAlchemy would pick psycopg2, which we do not ship)."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return str(url)


def make_engine(url: str, key: str | None = None) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys. With a database ``key``
    (default: ``GUTAXIS_DATABASE_KEY``) the SQLite file is encrypted with SQLCipher (:mod:`.sqlcipher`)."""
    try:
        url = _normalise(url)
    except Exception as exc:
        raise InputError(
            f"not a database URL: {safe_url(url)} (e.g. postgresql+psycopg://user@host/db or sqlite:///path/gutaxis.db)"
        ) from exc
    key = key if key is not None else os.environ.get("GUTAXIS_DATABASE_KEY") or None
    if key:
        from .sqlcipher import cipher_engine

        return cipher_engine(url, key)
    if url.startswith("postgresql"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise InputError("PostgreSQL needs psycopg 3: pip install 'gutaxis[postgres]'") from None
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # one connection per request thread (FastAPI's pool has 40): SQLite serialises the writes itself
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20, max_overflow=30
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # every pooled connection
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # a server that went away: pool_pre_ping tests each pooled connection before use, and the first dead one
    # found invalidates the whole pool, so the app reconnects by itself once the server is back (no restart);
    # TCP keepalives and a user timeout turn a vanished host (no reset sent) into an error within ~30 s
    # instead of a request hanging for the kernel's 15 minutes of retransmissions
    extra = (
        {
            "connect_args": {
                "connect_timeout": 10,
                "keepalives": 1,
                "keepalives_idle": 30,
                "keepalives_interval": 10,
                "keepalives_count": 3,
                "tcp_user_timeout": 30000,
            }
        }
        if url.startswith("postgresql")
        else {}
    )
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=30, **extra)


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("gutaxis.web") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (creates the database on first start)."""
    from alembic import command

    check_reachable(engine)
    command.upgrade(alembic_config(engine), revision)


def check_reachable(engine: Engine) -> None:
    """Open one connection, or raise :class:`DatabaseUnreachable` naming the URL without its password."""
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        reason = " ".join(str(exc.orig).split()) if exc.orig is not None else type(exc).__name__
        if engine.url.password:
            reason = reason.replace(str(engine.url.password), "***")
        if "file is not a database" in reason and engine.dialect.name == "sqlite":
            reason += " (an encrypted database? give its key: --database-key or GUTAXIS_DATABASE_KEY)"
        raise DatabaseUnreachable(f"cannot open the database {safe_url(engine.url)}: {reason}") from None


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
