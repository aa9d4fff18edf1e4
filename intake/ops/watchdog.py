"""The watchdog: one alert mail when the mailbox has not been read for too long, one when it is again.

Pure logic first (`stale_reason`, `step`), then `after_round`, which the daemon calls after
every round: it records the heartbeat and, in the same transaction, moves the watchdog's
state and queues its mails in the outbox (kind `alert`, no incoming mail behind them).

- *Stale*: `ops.alert_after_failures` rounds in a row failed, or no round has succeeded for
  `ops.alert_after_minutes` (counted from the last success, or from the first failure when
  there never was one).
- Stale while all is well: the state becomes *alerting* and each `ops.alert_to` address gets
  one alert mail. Nothing more is sent however long it lasts.
- A round succeeds while alerting: the state is *ok* again and each address gets one
  recovery mail.

The mails go out through the outbox like replies: when SMTP itself is down they wait there
(status `queued`, retried with the outbox's backoff) and /metrics and /healthz are what show
the trouble. They count against `outbox.replies_per_hour`, so a flapping server cannot flood
the coordinators.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.utils import make_msgid, parseaddr
from enum import StrEnum

from sqlalchemy.orm import Session

from intake.config import OpsSettings
from intake.ops import heartbeat
from intake.ops.heartbeat import Heartbeat
from intake.pipeline import Context
from intake.pipeline.replying import BUDGET_WINDOW
from intake.replies import build_mail
from intake.storage import store
from intake.storage.models import ReplyRow, SettingRow

log = logging.getLogger(__name__)
STATE_KEY = "ops_watchdog"
ALERT_KIND = "alert"  # ReplyRow.kind of the watchdog's mails
AUTO_SUBMITTED = "auto-generated"  # RFC 3834: a mail of our own making, not an answer


class Event(StrEnum):
    ALERT = "alert"
    RECOVERY = "recovery"


@dataclass(frozen=True, slots=True)
class Limits:
    after: timedelta
    failures: int

    @classmethod
    def of(cls, ops: OpsSettings) -> Limits:
        return cls(timedelta(minutes=ops.alert_after_minutes), ops.alert_after_failures)


@dataclass(frozen=True, slots=True)
class WatchState:
    alerting: bool = False
    since: datetime | None = None  # when the alert was raised
    reason: str | None = None  # why, as the alert mail said

    def to_json(self) -> str:
        return json.dumps({"alerting": self.alerting, "since": self.since.isoformat() if self.since else None,
                           "reason": self.reason}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> WatchState:
        if not text:
            return cls()
        try:
            values = json.loads(text)
            since = values.get("since")
            return cls(bool(values.get("alerting")), datetime.fromisoformat(since) if since else None,
                       values.get("reason"))
        except (ValueError, TypeError, AttributeError):
            return cls()


def stale_reason(beat: Heartbeat, now: datetime, limits: Limits) -> str | None:
    """Why the mailbox counts as not read (Swedish, one line), or None while all is well or unknown.

    Unknown: no round has ever been recorded (a web desk started before the daemon)."""
    if beat.failures >= limits.failures:
        return f"{beat.failures} misslyckade försök i rad att läsa brevlådan"
    reference = beat.last_success or (beat.failing_since if beat.failures else None)
    if reference is not None and now - reference >= limits.after:
        minutes = int((now - reference).total_seconds() // 60)
        if beat.last_success is None:
            return f"brevlådan har inte gått att läsa på {minutes} minuter"
        return f"ingen lyckad läsning av brevlådan på {minutes} minuter"
    return None


def step(state: WatchState, beat: Heartbeat, now: datetime,
         limits: Limits) -> tuple[WatchState, Event | None]:
    """The watchdog's next state and the mail it sends, if any: at most one alert, then one recovery."""
    if not state.alerting:
        reason = stale_reason(beat, now, limits)
        if reason is None:
            return state, None
        return WatchState(True, now, reason), Event.ALERT
    recovered = (beat.failures == 0 and beat.last_success is not None
                 and (state.since is None or beat.last_success >= state.since))
    if recovered:
        return WatchState(), Event.RECOVERY
    return state, None


def read_state(session: Session, *, lock: bool = False) -> WatchState:
    row = session.get(SettingRow, STATE_KEY, with_for_update=lock)
    return WatchState.from_json(row.value if row is not None else None)


def after_round(ctx: Context, source: str, error: BaseException | None) -> Event | None:
    """Record one round's heartbeat, let the watchdog judge, queue its mail; returns what it sent."""
    now = ctx.clock()
    limits = Limits.of(ctx.settings.ops)
    with ctx.sessions.begin() as session:
        state = read_state(session, lock=True)  # several bots on one database: one alert between them
        beat = heartbeat.read(session)
        if error is None:
            beat = heartbeat.succeeded(beat, now, source)
        else:
            beat = heartbeat.failed(beat, now, source, heartbeat.error_text(error))
        heartbeat.write(session, beat)
        new_state, event = step(state, beat, now, limits)
        if event is None:
            return None
        store.set_setting(session, STATE_KEY, new_state.to_json())
        if event is Event.ALERT:
            log.error("watchdog: %s; last error: %s", new_state.reason, beat.last_error)
        else:
            log.warning("watchdog: the mailbox is read again (alert raised %s)", state.since)
        queued = queue_mails(ctx, session, event, state if event is Event.RECOVERY else new_state, beat, now)
        store.audit(session, ctx.actor, f"watchdog_{event.value}", "ops:watchdog",
                    reason=new_state.reason or state.reason, to=queued, last_error=beat.last_error)
    return event


# --- the mails -------------------------------------------------------------------------------


def queue_mails(ctx: Context, session: Session, event: Event, state: WatchState, beat: Heartbeat,
                now: datetime) -> list[str]:
    """One mail about `event` to each `ops.alert_to` address, through the outbox; returns the addresses."""
    settings = ctx.settings
    sender = settings.smtp.sender or settings.award.mailbox
    envelope_sender = parseaddr(sender)[1] or settings.award.mailbox
    domain = envelope_sender.rsplit("@", 1)[-1]
    subject, text = compose(ctx, event, state, beat, now)
    queued = []
    for address in settings.ops.alert_to:
        recipient = address.lower()
        outgoing = build_mail(
            sender=sender, envelope_sender=envelope_sender, to=Address(addr_spec=address),
            reply_to_address=None, subject=subject, now=now.astimezone(settings.award.tz),
            own_id=make_msgid(domain=domain), raw_headers=[], auto_submitted=AUTO_SUBMITTED,
            text=text, html=_html(text))
        with session.no_autoflush:
            recent = store.replies_to_since(session, recipient, now - BUDGET_WINDOW)
        held = recent >= settings.outbox.replies_per_hour
        session.add(ReplyRow(
            message_pk=None, kind=ALERT_KIND, message_id=outgoing.message_id, sender=outgoing.sender,
            recipient=recipient, subject=outgoing.subject, raw=outgoing.raw,
            status="held" if held else "queued", next_attempt_at=now, created_at=now,
            last_error=(f"Svarsgränsen nådd: {recent} mejl till {recipient} den senaste timmen."
                        if held else None),
        ))
        session.flush()
        queued.append(recipient)
    return queued


def compose(ctx: Context, event: Event, state: WatchState, beat: Heartbeat, now: datetime) -> tuple[str, str]:
    """(subject, plain text) of the alert or recovery mail, in Swedish."""
    award = ctx.settings.award
    mailbox = award.mailbox
    where = f" ({beat.source})" if beat.source else ""
    if event is Event.ALERT:
        subject = f"Larm: brevlådan {mailbox} läses inte"
        lines = [
            "Hej!",
            "",
            f"Boten som tar emot protokollsutdrag för Kvalitetsutmärkelsen {award.year} kan inte läsa "
            f"brevlådan {mailbox}{where}.",
            "",
            f"Orsak: {state.reason}.",
            f"Senaste lyckade läsning: {_when(ctx, beat.last_success)}.",
            f"Senaste fel: {beat.last_error or 'okänt'}",
            "",
            "Boten fortsätter att försöka, med allt längre pauser (högst fem minuter). Mejlen ligger kvar "
            "i brevlådan och besvaras när den går att läsa igen. Du får ett mejl till när det fungerar; "
            "inga fler larm skickas under tiden.",
            "",
            "För IT: `intake check` på servern provar anslutningarna och säger vad som är fel.",
        ]
    else:
        subject = f"Åter i drift: brevlådan {mailbox} läses igen"
        lines = [
            "Hej!",
            "",
            f"Boten som tar emot protokollsutdrag för Kvalitetsutmärkelsen {award.year} läser brevlådan "
            f"{mailbox} igen sedan {_when(ctx, beat.last_success)}.",
            "",
            f"Larmet gick {_when(ctx, state.since)}: {state.reason or 'okänd orsak'}.",
            "Mejl som kom under tiden behandlas och besvaras nu.",
        ]
    lines += ["", f"/Kvalitetsutmärkelsens mejlbot, {_when(ctx, now)}"]
    return subject, "\n".join(lines) + "\n"


def _when(ctx: Context, moment: datetime | None) -> str:
    if moment is None:
        return "aldrig"
    return moment.astimezone(ctx.settings.award.tz).strftime("%Y-%m-%d %H:%M")


def _html(text: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(block).replace(chr(10), '<br>')}</p>\n"
                         for block in text.strip().split("\n\n"))
    return f"<!DOCTYPE html>\n<html lang=\"sv\"><body>\n{paragraphs}</body></html>\n"
