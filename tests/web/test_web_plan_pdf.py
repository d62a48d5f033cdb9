"""The export ZIP holds each signed plan version as a PDF (issue 16: "the plan PDFs"), read back here
with ``pdftotext`` (poppler-utils): the goals, targets, signer, seal and retention note are text in it."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from conftest import signup
from test_web_rights import EMAIL, NAME, _export, _seed

from gutaxis.web.models import PlanVersion


def _pdftotext(data: bytes, tmp_path, name: str) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        msg = "pdftotext not found (Debian package poppler-utils)"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(msg + " (CI installs it)", pytrace=False)
        pytest.skip(msg)
    path = tmp_path / name
    path.write_bytes(data)
    r = subprocess.run([exe, "-layout", str(path), "-"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_the_export_has_a_pdf_of_each_signed_plan_with_its_goals(app, settings, tmp_path):
    person = signup(app, EMAIL, name=NAME)
    d = signup(app, "dee@example.org", role="dietitian")
    _seed(app, settings, person.user_id, d.user_id)
    with app.state.sessions() as db:
        from sqlalchemy import select

        seals = dict(
            db.execute(
                select(PlanVersion.number, PlanVersion.sha256).where(PlanVersion.person_id == person.user_id)
            ).all()
        )
    zf = _export(person)
    names = set(zf.namelist())
    assert {"plans/plan_v1.pdf", "plans/plan_v2.pdf"} <= names
    assert "plans/plan_v3.pdf" not in names  # the unsigned draft is not exported
    for n in (1, 2):
        data = zf.read(f"plans/plan_v{n}.pdf")
        assert data.startswith(b"%PDF-")
        text = _pdftotext(data, tmp_path, f"v{n}.pdf")
        flat = " ".join(text.split())
        assert f"Plan version {n}" in flat
        assert "1. More fibre" in flat and "=beans daily" in flat and "Target: 30 g" in flat
        assert "Signed by Dee Dietitian on 2024-03-05 10:0" in flat
        assert seals[n] and seals[n] in flat.replace(" ", "")  # the seal, whole
        assert "Not medical advice." in flat
        held = "where the law requires it" in flat
        assert held == (n == 1), f"v{n}: the legal-hold note belongs to version 1 only"
