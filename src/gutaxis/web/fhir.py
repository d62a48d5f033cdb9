"""FHIR R4B resources of a person's records (``fhir.resources``), checked against our own value sets.

What each record becomes (codes and units come from ``gutaxis/data/fhir_valuesets.json``, each with
its source; nothing else is emitted):

=====================  ===========================================================================
PSS-10                 QuestionnaireResponse (questionnaire ``http://loinc.org/q/106875-8``; items
                       ``1``..``10`` with the answer as ticked, 0 = never .. 4 = very often) and an
                       Observation: LOINC 106860-0, ``valueQuantity`` in UCUM ``{score}``, derived
                       from the QuestionnaireResponse
Bristol stool type     Observation: SNOMED CT 443172007, ``valueInteger`` 1-7 (LOINC has no code)
CRP                    Observation ``laboratory``: LOINC 1988-5, UCUM ``mg/L``
faecal calprotectin    Observation ``laboratory``: LOINC 38445-3, UCUM ``ug/g``
IL-6, LBP, DAS28       Observation ``laboratory`` with ``code.text`` only (no code is emitted that
                       was not checked), UCUM ``pg/mL``, ``ug/mL``, ``{DAS28}``
symptom rating         Observation ``survey`` with ``code.text`` = the symptom's name (no code:
                       a local name), ``valueQuantity`` 0-10 ``{score}``, effective = onset
daily stress, practice Observation ``survey``, ``code.text`` only; ``{score}`` or ``min``
meal                   Observation ``survey``, ``code.text`` "Meal as logged" and ``valueString``
                       = the person's words (R4B has no NutritionIntake; no code)
signed plan            CarePlan (``active``, intent ``plan``) + one Goal per item + a Provenance
                       at sign-off (signer, time, ``signature.data`` = the version's sha256 seal;
                       a hash, not a cryptographic signature)
consent                Consent (scope ``patient-privacy``, category LOINC 59284-0, provision
                       ``permit`` for the dietitian over the shared scopes)
upload                 DocumentReference (file name, size, SHA-1) and, when read, a
                       DiagnosticReport of the gut profile
=====================  ===========================================================================

Times: the app keeps what people log as local wall-clock time (the server's clock); FHIR wants an
offset with every time, so the server's offset is attached. Stored UTC times get ``+00:00``.

The value sets and the checks against them (:func:`valuesets`, :func:`value_set_problems`,
:func:`validate`, :class:`FhirRefused`) live in :mod:`gutaxis.web.fhir_valuesets`, and the import of
lab Observations (CRP, faecal calprotectin) from a FHIR Bundle (:func:`read_lab_bundle`,
:class:`LabValue`) in :mod:`gutaxis.web.fhir_labs`; all are importable from here as before.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import overload

from .fhir_labs import LabValue, read_lab_bundle
from .fhir_valuesets import FhirRefused, validate, value_set_problems, valuesets

__all__ = [
    "FhirRefused",
    "LabValue",
    "ndjson",
    "observation_lab",
    "person_bundle",
    "read_lab_bundle",
    "validate",
    "value_set_problems",
    "valuesets",
]

_NS = uuid.UUID("1b0c8a52-1f0e-4c53-9d1e-6d3b2f8a7c11")
_LOINC, _SNOMED = "http://loinc.org", "http://snomed.info/sct"
_OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"


# --------------------------------------------------------------------------- building blocks
@overload
def _local(dt: datetime) -> str: ...
@overload
def _local(dt: None) -> None: ...
def _local(dt: datetime | None) -> str | None:
    """A wall-clock time as logged, with the server's offset."""
    if dt is None:
        return None
    return dt.replace(microsecond=0).astimezone().isoformat()


def _utc(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.replace(microsecond=0, tzinfo=UTC).isoformat()


def _day_or_time(dt: datetime) -> str:
    return dt.date().isoformat() if dt.time() == datetime.min.time() else _local(dt)


def _ref(kind: str, key) -> str:
    return f"urn:uuid:{uuid.uuid5(_NS, f'{kind}:{key}')}"


def _id(kind: str, key) -> str:
    return f"{kind}-{key}"


def _coding(spec: dict) -> dict:
    return {"system": spec["system"], "code": spec["code"], "display": spec["display"]}


def _category(code: str) -> list[dict]:
    return [{"coding": [{"system": _OBS_CAT, "code": code}]}]


def _qty(value: float, unit: str) -> dict:
    vs = valuesets()
    return {"value": float(value), "unit": vs["units"][unit]["display"], "system": vs["ucum_system"], "code": unit}


def _obs(oid: str, patient: str, *, code: dict, category: str, when: str | None, **value) -> dict:
    res = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": _category(category),
        "code": code,
        "subject": {"reference": patient},
    }
    if when:
        res["effectiveDateTime"] = when
    res.update(value)
    return res


def observation_lab(oid: str, patient: str, marker: str, value: float, measured_on: datetime) -> dict:
    """A lab Observation of ``marker`` (coded for CRP and calprotectin, text for the others)."""
    from ..lifestyle.person import MARKERS

    vs = valuesets()
    spec = next((s for s in vs["observations"].values() if s.get("marker") == marker), None)
    code = (
        {"coding": [_coding(spec)], "text": spec["display"]} if spec else {"text": f"{marker} ({MARKERS[marker][0]})"}
    )
    return _obs(
        oid,
        patient,
        code=code,
        category="laboratory",
        when=_day_or_time(measured_on),
        valueQuantity=_qty(value, vs["marker_units"][marker]),
    )


# --------------------------------------------------------------------------- a person's records
def _resources(db, user, upload_dir: Path | None) -> list[tuple[str, dict]]:
    """(fullUrl, resource JSON) of everything the person logged, shared, uploaded and was signed."""
    from sqlalchemy import select

    from ..lifestyle.stress import pss10_questions
    from .models import (
        Consent,
        LabResult,
        MealEntry,
        PlanVersion,
        StressEntry,
        SymptomEntry,
        Upload,
        User,
    )

    vs = valuesets()
    obs = vs["observations"]
    pid = user.id
    patient = _ref("patient", pid)
    out: list[tuple[str, dict]] = []
    pat = {
        "resourceType": "Patient",
        "id": _id("patient", pid),
        "active": True,
        "telecom": [{"system": "email", "value": user.email}],
    }
    if user.name:
        pat["name"] = [{"text": user.name}]
    if user.sex in ("female", "male"):
        pat["gender"] = user.sex
    out.append((patient, pat))

    def add(kind: str, key, res: dict) -> str:
        ref = _ref(kind, key)
        out.append((ref, res))
        return ref

    def rows(model, order):
        return db.scalars(select(model).where(model.person_id == pid).order_by(order, model.id)).all()

    for m in rows(MealEntry, MealEntry.eaten_at):
        res = _obs(
            _id("meal", m.id),
            patient,
            code={"text": "Meal as logged"},
            category="survey",
            when=_local(m.eaten_at),
            valueString=m.text,
        )
        if m.meal:
            res["note"] = [{"text": f"meal slot: {m.meal}"}]
        add("meal", m.id, res)
    for s in rows(SymptomEntry, SymptomEntry.at):
        when = _local(s.onset or s.at)
        if s.symptom and s.rating is not None:
            res = _obs(
                _id("symptom", s.id),
                patient,
                code={"text": s.symptom},
                category="survey",
                when=when,
                valueQuantity=_qty(s.rating, "{score}"),
            )
            if s.note:
                res["note"] = [{"text": s.note}]
            add("symptom", s.id, res)
        if s.bristol is not None:
            add(
                "bristol",
                s.id,
                _obs(
                    _id("bristol", s.id),
                    patient,
                    code={"coding": [_coding(obs["bristol"])]},
                    category="survey",
                    when=when,
                    valueInteger=int(s.bristol),
                ),
            )
    questions = pss10_questions()
    for s in rows(StressEntry, StressEntry.at):
        when = _local(s.at)
        if s.rating is not None:
            add(
                "stress",
                s.id,
                _obs(
                    _id("stress", s.id),
                    patient,
                    code={"text": "Stress today (0-10)"},
                    category="survey",
                    when=when,
                    valueQuantity=_qty(s.rating, "{score}"),
                ),
            )
        if s.practice and s.minutes is not None:
            add(
                "practice",
                s.id,
                _obs(
                    _id("practice", s.id),
                    patient,
                    code={"text": f"{s.practice} (minutes)"},
                    category="survey",
                    when=when,
                    valueQuantity=_qty(s.minutes, "min"),
                ),
            )
        if s.pss_items and s.pss_total is not None:
            q = vs["questionnaires"]["pss10"]
            qr_ref = add(
                "pss-qr",
                s.id,
                {
                    "resourceType": "QuestionnaireResponse",
                    "id": _id("pss-qr", s.id),
                    "status": "completed",
                    "questionnaire": q["canonical"],
                    "subject": {"reference": patient},
                    "authored": when,
                    "item": [
                        {"linkId": str(i), "text": questions[i - 1], "answer": [{"valueInteger": int(a)}]}
                        for i, a in enumerate(s.pss_items, start=1)
                    ],
                },
            )
            add(
                "pss",
                s.id,
                _obs(
                    _id("pss", s.id),
                    patient,
                    code={"coding": [_coding(obs["pss10_total"])]},
                    category="survey",
                    when=when,
                    valueQuantity=_qty(s.pss_total, "{score}"),
                    derivedFrom=[{"reference": qr_ref}],
                ),
            )
    for r in rows(LabResult, LabResult.measured_on):
        add("lab", r.id, observation_lab(_id("lab", r.id), patient, r.marker, r.value, r.measured_on))
    for c in db.scalars(select(Consent).where(Consent.person_id == pid).order_by(Consent.id)).all():
        d = db.get(User, c.dietitian_id)
        period = {"start": _utc(c.granted_at)}
        if c.revoked_at:
            period["end"] = _utc(c.revoked_at)
        add(
            "consent",
            c.id,
            {
                "resourceType": "Consent",
                "id": _id("consent", c.id),
                "status": "inactive" if c.revoked_at else "active",
                "scope": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
                    ]
                },
                "category": [{"coding": [{"system": _LOINC, "code": "59284-0"}], "text": "Patient consent"}],
                "patient": {"reference": patient},
                "dateTime": _utc(c.granted_at),
                "policyRule": {"text": "Sharing chosen by the person in gutaxis (revocable at any time)"},
                "provision": {
                    "type": "permit",
                    "period": period,
                    "actor": [
                        {
                            "role": {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                        "code": "PRCP",
                                    }
                                ]
                            },
                            "reference": {"display": (d.name or "your dietitian") if d else "a dietitian"},
                        }
                    ],
                    "code": [{"text": s} for s in c.scopes.split(",") if s],
                },
            },
        )
    for pv in db.scalars(
        select(PlanVersion)
        .where(PlanVersion.person_id == pid, PlanVersion.status == "signed")
        .order_by(PlanVersion.number)
    ).all():
        items = list((pv.content or {}).get("items", []))
        goal_refs = []
        for i, it in enumerate(items):
            target = it.get("target") or it.get("general_target") or ""
            goal_refs.append(
                add(
                    "goal",
                    f"{pv.id}:{i}",
                    {
                        "resourceType": "Goal",
                        "id": _id("goal", f"{pv.id}-{i}"),
                        "lifecycleStatus": "active",
                        "description": {
                            "text": f"{it.get('title', '')}: {target}" if target else str(it.get("title", ""))
                        },
                        "subject": {"reference": patient},
                    },
                )
            )
        cp_ref = add(
            "careplan",
            pv.id,
            {
                "resourceType": "CarePlan",
                "id": _id("careplan", pv.id),
                "status": "active",
                "intent": "plan",
                "title": f"Plan version {pv.number}",
                "subject": {"reference": patient},
                "created": _utc(pv.signed_at),
                "goal": [{"reference": g} for g in goal_refs],
                "activity": [
                    {
                        "detail": {
                            "status": "not-started",
                            "code": {"text": str(it.get("title", ""))},
                            "description": str(it.get("text", "")),
                        }
                    }
                    for it in items
                ],
            },
        )
        signer = {"display": pv.signer_name or "the signing dietitian"}
        add(
            "provenance",
            pv.id,
            {
                "resourceType": "Provenance",
                "id": _id("provenance", pv.id),
                "target": [{"reference": cp_ref}],
                "recorded": _utc(pv.signed_at),
                "agent": [
                    {
                        "type": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                    "code": "author",
                                }
                            ]
                        },
                        "who": signer,
                    }
                ],
                "signature": [
                    {
                        "type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}],
                        "when": _utc(pv.signed_at),
                        "who": signer,
                        "sigFormat": "text/plain",
                        "data": base64.b64encode(f"sha256:{pv.sha256}".encode()).decode(),
                    }
                ],
            },
        )
    for u in db.scalars(select(Upload).where(Upload.person_id == pid).order_by(Upload.id)).all():
        att = {
            "contentType": "application/octet-stream",
            "title": u.filename,
            "size": int(u.size),
            "creation": _utc(u.created_at),
        }
        path = Path(upload_dir) / u.stored_name if upload_dir is not None else None
        if path is not None and path.is_file():
            from .person_keys import readable

            with readable(u, path) as plain:  # the hash of the plain file, sealed or not
                att["hash"] = base64.b64encode(hashlib.sha1(plain.read_bytes()).digest()).decode()
        doc_ref = add(
            "document",
            u.id,
            {
                "resourceType": "DocumentReference",
                "id": _id("document", u.id),
                "status": "current",
                "type": {"text": "gut microbiome profile" if u.kind == "profile" else f"diary export ({u.kind})"},
                "subject": {"reference": patient},
                "date": _utc(u.created_at),
                "content": [{"attachment": att}],
            },
        )
        if u.kind == "profile" and u.status == "done":
            add(
                "report",
                u.id,
                {
                    "resourceType": "DiagnosticReport",
                    "id": _id("report", u.id),
                    "status": "final",
                    "code": {"text": "Gut microbiome profile read by gutaxis (gut health card)"},
                    "subject": {"reference": patient},
                    "issued": _utc(u.created_at),
                    "conclusion": f"Read from the uploaded file {u.filename} (see {doc_ref}).",
                    "presentedForm": [{k: v for k, v in att.items() if k != "hash"}],
                },
            )
    return out


def person_bundle(db, user, upload_dir: Path | None = None) -> dict:
    """A Bundle (type ``collection``) of every record of ``user``; every resource validated."""
    entries = [{"fullUrl": ref, "resource": validate(res)} for ref, res in _resources(db, user, upload_dir)]
    bundle = {
        "resourceType": "Bundle",
        "id": _id("bundle", user.id),
        "type": "collection",
        "timestamp": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "entry": entries,
    }
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)
    if value_set_problems({k: v for k, v in bundle.items() if k != "entry"}):
        raise FhirRefused("Bundle", value_set_problems({k: v for k, v in bundle.items() if k != "entry"}))
    return bundle


def ndjson(bundle: dict) -> str:
    """The Bundle's resources, one JSON object per line (bulk-data NDJSON)."""
    return "".join(
        json.dumps(e["resource"], separators=(",", ":"), ensure_ascii=False) + "\n" for e in bundle.get("entry", [])
    )
