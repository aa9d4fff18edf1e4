"""Read a local Maildir as a MailSource, for the demo and for runs without an IMAP server.

Like the IMAP source it only reads: a mail stays in new/ or cur/ with its flags,
and the database decides what is new. Maildir keys are never reused, so the
validity is a constant.
"""

from __future__ import annotations

import logging
import mailbox
import os
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from intake.domain import MailboxRef, RawMail
from intake.errors import MailboxUnavailable

log = logging.getLogger(__name__)

VALIDITY = "1"
SCAN_INTERVAL = 0.2  # seconds between directory checks while waiting
MAIL_SUBDIRS = ("new", "cur")  # tmp/ holds deliveries still being written
INFO_SEPARATOR = mailbox.Maildir.colon  # "key:2,FLAGS"
MAILDIR_MODE = 0o700  # as mailbox.Maildir makes them: mail is private


class _File(NamedTuple):
    path: Path
    mtime_ns: int


def deliver(path: str | Path, raw: bytes) -> str:
    """Drop a mail into the Maildir at `path` (created if missing) and return its key.

    The mail is written in tmp/ and then linked into new/, so a reader never sees
    half a file.
    """
    key: str = _open(Path(path)).add(raw)
    return key


def _open(path: Path) -> mailbox.Maildir:
    # mailbox.Maildir(create=True) makes the subfolders only when `path` itself is new.
    for subdir in ("tmp", "new", "cur"):
        (path / subdir).mkdir(mode=MAILDIR_MODE, parents=True, exist_ok=True)
    return mailbox.Maildir(os.fspath(path), factory=None, create=True)


class MaildirSource:
    """One local Maildir, read without moving files or changing flags."""

    def __init__(self, path: str | Path, poll_interval: float = 1.0) -> None:
        self.path = Path(path).absolute()
        self.poll_interval = poll_interval
        self.name = f"maildir:{self.path}"
        try:
            _open(self.path)  # a fresh or empty demo folder becomes a valid Maildir
        except OSError as exc:
            raise MailboxUnavailable(f"cannot create Maildir {self.path}: {exc}") from exc
        self._seen: frozenset[str] | None = None  # keys at the last snapshot, for wait()

    def snapshot(self) -> tuple[str, list[str]]:
        files = self._scan()
        self._seen = frozenset(files)
        # Arrival order: a delivery's mtime, then the key (which starts with the time).
        return VALIDITY, sorted(files, key=lambda key: (files[key].mtime_ns, key))

    def fetch(self, keys: Sequence[str]) -> Iterator[RawMail]:
        """Yield the mails still there, in the order of `keys`; removed ones are skipped."""
        files = self._scan()
        for key in keys:
            found = self._read(key, files.get(key))
            if found is None:
                log.debug("%s is no longer in %s", key, self.name)
                continue
            raw, mtime_ns = found
            received_at = datetime.fromtimestamp(mtime_ns / 1e9, UTC)
            yield RawMail(MailboxRef(self.name, VALIDITY, key), raw, received_at)

    def wait(self, timeout: float) -> bool:
        """Sleep up to min(timeout, poll_interval); True as soon as the set of keys changes."""
        end = time.monotonic() + max(0.0, min(timeout, self.poll_interval))
        try:
            baseline = self._seen if self._seen is not None else self._keys()
            while self._keys() == baseline:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                time.sleep(min(SCAN_INTERVAL, left))
            self._seen = None  # reported; the next snapshot() sets a new baseline
            return True
        except MailboxUnavailable as exc:
            # Never raise from a wait: the next snapshot reports the trouble.
            log.warning("%s; sleeping instead", exc)
            time.sleep(max(0.0, end - time.monotonic()))
        return False

    def close(self) -> None:
        """Nothing is held open between calls."""

    def _keys(self) -> frozenset[str]:
        return frozenset(self._scan())

    def _scan(self) -> dict[str, _File]:
        files: dict[str, _File] = {}
        try:
            for subdir in MAIL_SUBDIRS:
                with os.scandir(self.path / subdir) as entries:
                    for entry in entries:
                        if entry.name.startswith(".") or not entry.is_file():
                            continue
                        try:
                            mtime_ns = entry.stat().st_mtime_ns
                        except FileNotFoundError:  # moved or removed since the listing
                            continue
                        key = entry.name.split(INFO_SEPARATOR)[0]
                        files[key] = _File(Path(entry.path), mtime_ns)
        except FileNotFoundError as exc:
            raise MailboxUnavailable(f"Maildir {self.path} is missing {exc.filename}") from exc
        except OSError as exc:
            raise MailboxUnavailable(f"cannot read Maildir {self.path}: {exc}") from exc
        return files

    def _read(self, key: str, file: _File | None) -> tuple[bytes, int] | None:
        for attempt in (1, 2):
            if file is None:
                return None
            try:
                return file.path.read_bytes(), file.mtime_ns
            except FileNotFoundError:
                if attempt == 2:
                    return None
                # A mail reader moved it to cur/ or changed its flags meanwhile: look again.
                file = self._scan().get(key)
            except OSError as exc:
                raise MailboxUnavailable(f"cannot read {file.path}: {exc}") from exc
        return None
