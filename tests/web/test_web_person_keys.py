"""Per-person encryption (crypto-shredding, issue 16) on SQLite and PostgreSQL: with a master key a person's
meal text, notes and uploaded files are sealed with their own key (not in the database's bytes nor in the
stored file), shown to them and to a consented dietitian, exported in plain; erasure deletes the key, so a
backup taken before it restores as "unreadable: erased"; a wrong master key refuses to start."""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from dataclasses import replace
from datetime import datetime

import pytest
from _cli import cli
from conftest import PASSWORD, Browser, signup
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool
from test_web_dietitian import connect
from test_web_rights import _export

from gutaxis.web import person_keys, rights
from gutaxis.web.db import make_engine, session_factory
from gutaxis.web.models import Job, MealEntry, SymptomEntry, Upload, User

MASTER = secrets.token_hex(32)
MEAL = "CANARYMEAL quokka porridge"
NOTE = "CANARYNOTE sore after lunch"
FILE_BYTES = b"#SampleID\tS1\nk__Bacteria|p__CANARYFILE\t100\n"
FILE_NAME = "CANARYNAME profile.tsv"
CANARIES = (b"CANARYMEAL", b"CANARYNOTE", b"CANARYFILE", b"CANARYNAME", b"CANARYERR")


@pytest.fixture
def settings(settings):
    settings.master_key = MASTER
    return settings


def _raw_database(settings) -> bytes:
    """What a thief of the database (or of its dump) reads: the SQLite files, or every row as plain SQL."""
    url = settings.database_url
    if url.startswith("sqlite"):
        eng = create_engine(url, poolclass=NullPool)
        with eng.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        eng.dispose()
        path = settings.data_dir / "gutaxis.db"
        return b"".join(p.read_bytes() for p in path.parent.glob("gutaxis.db*"))
    eng = create_engine(url, poolclass=NullPool)
    out = []
    with eng.connect() as conn:
        for table in ("meal_entry", "symptom_entry", "upload", "note", "message", "job"):
            out += [repr(tuple(r)).encode() for r in conn.execute(text(f"SELECT * FROM {table}"))]
    eng.dispose()
    return b"\n".join(out)


def _log(app, settings, pid: int) -> int:
    """A meal and a symptom through the forms, an uploaded file through the ORM; returns the upload's id."""
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    (settings.upload_dir / "f-canary").write_bytes(FILE_BYTES)
    with app.state.sessions() as db:
        db.add_all(
            [
                MealEntry(
                    person_id=pid, client_id=str(uuid.uuid4()), eaten_at=datetime(2024, 3, 4, 8), text=MEAL, items=[]
                ),
                SymptomEntry(person_id=pid, client_id=str(uuid.uuid4()), at=datetime(2024, 3, 4, 9), note=NOTE),
                Job(kind="upload", person_id=pid, status="failed", error="CANARYERR: the file is not a profile"),
            ]
        )
        up = Upload(
            person_id=pid,
            client_id=str(uuid.uuid4()),
            filename=FILE_NAME,
            stored_name="f-canary",
            size=len(FILE_BYTES),
            kind="profile",
            status="done",
        )
        db.add(up)
        db.commit()
        assert up.filename == FILE_NAME  # the object keeps the plain text after the flush
        return up.id


def test_sealed_in_the_database_and_the_file_shown_and_exported_in_plain(app, settings):
    person = signup(app, "pat@example.org")
    dietitian = signup(app, "dee@example.org", role="dietitian")
    r = person.post_form("/log/meal", {"text": "CANARYMEAL typed toast"})
    assert r.status_code in (200, 303), r.text[:300]
    uid = _log(app, settings, person.user_id)

    raw = _raw_database(settings)
    assert b"gxe1:" in raw
    for c in CANARIES:
        assert c not in raw, c
    stored = (settings.upload_dir / "f-canary").read_bytes()
    assert b"CANARYFILE" not in stored and stored.startswith(b"GXE1FILE")
    assert (settings.key_store / f"person-{person.user_id}.key").is_file()
    assert b"CANARY" not in b"".join(p.read_bytes() for p in settings.key_store.iterdir())

    page = person.html("/log").text
    assert "CANARYMEAL typed toast" in page
    with app.state.sessions() as db:  # a fresh session reads the plain text
        assert MEAL in {m.text for m in db.scalars(select(MealEntry))}
        assert db.scalars(select(SymptomEntry)).one().note == NOTE
        assert db.get(Upload, uid).filename == FILE_NAME
        assert db.scalars(select(Job).where(Job.kind == "upload")).one().error.startswith("CANARYERR")
    r = person.get(f"/uploads/{uid}/download")
    assert r.status_code == 200 and r.content == FILE_BYTES
    assert "CANARYNAME" in r.headers["content-disposition"]

    connect(person, dietitian, ["diary", "symptoms", "microbiome"])
    assert MEAL in dietitian.html(f"/clients/{person.user_id}/diary?end=2024-03-10").text
    r = dietitian.get(f"/uploads/{uid}/download")
    assert r.status_code == 200 and r.content == FILE_BYTES
    r = dietitian.post_form(f"/clients/{person.user_id}/messages", {"text": "CANARYMSG eat more fibre"})
    assert r.status_code in (200, 303), r.text[:300]
    assert b"CANARYMSG" not in _raw_database(settings)
    assert "CANARYMSG" in dietitian.html(f"/clients/{person.user_id}/messages").text

    zf = _export(person)
    meals = list(csv.DictReader(io.TextIOWrapper(zf.open("meal_entry.csv"), encoding="utf-8")))
    assert MEAL in {m["text"] for m in meals}
    files = [n for n in zf.namelist() if n.startswith(f"uploads/{uid}/")]
    assert len(files) == 1 and zf.read(files[0]) == FILE_BYTES


def test_erasure_makes_a_backup_taken_before_it_unreadable(app, settings, tmp_path, request):
    person = signup(app, "pat@example.org")
    pid = person.user_id
    _log(app, settings, pid)
    archive = tmp_path / "before-erasure.tar"
    r = cli("admin", "backup", str(archive), "--database-url", settings.database_url, "--data-dir", settings.data_dir)
    assert r.exit_code == 0, r.output
    assert b"CANARY" not in archive.read_bytes()

    with app.state.sessions() as db:
        rights.erase_person(db, settings, db.get(User, pid))
    assert not (settings.key_store / f"person-{pid}.key").exists()

    # the old backup restored into a fresh place, with the same master key and the key store as it is now
    if request.node.callspec.params["database_url"] == "sqlite":
        url = f"sqlite:///{tmp_path / 'restored' / 'gutaxis.db'}"
    else:
        url = request.getfixturevalue("fresh_pg")
    r = cli("admin", "restore", str(archive), "--database-url", url, "--data-dir", str(tmp_path / "restored"))
    assert r.exit_code == 0, r.output
    again = replace(settings, data_dir=tmp_path / "restored", database_url=url, key_store_dir=settings.key_store)
    engine = make_engine(url)
    try:
        assert person_keys.attach(engine, again) is not None
        with session_factory(engine)() as db:
            assert db.get(User, pid) is not None  # the backup does hold the person...
            assert {m.text for m in db.scalars(select(MealEntry).where(MealEntry.person_id == pid))} == {
                person_keys.ERASED
            }  # ...but not what they wrote
            assert db.scalars(select(SymptomEntry)).one().note == person_keys.ERASED
            up = db.scalars(select(Upload)).one()
            assert up.filename == person_keys.ERASED
            path = again.upload_dir / up.stored_name
            assert b"CANARYFILE" not in path.read_bytes()
            with pytest.raises(Exception, match="unreadable: erased"), person_keys.readable(up, path):
                pass
    finally:
        engine.dispose()
    # the restored app starts (the master key still opens the store) and shows the marker, not an error page
    from gutaxis.web.app import create_app

    restored = create_app(again)
    try:
        b = Browser(restored)
        r = b.post_form("/login", {"email": "pat@example.org", "password": PASSWORD}, page="/login")
        assert r.status_code == 303, r.text[:300]
        page = b.html("/log")
        assert page.status_code == 200 and person_keys.ERASED in page.text and "CANARY" not in page.text
    finally:
        restored.state.engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_wrong_or_malformed_master_key_refuses_to_start(app, settings):
    from gutaxis.web.app import create_app

    with pytest.raises(person_keys.MasterKeyError, match="does not open the key store"):
        create_app(replace(settings, master_key=secrets.token_hex(32)))
    with pytest.raises(person_keys.MasterKeyError, match="64 hex digits"):
        create_app(replace(settings, master_key="not a key"))
    assert "master_key" not in repr(settings) or MASTER not in repr(settings)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_text_written_before_the_key_was_switched_on_stays_readable(tmp_path, settings):
    from gutaxis.web.app import create_app

    plain = create_app(replace(settings, master_key=None))
    pid = signup(plain, "pat@example.org").user_id
    with plain.state.sessions() as db:
        db.add(MealEntry(person_id=pid, client_id="c1", eaten_at=datetime(2024, 3, 4), text="old toast", items=[]))
        db.commit()
    plain.state.engine.dispose()
    sealed = create_app(settings)
    try:
        with sealed.state.sessions() as db:
            m = db.scalars(select(MealEntry)).one()
            assert m.text == "old toast"
            m.text = "new toast"  # an edit seals it
            db.commit()
        with sealed.state.sessions() as db:
            assert db.scalars(select(MealEntry)).one().text == "new toast"
            assert db.execute(text("SELECT text FROM meal_entry")).scalar().startswith("gxe1:")
    finally:
        sealed.state.engine.dispose()
