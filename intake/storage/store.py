"""Queries and writes on the models; every function takes a session and never commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.orm import Session

from intake.domain import ImportReport, RawMail, Unit, UnitState
from intake.storage.models import (
    AliasRow,
    AttachmentRow,
    AuditRow,
    MessageRow,
    ReplyRow,
    ReviewItemRow,
    SettingRow,
    SightingRow,
    SubmissionRow,
    UnitRow,
    UserRow,
)

UNIT_FIELDS = (
    "name",
    "award_class",
    "administration",
    "board",
    "operator",
    "contact_email",
)


# --- audit ------------------------------------------------------------------------------


def audit(session: Session, actor: str, action: str, subject: str, **detail: Any) -> None:
    session.add(AuditRow(actor=actor, action=action, subject=subject, detail=detail))


# --- units ------------------------------------------------------------------------------


def to_unit(row: UnitRow) -> Unit:
    return Unit(
        unit_id=row.unit_id,
        year=row.year,
        name=row.name,
        award_class=row.award_class,
        administration=row.administration,
        board=row.board,
        operator=row.operator,
        contact_email=row.contact_email,
    )


def upsert_units(session: Session, units: Iterable[Unit], actor: str) -> ImportReport:
    """Add new units, update changed ones, leave the rest: importing twice changes nothing."""
    added = updated = unchanged = 0
    for unit in units:
        row = session.scalar(
            select(UnitRow).where(UnitRow.year == unit.year, UnitRow.unit_id == unit.unit_id)
        )
        if row is None:
            session.add(UnitRow(unit_id=unit.unit_id, year=unit.year, **_unit_values(unit)))
            audit(session, actor, "unit_added", f"unit:{unit.unit_id}", year=unit.year,
                  name=unit.name)
            added += 1
            continue
        changes = {
            key: value for key, value in _unit_values(unit).items() if getattr(row, key) != value
        }
        if not changes:
            unchanged += 1
            continue
        for key, value in changes.items():
            setattr(row, key, value)
        audit(session, actor, "unit_updated", f"unit:{unit.unit_id}", changes=changes)
        updated += 1
    session.flush()
    return ImportReport(added=added, updated=updated, unchanged=unchanged)


def _unit_values(unit: Unit) -> dict[str, Any]:
    return {key: getattr(unit, key) for key in UNIT_FIELDS}


UNIT_COLUMNS = (UnitRow.unit_id, UnitRow.year, UnitRow.name, UnitRow.award_class, UnitRow.administration,
                UnitRow.board, UnitRow.operator, UnitRow.contact_email)


def register_units(session: Session, year: int) -> tuple[Unit, ...]:
    """The year's units as the register file gives them, in `unit_rows` order: only the columns a
    Unit has, no ORM objects (the processing loads them every round)."""
    query = select(*UNIT_COLUMNS).where(UnitRow.year == year).order_by(UnitRow.board, UnitRow.name)
    return tuple(Unit(**row._asdict()) for row in session.execute(query))


def alias_pairs(session: Session, year: int) -> tuple[tuple[str, str], ...]:
    """(alias, unit_id) of the year's confirmed spellings, in `aliases` order."""
    query = (select(AliasRow.alias, UnitRow.unit_id).join(UnitRow, AliasRow.unit_pk == UnitRow.id)
             .where(UnitRow.year == year).order_by(UnitRow.name, AliasRow.alias))
    return tuple((alias, unit_id) for alias, unit_id in session.execute(query))


def unit_rows(session: Session, year: int | None = None) -> Sequence[UnitRow]:
    query = select(UnitRow).order_by(UnitRow.year, UnitRow.board, UnitRow.name)
    if year is not None:
        query = query.where(UnitRow.year == year)
    return session.scalars(query).all()


def units_by_ids(session: Session, year: int, unit_ids: Iterable[str]) -> Sequence[UnitRow]:
    ids = list(unit_ids)
    if not ids:
        return []
    return session.scalars(select(UnitRow).where(UnitRow.year == year, UnitRow.unit_id.in_(ids))).all()


def set_unit_state(
    session: Session, row: UnitRow, state: UnitState, message: MessageRow | None,
    actor: str, **detail: Any,
) -> None:
    if row.state == state and (message is None or row.protocol_message_pk == message.id):
        return
    audit(session, actor, "unit_state", f"unit:{row.unit_id}", old=row.state, new=str(state),
          message=message.message_id if message else None, **detail)
    row.state = state
    if message is not None:
        row.protocol_message_pk = message.id
        document = message.document or {}
        row.meeting_date = _date_or_none(document.get("meeting_date"))
        row.paragraph = document.get("paragraph")


def _date_or_none(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


# --- messages ---------------------------------------------------------------------------


def known_keys(session: Session, source: str, validity: str) -> set[str]:
    rows = session.scalars(
        select(SightingRow.key).where(SightingRow.source == source, SightingRow.validity == validity)
    )
    return set(rows)


def message_by_sha(session: Session, sha256: str) -> MessageRow | None:
    return session.scalar(select(MessageRow).where(MessageRow.sha256 == sha256))


def first_message_with_id(session: Session, message_id: str) -> MessageRow | None:
    return session.scalar(
        select(MessageRow)
        .where(MessageRow.message_id == message_id, MessageRow.duplicate_of_pk.is_(None))
        .order_by(MessageRow.id)
    )


def record_sighting(session: Session, mail: RawMail, message: MessageRow) -> None:
    session.add(
        SightingRow(
            source=mail.ref.source, validity=mail.ref.validity, key=mail.ref.key,
            message_pk=message.id,
        )
    )


def pending_messages(session: Session) -> Sequence[MessageRow]:
    """Messages stored but not yet processed (a crash or a transient error stopped them)."""
    return session.scalars(
        select(MessageRow).where(MessageRow.status == "stored").order_by(MessageRow.id)
    ).all()



def messages_waiting_on_register(session: Session) -> Sequence[MessageRow]:
    """Processed mails a register change may settle, oldest first: incomplete, or needing a review
    no coordinator has closed yet; with a protokollsutdrag read."""
    open_item = select(ReviewItemRow.id).where(ReviewItemRow.message_pk == MessageRow.id,
                                               ReviewItemRow.status == "open").exists()
    return session.scalars(
        select(MessageRow).where(
            MessageRow.status == "processed",
            (MessageRow.outcome == "incomplete") | ((MessageRow.outcome == "needs_review") & open_item),
            MessageRow.document.is_not(None),
        ).order_by(MessageRow.id)
    ).all()


def open_review(session: Session, message: MessageRow, reason: str) -> None:
    session.add(ReviewItemRow(message_pk=message.id, reason=reason))


def open_review_items(session: Session) -> Sequence[ReviewItemRow]:
    """Every open review item, oldest mail first."""
    return session.scalars(
        select(ReviewItemRow).join(MessageRow, ReviewItemRow.message_pk == MessageRow.id)
        .where(ReviewItemRow.status == "open").order_by(MessageRow.received_at, MessageRow.id)
    ).all()


def open_reviews(session: Session, message: MessageRow) -> Sequence[ReviewItemRow]:
    return session.scalars(
        select(ReviewItemRow).where(
            ReviewItemRow.message_pk == message.id, ReviewItemRow.status == "open"
        )
    ).all()


def confirmed_unit_ids(session: Session, year: int) -> frozenset[str]:
    """The year's units already confirmed by some mail."""
    return frozenset(session.scalars(
        select(UnitRow.unit_id).where(UnitRow.year == year, UnitRow.state == UnitState.CONFIRMED)
    ).all())


def units_confirmed_by(session: Session, message: MessageRow) -> Sequence[UnitRow]:
    return session.scalars(select(UnitRow).where(UnitRow.protocol_message_pk == message.id)).all()


# --- submissions (cases) ----------------------------------------------------------------

REFERENCE_FORMAT = "KU-{year}-{seq:04d}"


def submission_by_reference(session: Session, reference: str) -> SubmissionRow | None:
    return session.scalar(select(SubmissionRow).where(SubmissionRow.reference == reference.upper()))


def submission_of_thread(session: Session, message_ids: Iterable[str]) -> SubmissionRow | None:
    """The submission of the latest mail or reply of ours among these Message-IDs, if any."""
    ids = [i for i in message_ids if i]
    if not ids:
        return None
    from_mail = session.scalar(
        select(SubmissionRow).join(MessageRow, MessageRow.submission_pk == SubmissionRow.id)
        .where(MessageRow.message_id.in_(ids)).order_by(MessageRow.id.desc()).limit(1)
    )
    if from_mail is not None:
        return from_mail
    return session.scalar(
        select(SubmissionRow).join(MessageRow, MessageRow.submission_pk == SubmissionRow.id)
        .join(ReplyRow, ReplyRow.message_pk == MessageRow.id)
        .where(ReplyRow.message_id.in_(ids)).order_by(ReplyRow.id.desc()).limit(1)
    )


def open_submission(session: Session, year: int) -> SubmissionRow:
    """A new submission with the year's next reference number (KU-2017-0001, ...)."""
    last = session.scalar(select(func.max(SubmissionRow.seq)).where(SubmissionRow.year == year)) or 0
    row = SubmissionRow(year=year, seq=last + 1, reference=REFERENCE_FORMAT.format(year=year, seq=last + 1))
    session.add(row)
    session.flush()
    return row


def earlier_in_submission(
    session: Session, submission: SubmissionRow, message: MessageRow
) -> Sequence[MessageRow]:
    """The submission's mails processed before this one, oldest first."""
    return session.scalars(
        select(MessageRow).where(MessageRow.submission_pk == submission.id, MessageRow.id < message.id,
                                 MessageRow.status == "processed").order_by(MessageRow.id)
    ).all()


def confirmed_with_same_attachment(session: Session, year: int, sha256s: Iterable[str],
                                   message: MessageRow) -> MessageRow | None:
    """An earlier confirmed mail of the year that carried one of these very files (a duplicate)."""
    hashes = list(sha256s)
    if not hashes:
        return None
    return session.scalar(
        select(MessageRow).join(AttachmentRow, AttachmentRow.message_pk == MessageRow.id)
        .join(UnitRow, UnitRow.protocol_message_pk == MessageRow.id)
        .where(AttachmentRow.sha256.in_(hashes), MessageRow.id != message.id, UnitRow.year == year)
        .order_by(MessageRow.id).limit(1)
    )


# --- aliases ----------------------------------------------------------------------------


def aliases(session: Session, year: int) -> Sequence[AliasRow]:
    return session.scalars(
        select(AliasRow).join(UnitRow, AliasRow.unit_pk == UnitRow.id).where(UnitRow.year == year)
        .order_by(UnitRow.name, AliasRow.alias)
    ).all()


def add_alias(session: Session, unit: UnitRow, alias: str, actor: str,
              message: MessageRow | None = None) -> AliasRow:
    """Record that `alias` means `unit` (idempotent); audited."""
    text = " ".join(alias.split())
    if not text:
        raise ValueError("an alias can't be empty")
    row = session.scalar(select(AliasRow).where(AliasRow.unit_pk == unit.id, AliasRow.alias == text))
    if row is not None:
        return row
    row = AliasRow(unit_pk=unit.id, alias=text, created_by=actor,
                   source_message_pk=message.id if message is not None else None)
    session.add(row)
    audit(session, actor, "alias_added", f"unit:{unit.unit_id}", alias=text,
          message=message.message_id if message is not None else None)
    session.flush()
    return row


def remove_alias(session: Session, alias_id: int, actor: str) -> AliasRow | None:
    row = session.get(AliasRow, alias_id)
    if row is None:
        return None
    audit(session, actor, "alias_removed", f"unit:{row.unit.unit_id}", alias=row.alias)
    session.delete(row)
    return row


# --- replies ----------------------------------------------------------------------------


def auto_reply_for(session: Session, message: MessageRow) -> ReplyRow | None:
    return session.scalar(
        select(ReplyRow).where(ReplyRow.message_pk == message.id, ReplyRow.kind == "auto")
    )


def replies_to_since(session: Session, recipient: str, since: datetime) -> int:
    """Replies queued or sent to this address since `since`, for the loop guard."""
    return session.scalar(
        select(func.count(ReplyRow.id)).where(
            ReplyRow.recipient == recipient.lower(),  # stored lower-case, so the index serves
            ReplyRow.created_at >= since,
            ReplyRow.status.in_(("queued", "sending", "sent", "uncertain")),
        )
    ) or 0


def due_replies(session: Session, now: datetime, limit: int) -> Sequence[ReplyRow]:
    return session.scalars(
        select(ReplyRow)
        .where(ReplyRow.status == "queued", ReplyRow.next_attempt_at <= now)
        .order_by(ReplyRow.id)
        .limit(limit)
    ).all()


def queued_replies(session: Session) -> Sequence[ReplyRow]:
    return session.scalars(
        select(ReplyRow).where(ReplyRow.status == "queued").order_by(ReplyRow.id)
    ).all()


def interrupted_sends(session: Session) -> Sequence[ReplyRow]:
    return session.scalars(select(ReplyRow).where(ReplyRow.status == "sending")).all()


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """Exponential backoff, capped at six hours."""
    return timedelta(seconds=min(base_seconds * 2 ** max(attempts - 1, 0), 6 * 3600))


# --- coordinators and application settings ------------------------------------------------


def user_by_name(session: Session, username: str) -> UserRow | None:
    return session.scalars(select(UserRow).where(UserRow.username == username.strip().lower())).first()


def users(session: Session) -> Sequence[UserRow]:
    return session.scalars(select(UserRow).order_by(UserRow.username)).all()


def save_user(session: Session, username: str, display_name: str, password_hash: str, actor: str) -> UserRow:
    """Add a coordinator, or set a new password (and name) for one that exists."""
    name = username.strip().lower()
    row = user_by_name(session, name)
    if row is None:
        row = UserRow(username=name, display_name=display_name, password_hash=password_hash)
        session.add(row)
        audit(session, actor, "user_add", f"user:{name}")
    else:
        row.password_hash, row.active = password_hash, True
        if display_name:
            row.display_name = display_name
        audit(session, actor, "user_password", f"user:{name}")
    session.flush()
    return row


def setting(session: Session, key: str) -> str | None:
    row = session.get(SettingRow, key)
    return None if row is None else row.value


def set_setting(session: Session, key: str, value: str) -> None:
    row = session.get(SettingRow, key)
    if row is None:
        session.add(SettingRow(key=key, value=value))
    else:
        row.value = value
    session.flush()


LATE_ACCEPTED = "review_accept_late"  # the audit action of a coordinator counting a late extract


def late_accepted(session: Session, message: MessageRow) -> bool:
    """Whether a coordinator decided that this mail's late extract counts."""
    return session.scalar(select(func.count(AuditRow.id)).where(
        AuditRow.action == LATE_ACCEPTED, AuditRow.subject == f"message:{message.message_id}")) != 0


def audit_count(session: Session, action: str, subject: str, since: datetime) -> int:
    """How many times `action` on `subject` was logged since `since` (e.g. failed sign-ins)."""
    return session.scalar(select(func.count(AuditRow.id)).where(
        AuditRow.action == action, AuditRow.subject == subject, AuditRow.at >= since)) or 0


# --- web: overview ---


def count_open_reviews(session: Session) -> int:
    """The length of the review queue."""
    return session.scalar(select(func.count(ReviewItemRow.id)).where(ReviewItemRow.status == "open")) or 0


def reply_status_counts(session: Session) -> dict[str, int]:
    """How many outgoing mails (replies and reminders) are in each status."""
    rows = session.execute(select(ReplyRow.status, func.count(ReplyRow.id)).group_by(ReplyRow.status))
    return {status: count for status, count in rows}


def message_log(session: Session, *, outcome: str | None = None, unprocessed: bool = False,
                offset: int = 0, limit: int = 100) -> tuple[Sequence[Any], int]:
    """A page of the mail log, newest arrival first, and how many mails match in all.

    Only the columns the log shows (never the raw bytes); `unprocessed` picks the mails
    without an outcome (not processed yet, or duplicates)."""
    def narrowed(query: Any) -> Any:
        if unprocessed:
            return query.where(MessageRow.outcome.is_(None))
        return query.where(MessageRow.outcome == outcome) if outcome else query

    total = session.scalar(narrowed(select(func.count(MessageRow.id)))) or 0
    rows = session.execute(
        narrowed(
            select(MessageRow.id, MessageRow.message_id, MessageRow.received_at, MessageRow.from_addr,
                   MessageRow.from_name, MessageRow.subject, MessageRow.outcome, MessageRow.missing,
                   MessageRow.status, SubmissionRow.reference)
            .outerjoin(SubmissionRow, MessageRow.submission_pk == SubmissionRow.id)
        )
        .order_by(MessageRow.received_at.desc(), MessageRow.id.desc())
        .offset(offset).limit(limit)
    ).all()
    return rows, total


def latest_replies(session: Session, message_pks: Iterable[int]) -> dict[int, Any]:
    """The latest reply (id, status, kind) to each of these mails, by the mail's pk."""
    pks = list(message_pks)
    if not pks:
        return {}
    rows = session.execute(
        select(ReplyRow.id, ReplyRow.message_pk, ReplyRow.status, ReplyRow.kind)
        .where(ReplyRow.message_pk.in_(pks)).order_by(ReplyRow.id)
    )
    return {row.message_pk: row for row in rows}


def reminders(session: Session, *, subject: str | None = None, recipient: str | None = None,
              since: datetime | None = None, limit: int | None = None) -> Sequence[ReplyRow]:
    """Reminders in the outbox (kind `reminder`), newest first, optionally narrowed."""
    query = select(ReplyRow).where(ReplyRow.kind == "reminder")
    if subject is not None:
        query = query.where(ReplyRow.subject == subject)
    if recipient is not None:
        query = query.where(ReplyRow.recipient == recipient.lower())
    if since is not None:
        query = query.where(ReplyRow.created_at >= since)
    query = query.order_by(ReplyRow.created_at.desc(), ReplyRow.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return session.scalars(query).all()


def latest_reminder_at(session: Session, subjects: Iterable[str]) -> dict[str, datetime]:
    """When a reminder with each of these subjects was last queued (subjects never reminded are absent)."""
    wanted = list(subjects)
    if not wanted:
        return {}
    rows = session.execute(
        select(ReplyRow.subject, func.max(ReplyRow.created_at))
        .where(ReplyRow.kind == "reminder", ReplyRow.subject.in_(wanted)).group_by(ReplyRow.subject)
    )
    return {subject: at for subject, at in rows if at is not None}


def audit_entries(session: Session, subjects: Iterable[str]) -> Sequence[AuditRow]:
    """The audit log's entries about these subjects (message:<id>, reply:<id>, ...), oldest first."""
    wanted = list(subjects)
    if not wanted:
        return []
    return session.scalars(
        select(AuditRow).where(AuditRow.subject.in_(wanted)).order_by(AuditRow.at, AuditRow.id)
    ).all()


# --- web: register ----------------------------------------------------------------------


def register_rows(session: Session, year: int) -> list[tuple[UnitRow, str | None, datetime | None]]:
    """The year's units, each with the Message-ID and arrival of its protokoll (the raw mail not loaded)."""
    rows = session.execute(
        select(UnitRow, MessageRow.message_id, MessageRow.received_at)
        .outerjoin(MessageRow, UnitRow.protocol_message_pk == MessageRow.id)
        .where(UnitRow.year == year).order_by(UnitRow.board, UnitRow.name, UnitRow.id)
    ).all()
    return [(unit, message_id, received_at) for unit, message_id, received_at in rows]


def unit_of_year(session: Session, year: int, pk: int) -> UnitRow | None:
    """The unit with this database id, if it belongs to the award year."""
    row = session.get(UnitRow, pk)
    return row if row is not None and row.year == year else None


def message_pks(session: Session, message_ids: Iterable[str]) -> dict[str, int]:
    """Message-ID -> database id of the first mail stored with it (not a duplicate)."""
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(MessageRow.message_id, MessageRow.id)
        .where(MessageRow.message_id.in_(ids), MessageRow.duplicate_of_pk.is_(None))
        .order_by(MessageRow.id.desc())
    ).all()
    return {message_id: pk for message_id, pk in rows}  # descending: the first stored wins


# --- web: review queue --------------------------------------------------------------------


def review_items_of(session: Session, message: MessageRow) -> Sequence[ReviewItemRow]:
    """Every review item of a mail, open or closed, oldest first."""
    return session.scalars(
        select(ReviewItemRow).where(ReviewItemRow.message_pk == message.id).order_by(ReviewItemRow.id)
    ).all()


def sure_matches_of_unit(session: Session, unit: UnitRow, other_than: MessageRow) -> Sequence[MessageRow]:
    """Other processed mails whose protokollsutdrag surely matched this unit, oldest first."""
    from intake.storage.models import MatchRow  # here, not at the top: this section only appends

    return session.scalars(
        select(MessageRow).join(MatchRow, MatchRow.message_pk == MessageRow.id)
        .where(MatchRow.unit_pk == unit.id, MatchRow.sure.is_(True), MessageRow.id != other_than.id,
               MessageRow.status == "processed")
        .order_by(MessageRow.received_at, MessageRow.id)
    ).all()


# --- multi-instance ---------------------------------------------------------------------
# Claims (migration 0004) let several bot instances share one PostgreSQL database. The
# instance processing a mail, or sending a reply, writes its token and a time limit into
# claimed_by / claimed_until; every change of a claim is a conditional UPDATE whose row
# count says whether this instance won it, so two instances never both do. They are Core
# statements on the tables, never the ORM's flush, so no loaded object's copy of a claim
# is ever written back. docs/ROBUSTNESS.md.

ADVISORY_NAMESPACE = 0x4B55  # "KU": the first key of every advisory lock the bot takes on PostgreSQL
PROCESSING_LOCK = 0  # second key of the lock that serialises the decision transactions

_message_claims = cast(Table, MessageRow.__table__)  # a mapped class's table is a Table
_reply_claims = cast(Table, ReplyRow.__table__)


@dataclass(frozen=True, slots=True)
class Claim:
    """Who holds a mail or a reply (an instance's token), and until when; None: nobody."""

    pk: int
    owner: str | None
    until: datetime | None


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def live_instance_keys(session: Session) -> frozenset[int] | None:
    """The keys of the instances alive now: each holds a session advisory lock on PostgreSQL,
    released by the server the moment its connection ends (a crash, a kill). None: the
    database cannot tell (SQLite)."""
    if not is_postgresql(session):
        return None
    rows = session.execute(text(
        "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
        f"AND classid = {ADVISORY_NAMESPACE} AND objsubid = 2 AND objid <> {PROCESSING_LOCK}"
    )).scalars()
    return frozenset(int(key) for key in rows)


def serialize_processing(session: Session) -> None:
    """Make the decision transactions of all instances run one at a time (PostgreSQL; SQLite
    writers are serialised anyway). The lock is the transaction's and ends with it."""
    if is_postgresql(session):
        session.execute(text(f"SELECT pg_advisory_xact_lock({ADVISORY_NAMESPACE}, {PROCESSING_LOCK})"))


def _claims(session: Session, claims: Any, status: str) -> list[Claim]:
    rows = session.execute(
        select(claims.c.id, claims.c.claimed_by, claims.c.claimed_until)
        .where(claims.c.status == status).order_by(claims.c.id)
    )
    return [Claim(pk, owner, until) for pk, owner, until in rows]


def pending_claims(session: Session) -> list[Claim]:
    """Every mail stored and not yet processed, oldest first, with its claim (never the raw bytes)."""
    return _claims(session, _message_claims, "stored")


def message_claim(session: Session, pk: int) -> Claim:
    pk_, owner, until = session.execute(
        select(_message_claims.c.id, _message_claims.c.claimed_by, _message_claims.c.claimed_until)
        .where(_message_claims.c.id == pk)
    ).one()
    return Claim(pk_, owner, until)


def _same(col: Any, value: Any) -> Any:
    return col.is_(None) if value is None else col == value


def take_message(session: Session, seen: Claim, owner: str, until: datetime) -> bool:
    """Compare-and-set: claim a stored mail for `owner` if its claim is still the one `seen`."""
    result = session.execute(
        update(_message_claims)
        .where(_message_claims.c.id == seen.pk, _message_claims.c.status == "stored",
               _same(_message_claims.c.claimed_by, seen.owner),
               _same(_message_claims.c.claimed_until, seen.until))
        .values(claimed_by=owner, claimed_until=until)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_message_claim(session: Session, pk: int, owner: str | None, until: datetime | None) -> None:
    session.execute(update(_message_claims).where(_message_claims.c.id == pk)
                    .values(claimed_by=owner, claimed_until=until))


def hold_message(session: Session, pk: int, owner: str, until: datetime) -> bool:
    """The guard of a processing transaction: the mail is still stored and claimed by `owner`.
    The UPDATE keeps the row locked until the transaction ends, so of two instances that both
    believe they hold it, the second waits and then finds it processed."""
    result = session.execute(
        update(_message_claims)
        .where(_message_claims.c.id == pk, _message_claims.c.status == "stored",
               _message_claims.c.claimed_by == owner)
        .values(claimed_until=until)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def renew_message_claims(session: Session, owner: str, until: datetime) -> int:
    result = session.execute(
        update(_message_claims)
        .where(_message_claims.c.status == "stored", _message_claims.c.claimed_by == owner)
        .values(claimed_until=until)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def release_message_claims(session: Session) -> int:
    """Give up every claim on a stored mail (SQLite at start-up: one bot at a time there)."""
    result = session.execute(
        update(_message_claims)
        .where(_message_claims.c.status == "stored", _message_claims.c.claimed_by.is_not(None))
        .values(claimed_by=None, claimed_until=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def processed_twin(session: Session, message: MessageRow) -> MessageRow | None:
    """Another mail with this Message-ID (other bytes) already processed: two instances stored
    both at once, so neither was marked a duplicate when it was stored."""
    return session.scalar(
        select(MessageRow).where(
            MessageRow.message_id == message.message_id, MessageRow.id != message.id,
            MessageRow.duplicate_of_pk.is_(None), MessageRow.status.in_(("processed", "failed")),
        ).order_by(MessageRow.id).limit(1)
    )


def has_sighting(session: Session, mail: RawMail) -> bool:
    return session.scalar(select(func.count(SightingRow.id)).where(
        SightingRow.source == mail.ref.source, SightingRow.validity == mail.ref.validity,
        SightingRow.key == mail.ref.key)) != 0


def take_reply(session: Session, pk: int, owner: str, now: datetime, until: datetime) -> bool:
    """queued -> sending, for `owner` alone: the UPDATE's condition lets one instance win."""
    result = session.execute(
        update(_reply_claims)
        .where(_reply_claims.c.id == pk, _reply_claims.c.status == "queued",
               _reply_claims.c.next_attempt_at <= now)
        .values(status="sending", attempts=_reply_claims.c.attempts + 1,
                claimed_by=owner, claimed_until=until)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish_reply(session: Session, pk: int, owner: str, **values: Any) -> bool:
    """Record how `owner`'s send ended (sent, queued again, failed, uncertain), if it still holds
    the reply: `sending`, or `uncertain` when another instance wrongly took it for dead."""
    result = session.execute(
        update(_reply_claims)
        .where(_reply_claims.c.id == pk, _reply_claims.c.claimed_by == owner,
               _reply_claims.c.status.in_(("sending", "uncertain")))
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def sending_claims(session: Session) -> list[Claim]:
    """Every reply in `sending`, with the claim of the instance sending it."""
    return _claims(session, _reply_claims, "sending")


def give_up_send(session: Session, seen: Claim, status: str, reason: str) -> bool:
    """Compare-and-set a reply still `sending` under the claim `seen` to `status` (uncertain, queued)."""
    result = session.execute(
        update(_reply_claims)
        .where(_reply_claims.c.id == seen.pk, _reply_claims.c.status == "sending",
               _same(_reply_claims.c.claimed_by, seen.owner))
        .values(status=status, last_error=reason)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
