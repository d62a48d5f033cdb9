"""Diary imports: a Cronometer or MyFitnessPal export (or a gutaxis meal log) uploaded, stored
under a random name with the size cap, and read by the ``import_diary`` job
(:mod:`gutaxis.web.tasks_import`) with :func:`gutaxis.lifestyle.read_diary`."""

from __future__ import annotations

from pathlib import PurePath

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import food, jobs
from ..deps import get_db, person_user, render, settings_of
from ..idempotency import new_client_id, store_once, valid_client_id
from ..models import Job, Upload, User
from ..resume import resume_upload
from ..upload_safety import UploadRefused, save_capped

router = APIRouter()

IMPORT_KINDS = ("cronometer", "myfitnesspal", "diary")
#: how the person says a file writes dates like 04/03/2024 -> read_diary(dayfirst=...); exports of
#: Cronometer and MyFitnessPal write ISO dates, so this matters for a meal log kept by hand
DATE_ORDERS = {"detect": None, "dayfirst": True, "monthfirst": False}


def _import_context(request: Request, db: Session, user: User, **extra) -> dict:
    uploads = db.scalars(
        select(Upload)
        .where(Upload.person_id == user.id, Upload.kind.in_(IMPORT_KINDS))
        .order_by(Upload.created_at.desc(), Upload.id.desc())
        .limit(20)
    ).all()
    job_of = {}
    for j in db.scalars(select(Job).where(Job.person_id == user.id, Job.kind == "import_diary").order_by(Job.id)).all():
        uid = (j.params or {}).get("upload_id")
        if uid is not None:
            job_of[int(uid)] = j
    s = settings_of(request)
    ctx = {
        "title": "Import a diary",
        "uploads": [(u, job_of.get(u.id)) for u in uploads],
        "client_id": new_client_id(),
        "max_mb": s.max_upload // (1024 * 1024),
        "errors": [],
        "shown": request.query_params.get("upload"),
        "food_problem": food.food_problem(s),
    }
    ctx.update(extra)
    return ctx


@router.get("/import")
def import_page(request: Request, user: User = Depends(person_user), db: Session = Depends(get_db)):
    return render(request, "import.html", _import_context(request, db, user))


@router.post("/import")
def import_upload(
    request: Request,
    file: UploadFile | None = File(None),
    client_id: str = Form(""),
    dates: str = Form("detect"),
    user: User = Depends(person_user),
    db: Session = Depends(get_db),
):
    s = settings_of(request)
    cid = valid_client_id(client_id)
    existing = db.scalar(select(Upload).where(Upload.person_id == user.id, Upload.client_id == cid))
    if existing is not None:  # a retried submit; the job a killed server did not enqueue is made now
        params = {"upload_id": existing.id, "dayfirst": DATE_ORDERS.get(dates)}
        resume_upload(request, db, "import_diary", existing.id, user.id, params)
        return RedirectResponse(f"/import?upload={existing.id}#upload-{existing.id}", status_code=303)
    if dates not in DATE_ORDERS:
        return render(
            request,
            "import.html",
            _import_context(request, db, user, errors=["Dates: choose how the file writes them."], client_id=cid),
            status_code=400,
        )
    if file is None or not (file.filename or "").strip():
        return render(
            request,
            "import.html",
            _import_context(request, db, user, errors=["Choose the exported CSV file first."], client_id=cid),
            status_code=400,
        )
    try:
        path, size = save_capped(file.file, file.filename, s)
    except UploadRefused as exc:
        return render(
            request,
            "import.html",
            _import_context(request, db, user, errors=[exc.detail], client_id=cid),
            status_code=exc.status_code,
        )
    if size == 0:
        path.unlink(missing_ok=True)
        return render(
            request,
            "import.html",
            _import_context(request, db, user, errors=["The file is empty."], client_id=cid),
            status_code=400,
        )
    stored = path.name
    from ...errors import InputError
    from ...lifestyle import detect_diary_format

    try:
        fmt = detect_diary_format(path)
    except InputError:
        fmt = "diary"  # the job names what is wrong with it
    kind = {"cronometer": "cronometer", "myfitnesspal": "myfitnesspal"}.get(fmt, "diary")
    name = PurePath((file.filename or "").replace("\\", "/")).name[:200] or "diary.csv"
    up, created = store_once(
        db, Upload, "person_id", user.id, cid, filename=name, stored_name=stored, size=size, kind=kind, status="queued"
    )
    if not created:  # the same submit arrived twice at once: keep the first file
        path.unlink(missing_ok=True)
        return RedirectResponse(f"/import?upload={up.id}#upload-{up.id}", status_code=303)
    jobs.submit(
        request,
        db,
        "import_diary",
        user.id,
        requested_by=user.id,
        params={"upload_id": up.id, "dayfirst": DATE_ORDERS[dates]},
    )
    return RedirectResponse(f"/import?upload={up.id}#upload-{up.id}", status_code=303)
