"""What the dietitian's pages and the person's sharing pages both use: scope labels, display names, access.

:func:`client_access` is the one way into a client page (one audit row, 404 without an active
consent); :func:`scope_list` reads a consent's or an invitation's scopes and :func:`_scopes_from_form`
checks the ones a form chose. Kept apart from :mod:`.dietitian` and :mod:`.sharing` so both (and
:mod:`.messages`, :mod:`.labs`, :mod:`.plans`, through :mod:`.dietitian`) import them without a cycle.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import HTTPException
from sqlalchemy.orm import Session

from ..access import access, active_consent
from ..models import SCOPES, Invitation, User

#: what each scope lets a dietitian see, in plain words
SCOPE_LABELS = {
    "diary": "meal diary",
    "symptoms": "symptoms",
    "stress": "stress",
    "microbiome": "gut profile",
    "plan": "plan (drafts and signed plans)",
}
MAX_TEXT = 5000


def display_name(u: User | None) -> str:
    if u is None:
        return "a deleted account"
    return u.name or u.email


def scope_list(text: str | None) -> list[str]:
    return [s for s in (text or "").split(",") if s in SCOPES]


def client_scopes(db: Session, user: User, pid: int) -> list[str]:
    """The scopes the person shares with this dietitian now (for the page's links)."""
    c = active_consent(db, pid, user.id)
    return scope_list(c.scopes) if c is not None else []


def client_access(
    db: Session,
    user: User,
    pid: int,
    scope: str | None = None,
    *,
    resource: str,
    action: str = "read",
    record: str = "",
) -> User:
    """:func:`access` for a client page; ``scope=None`` (overview, messages, notes) asks for any scope
    the person shares with this dietitian. One audit row either way."""
    if scope is None:
        c = active_consent(db, pid, user.id) if user.role == "dietitian" else None
        scopes = scope_list(c.scopes) if c is not None else []
        scope = scopes[0] if scopes else "diary"
    return access(db, user, pid, scope, action=action, record=record, resource=resource)


def _text(value: str, what: str, limit: int = MAX_TEXT) -> str:
    value = (value or "").replace("\r\n", "\n").strip()
    if not value:
        raise HTTPException(400, f"Write the {what} first.")
    if len(value) > limit:
        raise HTTPException(400, f"The {what} is too long: at most {limit} characters.")
    return value


def _scopes_from_form(scopes: list[str], chosen: str) -> list[str]:
    picked = [s for s in SCOPES if s in set(scopes)]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise HTTPException(400, "Unknown sharing choice: use " + ", ".join(SCOPES) + ".")
    if not picked:
        if chosen:
            raise HTTPException(400, "Choose at least one thing to share (or stop sharing).")
        picked = list(SCOPES)
    return picked


def _invitation_state(inv: Invitation, now: datetime) -> str:
    if inv.used_at is not None:
        return "used"
    if inv.expires_at <= now:
        return "expired"
    return "open"
