"""The outbox: batches, retries with backoff, permanent failures, interrupted sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from intake.cli import template_dir
from intake.errors import PermanentSendError, SendOutcomeUnknown, TransientSendError
from intake.pipeline import Context, recover_interrupted_sends, send_due
from intake.pipeline import send as send_module
from intake.storage.models import MessageRow, ReplyRow
from tests.contexts import make_context
from tests.fakes import RecordingMailer

NOW = datetime(2017, 6, 20, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def ctx(database_url: str) -> Context:
    return make_context(database_url, {"clock": Clock()}, outbox_max_attempts="3",
                        outbox_retry_base_seconds="60")


def queue(ctx: Context, count: int) -> None:
    with ctx.sessions.begin() as session:
        message = MessageRow(message_id="<m@x>", sha256="0" * 64, raw=b"x", size=1, received_at=NOW)
        session.add(message)
        session.flush()
        for number in range(count):
            session.add(ReplyRow(message_pk=message.id, message_id=f"<r{number}@stockholm.se>",
                                 sender="ku@stockholm.se", recipient=f"a{number}@stockholm.se",
                                 subject="Re: x", raw=b"Subject: Re: x\r\n\r\nHej", next_attempt_at=NOW,
                                 created_at=NOW))


def statuses(ctx: Context) -> list[str]:
    with ctx.sessions.begin() as session:
        return [row.status for row in session.query(ReplyRow).order_by(ReplyRow.id)]


def test_every_due_reply_is_sent_across_batches(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(send_module, "SEND_BATCH", 3)
    queue(ctx, 7)
    mailer = RecordingMailer()
    assert send_due(ctx, mailer) == 7
    assert len({mail.message_id for mail in mailer.sent}) == 7
    assert statuses(ctx) == ["sent"] * 7
    assert send_due(ctx, mailer) == 0


def test_transient_failure_is_retried_after_backoff_then_fails_for_good(ctx: Context) -> None:
    queue(ctx, 1)
    clock: Clock = ctx.clock  # type: ignore[assignment]
    failing = RecordingMailer([TransientSendError("451 try later")] * 3)
    assert send_due(ctx, failing) == 0
    assert statuses(ctx) == ["queued"]
    assert send_due(ctx, failing) == 0  # not due yet: backoff
    clock.now += timedelta(seconds=61)
    assert send_due(ctx, failing) == 0
    clock.now += timedelta(seconds=121)  # doubled
    assert send_due(ctx, failing) == 0
    assert statuses(ctx) == ["failed"]  # max_attempts = 3
    with ctx.sessions.begin() as session:
        assert "451" in (session.query(ReplyRow).one().last_error or "")


def test_permanent_failure_is_not_retried(ctx: Context) -> None:
    queue(ctx, 2)
    mailer = RecordingMailer([PermanentSendError("550 no such user")])
    assert send_due(ctx, mailer) == 1
    assert statuses(ctx) == ["failed", "sent"]


def test_interrupted_send_becomes_uncertain_and_is_not_resent(ctx: Context) -> None:
    queue(ctx, 1)
    with ctx.sessions.begin() as session:
        session.query(ReplyRow).one().status = "sending"
    assert recover_interrupted_sends(ctx) == 1
    mailer = RecordingMailer()
    assert send_due(ctx, mailer) == 0
    assert statuses(ctx) == ["uncertain"]


def test_a_send_of_unknown_outcome_is_uncertain_and_never_resent(ctx: Context) -> None:
    queue(ctx, 2)
    mailer = RecordingMailer([SendOutcomeUnknown("SMTP: no answer after the whole mail was handed over")])
    assert send_due(ctx, mailer) == 1
    assert statuses(ctx) == ["uncertain", "sent"]
    with ctx.sessions.begin() as session:
        assert (session.query(ReplyRow).order_by(ReplyRow.id).first().last_error or "").startswith(send_module.UNCERTAIN)
    ctx.clock.now += timedelta(days=1)  # type: ignore[attr-defined]
    assert send_due(ctx, RecordingMailer()) == 0
    assert statuses(ctx) == ["uncertain", "sent"]


def test_template_dir_is_the_checkout_folder() -> None:
    assert (template_dir() / "confirmed.txt").is_file()
    assert template_dir() == Path(__file__).resolve().parent.parent / "templates"
