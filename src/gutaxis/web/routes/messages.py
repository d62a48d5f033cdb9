"""One message thread per person and dietitian.

A message is marked read when its reader replies or presses "Mark as read" (a POST): opening a
thread changes nothing, as no GET does. The dietitian's side needs an active consent (any scope);
a person writes only to a dietitian they share with now, and still reads a former one's thread.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..access import active_consent, deny
from ..deps import dietitian_user, get_db, person_user, render
from ..idempotency import new_client_id, valid_client_id
from ..models import Consent, Message, User, utcnow
from .consent import MAX_TEXT, _text, client_access, client_scopes, display_name

router = APIRouter()


def _thread(pid: int, did: int):
    return select(Message).where(Message.person_id == pid, Message.dietitian_id == did)


def _send(db: Session, sender: User, pid: int, did: int, client_id: str, text: str) -> None:
    """Store one message (once per client id) and mark the thread's messages to the sender as read."""
    cid = valid_client_id(client_id)
    _mark_read(db, sender, pid, did)
    if db.scalar(select(Message.id).where(Message.sender_id == sender.id, Message.client_id == cid)) is not None:
        return
    db.add(Message(person_id=pid, dietitian_id=did, sender_id=sender.id, client_id=cid, text=_text(text, "message")))
    try:
        db.commit()
    except IntegrityError:  # the same submit arrived twice at once
        db.rollback()


def _mark_read(db: Session, reader: User, pid: int, did: int) -> None:
    db.execute(
        update(Message)
        .where(
            Message.person_id == pid,
            Message.dietitian_id == did,
            Message.sender_id != reader.id,
            Message.read_at.is_(None),
        )
        .values(read_at=utcnow())
    )
    db.commit()


def _messages(db: Session, pid: int, did: int) -> list[Message]:
    return list(db.scalars(_thread(pid, did).order_by(Message.created_at, Message.id)))


@router.get("/clients/{pid}/messages")
def client_messages(request: Request, pid: int, user: User = Depends(dietitian_user), db: Session = Depends(get_db)):
    person = client_access(db, user, pid, resource="messages")
    msgs = _messages(db, pid, user.id)
    names = {user.id: "You", person.id: display_name(person)}
    return render(
        request,
        "messages.html",
        {
            "title": f"Messages with {display_name(person)}",
            "messages": msgs,
            "names": names,
            "me": user.id,
            "action": f"/clients/{pid}/messages",
            "read_action": f"/clients/{pid}/messages/read",
            "person": person,
            "client_id": new_client_id(),
            "can_send": True,
            "scopes": client_scopes(db, user, pid),
        },
    )


@router.post("/clients/{pid}/messages")
def client_send(
    pid: int,
    text: str = Form(..., max_length=MAX_TEXT + 100),
    client_id: str = Form(""),
    user: User = Depends(dietitian_user),
    db: Session = Depends(get_db),
):
    client_access(db, user, pid, action="write", resource="messages")
    _send(db, user, pid, user.id, client_id, text)
    return RedirectResponse(f"/clients/{pid}/messages", status_code=303)


@router.post("/clients/{pid}/messages/read")
def client_mark_read(pid: int, user: User = Depends(dietitian_user), db: Session = Depends(get_db)):
    client_access(db, user, pid, action="write", resource="messages")
    _mark_read(db, user, pid, user.id)
    return RedirectResponse(f"/clients/{pid}/messages", status_code=303)


def _my_dietitians(db: Session, user: User) -> list[dict]:
    """The person's dietitians: active ones first (can be written to), then former ones (read only)."""
    consents = db.scalars(select(Consent).where(Consent.person_id == user.id).order_by(Consent.id.desc())).all()
    people = {u.id: u for u in db.scalars(select(User).where(User.id.in_({c.dietitian_id for c in consents})))}
    out: dict[int, dict] = {}
    for c in consents:
        d = out.setdefault(
            c.dietitian_id, {"id": c.dietitian_id, "name": display_name(people.get(c.dietitian_id)), "active": False}
        )
        d["active"] = d["active"] or c.revoked_at is None
    unread = dict(
        db.execute(
            select(Message.dietitian_id, func.count(Message.id))
            .where(Message.person_id == user.id, Message.sender_id != user.id, Message.read_at.is_(None))
            .group_by(Message.dietitian_id)
        ).all()
    )
    for d in out.values():
        d["unread"] = unread.get(d["id"], 0)
    return sorted(out.values(), key=lambda d: (not d["active"], d["name"].lower()))


@router.get("/messages")
def my_messages(
    request: Request, d: int | None = Query(None), user: User = Depends(person_user), db: Session = Depends(get_db)
):
    dietitians = _my_dietitians(db, user)
    chosen = next((x for x in dietitians if x["id"] == d), None) if d is not None else None
    if d is not None and chosen is None:
        deny(db, user, "messages", f"thread with dietitian {d}")
    if chosen is None and dietitians:
        chosen = dietitians[0]
    msgs = _messages(db, user.id, chosen["id"]) if chosen else []
    names = {user.id: "You"}
    if chosen:
        names[chosen["id"]] = chosen["name"]
    return render(
        request,
        "messages.html",
        {
            "title": "Messages",
            "messages": msgs,
            "names": names,
            "me": user.id,
            "dietitians": dietitians,
            "chosen": chosen,
            "action": "/messages",
            "read_action": "/messages/read",
            "client_id": new_client_id(),
            "can_send": bool(chosen and chosen["active"]),
        },
    )


@router.post("/messages")
def my_send(
    dietitian: int = Form(...),
    text: str = Form(..., max_length=MAX_TEXT + 100),
    client_id: str = Form(""),
    user: User = Depends(person_user),
    db: Session = Depends(get_db),
):
    if active_consent(db, user.id, dietitian) is None:
        deny(db, user, "messages", f"thread with dietitian {dietitian}")
    _send(db, user, user.id, dietitian, client_id, text)
    return RedirectResponse(f"/messages?d={dietitian}", status_code=303)


@router.post("/messages/read")
def my_mark_read(dietitian: int = Form(...), user: User = Depends(person_user), db: Session = Depends(get_db)):
    if not any(x["id"] == dietitian for x in _my_dietitians(db, user)):
        deny(db, user, "messages", f"thread with dietitian {dietitian}")
    _mark_read(db, user, user.id, dietitian)
    return RedirectResponse(f"/messages?d={dietitian}", status_code=303)
