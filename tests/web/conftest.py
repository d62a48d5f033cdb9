"""Fixtures for the web app: a fresh app per test on a temporary SQLite database, clients that
speak https (the session cookie is Secure), and helpers to sign people and dietitians up.

No test reaches the network: ``_no_network`` (tests/conftest.py) fails any connection to a non-loopback address.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CHEAP_ARGON2 = (1, 8, 1)  # time_cost, memory KiB, parallelism: fast in tests; production is checked apart
PASSWORD = "correct horse battery staple"


@pytest.fixture
def settings(tmp_path):
    from gutaxis.web.settings import Settings

    food = {}
    if SHARED.is_dir():  # the food data of ../shared (users fetch it with `gutaxis datasets fetch`)
        data = SHARED / "data"
        food = dict(fndds=data / "fndds_portions", sr28=data / "usda_sr28_full",
                    usda=data / "usda_sr28_abbrev" / "ABBREV.txt",
                    nova=data / "nova_fndds_sr_grocerydb" /
                    "GroceryDB_training_dataset_SRFNDSS_2001_2018_NOVA123_multi_compositions_12Nutrients.csv")
    return Settings(data_dir=tmp_path / "app", argon2=CHEAP_ARGON2, run_jobs_inline=True, plan_draws=20, **food)


@pytest.fixture
def app(settings):
    from gutaxis.web.app import create_app

    return create_app(settings)


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
    r = b.post_form("/signup", {"email": email, "password": PASSWORD, "role": role, "name": name or email.split("@")[0]})
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
