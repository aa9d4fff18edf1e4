"""Issue 4 end to end: submissions under reference numbers, threads that complete them, duplicates,
unknown units, a register imported late, and aliases. Real Dovecot, real SMTP, the real `intake` command."""

from __future__ import annotations

from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from intake.samples import SampleMail, mail, pdf_from_text, protocol_text
from tests.bot import JUNE_19, REGISTER_CSV, SENDER, Bot, protocol_mail
from tests.dovecot import Dovecot
from tests.smtpserver import SmtpTestServer


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return " ".join(part.get_content().split())


def extract(units: tuple[str, ...], subject: str, *, hours: int = 0,
            headers: tuple[tuple[str, str], ...] = ()) -> SampleMail:
    text = protocol_text("Socialnämnden", date(2017, 6, 13), 9, [(u, "Socialtjänst") for u in units], 2017)
    return mail(SENDER, subject, "Hej!\nHär kommer protokollsutdraget.\n/Lena", JUNE_19 + timedelta(hours=hours),
                [("Protokollsutdrag.pdf", pdf_from_text(text), "application/pdf")], extra_headers=headers)


def deliver(dovecot: Dovecot, sample: SampleMail) -> str:
    dovecot.append(sample.raw, internaldate=sample.received_at)
    message_id = message_from_bytes(sample.raw, policy=policy.default)["Message-ID"]
    assert isinstance(message_id, str)
    return message_id


def test_reply_in_the_thread_completes_the_submission(bot: Bot, dovecot: Dovecot,
                                                       smtp_server: SmtpTestServer) -> None:
    """The first extract lacks a unit; the sender answers our notice with a second extract naming it."""
    first = deliver(dovecot, extract(("Korttidshemmet Drömmen",), "Protokollsutdrag SN § 9"))
    bot.run("poll", "--once")
    [notice] = smtp_server.wait_for(1)
    assert notice.message["Subject"] == "Re: Protokollsutdrag SN § 9 [KU-2017-0001]"
    notice_text = text_of(notice.message)
    assert "Förstärkningsteamet, tävlingsklass Socialtjänst" in notice_text
    assert "Korttidshemmet Drömmen, tävlingsklass Socialtjänst" in notice_text  # already registered
    assert "Ärendenummer: KU-2017-0001" in notice_text

    answer = extract(("Förstärkningsteamet",), "SV: Re: Protokollsutdrag SN § 9 [KU-2017-0001]", hours=2,
                     headers=(("In-Reply-To", notice.message["Message-ID"]),
                              ("References", f"{first} {notice.message['Message-ID']}")))
    deliver(dovecot, answer)
    bot.run("poll", "--once")
    [_, confirmation] = smtp_server.wait_for(2)
    assert confirmation.message["Subject"] == "SV: Re: Protokollsutdrag SN § 9 [KU-2017-0001]"
    assert "Förstärkningsteamet, tävlingsklass Socialtjänst" in text_of(confirmation.message)

    messages = bot.messages()
    assert [m["reference"] for m in messages] == ["KU-2017-0001", "KU-2017-0001"]
    assert [m["outcome"] for m in messages] == ["incomplete", "confirmed"]
    units = bot.units()
    assert units["Korttidshemmet Drömmen"]["state"] == units["Förstärkningsteamet"]["state"] == "confirmed"


def test_separate_mails_are_separate_submissions(bot: Bot, dovecot: Dovecot, smtp_server: SmtpTestServer) -> None:
    deliver(dovecot, protocol_mail())
    deliver(dovecot, protocol_mail(subject="Protokollsutdrag igen", units=("Korttidshemmet Drömmen",)))
    bot.run("poll", "--once")
    replies = smtp_server.wait_for(2)
    assert sorted(r.message["Subject"][-14:] for r in replies) == ["[KU-2017-0001]", "[KU-2017-0002]"]


def test_same_extract_again_confirms_again_without_new_records(bot: Bot, dovecot: Dovecot,
                                                                smtp_server: SmtpTestServer) -> None:
    first = protocol_mail()
    first_id = deliver(dovecot, first)
    bot.run("poll", "--once")
    smtp_server.wait_for(1)
    # the very same PDF, in a new mail
    original = message_from_bytes(first.raw, policy=policy.default)
    [attachment] = list(original.iter_attachments())
    pdf = attachment.get_payload(decode=True)
    assert isinstance(pdf, bytes)
    again = mail(SENDER, "Protokollsutdrag (skickar igen)", "Hej igen!", JUNE_19 + timedelta(hours=3),
                 [("Protokollsutdrag SN § 9.pdf", pdf, "application/pdf")])
    deliver(dovecot, again)
    bot.run("poll", "--once")
    [_, second] = smtp_server.wait_for(2)
    assert "Korttidshemmet Drömmen" in text_of(second.message)
    messages = bot.messages()
    assert [m["outcome"] for m in messages] == ["confirmed", "confirmed"]
    assert any("tidigare mejl" in reason for reason in messages[1]["reasons"])
    units = bot.units()
    assert units["Korttidshemmet Drömmen"]["protocol"]["message_id"] == first_id  # the first mail still counts


def test_unknown_unit_then_a_late_register_import_settles_it(bot: Bot, dovecot: Dovecot,
                                                             smtp_server: SmtpTestServer, tmp_path: Path) -> None:
    deliver(dovecot, protocol_mail(units=("Korttidshemmet Drömmen", "Förstärkningsteamet", "Socialjouren")))
    bot.run("poll", "--once")
    [notice] = smtp_server.wait_for(1)
    assert "Socialjouren" in text_of(notice.message)
    [entry] = bot.messages()
    assert entry["outcome"] == "incomplete" and entry["missing"] == ["unknown_unit"]
    assert bot.units()["Korttidshemmet Drömmen"]["state"] == "confirmed"

    late = tmp_path / "tillagd.csv"
    late.write_text(REGISTER_CSV + "2017;Socialjouren;Socialtjänst;Socialförvaltningen;Socialnämnden;\n",
                    encoding="utf-8")
    imported = bot.run("units", "import", str(late)).stdout
    assert "1 tillagda" in imported and "1 väntande mejl matchades om" in imported
    [entry] = bot.messages()
    assert entry["outcome"] == "confirmed" and entry["missing"] == []
    assert bot.units()["Socialjouren"]["state"] == "confirmed"
    bot.run("poll", "--once")
    assert len(smtp_server.messages) == 1  # nobody is answered twice


def test_follow_up_without_a_file_goes_to_a_coordinator(bot: Bot, dovecot: Dovecot,
                                                        smtp_server: SmtpTestServer) -> None:
    deliver(dovecot, protocol_mail(units=("Korttidshemmet Drömmen",)))
    bot.run("poll", "--once")
    [notice] = smtp_server.wait_for(1)
    question = mail(SENDER, f"SV: {notice.message['Subject']}", "Förstärkningsteamet ska inte delta i år.",
                    JUNE_19 + timedelta(hours=1), extra_headers=(("In-Reply-To", notice.message["Message-ID"]),))
    deliver(dovecot, question)
    bot.run("poll", "--once")
    [_, receipt] = smtp_server.wait_for(2)
    assert "samordnare" in text_of(receipt.message)
    assert [m["outcome"] for m in bot.messages()] == ["incomplete", "needs_review"]


def test_alias_added_by_a_coordinator_matches_next_time(bot: Bot, dovecot: Dovecot,
                                                        smtp_server: SmtpTestServer) -> None:
    unit_id = bot.units()["Korttidshemmet Drömmen"]["unit_id"]
    listed = bot.run("units", "alias", "add", unit_id, "KTH Stjärnfallet").stdout
    assert "Korttidshemmet Drömmen" in listed and "KTH Stjärnfallet" in listed
    assert "KTH Stjärnfallet" in bot.run("units", "alias", "list").stdout

    deliver(dovecot, protocol_mail(units=("KTH Stjärnfallet", "Förstärkningsteamet")))
    bot.run("poll", "--once")
    smtp_server.wait_for(1)
    [entry] = bot.messages()
    assert entry["outcome"] == "confirmed"
    assert bot.units()["Korttidshemmet Drömmen"]["state"] == "confirmed"

    alias_number = bot.run("units", "alias", "list").stdout.split("\t")[0]
    bot.run("units", "alias", "remove", alias_number)
    assert "KTH Stjärnfallet" not in bot.run("units", "alias", "list").stdout


def test_unsure_name_waits_for_a_coordinator_who_teaches_the_bot(bot: Bot, dovecot: Dovecot,
                                                                 smtp_server: SmtpTestServer) -> None:
    """ "Korttidshemmet Drömmen 2": a number the registered name lacks (a speck, or another unit?) is never
    sure, so a receipt and the review queue; the coordinator accepts the match, the sender gets the
    confirmation, and the spelling matches by itself next time."""
    first = deliver(dovecot, protocol_mail(units=("Korttidshemmet Drömmen 2", "Förstärkningsteamet")))
    bot.run("poll", "--once")
    [receipt] = smtp_server.wait_for(1)
    assert "samordnare" in text_of(receipt.message)
    [entry] = bot.messages()
    assert entry["outcome"] == "needs_review"
    units = bot.units()
    unit_id = units["Korttidshemmet Drömmen"]["unit_id"]
    assert entry["unsure_units"] == [unit_id]
    assert units["Korttidshemmet Drömmen"]["state"] == "needs_review"
    queue = bot.run("review", "list").stdout
    assert first in queue and "Drömmen 2" in queue

    done = bot.run("review", "accept", first, unit_id, "Korttidshemmet Drömmen 2").stdout
    assert "confirmed" in done
    assert bot.run("review", "list").stdout.strip() == ""
    assert bot.units()["Korttidshemmet Drömmen"]["state"] == "confirmed"
    bot.run("poll", "--once")
    [_, answer] = smtp_server.wait_for(2)
    assert "Korttidshemmet Drömmen, tävlingsklass Socialtjänst" in text_of(answer.message)
    assert "Korttidshemmet Drömmen 2" in bot.run("units", "alias", "list").stdout

    deliver(dovecot, protocol_mail(units=("Korttidshemmet Drömmen 2",), subject="Nytt utdrag"))
    bot.run("poll", "--once")
    smtp_server.wait_for(3)
    assert bot.messages()[-1]["outcome"] == "confirmed"
