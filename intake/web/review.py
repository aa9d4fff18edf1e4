"""The review queue: what the bot could not decide, oldest first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from intake.pipeline import open_items
from intake.web.common import context

bp = Blueprint("review", __name__)


@bp.route("/")
def queue() -> Any:
    return render_template("review_queue.html", items=open_items(context()))
