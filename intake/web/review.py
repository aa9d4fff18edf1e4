"""The review queue: what the bot could not decide, oldest first, and one mail's page with the actions.

The pages only show and ask; every decision is a function of intake.pipeline.review, so the
command line makes the same ones. Each action is a POST with the CSRF token, audited under
the coordinator's name, and redirects to the queue with what it did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from intake.domain import AwardClass
from intake.pipeline.review import (
    OpenItem,
    ReviewError,
    accept_late,
    accept_match,
    add_unit_from_mention,
    dismiss,
    mark_not_protocol,
    open_items,
    review_item,
    search_units,
    send_manual_reply,
    unit_name,
)
from intake.web import labels
from intake.web.common import actor, context, fail

bp = Blueprint("review", __name__)

MAX_QUERY = 200
FIELD_LABELS = {
    "doc_type": "Dokumenttyp",
    "committee": "Nämnd eller styrelse",
    "meeting_date": "Sammanträdesdag",
    "paragraph": "Paragraf",
    "has_decision": "Beslut om deltagande",
    "decision_text": "Beslutstext",
    "year": "År för utmärkelsen",
    "adjusted": "Justerat eller bestyrkt",
    "certified": "Bestyrkt utdrag",
    "mentions": "Enheter som nämns",
    "diarienummer": "Diarienummer",
}
CLASSES = tuple(cls.value for cls in AwardClass)
OPERATORS = (("", "Ej angiven"), ("kommunal", "Kommunal"), ("enskild", "Enskild"))
NOT_FOUND = "Mejlet finns inte."


@bp.route("/")
def queue() -> Any:
    """Open review items, one row per mail, oldest mail first."""
    rows: dict[int, tuple[OpenItem, list[str]]] = {}
    for item in open_items(context()):
        rows.setdefault(item.message_pk, (item, []))[1].append(item.reason)
    return render_template("review_queue.html", rows=list(rows.values()))


@bp.route("/granskning/<int:pk>")
def item(pk: int) -> Any:
    ctx = context()
    query = request.args.get("sok", "").strip()[:MAX_QUERY]
    try:
        detail = review_item(ctx, pk)
    except LookupError:
        fail(404, NOT_FOUND)
    hits = search_units(ctx, query) if query else []
    views = current_app.view_functions
    return render_template(
        "review_item.html", item=detail, query=query, hits=hits, field_labels=FIELD_LABELS,
        classes=CLASSES, operators=OPERATORS,
        attachment_links="overview.attachment" in views, raw_link="overview.message_raw" in views,
    )


@bp.route("/granskning/<int:pk>/godkann", methods=["POST"])
def accept(pk: int) -> Any:
    return _match(pk, "accepted")


@bp.route("/granskning/<int:pk>/annan-enhet", methods=["POST"])
def other_unit(pk: int) -> Any:
    return _match(pk, "other_unit")


@bp.route("/granskning/<int:pk>/sent-godkant", methods=["POST"])
def late(pk: int) -> Any:
    def act() -> str:
        outcome = accept_late(context(), pk, actor(), reply=_reply_wanted(), item_id=_item_id())
        return f"Det sena protokollsutdraget räknas. Mejlet är nu: {_outcome(outcome)}.{_still(outcome)}"

    return _decide(pk, act)


@bp.route("/granskning/<int:pk>/inte-protokoll", methods=["POST"])
def not_protocol(pk: int) -> Any:
    def act() -> str:
        queued = mark_not_protocol(context(), pk, actor(), reply=_reply_wanted(), item_id=_item_id())
        told = (" Avsändaren får ett svar om vad som saknas." if queued else
                " Inget svar skickades.")
        return "Mejlet är markerat som inte ett protokollsutdrag (ofullständigt)." + told

    return _decide(pk, act)


@bp.route("/granskning/<int:pk>/ny-enhet", methods=["POST"])
def add_unit(pk: int) -> Any:
    form = request.form

    def act() -> str:
        unit, outcome = add_unit_from_mention(
            context(), pk, form.get("mention", ""), actor(), name=form.get("name", ""),
            award_class=form.get("award_class", ""), administration=form.get("administration", ""),
            board=form.get("board", ""), operator=form.get("operator") or None,
            contact_email=form.get("contact_email") or None, reply=_reply_wanted(), item_id=_item_id())
        return (f"{unit.name} är tillagd i registret under {unit.board} och matchad mot mejlet. "
                f"Mejlet är nu: {_outcome(outcome)}.{_still(outcome)}")

    return _decide(pk, act)


@bp.route("/granskning/<int:pk>/avfarda", methods=["POST"])
def dismiss_item(pk: int) -> Any:
    def act() -> str:
        dismiss(context(), pk, request.form.get("reason", ""), actor(), item_id=_item_id())
        return "Granskningen är avfärdad utan svar."

    return _decide(pk, act)


@bp.route("/granskning/<int:pk>/svara", methods=["POST"])
def reply(pk: int) -> Any:
    def act() -> str:
        send_manual_reply(context(), pk, request.form.get("text", ""), actor(), item_id=_item_id())
        return "Svaret ligger i utkorgen och skickas till avsändaren."

    return _decide(pk, act)


def _match(pk: int, resolution: str) -> Any:
    unit_id = request.form.get("unit_id", "").strip()
    mention = request.form.get("mention", "")

    def act() -> str:
        if not unit_id:
            raise ReviewError("Välj en enhet.")
        outcome = accept_match(context(), pk, unit_id, mention, actor(), reply=_reply_wanted(),
                               resolution=resolution, item_id=_item_id())
        name = unit_name(context(), unit_id) or unit_id
        spelling = " ".join(mention.split())
        return f"”{spelling}” är nu {name}. Mejlet är nu: {_outcome(outcome)}.{_still(outcome)}"

    return _decide(pk, act)


def _decide(pk: int, act: Callable[[], str]) -> Any:
    """Run one decision: to the queue with what it did, or back to the mail with why it could not."""
    try:
        text = act()
    except ReviewError as exc:
        flash(str(exc), "error")
        return redirect(url_for("review.item", pk=pk), code=303)
    except LookupError:
        fail(404, "Mejlet eller enheten finns inte.")
    flash(text, "success")
    return redirect(url_for("review.queue"), code=303)


def _item_id() -> int | None:
    value = request.form.get("item", "")
    return int(value) if value.isdigit() else None


def _reply_wanted() -> bool:
    return request.form.get("svara") == "1"


def _still(outcome: object) -> str:
    return " Mejlet ligger kvar i granskningen." if outcome == "needs_review" else ""


def _outcome(code: object) -> str:
    return labels.OUTCOMES.get(str(code) if code is not None else None, str(code))
