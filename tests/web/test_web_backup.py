"""``gutaxis admin backup`` / ``restore`` on SQLite and PostgreSQL: a backup taken while writes go on
restores into a fresh data folder with every record and file, and the audit chain still verifies;
a corrupted archive and a non-empty target (without --force) are refused."""

from __future__ import annotations

import json
import tarfile
import threading
import time
import uuid
from datetime import datetime

import pytest
from _cli import cli
from conftest import signup
from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.pool import NullPool
from test_web_rights import EMAIL, NAME, _seed

from gutaxis.web import audit
from gutaxis.web.models import MealEntry


def _tables(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, sorted (the same kind of database on both sides compares alike)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        meta = MetaData()
        meta.reflect(engine)
        out = {}
        with engine.connect() as conn:
            for name, t in meta.tables.items():
                rows = [tuple(json.dumps(v, sort_keys=True, default=str) for v in r) for r in conn.execute(select(t))]
                out[name] = sorted(rows)
        return out
    finally:
        engine.dispose()


def _target(request, tmp_path) -> tuple[str, str]:
    """A fresh data folder and the URL of an empty database of the test's kind."""
    if request.node.callspec.params["database_url"] == "sqlite":
        d = tmp_path / "restored"
        return str(d), f"sqlite:///{d / 'gutaxis.db'}"
    return str(tmp_path / "restored"), request.getfixturevalue("fresh_pg")


def test_backup_during_writes_restores_every_record_and_the_audit_chain(app, settings, tmp_path, request):
    person = signup(app, EMAIL, name=NAME)
    d = signup(app, "dee@example.org", role="dietitian")
    _seed(app, settings, person.user_id, d.user_id)
    with app.state.sessions() as db:
        for i in range(30):
            audit.record(db, d.user_id, person.user_id, "read", "diary", f"day:{i}")
        db.commit()
    upload_files = {p.name: p.read_bytes() for p in settings.upload_dir.iterdir()}
    assert upload_files

    stop, committed, errors = threading.Event(), [], []

    def writer():  # the app goes on taking meals while the backup runs
        try:
            while not stop.is_set():
                with app.state.sessions() as db:
                    cid = str(uuid.uuid4())
                    db.add(MealEntry(person_id=person.user_id, client_id=cid, eaten_at=datetime(2024, 3, 1), text=cid))
                    db.commit()
                committed.append(cid)
                time.sleep(0.005)
        except Exception as exc:
            errors.append(repr(exc))

    t = threading.Thread(target=writer)
    t.start()
    try:
        time.sleep(0.3)
        before_backup = _tables(settings.database_url)
        archive = tmp_path / "backup.tar"
        r = cli(
            "admin", "backup", str(archive), "--database-url", settings.database_url, "--data-dir", settings.data_dir
        )
        time.sleep(0.2)
    finally:
        stop.set()
        t.join(30)
    assert errors == [] and r.exit_code == 0, (errors, r.output)
    assert "backup written" in r.output
    after_backup = _tables(settings.database_url)
    assert len(after_backup["meal_entry"]) > len(before_backup["meal_entry"]), "no write went on during the backup"

    data_dir, url = _target(request, tmp_path)
    r = cli("admin", "restore", str(archive), "--database-url", url, "--data-dir", data_dir)
    assert r.exit_code == 0, r.output
    restored = _tables(url)
    # every table that was not being written is identical; the meals are a snapshot between before and after
    assert set(restored) == set(after_backup)
    for name in restored:
        if name != "meal_entry":
            assert restored[name] == after_backup[name], name
    meals = set(restored["meal_entry"])
    assert set(before_backup["meal_entry"]) <= meals <= set(after_backup["meal_entry"])
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    if manifest["rows"] is not None:  # SQLite: the manifest counted the snapshot itself
        assert manifest["rows"]["meal_entry"] == len(meals)
        assert manifest["rows"]["audit_event"] == len(restored["audit_event"]) >= 30
    from pathlib import Path

    up = Path(data_dir) / "uploads"
    assert {p.name: p.read_bytes() for p in up.iterdir()} == upload_files
    r = cli("admin", "verify-audit", "--database-url", url)
    assert r.exit_code == 0 and "OK" in r.output, r.output

    # a target with records is refused without --force, replaced with it
    r = cli("admin", "restore", str(archive), "--database-url", url, "--data-dir", data_dir)
    assert r.exit_code != 0 and "is not empty" in r.output and "--force" in r.output, r.output
    r = cli("admin", "restore", str(archive), "--database-url", url, "--data-dir", data_dir, "--force")
    assert r.exit_code == 0, r.output
    assert _tables(url) == restored


def _corrupt(archive, out, member: str) -> None:
    """A copy of ``archive`` with one byte of ``member`` flipped (same size: only the checksum can tell)."""
    raw = bytearray(archive.read_bytes())
    with tarfile.open(archive) as tar:
        m = tar.getmember(member)
        at = m.offset_data + m.size // 2
    raw[at] ^= 0xFF
    out.write_bytes(bytes(raw))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_restore_refuses_a_corrupted_archive_and_writes_nothing(app, settings, tmp_path):
    signup(app, EMAIL, name=NAME)
    (settings.upload_dir).mkdir(parents=True, exist_ok=True)
    (settings.upload_dir / "f1").write_bytes(b"microbiome profile bytes " * 40)
    archive = tmp_path / "b.tar"
    r = cli("admin", "backup", str(archive), "--data-dir", settings.data_dir, "--database-url", settings.database_url)
    assert r.exit_code == 0, r.output
    r = cli("admin", "backup", str(archive), "--data-dir", settings.data_dir, "--database-url", settings.database_url)
    assert r.exit_code != 0 and "exists" in r.output  # never overwritten by accident
    for member in ("database/gutaxis.db", "uploads/f1"):
        bad = tmp_path / f"bad-{member.replace('/', '_')}.tar"
        _corrupt(archive, bad, member)
        target = tmp_path / f"t-{member.replace('/', '_')}"
        r = cli("admin", "restore", str(bad), "--data-dir", target)
        assert r.exit_code != 0 and "checksum mismatch" in r.output and member in r.output, r.output
        assert not (target / "gutaxis.db").exists() and not (target / "uploads").exists()
    trunc = tmp_path / "truncated.tar"
    trunc.write_bytes(archive.read_bytes()[:2048])
    r = cli("admin", "restore", str(trunc), "--data-dir", tmp_path / "t-trunc")
    assert r.exit_code != 0 and "corrupted backup archive" in r.output, r.output
    r = cli("admin", "restore", str(archive), "--data-dir", tmp_path / "t-ok")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "t-ok" / "uploads" / "f1").read_bytes() == b"microbiome profile bytes " * 40
