"""Encryption at rest of the SQLite database with SQLCipher (issue 16): with a database key, the file
(and its WAL) holds no plaintext of a canary meal; the wrong key, or none, is refused with a clear error;
a backup of it stays encrypted and restores with the key."""

from __future__ import annotations

import pytest
from _cli import cli
from conftest import CHEAP_ARGON2, Browser, signup
from sqlalchemy import select

from gutaxis.errors import GutaxisError
from gutaxis.web.models import MealEntry

pytest.importorskip("sqlcipher3", reason="SQLCipher is the optional extra gutaxis[sqlcipher]")

CANARY = "canary-kimchi-Zq7XwP3v"
KEY = "correct horse battery staple, the clinic's database key"


def _settings(tmp_path, name, key):
    from gutaxis.web.settings import Settings

    return Settings(data_dir=tmp_path / name, argon2=CHEAP_ARGON2, run_jobs_inline=True, database_key=key)


def _log_canary(settings) -> None:
    from gutaxis.web.app import create_app

    app = create_app(settings)
    try:
        person = signup(app, "pat@example.org")
        r = person.post_form("/log/meal", {"text": f"1 cup {CANARY}", "meal": "lunch"}, page="/log")
        assert r.status_code == 303, r.text[:300]
        with app.state.sessions() as db:
            assert CANARY in db.scalar(select(MealEntry.text))  # readable through the app, with the key
    finally:
        app.state.engine.dispose()  # the last connection checkpoints the WAL into the file


def _raw(folder) -> bytes:
    """Every byte of the database and its WAL/shared-memory files."""
    files = sorted(folder.glob("gutaxis.db*"))
    assert any(f.name == "gutaxis.db" for f in files)
    return b"".join(f.read_bytes() for f in files)


def test_an_encrypted_database_holds_no_plaintext_and_refuses_the_wrong_key(tmp_path, monkeypatch):
    from gutaxis.web.app import create_app

    # control: without a key the canary is in the file in plain text (so the grep below can fail)
    plain = _settings(tmp_path, "plain", None)
    _log_canary(plain)
    assert CANARY.encode() in _raw(plain.data_dir)

    enc = _settings(tmp_path, "enc", KEY)
    _log_canary(enc)
    raw = _raw(enc.data_dir)
    assert CANARY.encode() not in raw and CANARY.encode("utf-16-le") not in raw
    assert b"pat@example.org" not in raw and b"meal_entry" not in raw  # nor an e-mail or the schema
    assert not raw.startswith(b"SQLite format 3")

    # the wrong key and no key are refused, with a clear message
    with pytest.raises(GutaxisError, match="wrong database key"):
        create_app(_settings(tmp_path, "enc", "not the key"))
    monkeypatch.delenv("GUTAXIS_DATABASE_KEY", raising=False)
    r = cli("admin", "verify-audit", "--data-dir", enc.data_dir)
    assert r.exit_code != 0 and "file is not a database" in r.output and "GUTAXIS_DATABASE_KEY" in r.output, r.output
    monkeypatch.setenv("GUTAXIS_DATABASE_KEY", "not the key")
    r = cli("admin", "verify-audit", "--data-dir", enc.data_dir)
    assert r.exit_code != 0 and "wrong database key" in r.output, r.output
    assert "not the key" not in r.output

    # the right key opens it again: the app reads the meal, the audit chain verifies
    monkeypatch.setenv("GUTAXIS_DATABASE_KEY", KEY)
    r = cli("admin", "verify-audit", "--data-dir", enc.data_dir)
    assert r.exit_code == 0 and "OK" in r.output, r.output
    app = create_app(_settings(tmp_path, "enc", KEY))
    try:
        b = Browser(app)
        r = b.post_form("/login", {"email": "pat@example.org", "password": "correct horse battery staple"})
        assert r.status_code == 303, r.text[:300]  # the account's password hash was read back
        with app.state.sessions() as db:
            assert db.scalar(select(MealEntry.text)) == f"1 cup {CANARY}"
    finally:
        app.state.engine.dispose()

    # a backup keeps the database encrypted, and restores only with the key
    archive = tmp_path / "enc.tar"
    r = cli("admin", "backup", str(archive), "--data-dir", enc.data_dir)
    assert r.exit_code == 0, r.output
    assert CANARY.encode() not in archive.read_bytes()
    monkeypatch.setenv("GUTAXIS_DATABASE_KEY", "not the key")
    r = cli("admin", "restore", str(archive), "--data-dir", tmp_path / "restored-wrong")
    assert r.exit_code != 0 and "wrong database key" in r.output, r.output
    monkeypatch.setenv("GUTAXIS_DATABASE_KEY", KEY)
    r = cli("admin", "restore", str(archive), "--data-dir", tmp_path / "restored")
    assert r.exit_code == 0, r.output
    assert CANARY.encode() not in _raw(tmp_path / "restored")
    r = cli("admin", "verify-audit", "--data-dir", tmp_path / "restored")
    assert r.exit_code == 0 and "OK" in r.output, r.output
