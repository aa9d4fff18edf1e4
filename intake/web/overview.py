"""The season overview (counts, committees still missing, reminders) and the mail log with downloads.

Mail content is shown as text only: every template is autoescaped, HTML bodies are reduced
to their text, and raw mails and attachments are only ever served as downloads, except a PDF
or an image (recognised by its bytes, not by the sender's word) shown inline for the review
page, under `Content-Security-Policy: sandbox` (a PDF under a policy that allows nothing but
the browser's PDF viewer). A sender's file name never becomes a path:
it is reduced to a plain name for the Content-Disposition header.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from intake.domain import Attachment, ParsedMail
from intake.errors import MailParseError
from intake.identity import sha256_hex
from intake.parsing import parse_mail
from intake.pipeline import Context
from intake.pipeline.reminders import (
    REMINDER_GUARD,
    ReminderReport,
    auto_reminder_sent_at,
    auto_reminder_window,
    missing_committees,
    queue_reminders,
)
from intake.replies import swedish_date
from intake.storage import store
from intake.storage.models import MessageRow, ReplyRow
from intake.web.common import actor, context, fail

bp = Blueprint("overview", __name__)

PAGE_SIZE = 100  # mails a page in the log
RECENT_REMINDERS = 50  # reminders listed on the overview
STATES = ("awaiting_protocol", "needs_review", "confirmed")
OUTCOME_FILTERS = ("confirmed", "incomplete", "needs_review", "ignored")
UNPROCESSED = "ej-behandlat"  # the log's filter value for mails without an outcome
BACKLOG_STATUSES = ("queued", "held", "failed", "uncertain")
MESSAGE_STATUSES = {
    "stored": "Väntar på behandling",
    "processed": "Behandlat",
    "failed": "Behandlingen misslyckades",
    "duplicate": "Dubblett (samma Message-ID som ett tidigare mejl)",
}
# What a browser may show inline, recognised by the file's first bytes.
INLINE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
PDF_MAGIC = b"%PDF-"
PDF_SNIFF_BYTES = 1024  # PDF readers accept junk before the header; so do we, this far
SANDBOX = "sandbox"
PDF_POLICY = "default-src 'none'; object-src 'self'; plugin-types application/pdf; frame-ancestors 'self'"
FILENAME_LIMIT = 150
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"|?*]+')
_NOT_ASCII_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h\d)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


# --- the season overview -------------------------------------------------------------------


@bp.route("/oversikt")
def season() -> Any:
    ctx = context()
    award = ctx.settings.award
    today = _today(ctx)
    with ctx.sessions.begin() as db:
        units = list(store.unit_rows(db, award.year))
        by_state = Counter(row.state for row in units)
        by_class: dict[str, Counter[str]] = defaultdict(Counter)
        by_board: dict[str, Counter[str]] = defaultdict(Counter)
        for row in units:
            by_class[row.award_class][row.state] += 1
            by_board[row.board][row.state] += 1
        committees = missing_committees(ctx, db)
        outbox = store.reply_status_counts(db)
        reviews = store.count_open_reviews(db)
        reminders = [_reminder_view(row) for row in store.reminders(db, limit=RECENT_REMINDERS)]
        auto_sent = auto_reminder_sent_at(ctx, db)
        page = render_template(
            "overview_season.html",
            total=len(units),
            states=STATES,
            by_state=by_state,
            by_class=sorted(by_class.items(), key=lambda item: item[0].casefold()),
            by_board=sorted(by_board.items(), key=lambda item: item[0].casefold()),
            committees=committees,
            awaiting_units=sum(len(c.units) for c in committees),
            reminders=reminders,
            outbox={status: outbox.get(status, 0) for status in BACKLOG_STATUSES},
            reviews=reviews,
            deadline_text=deadline_text(award.protocol_deadline, today),
            auto=_auto_view(ctx, auto_sent),
            guard_hours=int(REMINDER_GUARD.total_seconds() // 3600),
        )
    return page


def deadline_text(deadline: date, today: date) -> str:
    """How far the deadline is, in Swedish."""
    days = (deadline - today).days
    if days > 1:
        return f"{days} dagar kvar till sista dagen."
    if days == 1:
        return "1 dag kvar: sista dagen är i morgon."
    if days == 0:
        return "Sista dagen är i dag."
    if days == -1:
        return "Sista dagen passerade i går."
    return f"Sista dagen passerade för {-days} dagar sedan."


def _today(ctx: Context) -> date:
    return ctx.clock().astimezone(ctx.settings.award.tz).date()


def _auto_view(ctx: Context, sent_at: str | None) -> dict[str, Any]:
    window = auto_reminder_window(ctx)
    sent = None
    if sent_at:
        try:
            sent = datetime.fromisoformat(sent_at)
        except ValueError:
            sent = None
    return {
        "on": window is not None,
        "days": ctx.settings.web.reminder_days,
        "first_day": swedish_date(window[0]) if window else "",
        "sent_at": sent,
    }


def _reminder_view(row: ReplyRow) -> dict[str, Any]:
    return {"pk": row.id, "created_at": row.created_at, "recipient": row.recipient, "subject": row.subject,
            "status": row.status, "sent_at": row.sent_at, "error": row.last_error}


@bp.route("/oversikt/paminnelse", methods=["POST"])
def remind() -> Any:
    board = " ".join(request.form.get("board", "").split())
    if not board:
        fail(400, "Ange vilken nämnd som ska påminnas.")
    report = queue_reminders(context(), actor(), [board])
    _flash_report(report)
    return redirect(url_for("overview.season") + "#saknas", code=303)


@bp.route("/oversikt/paminnelse-alla", methods=["POST"])
def remind_all() -> Any:
    report = queue_reminders(context(), actor())
    if not (report.queued or report.recent or report.no_contact):
        flash("Ingen nämnd väntar på protokollsutdrag: ingen påminnelse behövs.", "info")
    _flash_report(report)
    return redirect(url_for("overview.season") + "#saknas", code=303)


def _flash_report(report: ReminderReport) -> None:
    """Swedish messages for what a reminder request did."""
    for board, addresses in report.queued.items():
        flash(f"Påminnelse till {board} lagd i utkorgen ({_addresses(addresses)}). Den skickas när "
              "boten nästa gång går igenom utkorgen.", "success")
    for board, addresses in report.held.items():
        flash(f"Påminnelsen till {_addresses(addresses)} ({board}) hölls tillbaka: adressen har redan fått "
              "så många mejl som svarsgränsen tillåter den senaste timmen. Den syns i utkorgen som hållen.",
              "warning")
    for board, addresses in report.recent.items():
        if board in report.queued:
            flash(f"{_addresses(addresses)} fick redan en påminnelse om {board} det senaste dygnet och "
                  "påminns inte igen.", "warning")
        else:
            flash(f"Ingen påminnelse skickades till {board}: nämndens kontaktadresser fick en påminnelse "
                  "för mindre än ett dygn sedan. Samma adress påminns högst en gång per dygn.", "error")
    for board in report.no_contact:
        flash(f"{board} har ingen giltig kontaktadress i registret. Lägg till en e-postadress på "
              "nämndens enheter och försök igen.", "error")
    for board in report.unknown:
        flash(f"{board} väntar inte på något protokollsutdrag längre: ingen påminnelse skickades.", "error")


def _addresses(addresses: list[str]) -> str:
    return ", ".join(addresses)


# --- the mail log --------------------------------------------------------------------------


@bp.route("/mejl")
def messages() -> Any:
    ctx = context()
    chosen = request.args.get("utfall", "")
    if chosen not in (*OUTCOME_FILTERS, UNPROCESSED):
        chosen = ""
    page = max(request.args.get("sida", 1, type=int) or 1, 1)
    with ctx.sessions.begin() as db:
        rows, total = store.message_log(db, outcome=chosen if chosen in OUTCOME_FILTERS else None,
                                        unprocessed=chosen == UNPROCESSED,
                                        offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        replies = store.latest_replies(db, [row.id for row in rows])
        entries = [
            {"pk": row.id, "received_at": row.received_at, "from_addr": row.from_addr,
             "from_name": row.from_name, "subject": row.subject, "outcome": row.outcome,
             "missing": list(row.missing or []), "status": row.status, "reference": row.reference,
             "reply": replies.get(row.id)}
            for row in rows
        ]
    pages = max(math.ceil(total / PAGE_SIZE), 1)
    return render_template(
        "overview_messages.html", messages=entries, total=total, page=page, pages=pages,
        chosen=chosen, filters=OUTCOME_FILTERS, unprocessed=UNPROCESSED, statuses=MESSAGE_STATUSES,
    )


@bp.route("/mejl/<int:pk>")
def message(pk: int) -> Any:
    ctx = context()
    with ctx.sessions.begin() as db:
        row = _message_row(db, pk)
        mail, parse_error = _parse(row.raw)
        replies = [_reply_view(reply) for reply in row.replies]
        subjects = [f"message:{row.message_id}", *(f"reply:{reply.message_id}" for reply in row.replies)]
        audit = [
            {"at": entry.at, "actor": entry.actor, "action": entry.action, "detail": _detail(entry.detail)}
            for entry in store.audit_entries(db, subjects)
        ]
        case = [] if row.submission is None else [
            {"pk": other.id, "received_at": other.received_at, "subject": other.subject,
             "outcome": other.outcome}
            for other in row.submission.messages if other.id != row.id
        ]
        page = render_template(
            "overview_message.html",
            row=row,
            mail=mail,
            parse_error=parse_error,
            body=_body_text(mail) if mail is not None else "",
            attachments=_attachment_views(mail) if mail is not None else [],
            documents=list(row.attachments),
            matches=list(row.matches),
            replies=replies,
            audit=audit,
            case=case,
            reference=row.submission.reference if row.submission is not None else None,
            open_reviews=len(store.open_reviews(db, row)),
            statuses=MESSAGE_STATUSES,
        )
    return page


@bp.route("/mejl/<int:pk>/original.eml")
def message_raw(pk: int) -> Any:
    with context().sessions.begin() as db:
        raw = bytes(_message_row(db, pk).raw)
    return _download(raw, f"mejl-{pk}.eml", "message/rfc822")


@bp.route("/mejl/<int:pk>/bilaga/<int:index>")
def attachment(pk: int, index: int) -> Any:
    with context().sessions.begin() as db:
        raw = bytes(_message_row(db, pk).raw)
    files = mail_attachments(raw)
    if not 0 <= index < len(files):
        fail(404, "Bilagan finns inte i det här mejlet.")
    found = files[index]
    name = safe_filename(found.filename, f"bilaga-{index + 1}")
    if request.args.get("visa") == "1":
        kind = inline_type(found.data)
        if kind is None:
            fail(415, "Filen kan inte visas i webbläsaren; bara PDF-filer och bilder visas. "
                      "Ladda ner den i stället.")
        response = _download(found.data, name, kind, inline=True)
        # an image is sandboxed; a PDF (its bytes checked) is not, since Chromium refuses its PDF
        # viewer in a sandboxed document, but no script of ours or the sender's runs beside it
        response.headers["Content-Security-Policy"] = SANDBOX if kind != "application/pdf" else PDF_POLICY
        return response
    return _download(found.data, name, "application/octet-stream")


@bp.route("/mejl/svar/<int:reply_pk>.eml")
def reply_raw(reply_pk: int) -> Any:
    with context().sessions.begin() as db:
        row = db.get(ReplyRow, reply_pk)
        if row is None:
            fail(404, "Svaret finns inte.")
        raw, kind = bytes(row.raw), row.kind
    stem = "paminnelse" if kind == "reminder" else "svar"
    return _download(raw, f"{stem}-{reply_pk}.eml", "message/rfc822")


# --- helpers (also for the review page: the same attachment numbering) -------------------------


def mail_attachments(raw: bytes) -> list[Attachment]:
    """The files of a stored mail as `overview.attachment` numbers them (0-based): the mail's own
    attachments, then those of the mails forwarded inside it, as intake.parsing returns them."""
    try:
        return list(parse_mail(raw).all_attachments())
    except MailParseError:
        return []


def attachment_index(raw: bytes, sha256: str) -> int | None:
    """The `overview.attachment` index of the file with this SHA-256 (an AttachmentRow's), if the
    mail carries it as such (not when it came out of a ZIP or another container)."""
    for index, found in enumerate(mail_attachments(raw)):
        if sha256_hex(found.data) == sha256:
            return index
    return None


def inline_type(data: bytes) -> str | None:
    """The type to show the file inline as, read from its bytes: a PDF or a common image; else None."""
    if PDF_MAGIC in data[:PDF_SNIFF_BYTES]:
        return "application/pdf"
    for signature, kind in INLINE_SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def safe_filename(name: str, fallback: str) -> str:
    """A plain file name from a sender's: no folders, no control or reserved characters, no leading dots."""
    base = re.split(r"[\\/]", name)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip().lstrip(".").strip()
    if len(base) > FILENAME_LIMIT:
        stem, dot, suffix = base.rpartition(".")
        base = (stem[: FILENAME_LIMIT - len(suffix) - 1] + dot + suffix) if dot and len(suffix) <= 10 \
            else base[:FILENAME_LIMIT]
    return base or fallback


def content_disposition(name: str, *, inline: bool = False) -> str:
    """RFC 6266: an ASCII fallback and the UTF-8 name (RFC 8187)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = _NOT_ASCII_NAME.sub("_", ascii_name).strip() or "fil"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _download(data: bytes, name: str, mimetype: str, *, inline: bool = False) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(name, inline=inline)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _message_row(db: Session, pk: int) -> MessageRow:
    row = db.get(MessageRow, pk)
    if row is None:
        fail(404, "Mejlet finns inte.")
    return row


def _parse(raw: bytes) -> tuple[ParsedMail | None, str | None]:
    try:
        return parse_mail(raw), None
    except MailParseError as exc:
        return None, str(exc)


def _body_text(mail: ParsedMail) -> str:
    """The mail's text; an HTML-only mail reduced to its text (shown escaped in any case)."""
    if mail.text_body.strip():
        return mail.text_body
    return html_text(mail.html_body)


def html_text(markup: str) -> str:
    text = _TAG.sub("", _BREAK.sub("\n", _SCRIPT.sub(" ", markup)))
    lines = (" ".join(line.split()) for line in html.unescape(text).splitlines())
    return "\n".join(line for line in lines if line)


@dataclass(frozen=True, slots=True)
class AttachmentView:
    index: int
    filename: str
    content_type: str
    size: int
    viewable: bool
    forwarded: str  # the forwarded mail's subject when the file came inside one, else ""


def _attachment_views(mail: ParsedMail) -> list[AttachmentView]:
    views: list[AttachmentView] = []

    def add(files: tuple[Attachment, ...], forwarded: str) -> None:
        for found in files:
            views.append(AttachmentView(len(views), found.filename, found.content_type, len(found.data),
                                        inline_type(found.data) is not None, forwarded))

    def walk(inner: ParsedMail) -> None:  # the order of ParsedMail.all_attachments
        add(inner.attachments, "" if inner is mail else (inner.subject or "(inget ämne)"))
        for nested in inner.forwarded:
            walk(nested)

    walk(mail)
    return views


def _reply_view(reply: ReplyRow) -> dict[str, Any]:
    parsed, problem = _parse(reply.raw)
    return {
        "pk": reply.id, "kind": reply.kind, "status": reply.status, "recipient": reply.recipient,
        "subject": reply.subject, "message_id": reply.message_id, "created_at": reply.created_at,
        "sent_at": reply.sent_at, "attempts": reply.attempts, "error": reply.last_error,
        "text": parsed.text_body if parsed is not None else (problem or ""),
    }


def _detail(detail: dict[str, Any] | None) -> str:
    """An audit entry's detail as one line of text (escaped by the template)."""
    if not detail:
        return ""
    shown = ((key, value) for key, value in detail.items() if value not in (None, [], {}))
    return "; ".join(f"{key}: {_value(value)}" for key, value in shown)


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_value(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key} {_value(item)}" for key, item in value.items())
    return str(value)
