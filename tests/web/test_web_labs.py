"""Lab results in the app (issue 11, item 3): the person enters CRP, the dietitian enters DAS28; the
same rules as a person.json (units, ranges, DAS28 only with RA); the drafted plan shows them as the
person's own starting point, and a marker not entered as "model patient"."""

from __future__ import annotations

import re

import pytest
from conftest import SHARED
from sqlalchemy import select
from test_web_plans import connect, seed_example

from gutaxis.web.models import AuditEvent, LabResult


def test_values_are_checked_like_a_person_file(app, person):
    r = person.post_form("/labs", {"marker": "crp", "value": "3200"}, page="/labs")
    assert r.status_code == 400 and "check the unit" in r.text
    r = person.post_form("/labs", {"marker": "das28", "value": "5.1"}, page="/labs")  # no RA on the account
    assert r.status_code == 400 and "rheumatoid arthritis score" in r.text
    r = person.post_form("/labs", {"marker": "sledai", "value": "6"}, page="/labs")
    assert r.status_code == 400
    cid = "0d6b1e7a-3c2f-4b8e-9a1d-5e4f3c2b1a09"
    for _ in range(3):
        assert (
            person.post_form(
                "/labs", {"marker": "CRP", "value": "4.2", "measured_on": "2026-11-30", "client_id": cid}, page="/labs"
            ).status_code
            == 303
        )
    with app.state.sessions() as db:
        rows = db.scalars(select(LabResult)).all()
    assert [(r.marker, r.value) for r in rows] == [("crp", 4.2)]
    assert "4.2 mg/L" in person.html("/labs").text


@pytest.mark.skipif(not (SHARED / "data" / "fndds_portions").is_dir(), reason="needs the food data of ../shared")
def test_a_draft_plan_shows_entered_values_as_the_persons_own(app, settings, person, dietitian):
    pid = person.user_id
    seed_example(app, settings, pid, profile=False)  # RA, the example's logs
    connect(person, dietitian)
    assert (
        person.post_form(
            "/labs", {"marker": "crp", "value": "7.5", "measured_on": "2026-11-02"}, page="/labs"
        ).status_code
        == 303
    )
    r = dietitian.post_form(
        f"/clients/{pid}/labs",
        {"marker": "das28", "value": "5.4", "measured_on": "2026-11-02"},
        page=f"/clients/{pid}/labs",
    )
    assert r.status_code == 303
    with app.state.sessions() as db:
        writes = db.scalars(select(AuditEvent).where(AuditEvent.resource == "labs", AuditEvent.action == "write")).all()
    assert len(writes) == 1 and writes[0].actor_id == dietitian.user_id
    r = dietitian.post_form(f"/clients/{pid}/plan/draft", page=f"/clients/{pid}/plan")
    assert r.status_code == 303
    page = dietitian.html(f"/clients/{pid}/plan").text
    vid = re.search(rf"/clients/{pid}/plan/(\d+)", page).group(1)
    draft = dietitian.html(f"/clients/{pid}/plan/{vid}").text
    assert "yours: 7.5 mg/L (measured)" in draft
    assert "yours: 5.4 DAS28 (measured)" in draft
    assert "model patient (not measured)" in draft  # e.g. IL-6, not entered
