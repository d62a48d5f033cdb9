"""The application factory: routes, pages, security headers, error pages.

The app is a face like the CLI: it stores what people log and calls :mod:`gutaxis.lifestyle`,
:mod:`gutaxis.measure` and :func:`gutaxis.lifestyle.build_plan` for every number it shows.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import cast

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from .db import make_engine, migrate, session_factory
from .deps import LoginRequired, SecondFactorRequired, csrf_check, render
from .security import Passwords, new_token
from .settings import Settings

__all__ = ["DB_RETRY_AFTER", "PUBLIC_ROUTES", "SECURITY_HEADERS", "api_routes", "create_app", "database_outage"]

log = logging.getLogger("gutaxis.web")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
#: routes reachable without a session (everything else answers 401 or redirects to the login)
PUBLIC_ROUTES = frozenset({"/", "/login", "/signup", "/logout", "/invite/{token}", "/healthz", "/static"})
#: seconds a client is asked to wait (``Retry-After``) while the database cannot be reached
DB_RETRY_AFTER = 10
DB_DOWN_WRITE = (
    "The database cannot be reached right now, so what you sent was NOT saved. Send it again in a moment "
    "(go back and press the button again, or reload this page): the same entry is stored only once, "
    "even if part of it had got through."
)
DB_DOWN_READ = "The database cannot be reached right now, so this page cannot be shown. Try again in a moment."


def database_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database went away (server down, connection lost or refused, pool
    exhausted by a hung server) rather than a fault of the request or of the code."""
    if isinstance(exc, PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))
    )


def create_app(settings: Settings | None = None, *, migrate_db: bool = True) -> FastAPI:
    """Build the app for ``settings`` (creating and migrating the database on first start)."""
    settings = settings or Settings()
    url = cast(str, settings.database_url)  # Settings.__post_init__ always fills it
    engine = make_engine(url, settings.database_key)  # the key: SQLCipher (gutaxis.web.sqlcipher)
    if migrate_db:
        migrate(engine)
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    if settings.master_key:  # per-person encryption (gutaxis.web.person_keys); a wrong key refuses to start
        from .person_keys import attach

        attach(engine, settings)

    app = FastAPI(title="gutaxis", docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(csrf_check)])
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.passwords = Passwords(settings.argon2)
    templates = Jinja2Templates(directory=str(resources.files("gutaxis.web") / "templates"))
    templates.env.globals["SYNTHETIC_NOTE"] = "SYNTHETIC demo data: invented, describes no real person."
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(resources.files("gutaxis.web") / "static")), name="static")

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        # bounded body before anything parses it; the route checks the exact file size
        length = request.headers.get("content-length")
        if length is None and request.method in ("POST", "PUT", "PATCH") and "transfer-encoding" in request.headers:
            # a chunked body has no size to check before it is spooled: browsers always send a length
            resp = PlainTextResponse("Send the request with a Content-Length.", status_code=411)
            _headers(resp, static=False)
            return resp
        if length is not None and (not length.isdigit() or int(length) > settings.max_upload + 64 * 1024):
            resp = PlainTextResponse(
                f"Upload too large: the limit is {settings.max_upload // (1024 * 1024)} MB.", status_code=413
            )
            _headers(resp, static=False)
            return resp
        cookie = request.cookies.get(settings.csrf_cookie_name)
        request.state.preauth_csrf = cookie if cookie and 20 <= len(cookie) <= 64 else new_token()
        response = await call_next(request)
        if request.state.preauth_csrf != cookie:
            response.set_cookie(
                settings.csrf_cookie_name,
                request.state.preauth_csrf,
                path="/",
                secure=settings.secure_cookies,
                httponly=True,
                samesite="lax",
            )
        _headers(response, static=request.url.path.startswith("/static/"))
        return response

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/login", status_code=303)
        return PlainTextResponse("Log in first.", status_code=401)

    @app.exception_handler(SecondFactorRequired)
    async def _second(request: Request, exc: SecondFactorRequired):
        return RedirectResponse("/totp", status_code=303)

    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException and the router's own 404/405
    async def _http(request: Request, exc: StarletteHTTPException):
        headers = getattr(exc, "headers", None) or {}
        if "text/html" in request.headers.get("accept", ""):
            resp = render(
                request, "error.html", {"status": exc.status_code, "message": _public(exc)}, status_code=exc.status_code
            )
            resp.headers.update(headers)
            return resp
        return JSONResponse({"detail": _public(exc)}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        fields = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
        msg = "Some fields are missing or not valid: " + ", ".join(fields) + ". Check them and submit again."
        if "text/html" in request.headers.get("accept", ""):
            return render(request, "error.html", {"status": 400, "message": msg}, status_code=400)
        return JSONResponse({"detail": msg, "fields": fields}, status_code=400)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def _database_down(request: Request, exc: Exception):
        if not database_outage(exc):
            raise exc  # an IntegrityError, a bad query...: the crash handler below (500)
        route = request.scope.get("route")
        orig = getattr(exc, "orig", None)
        log.warning(
            "database unreachable on %s %s: %s%s",
            request.method,
            route.path if route else "?",
            type(exc).__name__,
            f" ({type(orig).__module__}.{type(orig).__name__})" if orig is not None else "",
        )  # types only: the message may quote the statement's values
        msg = DB_DOWN_READ if request.method in ("GET", "HEAD") else DB_DOWN_WRITE
        headers = {"Retry-After": str(DB_RETRY_AFTER)}
        if "text/html" in request.headers.get("accept", ""):
            # no user in the context: the page must not touch the database (the nav needs none)
            resp = render(
                request,
                "error.html",
                {"status": 503, "heading": "The database cannot be reached", "message": msg, "user": None},
                status_code=503,
            )
            resp.headers.update(headers)
            return resp
        return JSONResponse({"detail": msg}, status_code=503, headers=headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        route = request.scope.get("route")
        log.error(
            "unhandled error on %s %s: %s",
            request.method,
            route.path if route else "?",
            type(exc).__name__,
        )  # no values: they may be personal
        return PlainTextResponse(
            "Something went wrong on our side; nothing you sent was lost. Try again.", status_code=500
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz():
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (DBAPIError, PoolTimeout) as exc:
            log.warning("health check: the database cannot be reached (%s)", type(exc).__name__)
            return JSONResponse(
                {"ok": False, "database": "unreachable"},
                status_code=503,
                headers={"Retry-After": str(DB_RETRY_AFTER)},
            )
        return {"ok": True, "database": "reachable"}

    from .routes import (
        auth,
        diary,
        dietitian,
        imports,
        jobs,
        labs,
        messages,
        patterns,
        person,
        plans,
        rights,
        sharing,
        uploads,
    )

    for r in (auth, person, diary, patterns, imports, uploads, jobs, labs, plans, dietitian, sharing, messages, rights):
        app.include_router(r.router)
    return app


def api_routes(app) -> list:
    """Every endpoint of the app (routers included), for route inventories."""
    from fastapi.routing import APIRoute

    out, todo = [], list(app.routes)
    while todo:
        r = todo.pop(0)
        if isinstance(r, APIRoute):
            out.append(r)
        elif hasattr(r, "original_router"):  # FastAPI >= 0.16x keeps included routers as one entry
            todo.extend(r.original_router.routes)
        elif hasattr(r, "routes") and not hasattr(r, "app"):
            todo.extend(r.routes)
    return out


def _public(exc: StarletteHTTPException) -> str:
    return exc.detail if isinstance(exc.detail, str) else "Request refused"


def _headers(response, *, static: bool) -> None:
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    response.headers["Cache-Control"] = "public, max-age=3600" if static else "no-store"
