"""Fixtures for the web app: a fresh app per test on a temporary database, clients that speak https
(the session cookie is Secure), and helpers to sign people and dietitians up.

Every test that takes ``settings`` or ``app`` runs twice: on SQLite and on PostgreSQL. The PostgreSQL
server is ``GUTAXIS_TEST_POSTGRES_URL`` (a superuser URL, e.g. ``postgresql+psycopg://me@127.0.0.1/postgres``)
or else a throwaway cluster this file starts with ``initdb``/``pg_ctl`` (as the ``postgres`` user when the
tests run as root: PostgreSQL refuses to run as root) and removes at the end. Each test gets its own
database, copied from a migrated template. ``GUTAXIS_TEST_DATABASES=sqlite`` (or ``postgresql``) runs one
half only. Without PostgreSQL binaries the PostgreSQL half is skipped locally and FAILS under CI.

No test reaches the network: ``_no_network`` (tests/conftest.py) fails any connection to a non-loopback address.
"""

from __future__ import annotations

import glob
import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CHEAP_ARGON2 = (1, 8, 1)  # time_cost, memory KiB, parallelism: fast in tests; production is checked apart
PASSWORD = "correct horse battery staple"
DATABASES = [d.strip() for d in os.environ.get("GUTAXIS_TEST_DATABASES", "sqlite,postgresql").split(",") if d.strip()]
_unknown = set(DATABASES) - {"sqlite", "postgresql"}
assert not _unknown, f"GUTAXIS_TEST_DATABASES names {sorted(_unknown)}: use sqlite and/or postgresql"
_TEMPLATE = "gutaxis_template"
_numbers = itertools.count(1)


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _pg_binary(name: str) -> str | None:
    """``name`` from PATH, else from Debian's /usr/lib/postgresql/<version>/bin (the newest)."""
    found = shutil.which(name)
    if found:
        return found
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(re.sub(r"\D", "", d.split("/")[-2]) or 0))
    for d in reversed(dirs):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _world_traversable(folder: str) -> bool:
    p = Path(folder).resolve()
    return all(os.stat(q).st_mode & 0o001 for q in [p, *p.parents])


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary folder on a free loopback port (trust auth, no fsync)."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            raise FileNotFoundError("initdb/pg_ctl not found (install the Debian package postgresql)")
        self.prefix: list[str] = []
        base = tempfile.gettempdir()
        if os.geteuid() == 0 and not _world_traversable(base):
            base = "/tmp"  # the postgres user must reach the folder
        self.root = Path(tempfile.mkdtemp(prefix="gutaxis-pg-", dir=base))
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            import pwd

            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "the tests run as root and there is no 'postgres' user to run PostgreSQL as "
                    "(the Debian package postgresql creates it)"
                ) from None
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            os.chmod(self.root, 0o700)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "gutaxis"

    def _run(self, *cmd: str) -> None:
        r = subprocess.run(self.prefix + list(cmd), capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            log = (self.root / "log").read_text(errors="replace")[-3000:] if (self.root / "log").exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n{log}")

    def start(self) -> str:
        self._run(
            self.initdb, "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8", "--no-locale", "--no-sync"
        )
        opts = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c max_connections=300 -c full_page_writes=off "
            "-c synchronous_commit=off -c shared_buffers=64MB"
        )
        self._run(
            self.pg_ctl, "-D", str(self.data), "-l", str(self.root / "log"), "-o", opts, "-w", "-t", "60", "start"
        )
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_admin_url():
    """A superuser URL of the PostgreSQL server the tests use (one per test session)."""
    url = os.environ.get("GUTAXIS_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if not (_pg_binary("initdb") and _pg_binary("pg_ctl")):
        msg = (
            "PostgreSQL binaries (initdb, pg_ctl) not found: install the Debian package postgresql, or set "
            "GUTAXIS_TEST_POSTGRES_URL, or run GUTAXIS_TEST_DATABASES=sqlite"
        )
        if _under_ci():
            pytest.fail(msg + " (CI: the PostgreSQL half must run)", pytrace=False)
        pytest.skip(msg)
    cluster = ThrowawayCluster()
    try:
        url = cluster.start()
        yield url
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_admin(pg_admin_url):
    """An AUTOCOMMIT engine on the server's maintenance database (CREATE/DROP DATABASE)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    yield engine
    engine.dispose()


def pg_database(pg_admin, *, template: str = "template1") -> tuple[str, callable]:
    """A new, empty (or ``template``-copied) database: its URL and a function that drops it."""
    from sqlalchemy import text

    name = f"gutaxis_t{os.getpid()}_{next(_numbers)}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY'))

    def drop() -> None:
        with pg_admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return pg_admin.url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def pg_template(pg_admin):
    """A database migrated to head once per session; each test's database is a copy (fast)."""
    from sqlalchemy import text

    from gutaxis.web.db import make_engine, migrate

    with pg_admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_TEMPLATE}"'))
        conn.execute(text(f'CREATE DATABASE "{_TEMPLATE}"'))
    engine = make_engine(pg_admin.url.set(database=_TEMPLATE).render_as_string(hide_password=False))
    migrate(engine)
    engine.dispose()  # CREATE DATABASE ... TEMPLATE needs it without connections
    return _TEMPLATE


@pytest.fixture
def fresh_pg(pg_admin):
    """The URL of an empty PostgreSQL database of this test's own (dropped afterwards)."""
    url, drop = pg_database(pg_admin)
    yield url
    drop()


class _Prepared:
    """Copies of the migrated template made one step ahead, and drops done behind, on one background
    thread: a test neither waits for CREATE DATABASE nor for DROP DATABASE (about 0.2 s each)."""

    AHEAD = 2

    def __init__(self, admin, template: str) -> None:
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        self.admin, self.template = admin, template
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="gutaxis-pg-prepare")
        self.ready = deque()

    def _create(self):
        return pg_database(self.admin, template=self.template)

    def take(self) -> tuple[str, callable]:
        while len(self.ready) < self.AHEAD + 1:
            self.ready.append(self.pool.submit(self._create))
        return self.ready.popleft().result()

    def give_back(self, drop) -> None:
        self.pool.submit(drop)

    def close(self) -> None:
        for fut in self.ready:
            self.pool.submit(lambda f=fut: f.result()[1]())
        self.pool.shutdown(wait=True)


@pytest.fixture(scope="session")
def pg_prepared(pg_admin, pg_template):
    prepared = _Prepared(pg_admin, pg_template)
    yield prepared
    prepared.close()


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    """The test's own database: SQLite in tmp_path, or a migrated copy on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app' / 'gutaxis.db'}"
        return
    prepared = request.getfixturevalue("pg_prepared")
    url, drop = prepared.take()
    yield url
    prepared.give_back(drop)


@pytest.fixture
def settings(tmp_path, database_url):
    from gutaxis.web.settings import Settings

    food = {}
    if SHARED.is_dir():  # the food data of ../shared (users fetch it with `gutaxis datasets fetch`)
        data = SHARED / "data"
        food = dict(
            fndds=data / "fndds_portions",
            sr28=data / "usda_sr28_full",
            usda=data / "usda_sr28_abbrev" / "ABBREV.txt",
            nova=data
            / "nova_fndds_sr_grocerydb"
            / "GroceryDB_training_dataset_SRFNDSS_2001_2018_NOVA123_multi_compositions_12Nutrients.csv",
        )
    return Settings(
        data_dir=tmp_path / "app",
        database_url=database_url,
        argon2=CHEAP_ARGON2,
        run_jobs_inline=True,
        plan_draws=20,
        **food,
    )


@pytest.fixture
def app(settings):
    from gutaxis.web.app import create_app

    application = create_app(settings)
    yield application
    application.state.engine.dispose()  # its connections end before the test's database is dropped


class Browser:
    """A TestClient with helpers: forms carry the CSRF token and a fresh client id."""

    def __init__(self, app):
        from fastapi.testclient import TestClient

        self.app = app
        self.c = TestClient(app, base_url="https://testserver", follow_redirects=False)
        self.user_id = None

    def __getattr__(self, name):
        return getattr(self.c, name)

    def token(self, path: str = "/login") -> str:
        r = self.c.get(path, headers={"accept": "text/html"})
        m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
        assert m, f"no CSRF token on {path} (status {r.status_code})"
        return m.group(1)

    def post_form(self, path: str, data: dict | None = None, *, page: str | None = None, files=None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token(page or _page_of(path)))
        data.setdefault("client_id", str(uuid.uuid4()))
        return self.c.post(path, data=data, files=files, headers={"accept": "text/html"}, **kw)

    def html(self, path: str):
        return self.c.get(path, headers={"accept": "text/html"})


def _page_of(path: str) -> str:
    if path in ("/login", "/signup"):
        return path
    return "/account"


def signup(app, email: str, role: str = "person", name: str = "") -> Browser:
    """A browser logged in as a new account (dietitians pass TOTP set-up)."""
    from gutaxis.web.models import User

    b = Browser(app)
    r = b.post_form(
        "/signup", {"email": email, "password": PASSWORD, "role": role, "name": name or email.split("@")[0]}
    )
    assert r.status_code == 303, r.text[:500]
    with app.state.sessions() as db:
        from sqlalchemy import select

        b.user_id = db.scalar(select(User.id).where(User.email == email))
    if role == "dietitian":
        totp_login(b, app)
    return b


def totp_code(app, email: str, offset_steps: int = 0) -> str:
    import pyotp
    from sqlalchemy import select

    from gutaxis.web.models import User

    with app.state.sessions() as db:
        secret = db.scalar(select(User.totp_secret).where(User.email == email))
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def totp_login(b: Browser, app) -> None:
    """Pass the second factor: set it up from the key the page shows, or enter the next code."""
    import pyotp

    from gutaxis.web.models import User

    with app.state.sessions() as db:
        u = db.get(User, b.user_id)
        email, last = u.email, u.totp_last_step
    if not last:
        page = b.html("/totp/setup").text
        secret = re.search(r'name="secret" value="([A-Z2-7]{32})"', page).group(1)
        data = {"code": pyotp.TOTP(secret).now(), "secret": secret}
    else:
        data = {"code": totp_code(app, email, offset_steps=1 if last >= int(time.time() // 30) else 0)}
    r = b.post_form("/totp", data, page="/totp" if last else "/totp/setup")
    assert r.status_code == 303, r.text[:500]


@pytest.fixture
def person(app):
    return signup(app, "pat@example.org")


@pytest.fixture
def dietitian(app):
    return signup(app, "dee@example.org", role="dietitian")
