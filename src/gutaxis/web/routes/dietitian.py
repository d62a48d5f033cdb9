"""The dietitian's side: invitations, the caseload, client pages and notes.

Nothing of a person is visible to a dietitian before the person accepts an invitation (a
:class:`Consent` for some of :data:`SCOPES`); every client page goes through
:func:`gutaxis.web.access.access`, so each read leaves exactly one audit row and anything
without an active consent for the page's scope answers 404 after a ``denied`` row. The person's
side (the invitation link, sharing, their audit trail, shared notes) is :mod:`.sharing`; the
helpers both use are :mod:`.consent`.

Routes (dietitian): ``GET/POST /invitations``, ``POST /invitations/{id}/cancel``, ``GET /caseload``,
``GET /clients/{pid}``, ``GET /clients/{pid}/diary``, ``POST /clients/{pid}/notes``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import audit
from ..access import NotFound, access, active_consent, deny
from ..deps import dietitian_user, get_db, render, settings_of
from ..idempotency import new_client_id, store_once, valid_client_id
from ..models import (
    SCOPES,
    Consent,
    Invitation,
    MealEntry,
    Message,
    Note,
    PlanVersion,
    StressEntry,
    SymptomEntry,
    User,
    utcnow,
)
from ..security import new_token, token_hash
from .consent import (
    MAX_TEXT,
    SCOPE_LABELS,
    _invitation_state,
    _scopes_from_form,
    _text,
    client_access,
    display_name,
    scope_list,
)

router = APIRouter()

__all__ = ["router"]

FLAG_DAYS = 7
SYMPTOM_FLAG = 7.0
_TARGET = re.compile(r"^(day:\d{4}-\d{2}-\d{2}|plan:\d{1,9})?$")


# --------------------------------------------------------------------------- invitations (dietitian)
def _invitations_page(
    request: Request,
    db: Session,
    user: User,
    *,
    link: str | None = None,
    repeated: bool = False,
    status_code: int = 200,
):
    now = utcnow()
    invs = db.scalars(
        select(Invitation).where(Invitation.dietitian_id == user.id).order_by(Invitation.id.desc()).limit(100)
    ).all()
    people = {u.id: u for u in db.scalars(select(User).where(User.id.in_([i.person_id for i in invs if i.person_id])))}
    rows = [
        {
            "id": i.id,
            "created_at": i.created_at,
            "expires_at": i.expires_at,
            "state": _invitation_state(i, now),
            "scopes": scope_list(i.scopes),
            "person": display_name(people.get(i.person_id)) if i.person_id else "",
        }
        for i in invs
    ]
    return render(
        request,
        "invitations.html",
        {
            "title": "Invite a client",
            "invitations": rows,
            "link": link,
            "repeated": repeated,
            "client_id": new_client_id(),
            "scopes": SCOPES,
            "labels": SCOPE_LABELS,
            "days": settings_of(request).invitation_days,
        },
        status_code=status_code,
    )


@router.get("/invitations")
def invitations_page(request: Request, user: User = Depends(dietitian_user), db: Session = Depends(get_db)):
    return _invitations_page(request, db, user)


@router.post("/invitations")
def create_invitation(
    request: Request,
    scopes: list[str] = Form([]),
    choose: str = Form(""),
    client_id: str = Form(""),
    user: User = Depends(dietitian_user),
    db: Session = Depends(get_db),
):
    """A single-use invitation link, shown once (only its sha256 is stored); a retried submit makes no second one."""
    picked = _scopes_from_form(scopes, choose)
    cid = valid_client_id(client_id)
    if db.scalar(select(Invitation.id).where(Invitation.dietitian_id == user.id, Invitation.client_id == cid)):
        return _invitations_page(request, db, user, repeated=True)
    token = new_token()
    now = utcnow()
    db.add(
        Invitation(
            token_hash=token_hash(token),
            dietitian_id=user.id,
            client_id=cid,
            scopes=",".join(picked),
            created_at=now,
            expires_at=now + timedelta(days=settings_of(request).invitation_days),
        )
    )
    try:
        db.commit()
    except IntegrityError:  # the same submit arrived twice at once
        db.rollback()
        return _invitations_page(request, db, user, repeated=True)
    link = str(request.base_url).rstrip("/") + f"/invite/{token}"
    return _invitations_page(request, db, user, link=link)


@router.post("/invitations/{inv_id}/cancel")
def cancel_invitation(inv_id: int, user: User = Depends(dietitian_user), db: Session = Depends(get_db)):
    inv = db.get(Invitation, inv_id)
    if inv is None or inv.dietitian_id != user.id:
        deny(db, user, "invitation", f"invitation {inv_id}")
    now = utcnow()
    if inv.used_at is None and inv.expires_at > now:
        inv.expires_at = now
        db.commit()
    return RedirectResponse("/invitations", status_code=303)


# --------------------------------------------------------------------------- caseload
@router.get("/caseload")
def caseload(request: Request, user: User = Depends(dietitian_user), db: Session = Depends(get_db)):
    """Active clients with flags, from aggregates; one ``caseload`` audit row per client shown."""
    now = utcnow()
    since = now - timedelta(days=FLAG_DAYS)
    rows = db.execute(
        select(Consent, User)
        .join(User, User.id == Consent.person_id)
        .where(Consent.dietitian_id == user.id, Consent.revoked_at.is_(None))
        .order_by(User.name, User.id)
    ).all()
    ids = [u.id for _, u in rows]
    worst, last_meal, drafts, signed, unread = {}, {}, {}, {}, {}
    if ids:
        worst = dict(
            db.execute(
                select(SymptomEntry.person_id, func.max(SymptomEntry.rating))
                .where(SymptomEntry.person_id.in_(ids), SymptomEntry.at >= since)
                .group_by(SymptomEntry.person_id)
            ).all()
        )
        last_meal = dict(
            db.execute(
                select(MealEntry.person_id, func.max(MealEntry.eaten_at))
                .where(MealEntry.person_id.in_(ids))
                .group_by(MealEntry.person_id)
            ).all()
        )
        drafts = dict(
            db.execute(
                select(PlanVersion.person_id, func.max(PlanVersion.number))
                .where(PlanVersion.person_id.in_(ids), PlanVersion.status == "draft")
                .group_by(PlanVersion.person_id)
            ).all()
        )
        signed = dict(
            db.execute(
                select(PlanVersion.person_id, func.max(PlanVersion.number))
                .where(PlanVersion.person_id.in_(ids), PlanVersion.status == "signed")
                .group_by(PlanVersion.person_id)
            ).all()
        )
        unread = dict(
            db.execute(
                select(Message.person_id, func.count(Message.id))
                .where(
                    Message.person_id.in_(ids),
                    Message.sender_id == Message.person_id,
                    Message.read_at.is_(None),
                    Message.dietitian_id == user.id,
                )
                .group_by(Message.person_id)
            ).all()
        )
    clients = []
    for c, u in rows:
        sc = scope_list(c.scopes)
        w = worst.get(u.id)
        lm = last_meal.get(u.id)
        clients.append(
            {
                "id": u.id,
                "name": display_name(u),
                "conditions": u.conditions,
                "scopes": sc,
                "high_symptom": (w is not None and w >= SYMPTOM_FLAG) if "symptoms" in sc else None,
                "worst_symptom": w if "symptoms" in sc else None,
                "draft": (drafts.get(u.id, 0) > (signed.get(u.id) or 0)) if "plan" in sc else None,
                "no_logs": (lm is None or lm < since) if "diary" in sc else None,
                "last_log": lm if "diary" in sc else None,
                "unread": unread.get(u.id, 0),
            }
        )
        audit.record(db, user.id, u.id, "read", "caseload", "")
    db.commit()
    open_invites = (
        db.scalar(
            select(func.count(Invitation.id)).where(
                Invitation.dietitian_id == user.id, Invitation.used_at.is_(None), Invitation.expires_at > now
            )
        )
        or 0
    )
    return render(
        request,
        "caseload.html",
        {
            "title": "Caseload",
            "clients": clients,
            "open_invites": open_invites,
            "flag_days": FLAG_DAYS,
            "labels": SCOPE_LABELS,
        },
    )


# --------------------------------------------------------------------------- client pages
def _my_notes(db: Session, user: User, pid: int) -> Sequence[Note]:
    return db.scalars(
        select(Note)
        .where(Note.person_id == pid, Note.author_id == user.id)
        .order_by(Note.created_at.desc(), Note.id.desc())
    ).all()


@router.get("/clients/{pid}")
def client_overview(request: Request, pid: int, user: User = Depends(dietitian_user), db: Session = Depends(get_db)):
    person = client_access(db, user, pid, resource="overview")
    c = active_consent(db, pid, user.id)
    if c is None:  # revoked since client_access read it (it commits in between)
        raise NotFound()
    sc = scope_list(c.scopes)
    return render(
        request,
        "client.html",
        {
            "title": display_name(person),
            "person": person,
            "scopes": sc,
            "labels": SCOPE_LABELS,
            "all_scopes": SCOPES,
            "granted_at": c.granted_at,
            "notes": _my_notes(db, user, pid),
            "client_id": new_client_id(),
            "conditions": _conditions(person),
        },
    )


def _conditions(person: User) -> list[str]:
    from ...lifestyle.person import CONDITIONS

    return [f"{CONDITIONS.get(t, t)} ({t})" for t in (person.conditions or "").split(",") if t]


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, "Give the day as YYYY-MM-DD.") from None


@router.get("/clients/{pid}/diary")
def client_diary(
    request: Request,
    pid: int,
    end: str | None = Query(None, max_length=10),
    days: int = Query(14, ge=1, le=62),
    user: User = Depends(dietitian_user),
    db: Session = Depends(get_db),
):
    """The timeline by day: meals with their matched foods, and symptoms and stress where shared."""
    end_day = _day(end)
    c = active_consent(db, pid, user.id)
    sc = scope_list(c.scopes) if c is not None else []
    extra = [s for s in ("symptoms", "stress") if s in sc]
    person = access(
        db,
        user,
        pid,
        "diary",
        resource="diary",
        record=f"{end or 'latest'} {days}d" + (f" with {','.join(extra)}" if extra else ""),
    )
    if end_day is None:
        latest = [db.scalar(select(func.max(MealEntry.eaten_at)).where(MealEntry.person_id == pid))]
        if "symptoms" in extra:
            latest.append(db.scalar(select(func.max(SymptomEntry.at)).where(SymptomEntry.person_id == pid)))
        if "stress" in extra:
            latest.append(db.scalar(select(func.max(StressEntry.at)).where(StressEntry.person_id == pid)))
        found = [x for x in latest if x is not None]
        end_day = max(found).date() if found else utcnow().date()
    start = datetime.combine(end_day - timedelta(days=days - 1), datetime.min.time())
    stop = datetime.combine(end_day + timedelta(days=1), datetime.min.time())
    by_day: dict[date, dict] = defaultdict(lambda: {"meals": [], "symptoms": [], "stress": [], "notes": []})
    for m in db.scalars(
        select(MealEntry)
        .where(MealEntry.person_id == pid, MealEntry.eaten_at >= start, MealEntry.eaten_at < stop)
        .order_by(MealEntry.eaten_at, MealEntry.id)
    ):
        by_day[m.eaten_at.date()]["meals"].append(
            {"at": m.eaten_at, "meal": m.meal, "text": m.text, "foods": _foods(m.items), "source": m.source}
        )
    if "symptoms" in extra:
        for s in db.scalars(
            select(SymptomEntry)
            .where(SymptomEntry.person_id == pid, SymptomEntry.at >= start, SymptomEntry.at < stop)
            .order_by(SymptomEntry.at)
        ):
            by_day[s.at.date()]["symptoms"].append(s)
    if "stress" in extra:
        for st in db.scalars(
            select(StressEntry)
            .where(StressEntry.person_id == pid, StressEntry.at >= start, StressEntry.at < stop)
            .order_by(StressEntry.at)
        ):
            by_day[st.at.date()]["stress"].append(st)
    for n in _my_notes(db, user, pid):
        if n.target.startswith("day:"):
            d = _day(n.target[4:])
            if d is not None and start.date() <= d <= end_day:
                by_day[d]["notes"].append(n)
    days_list = [(d, by_day[d]) for d in sorted(by_day, reverse=True)]
    return render(
        request,
        "client_diary.html",
        {
            "title": f"Diary of {display_name(person)}",
            "person": person,
            "days": days_list,
            "extra": extra,
            "start": start.date(),
            "end": end_day,
            "n_days": days,
            "labels": SCOPE_LABELS,
            "scopes": sc,
            "earlier": (start.date() - timedelta(days=1)).isoformat(),
            "later": (end_day + timedelta(days=days)).isoformat(),
            "client_id": new_client_id,
        },
    )


def _foods(items) -> list[dict]:
    out = []
    for it in items or []:
        if not isinstance(it, dict):
            continue
        name = it.get("description") or it.get("food") or it.get("name") or it.get("text") or ""
        grams = it.get("grams")
        out.append(
            {
                "name": str(name),
                "grams": grams if isinstance(grams, (int, float)) else None,
                "nova": it.get("nova"),
                "assumed": bool(it.get("assumed") or it.get("portion_assumed")),
                "counted": it.get("counted", True),
            }
        )
    return out


@router.post("/clients/{pid}/notes")
def add_note(
    request: Request,
    pid: int,
    text: str = Form(..., max_length=MAX_TEXT + 100),
    shared: str = Form(""),
    target: str = Form("", max_length=60),
    client_id: str = Form(""),
    back: str = Form("", max_length=200),
    user: User = Depends(dietitian_user),
    db: Session = Depends(get_db),
):
    """A note on the client's record: ``shared`` (the person sees it) or private (only its author)."""
    target = target.strip()
    if not _TARGET.match(target):
        raise HTTPException(400, "A note is about the whole record, a day (day:YYYY-MM-DD) or a plan (plan:ID).")
    if target.startswith("day:"):
        _day(target[4:])
    scope = "diary" if target.startswith("day:") else "plan" if target.startswith("plan:") else None
    if scope == "plan":
        pv = db.get(PlanVersion, int(target[5:]))
        if pv is None or pv.person_id != pid:
            deny(db, user, "note", target, subject=pid)
    client_access(db, user, pid, scope, action="write", resource="note", record=target)
    store_once(
        db,
        Note,
        "author_id",
        user.id,
        client_id,
        person_id=pid,
        target=target,
        text=_text(text, "note"),
        shared=shared in ("on", "1", "true", "yes"),
    )
    dest = back if back.startswith(f"/clients/{pid}") and not back.startswith("//") else f"/clients/{pid}"
    return RedirectResponse(dest, status_code=303)
