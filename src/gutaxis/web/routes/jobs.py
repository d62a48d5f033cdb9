"""A background job's own page: its progress (checked again every 2 s while it runs), its result
link, or its error in plain words.

The consent scope that covers a job comes from its kind (:data:`JOB_SCOPES`); a kind not listed is
its person's alone. Reads by a dietitian are audited like any other, through :func:`access`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from ..access import access, deny
from ..deps import current_user, get_db, render
from ..models import Job, User

router = APIRouter()

#: the consent scope that covers a job, by Job.kind (a kind not listed is its person's alone)
JOB_SCOPES = {"parse_profile": "microbiome", "import_diary": "diary", "build_plan": "plan"}
JOB_TITLES = {
    "parse_profile": "Reading a gut profile",
    "import_diary": "Importing a diary",
    "build_plan": "Building a plan",
    "patterns": "Looking for patterns",
}
RUNNING = ("queued", "running")


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: int, user: User = Depends(current_user), db: Session = Depends(get_db)):
    record = f"job:{job_id}"
    job = db.get(Job, job_id)
    if job is None:
        deny(db, user, "job", record)
    scope = JOB_SCOPES.get(job.kind)
    if scope is None:
        if user.id != job.person_id:
            deny(db, user, "job", record, subject=job.person_id)
    else:
        access(db, user, job.person_id, scope, resource="job", record=record)
    return render(
        request,
        "job.html",
        {
            "title": JOB_TITLES.get(job.kind, "Background job"),
            "job": job,
            "link": _job_link(job, user),
            "refresh": job.status in RUNNING,
        },
    )


def _job_link(job: Job, user: User) -> tuple[str, str] | None:
    """Where the job's result is seen (href, text), for this user."""
    params = job.params or {}
    own = user.id == job.person_id
    uid = params.get("upload_id")
    if job.kind == "parse_profile" and isinstance(uid, int):
        return f"/uploads/{uid}", "See the gut health card" if job.status == "done" else "Back to the upload"
    if job.kind == "import_diary" and isinstance(uid, int) and own:
        return f"/import?upload={uid}#upload-{uid}", "See the import"
    if job.kind == "build_plan":
        return ("/plan", "See your plan") if own else (f"/clients/{job.person_id}/plan?job={job.id}", "See the plan")
    if job.status == "done" and isinstance(job.result, dict):
        url = job.result.get("url")
        if isinstance(url, str) and url.startswith("/") and not url.startswith("//"):
            return url, "See the result"
    return None
