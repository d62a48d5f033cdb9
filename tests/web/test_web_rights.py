"""Data rights (issue 16, item 2): the export ZIP (every record, formula cells neutralised, the FHIR
Bundle and NDJSON, one audited download), its import into a fresh database (export -> import ->
export gives the same CSVs), and erasure (nothing refers to the person afterwards except the audit
trail's account numbers and a pseudonymous retained plan; files gone; the dietitian gets 404)."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
import zipfile
from datetime import datetime

from conftest import CHEAP_ARGON2, PASSWORD, Browser, signup
from sqlalchemy import JSON, MetaData, String, Text, func, select
from test_web_routes import FORM_DEFAULTS

from gutaxis.web import audit, rights
from gutaxis.web.app import api_routes
from gutaxis.web.models import (
    AuditEvent,
    Consent,
    Invitation,
    Job,
    LabResult,
    LoginFailure,
    MealEntry,
    Message,
    Note,
    PlanVersion,
    RetainedPlan,
    StressEntry,
    SymptomEntry,
    Upload,
    User,
    WebSession,
)

EMAIL = "zq.canary@example.org"
NAME = "Zebedee Quonkwhistle"
FORMULAS = ['=HYPERLINK("http://x")', "+1 cup of rice", "-bad idea", "@SUM(A1)"]


def _seed(app, settings, pid: int, did: int) -> dict:
    """Records of every kind for ``pid``, a consent, messages, notes and plans with dietitian ``did``."""
    from gutaxis.web.routes.plans import plan_hash

    t = datetime(2024, 3, 4, 8, 30)
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    (settings.upload_dir / "f-profile").write_bytes(b"#SampleID\tS1\nk__Bacteria|p__Firmicutes\t100\n")
    (settings.upload_dir / "f-diary").write_bytes(b"Day,Food Name\n2024-03-04,kimchi\n")
    with app.state.sessions() as db:
        meals = [
            MealEntry(
                person_id=pid,
                client_id=str(uuid.uuid4()),
                eaten_at=t,
                meal="lunch",
                text=f,
                items=[{"description": "rice", "grams": 150.0}],
                source="typed",
            )
            for f in FORMULAS
        ]
        meals.append(
            MealEntry(
                person_id=pid,
                client_id=str(uuid.uuid4()),
                eaten_at=t,
                text="2 eggs, toast",
                items=[],
                source="cronometer",
                nutrients={"ndb_no": "01123", "grams": 100.0},
            )
        )
        db.add_all(
            [
                *meals,
                SymptomEntry(
                    person_id=pid,
                    client_id=str(uuid.uuid4()),
                    at=t,
                    onset=t,
                    symptom="pain",
                    rating=7.0,
                    bristol=2,
                    note="=cmd|' /C calc'!A0",
                ),
                StressEntry(
                    person_id=pid,
                    client_id=str(uuid.uuid4()),
                    at=t,
                    pss_items=[1, 2, 3, 4, 0, 1, 2, 3, 4, 0],
                    pss_total=16.0,
                ),
                StressEntry(
                    person_id=pid, client_id=str(uuid.uuid4()), at=t, rating=4.5, practice="yoga", minutes=15.0
                ),
                LabResult(
                    person_id=pid,
                    client_id=str(uuid.uuid4()),
                    marker="crp",
                    value=6.1,
                    measured_on=datetime(2024, 2, 1),
                    entered_by=did,
                ),
                LabResult(
                    person_id=pid,
                    client_id=str(uuid.uuid4()),
                    marker="calprotectin",
                    value=210.0,
                    measured_on=datetime(2024, 2, 2),
                    entered_by=pid,
                ),
                Upload(
                    person_id=pid,
                    client_id=str(uuid.uuid4()),
                    filename="my profile.txt",
                    stored_name="f-profile",
                    size=44,
                    kind="profile",
                    status="done",
                    result={"gmhi": 1.25},
                ),
                Upload(
                    person_id=pid,
                    client_id=str(uuid.uuid4()),
                    filename="cronometer.csv",
                    stored_name="f-diary",
                    size=33,
                    kind="cronometer",
                    status="done",
                    result={"rows": 1},
                ),
                Consent(person_id=pid, dietitian_id=did, scopes="diary,symptoms,stress,microbiome,plan"),
                Message(
                    person_id=pid,
                    dietitian_id=did,
                    sender_id=pid,
                    client_id=str(uuid.uuid4()),
                    text=f"Hello, this is {NAME}",
                ),
                Message(person_id=pid, dietitian_id=did, sender_id=did, client_id=str(uuid.uuid4()), text="Hi there"),
                Note(person_id=pid, author_id=did, client_id=str(uuid.uuid4()), text="shared: well done", shared=True),
                Note(
                    person_id=pid,
                    author_id=did,
                    client_id=str(uuid.uuid4()),
                    text=f"private about {NAME}",
                    shared=False,
                ),
                Invitation(
                    token_hash=uuid.uuid4().hex * 2,
                    dietitian_id=did,
                    client_id=str(uuid.uuid4()),
                    scopes="diary",
                    expires_at=t,
                    used_at=t,
                    person_id=pid,
                ),
                LoginFailure(key=f"acct:{EMAIL}", count=2),
                Job(kind="parse_profile", person_id=pid, requested_by=pid, params={"upload_id": 1}, status="done"),
            ]
        )
        content = {
            "items": [{"id": "fibre", "title": "More fibre", "text": "=beans daily", "target": "30 g"}],
            "disclaimer": "Not medical advice.",
        }
        signed = []
        for n, hold in ((1, True), (2, False)):
            pv = PlanVersion(
                person_id=pid,
                number=n,
                status="signed",
                content=content,
                created_by=did,
                signer_name="Dee Dietitian",
                signed_at=datetime(2024, 3, 5, 10, n),
                signed_by=did,
                legal_hold=hold,
            )
            pv.sha256 = plan_hash(pv)
            db.add(pv)
            db.flush()
            signed.append(pv.id)
        db.add(
            PlanVersion(person_id=pid, number=3, status="draft", content=content, created_by=did, parent_id=signed[1])
        )
        db.commit()
        return {"signed": signed}


def _export(person) -> zipfile.ZipFile:
    r = person.post_form("/account/export", page="/account/data")
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    job_page = person.html(r.headers["location"]).text
    assert "/account/data#export" in job_page
    r = person.get("/account/export/download")
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith("attachment;")
    return zipfile.ZipFile(io.BytesIO(r.content))


def _csv(zf: zipfile.ZipFile, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(zf.read(name).decode("utf-8"))))


def _audit_count(app, **where) -> int:
    with app.state.sessions() as db:
        q = select(func.count()).select_from(AuditEvent)
        for k, v in where.items():
            q = q.where(getattr(AuditEvent, k) == v)
        return db.scalar(q)


def test_export_holds_every_record_neutralised_with_fhir_and_one_audited_download(app, settings):
    from fhir.resources.R4B.bundle import Bundle

    from gutaxis.web import fhir

    person = signup(app, EMAIL, name=NAME)
    d = signup(app, "dee@example.org", role="dietitian")
    _seed(app, settings, person.user_id, d.user_id)
    before = _audit_count(app, action="read", resource="export")
    zf = _export(person)
    assert _audit_count(app, action="read", resource="export") == before + 1
    names = set(zf.namelist())
    for f in rights.EXPORT_TABLES:
        assert f in names, f
    assert {
        "README.txt",
        "fhir/bundle.json",
        "fhir/resources.ndjson",
        "plans/plan_v1.html",
        "plans/plan_v2.html",
        "plans/plan_v1.json",
    } <= names
    assert "plans/plan_v3.html" not in names  # an unsigned draft is not the person's
    # every column, but never the credentials
    acct = _csv(zf, "account.csv")
    assert len(acct) == 1 and acct[0]["email"] == EMAIL and acct[0]["name"] == NAME
    assert "password_hash" not in acct[0] and "totp_secret" not in acct[0]
    meals = _csv(zf, "meal_entry.csv")
    assert set(meals[0]) == {c.name for c in MealEntry.__table__.columns}
    assert [m["text"] for m in meals[:4]] == ['\'=HYPERLINK("http://x")', "'+1 cup of rice", "'-bad idea", "'@SUM(A1)"]
    assert json.loads(meals[4]["nutrients"]) == {"grams": 100.0, "ndb_no": "01123"}
    assert _csv(zf, "symptom_entry.csv")[0]["note"] == "'=cmd|' /C calc'!A0"
    notes = _csv(zf, "note.csv")
    assert [n["text"] for n in notes] == ["shared: well done"]  # the dietitian's private note stays theirs
    assert len(_csv(zf, "message.csv")) == 2 and len(_csv(zf, "consent.csv")) == 1
    plans = _csv(zf, "plan_version.csv")
    assert [(p["number"], p["legal_hold"]) for p in plans] == [("1", "true"), ("2", "false")]
    assert (
        zf.read("uploads/" + _upload_id(app, "f-profile") + "/my profile.txt")
        == (settings.upload_dir / "f-profile").read_bytes()
    )
    readme = zf.read("README.txt").decode()
    assert "retained where the law requires" in readme and "1 of your signed versions are marked" in readme
    assert "=, +, - or @" in readme
    html = zf.read("plans/plan_v1.html").decode()
    assert "More fibre" in html and "where the law requires" in html and "<script" not in html
    bundle = json.loads(zf.read("fhir/bundle.json"))
    Bundle.model_validate(bundle)
    for e in bundle["entry"]:
        assert fhir.value_set_problems(e["resource"]) == []
    lines = zf.read("fhir/resources.ndjson").decode().splitlines()
    assert len(lines) == len(bundle["entry"]) > 10
    # the dietitian cannot make or fetch the person's export
    assert d.get("/account/export/download").status_code == 404
    assert d.html("/account/data").status_code == 404


def _upload_id(app, stored: str) -> str:
    with app.state.sessions() as db:
        return str(db.scalar(select(Upload.id).where(Upload.stored_name == stored)))


#: columns that differ after an import into a fresh database, and why: new row ids and the person's
#: new account number; the stored file name is drawn anew; links to accounts of the old practice
#: (entered_by, created_by, signed_by) are not carried (the import makes links to the person only)
DIFFERENT = {"id", "person_id", "stored_name", "parent_id", "entered_by", "created_by", "signed_by"}
COMPARED = (
    "account.csv",
    "meal_entry.csv",
    "symptom_entry.csv",
    "stress_entry.csv",
    "lab_result.csv",
    "upload.csv",
    "plan_version.csv",
)


def _comparable(zf, name):
    return [{k: v for k, v in row.items() if k not in DIFFERENT} for row in _csv(zf, name)]


def test_export_import_export_reproduces_every_record(app, settings, tmp_path):
    from gutaxis.web.app import create_app
    from gutaxis.web.settings import Settings

    person = signup(app, EMAIL, name=NAME)
    d = signup(app, "dee@example.org", role="dietitian")
    _seed(app, settings, person.user_id, d.user_id)
    first = _export(person)
    path = tmp_path / "export.zip"
    path.write_bytes(first.fp.getvalue())

    fresh = Settings(
        data_dir=tmp_path / "fresh",
        argon2=CHEAP_ARGON2,
        run_jobs_inline=True,
        database_url=f"sqlite:///{tmp_path / 'fresh' / 'gutaxis.db'}",
    )
    app2 = create_app(fresh)
    with app2.state.sessions() as db:
        user = rights.import_export(db, fresh, path, password_hash=app2.state.passwords.hash(PASSWORD))
        assert (user.email, user.name, user.role) == (EMAIL, NAME, "person")
        assert db.scalar(select(func.count()).select_from(MealEntry)) == 5
    again = Browser(app2)
    r = again.post_form("/login", {"email": EMAIL, "password": PASSWORD})
    assert r.status_code == 303
    second = _export(again)
    for name in COMPARED:
        a, b = _comparable(first, name), _comparable(second, name)
        assert len(a) > 0 and a == b, name
    for u1, u2 in zip(_csv(first, "upload.csv"), _csv(second, "upload.csv"), strict=True):
        assert first.read(f"uploads/{u1['id']}/{u1['filename']}") == second.read(f"uploads/{u2['id']}/{u2['filename']}")
    # a lab value the person entered stays theirs; one the old practice's dietitian entered has no author
    labs = {r["marker"]: r["entered_by"] for r in _csv(second, "lab_result.csv")}
    assert labs == {"crp": "", "calprotectin": str(user.id)}
    # the files of the old practice's relations are not imported (README of the import says why)
    assert _csv(second, "consent.csv") == [] and _csv(second, "message.csv") == []
    assert set(rights.NOT_IMPORTED) == {"consent.csv", "message.csv", "note.csv", "job.csv", "audit_event.csv"}
    # importing the same export twice is refused (the e-mail exists)
    with app2.state.sessions() as db:
        try:
            rights.import_export(db, fresh, path, password_hash="x")
        except Exception as exc:
            assert "exists already" in str(exc)
        else:
            raise AssertionError("a second import with the same e-mail was accepted")
    app2.state.engine.dispose()


def _user_columns(table) -> list:
    """The integer columns of ``table`` that hold an account number."""
    cols = []
    for c in table.columns:
        if (
            any(fk.column.table.name == "user_account" for fk in c.foreign_keys)
            or (table.name == "user_account" and c.name == "id")
            or (table.name == "audit_event" and c.name in ("actor_id", "subject_id"))
        ):
            cols.append(c)
    return cols


def _walk(app, pid: int, needles: list[str]) -> list[str]:
    """Every row, in every table of the database (reflected, not the models), that holds the person's
    account number in an account column or any needle in any text column; audit rows may hold the number."""
    found = []
    md = MetaData()
    md.reflect(app.state.engine)
    assert {"user_account", "audit_event", "meal_entry", "retained_plan", "web_session"} <= set(md.tables)
    with app.state.engine.connect() as conn:
        for table in md.tables.values():
            texts = [
                c
                for c in table.columns
                if isinstance(c.type, (String, Text, JSON))
                or "CHAR" in str(c.type).upper()
                or "TEXT" in str(c.type).upper()
            ]
            ids = _user_columns(table)
            for row in conn.execute(table.select()).mappings():
                for c in ids:
                    if row[c.name] == pid and table.name != "audit_event":
                        found.append(f"{table.name}.{c.name}")
                for c in texts:
                    v = row[c.name]
                    s = v if isinstance(v, str) else json.dumps(v)
                    for n in needles:
                        if n.lower() in (s or "").lower():
                            found.append(f"{table.name}.{c.name} holds {n!r}")
    return found


def test_erasure_leaves_nothing_but_pseudonymous_audit_and_a_retained_plan(app, settings):
    person = signup(app, EMAIL, name=NAME)
    d = signup(app, "dee@example.org", role="dietitian")
    pid = person.user_id
    ids = _seed(app, settings, pid, d.user_id)
    _export(person)  # an export file on disk, and an export job
    with app.state.sessions() as db:
        export_file = rights.latest_export(db, settings, pid)[1]
    orphan = export_file.parent / f"{rights.pseudonym(settings, pid)}-left-by-a-crashed-job.zip"
    orphan.write_bytes(b"PK")
    files = [settings.upload_dir / "f-profile", settings.upload_dir / "f-diary", export_file, orphan]
    assert all(f.is_file() for f in files)
    # the dietitian reads the diary (an audit row about the person) before the erasure
    assert d.html(f"/clients/{pid}/diary").status_code == 200
    assert _walk(app, pid, [EMAIL, NAME])  # the walk does find the person before

    r = person.post_form(
        "/account/erase", {"password": "wrong password here", "confirm": rights.ERASE_PHRASE}, page="/account/data"
    )
    assert r.status_code == 400 and "nothing was erased" in r.text
    r = person.post_form("/account/erase", {"password": PASSWORD, "confirm": "erase"}, page="/account/data")
    assert r.status_code == 400 and "nothing was erased" in r.text
    with app.state.sessions() as db:
        assert db.get(User, pid) is not None
    token = person.token("/account/data")
    r = person.c.post(
        "/account/erase",
        data={"password": PASSWORD, "confirm": "  Erase my   ACCOUNT ", "csrf_token": token},
        headers={"accept": "text/html"},
    )
    assert r.status_code == 200 and "Your account is erased" in r.text
    assert "1 signed plan version(s) are kept" in r.text

    assert _walk(app, pid, [EMAIL, NAME, "Hello, this is", "private about"]) == []
    assert not any(f.exists() for f in files)
    with app.state.sessions() as db:
        for model in (
            MealEntry,
            SymptomEntry,
            StressEntry,
            LabResult,
            Upload,
            Consent,
            Message,
            Note,
            Job,
            PlanVersion,
            Invitation,
        ):
            assert db.scalar(select(func.count()).select_from(model)) == 0, model.__tablename__
        assert [k.split(":")[0] for k in db.scalars(select(LoginFailure.key))] == ["ip"]  # the address's, not theirs
        assert db.scalars(select(User.email)).all() == ["dee@example.org"]
        assert db.scalar(select(func.count()).select_from(WebSession).where(WebSession.user_id == pid)) == 0
        kept = db.scalars(select(RetainedPlan)).all()
        assert [(k.number, k.signer_name) for k in kept] == [(1, "Dee Dietitian")]
        assert kept[0].subject == rights.pseudonym(settings, pid) and len(kept[0].subject) == 32
        erased = db.scalars(select(AuditEvent).where(AuditEvent.action == "erased")).all()
        assert len(erased) == 1 and kept[0].subject in erased[0].record
        assert audit.verify_chain(db) is None  # the chain still holds
        assert db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.subject_id == pid)) > 2
    # the person's old cookie is dead; the dietitian gets 404 on every client route
    assert person.get("/log").status_code == 401
    tried = 0
    token = d.token("/account")
    for route in api_routes(app):
        if not route.path.startswith("/clients/{pid}"):
            continue
        url = route.path.replace("{pid}", str(pid)).replace("{vid}", str(ids["signed"][0]))
        url = re.sub(r"{\w+}", "1", url)
        if route.path.endswith("/compare"):
            url += f"?a={ids['signed'][0]}&b={ids['signed'][1]}"
        for method in route.methods - {"HEAD"}:
            if method == "GET":
                resp = d.get(url)
            else:
                form = {f.alias: FORM_DEFAULTS.get(f.alias, "1") for f in route.dependant.body_params}
                resp = d.c.request(method, url, data={**form, "csrf_token": token, "client_id": str(uuid.uuid4())})
            assert resp.status_code == 404, f"{method} {route.path}: {resp.status_code}"
            tried += 1
    assert tried >= 10


def test_a_new_account_never_gets_an_erased_accounts_number(app, settings):
    a = signup(app, "first@example.org")
    b = signup(app, "second@example.org")  # the highest number: SQLite would hand it out again
    d = signup(app, "dee@example.org", role="dietitian")
    with app.state.sessions() as db:
        db.add(Consent(person_id=b.user_id, dietitian_id=d.user_id, scopes="diary"))
        db.commit()
    assert d.html(f"/clients/{b.user_id}/diary").status_code == 200  # an audit row about b
    with app.state.sessions() as db:
        db.delete(db.get(User, d.user_id))  # leave b on top
        db.commit()
        rights.erase_person(db, settings, db.get(User, b.user_id))
    assert _audit_count(app, subject_id=b.user_id) == 2  # the dietitian's read, and the erasure
    c = signup(app, "third@example.org")
    assert a.user_id < b.user_id < c.user_id
    assert _audit_count(app, subject_id=c.user_id) == 0  # the erased account's trail is not the new one's


def test_erasure_needs_the_person_and_the_form_token(app, settings):
    person = signup(app, EMAIL, name=NAME)
    d = signup(app, "dee@example.org", role="dietitian")
    r = person.c.post("/account/erase", data={"password": PASSWORD, "confirm": rights.ERASE_PHRASE})
    assert r.status_code == 403  # no CSRF token
    token = d.token("/account")
    r = d.c.post("/account/erase", data={"password": PASSWORD, "confirm": rights.ERASE_PHRASE, "csrf_token": token})
    assert r.status_code == 404  # a dietitian has no such page
    with app.state.sessions() as db:
        assert db.scalar(select(func.count()).select_from(User)) == 2


def test_the_cli_imports_an_export_as_a_new_account(app, settings, tmp_path, monkeypatch):
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    from _cli import cli

    person = signup(app, EMAIL, name=NAME)
    d = signup(app, "dee@example.org", role="dietitian")
    _seed(app, settings, person.user_id, d.user_id)
    path = tmp_path / "export.zip"
    path.write_bytes(_export(person).fp.getvalue())
    target = tmp_path / "other-server"
    monkeypatch.delenv("GUTAXIS_DATABASE_URL", raising=False)
    r = cli("import-account", path, "--data-dir", target, "--email", "moved@example.org", input="short\nshort\n")
    assert r.exit_code == 2 and "password" in r.output  # a weak password is refused before anything is written
    r = cli(
        "import-account", path, "--data-dir", target, "--email", "moved@example.org", input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert r.exit_code == 0, r.output
    assert "meal_entry 5" in r.output and "plan_version 2" in r.output and "not imported: consent" in r.output
    from gutaxis.web.db import make_engine, session_factory

    engine = make_engine(f"sqlite:///{target / 'gutaxis.db'}")
    with session_factory(engine)() as db:
        u = db.scalar(select(User).where(User.email == "moved@example.org"))
        assert u is not None and u.name == NAME
        files = [target / "uploads" / s for s in db.scalars(select(Upload.stored_name).where(Upload.person_id == u.id))]
    engine.dispose()
    assert len(files) == 2 and all(f.is_file() for f in files)


def test_the_dietitian_puts_a_signed_version_under_legal_hold(app, settings):
    person = signup(app, EMAIL, name=NAME)
    d = signup(app, "dee@example.org", role="dietitian")
    other = signup(app, "other@example.org", role="dietitian")
    pid = person.user_id
    ids = _seed(app, settings, pid, d.user_id)
    v2 = ids["signed"][1]
    page = d.html(f"/clients/{pid}/plan/{v2}").text
    assert "Not under legal hold" in page
    r = d.post_form(f"/clients/{pid}/plan/{v2}/hold", {"hold": "on"}, page=f"/clients/{pid}/plan/{v2}")
    assert r.status_code == 303
    r = other.post_form(f"/clients/{pid}/plan/{v2}/hold", {"hold": "off"}, page="/account")
    assert r.status_code == 404  # not their client
    with app.state.sessions() as db:
        assert db.scalars(select(PlanVersion.legal_hold).order_by(PlanVersion.number)).all() == [True, True, False]
        rows = db.scalars(
            select(AuditEvent.record).where(AuditEvent.action == "write", AuditEvent.resource == "plan")
        ).all()
        draft = db.scalar(select(PlanVersion.id).where(PlanVersion.status == "draft"))
    assert rows == ["plan v2 legal hold on"]
    r = d.post_form(f"/clients/{pid}/plan/{draft}/hold", {"hold": "on"}, page=f"/clients/{pid}/plan/{v2}")
    assert r.status_code == 409  # a draft is no clinical record yet
    assert "Kept under legal hold" in d.html(f"/clients/{pid}/plan/{v2}").text
    assert "2 of your signed versions are marked" in _export(person).read("README.txt").decode()


def test_no_erasure_while_an_export_is_being_made(app, settings):
    person = signup(app, EMAIL, name=NAME)
    with app.state.sessions() as db:
        db.add(Job(kind="export", person_id=person.user_id, requested_by=person.user_id, status="running"))
        db.commit()
    r = person.post_form("/account/erase", {"password": PASSWORD, "confirm": rights.ERASE_PHRASE}, page="/account/data")
    assert r.status_code == 409 and "Nothing was erased" in r.text
    with app.state.sessions() as db:
        assert db.get(User, person.user_id) is not None
