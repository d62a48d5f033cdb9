"""Online, consistent backups of the web app (``gutaxis admin backup`` / ``restore``).

One archive (an uncompressed tar; the database dump inside is compact) holds:

* ``manifest.json``: format, when, the gutaxis version, the database kind and schema revision, the
  row count of every table, and the size and sha256 of every other member;
* ``database/gutaxis.db`` (SQLite, copied with the SQLite online backup API, a consistent snapshot
  taken while the app keeps writing; a SQLCipher database stays encrypted under its key) or
  ``database/gutaxis.pgdump`` (PostgreSQL, ``pg_dump --format=custom``, one consistent snapshot by
  its own transaction);
* ``uploads/<stored name>``: the uploaded files, copied after the database snapshot, so every file
  the snapshot refers to is there (a file written later is an unused extra).

:func:`restore` checks every member's sha256 against the manifest before it touches anything (a
corrupted or altered archive is refused), refuses to overwrite a database that holds rows unless
``force``, then restores the database (SQLite: backup API into the target; PostgreSQL:
``pg_restore --clean --if-exists --single-transaction``) and the uploads.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine, make_url

from ..errors import GutaxisError, InputError
from .db import check_reachable, make_engine, safe_url

__all__ = ["FORMAT", "backup", "database_rows", "pg_binary", "restore"]

FORMAT = "gutaxis-web-backup/1"
_CHUNK = 1 << 20


def pg_binary(name: str) -> str:
    """``pg_dump``/``pg_restore`` from PATH, else from Debian's /usr/lib/postgresql/<version>/bin (newest)."""
    import glob
    import re

    found = shutil.which(name)
    if found:
        return found
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(re.sub(r"\D", "", d.split("/")[-2]) or 0))
    for d in reversed(dirs):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    raise InputError(f"{name} not found: install the PostgreSQL client tools (Debian: postgresql-client)")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _sqlite_path(engine: Engine) -> Path | None:
    if engine.dialect.name != "sqlite":
        return None
    db = engine.url.database
    if not db or db == ":memory:":
        raise InputError("an in-memory SQLite database cannot be backed up or restored")
    return Path(db)


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and an environment with it (never on a command line)."""
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = make_url(url.render_as_string(hide_password=False)).set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def database_rows(engine: Engine) -> dict[str, int]:
    """Row count of every table (Alembic's bookkeeping table left out)."""
    names = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.connect() as conn:
        prep = engine.dialect.identifier_preparer
        return {t: int(conn.execute(text(f"SELECT count(*) FROM {prep.quote(t)}")).scalar() or 0) for t in names}


def _revision(engine: Engine) -> str | None:
    if "alembic_version" not in inspect(engine).get_table_names():
        return None
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _sqlite_connect(path: Path, key: str | None, *, readonly: bool = False) -> Any:
    """A DB-API connection: SQLCipher with ``key`` (the copy stays encrypted under the same key), else sqlite3."""
    if key:
        from .sqlcipher import cipher_connect

        return cipher_connect(path, key)
    if readonly:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    return sqlite3.connect(path, timeout=30)


def _dump(engine: Engine, dest: Path, key: str | None = None) -> str:
    """The database into ``dest``; returns the archive member name."""
    sqlite_path = _sqlite_path(engine)
    if sqlite_path is not None:
        if not sqlite_path.is_file():
            raise InputError(f"no database at {sqlite_path}")
        src = _sqlite_connect(sqlite_path, key, readonly=True)
        dst = _sqlite_connect(dest, key)
        try:
            src.backup(dst)  # one consistent snapshot, taken while the app goes on writing
        finally:
            dst.close()
            src.close()
        return "database/gutaxis.db"
    if engine.dialect.name != "postgresql":
        raise InputError(f"backups support SQLite and PostgreSQL, not {engine.dialect.name}")
    dsn, env = _libpq(engine)
    r = subprocess.run(
        [pg_binary("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(dest), dsn],
        capture_output=True,
        text=True,
        env=env,
    )
    if r.returncode != 0:
        raise GutaxisError(f"pg_dump failed on {safe_url(engine.url)}: {r.stderr.strip()[-800:]}")
    return "database/gutaxis.pgdump"


def backup(settings, dest: Path) -> dict[str, Any]:
    """Write a backup archive of ``settings``' database and uploads to ``dest``; returns the manifest."""
    from .. import __version__

    dest = Path(dest)
    key = getattr(settings, "database_key", None)
    engine = make_engine(settings.database_url, key)
    try:
        check_reachable(engine)
        with tempfile.TemporaryDirectory(prefix="gutaxis-backup-", dir=dest.parent) as tmp:
            work = Path(tmp)
            dump = work / "db"
            member = _dump(engine, dump, key)
            files: dict[str, dict[str, Any]] = {member: {"size": dump.stat().st_size, "sha256": _sha256(dump)}}
            uploads: list[tuple[str, Path]] = []
            up = Path(settings.upload_dir)
            if up.is_dir():
                for p in sorted(up.iterdir()):
                    if p.is_file() and not p.is_symlink():
                        copy = work / f"u{len(uploads)}"
                        shutil.copyfile(p, copy)  # a copy: the checksum and the archive see the same bytes
                        name = f"uploads/{p.name}"
                        files[name] = {"size": copy.stat().st_size, "sha256": _sha256(copy)}
                        uploads.append((name, copy))
            rows = _snapshot_rows(dump, member, key)
            manifest = {
                "format": FORMAT,
                "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "gutaxis": __version__,
                "database": "sqlite" if member.endswith(".db") else "postgresql",
                "source": safe_url(engine.url),
                "revision": _revision(engine),
                "rows": rows,
                "files": files,
            }
            part = dest.with_name(dest.name + ".part")
            with tarfile.open(part, "w") as tar:
                blob = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
                info = tarfile.TarInfo("manifest.json")
                info.size, info.mtime, info.mode = len(blob), int(datetime.now().timestamp()), 0o600
                tar.addfile(info, io.BytesIO(blob))
                tar.add(dump, member, recursive=False)
                for name, copy in uploads:
                    tar.add(copy, name, recursive=False)
            os.chmod(part, 0o600)  # it holds health data
            os.replace(part, dest)
    finally:
        engine.dispose()
    return manifest


def _snapshot_rows(dump: Path, member: str, key: str | None) -> dict[str, int] | None:
    """Row counts of the snapshot itself (SQLite: the copy; PostgreSQL: not known without a restore)."""
    if not member.endswith(".db"):
        return None
    snap = make_engine(f"sqlite:///{dump}", key or "")
    try:
        return database_rows(snap)
    finally:
        snap.dispose()


def _safe_member(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts and "\\" not in name


def _verified(archive: Path, work: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """Unpack ``archive`` into ``work``, checking it against its manifest; the manifest and the files."""
    try:
        tar = tarfile.open(archive, "r:")  # noqa: SIM115  (closed by the with block below)
    except (tarfile.TarError, OSError) as exc:
        raise InputError(f"{archive} is not a gutaxis backup archive: {exc}") from None
    out: dict[str, Path] = {}
    manifest: dict[str, Any] | None = None
    with tar:
        try:
            for m in tar:
                if not m.isfile() or not _safe_member(m.name):
                    raise InputError(f"corrupted backup archive: unexpected member {m.name!r}")
                fh = tar.extractfile(m)
                assert fh is not None
                if m.name == "manifest.json":
                    try:
                        manifest = json.loads(fh.read(10 * _CHUNK))
                    except ValueError:
                        raise InputError("corrupted backup archive: its manifest is not JSON") from None
                    continue
                dest = work / f"m{len(out)}"
                with open(dest, "wb") as w:
                    shutil.copyfileobj(fh, w, _CHUNK)
                if m.name in out:
                    raise InputError(f"corrupted backup archive: {m.name} twice")
                out[m.name] = dest
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise InputError(f"corrupted backup archive: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError("corrupted backup archive: no gutaxis backup manifest")
    files = manifest.get("files") or {}
    if set(files) != set(out):
        missing, extra = sorted(set(files) - set(out)), sorted(set(out) - set(files))
        raise InputError(f"corrupted backup archive: missing {missing[:3]}, not in the manifest {extra[:3]}")
    for name, meta in files.items():
        if _sha256(out[name]) != meta.get("sha256") or out[name].stat().st_size != meta.get("size"):
            raise InputError(f"corrupted backup archive: checksum mismatch of {name}; nothing was restored")
    return manifest, out


def _holds_rows(engine: Engine) -> bool:
    sqlite_path = _sqlite_path(engine)
    if sqlite_path is not None and not sqlite_path.exists():
        return False
    return any(n > 0 for n in database_rows(engine).values())


def restore(settings, archive: Path, *, force: bool = False) -> dict[str, Any]:
    """Restore ``archive`` into ``settings``' database and uploads folder; returns the manifest.

    Refuses a corrupted archive (checked in full first) and, unless ``force``, a target database that
    holds rows. The archive's database kind must match the target's (SQLite to SQLite, PostgreSQL to
    PostgreSQL; moving between them is the export/import of each person)."""
    with tempfile.TemporaryDirectory(prefix="gutaxis-restore-") as tmp:
        manifest, members = _verified(Path(archive), Path(tmp))
        key = getattr(settings, "database_key", None)
        engine = make_engine(settings.database_url, key)
        try:
            sqlite_path = _sqlite_path(engine)
            kind = "sqlite" if sqlite_path is not None else engine.dialect.name
            if kind != manifest.get("database"):
                raise InputError(
                    f"the backup is of a {manifest.get('database')} database and the target is {kind}: restore into "
                    "the same kind (people move between kinds with their export and `gutaxis import-account`)"
                )
            if sqlite_path is None:
                check_reachable(engine)
            if _holds_rows(engine) and not force:
                raise InputError(
                    f"{safe_url(engine.url)} is not empty: restoring would replace its records. Give --force to "
                    "overwrite it, or restore into a new database"
                )
            if sqlite_path is not None:
                engine.dispose()
                sqlite_path.parent.mkdir(parents=True, exist_ok=True)
                src = _sqlite_connect(members["database/gutaxis.db"], key)  # WrongDatabaseKey: not this key's
                dst = _sqlite_connect(sqlite_path, key)
                try:
                    src.backup(dst)
                finally:
                    dst.close()
                    src.close()
            else:
                dsn, env = _libpq(engine)
                engine.dispose()
                r = subprocess.run(
                    [
                        pg_binary("pg_restore"),
                        "--clean",
                        "--if-exists",
                        "--no-owner",
                        "--no-privileges",
                        "--single-transaction",
                        "--exit-on-error",
                        "--dbname",
                        dsn,
                        str(members["database/gutaxis.pgdump"]),
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                )
                if r.returncode != 0:
                    raise GutaxisError(f"pg_restore failed (nothing was changed): {r.stderr.strip()[-800:]}")
        finally:
            engine.dispose()
        up = Path(settings.upload_dir)
        if up.is_dir() and any(up.iterdir()):
            aside = up.with_name(f"uploads.before-restore-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
            up.rename(aside)  # kept, not deleted: the operator removes it when satisfied
        up.mkdir(parents=True, exist_ok=True)
        for name, path in members.items():
            if name.startswith("uploads/"):
                shutil.move(str(path), up / Path(name).name)
    return manifest
