"""Per-request plumbing: the database session, who is logged in, CSRF, and rendering pages.

Routes depend on :func:`get_db` and one of :func:`current_user`, :func:`person_user` or
:func:`dietitian_user`; every unsafe request passes :func:`csrf_check` (installed app-wide).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from .models import User, WebSession, utcnow
from .security import same, token_hash

__all__ = [
    "LoginRequired",
    "SecondFactorRequired",
    "csrf_check",
    "current_session",
    "current_user",
    "dietitian_user",
    "get_db",
    "person_user",
    "render",
    "settings_of",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """No valid session: pages redirect to the login, other requests get 401."""


class SecondFactorRequired(Exception):
    """A clinician has not passed TOTP in this session."""


def settings_of(request: Request):
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    db = request.app.state.sessions()
    try:
        yield db
    finally:
        db.close()


def current_session(request: Request, db: Session) -> WebSession | None:
    """The valid server-side session of this request, or None (expired ones are deleted)."""
    if hasattr(request.state, "web_session"):
        return request.state.web_session
    s = settings_of(request)
    token = request.cookies.get(s.cookie_name)
    ws = None
    if token:
        ws = db.scalar(select(WebSession).where(WebSession.token_hash == token_hash(token)))
        if ws is not None:
            now = utcnow()
            if now - ws.last_seen_at > timedelta(minutes=s.session_idle_minutes) or now - ws.created_at > timedelta(
                hours=s.session_max_hours
            ):
                db.delete(ws)
                db.commit()
                ws = None
            elif now - ws.last_seen_at > timedelta(seconds=60):  # idle clock, not every request
                ws.last_seen_at = now
                db.commit()
    request.state.web_session = ws
    request.state.csrf_token = ws.csrf_token if ws is not None else None  # a string survives a rollback
    return ws


def current_user(request: Request, db: Session = Depends(get_db)) -> User:
    ws = current_session(request, db)
    if ws is None:
        raise LoginRequired()
    user = db.get(User, ws.user_id)
    if user is None:
        raise LoginRequired()
    if (
        user.role == "dietitian" or user.totp_last_step
    ) and not ws.totp_ok:  # required for clinicians, offered to people
        raise SecondFactorRequired()
    request.state.user = user
    return user


def person_user(request: Request, user: User = Depends(current_user), db: Session = Depends(get_db)) -> User:
    """The logged-in person; anyone else gets 404 and a ``denied`` audit row."""
    if user.role != "person":
        from .access import deny

        deny(db, user, "route", request.url.path)
    return user


def dietitian_user(request: Request, user: User = Depends(current_user), db: Session = Depends(get_db)) -> User:
    """The logged-in clinician (second factor passed); anyone else gets 404 and a ``denied`` audit row."""
    if user.role != "dietitian":
        from .access import deny

        deny(db, user, "route", request.url.path)
    return user


def expected_csrf(request: Request, db: Session) -> str:
    """The token this request's forms carry: the session's, or before login the pre-session cookie's."""
    ws = current_session(request, db)
    return ws.csrf_token if ws is not None else request.state.preauth_csrf


async def csrf_check(request: Request, db: Session = Depends(get_db)) -> None:
    """Refuse an unsafe request that is cross-site or lacks this session's token (403).

    Uses the request's one database session (shared with the route through dependency caching)."""
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(status_code=403, detail="Cross-site request refused")
    sent: str | UploadFile | None = request.headers.get("x-csrf-token")
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            sent = form.get("csrf_token")
    want = expected_csrf(request, db)
    if not same(str(sent) if sent else None, want):
        raise HTTPException(
            status_code=403, detail="The form expired or came from another site: reload the page and try again"
        )


def render(
    request: Request, name: str, context: dict | None = None, *, status_code: int = 200, db: Session | None = None
):
    """Render a page with the user, the CSRF token and the app's settings in its context."""
    ctx = dict(context or {})
    user = getattr(request.state, "user", None)
    ctx.setdefault("user", user)
    ctx["csrf_token"] = getattr(request.state, "csrf_token", None) or request.state.preauth_csrf
    ctx.setdefault("title", "gutaxis")
    return request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status_code)
