"""Login throttling kept in the database, per account and per client address (ASVS 6.1.1, 6.3.1)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from .models import LoginFailure, utcnow

__all__ = ["clear", "fail", "locked_for"]

IP_FACTOR = 10  # an address may fail this many times more than one account (shared NAT, a clinic)


def _keys(email: str, ip: str) -> list[tuple[str, int]]:
    return [(f"acct:{email.strip().lower()}", 1), (f"ip:{ip}", IP_FACTOR)]


def locked_for(db: Session, email: str, ip: str) -> int:
    """Seconds until a login for ``email`` from ``ip`` may be tried again (0: now)."""
    now = utcnow()
    wait = 0
    for key, _ in _keys(email, ip):
        row = db.get(LoginFailure, key)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            wait = max(wait, int((row.locked_until - now).total_seconds()) + 1)
    return wait


def fail(db: Session, email: str, ip: str, *, limit: int, window_minutes: int) -> int:
    """Count one failure; returns the lock in seconds when a limit is reached now (else 0)."""
    now = utcnow()
    window = timedelta(minutes=window_minutes)
    wait = 0
    for key, factor in _keys(email, ip):
        row = db.get(LoginFailure, key)
        if row is None:
            row = LoginFailure(key=key, count=0, first_at=now)
            db.add(row)
        if now - row.first_at > window:
            row.count, row.first_at, row.locked_until = 0, now, None
        row.count += 1
        if row.count >= limit * factor:
            row.locked_until = now + window
            wait = max(wait, int(window.total_seconds()))
    db.commit()
    return wait


def clear(db: Session, email: str) -> None:
    row = db.get(LoginFailure, f"acct:{email.strip().lower()}")
    if row is not None:
        db.delete(row)
        db.commit()
