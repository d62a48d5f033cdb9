"""The one access check: a person's own data, or a dietitian with an active consent for that scope.

Anything else answers 404 (not 403: an id that exists must look like one that does not) and
leaves a ``denied`` audit row. A dietitian's allowed read or write leaves a ``read``/``write`` row.
"""

from __future__ import annotations

from typing import NoReturn

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .models import SCOPES, Consent, User

__all__ = ["NotFound", "access", "active_consent", "deny"]


def NotFound() -> HTTPException:
    return HTTPException(status_code=404, detail="Not found")


def deny(db: Session, actor: User, resource: str, record: str = "", subject: int | None = None) -> NoReturn:
    """Answer 404 after a ``denied`` audit row: for ids that do not exist or are not the actor's."""
    audit.record(db, actor.id, subject, "denied", resource, record)
    db.commit()
    raise NotFound()


def active_consent(db: Session, person_id: int, dietitian_id: int) -> Consent | None:
    return db.scalar(
        select(Consent)
        .where(Consent.person_id == person_id, Consent.dietitian_id == dietitian_id, Consent.revoked_at.is_(None))
        .order_by(Consent.id.desc())
        .limit(1)
    )


def access(
    db: Session,
    actor: User,
    person_id: int | None,
    scope: str,
    *,
    action: str = "read",
    record: str = "",
    resource: str | None = None,
) -> User:
    """The person whose ``scope`` data ``actor`` may use, or raise 404 after a ``denied`` audit row.

    ``resource`` names what was read in the audit row (default: the scope).
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    person = db.get(User, person_id) if person_id is not None else None
    if person is not None and person.role == "person":
        if actor.id == person.id:
            return person
        if actor.role == "dietitian":
            c = active_consent(db, person.id, actor.id)
            if c is not None and scope in c.scopes.split(","):
                audit.record(db, actor.id, person.id, action, resource or scope, record)
                db.commit()
                return person
    audit.record(db, actor.id, person_id, "denied", resource or scope, record)
    db.commit()
    raise NotFound()
