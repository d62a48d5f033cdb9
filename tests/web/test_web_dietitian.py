"""The dietitian's side and consent: invitations, sharing, revocation, the caseload, client pages,
notes (shared and private) and messages — and the audit rows each read leaves."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta

import pytest
from conftest import Browser, signup
from sqlalchemy import func, select

from gutaxis.web.models import (
    SCOPES,
    AuditEvent,
    Consent,
    Invitation,
    MealEntry,
    Message,
    Note,
    PlanVersion,
    SymptomEntry,
    User,
    utcnow,
)

# --------------------------------------------------------------------------- helpers


def invite(dietitian: Browser, scopes=None) -> str:
    """A fresh invitation token (read from the page that shows it once)."""
    data = {"choose": "1", "scopes": list(scopes)} if scopes is not None else {}
    r = dietitian.post_form("/invitations", data)
    assert r.status_code == 200, r.text[:500]
    m = re.search(r"/invite/([A-Za-z0-9_-]{20,})", r.text)
    assert m, "the invitation page shows the link"
    return m.group(1)


def connect(person: Browser, dietitian: Browser, scopes=None) -> int:
    """The person accepts an invitation of the dietitian; returns the consent id."""
    tok = invite(dietitian, scopes)
    r = person.post_form(f"/invite/{tok}/accept")
    assert r.status_code == 303 and r.headers["location"].startswith("/sharing"), r.text[:300]
    with person.app.state.sessions() as db:
        return db.scalar(
            select(Consent.id).where(
                Consent.person_id == person.user_id,
                Consent.dietitian_id == dietitian.user_id,
                Consent.revoked_at.is_(None),
            )
        )


def audit_rows(app, **where) -> list[AuditEvent]:
    with app.state.sessions() as db:
        q = select(AuditEvent)
        for k, v in where.items():
            q = q.where(getattr(AuditEvent, k) == v)
        return db.scalars(q.order_by(AuditEvent.id)).all()


def n_audit(app) -> int:
    with app.state.sessions() as db:
        return db.scalar(select(func.count(AuditEvent.id)))


def add_rows(app, *rows) -> None:
    with app.state.sessions() as db:
        db.add_all(rows)
        db.commit()


def meal(pid, at, text="1 cup oatmeal", meal="breakfast", items=None) -> MealEntry:
    return MealEntry(person_id=pid, client_id=str(uuid.uuid4()), eaten_at=at, meal=meal, text=text, items=items or [])


def symptom(pid, at, name="bloating", rating=5.0) -> SymptomEntry:
    return SymptomEntry(person_id=pid, client_id=str(uuid.uuid4()), at=at, symptom=name, rating=rating)


def client_routes(pid: int, vid: int = 1) -> list[tuple[str, str, dict]]:
    """Every /clients/{pid}... route: (method, path, form)."""
    return [
        ("GET", f"/clients/{pid}", {}),
        ("GET", f"/clients/{pid}/diary", {}),
        ("GET", f"/clients/{pid}/messages", {}),
        ("POST", f"/clients/{pid}/messages", {"text": "hello"}),
        ("POST", f"/clients/{pid}/notes", {"text": "a note"}),
        ("GET", f"/clients/{pid}/plan", {}),
        ("POST", f"/clients/{pid}/plan/draft", {}),
        ("GET", f"/clients/{pid}/plan/{vid}", {}),
        ("POST", f"/clients/{pid}/plan/{vid}/edit", {"op": "copy"}),
        ("POST", f"/clients/{pid}/plan/{vid}/sign", {}),
        ("GET", f"/clients/{pid}/plan/compare?a={vid}&b={vid}", {}),
    ]


def call(b: Browser, method: str, path: str, form: dict):
    return b.html(path) if method == "GET" else b.post_form(path, form)


# --------------------------------------------------------------------------- invitations


def test_invitation_link_is_shown_once_stored_hashed_and_works_once(app, person, dietitian):
    tok = invite(dietitian, ["diary", "plan"])
    with app.state.sessions() as db:
        inv = db.scalar(select(Invitation))
        assert inv.token_hash == hashlib.sha256(tok.encode()).hexdigest()
        assert inv.expires_at - inv.created_at == timedelta(days=7)
        assert inv.scopes == "diary,plan"
    assert tok not in dietitian.html("/invitations").text  # shown once, never again

    anon = Browser(app)  # the public page: who invites, to share what
    r = anon.html(f"/invite/{tok}")
    assert r.status_code == 200
    assert "dee" in r.text and "meal diary" in r.text and "log in" in r.text.lower()
    assert "gut profile" not in r.text

    r = person.post_form(f"/invite/{tok}/accept")
    assert r.status_code == 303
    with app.state.sessions() as db:
        c = db.scalar(select(Consent))
        assert (c.person_id, c.dietitian_id, c.scopes, c.revoked_at) == (
            person.user_id,
            dietitian.user_id,
            "diary,plan",
            None,
        )
        inv = db.scalar(select(Invitation))
        assert inv.used_at is not None and inv.person_id == person.user_id

    other = signup(app, "sam@example.org")
    r = other.post_form(f"/invite/{tok}/accept")
    assert r.status_code == 410  # single use
    assert person.post_form(f"/invite/{tok}/accept").status_code == 410
    with app.state.sessions() as db:
        assert db.scalar(select(func.count(Consent.id))) == 1
    r = anon.html(f"/invite/{tok}")
    assert r.status_code == 410 and "used already" in r.text
    assert anon.html("/invite/not-a-real-token-at-all-0123456789").status_code == 404
    assert other.post_form("/invite/not-a-real-token-at-all-0123456789/accept").status_code == 404


def test_invitation_default_scopes_are_all(app, dietitian):
    invite(dietitian)
    with app.state.sessions() as db:
        assert db.scalar(select(Invitation.scopes)) == ",".join(SCOPES)
    r = dietitian.post_form("/invitations", {"choose": "1"})  # every box unticked
    assert r.status_code == 400


@pytest.mark.parametrize("age", [timedelta(days=7), timedelta(days=8)])
def test_invitation_expires_after_seven_days(app, person, dietitian, age):
    tok = invite(dietitian)
    with app.state.sessions() as db:  # the invitation was made `age` ago
        inv = db.scalar(select(Invitation))
        inv.created_at -= age
        inv.expires_at -= age
        db.commit()
    r = Browser(app).html(f"/invite/{tok}")
    assert r.status_code == 410 and "expired" in r.text
    assert person.post_form(f"/invite/{tok}/accept").status_code == 410
    with app.state.sessions() as db:
        assert db.scalar(select(func.count(Consent.id))) == 0
        assert db.scalar(select(Invitation.used_at)) is None


def test_invitation_still_works_just_before_seven_days(app, person, dietitian):
    tok = invite(dietitian)
    with app.state.sessions() as db:
        inv = db.scalar(select(Invitation))
        inv.created_at -= timedelta(days=6, hours=23)
        inv.expires_at -= timedelta(days=6, hours=23)
        db.commit()
    assert person.post_form(f"/invite/{tok}/accept").status_code == 303


def test_withdrawn_invitation_cannot_be_accepted(app, person, dietitian):
    tok = invite(dietitian)
    with app.state.sessions() as db:
        iid = db.scalar(select(Invitation.id))
    assert dietitian.post_form(f"/invitations/{iid}/cancel").status_code == 303
    assert person.post_form(f"/invite/{tok}/accept").status_code == 410


def test_only_people_accept_and_only_dietitians_invite(app, person, dietitian):
    tok = invite(dietitian)
    assert dietitian.post_form(f"/invite/{tok}/accept").status_code == 404
    assert person.post_form("/invitations", {"choose": "1", "scopes": ["diary"]}).status_code == 404
    assert person.html("/caseload").status_code == 404
    assert person.html(f"/clients/{person.user_id}").status_code == 404
    assert dietitian.html("/sharing").status_code == 404
    assert dietitian.html("/plan").status_code == 404


# --------------------------------------------------------------------------- nothing before acceptance


def test_nothing_visible_before_acceptance(app, person, dietitian):
    pid = person.user_id
    add_rows(app, meal(pid, utcnow()), symptom(pid, utcnow()))
    invite(dietitian)  # invited, not accepted
    assert "pat" not in dietitian.html("/caseload").text
    for method, path, form in client_routes(pid):
        before = n_audit(app)
        r = call(dietitian, method, path, form)
        assert r.status_code == 404, (method, path, r.status_code)
        rows = audit_rows(app)[before:]
        assert [(e.action, e.actor_id, e.subject_id) for e in rows] == [("denied", dietitian.user_id, pid)], path
    # a person id that does not exist looks the same
    r = dietitian.html("/clients/99999/diary")
    assert r.status_code == 404
    assert audit_rows(app)[-1].action == "denied"
    with app.state.sessions() as db:
        assert db.scalar(select(func.count(Note.id))) == 0
        assert db.scalar(select(func.count(Message.id))) == 0
        assert db.scalar(select(func.count(PlanVersion.id))) == 0

    connect(person, dietitian)
    r = dietitian.html(f"/clients/{pid}")
    assert r.status_code == 200 and "pat" in r.text


def test_another_dietitians_client_is_404(app, person, dietitian):
    connect(person, dietitian)
    other = signup(app, "olga@example.org", role="dietitian")
    for method, path, form in client_routes(person.user_id):
        assert call(other, method, path, form).status_code == 404, path
    denied = audit_rows(app, actor_id=other.user_id)
    assert denied and all(e.action == "denied" for e in denied)


def test_scope_diary_only(app, person, dietitian):
    pid = person.user_id
    connect(person, dietitian, ["diary"])
    assert dietitian.html(f"/clients/{pid}/diary").status_code == 200
    assert dietitian.html(f"/clients/{pid}").status_code == 200
    for method, path, form in client_routes(pid):
        if "/plan" not in path:
            continue
        before = n_audit(app)
        assert call(dietitian, method, path, form).status_code == 404, path
        assert [e.action for e in audit_rows(app)[before:]] == ["denied"], path
    page = dietitian.html(f"/clients/{pid}").text
    assert f"/clients/{pid}/plan" not in page  # not linked either


def test_changed_scopes_apply_on_the_next_request(app, person, dietitian):
    pid = person.user_id
    cid = connect(person, dietitian)
    assert dietitian.html(f"/clients/{pid}/diary").status_code == 200
    r = person.post_form(f"/sharing/{cid}/scopes", {"scopes": ["plan", "symptoms"]})
    assert r.status_code == 303
    assert dietitian.html(f"/clients/{pid}/diary").status_code == 404
    assert dietitian.html(f"/clients/{pid}/plan").status_code == 200
    assert person.post_form(f"/sharing/{cid}/scopes", {}).status_code == 400  # nothing chosen: refused
    assert person.post_form(f"/sharing/{cid}/scopes", {"scopes": ["everything"]}).status_code == 400
    other = signup(app, "sam@example.org")
    assert other.post_form(f"/sharing/{cid}/scopes", {"scopes": ["diary"]}).status_code == 404
    assert other.post_form(f"/sharing/{cid}/revoke").status_code == 404


def test_revoke_takes_effect_on_the_next_request(app, person, dietitian):
    pid = person.user_id
    cid = connect(person, dietitian)
    assert dietitian.html(f"/clients/{pid}/diary").status_code == 200
    page = person.html("/sharing").text
    assert "dee" in page and "Stop sharing" in page
    assert person.post_form(f"/sharing/{cid}/revoke").status_code == 303
    before = n_audit(app)
    assert dietitian.html(f"/clients/{pid}/diary").status_code == 404
    assert [e.action for e in audit_rows(app)[before:]] == ["denied"]
    for method, path, form in client_routes(pid):
        assert call(dietitian, method, path, form).status_code == 404, path
    assert f"/clients/{pid}" not in dietitian.html("/caseload").text
    assert "Ended" in person.html("/sharing").text


def test_a_new_invitation_after_revoking_shares_again(app, person, dietitian):
    pid = person.user_id
    cid = connect(person, dietitian, ["diary"])
    person.post_form(f"/sharing/{cid}/revoke")
    connect(person, dietitian, ["plan"])
    assert dietitian.html(f"/clients/{pid}/plan").status_code == 200
    assert dietitian.html(f"/clients/{pid}/diary").status_code == 404


# --------------------------------------------------------------------------- audit


def test_exactly_one_audit_read_row_per_diary_read(app, person, dietitian):
    pid = person.user_id
    day = utcnow().replace(hour=8, minute=0, second=0, microsecond=0)
    add_rows(
        app,
        *(meal(pid, day - timedelta(days=i), f"{i + 1} eggs and toast") for i in range(5)),
        symptom(pid, day, "joint pain", 6),
    )
    connect(person, dietitian)
    for n in range(1, 4):
        before = n_audit(app)
        r = dietitian.html(f"/clients/{pid}/diary")
        assert r.status_code == 200 and "1 eggs and toast" in r.text and "joint pain" in r.text
        new = audit_rows(app)[before:]
        assert [(e.action, e.resource, e.actor_id, e.subject_id) for e in new] == [
            ("read", "diary", dietitian.user_id, pid)
        ]
        assert len(audit_rows(app, actor_id=dietitian.user_id, resource="diary", action="read")) == n


def test_person_sees_their_audit_trail_with_names(app, person, dietitian):
    pid = person.user_id
    connect(person, dietitian)
    dietitian.html(f"/clients/{pid}/diary")
    other = signup(app, "olga@example.org", role="dietitian", name="Olga Nowak")
    other.html(f"/clients/{pid}/diary")
    page = person.html("/audit").text
    assert "dee (dietitian)" in page and "viewed" in page and "your meal diary" in page
    assert "Olga Nowak" in page and "was refused access to" in page
    assert "sharing with dee" in page
    assert f"actor {dietitian.user_id}" not in page
    assert dietitian.html("/audit").status_code == 404


# --------------------------------------------------------------------------- caseload


def test_caseload_flags_and_one_audit_row_per_client(app, dietitian):
    now = utcnow()
    a = signup(app, "ann@example.org", name="Ann")
    b = signup(app, "bob@example.org", name="Bob")
    c = signup(app, "cem@example.org", name="Cem")
    add_rows(
        app,
        meal(a.user_id, now - timedelta(days=1)),
        symptom(a.user_id, now - timedelta(days=2), "fatigue", 8),
        meal(b.user_id, now - timedelta(days=10)),
        symptom(b.user_id, now - timedelta(days=9), "bloating", 9),
        symptom(c.user_id, now - timedelta(days=1), "bloating", 9),
    )
    connect(a, dietitian)
    connect(b, dietitian)
    connect(c, dietitian, ["plan"])
    with app.state.sessions() as db:
        db.add(PlanVersion(person_id=a.user_id, number=1, status="draft", content={"items": []}))
        db.add(
            Message(
                person_id=b.user_id,
                dietitian_id=dietitian.user_id,
                sender_id=b.user_id,
                client_id=str(uuid.uuid4()),
                text="hi",
            )
        )
        db.commit()
    before = n_audit(app)
    page = dietitian.html("/caseload").text
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r'<th scope="row"><a href="/clients/\d+">(\w+)</a>(.*?)</tr>', page, re.S)
    }
    assert set(rows) == {"Ann", "Bob", "Cem"}
    cells = {k: re.findall(r"<td>(.*?)</td>", v, re.S) for k, v in rows.items()}
    ann, bob, cem = cells["Ann"], cells["Bob"], cells["Cem"]
    assert "yes (8/10)" in ann[0] and "yes" in ann[1] and ann[2] == "no" and ann[3] == "0"
    assert (now - timedelta(days=1)).strftime("%Y-%m-%d") in ann[4]
    assert bob[0] == "no" and bob[1] == "no" and "yes" in bob[2] and ">1<" in bob[3]  # old symptoms don't flag
    assert "not shared" in cem[0] and "not shared" in cem[2] and "not shared" in cem[4] and cem[1] == "no"
    new = audit_rows(app)[before:]
    assert sorted((e.subject_id, e.resource, e.action) for e in new) == sorted(
        (p.user_id, "caseload", "read") for p in (a, b, c)
    )


# --------------------------------------------------------------------------- notes


def test_private_note_never_reaches_the_person(app, person, dietitian):
    pid = person.user_id
    add_rows(app, meal(pid, utcnow().replace(microsecond=0)))
    connect(person, dietitian)
    private = "PRIVATE-consider-ARFID-screening-7f3a"
    shared = "SHARED-well-done-on-the-fibre-21c9"
    day_note = "SHARED-about-this-day-88b1"
    assert dietitian.post_form(f"/clients/{pid}/notes", {"text": private}).status_code == 303
    assert dietitian.post_form(f"/clients/{pid}/notes", {"text": shared, "shared": "on"}).status_code == 303
    day = utcnow().date().isoformat()
    r = dietitian.post_form(
        f"/clients/{pid}/notes",
        {"text": day_note, "shared": "on", "target": f"day:{day}", "back": f"/clients/{pid}/diary"},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/clients/{pid}/diary"
    assert dietitian.post_form(f"/clients/{pid}/notes", {"text": "x", "target": "bogus:1"}).status_code == 400
    overview = dietitian.html(f"/clients/{pid}").text
    assert private in overview and shared in overview and "private: only you see it" in overview
    assert day_note in dietitian.html(f"/clients/{pid}/diary").text

    for path in ("/plan", "/notes", "/messages", "/log", "/diary", "/sharing", "/audit", "/account", "/uploads"):
        r = person.html(path)
        assert private not in r.text, path
    assert shared in person.html("/notes").text and day_note in person.html("/notes").text
    assert shared in person.html("/plan").text

    # another dietitian never sees this one's notes, even with consent
    other = signup(app, "olga@example.org", role="dietitian")
    connect(person, other)
    assert private not in other.html(f"/clients/{pid}").text


def test_a_repeated_note_submit_stores_once(app, person, dietitian):
    pid = person.user_id
    connect(person, dietitian)
    form = {"text": "once", "client_id": str(uuid.uuid4())}
    dietitian.post_form(f"/clients/{pid}/notes", dict(form))
    dietitian.post_form(f"/clients/{pid}/notes", dict(form))
    with app.state.sessions() as db:
        assert db.scalar(select(func.count(Note.id))) == 1


# --------------------------------------------------------------------------- messages


def test_messages_both_ways_with_read_receipts(app, person, dietitian):
    pid = person.user_id
    connect(person, dietitian)
    assert dietitian.post_form(f"/clients/{pid}/messages", {"text": "How was the week?"}).status_code == 303
    with app.state.sessions() as db:
        m = db.scalar(select(Message))
        assert m.read_at is None and m.sender_id == dietitian.user_id
    page = person.html("/messages").text
    assert "How was the week?" in page and "Mark 1 new as read" in page
    with app.state.sessions() as db:
        assert db.scalar(select(Message)).read_at is None  # opening a thread (a GET) changes nothing

    r = person.post_form("/messages", {"dietitian": str(dietitian.user_id), "text": "Bloated on Tuesday"})
    assert r.status_code == 303
    with app.state.sessions() as db:
        assert db.scalar(select(Message).where(Message.sender_id == dietitian.user_id)).read_at is not None  # replied
    assert f'<a class="flag" href="/clients/{pid}/messages">1</a>' in dietitian.html("/caseload").text  # one unread
    assert "Bloated on Tuesday" in dietitian.html(f"/clients/{pid}/messages").text
    assert f'href="/clients/{pid}/messages"' in dietitian.html("/caseload").text  # still unread after reading
    r = dietitian.post_form(f"/clients/{pid}/messages/read", {})
    assert r.status_code == 303
    with app.state.sessions() as db:
        assert all(x.read_at is not None for x in db.scalars(select(Message)))
    assert f'href="/clients/{pid}/messages"' not in dietitian.html("/caseload").text  # nothing unread

    # a person with two dietitians chooses the thread; each dietitian sees only their own
    other = signup(app, "olga@example.org", role="dietitian", name="Olga")
    connect(person, other)
    person.post_form("/messages", {"dietitian": str(other.user_id), "text": "Hello Olga"})
    assert "Hello Olga" not in dietitian.html(f"/clients/{pid}/messages").text
    assert "Hello Olga" in other.html(f"/clients/{pid}/messages").text
    assert "Bloated on Tuesday" not in other.html(f"/clients/{pid}/messages").text
    page = person.html(f"/messages?d={other.user_id}").text
    assert "<select" in page and "Hello Olga" in page and "Bloated" not in page
    stranger = signup(app, "zed@example.org", role="dietitian")
    assert person.post_form("/messages", {"dietitian": str(stranger.user_id), "text": "x"}).status_code == 404
    assert person.html(f"/messages?d={stranger.user_id}").status_code == 404


def test_a_repeated_message_submit_stores_once(app, person, dietitian):
    pid = person.user_id
    connect(person, dietitian)
    cid = str(uuid.uuid4())
    for _ in range(2):
        dietitian.post_form(f"/clients/{pid}/messages", {"text": "once", "client_id": cid})
        person.post_form("/messages", {"dietitian": str(dietitian.user_id), "text": "reply", "client_id": cid})
    with app.state.sessions() as db:
        assert db.scalar(select(func.count(Message.id))) == 2


def test_client_diary_shows_matched_foods_and_only_shared_logs(app, person, dietitian):
    pid = person.user_id
    at = utcnow().replace(hour=12, minute=30, second=0, microsecond=0)
    add_rows(
        app,
        meal(
            pid,
            at,
            "2 eggs and toast",
            "lunch",
            items=[
                {"description": "Egg, whole, fried", "grams": 92.0, "nova": 1},
                {"description": "Bread, white, toasted", "grams": 28.0, "nova": 4},
            ],
        ),
        symptom(pid, at, "joint pain", 8),
    )
    connect(person, dietitian, ["diary"])
    page = dietitian.html(f"/clients/{pid}/diary").text
    assert "2 eggs and toast" in page and "Egg, whole, fried" in page and "92 g" in page and "NOVA 4" in page
    assert "joint pain" not in page and "not shared" in page
    with app.state.sessions() as db:
        u = db.get(User, pid)
        assert u.role == "person"


def test_every_route_here_with_an_id_is_404_with_one_denied_row_for_outsiders(app, person, dietitian):
    """Another person, an unlinked and a just-revoked dietitian, on every route of these two routers."""
    from gutaxis.web.app import PUBLIC_ROUTES, api_routes

    pid = person.user_id
    cid = connect(person, dietitian)
    revoked = signup(app, "rev@example.org", role="dietitian")
    rcid = connect(person, revoked)
    tok = invite(dietitian)
    with app.state.sessions() as db:
        signed = PlanVersion(
            person_id=pid,
            number=1,
            status="signed",
            content={"items": []},
            signer_name="dee",
            signed_at=utcnow(),
            sha256="0" * 64,
        )
        draft = PlanVersion(person_id=pid, number=2, status="draft", content={"items": [{"id": "a"}]})
        db.add_all([signed, draft])
        db.commit()
        iid = db.scalar(select(Invitation.id).where(Invitation.used_at.is_(None)))
        ids = {"pid": pid, "vid": signed.id, "consent_id": cid, "inv_id": iid, "token": tok + "x"}
    person.post_form(f"/sharing/{rcid}/revoke")
    outsiders = {
        "person": signup(app, "sam@example.org"),
        "unlinked": signup(app, "olga@example.org", role="dietitian"),
        "revoked": revoked,
    }
    form = {"text": "x", "op": "up", "item": "a", "pos": "0", "scopes": "diary", "dietitian": str(dietitian.user_id)}
    mine = [
        r
        for r in api_routes(app)
        if r.endpoint.__module__.startswith(
            ("gutaxis.web.routes.dietitian", "gutaxis.web.routes.sharing", "gutaxis.web.routes.plans")
        )
    ]
    tried = 0
    for r in mine:
        params = re.findall(r"{(\w+)}", r.path)
        if not params or r.path in PUBLIC_ROUTES:
            continue
        url = re.sub(r"{(\w+)}", lambda m: str(ids[m.group(1)]), r.path)
        if r.path.endswith("/compare"):
            url += f"?a={ids['vid']}&b={ids['vid']}"
        for who, b in outsiders.items():
            for method in r.methods - {"HEAD"}:
                before = n_audit(app)
                resp = call(b, method, url, form)
                assert resp.status_code == 404, (who, method, r.path, resp.status_code)
                new = audit_rows(app)[before:]
                assert [e.action for e in new] == ["denied"], (who, method, r.path)
                tried += 1
    assert tried >= 30
    # the person's own draft is not theirs to see either
    before = n_audit(app)
    assert person.html(f"/plan/{draft.id}").status_code == 404
    assert [e.action for e in audit_rows(app)[before:]] == ["denied"]


def test_a_repeated_invitation_submit_makes_one_link(app, dietitian):
    cid = str(uuid.uuid4())
    first = dietitian.post_form("/invitations", {"client_id": cid}, page="/invitations")
    again = dietitian.post_form("/invitations", {"client_id": cid}, page="/invitations")
    assert first.status_code == again.status_code == 200
    assert "/invite/" in first.text and "/invite/" not in again.text.split("Your invitations")[0]
    assert "made already" in again.text
    with app.state.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Invitation)) == 1


def test_a_shared_note_on_a_day_shows_on_the_persons_diary_and_a_private_one_does_not(app, person, dietitian):
    pid = person.user_id
    connect(person, dietitian)
    day = utcnow().date().isoformat()
    dietitian.post_form(
        f"/clients/{pid}/notes", {"text": "SHARED-day-note-5d1e", "shared": "on", "target": f"day:{day}"}
    )
    dietitian.post_form(f"/clients/{pid}/notes", {"text": "PRIVATE-day-note-9c2a", "target": f"day:{day}"})
    page = person.html("/diary").text
    assert "SHARED-day-note-5d1e" in page and "PRIVATE-day-note-9c2a" not in page
