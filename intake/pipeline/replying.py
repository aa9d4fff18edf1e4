"""Put the reply a decision implies in the outbox, in the decision's own transaction."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session

from intake.domain import Decision, ParsedMail, Unit, UnitState
from intake.pipeline.context import Context
from intake.replies import addressable, reply_recipient
from intake.senders import may_auto_reply
from intake.storage import store
from intake.storage.models import MessageRow, ReplyRow

log = logging.getLogger(__name__)
BUDGET_WINDOW = timedelta(hours=1)


def queue_reply(ctx: Context, session: Session, message: MessageRow, mail: ParsedMail,
                decision: Decision, register: list[Unit], reference: str | None = None) -> ReplyRow | None:
    recipient = reply_recipient(mail)[1]
    if not recipient:
        store.open_review(session, message, "Avsändarens adress saknas; inget svar kunde skickas.")
        return None
    if not addressable(recipient):
        # not one plain local@domain (quoted, spaces, brackets, two @s ...): not answered automatically
        # ("åsa@…" can: it goes out over SMTPUTF8), so a coordinator answers by hand
        store.open_review(session, message, f"Avsändarens adress {recipient} har en form som inte kan "
                                            "besvaras automatiskt. Svara för hand.")
        store.audit(session, ctx.actor, "reply_refused", f"message:{message.message_id}", to=recipient,
                    reason="unaddressable")
        return None
    security = ctx.settings.security
    verdict = may_auto_reply(mail, recipient, security.reply_policy, security.authserv_id,
                             security.reply_domains)
    if not verdict.allowed and ctx.actor == "bot":  # a coordinator's own action is answered
        with session.no_autoflush:
            already = any(item.reason == verdict.reason for item in store.open_reviews(session, message))
        if not already:
            store.open_review(session, message, verdict.reason)
        store.audit(session, ctx.actor, "reply_refused", f"message:{message.message_id}", to=recipient,
                    policy=security.reply_policy)
        log.warning("no automatic reply to %s: sender not verified (policy %s)", recipient,
                    security.reply_policy)
        return None
    by_id = {unit.unit_id: unit for unit in register}
    confirmed = [by_id[u] for u in decision.units if decision.unit_state is UnitState.CONFIRMED]
    now = ctx.clock()
    outgoing = ctx.renderer.compose_reply(
        original=mail,
        decision=decision,
        confirmed_units=confirmed,
        unknown_mentions=list(decision.unknown_mentions),
        missing_units=[by_id[u] for u in decision.missing_units],
        award=ctx.settings.award,
        sender=ctx.settings.smtp.sender or ctx.settings.award.mailbox,
        reply_to_address=ctx.settings.award.mailbox,
        now=now,
        reference=reference,
    )
    recipient = recipient.lower()
    # Read-only questions: the rows this transaction added need no flush before them.
    with session.no_autoflush:
        kind = "auto" if store.auto_reply_for(session, message) is None else "repeat"
        recent = store.replies_to_since(session, recipient, now - BUDGET_WINDOW)
    held = recent >= ctx.settings.outbox.replies_per_hour
    row = ReplyRow(
        message_pk=message.id, kind=kind, message_id=outgoing.message_id,
        sender=outgoing.sender, recipient=recipient, subject=outgoing.subject,
        raw=outgoing.raw, status="held" if held else "queued", next_attempt_at=now,
        last_error=(f"Svarsgränsen nådd: {recent} svar till {recipient} den senaste timmen."
                    if held else None),
    )
    session.add(row)
    store.audit(session, ctx.actor, "reply_held" if held else "reply_queued",
                f"message:{message.message_id}", reply=outgoing.message_id, to=recipient)
    if held:
        log.warning("reply to %s held back: %d replies in the last hour", recipient, recent)
    return row
