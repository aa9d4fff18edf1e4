"""GraphMailer (outbox.transport = "graph") against a local HTTPS Microsoft Graph stand-in.

The stand-in is tests/test_graph.py's, served over HTTPS and extended here with what
sending needs, as Graph does it: `POST /users/{mailbox}/sendMail` with the base64 of a
MIME message as `text/plain` (202, empty body), 401 for a token Entra did not issue for
Graph, 403 for a mailbox outside the application access policy or an app without
Mail.Send, 429/503/504 with Retry-After, any status on request, and an answer that never
comes (the mail taken, then silence). `GET /users/{mailbox}/mailFolders/inbox` serves
`intake check`. Tokens come from tests/entra.py through the real MSAL provider.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import cast
from urllib.parse import unquote

import pytest

from intake.cli import mailer_opener, make_context, make_source
from intake.config import GraphSettings, OAuthSettings, Settings, parse_settings
from intake.daemon import Daemon
from intake.domain import OutgoingMail
from intake.errors import ConfigError, PermanentSendError, SendOutcomeUnknown, TransientSendError
from intake.oauth import OUTLOOK_SCOPE, TokenProvider
from intake.ops.check import run_checks
from intake.outbox.graph import GraphMailer
from intake.pipeline import Context, import_register, send_due
from intake.pipeline.send import UNCERTAIN
from intake.replies import build_mail
from intake.storage.models import MessageRow, ReplyRow
from tests import test_graph
from tests.bot import REGISTER_CSV, protocol_mail
from tests.dovecot import free_port
from tests.entra import CLIENT_ID, CLIENT_SECRET, TENANT, Entra
from tests.test_graph import (
    DENIED,
    HOST,
    JUNE_19,
    MAILBOX,
    Answer,
    GraphStandIn,
    Request,
    Sleeps,
    graph_error,
    serve,
)

# tests/test_graph.py's fixtures, asked for by name: the Entra ID stand-in (HTTPS, trusted through
# REQUESTS_CA_BUNDLE), a TokenProvider signed in to it, and a recording stand-in for time.sleep.
entra = test_graph.entra
provider = test_graph.provider
sleeps = test_graph.sleeps

SWEDISH = "Hej Lena! Vi har tagit emot protokollsutdraget för Förskolan Äppelgården och Östra Ågården."
NOW = datetime(2017, 6, 20, 10, 0, tzinfo=UTC)


# --- the stand-in: tests/test_graph.py's Graph, over HTTPS, that also sends ---------------------------


@dataclass
class SendingGraph(GraphStandIn):
    """GraphStandIn plus sendMail and the inbox folder; `sent` holds the decoded MIME of each mail taken."""

    sent: list[bytes] = field(default_factory=list)
    without_mail_send: bool = False  # the app has Mail.Read only: sendMail is denied
    silence: float = 0.0  # seconds to keep quiet after taking a mail

    def answer(self, request: Request) -> Answer:
        parts = request.path.split("/")  # /v1.0/users/{m}/sendMail, /v1.0/users/{m}/mailFolders/inbox
        if request.method == "POST" and len(parts) == 5 and parts[4] == "sendMail":
            return self.refusal(request) or self.denied(parts[3]) or self.send_mail(request)
        if request.method == "GET" and len(parts) == 6 and parts[4:] == ["mailFolders", "inbox"]:
            return (self.refusal(request) or self.denied(parts[3])
                    or (200, {"Content-Type": "application/json"}, b'{"id": "AAMkAGI2TAAA="}'))
        return super().answer(request)

    def denied(self, mailbox: str) -> Answer | None:
        """A mailbox outside the application access policy."""
        return graph_error(*DENIED) if unquote(mailbox).lower() != self.mailbox else None

    def send_mail(self, request: Request) -> Answer:
        if self.without_mail_send:
            return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        if request.headers.get("content-type") != "text/plain":
            return graph_error(400, "ErrorMimeContentInvalid", "The MIME content is not text/plain.")
        try:
            raw = base64.b64decode(request.body, validate=True)
        except binascii.Error:
            return graph_error(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
        with self.lock:
            self.sent.append(raw)
        if self.silence:
            time.sleep(self.silence)
        return 202, {}, b""


@pytest.fixture
def graph(entra: Entra, smtp_certificate: tuple[Path, Path]) -> Iterator[SendingGraph]:
    stand_in = SendingGraph(entra)
    with serve(stand_in, smtp_certificate):
        yield stand_in


def make_mailer(graph: SendingGraph, provider: TokenProvider, sleeps: Sleeps,
                mailbox: str = MAILBOX, timeout: int = 5) -> GraphMailer:
    settings = GraphSettings(base_url=graph.base_url, timeout=timeout)
    return GraphMailer(settings, mailbox, provider.source(graph.scope), sleep=sleeps)


@pytest.fixture
def mailer(graph: SendingGraph, provider: TokenProvider, sleeps: Sleeps) -> Iterator[GraphMailer]:
    made = make_mailer(graph, provider, sleeps)
    yield made
    made.close()


def reply(number: int = 1, to: str = "lena.murray@stockholm.se") -> OutgoingMail:
    """A reply as the bot renders it: Swedish, UTF-8, threaded to the sender's mail."""
    return build_mail(
        sender="Kvalitetsutmärkelsen <kvalitetsutmarkelsen@stockholm.se>", envelope_sender=MAILBOX,
        to=Address("Lena Murray", addr_spec=to), reply_to_address=None,
        subject=f"Re: Protokollsutdrag Socialnämnden § 9 [KU-2017-000{number}]", now=NOW,
        own_id=f"<svar-{number}@stockholm.se>",
        raw_headers=[("In-Reply-To", "<fraga-1@stockholm.se>"), ("References", "<fraga-1@stockholm.se>")],
        auto_submitted="auto-replied", text=SWEDISH + "\n", html=f"<p>{SWEDISH}</p>")


def parsed(raw: bytes) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(raw, policy=default_policy))


def plain_text(raw: bytes) -> str:
    part = parsed(raw).get_body(("plain",))
    assert part is not None
    return cast(str, part.get_content())


def posts(graph: SendingGraph) -> list[Request]:
    return [r for r in graph.get_requests() if r.method == "POST"]


# --- sending ------------------------------------------------------------------------------------


def test_a_reply_goes_out_as_base64_mime_with_a_bearer_token(
    graph: SendingGraph, mailer: GraphMailer, entra: Entra, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mail = reply()
    mailer.send(mail)
    assert graph.sent == [mail.raw]  # the very bytes SMTP would carry
    [request] = posts(graph)
    assert request.path == f"/v1.0/users/{MAILBOX}/sendMail"
    assert request.headers["content-type"] == "text/plain"
    assert request.body == base64.b64encode(mail.raw)
    token = request.headers["authorization"].removeprefix("Bearer ")
    assert entra.valid(token, graph.scope)
    sent = parsed(graph.sent[0])
    assert sent["Message-ID"] == "<svar-1@stockholm.se>"
    assert sent["In-Reply-To"] == "<fraga-1@stockholm.se>"
    assert sent["References"] == "<fraga-1@stockholm.se>"
    assert sent["From"] == "Kvalitetsutmärkelsen <kvalitetsutmarkelsen@stockholm.se>"
    assert "§ 9" in sent["Subject"]
    assert "Förskolan Äppelgården och Östra Ågården" in plain_text(graph.sent[0])
    assert token not in caplog.text
    assert "Äppelgården" not in caplog.text and request.body.decode() not in caplog.text


def test_one_token_serves_many_replies(graph: SendingGraph, mailer: GraphMailer, entra: Entra) -> None:
    for number in range(1, 4):
        mailer.send(reply(number))
    assert [parsed(raw)["Message-ID"] for raw in graph.sent] == [f"<svar-{n}@stockholm.se>" for n in (1, 2, 3)]
    assert entra.token_count() == 1


def test_a_recipient_missing_from_the_headers_is_refused_before_sending(
    graph: SendingGraph, mailer: GraphMailer
) -> None:
    mail = reply()
    diverted = OutgoingMail(mail.message_id, mail.sender, ("someone.else@stockholm.se",), mail.raw)
    with pytest.raises(PermanentSendError, match="does not name someone.else@stockholm.se"):
        mailer.send(diverted)
    assert graph.get_requests() == []


# --- throttling and errors ----------------------------------------------------------------------------


def test_throttled_once_is_sent_after_retry_after(graph: SendingGraph, mailer: GraphMailer, sleeps: Sleeps) -> None:
    graph.throttle.append((429, "2"))
    mailer.send(reply())
    assert sleeps == [2.0]
    assert [r.status for r in posts(graph)] == [429, 202]
    assert len(graph.sent) == 1


def test_gateway_timeout_with_retry_after_is_throttling(
    graph: SendingGraph, mailer: GraphMailer, sleeps: Sleeps
) -> None:
    graph.throttle.extend([(503, None), (504, "1")])
    mailer.send(reply())
    assert sleeps == [5.0, 1.0]
    assert len(graph.sent) == 1


def test_long_throttling_is_transient(graph: SendingGraph, mailer: GraphMailer, sleeps: Sleeps) -> None:
    graph.throttle.append((429, "120"))
    with pytest.raises(TransientSendError, match=r"Graph is throttling \(429, retry after 120 s\)"):
        mailer.send(reply())
    assert sleeps == [] and graph.sent == []


def test_endless_throttling_gives_up(graph: SendingGraph, mailer: GraphMailer, sleeps: Sleeps) -> None:
    graph.throttle.extend([(503, "1")] * 10)
    with pytest.raises(TransientSendError, match="throttling"):
        mailer.send(reply())
    assert sleeps == [1.0, 1.0, 1.0]
    assert graph.sent == []


@pytest.mark.parametrize("status", [500, 502])
def test_server_errors_are_transient(graph: SendingGraph, mailer: GraphMailer, sleeps: Sleeps, status: int) -> None:
    graph.answers.append((status, "InternalServerError" if status == 500 else "BadGateway", "Något gick fel."))
    with pytest.raises(TransientSendError, match=f"HTTP {status} "):
        mailer.send(reply())
    mailer.send(reply(2))  # only that one was refused
    assert [parsed(raw)["Message-ID"] for raw in graph.sent] == ["<svar-2@stockholm.se>"]


def test_gateway_timeout_without_retry_after_is_uncertain(graph: SendingGraph, mailer: GraphMailer) -> None:
    graph.answers.append((504, "GatewayTimeout", "The gateway did not receive a response in time."))
    with pytest.raises(SendOutcomeUnknown, match="Exchange may have sent it"):
        mailer.send(reply())


def test_app_without_mail_send_is_permanent_and_says_why(graph: SendingGraph, mailer: GraphMailer) -> None:
    graph.without_mail_send = True
    with pytest.raises(PermanentSendError) as caught:
        mailer.send(reply())
    message = str(caught.value)
    assert "HTTP 403 ErrorAccessDenied" in message
    assert "Mail.Send application permission" in message and "application access policy" in message
    assert "\n" not in message
    assert graph.sent == []


def test_mailbox_outside_the_access_policy_is_permanent(
    graph: SendingGraph, provider: TokenProvider, sleeps: Sleeps
) -> None:
    other = make_mailer(graph, provider, sleeps, mailbox="vd@stockholm.se")
    with pytest.raises(PermanentSendError, match=r"as vd@stockholm.se: .*HTTP 403 .*\[RAOP\].*Mail\.Send"):
        other.send(reply())
    assert graph.sent == []


@pytest.mark.parametrize(
    ("status", "code", "text", "hint"),
    [
        (400, "ErrorInvalidRecipients", "At least one recipient isn't valid.", ""),
        (400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.", ""),
        (403, "ErrorSendAsDenied", "The user account which was used to submit this request does not have the "
         "right to send mail on behalf of the specified sending account.", "may not send as the mail's From address: check smtp.from"),
        (413, "ErrorMessageSizeExceeded", "The message exceeds the maximum supported size.", "larger than Graph accepts"),
    ],
)
def test_refusals_are_permanent(
    graph: SendingGraph, mailer: GraphMailer, status: int, code: str, text: str, hint: str
) -> None:
    graph.answers.append((status, code, text))
    with pytest.raises(PermanentSendError, match=f"HTTP {status} {code}: ") as caught:
        mailer.send(reply())
    assert hint in str(caught.value)
    assert "Mail.Send" not in str(caught.value)  # that hint is for a plain access denied
    assert graph.sent == []


def test_unknown_mailbox_is_permanent(graph: SendingGraph, mailer: GraphMailer) -> None:
    graph.answers.append((404, "ErrorInvalidUser", f"The requested user '{MAILBOX}' is invalid."))
    with pytest.raises(PermanentSendError, match="HTTP 404 ErrorInvalidUser.*check graph.mailbox"):
        mailer.send(reply())


def test_token_for_another_resource_is_transient(
    graph: SendingGraph, provider: TokenProvider, sleeps: Sleeps
) -> None:
    settings = GraphSettings(base_url=graph.base_url, timeout=5)
    wrong = GraphMailer(settings, MAILBOX, provider.source(OUTLOOK_SCOPE), sleep=sleeps)
    with pytest.raises(TransientSendError, match=r"HTTP 401 InvalidAuthenticationToken: .*Invalid audience"):
        wrong.send(reply())
    assert graph.sent == []


def test_no_token_is_transient_and_nothing_is_sent(graph: SendingGraph, entra: Entra, sleeps: Sleeps) -> None:
    broken = TokenProvider(OAuthSettings(tenant_id=TENANT, client_id=CLIENT_ID, client_secret="fel",
                                         authority=entra.authority, token_cache=""))
    with pytest.raises(TransientSendError, match="AADSTS7000215"):
        make_mailer(graph, broken, sleeps).send(reply())
    assert graph.get_requests() == []


def test_unreachable_graph_is_transient(provider: TokenProvider, sleeps: Sleeps) -> None:
    settings = GraphSettings(base_url=f"https://{HOST}:{free_port()}/v1.0", timeout=2)
    with pytest.raises(TransientSendError, match="ConnectionError"):
        GraphMailer(settings, MAILBOX, lambda: "token", sleep=sleeps).send(reply())


def test_no_answer_after_the_mail_went_out_is_uncertain(
    graph: SendingGraph, provider: TokenProvider, sleeps: Sleeps
) -> None:
    graph.silence = 2.5
    slow = make_mailer(graph, provider, sleeps, timeout=1)
    with pytest.raises(SendOutcomeUnknown, match="no answer within 1 s .*Exchange may have sent it"):
        slow.send(reply())
    assert len(graph.sent) == 1  # Graph had the mail: a retry would have answered the sender twice


# --- through the outbox: what each ending is recorded as ------------------------------------------


def graph_config(graph: SendingGraph, entra: Entra, tmp_path: Path, *, source: str = "graph") -> str:
    return f"""
[award]
year = 2017
mailbox = "{MAILBOX}"
protocol_deadline = 2017-06-30
[source]
kind = "{source}"
maildir = "{tmp_path / 'maildir'}"
[graph]
base_url = "{graph.base_url}"
poll_interval = 1
timeout = 1
[oauth]
tenant_id = "{TENANT}"
client_id = "{CLIENT_ID}"
authority = "{entra.authority}"
token_cache = "{tmp_path / 'tokens.json'}"
[outbox]
transport = "graph"
max_attempts = 3
[processing]
workers = 1
[database]
url = "sqlite:///{tmp_path / 'intake.db'}"
"""


def graph_settings(graph: SendingGraph, entra: Entra, tmp_path: Path, **options: str) -> Settings:
    return parse_settings(graph_config(graph, entra, tmp_path, **options),
                          {"INTAKE_OAUTH_CLIENT_SECRET": CLIENT_SECRET})


def test_a_poll_answers_through_graph(
    graph: SendingGraph, entra: Entra, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = graph_settings(graph, entra, tmp_path)
    ctx = make_context(settings, {})
    import_register(ctx, "register.csv", REGISTER_CSV.encode(), actor="test")
    protocol = protocol_mail()
    graph.add(protocol.raw, JUNE_19)
    graph.throttle.append((429, "0"))  # Graph is busy once while the folder is listed

    source = make_source(settings)
    daemon = Daemon(ctx, source, mailer_opener(settings), wait_seconds=1)
    try:
        report = daemon.run_once()
    finally:
        source.close()
    assert (report.stored, report.processed, report.sent) == (1, 1, 1)

    with ctx.sessions.begin() as session:
        [row] = session.query(ReplyRow).all()
        assert row.status == "sent"
        stored_raw, stored_id = row.raw, row.message_id
    assert graph.sent == [stored_raw]  # exactly the bytes kept in the outbox (and SMTP would send)
    original = parsed(protocol.raw)
    answer = parsed(graph.sent[0])
    assert answer["Message-ID"] == stored_id
    assert answer["In-Reply-To"] == original["Message-ID"]
    assert original["Message-ID"] in answer["References"]
    assert answer["To"].addresses[0].addr_spec == "lena.murray@stockholm.se"
    text = plain_text(graph.sent[0])
    assert "Korttidshemmet Drömmen" in text and "Förstärkningsteamet" in text
    assert any(letter in text for letter in "åäö")

    [request] = posts(graph)
    token = request.headers["authorization"].removeprefix("Bearer ")
    assert entra.valid(token, graph.scope)
    assert entra.token_count() == 1  # the source and the mailer share the provider and its token
    assert {r.method for r in graph.get_requests()} == {"GET", "POST"}
    assert token not in caplog.text
    assert request.body.decode() not in caplog.text and "Korttidshemmet Drömmen" not in caplog.text


def queue_reply(ctx: Context, number: int = 1) -> None:
    mail = reply(number)
    with ctx.sessions.begin() as session:
        message = MessageRow(message_id=f"<fraga-{number}@stockholm.se>", sha256=f"{number:064d}", raw=b"x",
                             size=1, received_at=NOW)
        session.add(message)
        session.flush()
        session.add(ReplyRow(message_pk=message.id, message_id=mail.message_id, sender=mail.sender,
                             recipient=mail.recipients[0], subject=mail.subject, raw=mail.raw,
                             next_attempt_at=NOW, created_at=NOW))


def ending(ctx: Context) -> tuple[str, str | None, int]:
    with ctx.sessions.begin() as session:
        row = session.query(ReplyRow).one()
        return row.status, row.last_error, row.attempts


@pytest.fixture
def outbox(graph: SendingGraph, entra: Entra, tmp_path: Path) -> Context:
    ctx = make_context(graph_settings(graph, entra, tmp_path, source="maildir"), {})
    queue_reply(ctx)
    return ctx


def send(ctx: Context) -> int:
    with mailer_opener(ctx.settings)() as mailer:
        assert isinstance(mailer, GraphMailer)
        return send_due(ctx, mailer)


def test_outbox_records_forbidden_as_failed(graph: SendingGraph, outbox: Context) -> None:
    graph.without_mail_send = True
    assert send(outbox) == 0
    status, error, _ = ending(outbox)
    assert status == "failed"
    assert error is not None and "HTTP 403" in error and "Mail.Send" in error


def test_outbox_retries_a_server_error(graph: SendingGraph, outbox: Context) -> None:
    graph.answers.append((500, "InternalServerError", "Något gick fel."))
    assert send(outbox) == 0
    status, error, attempts = ending(outbox)
    assert (status, attempts) == ("queued", 1)
    assert error is not None and "HTTP 500" in error
    assert graph.sent == []


def test_outbox_records_no_answer_as_uncertain_and_never_resends(
    graph: SendingGraph, outbox: Context, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    graph.silence = 2.5  # graph.timeout = 1
    assert send(outbox) == 0
    status, error, _ = ending(outbox)
    assert status == "uncertain"
    assert error is not None and error.startswith(UNCERTAIN) and "Exchange may have sent it" in error
    [request] = posts(graph)
    assert "recorded as uncertain, not sent again" in caplog.text  # logged as an ERROR ...
    assert request.headers["authorization"].removeprefix("Bearer ") not in caplog.text  # ... never the token
    assert request.body.decode() not in caplog.text
    graph.silence = 0
    assert send(outbox) == 0
    assert len(graph.sent) == 1  # taken once, not sent again


# --- intake check --------------------------------------------------------------------------------


def test_check_gets_a_token_and_reaches_the_mailbox(graph: SendingGraph, entra: Entra, tmp_path: Path) -> None:
    settings = graph_settings(graph, entra, tmp_path, source="maildir")
    results = run_checks(settings, lambda: make_source(settings), mailer_opener(settings))
    outbox = results[-1]
    assert outbox.ok, outbox.line()
    assert outbox.line().startswith(f"outbox: ok (Graph {graph.base_url} as {MAILBOX}: token ok")
    assert [r.method for r in graph.get_requests()] == ["GET"]  # nothing sent
    assert graph.sent == []


def test_check_says_in_one_line_what_is_wrong(graph: SendingGraph, entra: Entra, tmp_path: Path) -> None:
    settings = parse_settings(graph_config(graph, entra, tmp_path, source="maildir"),
                              {"INTAKE_OAUTH_CLIENT_SECRET": CLIENT_SECRET, "INTAKE_GRAPH_MAILBOX": "vd@stockholm.se"})
    outbox = run_checks(settings, lambda: make_source(settings), mailer_opener(settings))[-1]
    assert not outbox.ok
    line = outbox.line()
    assert line.startswith(f"outbox: Graph {graph.base_url} as vd@stockholm.se: could not reach the mailbox: HTTP 403")
    assert "application access policy" in line and "\n" not in line


# --- configuration -----------------------------------------------------------------------------


MINIMAL = """
[award]
year = 2017
mailbox = "kvalitetsutmarkelsen@stockholm.se"
protocol_deadline = 2017-06-30
[source]
kind = "maildir"
[outbox]
transport = "graph"
"""


def test_graph_transport_needs_the_app_registration() -> None:
    with pytest.raises(ConfigError, match=r'oauth.tenant_id: missing; .*needed by outbox.transport = "graph"'):
        parse_settings(MINIMAL, {})
    environ = {"INTAKE_OAUTH_TENANT_ID": TENANT, "INTAKE_OAUTH_CLIENT_ID": CLIENT_ID}
    with pytest.raises(ConfigError, match="oauth.client_secret: missing; .*INTAKE_OAUTH_CLIENT_SECRET"):
        parse_settings(MINIMAL, environ)
    settings = parse_settings(MINIMAL, {**environ, "INTAKE_OAUTH_CLIENT_SECRET": CLIENT_SECRET})
    assert settings.outbox.transport == "graph"
    assert settings.smtp.host == ""  # no SMTP server needed


def test_graph_transport_from_the_environment() -> None:
    text = MINIMAL.replace('transport = "graph"', 'transport = "files"')
    environ = {"INTAKE_OUTBOX_TRANSPORT": "Graph", "INTAKE_OAUTH_TENANT_ID": TENANT,
               "INTAKE_OAUTH_CLIENT_ID": CLIENT_ID, "INTAKE_OAUTH_CLIENT_SECRET": CLIENT_SECRET}
    assert parse_settings(text, environ).outbox.transport == "graph"
    with pytest.raises(ConfigError, match="outbox.transport: expected one of smtp | files | graph"):
        parse_settings(MINIMAL.replace('"graph"', '"exchange"'), {})
