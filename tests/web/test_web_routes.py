"""Every route, checked from the route table itself (a new route is covered the day it lands):
no session -> 401 or the login; another person, an unlinked and a just-revoked dietitian -> 404
with a ``denied`` audit row on every route that takes an id; unsafe methods without this
session's token -> 403; GET changes no record; security headers on every page."""

from __future__ import annotations

import re
import uuid

import pytest
from conftest import Browser, signup
from sqlalchemy import func, select

from gutaxis.web.app import PUBLIC_ROUTES, api_routes
from gutaxis.web.models import (
    HEALTH_TABLES,
    AuditEvent,
    Base,
    Consent,
    Invitation,
    Job,
    MealEntry,
    Note,
    PlanVersion,
    Upload,
    utcnow,
)

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
#: plausible values for form fields, so that a refusal is the route's guard, not a validation error
FORM_DEFAULTS = {
    "text": "1 apple",
    "rating": "3",
    "code": "123456",
    "scopes": "diary",
    "shared": "on",
    "op": "up",
    "item": "0",
    "email": "x@example.org",
    "password": "irrelevant-password",
    "current": "irrelevant-password",
    "new": "another-passphrase",
    "symptom": "pain",
    "eaten_at": "2024-03-04T08:00",
    "at": "2024-03-04T08:00",
    "meal": "breakfast",
    "value": "1",
    "target": "",
    "a": "1",
    "b": "2",
    "bristol": "4",
    "minutes": "10",
    "practice": "yoga",
}


def _routes(app):
    return api_routes(app)


def _params(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def _is_public(path: str) -> bool:
    return path in PUBLIC_ROUTES or path.startswith("/static")


def _form_for(route) -> dict:
    data = {}
    for f in route.dependant.body_params:
        data[f.alias] = FORM_DEFAULTS.get(f.alias, "1")
    return data


@pytest.fixture
def world(app):
    """Person A with one of everything, linked to dietitian D1; B another person; D2 unlinked; D3 revoked."""
    a = signup(app, "a@example.org")
    b = signup(app, "b@example.org")
    d1 = signup(app, "d1@example.org", role="dietitian")
    d2 = signup(app, "d2@example.org", role="dietitian")
    d3 = signup(app, "d3@example.org", role="dietitian")
    ids = {}
    with app.state.sessions() as db:
        now = utcnow()
        c1 = Consent(person_id=a.user_id, dietitian_id=d1.user_id, scopes="diary,symptoms,stress,microbiome,plan")
        c3 = Consent(person_id=a.user_id, dietitian_id=d3.user_id, scopes="diary,symptoms,stress,microbiome,plan")
        meal = MealEntry(
            person_id=a.user_id, client_id=str(uuid.uuid4()), eaten_at=now, text="CANARY-porridge", items=[]
        )
        up = Upload(
            person_id=a.user_id,
            client_id=str(uuid.uuid4()),
            filename="p.txt",
            stored_name="missing",
            size=1,
            kind="profile",
            status="done",
            result={},
        )
        db.add_all([c1, c3, meal, up])
        db.flush()
        job = Job(kind="parse_profile", person_id=a.user_id, params={"upload_id": up.id}, status="done")
        pv = PlanVersion(
            person_id=a.user_id,
            number=1,
            status="signed",
            content={"items": []},
            sha256="0" * 64,
            signed_at=now,
            signed_by=d1.user_id,
            signer_name="d1",
        )
        pv2 = PlanVersion(person_id=a.user_id, number=2, status="draft", content={"items": []})
        note = Note(person_id=a.user_id, author_id=d1.user_id, client_id=str(uuid.uuid4()), text="n", shared=False)
        inv = Invitation(
            token_hash="x" * 64, dietitian_id=d1.user_id, client_id=str(uuid.uuid4()), scopes="diary", expires_at=now
        )
        db.add_all([job, pv, pv2, note, inv])
        db.commit()
        ids = {
            "pid": a.user_id,
            "person_id": a.user_id,
            "upload_id": up.id,
            "job_id": job.id,
            "vid": pv.id,
            "version_id": pv.id,
            "consent_id": c1.id,
            "inv_id": inv.id,
            "note_id": note.id,
            "meal_id": meal.id,
            "entry_id": meal.id,
            "token": "not-a-token",
        }
    # D3's consent is revoked just now: its very next request must fail
    with app.state.sessions() as db:
        db.get(Consent, c3.id).revoked_at = utcnow()
        db.commit()
    return {"a": a, "b": b, "d1": d1, "d2": d2, "d3": d3, "ids": ids}


def _fill(path: str, ids: dict, route=None) -> str:
    """The route's URL with the world's ids, and plausible values for its query parameters."""
    missing = [p for p in _params(path) if p not in ids]
    assert not missing, f"{path}: no test id for path parameter(s) {missing}: add them to the world fixture"
    url = re.sub(r"{(\w+)}", lambda m: str(ids[m.group(1)]), path)
    if route is not None:
        query = {
            q.alias: ids.get(q.alias, FORM_DEFAULTS.get(q.alias, "1"))
            for q in route.dependant.query_params
            if q.field_info.is_required()
        }
        if query:
            url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def test_public_list_is_short_and_every_other_route_needs_a_session(app):
    routes = _routes(app)
    assert len(routes) > 20
    assert len(PUBLIC_ROUTES) <= 8  # "/", login, sign-up, logout, the invitation link, health, static
    anon = Browser(app)
    token = anon.token("/login")
    ids = {p: 1 for r in routes for p in _params(r.path)}
    checked = 0
    for r in routes:
        if _is_public(r.path):
            continue
        url = _fill(r.path, ids, r)
        for method in r.methods:
            if method == "HEAD":
                continue
            if method in UNSAFE:
                resp = anon.c.request(
                    method, url, data={**_form_for(r), "csrf_token": token, "client_id": str(uuid.uuid4())}
                )
                assert resp.status_code == 401, f"{method} {r.path}: {resp.status_code}"
            else:
                resp = anon.html(url)
                assert resp.status_code == 303 and resp.headers["location"] == "/login", f"GET {r.path}"
                assert anon.get(url).status_code == 401, f"GET {r.path} (no html)"
            checked += 1
    assert checked > 20


def _denied(app) -> int:
    with app.state.sessions() as db:
        return db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "denied"))


@pytest.mark.parametrize("who", ["b", "d2", "d3"])
def test_every_route_with_an_id_answers_404_and_audits_the_denial(app, world, who):
    actor = world[who]
    token = actor.token("/account")
    tried = 0
    for r in _routes(app):
        if not _params(r.path) or _is_public(r.path):
            continue
        url = _fill(r.path, world["ids"], r)
        for method in sorted(r.methods - {"HEAD"}):
            before = _denied(app)
            if method in UNSAFE:
                resp = actor.c.request(
                    method, url, data={**_form_for(r), "csrf_token": token, "client_id": str(uuid.uuid4())}
                )
            else:
                resp = actor.get(url)
            assert resp.status_code == 404, f"{who} {method} {r.path}: {resp.status_code} {resp.text[:200]}"
            assert _denied(app) == before + 1, f"{who} {method} {r.path}: no single 'denied' audit row"
            tried += 1
    assert tried >= 10


def test_unsafe_methods_need_this_sessions_token(app, world):
    a, b = world["a"], world["b"]
    other_token = b.token("/account")
    own_token = a.token("/account")
    for r in _routes(app):
        for method in r.methods & UNSAFE:
            url = _fill(r.path, world["ids"], r)
            form = {**_form_for(r), "client_id": str(uuid.uuid4())}
            for bad in (None, other_token, "x" * 43):
                data = dict(form) if bad is None else {**form, "csrf_token": bad}
                resp = a.c.request(method, url, data=data)
                assert resp.status_code == 403, f"{method} {r.path} with token {bad!r}: {resp.status_code}"
            resp = a.c.request(
                method, url, data={**form, "csrf_token": own_token}, headers={"sec-fetch-site": "cross-site"}
            )
            assert resp.status_code == 403, f"{method} {r.path} cross-site: {resp.status_code}"


def _row_counts(app) -> dict:
    """Every row of the record tables (not only how many): a GET may add audit rows, nothing else."""
    with app.state.sessions() as db:
        return {
            t: sorted(map(repr, db.execute(select(Base.metadata.tables[t])).all()))
            for t in (*HEALTH_TABLES, "consent", "invitation", "user_account")
        }


def _get_routes(app):
    return [r for r in _routes(app) if "GET" in r.methods and not _is_public(r.path)]


def test_get_changes_no_record_and_every_page_sends_the_security_headers(app, world):
    before = _row_counts(app)
    for who in ("a", "d1"):
        for r in _get_routes(app):
            resp = world[who].html(_fill(r.path, world["ids"], r))
            if resp.status_code in (404, 303):  # a person route seen by a dietitian, and the other way round
                continue
            h = resp.headers
            csp = h["content-security-policy"]
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, r.path
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, r.path
            assert int(re.search(r"max-age=(\d+)", h["strict-transport-security"]).group(1)) >= 31536000
            assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "no-referrer", r.path
            assert "no-store" in h["cache-control"], r.path
    assert _row_counts(app) == before


def test_public_pages_send_the_security_headers(app):
    anon = Browser(app)
    for path in ("/login", "/signup", "/healthz"):
        h = anon.html(path).headers
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"


def test_personal_data_stays_out_of_logs_and_urls(app, world, caplog):
    caplog.set_level("DEBUG")
    a, d1 = world["a"], world["d1"]
    r = a.post_form("/log/meal", {"text": "CANARY-kimchi 1 cup"}, page="/log")
    assert "CANARY" not in r.headers.get("location", "")
    for path in ("/log", "/diary"):
        a.html(path)
    d1.html(f"/clients/{world['ids']['pid']}/diary")
    assert "CANARY" not in caplog.text
    assert "a@example.org" not in caplog.text


def test_a_body_without_a_length_is_refused_before_it_is_read(app, world):
    a = world["a"]
    token = a.token("/account")

    def body():  # httpx sends a generator chunked, without Content-Length
        yield f"csrf_token={token}&text=".encode()
        yield b"x" * 1024

    r = a.c.post("/log/meal", content=body(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 411


def test_a_declared_body_over_the_cap_is_refused_before_it_is_read(app, world):
    a = world["a"]
    cap = app.state.settings.max_upload
    r = a.c.post(
        "/uploads",
        content=b"",
        headers={"content-length": str(cap + 10 * 1024 * 1024), "content-type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code == 413
