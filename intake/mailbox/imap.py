"""Read one IMAP folder as a MailSource: list, fetch without flagging, wait with IDLE.

The folder is only ever EXAMINEd (selected read-only) and bodies are fetched with
BODY.PEEK[], so the bot never changes a flag: mails a person already read in
Outlook are listed like any other, and the database decides what is new.
A dropped connection is reopened by the next call (and once within a call, when
the connection it found had gone stale); library errors leave this module only as
MailboxUnavailable.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from intake.config import ImapSettings
from intake.domain import MailboxRef, RawMail
from intake.errors import ConfigError, IntakeError, MailboxUnavailable

log = logging.getLogger(__name__)

FETCH_BATCH = 100  # UIDs per FETCH: bounded command lines and memory, few round trips
BODY = b"BODY[]"  # the key a BODY.PEEK[] fetch answers with
INTERNALDATE = b"INTERNALDATE"
CHANGE_RESPONSES = frozenset({b"EXISTS", b"RECENT", b"EXPUNGE"})
EARLY_RETURN_MARGIN = 0.05  # seconds: an empty idle_check this early means EOF, not timeout
BYTES_REPR = re.compile(r"b(['\"])(.*)\1", re.DOTALL)  # LoginError holds str(bytes)
# Everything imapclient, imaplib and the socket layer raise (IMAPClientError is
# imaplib.IMAP4.error; ssl.SSLError is an OSError, named for the reader).
LIBRARY_ERRORS = (imaplib.IMAP4.error, OSError, ssl.SSLError, EOFError)

T = TypeVar("T")


class ImapSource:
    """One IMAP folder, read-only, over a connection opened on first use."""

    def __init__(
        self,
        settings: ImapSettings,
        ssl_context: ssl.SSLContext | None = None,
        *,
        token: Callable[[], str] | None = None,
    ) -> None:
        if settings.security not in ("ssl", "starttls", "none"):
            raise ConfigError(
                f"imap.security: expected one of ssl | starttls | none, got {settings.security!r}"
            )
        if settings.auth == "xoauth2" and token is None:
            raise ConfigError("imap.auth: xoauth2 needs an OAuth token provider (the [oauth] section)")
        self.settings = settings
        self.ssl_context = ssl_context  # None: the system's trusted CAs, host name checked
        self.token = token  # imap.auth = "xoauth2": a current access token on each call (intake.oauth)
        self.name = f"imap://{settings.username}@{settings.host}:{settings.port}/{settings.folder}"
        self._client: IMAPClient | None = None
        # (UIDVALIDITY, UIDNEXT, EXISTS) when snapshot() last looked: wait() compares
        # with it, so arrivals the server announced in between are not slept through.
        self._seen: tuple[int, int, int] | None = None
        self._idling = False  # inside IDLE (between the command and DONE)

    # --- the MailSource protocol ----------------------------------------------------

    def snapshot(self) -> tuple[str, list[str]]:
        def look(client: IMAPClient) -> tuple[str, list[str]]:
            state = self._examine(client)
            uids = sorted(int(uid) for uid in client.search("ALL"))
            self._seen = state
            return str(state[0]), [str(uid) for uid in uids]

        return self._call("list the folder", look)

    def fetch(self, keys: Sequence[str]) -> Iterator[RawMail]:
        """Yield the mails still in the folder, in the order of `keys`; expunged ones are skipped."""
        uids = [int(key) for key in keys]
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start : start + FETCH_BATCH]
            validity, found = self._call("fetch mails", partial(self._fetch, uids=batch))
            for uid in batch:
                if uid in found:
                    raw, received_at = found[uid]
                    yield RawMail(MailboxRef(self.name, validity, str(uid)), raw, received_at)
                else:
                    log.debug("UID %s is no longer in %s", uid, self.name)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + max(timeout, 0.0)
        try:
            changed = self._call("wait for mail", lambda c: self._idle(c, deadline))
        except MailboxUnavailable as exc:
            # Never raise from a wait: the next snapshot reports the trouble.
            log.warning("%s; sleeping instead", exc)
            changed = None
        if changed is not None:
            return changed
        time.sleep(max(0.0, min(deadline - time.monotonic(), self.settings.poll_interval)))
        return False

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if self._idling:
            # a signal ended the wait inside IDLE: the server answers nothing but DONE now, so a
            # LOGOUT would wait out the socket timeout (60 s); the connection is simply dropped
            self._idling = False
            _discard(client)
            return
        try:
            client.logout()
        except Exception as exc:  # already gone is fine: there is nothing left to close
            log.debug("logout from %s failed: %s", self.name, exc)
            _discard(client)

    # --- connection ---------------------------------------------------------------

    def _connect(self) -> IMAPClient:
        s = self.settings
        where = f"{s.host}:{s.port}"
        access_token = self._access_token(where)  # before connecting: no socket left open on failure
        try:
            client = IMAPClient(
                s.host,
                s.port,
                ssl=s.security == "ssl",
                ssl_context=self.ssl_context,
                timeout=s.timeout,
            )
        except LIBRARY_ERRORS as exc:
            raise MailboxUnavailable(f"cannot connect to IMAP server {where}: {exc}") from exc
        try:
            if s.security == "starttls":
                client.starttls(self.ssl_context)
            if access_token is not None:
                # SASL XOAUTH2: base64("user=NAME\x01auth=Bearer TOKEN\x01\x01"), as Exchange Online wants.
                client.oauth2_login(s.username, access_token)
            elif f"{s.username}{s.password}".isascii():
                client.login(s.username, s.password)
            else:
                # imaplib's LOGIN sends ASCII only; SASL PLAIN carries UTF-8 (RFC 4616).
                client.plain_login(s.username, s.password)
        except LoginError as exc:
            _discard(client)
            raise MailboxUnavailable(
                f"IMAP login to {where} as {s.username!r} refused: {_text(exc)}"
            ) from exc
        except LIBRARY_ERRORS as exc:
            _discard(client)
            raise MailboxUnavailable(f"IMAP session with {where} failed: {_text(exc)}") from exc
        # Aware INTERNALDATEs: normalising would turn them into naive local times.
        client.normalise_times = False
        log.info("connected to %s (%s)", self.name, s.security)
        return client

    def _access_token(self, where: str) -> str | None:
        if self.settings.auth != "xoauth2" or self.token is None:
            return None
        try:
            return self.token()
        except IntakeError as exc:
            raise MailboxUnavailable(f"IMAP {where}: {exc}") from exc

    def _connection(self) -> IMAPClient:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _drop(self) -> None:
        self._idling = False
        client, self._client = self._client, None
        if client is not None:
            _discard(client)

    def _call(self, what: str, operation: Callable[[IMAPClient], T]) -> T:
        """Run `operation` on the connection; retry once on a fresh one if the old one was stale."""
        reused = self._client is not None
        for attempt in (1, 2):
            client = self._connection()
            try:
                return operation(client)
            except LIBRARY_ERRORS as exc:
                self._drop()
                if reused and attempt == 1:
                    log.info("connection to %s lost (%s); reconnecting", self.name, _text(exc))
                    continue
                raise MailboxUnavailable(f"could not {what} in {self.name}: {_text(exc)}") from exc
        raise AssertionError("unreachable")

    # --- commands ------------------------------------------------------------------

    def _examine(self, client: IMAPClient) -> tuple[int, int, int]:
        info = client.select_folder(self.settings.folder, readonly=True)
        return int(info[b"UIDVALIDITY"]), int(info.get(b"UIDNEXT", 0)), int(info[b"EXISTS"])

    def _fetch(
        self, client: IMAPClient, uids: list[int]
    ) -> tuple[str, dict[int, tuple[bytes, datetime | None]]]:
        validity = str(self._examine(client)[0])
        response = client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"])
        found: dict[int, tuple[bytes, datetime | None]] = {}
        for uid, data in response.items():
            raw = data.get(BODY)
            if raw is None:  # an unsolicited FETCH (a flag change), not our answer
                continue
            found[uid] = (bytes(raw), _aware(data.get(INTERNALDATE)))
        return validity, found

    def _idle(self, client: IMAPClient, deadline: float) -> bool | None:
        """IDLE until a change or the deadline; None when the server has no IDLE."""
        if not client.has_capability("IDLE"):
            log.debug("%s has no IDLE: polling every %s s", self.name, self.settings.poll_interval)
            return None
        state = self._examine(client)
        if self._seen is not None and state != self._seen:
            # Announced while we were busy (e.g. during a FETCH) and so never re-sent.
            log.debug("%s changed since the last snapshot", self.name)
            self._seen = state  # reported once: a caller that skips snapshot() won't spin
            return True
        end = min(deadline, time.monotonic() + self.settings.idle_timeout)
        changed = False
        client.idle()
        self._idling = True
        # Keepalives ("* OK Still here") wake idle_check too: keep idling until the end.
        while not changed and (left := end - time.monotonic()) > 0:
            responses = client.idle_check(timeout=left)
            # idle_check swallows EOF and returns [] at once, again and again: without
            # this check a closed connection would spin here until the deadline.
            closed = not responses and time.monotonic() < end - EARLY_RETURN_MARGIN
            if closed or any(r[:1] == (b"BYE",) for r in responses):
                raise imaplib.IMAP4.abort("the server closed the connection during IDLE")
            changed = _has_change(responses)
        _, responses = client.idle_done()
        self._idling = False
        if changed or _has_change(responses):
            self._seen = None  # reported; the caller's next snapshot() sets a new baseline
            return True
        return False


def _has_change(responses: Sequence[Any]) -> bool:
    return any(len(r) >= 2 and r[1] in CHANGE_RESPONSES for r in responses)


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:  # INTERNALDATE always carries a zone; assume UTC if not
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _text(exc: BaseException) -> str:
    """The server's or library's message, without the b'...' imapclient wraps it in."""
    first = exc.args[0] if len(exc.args) == 1 else None
    text = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(exc)
    quoted = BYTES_REPR.fullmatch(text)
    if quoted:
        text = quoted.group(2)
    return text or type(exc).__name__


def _discard(client: IMAPClient) -> None:
    """Close a connection that is no use any more, without a LOGOUT round trip."""
    try:
        client.shutdown()
    except Exception as exc:  # a socket already closed by the peer raises here
        log.debug("closing the IMAP socket failed: %s", exc)
