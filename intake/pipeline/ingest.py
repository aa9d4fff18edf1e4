"""Fetch what is new in the mailbox and store each raw mail whole, committed, before processing.

Several bot instances may read the same mailbox: both fetch a new mail, both try to
store it, and the unique SHA-256 (and the unique mailbox location of a sighting)
lets one insert win; the other sees it as already stored.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from intake.domain import MailSource, RawMail
from intake.identity import message_id_of, sha256_hex
from intake.pipeline.claims import database_errors
from intake.pipeline.context import Context
from intake.storage import store
from intake.storage.models import MessageRow

log = logging.getLogger(__name__)
STORE_ATTEMPTS = 3  # another instance storing the same mail at the same moment costs one more


def ingest(ctx: Context, source: MailSource) -> int:
    """Store every mail the database has not seen at this location; returns how many were new."""
    validity, keys = source.snapshot()
    with database_errors("reading what is stored"), ctx.sessions.begin() as session:
        known = store.known_keys(session, source.name, validity)
    wanted = [key for key in keys if key not in known]
    if not wanted:
        return 0
    log.info("%d new message(s) in %s (validity %s)", len(wanted), source.name, validity)
    stored = 0
    for mail in source.fetch(wanted):
        with database_errors("storing a mail"):
            if store_raw(ctx, mail):
                stored += 1
        ctx.crashpoint("after_store")
    return stored


def store_raw(ctx: Context, mail: RawMail) -> bool:
    """Store one raw mail in its own transaction; False when the same bytes were stored before
    (by this instance or, a moment ago, by another one)."""
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            return _store_once(ctx, mail)
        except IntegrityError:
            if attempt == STORE_ATTEMPTS:
                raise
            log.info("%s %s: stored by another instance at the same moment", mail.ref.source, mail.ref.key)
    raise AssertionError("unreachable")


def _store_once(ctx: Context, mail: RawMail) -> bool:
    sha = sha256_hex(mail.raw)
    message_id, synthesised = message_id_of(mail.raw)
    with ctx.sessions.begin() as session:
        existing = store.message_by_sha(session, sha)
        if existing is not None:
            # Seen again (a copy, or a re-sync after UIDVALIDITY changed): never processed twice.
            if not store.has_sighting(session, mail):
                store.record_sighting(session, mail, existing)
            return False
        original = store.first_message_with_id(session, message_id)
        row = MessageRow(
            message_id=message_id,
            sha256=sha,
            raw=mail.raw,
            size=len(mail.raw),
            received_at=mail.received_at or ctx.clock(),
            status="duplicate" if original is not None else "stored",
            duplicate_of_pk=original.id if original is not None else None,
        )
        session.add(row)
        session.flush()
        store.record_sighting(session, mail, row)
        store.audit(
            session, ctx.actor, "message_stored", f"message:{message_id}",
            sha256=sha, size=len(mail.raw), source=mail.ref.source, key=mail.ref.key,
            synthesised_id=synthesised, duplicate_of=original.message_id if original else None,
        )
    return True
