"""The register of units: search, filter, add, edit, import and export."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from intake.storage import store
from intake.web.common import context

bp = Blueprint("register", __name__, url_prefix="/register")


@bp.route("/")
def units() -> Any:
    ctx = context()
    with ctx.sessions.begin() as db:
        rows = list(store.unit_rows(db, ctx.settings.award.year))
    return render_template("register_units.html", units=rows)
