"""Process one stored mail: parse, read, understand, match, decide, record, queue the reply.

Everything for one mail happens in one transaction. If anything raises, that
transaction rolls back and a fresh one shunts the mail: status `failed`, the
traceback kept, a review item opened, raw bytes untouched. One bad mail never
stops the others.

Several bot instances may share the database (docs/ROBUSTNESS.md): each claims a
batch of stored mails before analysing them, and the transaction that records a
mail's decision starts by checking, with a conditional UPDATE that locks the row,
that the mail is still stored and still claimed by this instance. The decision
transactions of all instances run one at a time (an advisory lock on PostgreSQL),
so the rules see every earlier decision, as with one instance.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from intake.decisions import Evidence, decide
from intake.domain import (
    Decision,
    DocType,
    DocumentText,
    Outcome,
    ParsedMail,
    Understanding,
    Unit,
    UnitMatch,
    UnitState,
)
from intake.errors import StorageUnavailable, TransientError
from intake.identity import sha256_hex
from intake.matching import RegisterIndex, build_index, match_document
from intake.pipeline.analysis import Analysis, analyse, analyse_all, worker_count
from intake.pipeline.claims import Instance, database_errors, instance, unavailable
from intake.pipeline.context import Context
from intake.pipeline.replying import queue_reply
from intake.storage import store
from intake.storage.models import AttachmentRow, MatchRow, MessageRow, SubmissionRow, UnitRow

log = logging.getLogger(__name__)

REFERENCE = re.compile(r"\bKU-(\d{4})-(\d{4})\b", re.IGNORECASE)  # a submission's number in a subject
CLAIM_BATCH = 1000  # stored mails one instance claims at a time (each batch starts a pool of workers)
PROCESS_LEASE = timedelta(minutes=10)  # how long a claim holds without renewal (a hung instance)
RENEW_EVERY = 60.0  # seconds between renewals of this instance's claims while it works through them
PROCESS_ROLE = "process"
REGISTER_CACHE = "process.register"  # ctx.cache: (aliases, Register) last built
RETRIES_ON_CONFLICT = 2  # a decision transaction that broke a unique constraint is tried again


@dataclass(frozen=True, slots=True)
class Register:
    """The award year's units and the matcher's index of them (with the coordinators' aliases)."""

    units: tuple[Unit, ...]
    index: RegisterIndex


def process_pending(ctx: Context) -> int:
    """Process every stored mail not yet processed, oldest first, batch by claimed batch.

    Mails claimed by another live instance are left to it; each mail is tried once per call
    (one that meets a transient error waits for the next round)."""
    me = instance(ctx)
    token = me.token(PROCESS_ROLE)
    done = 0
    attempted: set[int] = set()
    with database_errors("processing stored mail"):
        me.ensure()
        while True:
            pending = _claim_batch(ctx, me, token, attempted)
            if not pending:
                return done
            attempted.update(pending)
            with ctx.sessions.begin() as session:
                register = load_register(ctx, session)
            workers = worker_count(ctx.settings.processing.workers)
            renewed = time.monotonic()
            for pk, analysis in analyse_all(pending, partial(_raw, ctx), own_addresses(ctx), workers):
                process_message(ctx, pk, register=register, analysis=analysis, owner=token)
                done += 1
                if time.monotonic() - renewed > RENEW_EVERY:
                    with ctx.sessions.begin() as session:
                        store.renew_message_claims(session, token, ctx.clock() + PROCESS_LEASE)
                    renewed = time.monotonic()


def _claim_batch(ctx: Context, me: Instance, token: str, attempted: set[int]) -> list[int]:
    """Claim up to CLAIM_BATCH stored mails nobody else holds; their ids, oldest first."""
    claimed: list[int] = []
    with ctx.sessions.begin() as session:
        now = ctx.clock()
        live = me.liveness(session)
        for claim in store.pending_claims(session):
            if len(claimed) >= CLAIM_BATCH:
                break
            if claim.pk in attempted:
                continue
            if claim.owner != token and live.held(claim, now):
                continue  # another live instance (or another task of this one) works on it
            if store.take_message(session, claim, token, now + PROCESS_LEASE):
                claimed.append(claim.pk)
    return claimed


def own_addresses(ctx: Context) -> frozenset[str]:
    return frozenset({ctx.settings.bot_address, ctx.settings.award.mailbox.lower()})


def _raw(ctx: Context, pk: int) -> bytes:
    with ctx.sessions.begin() as session:
        return session.get_one(MessageRow, pk).raw


def load_register(ctx: Context, session: Session) -> Register:
    """The award year's units and their index, read for each batch of mails.

    The units and aliases are read every time (a few milliseconds: the register can change at any
    moment, from the desk, an import or another instance); the index, the costly part (25 ms for
    200 units, 0.45 s for 5,000), is built again only when what it is built from changed, which a
    unit's state or a confirmation does not."""
    year = ctx.settings.award.year
    units = store.register_units(session, year)
    aliases = store.alias_pairs(session, year)
    cached: tuple[tuple[tuple[str, str], ...], Register] | None = ctx.cache.get(REGISTER_CACHE)
    if cached is not None and cached[1].units == units and cached[0] == aliases:
        return cached[1]
    register = Register(units, build_index(units, dict(aliases)))
    ctx.cache[REGISTER_CACHE] = (aliases, register)
    return register


def _claim_one(ctx: Context, pk: int) -> str | None:
    """Claim one stored mail for a caller outside process_pending; None if another holds it."""
    me = instance(ctx)
    token = me.token(PROCESS_ROLE)
    with database_errors("claiming a mail"):
        me.ensure()
        with ctx.sessions.begin() as session:
            now = ctx.clock()
            claim = store.message_claim(session, pk)
            if claim.owner != token and me.liveness(session).held(claim, now):
                return None
            return token if store.take_message(session, claim, token, now + PROCESS_LEASE) else None


def process_message(ctx: Context, pk: int, *, reply: bool = True,
                    register: Register | None = None,
                    analysis: Analysis | BaseException | None = None,
                    owner: str | None = None) -> Outcome | None:
    """Process one stored mail; `analysis` may come from a worker, else it is made here.

    `owner` is the claim this instance holds on the mail (claimed here when None). None is
    returned when the mail is left alone: another instance holds or processed it, or a
    transient error (the mail waits for the next round)."""
    if owner is None:
        owner = _claim_one(ctx, pk)
        if owner is None:
            log.info("message %d is being processed by another instance; left to it", pk)
            return None
    try:
        if isinstance(analysis, BaseException):
            raise analysis  # it failed in a worker: shunt the mail like any other failure
        for attempt in range(RETRIES_ON_CONFLICT + 1):
            try:
                return _decide(ctx, pk, owner, reply=reply, register=register, analysis=analysis)
            except IntegrityError:
                if attempt == RETRIES_ON_CONFLICT:
                    raise
                log.warning("message %d: a concurrent change conflicted; trying again", pk, exc_info=True)
        raise AssertionError("unreachable")
    except TransientError:
        log.warning("message %d left for the next round: transient error", pk, exc_info=True)
        return None
    except DBAPIError as exc:
        if unavailable(exc):
            raise StorageUnavailable(f"database unavailable while processing message {pk}: {exc.orig}"
                                     ) from exc
        return _shunt(ctx, pk, owner, exc)
    except Exception as exc:  # noqa: BLE001 - shunt: one bad mail never stops the others
        return _shunt(ctx, pk, owner, exc)


def _decide(ctx: Context, pk: int, owner: str, *, reply: bool, register: Register | None,
            analysis: Analysis | None) -> Outcome | None:
    with ctx.sessions.begin() as session:
        store.serialize_processing(session)
        if not store.hold_message(session, pk, owner, ctx.clock() + PROCESS_LEASE):
            log.info("message %d: processed or taken over by another instance; skipped", pk)
            return None
        message = session.get_one(MessageRow, pk)
        if message.processed_at is None:
            twin = store.processed_twin(session, message)
            if twin is not None:
                # two instances stored two copies at once; the other one was decided first
                message.status, message.duplicate_of_pk = "duplicate", twin.id
                store.audit(session, ctx.actor, "message_duplicate", f"message:{message.message_id}",
                            duplicate_of=twin.id)
                return None
        if register is None:
            register = load_register(ctx, session)
        if analysis is None:
            analysis = analyse(message.raw, own_addresses(ctx))
        outcome = _process(ctx, session, message, register, analysis, reply=reply)
    ctx.crashpoint("after_process")
    return outcome


def _shunt(ctx: Context, pk: int, owner: str, exc: BaseException) -> Outcome | None:
    log.error("message %d failed; kept for review", pk, exc_info=exc)
    with database_errors(f"shunting message {pk}"), ctx.sessions.begin() as session:
        store.serialize_processing(session)
        if not store.hold_message(session, pk, owner, ctx.clock() + PROCESS_LEASE):
            return None  # another instance has it now: its result stands
        message = session.get_one(MessageRow, pk)
        message.status = "failed"
        message.outcome = Outcome.NEEDS_REVIEW
        message.error = "".join(traceback.format_exception(exc))
        message.processed_at = ctx.clock()
        store.open_review(session, message, f"Behandlingen misslyckades: {exc}")
        store.audit(session, ctx.actor, "message_failed", f"message:{message.message_id}",
                    error=repr(exc))
    return Outcome.NEEDS_REVIEW


def reprocess(ctx: Context, message_id: str, *, reply: bool = False) -> Outcome | None:
    """Run the pipeline again on a stored mail; answer again only when asked.

    None: the mail is being processed by an instance right now (try again later)."""
    me = instance(ctx)
    token = me.token(f"reprocess-{secrets.token_hex(4)}")
    with database_errors("reprocessing a mail"):
        me.ensure()
        with ctx.sessions.begin() as session:
            message = store.first_message_with_id(session, message_id)
            if message is None:
                raise LookupError(f"no stored message with Message-ID {message_id}")
            now = ctx.clock()
            claim = store.message_claim(session, message.id)
            if message.status == "stored" and me.liveness(session).held(claim, now):
                log.warning("message %s is being processed by %s; not reprocessed now",
                            message_id, claim.owner)
                return None
            _reset(session, message)
            message.status = "stored"
            session.flush()
            store.set_message_claim(session, message.id, token, now + PROCESS_LEASE)
            store.audit(session, ctx.actor, "message_reprocess", f"message:{message_id}", reply=reply)
            pk = message.id
    return process_message(ctx, pk, reply=reply, owner=token)


WAITING_CODES = frozenset({"unknown_unit", "registered_unit_missing"})


def rematch_waiting(ctx: Context) -> list[tuple[str, Outcome | None, Outcome | None]]:
    """Run the mails still waiting on the register through the pipeline again, without replying.

    After a register import, a mail that named a unit not yet registered, or lacked one
    that is registered now, or could not be matched at all, may now be complete. Senders
    are not mailed again (no mail is answered twice); the new outcome, unit states and
    audit entries are what coordinators see. Returns (Message-ID, old outcome, new outcome)."""
    with ctx.sessions.begin() as session:
        waiting = [(row.message_id, row.outcome) for row in store.messages_waiting_on_register(session)
                   if row.outcome == Outcome.NEEDS_REVIEW or WAITING_CODES & set(row.missing or [])]
    changed = []
    for message_id, old in waiting:
        new = reprocess(ctx, message_id, reply=False)
        changed.append((message_id, Outcome(old) if old else None, new))
    return changed


def _reset(session: Session, message: MessageRow) -> None:
    message.attachments.clear()
    message.matches.clear()
    for item in store.open_reviews(session, message):
        item.status = "superseded"
    for unit in store.units_confirmed_by(session, message):
        unit.state = UnitState.AWAITING_PROTOCOL
        unit.protocol_message_pk = None
    session.flush()


def _process(ctx: Context, session: Session, message: MessageRow, register: Register,
             analysis: Analysis, *, reply: bool) -> Outcome:
    mail = analysis.mail
    if mail is not None:
        message.from_addr, message.from_name = mail.from_addr, mail.from_name
        message.subject, message.in_reply_to = mail.subject, mail.in_reply_to
    submission = _submission_of(session, message, mail)
    follow_up = submission is not None and bool(store.earlier_in_submission(session, submission, message))
    evidence = _evidence(ctx, session, message, register, analysis, follow_up=follow_up)
    for attachment, document in zip(analysis.candidates, analysis.documents, strict=True):
        kind = next((u.doc_type for u in analysis.understandings if u.filename == document.filename), None)
        message.attachments.append(AttachmentRow(
            filename=attachment.filename, content_type=attachment.content_type,
            size=len(attachment.data), sha256=sha256_hex(attachment.data),
            doc_type=kind, pages=len(document.pages), unreadable=document.unreadable,
            text=document.text,
        ))
    decision = decide(evidence)
    if decision.outcome is not Outcome.IGNORED and mail is not None:
        if submission is None:
            submission = store.open_submission(session, ctx.settings.award.year)
        message.submission_pk = submission.id
    _record(ctx, session, message, decision, evidence.matches, evidence.unsure, analysis.documents)
    if decision.send_reply and reply and mail is not None:
        queue_reply(ctx, session, message, mail, decision, list(register.units),
                    reference=submission.reference if submission is not None else None)
    log.info("message %s from %s: %s %s", message.message_id, message.from_addr,
             decision.outcome, ",".join(decision.missing))
    return decision.outcome


def _submission_of(session: Session, message: MessageRow, mail: ParsedMail | None) -> SubmissionRow | None:
    """The open submission this mail belongs to: kept from an earlier run, named by its reference
    number in the subject, or found through the thread (a mail of it, or our reply, in
    In-Reply-To/References). None: the mail starts a new one."""
    if message.submission_pk is not None:
        return session.get(SubmissionRow, message.submission_pk)
    if mail is None:
        return None
    for found in REFERENCE.finditer(mail.subject or ""):
        submission = store.submission_by_reference(session, found.group(0))
        if submission is not None:
            return submission
    thread = [i for i in (mail.in_reply_to, *mail.references) if i]
    return store.submission_of_thread(session, thread)


def _evidence(ctx: Context, session: Session, message: MessageRow, register: Register, analysis: Analysis,
              *, follow_up: bool) -> Evidence:
    """Match the protokollsutdrag's units to the register: everything the decision rules look at."""
    accepted: dict[str, UnitMatch] = {}
    unsure: dict[str, UnitMatch] = {}
    unknown: list[str] = []
    deciding: set[str] = set()
    for understanding in analysis.understandings:
        if understanding.doc_type is not DocType.PROTOCOL:
            continue
        found = match_document(register.index, understanding.mentions, understanding.text,
                               committee=understanding.committee, sender=message.from_addr,
                               filename=understanding.filename)
        for match in found.accepted:
            accepted.setdefault(match.unit_id, match)
        for match in found.unsure:
            unsure.setdefault(match.unit_id, match)
        unknown.extend(found.unknown)
        deciding |= found.committee_boards
    with session.no_autoflush:
        confirmed = store.confirmed_unit_ids(session, ctx.settings.award.year)
        late = is_late(ctx, message.received_at) and not store.late_accepted(session, message)
    return Evidence(
        award_year=ctx.settings.award.year, register=register.units, parse_error=analysis.parse_error,
        automatic=analysis.automatic, candidates=len(analysis.candidates), documents=analysis.documents,
        understandings=analysis.understandings, matches=tuple(accepted.values()),
        unsure=tuple(m for unit_id, m in unsure.items() if unit_id not in accepted),
        unknown_mentions=tuple(dict.fromkeys(unknown)),
        late=late, follow_up=follow_up, sender=message.from_addr,
        deciding_boards=frozenset(deciding),
        already_confirmed=confirmed - {m.unit_id for m in accepted.values()},
    )


def is_late(ctx: Context, received_at: datetime) -> bool:
    """Whether a mail arrived after the deadline day, in the award's time zone."""
    award = ctx.settings.award
    return received_at.astimezone(award.tz).date() > award.protocol_deadline


def _duplicate_of(ctx: Context, session: Session, message: MessageRow,
                  decision: Decision) -> MessageRow | None:
    """The earlier mail whose very file (same SHA-256) confirmed these units, if this one is a copy."""
    if decision.outcome is not Outcome.CONFIRMED or not decision.units:
        return None
    earlier = store.confirmed_with_same_attachment(
        session, ctx.settings.award.year, [a.sha256 for a in message.attachments], message)
    if earlier is None:
        return None
    confirmed_by_it = {row.unit_id for row in store.units_confirmed_by(session, earlier)}
    return earlier if set(decision.units) <= confirmed_by_it else None


def _record(ctx: Context, session: Session, message: MessageRow, decision: Decision,
            accepted: tuple[UnitMatch, ...], unsure: tuple[UnitMatch, ...],
            documents: tuple[DocumentText, ...] = ()) -> None:
    matches = [*accepted, *unsure]
    wanted = {m.unit_id for m in matches} | set(decision.units)
    units = {row.unit_id: row for row in store.units_by_ids(session, ctx.settings.award.year, wanted)}
    for match in matches:
        message.matches.append(MatchRow(unit=units[match.unit_id], mention=match.mention, score=match.score,
                                        filename=match.filename, sure=match in accepted))
    document = decision.document
    message.document = None if document is None else _document_json(document, documents)
    message.outcome = decision.outcome
    message.missing = [str(code) for code in decision.missing]
    message.reasons = list(decision.reasons)
    message.unknown_mentions = list(decision.unknown_mentions)
    message.status = "processed"
    message.processed_at = ctx.clock()
    if decision.outcome is Outcome.IGNORED:
        message.automatic_reason = decision.reasons[0] if decision.reasons else None
    duplicate = _duplicate_of(ctx, session, message, decision)
    if duplicate is not None:
        # the same file again: confirmed again, but the units keep the mail that first brought it
        message.reasons = [*message.reasons, f"Samma fil som i ett tidigare mejl ({duplicate.message_id}); "
                           "bekräftas igen utan att något nytt registreras."]
    elif decision.unit_state is not None:
        for unit_id in decision.units:
            row: UnitRow = units[unit_id]
            store.set_unit_state(session, row, decision.unit_state, message, ctx.actor)
    if decision.outcome is Outcome.NEEDS_REVIEW or (decision.unit_state is UnitState.NEEDS_REVIEW
                                                     and decision.units and duplicate is None):
        # also a late extract: its units wait in review, so a coordinator must see the mail
        store.open_review(session, message, " ".join(decision.reasons))
    store.audit(session, ctx.actor, "message_processed", f"message:{message.message_id}",
                outcome=str(decision.outcome), missing=message.missing, units=list(decision.units))


def _document_json(document: Understanding, documents: tuple[DocumentText, ...]) -> dict[str, Any]:
    """What the bot read in the deciding document, and where: `evidence` lists each field's
    page and span (offsets into that page's text), and `offset`, where the span starts in the
    attachment's whole text (its pages joined by a line break, as AttachmentRow.text keeps it)."""
    source = next((d for d in documents if d.filename == document.filename), None)
    page_starts: dict[int, int] = {}
    position = 0
    for page in source.pages if source is not None else ():
        page_starts.setdefault(page.number, position)
        position += len(page.text) + 1
    return {
        "filename": document.filename,
        "doc_type": str(document.doc_type),
        "committee": document.committee,
        "meeting_date": document.meeting_date.isoformat() if document.meeting_date else None,
        "paragraph": document.paragraph,
        "year": document.year,
        "has_decision": document.has_decision,
        "adjusted": document.adjusted,
        "evidence": [
            {"field": field, "page": span.page, "start": span.start, "end": span.end, "text": span.text,
             "offset": page_starts[span.page] + span.start if span.page in page_starts else None}
            for field, span in document.evidence
        ],
    }
