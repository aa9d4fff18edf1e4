"""Sign-in enforcement, idle timeout, CSRF tokens and response headers, as request hooks.

Two ways to be signed in:
- a session cookie (Flask's signed cookie) after the sign-in form; it lapses after
  `web.session_minutes` without a request;
- reverse-proxy single sign-on: when `web.trusted_user_header` is set (e.g. X-Remote-User),
  a request carrying that header is the named coordinator, who must have an active account.
  Only use it behind a proxy that sets the header itself and strips it from clients.

Every POST must carry the session's CSRF token (form field `csrf_token` or header
X-CSRF-Token), compared in constant time; SameSite=Lax cookies are a second line.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, flash, g, redirect, request, session, url_for

from intake.storage import store
from intake.web.common import context, fail

OPEN_ENDPOINTS = {"auth.login", "static", "health.healthz", "health.metrics"}  # metrics: own token check
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'")


def install(app: Flask) -> None:
    app.before_request(_check_request)
    app.after_request(_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def sign_in(username: str) -> None:
    """A fresh session for the coordinator: nothing of the signed-out session carries over."""
    session.clear()
    session.permanent = True
    session["user"] = username
    session["seen"] = int(time.time())
    csrf_token()


def safe_next(target: str | None) -> str:
    """A local path to go on to after signing in; anything else (another host) is the start page."""
    if not target:
        return url_for("review.queue")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("review.queue")
    return target


def _check_request() -> Any:
    g.user = None
    web = context().settings.web
    if web.trusted_user_header and request.headers.get(web.trusted_user_header):
        _proxy_user(request.headers[web.trusted_user_header])
    elif "user" in session:
        seen = session.get("seen", 0)
        if time.time() - seen > web.session_minutes * 60:
            session.clear()
            flash(f"Du har loggats ut efter {web.session_minutes} minuter utan aktivitet.", "info")
        else:
            g.user = session["user"]
            session["seen"] = int(time.time())
    if request.method in UNSAFE_METHODS and request.endpoint != "health.healthz":
        _check_csrf()
    if g.user is None and request.endpoint not in OPEN_ENDPOINTS:
        if request.method in UNSAFE_METHODS:
            fail(403, "Du är inte inloggad. Logga in och försök igen.")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return None


def _proxy_user(name: str) -> None:
    with context().sessions.begin() as db:
        user = store.user_by_name(db, name)
        if user is None or not user.active:
            fail(403, f"Kontot {name} har ingen behörighet till samordnarnas sidor.")
        g.user = user.username
    if session.get("user") != g.user:
        sign_in(g.user)


def _check_csrf() -> None:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        fail(400, "Formuläret kunde inte tas emot eftersom säkerhetskoden saknades eller var för "
                  "gammal. Ladda om sidan och försök igen.")


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response
