"""Stool-profile uploads and the gut health card (a job's own page is :mod:`gutaxis.web.routes.jobs`).

=====  ==========================  ==========================================================
GET    /uploads                    the person's profile uploads and the upload form
POST   /uploads                    store the file (capped, checked), queue ``parse_profile``
GET    /uploads/{id}               the gut card, or the job's progress or failure
GET    /uploads/{id}/download      the file as uploaded (an attachment)
GET    /clients/{pid}/uploads      a dietitian's view of a client's uploads (microbiome consent)
=====  ==========================  ==========================================================

Nothing is parsed in the request: :mod:`gutaxis.web.upload_safety` checks the saved file, the
job (:mod:`gutaxis.web.tasks_upload`) reads it. Every read of someone else's upload goes
through :func:`gutaxis.web.access.access` (an audit row; 404 and a ``denied`` row otherwise).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import jobs
from ..access import NotFound, access, deny
from ..deps import (
    current_user,
    dietitian_user,
    get_db,
    person_user,
    render,
    settings_of,
)
from ..idempotency import new_client_id, store_once, valid_client_id
from ..models import Job, Upload, User
from ..resume import resume_upload
from ..upload_safety import (
    ACCEPTED,
    UploadRefused,
    check_filename,
    check_upload,
    save_capped,
)

router = APIRouter()

#: the consent scope that covers an upload, by Upload.kind
UPLOAD_SCOPES = {"profile": "microbiome", "cronometer": "diary", "myfitnesspal": "diary", "diary": "diary"}


def _readable_upload(db: Session, user: User, upload_id: int, record: str) -> Upload:
    upload = db.get(Upload, upload_id)
    if upload is None:
        deny(db, user, "upload", record)
    access(db, user, upload.person_id, UPLOAD_SCOPES.get(upload.kind, "microbiome"), resource="upload", record=record)
    return upload


def _job_of(db: Session, upload: Upload) -> Job | None:
    """The latest ``parse_profile`` job of ``upload``."""
    return db.scalar(
        select(Job)
        .where(
            Job.person_id == upload.person_id,
            Job.kind == "parse_profile",
            Job.params["upload_id"].as_integer() == upload.id,
        )
        .order_by(Job.id.desc())
        .limit(1)
    )


def _uploads_page(
    request: Request, db: Session, user: User, person: User, *, error: str | None = None, status_code: int = 200
):
    rows = db.scalars(
        select(Upload)
        .where(Upload.person_id == person.id, Upload.kind == "profile")
        .order_by(Upload.created_at.desc(), Upload.id.desc())
    ).all()
    own = user.id == person.id
    return render(
        request,
        "uploads.html",
        {
            "title": "Gut profile" if own else f"Gut profiles of {person.name or 'this client'}",
            "uploads": rows,
            "own": own,
            "person": person,
            "error": error,
            "client_id": new_client_id(),
            "max_mb": settings_of(request).max_upload // (1024 * 1024),
            "accepted": ACCEPTED,
        },
        status_code=status_code,
    )


@router.get("/uploads")
def uploads_page(request: Request, user: User = Depends(person_user), db: Session = Depends(get_db)):
    return _uploads_page(request, db, user, user)


@router.post("/uploads")
def upload_profile(
    request: Request,
    file: UploadFile | None = File(None),
    client_id: str = Form(""),
    user: User = Depends(person_user),
    db: Session = Depends(get_db),
):
    s = settings_of(request)
    cid = valid_client_id(client_id)
    done = db.scalar(select(Upload.id).where(Upload.person_id == user.id, Upload.client_id == cid))
    if done is not None:  # a retried submit: the file was stored the first time (its job, if lost, is made now)
        resume_upload(request, db, "parse_profile", done, user.id, {"upload_id": done})
        return RedirectResponse(f"/uploads/{done}", status_code=303)
    try:
        if file is None:  # what check_filename says of a form without a file
            raise UploadRefused("Choose a file to upload: the form arrived without a file name.")
        name = check_filename(file.filename)
        path, size = save_capped(file.file, name, s)
        try:
            check_upload(name, path, s)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    except UploadRefused as exc:
        return _uploads_page(request, db, user, user, error=exc.message, status_code=exc.status_code)
    upload, created = store_once(
        db,
        Upload,
        "person_id",
        user.id,
        cid,
        filename=name,
        stored_name=path.name,
        size=size,
        kind="profile",
        status="queued",
    )
    if not created:
        path.unlink(missing_ok=True)
    else:
        jobs.submit(request, db, "parse_profile", user.id, requested_by=user.id, params={"upload_id": upload.id})
    return RedirectResponse(f"/uploads/{upload.id}", status_code=303)


@router.get("/uploads/{upload_id}")
def upload_page(request: Request, upload_id: int, user: User = Depends(current_user), db: Session = Depends(get_db)):
    upload = _readable_upload(db, user, upload_id, f"upload:{upload_id}")
    if upload.kind != "profile":  # a diary export: its page is the import page
        if user.id == upload.person_id:
            return RedirectResponse(f"/import?upload={upload.id}#upload-{upload.id}", status_code=303)
        return render(
            request,
            "upload.html",
            {
                "title": "Diary file",
                "upload": upload,
                "state": "diary",
                "own": False,
                "person": db.get(User, upload.person_id),
            },
        )
    job = _job_of(db, upload)
    person = db.get(User, upload.person_id)
    if upload.status == "done" and upload.result:
        state = "done"
    elif upload.status == "failed" or (job is not None and job.status == "failed"):
        state = "failed"
    else:
        state = "running"
    error = upload.error or (job.error if job is not None else "")
    return render(
        request,
        "upload.html",
        {
            "title": "Gut health card" if state == "done" else "Gut profile",
            "upload": upload,
            "card": upload.result if state == "done" else None,
            "job": job,
            "state": state,
            "error": error,
            "refresh": state == "running",
            "own": user.id == upload.person_id,
            "person": person,
        },
    )


@router.get("/uploads/{upload_id}/download")
def upload_download(
    upload_id: int, request: Request, user: User = Depends(current_user), db: Session = Depends(get_db)
):
    upload = _readable_upload(db, user, upload_id, f"upload:{upload_id}:download")
    path = settings_of(request).upload_dir / upload.stored_name
    if not path.is_file():
        raise NotFound()
    from ..person_keys import store_of

    store = store_of(db)
    if store is not None:  # a sealed file (gutaxis.web.person_keys) is sent opened
        from fastapi.responses import Response

        from ..person_keys import file_ad

        plain = store.open_file(upload.person_id, path, file_ad(upload))
        if plain is not None:
            return Response(
                plain,
                media_type="application/octet-stream",
                headers={"content-disposition": _attachment(upload.filename)},
            )
    return FileResponse(
        path, media_type="application/octet-stream", filename=upload.filename, content_disposition_type="attachment"
    )


def _attachment(filename: str) -> str:
    """A Content-Disposition as FileResponse writes it (RFC 5987 for a name that is not plain ASCII)."""
    from urllib.parse import quote

    quoted = quote(filename)
    if quoted != filename:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{filename}"'


@router.get("/clients/{pid}/uploads")
def client_uploads(request: Request, pid: int, user: User = Depends(dietitian_user), db: Session = Depends(get_db)):
    person = access(db, user, pid, "microbiome", resource="upload", record=f"uploads:{pid}")
    return _uploads_page(request, db, user, person)
