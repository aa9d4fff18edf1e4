"""Send the outbox: each due reply is claimed (`queued` -> `sending`), sent, then marked `sent`.

The claim is a conditional UPDATE: of several bot instances sharing the database,
exactly one moves a reply from `queued` to `sending`, and only that one sends it.

A crash after SMTP accepted a reply but before `sent` was committed leaves it in
`sending`; once its instance is known to be gone (at the next start; on PostgreSQL
also as soon as any live instance sees that its owner died) it becomes `uncertain`
and is never resent automatically (a coordinator decides), so no sender is answered
twice. While the process lives, a send whose end could not be recorded (the database
went away) is kept in memory and recorded when the database is back.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from intake.domain import Mailer, OutgoingMail
from intake.errors import PermanentSendError, SendOutcomeUnknown, TransientSendError
from intake.pipeline.claims import Instance, database_errors, instance
from intake.pipeline.context import Context
from intake.storage import store
from intake.storage.models import ReplyRow

log = logging.getLogger(__name__)
SEND_BATCH = 500  # replies read from the outbox at a time
SEND_LEASE = timedelta(minutes=15)  # a live instance's send older than this counts as interrupted
SEND_ROLE = "send"
UNCERTAIN = "Avbrutet under sändning: okänt om svaret nådde fram."
NEVER_HANDED = "Avbrutet innan sändningen: svaret köas igen."


def recover_interrupted_sends(ctx: Context) -> int:
    """At start-up: replies left in `sending` by an instance that is gone become `uncertain`.

    On SQLite, where the database cannot tell who is alive, every reply left in `sending`
    and every claim on a stored mail is given up: one bot runs per SQLite database."""
    me = instance(ctx)
    with database_errors("recovering interrupted sends"):
        me.ensure()
        if not me.postgresql:
            with ctx.sessions.begin() as session:
                released = store.release_message_claims(session)
            if released:
                log.info("%d claim(s) on stored mails left by an earlier run given up", released)
        _record_unrecorded(ctx, me)
        return _recover(ctx, me, everything=not me.postgresql)


def _recover(ctx: Context, me: Instance, *, everything: bool) -> int:
    """Replies in `sending` whose instance is gone (or, with `everything`, any not this
    instance's) become `uncertain`; this instance's own that never reached SMTP go back
    to `queued`. Returns how many became uncertain."""
    uncertain = 0
    with ctx.sessions.begin() as session:
        now = ctx.clock()
        live = me.liveness(session)
        with me.guard:
            busy = set(me.handing) | set(me.unrecorded)
        for claim in store.sending_claims(session):
            if claim.pk in busy:
                continue
            if me.mine(claim.owner):
                # ours, and neither being sent nor sent: the claim was committed, SMTP never reached
                if store.give_up_send(session, claim, "queued", NEVER_HANDED):
                    log.warning("reply %d was claimed but never handed to SMTP: queued again", claim.pk)
                continue
            if not everything and live.held(claim, now):
                continue
            if store.give_up_send(session, claim, "uncertain", UNCERTAIN):
                row = session.get_one(ReplyRow, claim.pk)
                store.audit(session, ctx.actor, "reply_uncertain", f"reply:{row.message_id}",
                            claimed_by=claim.owner)
                uncertain += 1
    return uncertain


def send_due(ctx: Context, mailer: Mailer) -> int:
    """Send every reply that is due now, batch after batch, each reply attempted once."""
    me = instance(ctx)
    token = me.token(SEND_ROLE)
    sent = 0
    attempted: set[int] = set()
    with database_errors("sending the outbox"):
        me.ensure()
        _record_unrecorded(ctx, me)
        if _recover(ctx, me, everything=False):
            log.warning("replies of an instance that is gone, interrupted while sending, are now 'uncertain'")
        while True:
            with ctx.sessions.begin() as session:
                due = [row.id for row in store.due_replies(session, ctx.clock(), SEND_BATCH)]
            batch = [pk for pk in due if pk not in attempted]
            if not batch:
                return sent
            for pk in batch:
                attempted.add(pk)
                sent += _send_one(ctx, mailer, me, token, pk)


def _send_one(ctx: Context, mailer: Mailer, me: Instance, token: str, pk: int) -> int:
    with me.guard:
        me.handing[pk] = token  # before the claim: recovery must never take a send in progress for lost
    try:
        with ctx.sessions.begin() as session:
            now = ctx.clock()
            if not store.take_reply(session, pk, token, now, now + SEND_LEASE):
                with me.guard:
                    me.handing.pop(pk, None)
                return 0  # sent, or being sent, by another instance; or no longer queued
            row = session.get_one(ReplyRow, pk)
            outgoing = OutgoingMail(row.message_id, row.sender, (row.recipient,), row.raw)
            attempts = row.attempts
    except BaseException:
        with me.guard:
            me.handing.pop(pk, None)
        raise
    ending: dict[str, Any]
    try:
        mailer.send(outgoing)
    except TransientSendError as exc:
        ending = _failure(ctx, exc, attempts, permanent=attempts >= ctx.settings.outbox.max_attempts)
    except PermanentSendError as exc:
        ending = _failure(ctx, exc, attempts, permanent=True)
    except SendOutcomeUnknown as exc:
        log.error("reply %s: %s; recorded as uncertain, not sent again", outgoing.message_id, exc)
        ending = {"status": "uncertain", "last_error": f"{UNCERTAIN} ({exc})"}
    except Exception as exc:  # noqa: BLE001 - not the mailer's own errors: nobody knows if it went out
        log.exception("reply %s: the send ended unexpectedly", outgoing.message_id)
        ending = {"status": "uncertain", "last_error": f"{UNCERTAIN} ({exc!r})"}
    else:
        ctx.crashpoint("after_send")
        ending = {"status": "sent", "sent_at": ctx.clock()}
    with me.guard:
        me.unrecorded[pk] = (token, ending)
        me.handing.pop(pk, None)
    _record(ctx, me, pk, token, ending)
    return 1 if ending["status"] == "sent" else 0


def _failure(ctx: Context, exc: Exception, attempts: int, *, permanent: bool) -> dict[str, Any]:
    if permanent:
        return {"status": "failed", "last_error": str(exc)}
    retry_at = ctx.clock() + store.backoff(attempts, ctx.settings.outbox.retry_base_seconds)
    return {"status": "queued", "last_error": str(exc), "next_attempt_at": retry_at}


def _record(ctx: Context, me: Instance, pk: int, token: str, ending: dict[str, Any]) -> None:
    """Write how a send ended; if the database is away the ending stays in memory for later."""
    with ctx.sessions.begin() as session:
        recorded = store.finish_reply(session, pk, token, **ending)
        row = session.get_one(ReplyRow, pk)
        status = ending["status"]
        if not recorded:
            log.warning("reply %s: no longer ours to record as %s (now %s)",
                        row.message_id, status, row.status)
        elif status == "sent":
            store.audit(session, ctx.actor, "reply_sent", f"reply:{row.message_id}", to=row.recipient)
        elif status == "uncertain":
            store.audit(session, ctx.actor, "reply_uncertain", f"reply:{row.message_id}")
        else:
            permanent = status == "failed"
            if permanent:
                log.error("reply %s to %s failed: %s", row.message_id, row.recipient, ending["last_error"])
            else:
                log.warning("reply %s to %s: will retry at %s (%s)", row.message_id, row.recipient,
                            ending["next_attempt_at"], ending["last_error"])
            store.audit(session, ctx.actor, "reply_failed" if permanent else "reply_retry",
                        f"reply:{row.message_id}", error=ending["last_error"], attempts=row.attempts)
    with me.guard:
        me.unrecorded.pop(pk, None)


def _record_unrecorded(ctx: Context, me: Instance) -> None:
    """Record the sends that ended while the database was away."""
    with me.guard:
        waiting = dict(me.unrecorded)
    for pk, (token, ending) in waiting.items():
        log.info("recording reply %d as %s now that the database is back", pk, ending["status"])
        _record(ctx, me, pk, token, ending)
