"""Backscatter protection: automatic replies only to senders the city's server vouched for."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.domain import ParsedMail
from intake.parsing import parse_mail
from intake.samples import STOCKHOLM, mail, pdf_from_text, protocol_text
from intake.senders import authenticated, in_domains, may_auto_reply
from intake.storage.models import MessageRow, ReplyRow, ReviewItemRow
from tests.desk import make_desk

CITY = "mx1.stockholm.se"


def parsed(*results: str, sender: str = "Lena <lena@stockholm.se>", reply_to: str | None = None) -> ParsedMail:
    headers = [("Authentication-Results", value) for value in results]
    if reply_to:
        headers.append(("Reply-To", reply_to))
    sample = mail(sender, "Protokoll", "Hej", datetime(2017, 6, 1, 10, tzinfo=STOCKHOLM),
                  extra_headers=headers)
    return parse_mail(sample.raw)


@pytest.mark.parametrize(("result", "ok"), [
    (f"{CITY}; dmarc=pass (p=none) header.from=stockholm.se", True),
    (f"{CITY}; spf=fail smtp.mailfrom=evil.example; dkim=pass header.d=stockholm.se", True),
    (f"{CITY}; spf=pass smtp.mailfrom=bounce@stockholm.se", True),
    (f"{CITY}; dkim=pass header.d=sub.stockholm.se", True),  # relaxed alignment
    (f"{CITY}; dmarc=fail header.from=stockholm.se; spf=softfail smtp.mailfrom=stockholm.se", False),
    (f"{CITY}; dkim=pass header.d=evil.example", False),  # a valid signature, of another domain
    (f"{CITY}; dmarc=none header.from=stockholm.se", False),
    ("mx.evil.example; dmarc=pass header.from=stockholm.se", False),  # not our server's verdict
    (f"{CITY}; (dmarc=pass header.from=stockholm.se) spf=none", False),  # a comment is not a result
])
def test_only_a_pass_of_the_trusted_server_for_the_senders_domain_counts(result: str, ok: bool) -> None:
    assert authenticated(parsed(result).headers, "stockholm.se", CITY) is ok


def test_without_a_configured_id_only_the_topmost_header_counts() -> None:
    forged_below = parsed(f"{CITY}; dmarc=fail header.from=stockholm.se",
                          "anything; dmarc=pass header.from=stockholm.se")
    assert not authenticated(forged_below.headers, "stockholm.se", "")
    assert authenticated(parsed(f"{CITY}; dmarc=pass header.from=stockholm.se").headers, "stockholm.se", "")


def test_domains_include_subdomains_only() -> None:
    assert in_domains("stockholm.se", ["stockholm.se"])
    assert in_domains("edu.stockholm.se", ["Stockholm.se."])
    assert not in_domains("notstockholm.se", ["stockholm.se"])
    assert not in_domains("", ["stockholm.se"])


def test_policies() -> None:
    unverified = parsed()
    assert may_auto_reply(unverified, "lena@stockholm.se", "any", CITY, ()).allowed
    assert not may_auto_reply(unverified, "lena@stockholm.se", "authenticated", CITY, ["stockholm.se"]).allowed
    assert may_auto_reply(unverified, "lena@stockholm.se", "domains", CITY, ["stockholm.se"]).allowed
    assert may_auto_reply(unverified, "lena@stockholm.se", "authenticated_or_domains", CITY, ["stockholm.se"]).allowed
    refused = may_auto_reply(unverified, "x@example.org", "authenticated_or_domains", CITY, ["stockholm.se"])
    assert not refused.allowed and "x@example.org" in refused.reason and "SPF" in refused.reason
    verified = parsed(f"{CITY}; dmarc=pass header.from=skola.example", sender="a@skola.example")
    assert may_auto_reply(verified, "a@skola.example", "authenticated", CITY, ()).allowed
    # the reply goes to Reply-To: its domain is what must be vouched for
    assert not may_auto_reply(verified, "victim@other.example", "authenticated", CITY, ()).allowed


def test_an_unverified_sender_is_not_answered_but_reaches_a_coordinator(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False,
                     web=f'\n[security]\nreply_policy = "authenticated_or_domains"\nauthserv_id = "{CITY}"\n'
                         'reply_domains = ["stockholm.se"]')
    text = protocol_text("Socialnämnden", date(2017, 6, 13), 9, [("Förstärkningsteamet", "Socialtjänst")], 2017)
    attachment = [("Protokollsutdrag.pdf", pdf_from_text(text), "application/pdf")]
    when = datetime(2017, 6, 19, 10, tzinfo=STOCKHOLM)
    desk.deliver(mail("Förfalskad <forged@example.org>", "Protokollsutdrag", "Hej", when, attachment).raw)
    desk.deliver(mail("Skola <rektor@skola.example>", "Protokollsutdrag", "Hej", when, attachment,
                      extra_headers=[("Authentication-Results",
                                      f"{CITY}; dmarc=pass header.from=skola.example")]).raw)
    desk.deliver(mail("Lena <lena@stockholm.se>", "Protokollsutdrag", "Hej", when, attachment).raw)
    desk.poll()
    with desk.ctx.sessions.begin() as db:
        answered = sorted(row.recipient for row in db.scalars(select(ReplyRow)))
        assert answered == ["lena@stockholm.se", "rektor@skola.example"]
        forged = db.scalars(select(MessageRow).where(MessageRow.from_addr == "forged@example.org")).one()
        assert forged.outcome is not None  # processed and recorded all the same
        reasons = [row.reason for row in db.scalars(select(ReviewItemRow).where(
            ReviewItemRow.message_pk == forged.id))]
        assert any("Inget automatiskt svar" in reason for reason in reasons)


def test_a_sender_whose_address_is_not_ascii_is_answered_in_utf8(tmp_path: Path, database_url: str) -> None:
    """"åsa@stockholm.se" (RFC 6531): the reply's headers are raw UTF-8 (RFC 6532), to go out over
    SMTPUTF8 (test_outbox checks the SMTP side)."""
    desk = make_desk(tmp_path, database_url, mails=False)
    text = protocol_text("Socialnämnden", date(2017, 6, 13), 9, [("Förstärkningsteamet", "Socialtjänst")], 2017)
    sample = mail("Asa Oberg <asa.oberg@stockholm.se>", "Protokollsutdrag", "Hej",
                  datetime(2017, 6, 19, 10, tzinfo=STOCKHOLM),
                  [("Protokollsutdrag.pdf", pdf_from_text(text), "application/pdf")])
    # as a client that speaks SMTPUTF8 writes it: the header in raw UTF-8
    desk.deliver(sample.raw.replace(b"From: Asa Oberg <asa.oberg@", "From: Åsa Öberg <åsa@".encode(), 1))
    desk.poll()
    with desk.ctx.sessions.begin() as db:
        message = db.scalars(select(MessageRow)).one()
        assert message.status == "processed" and message.outcome is not None
        [reply] = db.scalars(select(ReplyRow)).all()
        assert reply.recipient == "åsa@stockholm.se"
        assert "Åsa Öberg <åsa@stockholm.se>".encode() in reply.raw
        parsed = parse_mail(reply.raw)  # as the sender's client reads it: UTF-8 headers
        assert parsed.to == ("åsa@stockholm.se",) and parsed.subject.startswith("Re: Protokollsutdrag")


@pytest.mark.parametrize("sender", ['Anna <"anna andersson"@stockholm.se>',  # a quoted local part
                                    "Åsa <åsa@stockholm.se>"])  # written as an encoded word by the builder
def test_a_sender_whose_address_has_an_unusual_form_goes_to_a_coordinator(
    tmp_path: Path, database_url: str, sender: str
) -> None:
    """The mail is decided and recorded, and a coordinator answers by hand."""
    desk = make_desk(tmp_path, database_url, mails=False)
    text = protocol_text("Socialnämnden", date(2017, 6, 13), 9, [("Förstärkningsteamet", "Socialtjänst")], 2017)
    sample = mail(sender, "Protokollsutdrag", "Hej", datetime(2017, 6, 19, 10, tzinfo=STOCKHOLM),
                  [("Protokollsutdrag.pdf", pdf_from_text(text), "application/pdf")])
    assert sender != "Åsa <åsa@stockholm.se>" or b"=?utf-8?q?=C3=A5sa?=@" in sample.raw
    desk.deliver(sample.raw)
    desk.poll()
    with desk.ctx.sessions.begin() as db:
        message = db.scalars(select(MessageRow)).one()
        assert message.status == "processed" and message.outcome is not None  # decided, not failed
        assert db.scalars(select(ReplyRow)).all() == []
        reasons = [row.reason for row in db.scalars(select(ReviewItemRow))]
        assert any("inte kan besvaras automatiskt" in reason for reason in reasons)
