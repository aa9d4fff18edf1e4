"""SQLAlchemy 2 models: units, messages (raw bytes whole), sightings, attachments,
matches, replies (the outbox), review items and the audit log.

Times are stored as UTC and always come back timezone-aware, on SQLite and
PostgreSQL alike. Schema changes go through Alembic (intake/storage/migrations).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UnitRow(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("year", "unit_id", name="uq_units_year_unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(300))
    award_class: Mapped[str] = mapped_column(String(200))
    administration: Mapped[str] = mapped_column(String(200))
    board: Mapped[str] = mapped_column(String(200))
    operator: Mapped[str | None] = mapped_column(String(20))
    contact_email: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(32), default="awaiting_protocol")
    protocol_message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    meeting_date: Mapped[date | None] = mapped_column(Date)
    paragraph: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    protocol_message: Mapped[MessageRow | None] = relationship()


class MessageRow(Base):
    """One mail as it arrived. `raw` is written first and never changed."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # stored -> processed | failed; duplicates of an earlier Message-ID are never processed
    status: Mapped[str] = mapped_column(String(16), default="stored", index=True)
    duplicate_of_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    from_name: Mapped[str] = mapped_column(String(300), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    outcome: Mapped[str | None] = mapped_column(String(16))
    missing: Mapped[list[str]] = mapped_column(JSON, default=list)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # names the protokollsutdrag gave that no registered unit matched (NULL: decided before 0005)
    unknown_mentions: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    automatic_reason: Mapped[str | None] = mapped_column(String(200))
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the instance processing it and until when (store's claim functions, docs/ROBUSTNESS.md)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the submission (case) this mail belongs to; None for ignored mail and before processing
    submission_pk: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)

    attachments: Mapped[list[AttachmentRow]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="AttachmentRow.id"
    )
    matches: Mapped[list[MatchRow]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="MatchRow.id"
    )
    replies: Mapped[list[ReplyRow]] = relationship(
        back_populates="message", order_by="ReplyRow.id"
    )
    submission: Mapped[SubmissionRow | None] = relationship(back_populates="messages")


class SubmissionRow(Base):
    """A case: the mails one sender's thread brings about one decision, under a reference number.

    The first answered mail opens it; a reply in its thread (In-Reply-To/References to one of
    its mails or to our reply) or a mail naming its reference number joins it."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("year", "seq", name="uq_submissions_year_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(20), unique=True)  # KU-2017-0042
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    messages: Mapped[list[MessageRow]] = relationship(back_populates="submission", order_by="MessageRow.id")


class AliasRow(Base):
    """A spelling a coordinator decided means a unit: matched like the unit's own name from then on."""

    __tablename__ = "unit_aliases"
    __table_args__ = (UniqueConstraint("unit_pk", "alias", name="uq_unit_aliases_unit_alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_pk: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    alias: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    source_message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))

    unit: Mapped[UnitRow] = relationship()


class SightingRow(Base):
    """Where a message was seen in a mailbox: (source, UIDVALIDITY, UID)."""

    __tablename__ = "sightings"
    __table_args__ = (
        UniqueConstraint("source", "validity", "key", name="uq_sightings_location"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(500))
    validity: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AttachmentRow(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    filename: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    doc_type: Mapped[str | None] = mapped_column(String(32))
    pages: Mapped[int] = mapped_column(Integer, default=0)
    unreadable: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)

    message: Mapped[MessageRow] = relationship(back_populates="attachments")


class MatchRow(Base):
    __tablename__ = "matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    unit_pk: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    mention: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column()
    filename: Mapped[str] = mapped_column(String(500), default="")
    # False: the mention's best unit, not sure enough to count; a coordinator decides
    sure: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    message: Mapped[MessageRow] = relationship(back_populates="matches")
    unit: Mapped[UnitRow] = relationship()


class ReplyRow(Base):
    """The outbox. A reply is written in the same transaction as the decision.

    kind: auto (the bot's answer), repeat (a coordinator's action), manual (written by a
    coordinator in the browser), reminder (to a committee still missing; no message_pk).

    status: queued -> sending -> sent; queued -> held (reply budget);
    sending -> uncertain (crash while sending: never resent automatically);
    queued -> failed (permanent error or attempts exhausted)."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="auto")
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    sender: Mapped[str] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the instance sending it and until when (store's claim functions, docs/ROBUSTNESS.md)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    message: Mapped[MessageRow | None] = relationship(back_populates="replies")


class ReviewItemRow(Base):
    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    # how a coordinator closed it: accepted, other_unit, not_protocol, unit_added, dismissed, replied
    resolution: Mapped[str | None] = mapped_column(String(32))

    message: Mapped[MessageRow] = relationship()


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class UserRow(Base):
    """A coordinator who signs in to the web desk. The password is kept only as an Argon2 hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(300), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SettingRow(Base):
    """State the application keeps for itself: the web session key, the last automatic reminder."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
