"""Send the outbox: each due reply is marked `sending`, sent, then marked `sent`.

A crash after SMTP accepted a reply but before `sent` was committed leaves it in
`sending`; on restart such replies become `uncertain` and are never resent
automatically (a coordinator decides), so no sender is answered twice.
"""

from __future__ import annotations

import logging

from intake.domain import Mailer, OutgoingMail
from intake.errors import PermanentSendError, TransientSendError
from intake.pipeline.context import Context
from intake.storage import store
from intake.storage.models import ReplyRow

log = logging.getLogger(__name__)
SEND_BATCH = 500  # replies read from the outbox at a time


def recover_interrupted_sends(ctx: Context) -> int:
    """At start-up: replies left in `sending` by a crash become `uncertain`."""
    with ctx.sessions.begin() as session:
        rows = store.interrupted_sends(session)
        for row in rows:
            row.status = "uncertain"
            row.last_error = "Avbrutet under sändning: okänt om svaret nådde fram."
            store.audit(session, ctx.actor, "reply_uncertain", f"reply:{row.message_id}")
        return len(rows)


def send_due(ctx: Context, mailer: Mailer) -> int:
    """Send every reply that is due now, batch after batch, each reply attempted once."""
    sent = 0
    attempted: set[int] = set()
    while True:
        with ctx.sessions.begin() as session:
            due = [row.id for row in store.due_replies(session, ctx.clock(), SEND_BATCH)]
        batch = [pk for pk in due if pk not in attempted]
        if not batch:
            return sent
        for pk in batch:
            attempted.add(pk)
            sent += _send_one(ctx, mailer, pk)


def _send_one(ctx: Context, mailer: Mailer, pk: int) -> int:
    with ctx.sessions.begin() as session:
        row = session.get_one(ReplyRow, pk)
        if row.status != "queued":
            return 0
        row.status = "sending"
        row.attempts += 1
        outgoing = OutgoingMail(row.message_id, row.sender, (row.recipient,), row.raw)
        attempts = row.attempts
    try:
        mailer.send(outgoing)
    except TransientSendError as exc:
        _failed(ctx, pk, exc, permanent=attempts >= ctx.settings.outbox.max_attempts)
        return 0
    except PermanentSendError as exc:
        _failed(ctx, pk, exc, permanent=True)
        return 0
    ctx.crashpoint("after_send")
    with ctx.sessions.begin() as session:
        row = session.get_one(ReplyRow, pk)
        row.status = "sent"
        row.sent_at = ctx.clock()
        store.audit(session, ctx.actor, "reply_sent", f"reply:{row.message_id}", to=row.recipient)
    return 1


def _failed(ctx: Context, pk: int, exc: Exception, *, permanent: bool) -> None:
    with ctx.sessions.begin() as session:
        row = session.get_one(ReplyRow, pk)
        row.last_error = str(exc)
        if permanent:
            row.status = "failed"
            log.error("reply %s to %s failed: %s", row.message_id, row.recipient, exc)
        else:
            row.status = "queued"
            row.next_attempt_at = ctx.clock() + store.backoff(row.attempts,
                                                               ctx.settings.outbox.retry_base_seconds)
            log.warning("reply %s to %s: will retry at %s (%s)", row.message_id, row.recipient,
                        row.next_attempt_at, exc)
        store.audit(session, ctx.actor, "reply_failed" if permanent else "reply_retry",
                    f"reply:{row.message_id}", error=str(exc), attempts=row.attempts)
