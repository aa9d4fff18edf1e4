"""The daemon's heartbeat: the last successful poll and the failures since, kept in the database.

One JSON value in `app_settings` (key `ops_heartbeat`), written by the process that polls
(after every round of `intake run`, or once by `intake poll --once`) and read by any other
(/healthz and /metrics in `intake web`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from intake.errors import IntakeError
from intake.storage import store

HEARTBEAT_KEY = "ops_heartbeat"
MAX_ERROR_TEXT = 500  # characters of the last error kept (one line)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    last_success: datetime | None = None  # the end of the last round that succeeded
    last_attempt: datetime | None = None  # the end of the last round, whatever it did
    failures: int = 0  # rounds in a row that failed; 0 after a success
    failing_since: datetime | None = None  # when the first of those failures happened
    last_error: str | None = None  # what the last failure said (one line, no secrets: see ops.logging)
    source: str = ""  # the mailbox polled (imap://user@host:port/folder), no password

    def to_json(self) -> str:
        values: dict[str, Any] = asdict(self)
        for key in ("last_success", "last_attempt", "failing_since"):
            moment = values[key]
            values[key] = moment.isoformat() if moment is not None else None
        return json.dumps(values, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Heartbeat:
        if not text:
            return cls()
        try:
            values = json.loads(text)
            return cls(
                last_success=_moment(values.get("last_success")),
                last_attempt=_moment(values.get("last_attempt")),
                failures=int(values.get("failures") or 0),
                failing_since=_moment(values.get("failing_since")),
                last_error=values.get("last_error"),
                source=str(values.get("source") or ""),
            )
        except (ValueError, TypeError, AttributeError):
            return cls()  # an unreadable value is no heartbeat; the next round writes a good one


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def one_line(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_text(error: BaseException) -> str:
    """What a failed round says about its error: our errors by their message, others with their type."""
    text = str(error) if isinstance(error, IntakeError) else f"{type(error).__name__}: {error}"
    return one_line(text or type(error).__name__)


def read(session: Session) -> Heartbeat:
    return Heartbeat.from_json(store.setting(session, HEARTBEAT_KEY))


def succeeded(beat: Heartbeat, now: datetime, source: str) -> Heartbeat:
    return replace(beat, last_success=now, last_attempt=now, failures=0, failing_since=None,
                   source=source or beat.source)


def failed(beat: Heartbeat, now: datetime, source: str, error: str) -> Heartbeat:
    return replace(beat, last_attempt=now, failures=beat.failures + 1,
                   failing_since=beat.failing_since if beat.failures else now,
                   last_error=one_line(error), source=source or beat.source)


def write(session: Session, beat: Heartbeat) -> None:
    store.set_setting(session, HEARTBEAT_KEY, beat.to_json())
