"""``gutaxis admin backup`` / ``gutaxis admin restore``: online, consistent backups of the web app's
database (SQLite or PostgreSQL) and uploads in one archive with a manifest and sha256 checksums."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ._app import _guard, _stdout
from .web import admin_app

_DB_HELP = "SQLAlchemy URL of the app's database (default: SQLite in the data directory)."
_DIR_HELP = "Folder of the SQLite database and uploads (default: the user data directory)."


def _settings(database_url: str | None, data_dir: Path | None):
    from ..web.settings import Settings

    kw: dict[str, Any] = {"database_url": database_url}
    if data_dir is not None:
        kw["data_dir"] = data_dir
    return Settings(**kw)


@admin_app.command("backup")
def backup_cmd(
    archive: Path = typer.Argument(..., dir_okay=False, help="The backup archive to write (e.g. gutaxis-backup.tar)."),
    database_url: str | None = typer.Option(None, "--database-url", envvar="GUTAXIS_DATABASE_URL", help=_DB_HELP),
    data_dir: Path | None = typer.Option(None, "--data-dir", envvar="GUTAXIS_DATA_DIR", help=_DIR_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing archive."),
) -> None:
    """Back up the database and the uploaded files while the app runs (a consistent snapshot: SQLite's
    online backup API or pg_dump) into one archive with a manifest of sha256 checksums."""
    with _guard():
        from ..errors import InputError
        from ..web.backup import backup

        if archive.exists() and not overwrite:
            raise InputError(f"{archive} exists: give --overwrite to replace it")
        settings = _settings(database_url, data_dir)
        url = settings.database_url
        assert url is not None  # Settings.__post_init__ fills it in
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
            raise InputError(f"no database at {url}: give --database-url or --data-dir")
        m = backup(settings, archive)
        rows = m.get("rows")
        what = f"{sum(rows.values())} rows in {len(rows)} tables, " if rows else ""
        uploads = sum(1 for n in m["files"] if n.startswith("uploads/"))
        _stdout().print(
            f"backup written: {archive} ({m['database']} {m['source']}, schema {m['revision']}; {what}"
            f"{uploads} uploaded files; sha256 of each in manifest.json)"
        )


@admin_app.command("restore")
def restore_cmd(
    archive: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="A backup archive from `gutaxis admin backup`."
    ),
    database_url: str | None = typer.Option(None, "--database-url", envvar="GUTAXIS_DATABASE_URL", help=_DB_HELP),
    data_dir: Path | None = typer.Option(None, "--data-dir", envvar="GUTAXIS_DATA_DIR", help=_DIR_HELP),
    force: bool = typer.Option(False, "--force", help="Overwrite a database that holds records."),
) -> None:
    """Restore a backup into a database and uploads folder (stop the server first). Every file is checked
    against the manifest's sha256 before anything is written; a database with records is refused unless
    --force (the uploads folder it had is kept aside as uploads.before-restore-<time>)."""
    with _guard():
        from ..web.backup import restore

        settings = _settings(database_url, data_dir)
        m = restore(settings, archive, force=force)
        uploads = sum(1 for n in m["files"] if n.startswith("uploads/"))
        _stdout().print(
            f"restored {archive} (made {m['created_at']}, {m['database']}, schema {m['revision']}, {uploads} "
            f"uploaded files) into {_safe(settings.database_url)}; check it with `gutaxis admin verify-audit`"
        )


def _safe(url: str | None) -> str:
    from ..web.db import safe_url

    return safe_url(url)
