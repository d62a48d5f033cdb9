"""Measured markers (lab results): CRP, IL-6, LBP, faecal calprotectin, and DAS28 for RA.

Entered by the person, or by their dietitian with the plan shared (a write, audited). Each value is
checked by the same rules as a ``person.json`` (:class:`gutaxis.lifestyle.person.Person`: units,
possible ranges, DAS28 only with RA); the latest of each marker is what the personal twin observes
when a plan is drafted, and the plan then shows it as the person's own baseline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import InputError
from ...lifestyle.person import MARKERS, Person
from ..deps import dietitian_user, get_db, person_user, render
from ..idempotency import new_client_id, store_once, valid_client_id
from ..models import LabResult, User, utcnow
from .consent import client_access, client_scopes, display_name

router = APIRouter()

#: marker -> label shown on the form
LABELS = {
    "crp": "CRP (C-reactive protein)",
    "il6": "IL-6 (interleukin-6)",
    "lbp": "LBP (LPS-binding protein)",
    "calprotectin": "Faecal calprotectin",
    "das28": "DAS28 (rheumatoid arthritis disease activity)",
}


def latest_markers(db: Session, person_id: int) -> dict[str, float]:
    """The latest value of each marker (by the date measured)."""
    out: dict[str, float] = {}
    for r in db.scalars(
        select(LabResult).where(LabResult.person_id == person_id).order_by(LabResult.measured_on, LabResult.id)
    ):
        out[r.marker] = r.value
    return out


def _validate(person: User, marker: str, value: str, measured_on: str) -> tuple[str, float, datetime]:
    key = (marker or "").strip().lower()
    if key not in MARKERS:
        raise InputError(f"choose one of: {', '.join(LABELS[k] for k in MARKERS)}", source="the lab result")
    try:
        when = datetime.fromisoformat(measured_on) if measured_on else utcnow()
    except ValueError:
        raise InputError(
            f"date {measured_on!r} is not a date", source="the lab result", hint="use the date picker (YYYY-MM-DD)"
        ) from None
    if when > utcnow():
        raise InputError("the date measured is in the future", source="the lab result")
    conditions = [c for c in (person.conditions or "").split(",") if c]
    p = Person(conditions=conditions, markers={key: value}, source="the lab result")  # the rules of person.json
    return key, p.markers[key], when


def _page(
    request: Request,
    db: Session,
    user: User,
    person: User,
    *,
    error: str | None = None,
    status_code: int = 200,
    action: str,
):
    rows = db.scalars(
        select(LabResult)
        .where(LabResult.person_id == person.id)
        .order_by(LabResult.measured_on.desc(), LabResult.id.desc())
    ).all()
    names = {u.id: display_name(u) for u in db.scalars(select(User).where(User.id.in_({r.entered_by for r in rows})))}
    ctx: dict[str, Any] = {
        "title": "Lab results" if user.id == person.id else f"Lab results of {display_name(person)}",
        "rows": rows,
        "labels": LABELS,
        "units": {k: v[0] for k, v in MARKERS.items()},
        "ranges": {k: (v[1], v[2]) for k, v in MARKERS.items()},
        "names": names,
        "error": error,
        "client_id": new_client_id(),
        "action": action,
        "latest": latest_markers(db, person.id),
        "own": user.id == person.id,
        "ra": "RA" in (person.conditions or "").split(","),
    }
    if user.id != person.id:
        ctx.update(person=person, scopes=client_scopes(db, user, person.id))
    return render(request, "labs.html", ctx, status_code=status_code)


def _store(db: Session, person: User, author: User, client_id: str, marker: str, value: str, measured_on: str):
    cid = valid_client_id(client_id)
    key, v, when = _validate(person, marker, value, measured_on)
    store_once(db, LabResult, "person_id", person.id, cid, marker=key, value=v, measured_on=when, entered_by=author.id)


@router.get("/labs")
def my_labs(request: Request, user: User = Depends(person_user), db: Session = Depends(get_db)):
    return _page(request, db, user, user, action="/labs")


@router.post("/labs")
def add_my_lab(
    request: Request,
    marker: str = Form(""),
    value: str = Form(""),
    measured_on: str = Form(""),
    client_id: str = Form(""),
    user: User = Depends(person_user),
    db: Session = Depends(get_db),
):
    try:
        _store(db, user, user, client_id, marker, value, measured_on)
    except InputError as exc:
        return _page(
            request,
            db,
            user,
            user,
            error=exc.problem + (f" — {exc.hint}" if exc.hint else ""),
            status_code=400,
            action="/labs",
        )
    return RedirectResponse("/labs", status_code=303)


@router.get("/clients/{pid}/labs")
def client_labs(request: Request, pid: int, user: User = Depends(dietitian_user), db: Session = Depends(get_db)):
    person = client_access(db, user, pid, "plan", resource="labs", record=f"labs:{pid}")
    return _page(request, db, user, person, action=f"/clients/{pid}/labs")


@router.post("/clients/{pid}/labs")
def add_client_lab(
    request: Request,
    pid: int,
    marker: str = Form(""),
    value: str = Form(""),
    measured_on: str = Form(""),
    client_id: str = Form(""),
    user: User = Depends(dietitian_user),
    db: Session = Depends(get_db),
):
    person = client_access(db, user, pid, "plan", action="write", resource="labs", record=f"labs:{pid}")
    try:
        _store(db, person, user, client_id, marker, value, measured_on)
    except InputError as exc:
        return _page(
            request,
            db,
            user,
            person,
            error=exc.problem + (f" — {exc.hint}" if exc.hint else ""),
            status_code=400,
            action=f"/clients/{pid}/labs",
        )
    return RedirectResponse(f"/clients/{pid}/labs", status_code=303)
