"""The person's data page: export their records, import lab results from a FHIR Bundle, erase the account.

=====  ==========================  ==========================================================
GET    /account/data               the page: the latest export, the FHIR lab import, erasure
POST   /account/export             start the ``export`` job (a retried submit finds its job)
GET    /account/export/download    the latest export ZIP (an attachment; one ``read`` audit row)
POST   /labs/fhir                  CRP and faecal calprotectin from a FHIR R4B Bundle
POST   /account/erase              erase the account (password and the typed phrase required)
POST   /clients/{pid}/plan/{vid}/hold   the dietitian puts a signed version under legal hold (or
                                   releases it): it is then retained when the person erases
=====  ==========================  ==========================================================

All but the last are the person's own (a dietitian gets 404 and a ``denied`` row through
:func:`~gutaxis.web.deps.person_user`); the hold is the dietitian's, with the ``plan`` scope (a
``write`` audit row; 404 and a ``denied`` row otherwise). The work is in :mod:`gutaxis.web.rights`
and :mod:`gutaxis.web.fhir`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ...errors import InputError
from .. import audit, jobs, rights, throttle
from ..access import NotFound, access, deny
from ..deps import dietitian_user, get_db, person_user, render, settings_of
from ..fhir import read_lab_bundle
from ..idempotency import derived_client_id, new_client_id, store_once, valid_client_id
from ..models import Job, LabResult, PlanVersion, User

router = APIRouter()

MAX_FHIR = 5 * 1024 * 1024


def _page(
    request: Request,
    db: Session,
    user: User,
    *,
    error: str | None = None,
    erase_error: str | None = None,
    status_code: int = 200,
    imported: int | None = None,
):
    s = settings_of(request)
    latest = rights.latest_export(db, s, user.id)
    running = db.scalar(
        select(Job)
        .where(Job.person_id == user.id, Job.kind == "export", Job.status.in_(("queued", "running")))
        .order_by(Job.id.desc())
        .limit(1)
    )
    held = db.scalars(
        select(PlanVersion.number).where(
            PlanVersion.person_id == user.id, PlanVersion.status == "signed", PlanVersion.legal_hold.is_(True)
        )
    ).all()
    return render(
        request,
        "account_data.html",
        {
            "title": "Your data",
            "latest": latest[0] if latest else None,
            "running": running,
            "error": error,
            "erase_error": erase_error,
            "client_id": new_client_id(),
            "phrase": rights.ERASE_PHRASE,
            "held": held,
            "imported": imported if imported is not None else request.query_params.get("imported"),
        },
        status_code=status_code,
    )


@router.get("/account/data")
def data_page(request: Request, user: User = Depends(person_user), db: Session = Depends(get_db)):
    return _page(request, db, user)


@router.post("/account/export")
def start_export(
    request: Request, client_id: str = Form(""), user: User = Depends(person_user), db: Session = Depends(get_db)
):
    cid = valid_client_id(client_id)
    for j in db.scalars(
        select(Job).where(Job.person_id == user.id, Job.kind == "export").order_by(Job.id.desc()).limit(20)
    ):
        if (j.params or {}).get("client_id") == cid:  # a retried submit
            return RedirectResponse(f"/jobs/{j.id}", status_code=303)
    job = jobs.submit(request, db, "export", user.id, requested_by=user.id, params={"client_id": cid})
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/account/export/download")
def download_export(request: Request, user: User = Depends(person_user), db: Session = Depends(get_db)):
    found = rights.latest_export(db, settings_of(request), user.id)
    if found is None:
        raise NotFound()
    job, path = found
    audit.record(db, user.id, user.id, "read", "export", f"job:{job.id}")
    db.commit()
    day = (job.finished_at or job.created_at).strftime("%Y-%m-%d")
    return FileResponse(
        path, media_type="application/zip", filename=f"gutaxis-records-{day}.zip", content_disposition_type="attachment"
    )


@router.post("/labs/fhir")
def import_fhir_labs(
    request: Request,
    file: UploadFile | None = File(None),
    client_id: str = Form(""),
    user: User = Depends(person_user),
    db: Session = Depends(get_db),
):
    valid_client_id(client_id)  # every form carries one; the file's own entries are the idempotency keys
    if file is None or not file.filename:
        return _page(request, db, user, error="Choose a FHIR Bundle file (.json).", status_code=400)
    data = file.file.read(MAX_FHIR + 1)
    if len(data) > MAX_FHIR:
        return _page(
            request,
            db,
            user,
            error=f"The file is larger than {MAX_FHIR // (1024 * 1024)} MB; a Bundle of lab results is much smaller.",
            status_code=413,
        )
    try:
        values = read_lab_bundle(data, source="the FHIR file")
    except InputError as exc:
        return _page(request, db, user, error=exc.problem + (f" — {exc.hint}" if exc.hint else ""), status_code=400)
    n = 0
    for v in values:  # the same entry sent again stores once
        _, created = store_once(
            db,
            LabResult,
            "person_id",
            user.id,
            derived_client_id("fhir-lab", v.marker, v.measured_on.isoformat(), v.value, v.source_id),
            marker=v.marker,
            value=v.value,
            measured_on=v.measured_on,
            entered_by=user.id,
        )
        n += int(created)
    return RedirectResponse(f"/account/data?imported={n}#fhir", status_code=303)


@router.post("/account/erase")
def erase_account(
    request: Request,
    password: str = Form("", max_length=256),
    confirm: str = Form("", max_length=100),
    user: User = Depends(person_user),
    db: Session = Depends(get_db),
):
    s = settings_of(request)
    ip = request.client.host if request.client else "?"
    wait = throttle.locked_for(db, user.email, ip)
    if wait:
        raise HTTPException(
            429, "Too many wrong passwords: wait before trying again.", headers={"Retry-After": str(wait)}
        )
    if not request.app.state.passwords.verify(user.password_hash, password):
        throttle.fail(db, user.email, ip, limit=s.login_limit, window_minutes=s.login_window_minutes)
        return _page(request, db, user, erase_error="The password is not right; nothing was erased.", status_code=400)
    if " ".join(confirm.lower().split()) != rights.ERASE_PHRASE:
        return _page(
            request,
            db,
            user,
            erase_error=f"Type “{rights.ERASE_PHRASE}” to confirm; nothing was erased.",
            status_code=400,
        )
    if (
        db.scalar(
            select(Job.id)
            .where(Job.person_id == user.id, Job.kind == "export", Job.status.in_(("queued", "running")))
            .limit(1)
        )
        is not None
    ):
        return _page(
            request,
            db,
            user,
            erase_error="Your export is being made; erase the account when it is "
            "ready (it takes a minute). Nothing was erased.",
            status_code=409,
        )
    gone = rights.erase_person(db, s, db.merge(user))
    request.state.user = None
    resp = render(request, "erased.html", {"title": "Account erased", "user": None, "retained": gone["retained_plans"]})
    resp.delete_cookie(s.cookie_name, path="/", secure=s.secure_cookies, httponly=True, samesite="lax")
    resp.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return resp


@router.post("/clients/{pid}/plan/{vid}/hold")
def plan_hold(
    pid: int,
    vid: int,
    hold: str = Form("on", max_length=3),
    user: User = Depends(dietitian_user),
    db: Session = Depends(get_db),
):
    """Keep a signed version when the person erases their account (a clinical record the law requires)."""
    pv = db.get(PlanVersion, vid)
    if pv is None or pv.person_id != pid:
        deny(db, user, "plan", f"plan id {vid} hold", subject=pid)
    on = hold != "off"
    access(
        db,
        user,
        pid,
        "plan",
        action="write",
        resource="plan",
        record=f"plan v{pv.number} legal hold {'on' if on else 'off'}",
    )
    if pv.status != "signed":
        raise HTTPException(409, "Only a signed version is a clinical record to keep; sign it first.")
    db.execute(update(PlanVersion).where(PlanVersion.id == pv.id).values(legal_hold=on))
    db.commit()
    return RedirectResponse(f"/clients/{pid}/plan/{pv.id}", status_code=303)
