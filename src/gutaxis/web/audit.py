"""The audit trail: append-only and hash-chained, so that a changed or removed row is detected.

Every read or write of a person's health data by anyone but that person, and every denied
attempt, adds one :class:`~gutaxis.web.models.AuditEvent`. The person sees their own trail.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEvent, utcnow

__all__ = ["record", "verify_chain", "GENESIS"]

GENESIS = "0" * 64


def _digest(prev: str, ev: AuditEvent) -> str:
    fields = [prev, ev.at.isoformat(timespec="microseconds"), str(ev.actor_id), str(ev.subject_id), ev.action,
              ev.resource, ev.record]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def record(db: Session, actor_id: int | None, subject_id: int | None, action: str, resource: str,
           record: str = "") -> AuditEvent:
    """Append one event (committed with the caller's transaction)."""
    prev = db.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    ev = AuditEvent(at=utcnow(), actor_id=actor_id, subject_id=subject_id, action=action, resource=resource,
                    record=str(record)[:80], prev_hash=prev)
    ev.hash = _digest(prev, ev)
    db.add(ev)
    db.flush()
    return ev


def verify_chain(db: Session) -> int | None:
    """The id of the first event whose hash or link does not hold, or None when the chain is intact."""
    prev = GENESIS
    for ev in db.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if ev.prev_hash != prev or _digest(prev, ev) != ev.hash:
            return ev.id
        prev = ev.hash
    return None
