"""Store a submitted form once: every POST carries the form's client id (a UUID made when the
form was drawn), so a retried or double-clicked submit finds its row instead of adding one."""

from __future__ import annotations

import re
import uuid

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

__all__ = ["derived_client_id", "new_client_id", "store_once", "valid_client_id"]

_NS = uuid.UUID("6f1d2a4e-8c1b-4a57-9a43-3b0e5c7d9f10")  # derives per-row client ids (repeats, imports)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_client_id() -> str:
    return str(uuid.uuid4())


def derived_client_id(*parts) -> str:
    """A stable client id for a row made from another (a repeat of an entry, a row of an upload)."""
    return str(uuid.uuid5(_NS, ":".join(str(p) for p in parts)))


def valid_client_id(value: str | None) -> str:
    v = (value or "").strip().lower()
    if not _UUID.match(v):
        raise HTTPException(400, "The form is missing its id: reload the page and submit again.")
    return v


def store_once(db: Session, model, owner_field: str, owner_id: int, client_id: str, **fields):
    """The row of ``model`` with this owner and client id: the one stored before, or a new one.

    Returns ``(row, created)``.
    """
    client_id = valid_client_id(client_id)
    owner = getattr(model, owner_field)
    q = select(model).where(owner == owner_id, model.client_id == client_id)
    row = db.scalar(q)
    if row is not None:
        return row, False
    row = model(client_id=client_id, **{owner_field: owner_id}, **fields)
    db.add(row)
    try:
        db.commit()
    except IntegrityError:  # the same submit arrived twice at once
        db.rollback()
        return db.scalar(q), False
    return row, True
