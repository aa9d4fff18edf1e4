"""Coordinators' decisions on the review queue, as the command line (and later the browser) makes them.

Accepting a match says: this mention in this mail means this unit. The spelling becomes an
alias of the unit (so the next mail that writes it matches by itself), the mail runs through
the pipeline again with the alias in place, and the sender gets the answer the receipt
promised ("en samordnare ... återkommer till dig"): a reply of kind `repeat`, written by the
coordinator's action, never by the bot on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from intake.domain import Outcome
from intake.pipeline.context import Context
from intake.pipeline.process import reprocess
from intake.storage import store


@dataclass(frozen=True, slots=True)
class OpenItem:
    message_id: str
    received_at: datetime
    sender: str
    subject: str
    reason: str
    reference: str | None


def open_items(ctx: Context) -> list[OpenItem]:
    """The review queue, oldest mail first."""
    with ctx.sessions.begin() as session:
        return [
            OpenItem(item.message.message_id, item.message.received_at, item.message.from_addr,
                     item.message.subject, item.reason,
                     item.message.submission.reference if item.message.submission is not None else None)
            for item in store.open_review_items(session)
        ]


def accept_match(ctx: Context, message_id: str, unit_id: str, mention: str, actor: str,
                 *, reply: bool = True) -> Outcome | None:
    """Record that `mention` in this mail means `unit_id`, and settle the mail with that knowledge."""
    year = ctx.settings.award.year
    with ctx.sessions.begin() as session:
        message = store.first_message_with_id(session, message_id)
        if message is None:
            raise LookupError(f"inget sparat mejl med Message-ID {message_id}")
        found = store.units_by_ids(session, year, [unit_id])
        if not found:
            raise LookupError(f"ingen enhet med id {unit_id} för {year}")
        store.add_alias(session, found[0], mention, actor, message=message)
        for item in store.open_reviews(session, message):
            item.status, item.closed_by, item.closed_at = "resolved", actor, ctx.clock()
        store.audit(session, actor, "review_accept", f"message:{message_id}", unit=unit_id, mention=mention)
    return reprocess(ctx, message_id, reply=reply)
