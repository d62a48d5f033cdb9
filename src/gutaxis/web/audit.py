"""The audit trail: append-only and hash-chained, so that a changed or removed row is detected.

Every read or write of a person's health data by anyone but that person, and every denied
attempt, adds one :class:`~gutaxis.web.models.AuditEvent`. The person sees their own trail.

Appending is serialised (an advisory transaction lock on PostgreSQL, the write lock taken first
on SQLite) so that concurrent requests never link two events to the same predecessor.
``gutaxis admin verify-audit`` runs :func:`check_chain`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from .models import AuditEvent, utcnow

__all__ = ["GENESIS", "ChainReport", "check_chain", "record", "verify_chain"]

GENESIS = "0" * 64
_CHAIN_LOCK = 0x6775_7461_7869_73  # pg_advisory_xact_lock key of the chain's head ("gutaxis")


def _digest(prev: str, ev: AuditEvent) -> str:
    fields = [
        prev,
        ev.at.isoformat(timespec="microseconds"),
        str(ev.actor_id),
        str(ev.subject_id),
        ev.action,
        ev.resource,
        ev.record,
    ]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def record(
    db: Session, actor_id: int | None, subject_id: int | None, action: str, resource: str, record: str = ""
) -> AuditEvent:
    """Append one event (committed with the caller's transaction, which holds the chain until then)."""
    _lock_chain(db)
    prev = db.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    ev = AuditEvent(
        at=utcnow(),
        actor_id=actor_id,
        subject_id=subject_id,
        action=action,
        resource=resource,
        record=str(record)[:80],
        prev_hash=prev,
    )
    ev.hash = _digest(prev, ev)
    db.add(ev)
    db.flush()
    return ev


def _lock_chain(db: Session) -> None:
    """Hold the chain's head until this transaction ends."""
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
    elif conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is None:  # only on an invalidated connection; never skip the lock silently
            raise RuntimeError("the database connection is closed")
        if not raw.in_transaction:  # pysqlite opens a transaction only at the first write: take the write lock now
            conn.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass(frozen=True)
class ChainReport:
    """What :func:`check_chain` found: how many events it read, and the first that does not hold."""

    events: int
    broken_id: int | None = None
    reason: str = ""
    broken_at: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def check_chain(db: Session) -> ChainReport:
    """Walk the whole chain in id order (streamed) and report the first event whose link or hash fails."""
    prev, n = GENESIS, 0
    rows = db.scalars(select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000))
    for ev in rows:
        n += 1
        problem = ""
        if ev.prev_hash != prev:
            problem = "its link to the previous event does not match (an event before it was removed or changed)"
        elif _digest(prev, ev) != ev.hash:
            problem = "its contents do not match its hash (the row was changed)"
        if problem:
            rows.close()
            return ChainReport(n, ev.id, problem, ev.at.isoformat(timespec="seconds"))
        prev = ev.hash
    return ChainReport(n)


def verify_chain(db: Session) -> int | None:
    """The id of the first event whose hash or link does not hold, or None when the chain is intact."""
    return check_chain(db).broken_id
