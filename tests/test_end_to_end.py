"""The mail loop end to end: real Dovecot, real SMTP (aiosmtpd), the real `intake` command."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from intake.samples import STOCKHOLM, mail
from tests.bot import JUNE_19, SENDER, Bot, protocol_mail, wait_until
from tests.dovecot import Dovecot
from tests.smtpserver import SmtpTestServer

REPLY_WAIT = 20.0


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def test_protocol_confirms_both_units_and_is_answered_once(
    bot: Bot, dovecot: Dovecot, smtp_server: SmtpTestServer
) -> None:
    sample = protocol_mail()
    original = message_from_bytes(sample.raw, policy=policy.default)
    dovecot.append(sample.raw, internaldate=sample.received_at)

    bot.run("poll", "--once")

    [reply] = smtp_server.wait_for(1)
    message = reply.message
    assert reply.rcpt_tos == ("lena.murray@stockholm.se",)
    assert message["In-Reply-To"] == original["Message-ID"]
    assert original["Message-ID"] in message["References"]
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Subject"] == "Re: Protokollsutdrag Socialnämnden § 9 [KU-2017-0001]"
    assert message["Message-ID"].endswith("@stockholm.se>")
    text = body_text(message)
    assert "Korttidshemmet Drömmen" in text and "Förstärkningsteamet" in text

    units = bot.units()
    for name in ("Korttidshemmet Drömmen", "Förstärkningsteamet"):
        assert units[name]["state"] == "confirmed"
        assert units[name]["protocol"]["message_id"] == original["Message-ID"]
        assert units[name]["protocol"]["paragraph"] == "§ 9"
        assert units[name]["protocol"]["meeting_date"] == "2017-06-13"
    assert units["Förskolan Solrosen"]["state"] == "awaiting_protocol"
    assert units["Förskolan Solrosen"]["protocol"] is None

    [entry] = bot.messages()
    assert entry["outcome"] == "confirmed"
    assert entry["missing"] == []
    assert len(entry["units"]) == 2
    assert entry["reply_message_id"] == message["Message-ID"]
    assert entry["received_at"].startswith("2017-06-19T08:00")  # INTERNALDATE, in UTC

    bot.run("poll", "--once")
    time.sleep(0.5)
    assert len(smtp_server.messages) == 1
    assert dovecot.flags(1) == ()  # never marked \Seen: coordinators read the same mailbox


AUTOMATIC = {
    "out_of_office": mail(SENDER, "Automatiskt svar: Protokollsutdrag", "Jag är ledig.", JUNE_19,
                          extra_headers=[("Auto-Submitted", "auto-replied")]),
    "out_of_office_subject_only": mail(SENDER, "Frånvarande: Kvalitetsutmärkelsen", "Tillbaka 7/8.", JUNE_19),
    "mailing_list": mail("Nyhetsbrev <nyhetsbrev@stockholm.se>", "Veckans nyheter", "Nyheter", JUNE_19,
                         extra_headers=[("List-Id", "<nyheter.stockholm.se>"), ("Precedence", "list")]),
    "own_address": mail("Kvalitetsutmärkelsen <kvalitetsutmarkelsen@stockholm.se>", "Re: test", "x", JUNE_19),
}


def delivery_report() -> bytes:
    return (
        b"From: MAILER-DAEMON@stockholm.se\r\nTo: kvalitetsutmarkelsen@stockholm.se\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@stockholm.se>\r\n"
        b"Date: Mon, 19 Jun 2017 10:00:00 +0200\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; stockholm.se\r\n\r\n"
        b"Final-Recipient: rfc822; nobody@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
    )


def test_automatic_mail_is_ignored_and_a_bare_mail_gets_a_notice(
    bot: Bot, dovecot: Dovecot, smtp_server: SmtpTestServer
) -> None:
    for sample in AUTOMATIC.values():
        dovecot.append(sample.raw, internaldate=sample.received_at)
    dovecot.append(delivery_report(), internaldate=JUNE_19)
    bare = mail(SENDER, "Protokollsutdrag", "Hej! Protokollet kommer här.", JUNE_19)
    dovecot.append(bare.raw, internaldate=JUNE_19)

    bot.run("poll", "--once")

    [reply] = smtp_server.wait_for(1)
    assert reply.message["Subject"] == "Re: Protokollsutdrag [KU-2017-0001]"
    outcomes = {(m["subject"], m["outcome"], tuple(m["missing"])) for m in bot.messages()}
    assert ("Protokollsutdrag", "incomplete", ("no_attachment",)) in outcomes
    ignored = [m for m in bot.messages() if m["outcome"] == "ignored"]
    assert len(ignored) == len(AUTOMATIC) + 1
    assert all(m["reply_message_id"] is None for m in ignored)
    time.sleep(0.5)
    assert len(smtp_server.messages) == 1


def test_idle_daemon_answers_without_waiting_for_a_poll(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpTestServer, database_url: str
) -> None:
    bot = Bot(tmp_path, dovecot.port, dovecot.user, dovecot.password, smtp_server.port, database_url)
    bot.import_register()
    config = bot.write_config()
    config.write_text(config.read_text().replace("poll_interval = 1", "poll_interval = 600"))
    log = tmp_path / "daemon.log"
    with log.open("w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "intake.cli", "run"],
                                   env=bot.env(INTAKE_CONFIG=str(config)), stderr=stderr,
                                   stdout=subprocess.DEVNULL, cwd=tmp_path)
    try:
        wait_until(lambda: "watching" in log.read_text() or process.poll() is not None, timeout=60)
        assert process.poll() is None, log.read_text()
        time.sleep(1)  # the first round is done and the daemon is idling
        sample = protocol_mail()
        started = time.monotonic()
        dovecot.append(sample.raw, internaldate=sample.received_at)
        smtp_server.wait_for(1, timeout=60)
        assert time.monotonic() - started < 60  # far below the 600 s poll interval: IDLE woke it
        time.sleep(1)  # answered, back in IDLE
    finally:
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, log.read_text()
    assert "stopped" in log.read_text()
    # stopped inside IDLE, the connection is dropped, not logged out (a LOGOUT there waits
    # for the 20 s socket timeout, since the server expects DONE)
    assert time.monotonic() - stopping < 10


@pytest.mark.parametrize("point", ["after_store", "after_process", "after_send"])
def test_killed_at_any_point_every_mail_is_answered_once(
    bot: Bot, dovecot: Dovecot, smtp_server: SmtpTestServer, point: str
) -> None:
    sample = protocol_mail()
    dovecot.append(sample.raw, internaldate=sample.received_at)

    killed = bot.run("poll", "--once", check=False, INTAKE_TEST_CRASHPOINT=point)
    assert killed.returncode == -signal.SIGKILL

    bot.run("poll", "--once")
    bot.run("poll", "--once")
    time.sleep(0.5)
    assert len(smtp_server.wait_for(1)) == 1
    [entry] = bot.messages()
    assert entry["outcome"] == "confirmed"
    # After a kill between SMTP's acceptance and the commit, the reply is 'uncertain', not resent.
    assert entry["reply_status"] == ("uncertain" if point == "after_send" else "sent")


def test_reprocess_answers_again_only_when_asked(
    bot: Bot, dovecot: Dovecot, smtp_server: SmtpTestServer
) -> None:
    sample = protocol_mail()
    dovecot.append(sample.raw, internaldate=sample.received_at)
    bot.run("poll", "--once")
    smtp_server.wait_for(1)
    message_id = bot.messages()[0]["message_id"]

    assert "confirmed" in bot.run("reprocess", message_id).stdout
    bot.run("poll", "--once")
    time.sleep(0.5)
    assert len(smtp_server.messages) == 1
    assert bot.units()["Korttidshemmet Drömmen"]["state"] == "confirmed"

    bot.run("reprocess", message_id, "--reply")
    bot.run("poll", "--once")
    assert len(smtp_server.wait_for(2)) == 2

    missing = bot.run("reprocess", "<nobody@example.org>", check=False)
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1


def test_seen_flags_and_uidvalidity_change_neither_lose_nor_repeat_mail(
    bot: Bot, dovecot: Dovecot, smtp_server: SmtpTestServer
) -> None:
    first = protocol_mail()
    dovecot.append(first.raw, internaldate=first.received_at, flags=[r"\Seen"])  # read in Outlook
    bot.run("poll", "--once")
    smtp_server.wait_for(1)

    dovecot.change_uidvalidity()
    bare = mail(SENDER, "Fråga om kvalitetsutmärkelsen", "Hej, när är sista dag?", JUNE_19)
    dovecot.append(bare.raw, internaldate=JUNE_19)
    bot.run("poll", "--once")
    smtp_server.wait_for(2)
    time.sleep(0.5)
    assert len(smtp_server.messages) == 2
    assert len(bot.messages()) == 2


def test_reply_budget_holds_back_a_loop(tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpTestServer,
                                        database_url: str) -> None:
    bot = Bot(tmp_path, dovecot.port, dovecot.user, dovecot.password, smtp_server.port, database_url,
              replies_per_hour=3)
    bot.import_register()
    for number in range(5):
        sample = mail(SENDER, f"Protokoll {number}", "Bilaga saknas", JUNE_19)
        dovecot.append(sample.raw, internaldate=JUNE_19)
    bot.run("poll", "--once")
    smtp_server.wait_for(3)
    time.sleep(0.5)
    assert len(smtp_server.messages) == 3
    statuses = sorted(m["reply_status"] for m in bot.messages())
    assert statuses == ["held", "held", "sent", "sent", "sent"]


def test_same_message_id_with_other_bytes_is_not_answered_twice(
    bot: Bot, dovecot: Dovecot, smtp_server: SmtpTestServer
) -> None:
    sample = protocol_mail()
    dovecot.append(sample.raw, internaldate=sample.received_at)
    # The same mail again, with a header a server added on the way: other bytes, same Message-ID.
    dovecot.append(b"X-Forwarded-By: relay\r\n" + sample.raw, internaldate=sample.received_at)
    bot.run("poll", "--once")
    smtp_server.wait_for(1)
    time.sleep(0.5)
    assert len(smtp_server.messages) == 1
    statuses = sorted(m["status"] for m in bot.messages())
    assert statuses == ["duplicate", "processed"]


def test_unparseable_mail_is_stored_and_sent_to_review(
    bot: Bot, dovecot: Dovecot, smtp_server: SmtpTestServer
) -> None:
    garbage = bytes(range(256)) * 4
    dovecot.append(b"\r\n" + garbage, internaldate=datetime(2017, 6, 19, 10, tzinfo=STOCKHOLM))
    bot.run("poll", "--once")
    [entry] = bot.messages()
    assert entry["outcome"] == "needs_review"
    assert entry["reply_message_id"] is None
    assert entry["message_id"].endswith("@intake.invalid>")
    time.sleep(0.3)
    assert smtp_server.messages == []


def test_smtp_outage_is_retried_and_nothing_lost(
    bot: Bot, dovecot: Dovecot, smtp_server: SmtpTestServer
) -> None:
    smtp_server.fail_next(451, count=1)
    sample = protocol_mail()
    dovecot.append(sample.raw, internaldate=sample.received_at)
    bot.run("poll", "--once")
    assert bot.messages()[0]["reply_status"] == "queued"
    time.sleep(1.5)  # the first retry is due after retry_base_seconds = 1
    bot.run("poll", "--once")
    smtp_server.wait_for(1)
    assert bot.messages()[0]["reply_status"] == "sent"


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "intake.cli", "demo", "--once", "--dir", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "bekräftat" in done.stdout and "ignorerat" in done.stdout
    replies = list((tmp_path / "demo" / "outbox").glob("*.eml"))
    assert len(replies) == 8  # nine sample mails, one of them an out-of-office
