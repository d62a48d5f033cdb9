"""Diary patterns in the app: the SYNTHETIC example person's four weeks, stored as entries, give the
pattern planted in it (bloating 2.5 points higher 12-24 h after cheddar cheese; see
gutaxis/data/example_person/README.md), and the same result as `gutaxis insights` on the files."""

from __future__ import annotations

import pytest
from conftest import SHARED
from sqlalchemy import select

from gutaxis.web.models import Job, User

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (food tables) is not beside this checkout")


def _seed(app, person):
    from gutaxis.web.demo import _seed_logs

    with app.state.sessions() as db:
        _seed_logs(db, app.state.settings, db.get(User, person.user_id), days_ago=1, keep_days=28)
        db.commit()


def test_too_few_days_says_so_and_offers_nothing(app, person):
    page = person.html("/patterns").text
    assert "Not enough data yet: symptoms were rated on 0 days" in page
    assert 'action="/patterns"' not in page


def test_the_planted_cheddar_bloating_pattern_is_found(app, person):
    _seed(app, person)
    cid = "5b0e3c1e-8d4c-4a7e-9a55-2d6f3f1a9c01"
    for _ in range(2):  # a retried submit runs the job once
        r = person.post_form("/patterns", {"client_id": cid}, page="/patterns")
        assert r.status_code == 303
    with app.state.sessions() as db:
        done = db.scalars(select(Job).where(Job.kind == "patterns")).all()
    assert len(done) == 1 and done[0].status == "done", [(j.status, j.error) for j in done]
    page = person.html("/patterns").text
    findings = done[0].result["findings"]
    assert any("cheddar" in f.lower() and "bloating" in f.lower() for f in findings), findings
    assert "cheddar" in page.lower() and 'id="patterns-findings"' in page


def test_the_app_and_the_cli_path_agree(app, person, tmp_path):
    """The stored entries (frames.py) give the same tests as the example's files read by the CLI's readers."""
    import warnings

    from gutaxis.lifestyle import read_meal_log, read_stress_log, read_symptom_log
    from gutaxis.lifestyle.insights import factor_events, n_of_1, symptom_observations
    from gutaxis.web import food

    _seed(app, person)
    person.post_form("/patterns", {}, page="/patterns")
    with app.state.sessions() as db:
        job = db.scalar(select(Job).where(Job.kind == "patterns"))
    from importlib import resources

    ex = resources.files("gutaxis") / "data" / "example_person"
    meals = read_meal_log(ex / "meals.csv")
    meals = meals.drop(columns=["ndb_no", "grams"]).assign(
        ndb_no=None, grams=float("nan")
    )  # typed text only, as seeded
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        items = food.resolve(app.state.settings, meals)
        res = n_of_1(
            factor_events(items, read_stress_log(ex / "stress.csv")),
            symptom_observations(read_symptom_log(ex / "symptoms.json")),
        )
    assert job.result["tests"] == len(res.table)
    assert sorted(job.result["findings"]) == sorted(res.findings)
