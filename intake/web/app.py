"""The Flask application: configuration, security hooks, filters, and the blueprints."""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from intake.pipeline import Context
from intake.replies import swedish_date
from intake.storage import store
from intake.web import auth, common, health, labels, overview, register, review, security

log = logging.getLogger(__name__)
SECRET_SETTING = "web_secret_key"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # a register file; the import checks its own limits


def create_app(ctx: Context) -> Flask:
    """The web desk on the bot's context (settings, database sessions, reply renderer, clock)."""
    folder = Path(ctx.renderer.template_dir) / "web"
    app = Flask(__name__, template_folder=str(folder), static_folder=str(folder / "static"),
                static_url_path="/static")
    web = ctx.settings.web
    app.config.update(
        SECRET_KEY=web.secret_key or _stored_secret(ctx),
        SESSION_COOKIE_NAME="intake_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=web.session_minutes),
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["intake"] = ctx
    app.jinja_env.autoescape = True  # every template, whatever its name: mail content is never trusted
    app.jinja_env.filters.update(
        when=lambda value: local_time(ctx, value),
        day=lambda value: swedish_date(value) if isinstance(value, date) else "",
        outcome=lambda code: labels.OUTCOMES.get(code, code),
        state=lambda code: labels.STATES.get(code, code),
        missing=lambda code: labels.MISSING.get(code, code),
        doc_type=lambda code: labels.DOC_TYPES.get(code, code),
        reply_status=lambda code: labels.REPLY_STATUSES.get(code, code),
        reply_kind=lambda code: labels.REPLY_KINDS.get(code, code),
        resolution=lambda code: labels.RESOLUTIONS.get(code, code or ""),
    )
    app.jinja_env.globals.update(award=ctx.settings.award, product="Kvalitetsutmärkelsen")
    security.install(app)
    for blueprint in (auth.bp, health.bp, review.bp, register.bp, overview.bp):
        app.register_blueprint(blueprint)
    app.register_error_handler(HTTPException, _error_page)
    return app


def local_time(ctx: Context, value: datetime | None) -> str:
    """'2017-05-12 14:03' in the award's time zone, '' for None."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ctx.settings.award.tz).strftime("%Y-%m-%d %H:%M")


def _stored_secret(ctx: Context) -> str:
    """A random session key made once and kept in the database, so sign-ins survive a restart."""
    with ctx.sessions.begin() as session:
        key = store.setting(session, SECRET_SETTING)
        if key is None:
            key = secrets.token_urlsafe(48)
            store.set_setting(session, SECRET_SETTING, key)
        return key


ERROR_TEXTS = {
    400: "Begäran kunde inte tas emot. Om du skickade ett formulär kan sidan ha varit för gammal: "
         "ladda om sidan och försök igen.",
    403: "Du har inte behörighet till den här sidan.",
    404: "Sidan finns inte.",
    405: "Det går inte att göra så på den här sidan.",
    413: "Filen är för stor.",
}


def _error_page(error: HTTPException) -> Any:
    code = error.code or 500
    detail = error.description if isinstance(error, common.Refusal) else ""
    return render_template("error.html", code=code, text=ERROR_TEXTS.get(code, "Något gick fel."),
                           detail=detail), code


def serve_in_background(app: Flask, host: str, port: int, *, threads: int = 4) -> Any:
    """The desk served by waitress in a daemon thread, beside the daemon; `.close()` stops it."""
    from waitress.server import create_server

    server = create_server(app, host=host, port=port, threads=threads, ident="intake")
    threading.Thread(target=server.run, name="web", daemon=True).start()
    log.info("web desk on http://%s:%d/", host, port)
    return server


def serve(app: Flask, host: str, port: int, *, threads: int = 4) -> None:
    """Serve the desk with waitress (a production WSGI server, pure Python) until interrupted."""
    from waitress import serve as waitress_serve

    log.info("web desk on http://%s:%d/", host, port)
    waitress_serve(app, host=host, port=port, threads=threads, ident="intake")
