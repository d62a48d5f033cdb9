"""Accounts and sessions: argon2id, throttled logins with one answer for every failure, server-side
sessions with rotation and expiry, TOTP for clinicians (ASVS 5.0 chapters 6 and 7)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from conftest import PASSWORD, Browser, signup, totp_code
from sqlalchemy import select, update

from gutaxis.web.models import User, WebSession, utcnow


def _login(app, email, password, browser=None):
    b = browser or Browser(app)
    return b, b.post_form("/login", {"email": email, "password": password}, page="/login")


def test_production_password_hash_is_argon2id_at_owasp_minimum():
    from gutaxis.web.security import Passwords
    from gutaxis.web.settings import Settings

    h = Passwords(Settings(data_dir="unused").argon2).hash("a long enough passphrase")
    assert h.startswith("$argon2id$")
    params = dict(kv.split("=") for kv in h.split("$")[3].split(","))
    assert int(params["m"]) >= 19456 and int(params["t"]) >= 2  # OWASP: 19 MiB, 2 iterations
    assert PasswordHasher().verify(h, "a long enough passphrase")  # a standard verifier reads it


def test_stored_hash_is_argon2id_and_password_not_stored(app, person):
    with app.state.sessions() as db:
        u = db.get(User, person.user_id)
        assert u.password_hash.startswith("$argon2id$")
        assert PASSWORD not in u.password_hash


def test_unicode_password_of_64_characters_works(app):
    pw = ("ünïcødé-пароль-密码-" * 4)[:64]
    assert len(pw) == 64
    b = Browser(app)
    r = b.post_form("/signup", {"email": "uni@example.org", "password": pw, "role": "person"}, page="/signup")
    assert r.status_code == 303
    _, r = _login(app, "uni@example.org", pw)
    assert r.status_code == 303 and r.headers["location"] == "/log"


@pytest.mark.parametrize("pw", ["password123", "short"])
def test_weak_passwords_refused(app, pw):
    r = Browser(app).post_form("/signup", {"email": "w@example.org", "password": pw, "role": "person"}, page="/signup")
    assert r.status_code == 400 and "Password:" in r.text
    with app.state.sessions() as db:
        assert db.scalar(select(User).where(User.email == "w@example.org")) is None


def test_unknown_user_and_wrong_password_get_identical_answers(app, person):
    b = Browser(app)
    b.token("/login")
    _, r1 = _login(app, "nobody@example.org", "whatever-password", b)
    _, r2 = _login(app, "pat@example.org", "wrong-password!!", b)
    assert r1.status_code == r2.status_code == 400
    assert r1.content == r2.content


def test_ten_wrong_passwords_give_429_with_retry_after_and_other_accounts_still_log_in(app, person):
    signup(app, "other@example.org")
    b = Browser(app)
    codes = [_login(app, "pat@example.org", f"wrong-{i}-password", b)[1] for i in range(10)]
    assert [r.status_code for r in codes[:9]] == [400] * 9
    assert codes[9].status_code == 429 and int(codes[9].headers["retry-after"]) > 0
    # locked now, even with the right password
    _, r = _login(app, "pat@example.org", PASSWORD, b)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    _, r = _login(app, "other@example.org", PASSWORD)
    assert r.status_code == 303


def test_session_cookie_attributes_and_rotation_at_login(app, person):
    b = Browser(app)
    b.token("/login")
    b.c.cookies.set("__Host-gutaxis", "planted-by-an-attacker-0123456789abcdef", domain="testserver")
    _, r = _login(app, "pat@example.org", PASSWORD, b)
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("__Host-gutaxis="))
    low = cookie.lower()
    assert "secure" in low and "httponly" in low and "samesite=lax" in low and "path=/" in low
    assert "domain=" not in low
    token = cookie.split(";")[0].split("=", 1)[1]
    assert token != "planted-by-an-attacker-0123456789abcdef"
    with app.state.sessions() as db:  # only the hash is stored
        assert db.scalar(select(WebSession).where(WebSession.token_hash == token)) is None


def test_logout_kills_the_session(app, person):
    cookie = person.c.cookies.get("__Host-gutaxis")
    r = person.post_form("/logout", page="/account")
    assert r.status_code == 303
    b = Browser(app)
    b.c.cookies.set("__Host-gutaxis", cookie, domain="testserver")
    assert b.get("/account").status_code == 401
    assert b.html("/account").headers["location"] == "/login"


def test_idle_session_expires(app, person):
    with app.state.sessions() as db:
        db.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
        db.commit()
    assert person.get("/account").status_code == 401


def test_password_change_ends_other_sessions(app, person):
    other = Browser(app)
    _login(app, "pat@example.org", PASSWORD, other)
    assert other.get("/account").status_code == 200
    r = person.post_form("/account/password", {"current": PASSWORD, "new": "a brand new passphrase"})
    assert r.status_code == 303
    assert other.get("/account").status_code == 401
    assert person.get("/account").status_code == 200  # the session that changed it goes on


def test_clinician_needs_totp_and_a_code_works_once(app):
    d = signup(app, "doc@example.org", role="dietitian")
    code = totp_code(app, "doc@example.org")
    d.post_form("/logout", page="/account")
    b, r = _login(app, "doc@example.org", PASSWORD)
    assert r.headers["location"] == "/totp"
    assert b.html("/caseload").headers["location"] == "/totp"  # no caseload before the second factor
    with app.state.sessions() as db:
        last = db.scalar(select(User.totp_last_step).where(User.email == "doc@example.org"))
    r = b.post_form("/totp", {"code": code}, page="/totp")
    assert r.status_code == 400  # the set-up code was used already
    r = b.post_form("/totp", {"code": totp_code(app, "doc@example.org", offset_steps=1)}, page="/totp")
    assert r.status_code == 303
    with app.state.sessions() as db:
        assert db.scalar(select(User.totp_last_step).where(User.email == "doc@example.org")) > last


def test_role_cannot_be_escalated_from_a_form(app, person):
    r = person.post_form("/account/profile", {"sex": "female", "age": "40", "conditions": "RA", "role": "dietitian"})
    assert r.status_code == 303
    with app.state.sessions() as db:
        assert db.get(User, person.user_id).role == "person"


def test_profile_fields_are_validated_like_a_person_file(app, person):
    r = person.post_form("/account/profile", {"conditions": "RA, lupus", "age": "52", "sex": "F"})
    assert r.status_code == 303
    with app.state.sessions() as db:
        u = db.get(User, person.user_id)
        assert (u.conditions, u.age, u.sex) == ("RA,SLE", 52.0, "female")
    r = person.post_form("/account/profile", {"conditions": "arthritisss"})
    assert r.status_code == 400 and re.search(r"condition tag .*arthritisss.* is not known", r.text)


def test_login_continues_to_an_invitation_link_and_nowhere_else(app, person):
    token = "A" * 43
    b = Browser(app)
    page = b.html(f"/login?next=/invite/{token}").text
    assert f'name="next" value="/invite/{token}"' in page
    r = b.post_form(
        "/login", {"email": "pat@example.org", "password": PASSWORD, "next": f"/invite/{token}"}, page="/login"
    )
    assert r.headers["location"] == f"/invite/{token}"
    for evil in ("https://evil.example/", "//evil.example/x", "/invite/../account", "/log"):
        b2 = Browser(app)
        assert 'name="next"' not in b2.html(f"/login?next={evil}").text
        r = b2.post_form("/login", {"email": "pat@example.org", "password": PASSWORD, "next": evil}, page="/login")
        assert r.headers["location"] == "/log", evil
