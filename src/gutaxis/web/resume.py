"""A retried upload finds its job: the upload row and its job are two commits, so a server killed between
them (SIGKILL, power, OOM) leaves an upload ``queued`` that no job will ever read. The client sends the
same form again (same client id) when it got no answer; the route then finds the stored upload and,
through :func:`resume_upload`, enqueues its missing job instead of only pointing at it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import jobs
from .models import Job, Upload

__all__ = ["resume_upload"]


def resume_upload(request: Any, db: Session, kind: str, upload_id: int, person_id: int, params: dict) -> bool:
    """Enqueue a ``kind`` job for upload ``upload_id`` when it is still queued and has no such job;
    whether one was enqueued. ``params`` are the job's (``upload_id`` included)."""
    upload = db.get(Upload, upload_id)
    if upload is None or upload.person_id != person_id or upload.status != "queued":
        return False
    mine = db.scalars(select(Job.params).where(Job.person_id == person_id, Job.kind == kind)).all()
    if any(int((p or {}).get("upload_id", 0) or 0) == upload_id for p in mine):
        return False  # its job is queued, running or done: the worker will (or did) get to it
    jobs.submit(request, db, kind, person_id, requested_by=person_id, params=params)
    return True
