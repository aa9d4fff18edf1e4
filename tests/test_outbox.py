"""Tests for intake.outbox: SMTP against a real aiosmtpd server, and the .eml files transport."""

from __future__ import annotations

import email
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import default as default_policy
from pathlib import Path
from typing import cast

import pytest

from intake.domain import OutgoingMail
from intake.errors import PermanentSendError, SendOutcomeUnknown, TransientSendError
from intake.outbox.files import FileMailer, file_name
from intake.outbox.smtp import SmtpMailer
from tests.smtpserver import HOST, PASSWORD, SmtpTestServer, free_port

SENDER = "kvalitetsutmarkelsen@stockholm.se"
RECIPIENT = "asa.oberg@stockholm.se"
SUBJECT = "Re: Protokollsutdrag för förskolan Solrosen, Enskede-Årsta-Vantör"
BODY = "Hej!\n\nVi har registrerat att Förskolan Solrosen deltar. Vänliga hälsningar\n"
SERVER_IDLE_TIMEOUT = 0.3  # seconds before the test server hangs up on an idle client

ServerFactory = Callable[..., SmtpTestServer]


def make_mail(number: int = 1) -> OutgoingMail:
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = f"Kvalitetsutmärkelsen <{SENDER}>"
    message["To"] = f"Åsa Öberg <{RECIPIENT}>"
    message["Subject"] = SUBJECT
    message_id = f"<reply-{number}.svar@stockholm.se>"
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-replied"
    message.set_content(BODY, charset="utf-8")
    return OutgoingMail(message_id, SENDER, (RECIPIENT,), message.as_bytes())


def parse(raw: bytes) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(raw, policy=default_policy))


# --- SMTP: each security mode ------------------------------------------------------------


def test_plain_smtp_delivers_the_bytes_unchanged(smtp_server: SmtpTestServer) -> None:
    mail = make_mail()
    SmtpMailer(smtp_server.smtp_settings()).send(mail)
    [received] = smtp_server.wait_for(1)
    assert received.mail_from == SENDER
    assert received.rcpt_tos == (RECIPIENT,)
    assert received.message["Subject"] == SUBJECT
    assert received.message["Message-ID"] == mail.message_id
    assert "Förskolan Solrosen" in received.message.get_content()


def test_auth_plain_connection(smtp_server_auth: SmtpTestServer) -> None:
    SmtpMailer(smtp_server_auth.smtp_settings()).send(make_mail())
    assert len(smtp_server_auth.wait_for(1)) == 1


def test_auth_with_a_swedish_password(make_smtp_server: ServerFactory) -> None:
    server = make_smtp_server(auth=True, password="blåbärssylt-ÅÄÖ")
    SmtpMailer(server.smtp_settings()).send(make_mail())
    assert len(server.wait_for(1)) == 1


def test_starttls(smtp_server_tls: SmtpTestServer) -> None:
    mailer = SmtpMailer(smtp_server_tls.smtp_settings(), smtp_server_tls.client_ssl_context())
    mailer.send(make_mail())
    [received] = smtp_server_tls.wait_for(1)
    assert received.message["Subject"] == SUBJECT


def test_starttls_with_auth(make_smtp_server: ServerFactory) -> None:
    server = make_smtp_server(security="starttls", auth=True)
    SmtpMailer(server.smtp_settings(), server.client_ssl_context()).send(make_mail())
    assert len(server.wait_for(1)) == 1


def test_implicit_tls(smtp_server_ssl: SmtpTestServer) -> None:
    mailer = SmtpMailer(smtp_server_ssl.smtp_settings(), smtp_server_ssl.client_ssl_context())
    mailer.send(make_mail())
    assert len(smtp_server_ssl.wait_for(1)) == 1


def test_implicit_tls_with_auth(make_smtp_server: ServerFactory) -> None:
    server = make_smtp_server(security="ssl", auth=True)
    SmtpMailer(server.smtp_settings(), server.client_ssl_context()).send(make_mail())
    assert len(server.wait_for(1)) == 1


def test_untrusted_certificate_is_refused(smtp_server_tls: SmtpTestServer) -> None:
    # The system's trust store does not know the self-signed certificate.
    with pytest.raises(TransientSendError, match="CERTIFICATE_VERIFY_FAILED"):
        SmtpMailer(smtp_server_tls.smtp_settings()).send(make_mail())
    assert smtp_server_tls.messages == []


def test_starttls_not_offered_is_permanent(smtp_server: SmtpTestServer) -> None:
    settings = smtp_server.smtp_settings(security="starttls")
    with pytest.raises(PermanentSendError, match="STARTTLS"):
        SmtpMailer(settings).send(make_mail())
    assert smtp_server.messages == []


# --- SMTP: failures --------------------------------------------------------------------


@pytest.mark.parametrize("wrong", ["fel-losenord", "fel-lösenord"])
def test_wrong_password_is_permanent_and_not_shown(smtp_server_auth: SmtpTestServer, wrong: str) -> None:
    settings = smtp_server_auth.smtp_settings(password=wrong)
    with pytest.raises(PermanentSendError, match="535") as caught:
        SmtpMailer(settings).send(make_mail())
    assert wrong not in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_missing_credentials_are_permanent(smtp_server_auth: SmtpTestServer) -> None:
    settings = smtp_server_auth.smtp_settings(username="", password="")
    with pytest.raises(PermanentSendError, match="530"):
        SmtpMailer(settings).send(make_mail())


@pytest.mark.parametrize(
    ("code", "stage", "error"),
    [
        (451, "data", TransientSendError),
        (452, "rcpt", TransientSendError),
        (421, "data", TransientSendError),
        (550, "rcpt", PermanentSendError),
        (552, "data", PermanentSendError),
        (554, "data", PermanentSendError),
    ],
)
def test_server_refusals_map_to_our_errors(
    smtp_server: SmtpTestServer, code: int, stage: str, error: type[Exception]
) -> None:
    smtp_server.fail_next(code, stage=stage)
    with pytest.raises(error, match=str(code)):
        SmtpMailer(smtp_server.smtp_settings()).send(make_mail())
    assert smtp_server.messages == []
    SmtpMailer(smtp_server.smtp_settings()).send(make_mail(2))  # only the next one was refused
    assert len(smtp_server.wait_for(1)) == 1


def test_connection_refused_is_transient(smtp_server: SmtpTestServer) -> None:
    mailer = SmtpMailer(smtp_server.smtp_settings(port=free_port()))
    with pytest.raises(TransientSendError, match="ConnectionRefused"):
        mailer.send(make_mail())


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections but never says a word."""
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_timeout_is_transient(smtp_server: SmtpTestServer, silent_port: int) -> None:
    settings = smtp_server.smtp_settings(port=silent_port, timeout=1)
    started = time.monotonic()
    with pytest.raises(TransientSendError, match="[Tt]ime"):
        SmtpMailer(settings).send(make_mail())
    assert time.monotonic() - started < 5


# --- SMTP: connection reuse ------------------------------------------------------------


def test_one_connection_for_many_replies(smtp_server: SmtpTestServer) -> None:
    count = 250
    with SmtpMailer(smtp_server.smtp_settings(), max_messages_per_connection=100) as mailer:
        for number in range(count):
            mailer.send(make_mail(number))
    received = smtp_server.wait_for(count)
    assert mailer.connections_opened == 3
    assert len({message.peer for message in received}) == 3
    assert [m.message["Message-ID"] for m in received] == [make_mail(n).message_id for n in range(count)]


def test_without_context_each_send_has_its_own_connection(smtp_server: SmtpTestServer) -> None:
    mailer = SmtpMailer(smtp_server.smtp_settings())
    mailer.send(make_mail(1))
    mailer.send(make_mail(2))
    received = smtp_server.wait_for(2)
    assert mailer.connections_opened == 2
    assert received[0].peer != received[1].peer


def test_reconnects_once_when_the_server_dropped_the_connection(
    make_smtp_server: ServerFactory,
) -> None:
    server = make_smtp_server(idle_timeout=SERVER_IDLE_TIMEOUT)
    with SmtpMailer(server.smtp_settings()) as mailer:
        mailer.send(make_mail(1))
        time.sleep(SERVER_IDLE_TIMEOUT * 3)
        mailer.send(make_mail(2))
    received = server.wait_for(2)
    assert mailer.connections_opened == 2
    assert [m.message["Message-ID"] for m in received] == [
        make_mail(1).message_id,
        make_mail(2).message_id,
    ]


def utf8_reply() -> OutgoingMail:
    """A reply to "åsa@stockholm.se" as intake.replies builds it: raw UTF-8 headers (RFC 6532)."""
    from intake.replies import UTF8_MAIL_POLICY, mailbox_address

    message = EmailMessage(policy=UTF8_MAIL_POLICY)
    message["From"] = f"Kvalitetsutmärkelsen <{SENDER}>"
    message["To"] = mailbox_address("Åsa Öberg", "åsa@stockholm.se")
    message["Subject"] = SUBJECT
    message["Message-ID"] = "<utf8.svar@stockholm.se>"
    message.set_content(BODY, charset="utf-8")
    return OutgoingMail("<utf8.svar@stockholm.se>", SENDER, ("åsa@stockholm.se",), message.as_bytes())


def test_a_non_ascii_address_goes_out_over_smtputf8(make_smtp_server: ServerFactory) -> None:
    server = make_smtp_server(smtputf8=True)
    SmtpMailer(server.smtp_settings()).send(utf8_reply())
    [received] = server.wait_for(1)
    assert received.rcpt_tos == ("åsa@stockholm.se",)
    assert "To: Åsa Öberg <åsa@stockholm.se>".encode() in received.raw


def test_a_server_without_smtputf8_refuses_a_non_ascii_address_for_good(make_smtp_server: ServerFactory) -> None:
    server = make_smtp_server(smtputf8=False)
    with SmtpMailer(server.smtp_settings()) as mailer:
        with pytest.raises(PermanentSendError, match="does not offer SMTPUTF8.*åsa@stockholm.se"):
            mailer.send(utf8_reply())
        mailer.send(make_mail(1))  # an ASCII address still goes out
    assert [m.rcpt_tos for m in server.wait_for(1)] == [(RECIPIENT,)]


@pytest.mark.parametrize("how", ["close", "hang"])
def test_an_answer_lost_after_the_whole_mail_is_never_sent_again(smtp_server: SmtpTestServer, how: str) -> None:
    """The server kept the mail but its answer was lost (connection closed, or no answer within
    smtp.timeout): sending again could answer the sender twice, so the outcome is unknown, on a
    kept connection as on a new one; the next mail goes out on a new connection."""
    with SmtpMailer(smtp_server.smtp_settings(timeout=1)) as mailer:
        mailer.send(make_mail(1))  # the connection is now a kept, reused one
        smtp_server.lose_answer_next(how, hang=3)
        with pytest.raises(SendOutcomeUnknown, match="handed over; the server may have accepted it"):
            mailer.send(make_mail(2))
        mailer.send(make_mail(3))
    received = smtp_server.wait_for(3)
    time.sleep(0.5)
    assert [m.message["Message-ID"] for m in smtp_server.messages] == [
        make_mail(n).message_id for n in (1, 2, 3)], "mail 2 arrived once, not resent"
    assert len(received) == 3 and mailer.connections_opened == 2
    # lost *before* the end of the mail (test_reconnects_once_*): sent again at once, safely


def test_kept_connection_recovers_after_a_refusal(smtp_server: SmtpTestServer) -> None:
    with SmtpMailer(smtp_server.smtp_settings()) as mailer:
        smtp_server.fail_next(550, stage="rcpt")
        with pytest.raises(PermanentSendError):
            mailer.send(make_mail(1))
        smtp_server.fail_next(451)
        with pytest.raises(TransientSendError):
            mailer.send(make_mail(2))
        mailer.send(make_mail(3))
    [received] = smtp_server.wait_for(1)
    assert received.message["Message-ID"] == make_mail(3).message_id


def test_open_connects_at_once_and_close_ends_reuse(smtp_server: SmtpTestServer) -> None:
    mailer = SmtpMailer(smtp_server.smtp_settings())
    mailer.open()
    assert mailer.connections_opened == 1
    mailer.send(make_mail(1))
    mailer.send(make_mail(2))
    mailer.close()
    mailer.send(make_mail(3))
    assert mailer.connections_opened == 2
    assert len(smtp_server.wait_for(3)) == 3


def test_open_against_a_closed_port_is_transient(smtp_server: SmtpTestServer) -> None:
    mailer = SmtpMailer(smtp_server.smtp_settings(port=free_port()))
    with pytest.raises(TransientSendError):
        mailer.open()


# --- files -------------------------------------------------------------------------------


def test_file_mailer_writes_parseable_eml(tmp_path: Path) -> None:
    folder = tmp_path / "var" / "outbox"
    mailer = FileMailer(folder)
    mail = make_mail()
    mailer.send(mail)
    [written] = folder.iterdir()
    assert written.suffix == ".eml"
    assert written.read_bytes() == mail.raw
    message = parse(written.read_bytes())
    assert message["Subject"] == SUBJECT
    assert message["To"].addresses[0].display_name == "Åsa Öberg"
    assert "Vänliga hälsningar" in message.get_content()


def test_file_names_sort_by_time_and_are_safe(tmp_path: Path) -> None:
    start = datetime(2017, 6, 20, 10, 0, tzinfo=UTC)
    times = iter([start, start + timedelta(seconds=1)])
    mailer = FileMailer(tmp_path, clock=lambda: next(times))
    mailer.send(make_mail(2))
    mailer.send(make_mail(1))
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == [
        "20170620T100000.000000Z-reply-2.svar@stockholm.se.eml",
        "20170620T100001.000000Z-reply-1.svar@stockholm.se.eml",
    ]
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


@pytest.mark.parametrize(
    ("message_id", "expected"),
    [
        ("<../../etc/passwd\x00>", "etc_passwd"),
        ("<CAB+x/y:z@mail.gmail.com>", "CAB+x_y_z@mail.gmail.com"),
        ("<>", "reply"),
    ],
)
def test_file_name_of_an_awkward_message_id(message_id: str, expected: str) -> None:
    mail = OutgoingMail(message_id, SENDER, (RECIPIENT,), b"")
    name = file_name(mail, datetime(2017, 6, 20, tzinfo=UTC))
    assert name == f"20170620T000000.000000Z-{expected}.eml"


def test_file_mailer_failure_is_transient(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(TransientSendError, match="could not write"):
        FileMailer(blocker).send(make_mail())
