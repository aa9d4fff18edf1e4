"""In-memory fakes of the ports, for unit tests of pure logic (integrations use real servers)."""

from __future__ import annotations

from intake.domain import OutgoingMail


class RecordingMailer:
    """A Mailer that keeps what it was given and raises the errors it is told to."""

    def __init__(self, errors: list[Exception] | None = None) -> None:
        self.sent: list[OutgoingMail] = []
        self.errors = list(errors or [])

    def send(self, mail: OutgoingMail) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(mail)
