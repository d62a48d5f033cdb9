"""The person's side of consent: accepting an invitation, sharing settings, their audit trail, shared notes.

An invitation link is public (``GET /invite/{token}`` says who invites, to share what); accepting it
binds a :class:`Consent`. The person changes or ends what they share on ``/sharing``, reads every
access to their records on ``/audit`` and the notes dietitians chose to share on ``/notes``. Separate
from :mod:`.dietitian`, which holds the dietitian's pages (invitations, caseload, client pages).

Public: ``GET /invite/{token}``. Person: ``POST /invite/{token}/accept``, ``GET /sharing``,
``POST /sharing/{cid}/revoke``, ``POST /sharing/{cid}/scopes``, ``GET /audit``, ``GET /notes``.
"""

from __future__ import annotations

import re
from typing import cast

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from .. import audit
from ..access import NotFound, deny
from ..deps import current_session, get_db, person_user, render
from ..models import SCOPES, AuditEvent, Consent, Invitation, Note, User, utcnow
from ..security import token_hash
from .consent import SCOPE_LABELS, _invitation_state, _scopes_from_form, display_name, scope_list

router = APIRouter()

__all__ = ["router", "shared_notes"]


# --------------------------------------------------------------------------- invitation (public, person)
def _find_invitation(db: Session, token: str, actor: User | None = None) -> Invitation:
    """The invitation of ``token``, or 404 (with a ``denied`` row when someone logged in asked)."""
    inv = (
        db.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
        if token and len(token) <= 128
        else None
    )
    if inv is None:
        if actor is not None:
            deny(db, actor, "invitation", "unknown invitation link")
        raise NotFound()
    return inv


@router.get("/invite/{token}")
def invite_page(request: Request, token: str, db: Session = Depends(get_db)):
    """Public: who invites, to share what; an expired or used link says so (410); unknown: 404."""
    inv = _find_invitation(db, token)
    ws = current_session(request, db)
    viewer = db.get(User, ws.user_id) if ws is not None else None
    if ws is not None and viewer is not None and (viewer.role == "person" or ws.totp_ok):
        request.state.user = viewer
    state = _invitation_state(inv, utcnow())
    dietitian = db.get(User, inv.dietitian_id)
    return render(
        request,
        "invite.html",
        {
            "title": "Invitation",
            "state": state,
            "token": token,
            "dietitian": display_name(dietitian),
            "scopes": scope_list(inv.scopes),
            "labels": SCOPE_LABELS,
            "viewer": viewer,
            "expires_at": inv.expires_at,
        },
        status_code=200 if state == "open" else 410,
    )


@router.post("/invite/{token}/accept")
def accept_invitation(request: Request, token: str, user: User = Depends(person_user), db: Session = Depends(get_db)):
    """Single use, before it expires: binds a :class:`Consent` (person, dietitian, the invitation's scopes)."""
    inv = _find_invitation(db, token, user)
    now = utcnow()
    claimed = db.execute(
        update(Invitation)
        .where(Invitation.id == inv.id, Invitation.used_at.is_(None), Invitation.expires_at > now)
        .values(used_at=now, person_id=user.id)
    )
    won = cast(CursorResult, claimed).rowcount  # an UPDATE's result is a CursorResult
    if won != 1:  # (no rollback: it would expire the session row the error page reads its CSRF token from)
        state = _invitation_state(inv, now)
        raise HTTPException(
            410,
            "This invitation was used already."
            if state == "used"
            else "This invitation has expired: ask your dietitian for a new link.",
        )
    for old in db.scalars(
        select(Consent).where(
            Consent.person_id == user.id, Consent.dietitian_id == inv.dietitian_id, Consent.revoked_at.is_(None)
        )
    ):
        old.revoked_at = now  # replaced by the new one
    c = Consent(person_id=user.id, dietitian_id=inv.dietitian_id, scopes=inv.scopes, granted_at=now)
    db.add(c)
    db.flush()
    audit.record(db, user.id, user.id, "write", "consent", f"consent:{c.id} granted {inv.scopes}")
    db.commit()
    return RedirectResponse("/sharing?accepted=1", status_code=303)


# --------------------------------------------------------------------------- sharing and audit (person)
@router.get("/sharing")
def sharing_page(request: Request, user: User = Depends(person_user), db: Session = Depends(get_db)):
    consents = db.scalars(select(Consent).where(Consent.person_id == user.id).order_by(Consent.id.desc())).all()
    people = {u.id: u for u in db.scalars(select(User).where(User.id.in_({c.dietitian_id for c in consents})))}
    rows = [
        {
            "id": c.id,
            "dietitian": display_name(people.get(c.dietitian_id)),
            "dietitian_id": c.dietitian_id,
            "scopes": scope_list(c.scopes),
            "granted_at": c.granted_at,
            "revoked_at": c.revoked_at,
        }
        for c in consents
    ]
    return render(
        request,
        "sharing.html",
        {
            "title": "Sharing",
            "active": [r for r in rows if r["revoked_at"] is None],
            "ended": [r for r in rows if r["revoked_at"] is not None],
            "scopes": SCOPES,
            "labels": SCOPE_LABELS,
        },
    )


def _own_consent(db: Session, user: User, consent_id: int) -> Consent:
    c = db.get(Consent, consent_id)
    if c is None or c.person_id != user.id:
        deny(db, user, "consent", f"consent {consent_id}", subject=c.person_id if c is not None else None)
    return c


@router.post("/sharing/{consent_id}/revoke")
def revoke_consent(consent_id: int, user: User = Depends(person_user), db: Session = Depends(get_db)):
    """Stop sharing with a dietitian: their very next request answers 404."""
    c = _own_consent(db, user, consent_id)
    if c.revoked_at is None:
        c.revoked_at = utcnow()
        audit.record(db, user.id, user.id, "write", "consent", f"consent:{c.id} revoked")
        db.commit()
    return RedirectResponse("/sharing?revoked=1", status_code=303)


@router.post("/sharing/{consent_id}/scopes")
def change_scopes(
    consent_id: int, scopes: list[str] = Form([]), user: User = Depends(person_user), db: Session = Depends(get_db)
):
    c = _own_consent(db, user, consent_id)
    if c.revoked_at is not None:
        raise HTTPException(409, "Sharing with this dietitian has ended; accept a new invitation to share again.")
    picked = _scopes_from_form(scopes, "chosen")
    if picked != scope_list(c.scopes):
        c.scopes = ",".join(picked)
        audit.record(db, user.id, user.id, "write", "consent", f"consent:{c.id} scopes {c.scopes}")
        db.commit()
    return RedirectResponse("/sharing?saved=1", status_code=303)


_ACTIONS = {"read": "viewed", "write": "changed", "denied": "was refused access to"}
_RESOURCES = {
    "diary": "your meal diary",
    "symptoms": "your symptoms",
    "stress": "your stress log",
    "microbiome": "your gut profile",
    "plan": "your plan",
    "caseload": "your summary in their caseload",
    "overview": "your overview",
    "note": "notes on your record",
    "messages": "your messages",
    "consent": "your sharing settings",
    "upload": "your uploads",
    "export": "your data export",
    "invitation": "an invitation",
    "route": "a page",
}


@router.get("/audit")
def my_audit(
    request: Request, before: int | None = Query(None), user: User = Depends(person_user), db: Session = Depends(get_db)
):
    """The person's own audit trail: who viewed, changed or was refused what, and when."""
    q = select(AuditEvent).where(AuditEvent.subject_id == user.id)
    if before is not None:
        q = q.where(AuditEvent.id < before)
    events = db.scalars(q.order_by(AuditEvent.id.desc()).limit(200)).all()
    actors = {u.id: u for u in db.scalars(select(User).where(User.id.in_({e.actor_id for e in events if e.actor_id})))}
    consent_ids = {int(m.group(1)) for e in events if (m := re.match(r"consent:(\d+)", e.record or ""))}
    consents = {c.id: c for c in db.scalars(select(Consent).where(Consent.id.in_(consent_ids)))} if consent_ids else {}
    more = {u.id: u for u in db.scalars(select(User).where(User.id.in_({c.dietitian_id for c in consents.values()})))}
    rows = []
    for e in events:
        a = actors.get(e.actor_id) if e.actor_id is not None else None
        who = "You" if e.actor_id == user.id else f"{display_name(a)} ({a.role if a is not None else 'unknown'})"
        detail = e.record or ""
        m = re.match(r"consent:(\d+)\s*(.*)", detail)
        if m:
            c = consents.get(int(m.group(1)))
            with_whom = display_name(more.get(c.dietitian_id)) if c is not None else "a dietitian"
            detail = f"sharing with {with_whom}: {m.group(2).replace(',', ', ')}"
        rows.append(
            {
                "at": e.at,
                "who": who,
                "action": _ACTIONS.get(e.action, e.action),
                "denied": e.action == "denied",
                "what": _RESOURCES.get(e.resource, e.resource),
                "detail": detail,
            }
        )
    return render(
        request,
        "my_audit.html",
        {"title": "Who saw your records", "events": rows, "older": events[-1].id if len(events) == 200 else None},
    )


# --------------------------------------------------------------------------- shared notes (person)
def shared_notes(db: Session, person_id: int) -> list[dict]:
    """The notes dietitians shared with the person, newest first (private notes are never selected)."""
    rows = db.execute(
        select(Note, User)
        .join(User, User.id == Note.author_id, isouter=True)
        .where(Note.person_id == person_id, Note.shared.is_(True))
        .order_by(Note.created_at.desc(), Note.id.desc())
    ).all()
    return [{"text": n.text, "target": n.target, "author": display_name(u), "at": n.created_at} for n, u in rows]


@router.get("/notes")
def my_notes(request: Request, user: User = Depends(person_user), db: Session = Depends(get_db)):
    return render(request, "notes.html", {"title": "Notes from your dietitian", "notes": shared_notes(db, user.id)})
