"""Diary patterns (N-of-1): which factors go with which symptoms in one person's own diary.

Looked for on request, as a background job (:mod:`gutaxis.web.tasks_patterns`), once there are
enough days with symptom ratings; the page shows the latest result and what it does not mean.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import jobs
from ..deps import get_db, person_user, render
from ..idempotency import new_client_id, valid_client_id
from ..models import Job, User
from ..tasks_patterns import MIN_SYMPTOM_DAYS, symptom_days

router = APIRouter()


def _latest(db: Session, user: User) -> Job | None:
    return db.scalar(
        select(Job).where(Job.person_id == user.id, Job.kind == "patterns").order_by(Job.id.desc()).limit(1)
    )


@router.get("/patterns")
def patterns_page(request: Request, user: User = Depends(person_user), db: Session = Depends(get_db)):
    job = _latest(db, user)
    return render(
        request,
        "patterns.html",
        {
            "title": "Patterns in your diary",
            "job": job,
            "days": symptom_days(db, user.id),
            "min_days": MIN_SYMPTOM_DAYS,
            "client_id": new_client_id(),
            "refresh": job is not None and job.status in ("queued", "running"),
        },
    )


@router.post("/patterns")
def patterns_start(
    request: Request, client_id: str = Form(""), user: User = Depends(person_user), db: Session = Depends(get_db)
):
    cid = valid_client_id(client_id)
    job = _latest(db, user)
    if job is not None and (job.params or {}).get("client_id") == cid:  # a retried submit
        return RedirectResponse("/patterns", status_code=303)
    jobs.submit(request, db, "patterns", user.id, requested_by=user.id, params={"client_id": cid})
    return RedirectResponse("/patterns", status_code=303)
