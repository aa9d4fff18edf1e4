"""Pytest plugin: a real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives.

Fixtures (function scope, each a fresh server on a free port):

- ``smtp_server``: plain SMTP, no authentication.
- ``smtp_server_auth``: AUTH PLAIN/LOGIN required over plain SMTP.
- ``smtp_server_tls``: STARTTLS required, self-signed certificate.
- ``smtp_server_ssl``: implicit TLS (SMTPS), self-signed certificate.
- ``make_smtp_server(security=..., auth=..., idle_timeout=..., password=...)``: any combination.

Each yields an `SmtpTestServer`: ``host``, ``port``, ``messages``, ``wait_for``,
``fail_next``, ``smtp_settings(**overrides)``, ``client_ssl_context()``.
"""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from intake.config import SmtpSettings

HOST = "127.0.0.1"
SERVER_NAME = "smtp.test"
USERNAME = "kvalitet"
PASSWORD = "hemligt-losen-42"
SENDER = "Kvalitetsutmärkelsen <kvalitetsutmarkelsen@stockholm.se>"
CLIENT_TIMEOUT = 5  # seconds; a hung test should fail, not wait a minute
WAIT_TIMEOUT = 5.0
CERT_DAYS = "2"

ACCEPTED = "250 OK"
FAILURE_TEXTS = {
    421: "421 4.3.2 Service shutting down",
    451: "451 4.3.0 Temporary local problem, try again later",
    452: "452 4.3.1 Insufficient system storage",
    550: "550 5.1.1 Mailbox unavailable",
    552: "552 5.3.4 Message too big",
    554: "554 5.7.1 Rejected",
}


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as the server stored it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    peer: tuple[str, int]  # the client's address: one per connection


@dataclass
class _FailurePlan:
    code: int
    remaining: int
    stage: str  # "rcpt", "data", or "answer": keep the mail but lose the answer to its DATA
    how: str = ""  # for "answer": "close" the connection, or "hang" for `code` seconds


class RecordingHandler:
    """aiosmtpd handler: stores each message; can refuse the next few on request."""

    def __init__(self) -> None:
        self._messages: list[ReceivedMessage] = []
        self._failure: _FailurePlan | None = None
        self._changed = threading.Condition()

    def _planned_failure(self, stage: str) -> str | None:
        with self._changed:
            plan = self._failure
            if plan is None or plan.stage != stage or plan.remaining <= 0:
                return None
            plan.remaining -= 1
            return FAILURE_TEXTS.get(plan.code, f"{plan.code} Refused by the test")

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self._planned_failure("rcpt")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return ACCEPTED

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self._planned_failure("data")
        if refusal:
            return refusal
        lost = self._lost_answer()
        self._record(session, envelope)
        if lost is not None:  # the mail is kept, and its answer never reaches the client
            how, seconds = lost
            if how == "close":
                assert server.transport is not None
                server.transport.close()
            else:
                await asyncio.sleep(seconds)
        return ACCEPTED

    def _lost_answer(self) -> tuple[str, float] | None:
        with self._changed:
            plan = self._failure
            if plan is None or plan.stage != "answer" or plan.remaining <= 0:
                return None
            plan.remaining -= 1
            return plan.how, float(plan.code)

    def _record(self, session: Session, envelope: Envelope) -> None:
        raw = envelope.original_content or b""
        received = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw,
            message=cast(EmailMessage, email.message_from_bytes(raw, policy=default_policy)),
            peer=tuple(session.peer),  # type: ignore[arg-type]
        )
        with self._changed:
            self._messages.append(received)
            self._changed.notify_all()

    def fail_next(self, code: int, count: int, stage: str, how: str = "") -> None:
        with self._changed:
            self._failure = _FailurePlan(code, count, stage, how)

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._changed:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float) -> list[ReceivedMessage]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                raise AssertionError(
                    f"expected {count} messages within {timeout} s, got {len(self._messages)}"
                )
            return list(self._messages)


def password_checker(username: str, password: str) -> Callable[..., AuthResult]:
    """An aiosmtpd authenticator accepting one user (AUTH PLAIN and LOGIN, UTF-8)."""

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == username.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    return authenticate


class SmtpTestServer:
    """A running aiosmtpd server and what tests need to talk to it."""

    def __init__(
        self,
        *,
        security: str = "none",
        auth: bool = False,
        cert: tuple[Path, Path] | None = None,
        idle_timeout: float = 300,
        username: str = USERNAME,
        password: str = PASSWORD,
        smtputf8: bool = True,
    ) -> None:
        if security != "none" and cert is None:
            raise ValueError("TLS needs a certificate")
        self.host = HOST
        self.port = free_port()
        self.security = security
        self.auth = auth
        self.username = username
        self.password = password
        self.cert_path = cert[0] if cert else None
        self.handler = RecordingHandler()
        server_context = None
        if cert:
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_context.load_cert_chain(*cert)
        options: dict[str, Any] = {"timeout": idle_timeout, "enable_SMTPUTF8": smtputf8}
        if security == "starttls":
            options.update(tls_context=server_context, require_starttls=True)
        if auth:
            options.update(
                authenticator=password_checker(username, password),
                auth_required=True,
                auth_require_tls=security == "starttls",
            )
        self.controller = Controller(
            self.handler,
            hostname=HOST,
            port=self.port,
            server_hostname=SERVER_NAME,
            ssl_context=server_context if security == "ssl" else None,
            **options,
        )

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot of the messages received so far, in order."""
        return self.handler.messages

    def wait_for(self, count: int, timeout: float = WAIT_TIMEOUT) -> list[ReceivedMessage]:
        """Block until `count` messages arrived; raise AssertionError after `timeout` seconds."""
        return self.handler.wait_for(count, timeout)

    def fail_next(self, code: int, count: int = 1, *, stage: str = "data") -> None:
        """Answer `code` for the next `count` messages, at RCPT or at the end of DATA."""
        if stage not in ("rcpt", "data"):
            raise ValueError("stage is 'rcpt' or 'data'")
        self.handler.fail_next(code, count, stage)

    def lose_answer_next(self, how: str, count: int = 1, *, hang: float = 0.0) -> None:
        """Keep the next `count` messages but never answer their DATA: "close" the connection at
        once, or "hang" for `hang` seconds (longer than the client waits)."""
        if how not in ("close", "hang"):
            raise ValueError("how is 'close' or 'hang'")
        self.handler.fail_next(int(hang), count, "answer", how)

    def smtp_settings(self, **overrides: Any) -> SmtpSettings:
        """Settings that reach this server; keyword arguments replace any field."""
        settings = SmtpSettings(
            host=self.host,
            port=self.port,
            security=self.security,
            username=self.username if self.auth else "",
            password=self.password if self.auth else "",
            sender=SENDER,
            timeout=CLIENT_TIMEOUT,
        )
        return replace(settings, **overrides)

    def client_ssl_context(self) -> ssl.SSLContext | None:
        """A client context that trusts this server's self-signed certificate."""
        if self.cert_path is None:
            return None
        return ssl.create_default_context(cafile=str(self.cert_path))


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert.pem, key.pem)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-nodes", "-days", CERT_DAYS,
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-keyout", str(key), "-out", str(cert),
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def pytest_configure(config: pytest.Config) -> None:
    # Plain-text AUTH is what smtp_server_auth is for; aiosmtpd warns about it each time.
    config.addinivalue_line("filterwarnings", "ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.fixture(scope="session")
def smtp_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(cert.pem, key.pem), made once per test session with openssl."""
    return make_certificate(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def make_smtp_server(
    smtp_certificate: tuple[Path, Path],
) -> Iterator[Callable[..., SmtpTestServer]]:
    """Factory: make_smtp_server(security="none"|"starttls"|"ssl", auth=False, **options).

    Options: idle_timeout (seconds before the server drops an idle client),
    username and password (what AUTH accepts), smtputf8 (offer SMTPUTF8; on by default, as
    Exchange Online and Postfix do)."""
    started: list[SmtpTestServer] = []

    def make(security: str = "none", auth: bool = False, **options: Any) -> SmtpTestServer:
        cert = smtp_certificate if security != "none" else None
        server = SmtpTestServer(security=security, auth=auth, cert=cert, **options)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def smtp_server(make_smtp_server: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    return make_smtp_server()


@pytest.fixture
def smtp_server_auth(make_smtp_server: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    return make_smtp_server(auth=True)


@pytest.fixture
def smtp_server_tls(make_smtp_server: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    return make_smtp_server(security="starttls")


@pytest.fixture
def smtp_server_ssl(make_smtp_server: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    return make_smtp_server(security="ssl")
