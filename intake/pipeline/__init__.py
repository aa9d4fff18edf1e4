"""The pipeline: the one place where the stages compose (ingest, process, send)."""

from intake.domain import Mailer, MailSource
from intake.pipeline.context import Context, PollReport
from intake.pipeline.ingest import ingest
from intake.pipeline.process import process_message, process_pending, reprocess
from intake.pipeline.register import import_register
from intake.pipeline.reminders import check_auto_reminder
from intake.pipeline.review import accept_match, open_items
from intake.pipeline.send import recover_interrupted_sends, send_due

__all__ = [
    "Context",
    "accept_match",
    "PollReport",
    "import_register",
    "ingest",
    "open_items",
    "poll_once",
    "process_message",
    "process_pending",
    "recover_interrupted_sends",
    "reprocess",
    "send_due",
]


def poll_once(ctx: Context, source: MailSource, mailer: Mailer | None) -> PollReport:
    """Fetch and store what is new, process everything stored, send what is due (unless no mailer)."""
    stored = ingest(ctx, source)
    processed = process_pending(ctx)
    check_auto_reminder(ctx)  # web.reminder_days before the deadline, once a year; off by default
    sent = send_due(ctx, mailer) if mailer is not None else 0
    return PollReport(stored=stored, processed=processed, sent=sent)
