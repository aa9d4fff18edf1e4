"""SMTP transport: deliver rendered replies with smtplib and translate its errors into ours.

Used once per mail (`mailer.send(mail)`) it opens and closes a connection each
time. Used as a context manager it keeps one connection open across sends, so
an outbox run of a thousand replies costs a handful of connections, not a
thousand; a connection the server dropped while idle is replaced once.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import smtplib
import ssl
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from intake.config import SmtpSettings
from intake.domain import OutgoingMail
from intake.errors import IntakeError, PermanentSendError, SendOutcomeUnknown, TransientSendError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger(__name__)

# Many servers cap the messages of one session (Exchange, hosted relays) and answer
# 421 past it; reconnecting a little earlier keeps those refusals out of the retry queue.
MAX_MESSAGES_PER_CONNECTION = 100

FIRST_PERMANENT_CODE = 500
AUTH_SUCCESSFUL = 235
SERVICE_CLOSING = 421  # the server is about to drop the session, not refusing the mail
REDACTED = "***"


class _Watched(smtplib.SMTP):
    """An SMTP session that knows whether a message's end (CRLF.CRLF after DATA) reached the server.

    Before that, a dropped connection or a timeout loses nothing: the server throws away a
    message whose end never came, and the mail may be sent again. After it, the server may
    have accepted the mail and only its answer was lost; sending again could answer the
    sender twice (SendOutcomeUnknown)."""

    handed_over = False
    _in_data = False

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        self.handed_over, self._in_data = False, True
        try:
            return super().data(msg)
        finally:
            self._in_data = False

    def send(self, s: ReadableBuffer | str) -> None:
        super().send(s)
        if self._in_data and isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.handed_over = True


class _WatchedSSL(_Watched, smtplib.SMTP_SSL):
    """The same over implicit TLS (SMTP_SSL's connection, _Watched's data and send)."""


class SmtpMailer:
    """A `Mailer` over SMTP with security "ssl" (implicit TLS), "starttls" or "none"."""

    def __init__(
        self,
        settings: SmtpSettings,
        ssl_context: ssl.SSLContext | None = None,
        *,
        max_messages_per_connection: int = MAX_MESSAGES_PER_CONNECTION,
        token: Callable[[], str] | None = None,
    ) -> None:
        if settings.security not in ("ssl", "starttls", "none"):
            raise ValueError(f"smtp.security: unknown mode {settings.security!r}")
        if settings.auth == "xoauth2" and token is None:
            raise ValueError("smtp.auth: xoauth2 needs an OAuth token provider (the [oauth] section)")
        self.settings = settings
        self.token = token  # smtp.auth = "xoauth2": a current access token on each call (intake.oauth)
        self.ssl_context = ssl_context
        self.max_messages_per_connection = max_messages_per_connection
        self.connections_opened = 0  # for logs and tests: reuse is the point
        self._connection: _Watched | None = None
        self._sent_on_connection = 0
        self._keep_open = False

    # --- lifetime ---------------------------------------------------------------

    def __enter__(self) -> SmtpMailer:
        self._keep_open = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Connect now and keep the connection for later sends (until `close`)."""
        self._keep_open = True
        if self._connection is None:
            self._connection = self._connect()
            self._sent_on_connection = 0

    def close(self) -> None:
        """Say QUIT and forget the connection; later sends connect again."""
        self._keep_open = False
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()  # the server is gone already; nothing to say goodbye to

    # --- sending ----------------------------------------------------------------

    def send(self, mail: OutgoingMail) -> None:
        """Deliver one mail, or raise TransientSendError / PermanentSendError."""
        if not self._keep_open:
            try:
                self._deliver(mail, reused=False)
            finally:
                self.close()
            return
        if self._connection is not None and self._sent_on_connection >= self.max_messages_per_connection:
            self._drop()
        reused = self._connection is not None
        try:
            self._deliver(mail, reused=reused)
        except _StaleConnection:
            log.info("SMTP %s: connection was dropped, reconnecting", self._where())
            self._deliver(mail, reused=False)

    def _deliver(self, mail: OutgoingMail, *, reused: bool) -> None:
        if self._connection is None:
            self._connection = self._connect()
            self._sent_on_connection = 0
        connection = self._connection
        connection.handed_over = False
        options: list[str] = []
        if not all(address.isascii() for address in (mail.sender, *mail.recipients)):
            # "åsa@…": only a server that offers SMTPUTF8 (RFC 6531) can carry it
            if not connection.has_extn("smtputf8"):
                raise PermanentSendError(f"SMTP {self._where()}: the server does not offer SMTPUTF8, which "
                                         f"the address {', '.join(mail.recipients)} needs")
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        try:
            refused = connection.sendmail(mail.sender, list(mail.recipients), mail.raw, mail_options=options)
        except OSError as exc:  # smtplib's errors are OSErrors too
            raise self._failed(connection, exc, reused=reused) from exc
        self._sent_on_connection += 1
        if refused:
            # Delivered to the others already: raising would make a retry send it twice.
            log.warning(
                "SMTP %s: %s accepted, but these recipients were refused: %s",
                self._where(),
                mail.message_id,
                self._scrub(", ".join(f"{a} ({c})" for a, (c, _) in refused.items())),
            )

    # --- connecting -------------------------------------------------------------

    def _connect(self) -> _Watched:
        settings = self.settings
        connection: _Watched | None = None
        access_token = self._access_token()  # before connecting: no socket left open on failure
        try:
            if settings.security == "ssl":
                connection = _WatchedSSL(
                    settings.host,
                    settings.port,
                    timeout=settings.timeout,
                    context=self._tls_context(),
                )
            else:
                connection = _Watched(settings.host, settings.port, timeout=settings.timeout)
            connection.ehlo()
            if settings.security == "starttls":
                if not connection.has_extn("starttls"):
                    # Never fall back to plain text: the password and replies would travel open.
                    raise PermanentSendError(
                        f"SMTP {self._where()}: server does not offer STARTTLS "
                        "(set smtp.security to match the server)"
                    )
                connection.starttls(context=self._tls_context())
                connection.ehlo()
            if access_token is not None:
                self._xoauth2(connection, access_token)
            elif settings.username:
                self._login(connection)
        except PermanentSendError:
            _close_quietly(connection)
            raise
        except (smtplib.SMTPException, OSError) as exc:
            _close_quietly(connection)
            raise self._error(exc) from exc
        self.connections_opened += 1
        return connection

    def _login(self, connection: smtplib.SMTP) -> None:
        username, password = self.settings.username, self.settings.password
        if f"{username}{password}".isascii():
            connection.login(username, password)
            return
        # smtplib encodes credentials as ASCII and fails on å/ä/ö; AUTH PLAIN is UTF-8
        # (RFC 4616), so such credentials go out by hand.
        if "PLAIN" not in connection.esmtp_features.get("auth", "").upper().split():
            raise PermanentSendError(
                f"SMTP {self._where()}: the password is not plain ASCII and the server "
                "offers no AUTH PLAIN to carry it"
            )
        token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
        code, reply = connection.docmd("AUTH", f"PLAIN {token}")
        if code != AUTH_SUCCESSFUL:
            raise smtplib.SMTPAuthenticationError(code, reply)

    def _access_token(self) -> str | None:
        if self.settings.auth != "xoauth2" or self.token is None:
            return None
        try:
            return self.token()
        except IntakeError as exc:
            raise TransientSendError(f"SMTP {self._where()}: {exc}") from exc

    def _xoauth2(self, connection: smtplib.SMTP, access_token: str) -> None:
        """AUTH XOAUTH2 with base64("user=NAME\x01auth=Bearer TOKEN\x01\x01"), as Exchange Online wants."""
        initial = f"user={self.settings.username}\x01auth=Bearer {access_token}\x01\x01"

        def respond(challenge: bytes | None = None) -> str:
            # A refusal comes as a 334 challenge (a JSON error); the client answers it
            # with an empty line and the server then says 535.
            return initial if challenge is None else ""

        connection.auth("XOAUTH2", respond, initial_response_ok=True)

    def _tls_context(self) -> ssl.SSLContext:
        if self.ssl_context is None:
            self.ssl_context = ssl.create_default_context()
        return self.ssl_context

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        _close_quietly(connection)

    # --- errors -----------------------------------------------------------------

    def _error(self, exc: BaseException) -> TransientSendError | PermanentSendError:
        """Our error for a library error: 4xx and network trouble retry, 5xx do not."""
        message = self._describe(exc)
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(code >= FIRST_PERMANENT_CODE for code in codes):
                return PermanentSendError(message)
            return TransientSendError(message)
        if isinstance(exc, smtplib.SMTPResponseException):
            if exc.smtp_code >= FIRST_PERMANENT_CODE:
                return PermanentSendError(message)
            return TransientSendError(message)
        if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
            return TransientSendError(message)
        # SMTPNotSupportedError and the like: the server lacks what we are set up to use.
        return PermanentSendError(message)

    def _failed(self, connection: _Watched, exc: OSError, *, reused: bool) -> Exception:
        """What a failed sendmail means: the server's answer (4xx retry, 5xx not); a connection
        lost before the whole mail was handed over (retry; at once when it was an old
        connection gone stale); or lost after it (nobody knows: never sent again)."""
        if isinstance(exc, smtplib.SMTPResponseException):
            if exc.smtp_code == SERVICE_CLOSING:
                self._drop()
                if reused:
                    return _StaleConnection()
            return self._error(exc)
        lost = isinstance(exc, smtplib.SMTPServerDisconnected) or not isinstance(exc, smtplib.SMTPException)
        if not lost:  # refused recipients, an extension the server lacks
            error = self._error(exc)
            if isinstance(error, TransientSendError):
                self._drop()  # the session is in an unknown state
            return error
        self._drop()
        if connection.handed_over:
            return SendOutcomeUnknown(f"{self._describe(exc)}: no answer after the whole mail was handed "
                                      "over; the server may have accepted it")
        if reused and isinstance(exc, smtplib.SMTPServerDisconnected):
            return _StaleConnection()
        return TransientSendError(self._describe(exc))

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            detail = "; ".join(
                f"{address}: {code} {_text(reply)}" for address, (code, reply) in exc.recipients.items()
            )
            text = f"recipients refused: {detail}"
        elif isinstance(exc, smtplib.SMTPResponseException):
            text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        else:
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return self._scrub(f"SMTP {self._where()}: {text}")

    def _scrub(self, text: str) -> str:
        # Servers sometimes echo what they were sent; a password must not reach a log.
        password = self.settings.password
        return text.replace(password, REDACTED) if password else text

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"


class _StaleConnection(Exception):
    """A kept connection turned out to be closed by the server; connect again once."""


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _close_quietly(connection: smtplib.SMTP | None) -> None:
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.close()
