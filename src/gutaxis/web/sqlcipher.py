"""Encryption at rest for the SQLite database: SQLCipher (``pip install 'gutaxis[sqlcipher]'``).

With a database key (``gutaxis serve --database-key`` or ``GUTAXIS_DATABASE_KEY``) the app's
``sqlite:///…`` database is opened through SQLCipher (the ``sqlcipher3`` module, a drop-in DB-API
twin of :mod:`sqlite3` whose wheel bundles SQLCipher 4): every page of the file, and of its WAL, is
AES-256 encrypted with a key derived from the passphrase (PBKDF2-HMAC-SHA512). SQLAlchemy gets the
module through ``module=`` and each connection through ``creator=``, which sends ``PRAGMA key``
before anything else and then reads the schema once: a wrong key makes SQLCipher answer "file is
not a database", which becomes :class:`WrongDatabaseKey` ("wrong database key").

The key never goes into the database URL (URLs are printed and logged, masked or not). Without the
key the file is unreadable, backups included; losing the key loses the data. PostgreSQL is encrypted
at the volume and, per person, in the application (docs/webapp.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from ..errors import InputError

__all__ = ["WrongDatabaseKey", "cipher_connect", "cipher_engine", "sqlcipher_module"]


class WrongDatabaseKey(InputError):
    """The database key does not open the file (or the file is not an encrypted database)."""


def sqlcipher_module() -> Any:
    try:
        from sqlcipher3 import dbapi2
    except ImportError:
        raise InputError(
            "a database key encrypts the SQLite database with SQLCipher, which is not installed: "
            "pip install 'gutaxis[sqlcipher]'"
        ) from None
    return dbapi2


def _sqlite_path(url: str) -> str:
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        raise InputError(
            "a database key (--database-key, GUTAXIS_DATABASE_KEY) encrypts a SQLite database with SQLCipher; "
            f"it does not apply to {u.get_backend_name()} (encrypt PostgreSQL's volume; see docs/webapp.md)"
        )
    path = u.database
    if not path or path == ":memory:":
        raise InputError("a database key needs a SQLite file, not an in-memory database")
    return path


def cipher_connect(path: str | Path, key: str, *, timeout: float = 30.0) -> Any:
    """A SQLCipher DB-API connection to ``path`` opened with ``key``; raises :class:`WrongDatabaseKey`."""
    dbapi = sqlcipher_module()
    conn = dbapi.connect(str(path), check_same_thread=False, timeout=timeout)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")  # SQLCipher's own log to stderr would repeat our error
        conn.execute("PRAGMA key = '{}'".format(key.replace("'", "''")))
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except dbapi.DatabaseError as exc:
        conn.close()
        if "not a database" in str(exc):
            raise WrongDatabaseKey(
                f"wrong database key: {path} does not open with the key given (SQLCipher: {exc}); "
                "or the file is not an encrypted gutaxis database"
            ) from None
        raise
    return conn


def cipher_engine(url: str, key: str) -> Engine:
    """An engine on the SQLite file of ``url``, encrypted with SQLCipher under ``key``."""
    if not key:
        raise InputError("the database key is empty")
    path = _sqlite_path(url)
    dbapi = sqlcipher_module()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite+pysqlite:///{path}",
        module=dbapi,
        creator=lambda: cipher_connect(path, key),
        pool_size=20,
        max_overflow=30,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # as for plain SQLite (gutaxis.web.db.make_engine)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine
