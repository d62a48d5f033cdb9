"""Sign-up, login (throttled, same answer for unknown user and wrong password), TOTP, logout, password."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import throttle
from ..deps import current_session, current_user, get_db, render, settings_of
from ..models import User, WebSession, utcnow
from ..security import new_token, token_hash, totp_check, totp_new_secret

router = APIRouter()

LOGIN_FAILED = "Email or password is not right."
_NEXT = re.compile(r"^/invite/[A-Za-z0-9_-]{20,128}$")  # where a login may continue: an invitation link only


def _next(value: str | None) -> str:
    """A safe place to go after login or sign-up (never another site: not an open redirect)."""
    return value if value and _NEXT.match(value) else ""


def start_session(request: Request, db: Session, user: User, response) -> WebSession:
    """A fresh session for ``user`` (the old one of this browser, if any, is ended: rotation at login)."""
    s = settings_of(request)
    old = request.cookies.get(s.cookie_name)
    if old:
        db.execute(delete(WebSession).where(WebSession.token_hash == token_hash(old)))
    token = new_token()
    ws = WebSession(token_hash=token_hash(token), user_id=user.id, csrf_token=new_token())
    db.add(ws)
    db.commit()
    response.set_cookie(s.cookie_name, token, path="/", secure=s.secure_cookies, httponly=True, samesite="lax")
    return ws


def _home(user: User) -> str:
    return "/caseload" if user.role == "dietitian" else "/log"


@router.get("/")
def index(request: Request, db: Session = Depends(get_db)):
    ws = current_session(request, db)
    if ws is None:
        return RedirectResponse("/login", status_code=303)
    user = db.get(User, ws.user_id)
    return RedirectResponse(_home(user) if user else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = ""):
    return render(request, "login.html", {"title": "Log in", "next": _next(next)})


@router.post("/login")
def login(
    request: Request,
    email: str = Form(..., max_length=254),
    password: str = Form(..., max_length=256),
    next: str = Form("", max_length=200),
    db: Session = Depends(get_db),
):
    s = settings_of(request)
    ip = request.client.host if request.client else "?"
    wait = throttle.locked_for(db, email, ip)
    if wait:
        raise HTTPException(
            429, "Too many failed logins: wait before trying again.", headers={"Retry-After": str(wait)}
        )
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    # verify even an unknown account (the same time either way); it is False then
    ok = request.app.state.passwords.verify(user.password_hash if user else None, password)
    if user is None or not ok:
        wait = throttle.fail(db, email, ip, limit=s.login_limit, window_minutes=s.login_window_minutes)
        if wait:
            raise HTTPException(
                429, "Too many failed logins: wait before trying again.", headers={"Retry-After": str(wait)}
            )
        return render(
            request, "login.html", {"title": "Log in", "error": LOGIN_FAILED, "next": _next(next)}, status_code=400
        )
    throttle.clear(db, email)
    resp = RedirectResponse(
        "/totp" if user.role == "dietitian" or user.totp_last_step else _next(next) or _home(user), status_code=303
    )
    start_session(request, db, user, resp)
    return resp


@router.get("/signup")
def signup_page(request: Request, next: str = ""):
    return render(request, "signup.html", {"title": "Sign up", "next": _next(next)})


@router.post("/signup")
def signup(
    request: Request,
    email: str = Form(..., max_length=254),
    name: str = Form("", max_length=120),
    password: str = Form(..., max_length=256),
    role: str = Form("person"),
    next: str = Form("", max_length=200),
    db: Session = Depends(get_db),
):
    email = email.strip().lower()
    errors = []
    if "@" not in email or len(email) < 3:
        errors.append("Give an email address.")
    problem = request.app.state.passwords.problem(password, email)
    if problem:
        errors.append("Password: " + problem + ".")
    if role not in ("person", "dietitian"):
        errors.append("Choose 'person' or 'dietitian'.")
    if not errors and db.scalar(select(User.id).where(User.email == email)) is not None:
        errors.append("This email cannot be used; log in if it is yours.")
    if errors:
        return render(
            request,
            "signup.html",
            {"title": "Sign up", "errors": errors, "email": email, "name": name, "next": _next(next)},
            status_code=400,
        )
    user = User(email=email, name=name.strip(), password_hash=request.app.state.passwords.hash(password), role=role)
    db.add(user)
    db.commit()
    resp = RedirectResponse("/totp/setup" if role == "dietitian" else _next(next) or "/log", status_code=303)
    start_session(request, db, user, resp)
    return resp


@router.post("/logout")
def logout(request: Request, db: Session = Depends(get_db)):
    s = settings_of(request)
    ws = current_session(request, db)
    if ws is not None:
        db.delete(ws)
        db.commit()
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(s.cookie_name, path="/", secure=s.secure_cookies, httponly=True, samesite="lax")
    return resp


def _session_user(request: Request, db: Session) -> tuple[WebSession, User]:
    from ..deps import LoginRequired

    ws = current_session(request, db)
    user = db.get(User, ws.user_id) if ws else None
    if ws is None or user is None:
        raise LoginRequired()
    request.state.user = user
    return ws, user


@router.get("/totp/setup")
def totp_setup_page(request: Request, db: Session = Depends(get_db)):
    """A new key to add to an authenticator app; it is stored only when a code made with it comes back
    (a GET changes nothing)."""
    _ws, user = _session_user(request, db)
    if user.totp_last_step:
        return RedirectResponse("/totp", status_code=303)
    return _setup_page(request, user, totp_new_secret())


def _setup_page(request: Request, user: User, secret: str, *, error: str | None = None, status_code: int = 200):
    import pyotp

    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="gutaxis")
    return render(
        request,
        "totp.html",
        {"title": "Set up two-step login", "setup": True, "secret": secret, "uri": uri, "error": error},
        status_code=status_code,
    )


@router.get("/totp")
def totp_page(request: Request, db: Session = Depends(get_db)):
    _ws, user = _session_user(request, db)
    if not user.totp_last_step:
        return RedirectResponse("/totp/setup", status_code=303)
    return render(request, "totp.html", {"title": "Two-step login"})


@router.post("/totp")
def totp_verify(
    request: Request,
    code: str = Form(..., max_length=12),
    secret: str = Form("", max_length=64),
    db: Session = Depends(get_db),
):
    """Check a code: against the confirmed key, or at set-up against the new key shown on the page."""
    s = settings_of(request)
    ws, user = _session_user(request, db)
    ip = request.client.host if request.client else "?"
    key = f"totp:{user.email}"
    wait = throttle.locked_for(db, key, ip)
    if wait:
        raise HTTPException(429, "Too many wrong codes: wait before trying again.", headers={"Retry-After": str(wait)})
    setup = not user.totp_last_step
    if setup and not re.fullmatch(r"[A-Z2-7]{32}", secret or ""):
        return RedirectResponse("/totp/setup", status_code=303)
    step = totp_check(secret if setup else (user.totp_secret or ""), code, user.totp_last_step)
    if step is None:
        throttle.fail(db, key, ip, limit=s.login_limit, window_minutes=s.login_window_minutes)
        message = "That code is not right or was used already."
        if setup:
            return _setup_page(request, user, secret, error=message, status_code=400)
        return render(request, "totp.html", {"title": "Two-step login", "error": message}, status_code=400)
    if setup:
        user.totp_secret = secret
    user.totp_last_step = step
    ws.totp_ok = True
    db.commit()
    return RedirectResponse(_home(user), status_code=303)


@router.get("/account")
def account_page(request: Request, user: User = Depends(current_user)):
    return render(request, "account.html", {"title": "Account"})


@router.post("/account/password")
def change_password(
    request: Request,
    current: str = Form(..., max_length=256),
    new: str = Form(..., max_length=256),
    user: User = Depends(current_user),
    db: Session = Depends(get_db),
):
    pw = request.app.state.passwords
    user = db.merge(user)
    if not pw.verify(user.password_hash, current):
        return render(
            request,
            "account.html",
            {"title": "Account", "error": "The current password is not right."},
            status_code=400,
        )
    problem = pw.problem(new, user.email)
    if problem:
        return render(
            request, "account.html", {"title": "Account", "error": "New password: " + problem + "."}, status_code=400
        )
    user.password_hash = pw.hash(new)
    db.execute(delete(WebSession).where(WebSession.user_id == user.id))  # every other session ends
    db.commit()
    resp = RedirectResponse("/account?changed=1", status_code=303)
    ws = start_session(request, db, user, resp)
    if user.role == "dietitian":
        ws.totp_ok = True  # proven in the session that changed it
        db.commit()
    return resp


@router.post("/account/profile")
def update_profile(
    request: Request,
    sex: str = Form(""),
    age: str = Form(""),
    conditions: str = Form(""),
    hide_numbers: str = Form(""),
    user: User = Depends(current_user),
    db: Session = Depends(get_db),
):
    from ...errors import InputError
    from ...lifestyle.person import Person

    user = db.merge(user)
    try:  # the same validation as a person.json
        # the form's text as given: Person parses and checks it as it does a person.json's values
        raw: dict[str, Any] = {"sex": sex or None, "age": age or None, "conditions": conditions}
        p = Person(**raw, source="your profile")
    except InputError as exc:
        return render(
            request,
            "account.html",
            {"title": "Account", "error": exc.problem + (f" — {exc.hint}" if exc.hint else "")},
            status_code=400,
        )
    user.sex, user.age, user.conditions = p.sex, p.age, ",".join(p.conditions)
    user.hide_numbers = hide_numbers == "on"
    user.created_at = user.created_at or utcnow()
    db.commit()
    return RedirectResponse("/account?saved=1", status_code=303)
