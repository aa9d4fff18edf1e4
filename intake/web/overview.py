"""The season overview and the message log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from intake.storage.reports import messages_report
from intake.web.common import context

bp = Blueprint("overview", __name__)


@bp.route("/oversikt")
def season() -> Any:
    return render_template("overview_season.html")


@bp.route("/mejl")
def messages() -> Any:
    with context().sessions.begin() as db:
        rows = messages_report(db)
    return render_template("overview_messages.html", messages=rows)
