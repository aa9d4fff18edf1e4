"""Sign-in and sign-out pages (/healthz and /metrics are in intake.web.health)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from intake.storage import store
from intake.web import accounts
from intake.web.common import context
from intake.web.security import safe_next, sign_in

bp = Blueprint("auth", __name__)
MAX_FAILURES = 5  # failed sign-ins for one user name within LOCKOUT before it is locked that long
LOCKOUT = timedelta(minutes=15)


@bp.route("/logga-in", methods=["GET", "POST"])
def login() -> Any:
    next_page = request.values.get("next", "")
    if g.user is not None:
        return redirect(safe_next(next_page))
    if request.method == "GET":
        return render_template("login.html", next_page=next_page, username="")
    ctx = context()
    username = request.form.get("username", "").strip().lower()
    password = request.form.get("password", "")
    with ctx.sessions.begin() as db:
        subject = f"user:{username}"
        failures = store.audit_count(db, "login_failed", subject, ctx.clock() - LOCKOUT)
        user = None if failures >= MAX_FAILURES else accounts.authenticate(db, username, password)
        if user is None:
            store.audit(db, f"web:{username or '-'}", "login_failed", subject, address=request.remote_addr)
        else:
            user.last_login_at = ctx.clock()
            store.audit(db, f"web:{user.username}", "login", subject, address=request.remote_addr)
    if user is None:
        message = ("För många misslyckade inloggningar. Vänta en kvart och försök igen."
                   if failures >= MAX_FAILURES else "Fel användarnamn eller lösenord.")
        return render_template("login.html", next_page=next_page, username=username, error=message), 401
    sign_in(user.username)
    return redirect(safe_next(next_page))


@bp.route("/logga-ut", methods=["POST"])
def logout() -> Any:
    ctx = context()
    with ctx.sessions.begin() as db:
        store.audit(db, f"web:{g.user}", "logout", f"user:{g.user}")
    session.clear()
    flash("Du är utloggad.", "info")
    return redirect(url_for("auth.login"))
