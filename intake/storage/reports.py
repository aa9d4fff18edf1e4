"""The contract's JSON reports: `status` (units and their state) and `messages` (mails and outcomes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from intake.storage import store
from intake.storage.models import MessageRow


def status_report(session: Session, year: int | None = None) -> list[dict[str, Any]]:
    report = []
    for row in store.unit_rows(session, year):
        message = row.protocol_message
        report.append({
            "unit_id": row.unit_id,
            "year": row.year,
            "unit": row.name,
            "class": row.award_class,
            "administration": row.administration,
            "board": row.board,
            "state": row.state,
            "protocol": None if message is None else {
                "message_id": message.message_id,
                "received_at": message.received_at.isoformat(),
                "meeting_date": row.meeting_date.isoformat() if row.meeting_date else None,
                "paragraph": row.paragraph,
            },
        })
    return report


def messages_report(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(MessageRow)
        .options(selectinload(MessageRow.matches), selectinload(MessageRow.replies),
                 selectinload(MessageRow.submission))
        .order_by(MessageRow.received_at, MessageRow.id)
    ).all()
    return [_message(row) for row in rows]


def _message(row: MessageRow) -> dict[str, Any]:
    reply = row.replies[-1] if row.replies else None  # the latest
    return {
        "message_id": row.message_id,
        "from": row.from_addr,
        "subject": row.subject,
        "received_at": row.received_at.isoformat(),
        "outcome": row.outcome,
        "units": list(dict.fromkeys(match.unit.unit_id for match in row.matches if match.sure)),
        "missing": list(row.missing or []),
        "reply_message_id": reply.message_id if reply is not None else None,
        # Additions to the contract: processing state, the reply's state, why.
        "status": row.status,
        "reply_status": reply.status if reply is not None else None,
        "reasons": list(row.reasons or []),
        "reference": row.submission.reference if row.submission is not None else None,
        "unsure_units": list(dict.fromkeys(match.unit.unit_id for match in row.matches if not match.sure)),
    }
