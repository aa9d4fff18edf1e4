"""Reminders to the committees whose units still await a protokollsutdrag.

A reminder is an outgoing mail of kind `reminder` in the outbox (no incoming mail behind
it, so `message_pk` is None); the outbox sends it like a reply. Each committee's contacts
(the register's distinct contact addresses of its awaiting units) get one mail each,
naming those units, the deadline and how to send the extract.

Two guards: the same address is reminded about the same committee at most once a day
(`REMINDER_GUARD`, whoever asks), and the automatic reminder (`web.reminder_days` before
the deadline, 0: off) goes out once a year, remembered in the application settings.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.utils import getaddresses

from sqlalchemy.orm import Session

from intake.domain import UnitState
from intake.pipeline.context import Context
from intake.pipeline.replying import BUDGET_WINDOW
from intake.replies import compose_reminder, reminder_subject
from intake.storage import store
from intake.storage.models import ReplyRow, UnitRow

log = logging.getLogger(__name__)
REMINDER_GUARD = timedelta(days=1)  # no second reminder to one address about one committee within this
AUTO_SETTING = "auto_reminder_{year}"  # app_settings key: when the year's automatic reminder was queued
# Conservative: a plain ASCII address (SMTP without SMTPUTF8 takes no other); anything else in
# the register's contact field is skipped, and a committee with none shows "no usable address".
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


@dataclass(frozen=True, slots=True)
class MissingCommittee:
    """A committee (nämnd or styrelse) with units still awaiting a protokollsutdrag."""

    board: str
    units: tuple[UnitRow, ...]
    contacts: tuple[str, ...]  # distinct, lower-case, from the units' register rows
    last_reminded: datetime | None


@dataclass(slots=True)
class ReminderReport:
    """What asking for reminders did: per committee, the addresses queued and those skipped."""

    queued: dict[str, list[str]] = field(default_factory=dict)
    recent: dict[str, list[str]] = field(default_factory=dict)  # reminded within REMINDER_GUARD
    held: dict[str, list[str]] = field(default_factory=dict)  # queued but held back by the reply budget
    no_contact: list[str] = field(default_factory=list)  # committees without a usable address
    unknown: list[str] = field(default_factory=list)  # committees asked for that are not missing

    @property
    def queued_count(self) -> int:
        return sum(len(addresses) for addresses in self.queued.values())


def contact_addresses(text: str | None) -> list[str]:
    """The usable addresses in a register's contact field ("a@x.se", "A <a@x.se>; b@y.se"), lower-case."""
    if not text:
        return []
    found = []
    for _, address in getaddresses([text.replace(";", ",")]):
        address = address.strip().lower()
        if ADDRESS.fullmatch(address) and address not in found:
            found.append(address)
    return found


def missing_committees(ctx: Context, session: Session) -> list[MissingCommittee]:
    """The award year's committees with units in `awaiting_protocol`, by name."""
    by_board: dict[str, list[UnitRow]] = defaultdict(list)
    for row in store.unit_rows(session, ctx.settings.award.year):
        if row.state == UnitState.AWAITING_PROTOCOL:
            by_board[row.board].append(row)
    year = ctx.settings.award.year
    last = store.latest_reminder_at(session, [reminder_subject(year, board) for board in by_board])
    committees = []
    for board in sorted(by_board, key=str.casefold):
        units = tuple(sorted(by_board[board], key=lambda row: row.name.casefold()))
        contacts = tuple(dict.fromkeys(a for row in units for a in contact_addresses(row.contact_email)))
        committees.append(MissingCommittee(board, units, contacts, last.get(reminder_subject(year, board))))
    return committees


def queue_reminders(ctx: Context, actor: str, boards: list[str] | None = None) -> ReminderReport:
    """Queue reminders to these committees (None: every committee still missing), in one transaction."""
    with ctx.sessions.begin() as session:
        return queue_reminders_in(ctx, session, actor, boards)


def queue_reminders_in(ctx: Context, session: Session, actor: str,
                       boards: list[str] | None = None) -> ReminderReport:
    report = ReminderReport()
    committees = {_key(c.board): c for c in missing_committees(ctx, session)}
    wanted = [c.board for c in committees.values()] if boards is None else boards
    for board in wanted:
        committee = committees.get(_key(board))
        if committee is None:
            report.unknown.append(board)
        elif not committee.contacts:
            report.no_contact.append(board)
        else:
            _remind(ctx, session, committee, actor, report)
    return report


def _key(board: str) -> str:
    return " ".join(board.split()).casefold()


def _remind(ctx: Context, session: Session, committee: MissingCommittee, actor: str,
            report: ReminderReport) -> None:
    award = ctx.settings.award
    now = ctx.clock()
    subject = reminder_subject(award.year, committee.board)
    units = [store.to_unit(row) for row in committee.units]
    for address in committee.contacts:
        with session.no_autoflush:
            earlier = store.reminders(session, subject=subject, recipient=address, since=now - REMINDER_GUARD)
        if earlier:
            report.recent.setdefault(committee.board, []).append(address)
            continue
        outgoing = compose_reminder(
            ctx.renderer, to_address=address, board=committee.board, units=units, award=award,
            sender=ctx.settings.smtp.sender or award.mailbox, reply_to_address=award.mailbox, now=now,
        )
        with session.no_autoflush:
            recent = store.replies_to_since(session, address, now - BUDGET_WINDOW)
        held = recent >= ctx.settings.outbox.replies_per_hour
        session.add(ReplyRow(
            message_pk=None, kind="reminder", message_id=outgoing.message_id, sender=outgoing.sender,
            recipient=address, subject=outgoing.subject, raw=outgoing.raw,
            status="held" if held else "queued", next_attempt_at=now, created_at=now,
            last_error=(f"Svarsgränsen nådd: {recent} mejl till {address} den senaste timmen."
                        if held else None),
        ))
        session.flush()  # the next address's guard and budget see this one
        store.audit(session, actor, "reminder_held" if held else "reminder_queued",
                    f"reply:{outgoing.message_id}", board=committee.board, to=address,
                    units=[unit.unit_id for unit in units])
        report.queued.setdefault(committee.board, []).append(address)
        if held:
            report.held.setdefault(committee.board, []).append(address)
            log.warning("reminder to %s held back: %d mails in the last hour", address, recent)
        else:
            log.info("reminder to %s about %s queued", address, committee.board)


# --- the automatic reminder ------------------------------------------------------------------


def auto_reminder_key(year: int) -> str:
    return AUTO_SETTING.format(year=year)


def auto_reminder_window(ctx: Context) -> tuple[date, date] | None:
    """The first and last day (award time zone) the automatic reminder may go out; None when off."""
    days = ctx.settings.web.reminder_days
    if days <= 0:
        return None
    deadline = ctx.settings.award.protocol_deadline
    return deadline - timedelta(days=days), deadline


def auto_reminder_sent_at(ctx: Context, session: Session) -> str | None:
    """When this year's automatic reminder was queued (ISO 8601), None if it has not been."""
    return store.setting(session, auto_reminder_key(ctx.settings.award.year))


def check_auto_reminder(ctx: Context) -> int:
    """Queue the year's automatic reminder if it is due and not yet done; returns how many mails.

    Due from `web.reminder_days` days before the deadline up to the deadline day itself (award
    time zone); once a year, also when no committee is missing by then. Never raises: a
    failure is logged and tried again on the next poll."""
    window = auto_reminder_window(ctx)
    if window is None:
        return 0
    today = ctx.clock().astimezone(ctx.settings.award.tz).date()
    if not window[0] <= today <= window[1]:
        return 0
    try:
        with ctx.sessions.begin() as session:
            key = auto_reminder_key(ctx.settings.award.year)
            if store.setting(session, key) is not None:
                return 0
            report = queue_reminders_in(ctx, session, ctx.actor)
            store.set_setting(session, key, ctx.clock().isoformat())
            store.audit(session, ctx.actor, "auto_reminder", f"year:{ctx.settings.award.year}",
                        queued=report.queued, skipped_recent=report.recent, no_contact=report.no_contact,
                        days_before=ctx.settings.web.reminder_days)
    except Exception:  # noqa: BLE001 - a reminder must never stop the mail from being processed
        log.exception("the automatic reminder failed; trying again on the next poll")
        return 0
    log.info("automatic reminder: %d mail(s) to %d committee(s)", report.queued_count, len(report.queued))
    return report.queued_count
