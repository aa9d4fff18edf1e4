"""/metrics: the bot's state in the Prometheus text exposition format (version 0.0.4).

Every value is read from the database when scraped, so any web process serving the same
database answers alike, and nothing is lost when a process restarts: counts of mails by
outcome and status, the review queue, the outbox by status, the time from storing a mail to
its first processing (a histogram, from the audit log), and the daemon's heartbeat.
docs/OPERATIONS.md lists the metrics with their meanings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from intake import __version__
from intake.domain import Outcome, UnitState
from intake.ops import heartbeat, watchdog
from intake.pipeline import Context
from intake.storage import store
from intake.storage.models import AuditRow, MessageRow, ReplyRow, UnitRow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MESSAGE_STATUSES = ("stored", "processed", "failed", "duplicate")
REPLY_STATUSES = ("queued", "sending", "sent", "held", "failed", "uncertain")
# Seconds from storing a mail to its first processing: seconds when all is well, minutes with
# OCR or a backlog, hours or days when the bot stood still.
PROCESSING_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0)
PROCESSED_ACTIONS = ("message_processed", "message_failed")  # audit actions of a processing


@dataclass(slots=True)
class Family:
    """One metric: its name, type, help text and samples (suffix, labels, value)."""

    name: str
    kind: str  # gauge | counter | histogram
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, suffix: str = "", **labels: str) -> Family:
        self.samples.append((suffix, labels, value))
        return self


def collect(ctx: Context) -> list[Family]:
    with ctx.sessions.begin() as session:
        beat = heartbeat.read(session)
        alerting = watchdog.read_state(session).alerting
        families = [
            Family("intake_info", "gauge", "The bot's version (always 1).").add(1, version=__version__),
            _counted("intake_messages", "Mails received, by outcome (none: not processed yet, or duplicate).",
                     "outcome", [*(o.value for o in Outcome), "none"],
                     _group(session, MessageRow.outcome, MessageRow.id)),
            _counted("intake_messages_by_status", "Mails received, by processing status.", "status",
                     MESSAGE_STATUSES, _group(session, MessageRow.status, MessageRow.id)),
            processing_histogram(session),
            Family("intake_review_queue_length", "gauge", "Open items in the coordinators' review queue.")
            .add(store.count_open_reviews(session)),
            _counted("intake_outbox_mails", "Outgoing mails (replies, reminders, alerts) by status.",
                     "status", REPLY_STATUSES, store.reply_status_counts(session)),
            Family("intake_outbox_backlog", "gauge", "Outgoing mails waiting to be sent (status queued).")
            .add(_queued(session)),
            Family("intake_outbox_oldest_queued_age_seconds", "gauge",
                   "Age of the oldest outgoing mail still queued; 0 when none is.")
            .add(_oldest_queued_age(session, ctx.clock())),
            _counted("intake_units", "Registered units of the award year, by state.", "state",
                     [s.value for s in UnitState],
                     _group(session, UnitRow.state, UnitRow.id, UnitRow.year == ctx.settings.award.year)),
        ]
    now = ctx.clock()
    limits = watchdog.Limits.of(ctx.settings.ops)
    last = Family("intake_last_successful_poll_timestamp_seconds", "gauge",
                  "When the mailbox was last read successfully (Unix time); 0: never.")
    last.add(beat.last_success.timestamp() if beat.last_success else 0.0)
    families.append(last)
    if beat.last_success is not None:
        families.append(Family("intake_last_successful_poll_age_seconds", "gauge",
                               "Seconds since the mailbox was last read successfully.")
                        .add(max(0.0, (now - beat.last_success).total_seconds())))
    families += [
        Family("intake_poll_consecutive_failures", "gauge", "Rounds in a row that failed to read the mail.")
        .add(beat.failures),
        Family("intake_poll_stale", "gauge",
               "1 when the watchdog's limits are passed (ops.alert_after_minutes or _failures).")
        .add(1 if watchdog.stale_reason(beat, now, limits) else 0),
        Family("intake_watchdog_alerting", "gauge",
               "1 from the watchdog's alert mail until its recovery mail.").add(1 if alerting else 0),
    ]
    return families


def exposition(ctx: Context) -> str:
    return render(collect(ctx))


def processing_histogram(session: Session) -> Family:
    """Seconds from storing each mail to its first processing (or shunting), from the audit log."""
    first = (
        select(AuditRow.subject.label("subject"), func.min(AuditRow.at).label("at"))
        .where(AuditRow.action.in_(PROCESSED_ACTIONS)).group_by(AuditRow.subject).subquery()
    )
    rows = session.execute(
        select(MessageRow.stored_at, first.c.at)
        .join(first, first.c.subject == literal("message:") + MessageRow.message_id)
        .where(MessageRow.duplicate_of_pk.is_(None))
    ).all()
    durations = [max(0.0, (at - stored).total_seconds()) for stored, at in rows if at is not None]
    return histogram("intake_processing_seconds",
                     "Seconds from storing a mail to its first processing.", durations, PROCESSING_BUCKETS)


def histogram(name: str, text: str, values: Sequence[float], buckets: Sequence[float]) -> Family:
    family = Family(name, "histogram", text)
    for bound in buckets:
        family.add(sum(1 for v in values if v <= bound), "_bucket", le=repr(float(bound)))
    family.add(len(values), "_bucket", le="+Inf")
    family.add(math.fsum(values), "_sum")
    family.add(len(values), "_count")
    return family


def render(families: Iterable[Family]) -> str:
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for suffix, labels, value in family.samples:
            label_text = ",".join(f'{key}="{_escape_label(val)}"' for key, val in labels.items())
            lines.append(f"{family.name}{suffix}{{{label_text}}} {_number(value)}" if labels
                         else f"{family.name}{suffix} {_number(value)}")
    return "\n".join(lines) + "\n"


def _counted(name: str, text: str, label: str, known: Iterable[str], counts: dict[str, int]) -> Family:
    """A gauge by one label: every known value (0 when absent) and any other the database holds."""
    family = Family(name, "gauge", text)
    values = dict.fromkeys(known, 0)
    for key, count in counts.items():
        values[key] = values.get(key, 0) + count
    for key, count in values.items():
        family.add(count, **{label: key})
    return family


def _group(session: Session, column: Any, counted: Any, *where: Any) -> dict[str, int]:
    query = select(column, func.count(counted)).group_by(column)
    for condition in where:
        query = query.where(condition)
    return {("none" if key is None else str(key)): count for key, count in session.execute(query)}


def _queued(session: Session) -> int:
    return session.scalar(select(func.count(ReplyRow.id)).where(ReplyRow.status == "queued")) or 0


def _oldest_queued_age(session: Session, now: datetime) -> float:
    oldest = session.scalar(select(func.min(ReplyRow.created_at)).where(ReplyRow.status == "queued"))
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
