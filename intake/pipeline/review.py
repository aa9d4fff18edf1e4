"""Coordinators' decisions on the review queue, as the command line and the browser make them.

Accepting a match says: this mention in this mail means this unit. The spelling becomes an
alias of the unit (so the next mail that writes it matches by itself), the mail runs through
the pipeline again with the alias in place, and the sender gets the answer the receipt
promised ("en samordnare ... återkommer till dig"): a reply of kind `repeat`, written by the
coordinator's action, never by the bot on its own.

The other decisions: another unit than the bot's guess (`accept_match` with that unit), not a
protokollsutdrag at all (`mark_not_protocol`), a unit the register lacks (`add_unit_from_mention`),
nothing to do (`dismiss`), and a reply written or edited by the coordinator (`send_manual_reply`).
Each closes the mail's open review items with its resolution, is audited under the actor's
name, and takes effect in the same tables the reports read.

`review_item` gathers what a coordinator needs to decide: the mail as it arrived, what the
bot read and where (the evidence spans), the units it matched and the register's nearest
candidates for each name.

A mail is named by its database id (the browser) or its Message-ID (the command line).
"""

from __future__ import annotations

import email
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy.orm import Session

from intake.decisions import DOCUMENT_FAULTS
from intake.domain import (
    Decision,
    DocType,
    Missing,
    Outcome,
    OutgoingMail,
    ParsedMail,
    Understanding,
    Unit,
    UnitState,
)
from intake.errors import MailParseError
from intake.matching import CANDIDATE_FLOOR, CONTEXT_PENALTY, build_index, name_forms, pair_score
from intake.parsing import parse_mail
from intake.pipeline.context import Context
from intake.pipeline.process import is_late, reprocess
from intake.pipeline.replying import queue_reply
from intake.register import canonical_class, synthesise_unit_id
from intake.replies import ANSWERED_OUTCOMES, MAIL_POLICY, reply_recipient
from intake.storage import store
from intake.storage.models import MessageRow, ReplyRow, ReviewItemRow, UnitRow
from intake.text import fold

MessageRef = int | str  # a stored mail's database id, or its Message-ID
RESOLUTIONS = ("accepted", "other_unit", "not_protocol", "unit_added", "dismissed", "replied")
CANDIDATES = 5  # register units shown for each name the document gives
SEARCH_LIMIT = 20
SEARCH_FLOOR = 55.0  # a search hit below this score is not shown
OPERATORS = ("kommunal", "enskild")
MAX_REPLY_CHARS = 20_000
MISSING_CODES = frozenset(code.value for code in Missing)
EMAIL = re.compile(r"[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+")
# fields shown to the coordinator, in this order; evidence of the others (diarienummer) is kept too
READ_FIELDS = ("doc_type", "committee", "meeting_date", "paragraph", "has_decision", "year", "adjusted",
               "mentions")
EVIDENCE_OF = {"has_decision": ("has_decision", "decision_text"), "adjusted": ("adjusted", "certified")}


class ReviewError(ValueError):
    """A decision that can't be carried out as asked; the message is Swedish, for the coordinator."""


# --- the queue ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenItem:
    message_id: str
    received_at: datetime
    sender: str
    subject: str
    reason: str
    reference: str | None
    message_pk: int = 0
    item_id: int = 0
    sender_name: str = ""


def open_items(ctx: Context) -> list[OpenItem]:
    """The review queue, oldest mail first."""
    with ctx.sessions.begin() as session:
        return [
            OpenItem(item.message.message_id, item.message.received_at, item.message.from_addr,
                     item.message.subject, item.reason,
                     item.message.submission.reference if item.message.submission is not None else None,
                     message_pk=item.message.id, item_id=item.id, sender_name=item.message.from_name)
            for item in store.open_review_items(session)
        ]


LATE_ACCEPTED = store.LATE_ACCEPTED


# --- decisions -----------------------------------------------------------------------------------------


def accept_match(ctx: Context, message_id: MessageRef, unit_id: str, mention: str, actor: str,
                 *, reply: bool = True, resolution: str = "accepted",
                 item_id: int | None = None) -> Outcome | None:
    """Record that `mention` in this mail means `unit_id`, and settle the mail with that knowledge.

    `resolution` is how the review item closes: `accepted` (the bot's guess), `other_unit` (a
    unit the coordinator found), `unit_added` (a unit just added to the register). `item_id`:
    the review item the coordinator looked at; when it was closed meanwhile nothing is done."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}")
    year = ctx.settings.award.year
    spelling = " ".join(mention.split())
    if not spelling:
        raise ReviewError("Ange namnet som dokumentet använder för enheten.")
    with ctx.sessions.begin() as session:
        message = _message(session, message_id)
        found = store.units_by_ids(session, year, [unit_id])
        if not found:
            raise LookupError(f"ingen enhet med id {unit_id} för {year}")
        _check_item(session, message, item_id)
        store.add_alias(session, found[0], spelling, actor, message=message)
        _close(ctx, session, message, actor, resolution)
        store.audit(session, actor, "review_accept", f"message:{message.message_id}", unit=unit_id,
                    mention=spelling, resolution=resolution)
        stored_id = message.message_id
    return reprocess(ctx, stored_id, reply=reply)


def accept_late(ctx: Context, message_id: MessageRef, actor: str, *, reply: bool = True,
                item_id: int | None = None) -> Outcome | None:
    """Count an extract that came after the deadline: the mail is settled as if it came in time
    (its units confirmed if nothing else is missing), and stays so when processed again."""
    with ctx.sessions.begin() as session:
        message = _message(session, message_id)
        _check_item(session, message, item_id)
        if Missing.LATE.value not in (message.missing or []):
            raise ReviewError("Mejlet kom inte in för sent; det finns inget att godkänna.")
        _close(ctx, session, message, actor, "accepted")
        store.audit(session, actor, LATE_ACCEPTED, f"message:{message.message_id}")
        stored_id = message.message_id
    return reprocess(ctx, stored_id, reply=reply)


def mark_not_protocol(ctx: Context, message_id: MessageRef, actor: str, *, reply: bool = True,
                      item_id: int | None = None) -> str | None:
    """The mail's document is not a protokollsutdrag: the outcome becomes `incomplete` with
    `not_protocol` (and `late` when it came late), its matches are dropped, the units it had
    put in review (or confirmed) wait for a protokoll again unless another mail confirmed them,
    and the sender gets the notice of what to send, in the same thread.

    Returns the Message-ID of the reply queued, or None (no reply asked, or nobody to answer)."""
    year = ctx.settings.award.year
    with ctx.sessions.begin() as session:
        message = _message(session, message_id)
        _check_item(session, message, item_id)
        _close(ctx, session, message, actor, "not_protocol")
        released = _release_units(session, message, actor)
        message.matches.clear()
        missing = [Missing.NOT_PROTOCOL] + ([Missing.LATE] if is_late(ctx, message.received_at) else [])
        filename = _document_name(message)
        reason = (f"En samordnare har bedömt att {filename} inte är ett protokollsutdrag." if filename else
                  "En samordnare har bedömt att mejlet inte innehåller något protokollsutdrag.")
        message.outcome = Outcome.INCOMPLETE
        message.missing = [str(code) for code in missing]
        message.reasons = [reason]
        message.unknown_mentions = []
        message.status = "processed"
        message.processed_at = ctx.clock()
        if message.submission is None:
            message.submission = store.open_submission(session, year)
        mail = _parsed(message) if reply else None
        queued = None
        if mail is not None and reply_recipient(mail)[1]:
            decision = Decision(Outcome.INCOMPLETE, missing=tuple(missing), reasons=(reason,),
                                document=Understanding(filename=filename or "", doc_type=DocType.OTHER))
            register = [store.to_unit(row) for row in store.unit_rows(session, year)]
            row = queue_reply(_as(ctx, actor), session, message, mail, decision, register,
                              reference=message.submission.reference)
            queued = row.message_id if row is not None else None
        store.audit(session, actor, "review_not_protocol", f"message:{message.message_id}",
                    released=released, reply=queued)
        return queued


def add_unit_from_mention(ctx: Context, message_id: MessageRef, mention: str, actor: str, *,
                          name: str, award_class: str, administration: str, board: str,
                          operator: str | None = None, contact_email: str | None = None,
                          reply: bool = True, item_id: int | None = None) -> tuple[Unit, Outcome | None]:
    """Add the unit a mail names to the award year's register, then accept the mention as it."""
    year = ctx.settings.award.year
    unit = _new_unit(year, name, award_class, administration, board, operator, contact_email)
    spelling = " ".join(mention.split()) or unit.name
    with ctx.sessions.begin() as session:
        message = _message(session, message_id)
        _check_item(session, message, item_id)
        if store.units_by_ids(session, year, [unit.unit_id]):
            raise ReviewError(f"{unit.name} under {unit.board} finns redan i registret för {year}.")
        store.upsert_units(session, [unit], actor)
        store.audit(session, actor, "review_unit_added", f"message:{message.message_id}",
                    unit=unit.unit_id, name=unit.name, board=unit.board, mention=spelling)
        pk = message.id
    outcome = accept_match(ctx, pk, unit.unit_id, spelling, actor, reply=reply, resolution="unit_added",
                           item_id=item_id)
    return unit, outcome


def dismiss(ctx: Context, message_id: MessageRef, reason: str, actor: str,
            *, item_id: int | None = None) -> None:
    """Close the mail's review items without a reply and without changing its outcome."""
    why = " ".join(reason.split())
    if not why:
        raise ReviewError("Skriv varför ärendet avfärdas.")
    with ctx.sessions.begin() as session:
        message = _message(session, message_id)
        _check_item(session, message, item_id)
        _close(ctx, session, message, actor, "dismissed")
        store.audit(session, actor, "review_dismiss", f"message:{message.message_id}", reason=why)


@dataclass(frozen=True, slots=True)
class ReplyDraft:
    """The reply a mail's present decision implies, for a coordinator to edit before it is sent."""

    recipient: str
    subject: str
    text: str
    outcome: str


def reply_draft(ctx: Context, message_id: MessageRef) -> ReplyDraft | None:
    """The reply the mail's decision implies; None when there is nobody to answer."""
    with ctx.sessions.begin() as session:
        message = _message(session, message_id)
        composed = _compose(ctx, session, message)
        if composed is None:
            return None
        outgoing, outcome = composed
        return ReplyDraft(outgoing.recipients[0], outgoing.subject, _plain_text(outgoing.raw), str(outcome))


def send_manual_reply(ctx: Context, message_id: MessageRef, text: str, actor: str,
                      *, item_id: int | None = None) -> str:
    """Queue the coordinator's reply (plain text) to the sender, in the mail's thread, with the
    headers of the bot's own replies; close the review items. Returns the reply's Message-ID."""
    body = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    body = body.strip("\n")
    if not body.strip():
        raise ReviewError("Svaret är tomt. Skriv en text att skicka.")
    if len(body) > MAX_REPLY_CHARS:
        raise ReviewError(f"Svaret är för långt (högst {MAX_REPLY_CHARS} tecken).")
    with ctx.sessions.begin() as session:
        message = _message(session, message_id)
        _check_item(session, message, item_id)
        composed = _compose(ctx, session, message)
        if composed is None:
            raise ReviewError("Mejlet saknar en avsändaradress att svara till.")
        outgoing, _ = composed
        row = ReplyRow(
            message_pk=message.id, kind="manual", message_id=outgoing.message_id, sender=outgoing.sender,
            recipient=outgoing.recipients[0].lower(), subject=outgoing.subject,
            raw=_with_text(outgoing.raw, body + "\n"), status="queued", next_attempt_at=ctx.clock(),
        )
        session.add(row)
        _close(ctx, session, message, actor, "replied")
        store.audit(session, actor, "reply_queued", f"message:{message.message_id}",
                    reply=outgoing.message_id, to=row.recipient, kind="manual")
        return outgoing.message_id


# --- finding units ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitHit:
    unit_id: str
    name: str
    board: str
    administration: str
    award_class: str
    state: str
    score: float


def search_units(ctx: Context, query: str, limit: int = SEARCH_LIMIT) -> list[UnitHit]:
    """The award year's units whose name (or id, committee, administration) is like `query`, best first."""
    wanted = fold(query)
    if not wanted:
        return []
    with ctx.sessions.begin() as session:
        rows = store.unit_rows(session, ctx.settings.award.year)
        hits = []
        for row in rows:
            name = fold(row.name)
            if wanted in (fold(row.unit_id), name):
                score = 100.0
            elif wanted in name:
                score = 95.0
            else:
                score = max(float(fuzz.WRatio(wanted, name)),
                            0.9 * fuzz.partial_ratio(wanted, fold(f"{row.board} {row.administration}")))
            if score >= SEARCH_FLOOR:
                hits.append(_hit(row, score))
    hits.sort(key=lambda hit: (-hit.score, hit.name, hit.unit_id))
    return hits[:limit]


def unit_candidates(units: Sequence[UnitRow], aliases: dict[str, list[str]], mention: str,
                    committee_boards: frozenset[str] | None, limit: int = CANDIDATES) -> list[UnitHit]:
    """The registered units nearest a name as the matcher scores them (committee context included);
    none below the matcher's own floor for a candidate."""
    forms = name_forms(mention, ocr=True)
    if not forms:
        return []
    hits = []
    for row in units:
        best = 0.0
        for spelling in (row.name, *aliases.get(row.unit_id, ())):
            for unit_form, unit_penalty in name_forms(spelling):
                for form, penalty in forms:
                    best = max(best, pair_score(form, unit_form) - penalty - unit_penalty)
        if committee_boards is not None and row.board not in committee_boards:
            best -= CONTEXT_PENALTY
        if best >= CANDIDATE_FLOOR:
            hits.append(_hit(row, best))
    hits.sort(key=lambda hit: (-hit.score, hit.name, hit.unit_id))
    return hits[:limit]


def unit_name(ctx: Context, unit_id: str) -> str | None:
    """The registered name of one of the award year's units."""
    with ctx.sessions.begin() as session:
        found = store.units_by_ids(session, ctx.settings.award.year, [unit_id])
        return found[0].name if found else None


def _hit(row: UnitRow, score: float) -> UnitHit:
    return UnitHit(row.unit_id, row.name, row.board, row.administration, row.award_class, row.state,
                   round(score, 1))


# --- one item, for the coordinator -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of a document's text; `fields` names what the bot read in it (empty: plain text)."""

    text: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Quote:
    """Where a field was read: page number and the text there."""

    page: int | None
    text: str


@dataclass(frozen=True, slots=True)
class ReadField:
    code: str  # doc_type, committee, meeting_date, paragraph, has_decision, year, adjusted, mentions
    value: Any  # str, int, bool, date, a list of names, or None when not read
    quotes: tuple[Quote, ...] = ()


@dataclass(frozen=True, slots=True)
class MailAttachment:
    """An attachment of the mail as parsed; `index` is its position among the mail's attachments."""

    index: int
    filename: str
    content_type: str
    size: int
    shown: str | None  # "pdf" or "image" when the browser can show it inline


@dataclass(frozen=True, slots=True)
class ReadDocument:
    """A file the bot read: what kind it took it for, and its text with the evidence marked."""

    filename: str
    doc_type: str | None
    pages: int
    unreadable: str | None
    segments: tuple[Segment, ...]
    deciding: bool  # the document the decision rests on


@dataclass(frozen=True, slots=True)
class MatchView:
    unit_id: str
    name: str
    board: str
    award_class: str
    state: str
    mention: str
    score: float
    sure: bool


@dataclass(frozen=True, slots=True)
class MentionView:
    """A name in the document the bot could not settle, with the register's nearest units."""

    mention: str
    guess: str | None  # unit_id of the bot's unsure guess, or None: no unit came near enough
    candidates: tuple[UnitHit, ...]


@dataclass(frozen=True, slots=True)
class ItemHistory:
    reason: str
    status: str
    resolution: str | None
    created_at: datetime
    closed_at: datetime | None
    closed_by: str | None


@dataclass(frozen=True, slots=True)
class ReplyView:
    kind: str
    status: str
    recipient: str
    subject: str
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewUnit:
    """The add-a-unit form, filled in from the document."""

    name: str
    board: str
    administration: str


@dataclass(frozen=True, slots=True)
class ItemDetail:
    pk: int
    message_id: str
    received_at: datetime
    status: str
    outcome: str | None
    missing: tuple[str, ...]
    reasons: tuple[str, ...]
    reference: str | None
    from_addr: str
    from_name: str
    subject: str
    sent_at: datetime | None  # the sender's Date: header
    to: tuple[str, ...]
    body: str
    parse_error: str | None
    error: str | None
    attachments: tuple[MailAttachment, ...]
    documents: tuple[ReadDocument, ...]
    fields: tuple[ReadField, ...]
    matches: tuple[MatchView, ...]
    mentions: tuple[MentionView, ...]
    open_items: tuple[ItemHistory, ...]
    closed_items: tuple[ItemHistory, ...]
    replies: tuple[ReplyView, ...]
    draft: ReplyDraft | None
    new_unit: NewUnit
    boards: tuple[str, ...]  # the register's committees, for the add-a-unit form
    item_id: int | None = None  # the oldest open review item
    notes: tuple[str, ...] = field(default_factory=tuple)


def review_item(ctx: Context, message_id: MessageRef) -> ItemDetail:
    """Everything a coordinator needs to decide on one mail. LookupError if there is no such mail."""
    year = ctx.settings.award.year
    with ctx.sessions.begin() as session:
        message = _message(session, message_id)
        mail, parse_error = _parse(message.raw)
        units = list(store.unit_rows(session, year))
        aliases: dict[str, list[str]] = {}
        for alias in store.aliases(session, year):
            aliases.setdefault(alias.unit.unit_id, []).append(alias.alias)
        document = message.document or {}
        committee = document.get("committee")
        named = _committee_boards(units, committee)
        matches = tuple(MatchView(m.unit.unit_id, m.unit.name, m.unit.board, m.unit.award_class, m.unit.state,
                                  m.mention, round(m.score, 1), m.sure) for m in message.matches)
        unsettled: list[tuple[str, str | None]] = [(m.mention, m.unit_id) for m in matches if not m.sure]
        unsettled += [(name, None) for name in message.unknown_mentions or []]
        guesses: dict[str, str | None] = {}
        for name, guess in unsettled:
            guesses.setdefault(name, guess)
        mentions = tuple(MentionView(name, guess, tuple(unit_candidates(units, aliases, name, named)))
                         for name, guess in guesses.items())
        items = list(store.review_items_of(session, message))
        opened = tuple(_history(item) for item in items if item.status == "open")
        closed = tuple(_history(item) for item in items if item.status != "open")
        first_open = next((item.id for item in items if item.status == "open"), None)
        composed = _compose(ctx, session, message, mail)
        draft = None if composed is None else ReplyDraft(
            composed[0].recipients[0], composed[0].subject, _plain_text(composed[0].raw), str(composed[1]))
        return ItemDetail(
            pk=message.id, message_id=message.message_id, received_at=message.received_at,
            status=message.status, outcome=message.outcome, missing=tuple(message.missing or []),
            reasons=tuple(message.reasons or []),
            reference=message.submission.reference if message.submission is not None else None,
            from_addr=message.from_addr or (mail.from_addr if mail else ""),
            from_name=message.from_name or (mail.from_name if mail else ""),
            subject=message.subject or (mail.subject if mail else ""),
            sent_at=mail.date if mail else None, to=mail.to if mail else (),
            body=_body(mail) if mail else "", parse_error=parse_error, error=message.error,
            attachments=tuple(_mail_attachments(mail)) if mail else (),
            documents=tuple(_documents(message, document)),
            fields=tuple(_fields(document)) if document else (),
            matches=matches, mentions=mentions, open_items=opened, closed_items=closed,
            replies=tuple(ReplyView(r.kind, r.status, r.recipient, r.subject, r.created_at, r.sent_at)
                          for r in message.replies),
            draft=draft, new_unit=_new_unit_form(units, mentions, committee, named),
            boards=tuple(dict.fromkeys(sorted(row.board for row in units))), item_id=first_open,
        )


def highlight(text: str, spans: Iterable[tuple[int, int, str]]) -> list[Segment]:
    """The text cut where evidence begins and ends; each piece carries the fields read in it.

    Overlapping spans (a year inside the decision's text) give pieces with several fields.
    The pieces are plain text: whoever shows them escapes them."""
    marks = [(max(0, start), min(len(text), end), code) for start, end, code in spans
             if end > start and start < len(text)]
    cuts = sorted({0, len(text), *(s for s, _, _ in marks), *(e for _, e, _ in marks)})
    out: list[Segment] = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        inside = sorted((e - s, code) for s, e, code in marks if s <= start and end <= e)
        fields = tuple(dict.fromkeys(code for _, code in inside))  # the narrowest span's field first
        piece = text[start:end]
        if out and out[-1].fields == fields:
            out[-1] = Segment(out[-1].text + piece, fields)
        elif piece:
            out.append(Segment(piece, fields))
    return out


# --- helpers ------------------------------------------------------------------------------------------


def _message(session: Session, ref: MessageRef) -> MessageRow:
    if isinstance(ref, int):
        row = session.get(MessageRow, ref)
        if row is None:
            raise LookupError(f"inget sparat mejl med nummer {ref}")
        return row
    row = store.first_message_with_id(session, ref)
    if row is None:
        raise LookupError(f"inget sparat mejl med Message-ID {ref}")
    return row


def _check_item(session: Session, message: MessageRow, item_id: int | None) -> None:
    """The review item the coordinator decided on must still be open (nobody else decided first)."""
    if item_id is None:
        return
    item = session.get(ReviewItemRow, item_id, with_for_update=True)
    if item is None or item.message_pk != message.id:
        raise LookupError(f"ingen granskning {item_id} för mejlet {message.message_id}")
    if item.status != "open":
        who = f" av {item.closed_by}" if item.closed_by else ""
        raise ReviewError(f"Ärendet är redan avgjort{who}. Ladda om sidan för att se hur det avgjordes.")


def _close(ctx: Context, session: Session, message: MessageRow, actor: str, resolution: str) -> None:
    now = ctx.clock()
    for item in store.open_reviews(session, message):
        item.status, item.closed_by, item.closed_at, item.resolution = "resolved", actor, now, resolution


def _as(ctx: Context, actor: str) -> Context:
    """The context with the coordinator as actor, so what the pipeline audits names them."""
    return Context(ctx.settings, ctx.sessions, ctx.renderer, ctx.clock, ctx.crashpoint, actor)


def _release_units(session: Session, message: MessageRow, actor: str) -> list[str]:
    """Units this mail put in review or confirmed: back to the mail that confirmed them before, if
    any, else waiting for a protokoll. Returns their unit_ids."""
    released = []
    for unit in store.units_confirmed_by(session, message):
        other = next((m for m in store.sure_matches_of_unit(session, unit, message) if _settles(m)), None)
        if other is not None:
            store.set_unit_state(session, unit, UnitState.CONFIRMED, other, actor, reason="not_protocol")
        else:
            store.audit(session, actor, "unit_state", f"unit:{unit.unit_id}", old=unit.state,
                        new=str(UnitState.AWAITING_PROTOCOL), message=None, reason="not_protocol")
            unit.state = UnitState.AWAITING_PROTOCOL
            unit.protocol_message_pk = None
            unit.meeting_date = None
            unit.paragraph = None
        released.append(unit.unit_id)
    return released


def _settles(message: MessageRow) -> bool:
    """The mail confirmed the units it surely matched (as decisions._unit_state decides)."""
    if message.outcome == Outcome.CONFIRMED:
        return True
    faults = {str(code) for code in DOCUMENT_FAULTS} | {Missing.LATE.value, Missing.NOT_PROTOCOL.value}
    return message.outcome == Outcome.INCOMPLETE and not faults & set(message.missing or [])


def _new_unit(year: int, name: str, award_class: str, administration: str, board: str,
              operator: str | None, contact_email: str | None) -> Unit:
    name, administration, board = (" ".join(v.split()) for v in (name, administration, board))
    problems = []
    if not name:
        problems.append("enhetens namn")
    if not administration:
        problems.append("förvaltning")
    if not board:
        problems.append("nämnd")
    cls = canonical_class(award_class) if award_class.strip() else None
    if cls is None:
        problems.append("tävlingsklass")
    if problems:
        raise ReviewError("Fyll i " + ", ".join(problems) + ".")
    assert cls is not None
    op = (operator or "").strip().casefold() or None
    if op is not None and op not in OPERATORS:
        raise ReviewError("Driftform ska vara kommunal eller enskild.")
    emails = [part.strip().lower() for part in re.split(r"[;,]", contact_email or "") if part.strip()]
    if any(not EMAIL.fullmatch(address) for address in emails):
        raise ReviewError("Kontaktadressen är ingen giltig e-postadress.")
    return Unit(unit_id=synthesise_unit_id(year, board, name), year=year, name=name, award_class=cls,
                administration=administration, board=board, operator=op,
                contact_email="; ".join(emails) or None)


def _parse(raw: bytes) -> tuple[ParsedMail | None, str | None]:
    try:
        return parse_mail(raw), None
    except MailParseError as exc:
        return None, str(exc)


def _parsed(message: MessageRow) -> ParsedMail | None:
    return _parse(message.raw)[0]


def _document_name(message: MessageRow) -> str | None:
    name = (message.document or {}).get("filename")
    if isinstance(name, str) and name:
        return name
    return message.attachments[0].filename if message.attachments else None


def _understanding(document: dict[str, Any] | None) -> Understanding | None:
    if not document:
        return None
    try:
        kind = DocType(document.get("doc_type") or DocType.OTHER)
    except ValueError:
        kind = DocType.OTHER
    meeting = document.get("meeting_date")
    return Understanding(
        filename=document.get("filename") or "", doc_type=kind, committee=document.get("committee"),
        meeting_date=date.fromisoformat(meeting) if isinstance(meeting, str) and meeting else None,
        paragraph=document.get("paragraph"), year=document.get("year"),
        has_decision=bool(document.get("has_decision")), adjusted=bool(document.get("adjusted")),
    )


def _committee_boards(units: Sequence[UnitRow], committee: str | None) -> frozenset[str] | None:
    """The register's boards a committee's name stands for; None when it names none (or is missing)."""
    if not committee or not units:
        return None
    index = build_index([store.to_unit(row) for row in units])
    found = index.committee_boards(committee)
    return None if found is None else frozenset(index.boards[board] for board in found)


def _compose(ctx: Context, session: Session, message: MessageRow,
             mail: ParsedMail | None = None) -> tuple[OutgoingMail, Outcome] | None:
    """The reply the mail's present decision implies, composed as the bot composes its own."""
    mail = mail or _parsed(message)
    if mail is None or not reply_recipient(mail)[1]:
        return None
    year = ctx.settings.award.year
    outcome = Outcome(message.outcome) if message.outcome else Outcome.NEEDS_REVIEW
    if outcome not in ANSWERED_OUTCOMES:
        outcome = Outcome.NEEDS_REVIEW
    missing = tuple(Missing(code) for code in message.missing or [] if code in MISSING_CODES)
    if outcome is not Outcome.INCOMPLETE:
        missing = ()
    units = list(store.unit_rows(session, year))
    confirmed = [row for row in store.units_confirmed_by(session, message)
                 if row.state == UnitState.CONFIRMED]
    document = _understanding(message.document)
    missing_units: list[UnitRow] = []
    if Missing.REGISTERED_UNIT_MISSING in missing:
        matched = {m.unit.unit_id for m in message.matches}
        boards = {m.unit.board for m in message.matches if m.sure}
        boards |= _committee_boards(units, document.committee if document else None) or frozenset()
        missing_units = [row for row in units if row.board in boards and row.unit_id not in matched
                         and row.state != UnitState.CONFIRMED]
    decision = Decision(outcome, missing=missing, units=tuple(row.unit_id for row in confirmed),
                        reasons=tuple(message.reasons or []), document=document,
                        unit_state=UnitState.CONFIRMED if confirmed else None,
                        missing_units=tuple(row.unit_id for row in missing_units),
                        unknown_mentions=tuple(message.unknown_mentions or []))
    outgoing = ctx.renderer.compose_reply(
        original=mail, decision=decision, confirmed_units=[store.to_unit(row) for row in confirmed],
        unknown_mentions=list(decision.unknown_mentions),
        missing_units=[store.to_unit(row) for row in missing_units], award=ctx.settings.award,
        sender=ctx.settings.smtp.sender or ctx.settings.award.mailbox,
        reply_to_address=ctx.settings.award.mailbox, now=ctx.clock(),
        reference=message.submission.reference if message.submission is not None else None,
    )
    return outgoing, outcome


def _plain_text(raw: bytes) -> str:
    parsed = email.message_from_bytes(raw, policy=MAIL_POLICY)
    assert isinstance(parsed, EmailMessage)
    part = parsed.get_body(("plain",))
    return "" if part is None else str(part.get_content())


def _with_text(raw: bytes, text: str) -> bytes:
    """The composed reply with its body replaced by `text` (plain text only), headers kept as they are."""
    parsed = email.message_from_bytes(raw, policy=MAIL_POLICY)
    assert isinstance(parsed, EmailMessage)
    language = parsed.get("Content-Language")
    parsed.clear_content()
    parsed.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if language:
        parsed["Content-Language"] = str(language)
    return parsed.as_bytes()


class _TextOfHtml(HTMLParser):
    """The readable text of an HTML body: no tags, scripts or styles, blocks on lines of their own."""

    BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def _body(mail: ParsedMail) -> str:
    if mail.text_body.strip():
        return mail.text_body.strip("\n")
    if not mail.html_body.strip():
        return ""
    reader = _TextOfHtml()
    reader.feed(mail.html_body)
    reader.close()
    text = re.sub(r"[ \t]+", " ", "".join(reader.parts))
    return re.sub(r"\n\s*\n\s*\n+", "\n\n", text).strip()


def _mail_attachments(mail: ParsedMail) -> Iterable[MailAttachment]:
    """The mail's files numbered as the desk's download links number them: its own attachments,
    then those of the mails forwarded inside it."""
    for index, attachment in enumerate(mail.all_attachments()):
        yield MailAttachment(index, attachment.filename, attachment.content_type, len(attachment.data),
                             _shown_as(attachment.data))


def _shown_as(data: bytes) -> str | None:
    """How a browser can show the file, read from its bytes (never from its name): pdf, image or None."""
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")):
        return "image"
    return None


def _evidence(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("evidence")
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def _documents(message: MessageRow, document: dict[str, Any]) -> Iterable[ReadDocument]:
    deciding = document.get("filename")
    evidence = _evidence(document)
    for attachment in message.attachments:
        text = attachment.text or ""
        spans: list[tuple[int, int, str]] = []
        if attachment.filename == deciding:
            spans = [(e["offset"], e["offset"] + len(e.get("text") or ""), str(e.get("field")))
                     for e in evidence if isinstance(e.get("offset"), int)]
            if not evidence:  # read before the evidence was kept: the values found in the text
                for code in ("committee", "paragraph"):
                    value = document.get(code)
                    if isinstance(value, str) and value and value in text:
                        at = text.index(value)
                        spans.append((at, at + len(value), code))
        yield ReadDocument(attachment.filename, attachment.doc_type, attachment.pages, attachment.unreadable,
                           tuple(highlight(text, spans)), attachment.filename == deciding)


def _fields(document: dict[str, Any]) -> Iterable[ReadField]:
    evidence = _evidence(document)
    for code in READ_FIELDS:
        wanted = EVIDENCE_OF.get(code, (code,))
        quotes = tuple(Quote(e["page"] if isinstance(e.get("page"), int) else None, str(e.get("text") or ""))
                       for e in evidence if e.get("field") in wanted)
        if code == "mentions":
            value: Any = list(dict.fromkeys(q.text for q in quotes))
        elif code == "meeting_date":
            raw = document.get(code)
            value = date.fromisoformat(raw) if isinstance(raw, str) and raw else None
        else:
            value = document.get(code)
        yield ReadField(code, value, quotes)


def _history(item: ReviewItemRow) -> ItemHistory:
    return ItemHistory(item.reason, item.status, item.resolution, item.created_at, item.closed_at,
                       item.closed_by)


def _new_unit_form(units: Sequence[UnitRow], mentions: Sequence[MentionView], committee: str | None,
                   named: frozenset[str] | None) -> NewUnit:
    board = sorted(named)[0] if named and len(named) == 1 else (committee or "")
    administrations = Counter(row.administration for row in units if row.board == board)
    administration = administrations.most_common(1)[0][0] if administrations else ""
    name = mentions[0].mention if mentions else ""
    return NewUnit(name, board, administration)

