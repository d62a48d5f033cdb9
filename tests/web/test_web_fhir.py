"""FHIR R4B (issue 16, item 3): a person's records as a Bundle and NDJSON that ``fhir.resources``
parses back, our own value-set checks (a wrong code, unit or status is refused even where the
library lets it pass), and CRP / faecal calprotectin imported from a Bundle into the lab results
that the personal twin reads as measured markers."""

from __future__ import annotations

import io
import json
import uuid
from datetime import datetime

import pytest
from sqlalchemy import select

from gutaxis.web import fhir
from gutaxis.web.models import (
    Consent,
    LabResult,
    MealEntry,
    PlanVersion,
    StressEntry,
    SymptomEntry,
    Upload,
    User,
)


def _seed(app, pid: int, did: int | None = None, *, upload_dir=None) -> None:
    """One of every record kind for ``pid`` (a signed plan and a consent when ``did`` is given)."""
    from gutaxis.web.routes.plans import plan_hash

    t = datetime(2024, 3, 4, 8, 30)
    with app.state.sessions() as db:
        rows = [
            MealEntry(
                person_id=pid, client_id=str(uuid.uuid4()), eaten_at=t, meal="breakfast", text="1 cup kimchi", items=[]
            ),
            SymptomEntry(
                person_id=pid,
                client_id=str(uuid.uuid4()),
                at=t,
                onset=t,
                symptom="bloating",
                rating=6.0,
                bristol=6,
                note="after lunch",
            ),
            # answers as ticked; items 4, 5, 7, 8 are reverse-scored: 6 x 4 + 4 x (4 - 0) = 40
            StressEntry(
                person_id=pid,
                client_id=str(uuid.uuid4()),
                at=t,
                pss_items=[4, 4, 4, 0, 0, 4, 0, 0, 4, 4],
                pss_total=40.0,
            ),
            StressEntry(person_id=pid, client_id=str(uuid.uuid4()), at=t, rating=3.0, practice="yoga", minutes=20.0),
            LabResult(
                person_id=pid, client_id=str(uuid.uuid4()), marker="crp", value=3.2, measured_on=datetime(2024, 3, 1)
            ),
            LabResult(
                person_id=pid,
                client_id=str(uuid.uuid4()),
                marker="calprotectin",
                value=80.0,
                measured_on=datetime(2024, 3, 1),
            ),
            LabResult(
                person_id=pid, client_id=str(uuid.uuid4()), marker="il6", value=2.5, measured_on=datetime(2024, 3, 1)
            ),
        ]
        if upload_dir is not None:
            upload_dir.mkdir(parents=True, exist_ok=True)
            (upload_dir / "stored-profile").write_bytes(b"#SampleID\tx\nk__Bacteria\t100\n")
            rows.append(
                Upload(
                    person_id=pid,
                    client_id=str(uuid.uuid4()),
                    filename="profile.txt",
                    stored_name="stored-profile",
                    size=30,
                    kind="profile",
                    status="done",
                    result={},
                )
            )
        db.add_all(rows)
        if did is not None:
            db.add(Consent(person_id=pid, dietitian_id=did, scopes="diary,plan"))
            pv = PlanVersion(
                person_id=pid,
                number=1,
                status="signed",
                content={
                    "items": [
                        {"id": "fibre", "title": "More fibre", "text": "Add a portion of beans", "target": "30 g a day"}
                    ]
                },
                signer_name="Dee Dietitian",
                signed_at=datetime(2024, 3, 5, 10, 0),
                signed_by=did,
            )
            pv.sha256 = plan_hash(pv)
            db.add(pv)
        db.commit()


def _bundle(app, pid, upload_dir=None) -> dict:
    with app.state.sessions() as db:
        return fhir.person_bundle(db, db.get(User, pid), upload_dir)


def _by_type(bundle: dict, rtype: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def test_the_bundle_parses_with_fhir_resources_and_carries_our_codes(app, settings, person, dietitian):
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    _seed(app, person.user_id, dietitian.user_id, upload_dir=settings.upload_dir)
    bundle = _bundle(app, person.user_id, settings.upload_dir)
    text = json.dumps(bundle)
    parsed = Bundle.model_validate_json(text)  # structural validation of the JSON we emit
    assert parsed.type == "collection"
    for e in json.loads(text)["entry"]:
        res = e["resource"]
        get_fhir_model_class(res["resourceType"]).model_validate(res)
        assert fhir.value_set_problems(res) == []
    types = sorted({e["resource"]["resourceType"] for e in bundle["entry"]})
    assert types == [
        "CarePlan",
        "Consent",
        "DiagnosticReport",
        "DocumentReference",
        "Goal",
        "Observation",
        "Patient",
        "Provenance",
        "QuestionnaireResponse",
    ]
    obs = _by_type(bundle, "Observation")

    def coded(system, code):
        return [o for o in obs if any(c["system"] == system and c["code"] == code for c in o["code"].get("coding", []))]

    pss = coded("http://loinc.org", "106860-0")
    assert len(pss) == 1 and pss[0]["valueQuantity"]["value"] == 40.0
    assert pss[0]["valueQuantity"]["code"] == "{score}"
    qr = _by_type(bundle, "QuestionnaireResponse")[0]
    assert qr["questionnaire"] == "http://loinc.org/q/106875-8"
    assert [i["answer"][0]["valueInteger"] for i in qr["item"]] == [4, 4, 4, 0, 0, 4, 0, 0, 4, 4]
    qr_url = next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is qr)
    assert pss[0]["derivedFrom"] == [{"reference": qr_url}]
    bristol = coded("http://snomed.info/sct", "443172007")
    assert len(bristol) == 1 and bristol[0]["valueInteger"] == 6
    crp = coded("http://loinc.org", "1988-5")
    assert crp[0]["valueQuantity"] == {
        "value": 3.2,
        "unit": "mg/L",
        "system": "http://unitsofmeasure.org",
        "code": "mg/L",
    }
    assert crp[0]["effectiveDateTime"] == "2024-03-01"
    cal = coded("http://loinc.org", "38445-3")
    assert cal[0]["valueQuantity"]["code"] == "ug/g" and cal[0]["valueQuantity"]["value"] == 80.0
    il6 = [o for o in obs if o["code"].get("text", "").startswith("il6")]
    assert il6 and "coding" not in il6[0]["code"]  # no code emitted that was not checked
    meal = [o for o in obs if o.get("valueString") == "1 cup kimchi"]
    assert meal and "coding" not in meal[0]["code"]
    symptom = [o for o in obs if o["code"].get("text") == "bloating"]
    assert symptom[0]["valueQuantity"]["value"] == 6.0 and symptom[0]["note"] == [{"text": "after lunch"}]
    plan = _by_type(bundle, "CarePlan")[0]
    assert plan["status"] == "active" and plan["intent"] == "plan"
    goal = _by_type(bundle, "Goal")[0]
    assert goal["description"]["text"] == "More fibre: 30 g a day"
    prov = _by_type(bundle, "Provenance")[0]
    plan_url = next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is plan)
    assert prov["target"] == [{"reference": plan_url}]
    assert prov["recorded"].startswith("2024-03-05T10:00:00")
    with app.state.sessions() as db:
        seal = db.scalar(select(PlanVersion.sha256))
    import base64

    assert base64.b64decode(prov["signature"][0]["data"]).decode() == f"sha256:{seal}"
    consent = _by_type(bundle, "Consent")[0]
    assert consent["status"] == "active"
    assert [c["text"] for c in consent["provision"]["code"]] == ["diary", "plan"]
    doc = _by_type(bundle, "DocumentReference")[0]
    import hashlib

    sha1 = base64.b64encode(hashlib.sha1(b"#SampleID\tx\nk__Bacteria\t100\n").digest()).decode()
    assert doc["content"][0]["attachment"]["hash"] == sha1 and doc["content"][0]["attachment"]["title"] == "profile.txt"


def test_ndjson_has_one_resource_per_line(app, person):
    _seed(app, person.user_id)
    bundle = _bundle(app, person.user_id)
    lines = fhir.ndjson(bundle).splitlines()
    assert len(lines) == len(bundle["entry"])
    assert [json.loads(x) for x in lines] == [e["resource"] for e in bundle["entry"]]


def _crp(value=3.2, unit="mg/L", code="1988-5", status="final", system="http://loinc.org") -> dict:
    return {
        "resourceType": "Observation",
        "id": "crp-1",
        "status": status,
        "code": {"coding": [{"system": system, "code": code}]},
        "effectiveDateTime": "2024-03-01",
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def test_our_value_sets_refuse_what_the_library_lets_pass(app):
    from fhir.resources.R4B.observation import Observation

    assert fhir.validate(_crp())["code"]["coding"][0]["code"] == "1988-5"
    cases = {
        "unit": (_crp(unit="mg/dL"), "must be in mg/L"),
        "code": (_crp(code="2345-7"), "http://loinc.org|2345-7 is not in our value sets"),
        "status": (_crp(status="done"), "Observation.status 'done'"),
        "hs-CRP": (_crp(code="30522-7"), "30522-7 is not in our value sets"),
    }
    for label, (res, message) in cases.items():
        Observation.model_validate(res)  # structurally fine: the library does not check terminology
        with pytest.raises(fhir.FhirRefused) as err:
            fhir.validate(res)
        assert message in str(err.value), label
    bristol = {
        "resourceType": "Observation",
        "id": "b",
        "status": "final",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "443172007"}]},
        "valueQuantity": {"value": 4, "unit": "{score}", "system": "http://unitsofmeasure.org", "code": "{score}"},
    }
    with pytest.raises(fhir.FhirRefused, match="takes a valueInteger"):
        fhir.validate(bristol)
    with pytest.raises(fhir.FhirRefused, match="effectiveDateTime"):  # structural: a time without an offset
        fhir.validate({**_crp(), "effectiveDateTime": "2024-03-01T08:00:00"})


def test_every_code_in_the_table_names_its_source():
    vs = fhir.valuesets()
    assert vs["observations"]["pss10_total"]["code"] == "106860-0"
    assert vs["observations"]["bristol"]["code"] == "443172007"
    assert (vs["observations"]["crp"]["code"], vs["observations"]["crp"]["unit"]) == ("1988-5", "mg/L")
    assert (vs["observations"]["calprotectin"]["code"], vs["observations"]["calprotectin"]["unit"]) == (
        "38445-3",
        "ug/g",
    )
    for group in ("observations", "questionnaires", "units", "other_codings"):
        for key, spec in vs[group].items():
            assert spec["source"].startswith(("https://", "http://")), (group, key)


def _lab_bundle(*observations) -> bytes:
    entries = [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": o} for o in observations]
    entries.insert(0, {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": {"resourceType": "Patient", "id": "p"}})
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}).encode()


def _post_bundle(person, data: bytes):
    return person.post_form(
        "/labs/fhir", page="/account/data", files={"file": ("labs.json", io.BytesIO(data), "application/fhir+json")}
    )


def test_crp_from_a_bundle_joins_the_lab_results_the_twin_reads(app, settings, person):
    from gutaxis.web.records import person_from_records

    pid = person.user_id
    assert (
        person.post_form("/log/meal", {"text": "1 cup kimchi", "eaten_at": "2024-03-04T08:00"}, page="/log").status_code
        == 303
    )
    cal = {**_crp(150.0, "ug/g", "38445-3"), "id": "cal-1", "effectiveDateTime": "2024-02-20T09:15:00+01:00"}
    data = _lab_bundle(_crp(12.5), cal)
    r = _post_bundle(person, data)
    assert r.status_code == 303 and r.headers["location"] == "/account/data?imported=2#fhir"
    assert _post_bundle(person, data).headers["location"] == "/account/data?imported=0#fhir"  # sent again: stored once
    with app.state.sessions() as db:
        rows = db.scalars(select(LabResult).where(LabResult.person_id == pid).order_by(LabResult.marker)).all()
        assert [(x.marker, x.value, x.entered_by) for x in rows] == [("calprotectin", 150.0, pid), ("crp", 12.5, pid)]
        assert rows[1].measured_on == datetime(2024, 3, 1)
        p = person_from_records(db, db.get(User, pid), base=settings.data_dir / "tmp")
    assert p.markers == {"calprotectin": 150.0, "crp": 12.5}
    assert "12.5 mg/L" in person.html("/labs").text


def test_a_wrong_code_or_unit_names_the_entry_and_imports_nothing(app, person):
    bad_unit = {**_crp(1.2, "mg/dL"), "id": "crp-dl"}
    other = {**_crp(140.0, "g/L", "718-7"), "id": "hb"}
    r = _post_bundle(person, _lab_bundle(_crp(4.0), bad_unit, other))
    assert r.status_code == 400
    assert "entry 3 (Observation/crp-dl): unit http://unitsofmeasure.org|mg/dL is wrong" in r.text
    assert "entry 4 (Observation/hb): code http://loinc.org|718-7 is not CRP" in r.text
    assert "nothing was imported" in r.text
    with app.state.sessions() as db:
        assert db.scalars(select(LabResult)).all() == []
    r = _post_bundle(person, b"{not json")
    assert r.status_code == 400 and "is not JSON" in r.text
    r = _post_bundle(
        person,
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": {"resourceType": "Observation", "status": "final"}}],
            }
        ).encode(),
    )
    assert r.status_code == 400 and "not a valid FHIR R4B Bundle" in r.text  # code is required
    future = {**_crp(), "effectiveDateTime": "2999-01-01"}
    r = _post_bundle(person, _lab_bundle(future))
    assert r.status_code == 400 and "in the future" in r.text
    r = _post_bundle(person, _lab_bundle({**_crp(3200.0)}))
    assert r.status_code == 400 and "outside the possible" in r.text
