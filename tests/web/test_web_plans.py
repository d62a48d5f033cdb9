"""The signed plan: a draft built by the job from the person's records (the shipped example person's
four weeks of meals, stress, symptoms and stool profile), edited, signed, compared; the person sees
signed versions only."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import uuid
from datetime import datetime
from importlib import resources

import pytest
from conftest import SHARED, signup
from sqlalchemy import func, select

from gutaxis.web.models import Job, MealEntry, PlanVersion, StressEntry, SymptomEntry, Upload, User

EXAMPLE = resources.files("gutaxis") / "data" / "example_person"
needs_food_data = pytest.mark.skipif(
    not (SHARED / "data" / "fndds_portions").is_dir(), reason="needs the food data of ../shared"
)


def connect(person, dietitian, scopes=None) -> None:
    """The person accepts an invitation of the dietitian (all scopes unless given)."""
    data = {"choose": "1", "scopes": list(scopes)} if scopes is not None else {}
    r = dietitian.post_form("/invitations", data)
    token = re.search(r"/invite/([A-Za-z0-9_-]{20,})", r.text).group(1)
    assert person.post_form(f"/invite/{token}/accept").status_code == 303


def _uuid() -> str:
    return str(uuid.uuid4())


def seed_example(app, settings, pid: int, *, profile: bool = True) -> dict:
    """The example person's records as the app stores them; returns the counts."""
    meta = json.loads((EXAMPLE / "person.json").read_text())
    with app.state.sessions() as db:
        u = db.get(User, pid)
        u.sex, u.age, u.conditions, u.synthetic = meta["sex"], float(meta["age"]), ",".join(meta["conditions"]), True
        with (EXAMPLE / "meals.csv").open() as fh:
            meals = [
                MealEntry(
                    person_id=pid,
                    client_id=_uuid(),
                    eaten_at=datetime.fromisoformat(r["timestamp"]),
                    meal=r["meal"],
                    text=r["text"],
                    items=[],
                )
                for r in csv.DictReader(fh)
            ]
        with (EXAMPLE / "stress.csv").open() as fh:
            stress = []
            for r in csv.DictReader(fh):
                pss = [int(r[f"pss_{i}"]) for i in range(1, 11)] if r["pss_1"] else None
                stress.append(
                    StressEntry(
                        person_id=pid,
                        client_id=_uuid(),
                        at=datetime.fromisoformat(r["timestamp"]),
                        rating=float(r["rating"]) if r["rating"] else None,
                        pss_items=pss,
                        practice=r["practice"],
                        minutes=float(r["minutes"]) if r["minutes"] else None,
                    )
                )
        symptoms = [
            SymptomEntry(
                person_id=pid,
                client_id=_uuid(),
                at=datetime.fromisoformat(s["timestamp"]),
                onset=datetime.fromisoformat(s["onset"]) if s.get("onset") else None,
                symptom=s.get("symptom", ""),
                rating=s.get("rating"),
                bristol=s.get("bristol"),
                note=s.get("note", ""),
            )
            for s in json.loads((EXAMPLE / "symptoms.json").read_text())
        ]
        db.add_all(meals + stress + symptoms)
        if profile:
            settings.upload_dir.mkdir(parents=True, exist_ok=True)
            with resources.as_file(EXAMPLE / "profile_metaphlan.txt") as src:
                shutil.copyfile(src, settings.upload_dir / "a1b2c3d4.bin")
            db.add(
                Upload(
                    person_id=pid,
                    client_id=_uuid(),
                    filename="profile_metaphlan.txt",
                    stored_name="a1b2c3d4.bin",
                    size=(settings.upload_dir / "a1b2c3d4.bin").stat().st_size,
                    kind="profile",
                    status="done",
                )
            )
        db.commit()
    return {"meals": len(meals), "stress": len(stress), "symptoms": len(symptoms)}


def version(app, vid: int) -> PlanVersion:
    with app.state.sessions() as db:
        return db.get(PlanVersion, vid)


def versions(app, pid: int) -> list[PlanVersion]:
    with app.state.sessions() as db:
        return db.scalars(select(PlanVersion).where(PlanVersion.person_id == pid).order_by(PlanVersion.number)).all()


def expected_hash(pv: PlanVersion) -> str:
    """The signature recomputed here, independently of the app's code."""
    payload = {
        "content": pv.content,
        "number": pv.number,
        "person_id": pv.person_id,
        "signer": pv.signer_name,
        "signed_at": pv.signed_at.isoformat(),
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def edit(b, pid, vid, **form):
    r = b.post_form(f"/clients/{pid}/plan/{vid}/edit", {k: str(v) for k, v in form.items()})
    assert r.status_code == 303, r.text[:400]
    return int(r.headers["location"].rsplit("/", 1)[1])


def ids(pv: PlanVersion) -> list[str]:
    return [it["id"] for it in pv.content["items"]]


# --------------------------------------------------------------------------- records -> Person


@needs_food_data
def test_records_are_read_by_the_cli_readers(app, settings, person):
    from gutaxis.lifestyle.person import example_person
    from gutaxis.web.records import person_from_records

    counts = seed_example(app, settings, person.user_id)
    with app.state.sessions() as db:
        p = person_from_records(
            db, db.get(User, person.user_id), base=settings.data_dir / "tmp", upload_dir=settings.upload_dir
        )
        only_diary = person_from_records(
            db, db.get(User, person.user_id), upload_dir=settings.upload_dir, scopes=["diary", "plan"]
        )
    ref = example_person()
    assert len(p.meals) == counts["meals"] == len(ref.meals)
    assert list(p.meals["text"]) == list(ref.meals["text"])
    assert len(p.stress) == len(ref.stress) and p.stress["pss10"].notna().sum() == ref.stress["pss10"].notna().sum()
    assert len(p.symptoms) == len(ref.symptoms)
    assert p.profile is not None and p.profile.n_obs == 1
    assert (p.sex, p.age, p.conditions, p.synthetic) == ("female", 46.0, ["RA"], True)
    assert only_diary.stress is None and only_diary.symptoms is None and only_diary.profile is None
    assert not list((settings.data_dir / "tmp").iterdir())  # the temporary folder is gone


# --------------------------------------------------------------------------- the full flow


@needs_food_data
def test_full_plan_flow_draft_edit_sign_and_the_persons_view(app, settings, person, dietitian):
    assert settings.plan_draws == 20
    pid = person.user_id
    seed_example(app, settings, pid)
    connect(person, dietitian)

    # a draft, built by the job with the simulation on
    r = dietitian.post_form(f"/clients/{pid}/plan/draft")
    assert r.status_code == 303 and "job=" in r.headers["location"]
    with app.state.sessions() as db:
        job = db.scalar(select(Job).where(Job.kind == "build_plan"))
        assert job.status == "done", job.error
        assert job.requested_by == dietitian.user_id
    (draft,) = versions(app, pid)
    assert (draft.status, draft.number, draft.created_by, draft.sha256) == ("draft", 1, dietitian.user_id, "")
    c = draft.content
    assert len(c["items"]) >= 4 and c["limits"] and "coverage" in c and "entries counted" in c["coverage"]
    assert set(c["items"][0]) >= {"id", "title", "text", "grade", "citation", "why", "target", "cautions"}
    assert all(it["target"] == "" for it in c["items"])
    assert c["effect"]["available"] is True and "20 model patients" in c["effect"]["message"]
    assert "disease_activity" in c["effect"]["summary"]
    assert c["built_from"] == ["diary", "symptoms", "stress", "microbiome"]
    page = dietitian.html(r.headers["location"]).text
    assert "open draft v1" in page

    # the person sees no draft
    mine = person.html("/plan").text
    assert "not signed a plan" in mine and c["items"][0]["title"] not in mine
    assert person.html(f"/plan/{draft.id}").status_code == 404

    # edits: reorder, remove, edit the text, set a target
    edit_page = dietitian.html(f"/clients/{pid}/plan/{draft.id}").text
    assert "Move up" in edit_page and "Sign v1" in edit_page
    order = ids(draft)
    assert edit(dietitian, pid, draft.id, op="up", item=order[1], pos=1) == draft.id
    assert ids(version(app, draft.id))[:2] == [order[1], order[0]]
    edit(dietitian, pid, draft.id, op="up", item=order[1], pos=1)  # the same submit again: moved once only
    assert ids(version(app, draft.id))[:2] == [order[1], order[0]]
    removed = version(app, draft.id).content["items"][2]
    edit(dietitian, pid, draft.id, op="remove", item=removed["id"])
    assert removed["id"] not in ids(version(app, draft.id))
    first = ids(version(app, draft.id))[0]
    edit(dietitian, pid, draft.id, op="text", item=first, text="Add a handful of oats to breakfast, every day.")
    edit(dietitian, pid, draft.id, op="target", item=first, target="25 g fiber a day by the end of April")
    pv = version(app, draft.id)
    assert pv.content["items"][0]["text"] == "Add a handful of oats to breakfast, every day."
    assert pv.content["items"][0]["target"] == "25 g fiber a day by the end of April"
    assert len(pv.content["items"]) == len(order) - 1 and pv.status == "draft"

    # sign: signer and time from the session, never the form
    r = dietitian.post_form(
        f"/clients/{pid}/plan/{draft.id}/sign",
        {"signer_name": "Mallory", "signed_by": "1", "sha256": "0" * 64, "status": "draft"},
    )
    assert r.status_code == 303
    signed = version(app, draft.id)
    assert signed.status == "signed" and signed.signed_by == dietitian.user_id and signed.signer_name == "dee"
    assert signed.signed_at is not None and signed.sha256 == expected_hash(signed)
    assert signed.content == pv.content
    assert dietitian.post_form(f"/clients/{pid}/plan/{draft.id}/sign").status_code == 409
    assert "Unchanged since signing" in dietitian.html(f"/clients/{pid}/plan/{draft.id}").text

    # an edit of the signed version makes a new draft; the signed one never changes
    new_id = edit(dietitian, pid, draft.id, op="text", item=first, text="Oats or barley at breakfast.")
    assert new_id != draft.id
    assert version(app, draft.id).content == signed.content
    assert version(app, draft.id).sha256 == expected_hash(version(app, draft.id)) == signed.sha256
    new = version(app, new_id)
    assert (new.status, new.parent_id, new.number) == ("draft", draft.id, 2)
    assert new.content["items"][0]["text"] == "Oats or barley at breakfast."
    edit(dietitian, pid, draft.id, op="text", item=first, text="Oats or barley at breakfast.")  # repeated submit
    assert len(versions(app, pid)) == 2
    second_removed = new.content["items"][-1]
    edit(dietitian, pid, new_id, op="remove", item=second_removed["id"])

    # the person sees the signed version with its effect and the shared annotation, never the draft
    dietitian.post_form(
        f"/clients/{pid}/notes",
        {"text": "Start with the oats; we talk again in 4 weeks.", "shared": "on", "target": f"plan:{draft.id}"},
    )
    dietitian.post_form(f"/clients/{pid}/notes", {"text": "PRIVATE watch weight loss", "target": f"plan:{draft.id}"})
    mine = person.html("/plan").text
    assert "Add a handful of oats to breakfast, every day." in mine
    assert "25 g fiber a day by the end of April" in mine
    assert "Oats or barley at breakfast." not in mine
    assert "Simulated effect" in mine and "Disease activity" in mine and signed.sha256 in mine
    assert "Start with the oats" in mine and "PRIVATE watch weight loss" not in mine
    assert removed["title"] not in mine.split("Simulated effect")[0]
    assert person.html(f"/plan/{draft.id}").status_code == 200
    assert person.html(f"/plan/{new_id}").status_code == 404

    # compare: the removed item, the changed text, the order change
    page = dietitian.html(f"/clients/{pid}/plan/compare?a={draft.id}&b={new_id}").text
    removed_part = page.split("<h2>Removed</h2>", 1)[1].split("</ul>", 1)[0]
    assert second_removed["title"] in removed_part
    assert "Oats or barley at breakfast." in page and "<del>Add a handful of oats" in page
    assert "Added" not in page
    from gutaxis.web.routes.plans import compare_versions

    diff = compare_versions(c, signed.content)  # the draft as built against the signed version
    assert [it["id"] for it in diff["removed"]] == [removed["id"]]
    assert {m["id"] for m in diff["moved"]} >= {order[0], order[1]}
    assert [ch["id"] for ch in diff["changed"]] == [first]

    # sign the new draft: the person now sees v2 first and both in the list
    assert dietitian.post_form(f"/clients/{pid}/plan/{new_id}/sign").status_code == 303
    mine = person.html("/plan").text
    assert "Oats or barley at breakfast." in mine and f'href="/plan/{draft.id}"' in mine
    v2 = version(app, new_id)
    assert v2.sha256 == expected_hash(v2) and v2.sha256 != signed.sha256
    assert "Version 2" in mine


# --------------------------------------------------------------------------- refusals


def test_draft_job_needs_the_diary(app, settings, person, dietitian):
    pid = person.user_id
    connect(person, dietitian, ["plan"])
    r = dietitian.post_form(f"/clients/{pid}/plan/draft")
    assert r.status_code == 303
    with app.state.sessions() as db:
        job = db.scalar(select(Job))
        assert job.status == "failed" and "diary is not shared" in job.error
        assert db.scalar(select(func.count(PlanVersion.id))) == 0
    page = dietitian.html(r.headers["location"]).text
    assert "diary is not shared" in page


def test_draft_job_without_meals_says_so(app, person, dietitian):
    pid = person.user_id
    connect(person, dietitian)
    r = dietitian.post_form(f"/clients/{pid}/plan/draft")
    with app.state.sessions() as db:
        job = db.scalar(select(Job))
        assert job.status == "failed" and "no meals logged yet" in job.error
        assert "/tmp" not in job.error and str(app.state.settings.data_dir) not in job.error
    assert r.status_code == 303


def test_a_repeated_draft_submit_starts_one_job(app, person, dietitian):
    pid = person.user_id
    connect(person, dietitian)
    cid = str(uuid.uuid4())
    dietitian.post_form(f"/clients/{pid}/plan/draft", {"client_id": cid})
    dietitian.post_form(f"/clients/{pid}/plan/draft", {"client_id": cid})
    with app.state.sessions() as db:
        assert db.scalar(select(func.count(Job.id))) == 1


def _manual_draft(app, pid, items=("a", "b", "c")) -> int:
    content = {
        "items": [
            {
                "id": i,
                "title": f"Item {i}",
                "text": f"Text {i}",
                "grade": "B",
                "citation": "x",
                "why": "y",
                "target": "",
                "cautions": [],
            }
            for i in items
        ],
        "limits": [],
        "withheld": [],
        "not_evaluated": [],
        "notes": [],
        "effect": {"available": False, "message": "simulated effect not available"},
        "coverage": "",
    }
    with app.state.sessions() as db:
        pv = PlanVersion(person_id=pid, number=1, status="draft", content=content)
        db.add(pv)
        db.commit()
        return pv.id


def test_plan_routes_are_scoped_to_the_person(app, person, dietitian):
    pid = person.user_id
    connect(person, dietitian)
    other = signup(app, "sam@example.org")
    connect(other, dietitian)
    vid = _manual_draft(app, other.user_id)
    # a version of another client, reached through this client's id
    assert dietitian.html(f"/clients/{pid}/plan/{vid}").status_code == 404
    assert dietitian.post_form(f"/clients/{pid}/plan/{vid}/edit", {"op": "remove", "item": "a"}).status_code == 404
    assert dietitian.post_form(f"/clients/{pid}/plan/{vid}/sign").status_code == 404
    assert dietitian.html(f"/clients/{pid}/plan/compare?a={vid}&b={vid}").status_code == 404
    assert version(app, vid).status == "draft" and ids(version(app, vid)) == ["a", "b", "c"]
    # the other person cannot see a draft of theirs, nor anyone's signed plan
    assert other.html(f"/plan/{vid}").status_code == 404
    dietitian.post_form(f"/clients/{other.user_id}/plan/{vid}/sign")
    assert other.html(f"/plan/{vid}").status_code == 200
    assert person.html(f"/plan/{vid}").status_code == 404


def test_edit_ops_are_validated(app, person, dietitian):
    pid = person.user_id
    connect(person, dietitian)
    vid = _manual_draft(app, pid)
    base = f"/clients/{pid}/plan/{vid}/edit"
    assert dietitian.post_form(base, {"op": "delete-everything"}).status_code == 400
    assert dietitian.post_form(base, {"op": "text", "item": "a", "text": "   "}).status_code == 400
    assert dietitian.post_form(base, {"op": "target", "item": "zz", "target": "x"}).status_code == 409
    assert dietitian.post_form(base, {"op": "down", "item": "c", "pos": "2"}).status_code == 303  # last: stays
    assert ids(version(app, vid)) == ["a", "b", "c"]
    dietitian.post_form(base, {"op": "down", "item": "a", "pos": "0"})
    assert ids(version(app, vid)) == ["b", "a", "c"]
    r = dietitian.post_form(base, {"op": "text", "item": "a", "text": "<script>alert(1)</script>"})
    assert r.status_code == 303
    page = dietitian.html(f"/clients/{pid}/plan/{vid}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_imported_sr28_numbers_and_grams_reach_the_meal_log(app, settings, person):
    from gutaxis.web.records import person_folder

    pid = person.user_id
    with app.state.sessions() as db:
        db.add_all(
            [
                MealEntry(
                    person_id=pid,
                    client_id=_uuid(),
                    eaten_at=datetime(2024, 3, 4, 7, 30),
                    meal="breakfast",
                    text="a banana",
                    items=[],
                    source="import",
                    nutrients={"ndb_no": "09040", "grams": 118},
                ),
                MealEntry(
                    person_id=pid,
                    client_id=_uuid(),
                    eaten_at=datetime(2024, 3, 4, 12, 0),
                    meal="brunch",
                    text="soup,\nwith bread",
                    items=[],
                    nutrients={"ndb_no": "11111"},
                ),
            ]
        )
        db.commit()
        with person_folder(db, db.get(User, pid)) as (folder, counts):
            rows = list(csv.DictReader((folder / "meals.csv").open()))
            meta = json.loads((folder / "person.json").read_text())
    assert counts == {"meals": 2}
    assert rows[0] == {
        "timestamp": "2024-03-04T07:30:00",
        "meal": "breakfast",
        "text": "a banana",
        "ndb_no": "09040",
        "grams": "118",
    }
    assert rows[1] == {
        "timestamp": "2024-03-04T12:00:00",
        "meal": "",
        "text": "soup, with bread",
        "ndb_no": "",
        "grams": "",
    }  # no grams: no SR28 number; an unknown slot is left empty
    assert meta["files"] == {"meals": "meals.csv"}
