"""``gutaxis serve``: the web app where a person and their dietitian work together; ``gutaxis admin``:
maintenance of its database (``verify-audit``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from ._app import _guard, _stderr, _stdout, app
from .lifestyle import _FNDDS_HELP, _NOVA_HELP, _SR28_HELP, _USDA_HELP

LOOPBACK = ("127.0.0.1", "::1", "localhost")

admin_app = typer.Typer(help="Maintenance of the web app's database (PostgreSQL or SQLite).", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


@app.command()
def serve(
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to listen on (loopback by default; put a TLS proxy in front for anything else).",
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port."),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        envvar="GUTAXIS_DATABASE_URL",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (default: SQLite in the data directory).",
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        envvar="GUTAXIS_DATA_DIR",
        help="Folder for the SQLite database and uploads (default: the user data directory).",
    ),
    demo: bool = typer.Option(
        False, "--demo", help="Seed a demo: one dietitian and two clearly SYNTHETIC clients (prints their logins)."
    ),
    reference: Path | None = typer.Option(
        None,
        "--reference",
        "-r",
        help="Healthy reference JSON for the gut card's percentiles (from `gutaxis reference`).",
    ),
    fndds: Path | None = typer.Option(None, "--fndds", help=_FNDDS_HELP),
    sr28: Path | None = typer.Option(None, "--sr28", help=_SR28_HELP),
    usda: Path | None = typer.Option(None, "--usda", help=_USDA_HELP),
    nova: Path | None = typer.Option(None, "--nova", help=_NOVA_HELP),
    worker: bool = typer.Option(
        True, "--worker/--no-worker", help="Start the background-job worker process (uploads, plans) beside the server."
    ),
    database_key: str | None = typer.Option(
        None,
        "--database-key",
        envvar="GUTAXIS_DATABASE_KEY",
        help="Encrypt the SQLite database with SQLCipher under this passphrase (pip install 'gutaxis[sqlcipher]'); "
        "prefer the environment variable to the option, which other users may see in the process list.",
        show_default=False,
    ),
    master_key: str | None = typer.Option(
        None,
        "--master-key",
        envvar="GUTAXIS_MASTER_KEY",
        help="Encrypt each person's free text and uploaded files with their own key, wrapped by this master key "
        "(64 hex digits); erasure then deletes the key, so backups stop opening too. Keys live in "
        "GUTAXIS_KEY_STORE (default <data dir>/keys), outside the database; prefer the environment variable.",
        show_default=False,
    ),
) -> None:
    """Start the web app (person logging, gut card, dietitian caseload, signed plans) on 127.0.0.1."""
    with _guard():
        import multiprocessing

        import uvicorn

        from ..web.app import create_app
        from ..web.demo import seed_demo
        from ..web.settings import Settings

        kw: dict[str, Any] = {
            "database_url": database_url,
            "reference": reference,
            "fndds": fndds,
            "sr28": sr28,
            "usda": usda,
            "nova": nova,
            "database_key": database_key,
            "master_key": master_key,
        }
        if data_dir is not None:
            kw["data_dir"] = data_dir
        if demo and data_dir is None and database_url is None:
            from ..web.settings import default_data_dir

            kw["data_dir"] = default_data_dir().parent / "demo"  # the demo never mixes with real records
        settings = Settings(**kw)
        assert settings.database_url is not None  # Settings.__post_init__ fills it in
        application = create_app(settings)
        out = _stdout()
        from ..web import food

        problem = food.food_problem(settings)  # loads the food tables once, before the first meal is typed
        if problem:
            _stderr().print(f"warning: {problem}")
        if demo:
            for line in seed_demo(application):
                out.print(line)
        if host not in LOOPBACK:
            _stderr().print(
                "warning: listening beyond this machine: serve it only behind HTTPS (a TLS proxy); "
                "the session cookie is Secure and will not be sent over plain http."
            )
        supervisor = None
        if worker:  # restarted when it dies (a job it was running is re-queued when its heartbeat lapses)
            from ..web.supervisor import WorkerSupervisor

            supervisor = WorkerSupervisor(
                lambda: multiprocessing.get_context("spawn").Process(
                    target=_worker, args=(settings, os.getpid()), daemon=True, name="gutaxis-worker"
                ),
                on_restart=lambda code: _stderr().print(
                    f"warning: the job worker stopped (exit code {code}); started a new one"
                ),
            )
            supervisor.start()
        out.print(
            f"gutaxis is running at http://{host}:{port}/  (database: {_safe_url(settings.database_url)}; "
            "stop with Ctrl+C)"
        )
        try:
            # no access log: URLs carry invitation tokens and record ids
            uvicorn.run(application, host=host, port=port, access_log=False, log_level="warning")
        finally:
            if supervisor is not None:
                supervisor.stop()


def _worker(settings, parent: int) -> None:
    """The job worker; it stops when the server process is gone (however the server ended)."""
    from ..web.jobs import worker_loop

    worker_loop(settings, stop=lambda: os.getppid() != parent)


def _safe_url(url: str) -> str:
    """The database URL without a password."""
    from ..web.db import safe_url

    return safe_url(url)


@admin_app.command("verify-audit")
def verify_audit(
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
        help="Folder of the SQLite database (default: the user data directory).",
    ),
) -> None:
    """Check the audit trail's hash chain: prints OK, or the first event that was changed or follows a removed one
    (exit code 1)."""
    with _guard():
        from ..errors import InputError
        from ..web.audit import check_chain
        from ..web.db import check_reachable, make_engine, session_factory
        from ..web.settings import Settings

        kw: dict[str, Any] = {"database_url": database_url}
        if data_dir is not None:
            kw["data_dir"] = data_dir
        settings = Settings(**kw)
        url = settings.database_url
        assert url is not None  # Settings.__post_init__ fills it in
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
            raise InputError(f"no database at {url}: give --database-url or --data-dir")
        engine = make_engine(url)
        try:
            check_reachable(engine)
            from sqlalchemy import inspect

            if "audit_event" not in inspect(engine).get_table_names():
                raise InputError(f"{_safe_url(url)} has no audit table: not a gutaxis web-app database")
            with session_factory(engine)() as db:
                report = check_chain(db)
        finally:
            engine.dispose()
        where = _safe_url(url)
        if report.ok:
            _stdout().print(f"OK: the audit chain of {report.events} events holds ({where})")
            return
        _stderr().print(
            f"BROKEN: audit event {report.broken_id} (at {report.broken_at}, event {report.events} of the "
            f"chain): {report.reason} ({where})"
        )
        raise typer.Exit(1)
