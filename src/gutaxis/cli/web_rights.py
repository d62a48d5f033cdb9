"""``gutaxis import-account``: load a person's export ZIP (from "Your data" in the web app) into a
database as a new account, e.g. when a person moves to another practice's server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ._app import _guard, _stdout, app


@app.command("import-account")
def import_account(
    export: Path = typer.Argument(..., exists=True, dir_okay=False, help="The export ZIP made by the web app."),
    email: str | None = typer.Option(None, "--email", help="E-mail of the new account (default: the export's)."),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        envvar="GUTAXIS_DATABASE_URL",
        help="SQLAlchemy URL of the app's database (default: SQLite in the data directory).",
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        envvar="GUTAXIS_DATA_DIR",
        help="Folder of the SQLite database and uploads (default: the user data directory).",
    ),
    password: str = typer.Option(
        ...,
        prompt="Password for the new account",
        hide_input=True,
        confirmation_prompt=True,
        help="The new account's password (asked for when not given).",
    ),
) -> None:
    """Load an export ZIP into the web app's database as a new person account (all or nothing).

    Imported: the profile, meals, symptoms, stress and PSS-10 entries, lab results, uploads with their
    files, signed plan versions. Not imported: consents, messages, notes, jobs and the audit trail (they
    belong to the old practice's accounts and server)."""
    with _guard():
        from ..errors import InputError
        from ..web import rights
        from ..web.db import make_engine, migrate, session_factory
        from ..web.security import Passwords
        from ..web.settings import Settings

        kw: dict[str, Any] = {"database_url": database_url}
        if data_dir is not None:
            kw["data_dir"] = data_dir
        settings = Settings(**kw)
        pw = Passwords(settings.argon2)
        problem = pw.problem(password, email or "")
        if problem:
            raise InputError(f"password: {problem}")
        assert settings.database_url is not None  # Settings.__post_init__ fills it in
        engine = make_engine(settings.database_url)
        try:
            migrate(engine)
            if settings.master_key:  # GUTAXIS_MASTER_KEY: the imported text and files are sealed as the app would
                from ..web.person_keys import attach

                attach(engine, settings)
            with session_factory(engine)() as db:
                user = rights.import_export(db, settings, export, password_hash=pw.hash(password), email=email)
                from sqlalchemy import func, select

                n = {}
                for name in rights.IMPORTED:
                    model: Any = rights.EXPORT_TABLES[name]  # the imported tables all have person_id
                    n[name] = db.scalar(select(func.count()).select_from(model).where(model.person_id == user.id))
        finally:
            engine.dispose()
        _stdout().print(
            f"imported account number {user.id}: " + ", ".join(f"{k.removesuffix('.csv')} {v}" for k, v in n.items())
        )
        _stdout().print(
            "not imported: " + "; ".join(f"{k.removesuffix('.csv')} ({why})" for k, why in rights.NOT_IMPORTED.items())
        )
