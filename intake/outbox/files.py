"""Files transport: write each reply as an .eml file in a folder, for the embedded default.

Each file appears whole or not at all (written to a hidden temporary name, then
renamed), so a reader watching the folder never sees half a message. Names
sort by the time of writing: ``20170620T100000.123456Z-<message id>.eml``.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from intake.domain import OutgoingMail
from intake.errors import TransientSendError

EML_SUFFIX = ".eml"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._@+=-]+")
MAX_ID_LENGTH = 100  # well below the 255-byte file name limit, timestamp included


def _utc_now() -> datetime:
    return datetime.now(UTC)


def file_name(mail: OutgoingMail, written_at: datetime) -> str:
    """The .eml name for `mail`: timestamp, then the message id made safe for any file system."""
    safe_id = UNSAFE_CHARACTERS.sub("_", mail.message_id.strip().strip("<>")).strip("._")
    stamp = written_at.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
    return f"{stamp}-{safe_id[:MAX_ID_LENGTH] or 'reply'}{EML_SUFFIX}"


class FileMailer:
    """A `Mailer` that delivers into a folder instead of a mail server."""

    def __init__(self, directory: Path, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.directory = directory
        self.clock = clock

    def send(self, mail: OutgoingMail) -> None:
        """Write `mail` to the folder; a full disk or a missing permission is worth a retry."""
        try:
            self.write(mail)
        except OSError as exc:
            raise TransientSendError(f"could not write reply to {self.directory}: {exc}") from exc

    def write(self, mail: OutgoingMail) -> Path:
        """Write `mail` atomically and return the file's path (raises OSError)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / file_name(mail, self.clock())
        descriptor, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(mail.raw)
                handle.flush()
                # Without this a crash after the rename could leave an empty .eml behind.
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target
