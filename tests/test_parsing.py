"""parse_mail on mails as Outlook, Apple Mail, Gmail and broken senders write them."""

from __future__ import annotations

import base64
import contextlib
import random
import re
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest

from intake import parsing
from intake.errors import MailParseError
from intake.parsing import parse_mail

DATA = Path(__file__).parent / "data" / "mail"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
HEADERS = (
    b"From: Anna Berg <Anna.Berg@Stockholm.se>\r\n"
    b"To: kvalitetsutmarkelsen@stockholm.se\r\n"
    b"Subject: Protokollsutdrag\r\n"
    b"Date: Tue, 13 Jun 2017 14:02:11 +0200\r\n"
    b"Message-ID: <abc123@stockholm.se>\r\n"
    b"MIME-Version: 1.0\r\n"
)


def message(
    subject: str = "Protokollsutdrag", body: str = "Hej! Här är protokollet.", **headers: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Anna Berg <anna.berg@stockholm.se>"
    msg["To"] = "kvalitetsutmarkelsen@stockholm.se"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 13 Jun 2017 14:02:11 +0200"
    msg["Message-ID"] = "<abc123@stockholm.se>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def multipart(*parts: bytes, boundary: bytes = b"XYZ", close: bool = True) -> bytes:
    """A multipart/mixed mail around literal parts, each given as headers + blank line + body."""
    out = HEADERS + b"Content-Type: multipart/mixed; boundary=" + boundary + b"\r\n\r\n"
    out += b"--" + boundary + b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHej!\r\n"
    for part in parts:
        out += b"--" + boundary + b"\r\n" + part + b"\r\n"
    return out + (b"--" + boundary + b"--\r\n" if close else b"")


PDF_BASE64 = b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"


def test_plain_mail() -> None:
    mail = parse_mail(message().as_bytes())
    assert mail.message_id == "<abc123@stockholm.se>"
    assert not mail.message_id_synthesised
    assert (mail.from_addr, mail.from_name) == ("anna.berg@stockholm.se", "Anna Berg")
    assert mail.to == ("kvalitetsutmarkelsen@stockholm.se",)
    assert mail.subject == "Protokollsutdrag"
    assert mail.date == datetime(2017, 6, 13, 14, 2, 11, tzinfo=timezone(timedelta(hours=2)))
    assert mail.date.tzinfo is not None
    assert mail.content_type == "text/plain"
    assert mail.text_body.strip() == "Hej! Här är protokollet."
    assert (mail.html_body, mail.attachments, mail.forwarded, mail.defects) == ("", (), (), ())
    assert (mail.in_reply_to, mail.references, mail.reply_to) == (None, (), None)


def test_headers_kept_in_order_lower_case_and_decoded() -> None:
    raw = message(X_Custom="=?utf-8?q?F=C3=B6rsta?=").as_bytes()
    mail = parse_mail(raw)
    assert [name for name, _ in mail.headers][:5] == ["from", "to", "subject", "date", "message-id"]
    assert mail.header("X-CUSTOM") == "Första"


@pytest.mark.parametrize(
    ("from_header", "subject_header", "name", "subject"),
    [
        (  # utf-8, quoted-printable
            "=?utf-8?Q?=C3=85sa_L=C3=B6f?= <asa@x.se>",
            "=?utf-8?Q?Protokollsutdrag_F=C3=B6rskolan_=C3=84ngen?=",
            "Åsa Löf",
            "Protokollsutdrag Förskolan Ängen",
        ),
        (  # utf-8, base64
            "=?UTF-8?B?w4VzYSBMw7Zm?= <asa@x.se>",
            "=?UTF-8?B?UHJvdG9rb2xsc3V0ZHJhZyDDhG5nZW4=?=",
            "Åsa Löf",
            "Protokollsutdrag Ängen",
        ),
        (  # Outlook: iso-8859-1, and the encoded name inside quotes
            '"=?iso-8859-1?Q?L=F6f=2C_=C5sa?=" <asa@x.se>',
            "=?iso-8859-1?Q?SV:_Fr=E5ga_om_=E4mne?=",
            "Löf, Åsa",
            "SV: Fråga om ämne",
        ),
        (  # windows-1252
            "=?windows-1252?Q?G=F6ran_=D6st?= <asa@x.se>",
            "=?windows-1252?Q?Protokoll_=96_=C5rsta?=",
            "Göran Öst",
            "Protokoll – Årsta",
        ),
        (  # folded over lines, plain words after an encoded word
            "Åsa Löf <asa@x.se>",
            "VB: Protokollsutdrag =?utf-8?q?F=C3=B6rskolan_=C3=84ngen_med_ett_l=C3=A5ngt?=\r\n namn som viks",
            "Åsa Löf",
            "VB: Protokollsutdrag Förskolan Ängen med ett långt namn som viks",
        ),
    ],
)
def test_encoded_names_and_subjects(from_header: str, subject_header: str, name: str, subject: str) -> None:
    raw = f"From: {from_header}\r\nSubject: {subject_header}\r\n\r\nbody\r\n".encode()
    mail = parse_mail(raw)
    assert (mail.from_name, mail.from_addr, mail.subject) == (name, "asa@x.se", subject)


def test_raw_8bit_headers_are_read_as_utf8_else_cp1252() -> None:
    raw = "From: Åsa <a@x.se>\r\nSubject: Förskolan\r\n\r\nb\r\n".encode()
    latin = "From: Åsa <a@x.se>\r\nSubject: Förskolan\r\n\r\nb\r\n".encode("cp1252")
    assert (parse_mail(raw).from_name, parse_mail(raw).subject) == ("Åsa", "Förskolan")
    assert parse_mail(latin).subject == "Förskolan"


@pytest.mark.parametrize(
    ("disposition", "filename"),
    [
        (b"attachment; filename*=utf-8''F%C3%B6rskolan%20%C3%85.pdf", "Förskolan Å.pdf"),
        (b"attachment; filename*=iso-8859-1''F%F6rskolan%20%C5.pdf", "Förskolan Å.pdf"),
        (b"attachment; filename*=ISO-8859-1'sv'%C4ngen.pdf", "Ängen.pdf"),
        (  # RFC 2231 continuations
            b"attachment;\r\n filename*0*=utf-8''Protokoll%20f%C3%B6r;\r\n filename*1*=%20%C3%85rsta.pdf",
            "Protokoll för Årsta.pdf",
        ),
        (b'attachment; filename="=?utf-8?Q?F=C3=B6rskolan_=C3=85.pdf?="', "Förskolan Å.pdf"),
        (b'attachment; filename="=?iso-8859-1?B?xG5nZW4ucGRm?="', "Ängen.pdf"),
        ('attachment; filename="Förskolan Å.pdf"'.encode(), "Förskolan Å.pdf"),
        ('attachment; filename="Förskolan Å.pdf"'.encode("cp1252"), "Förskolan Å.pdf"),
        (b'attachment; filename="C:\\\\Users\\\\anna\\\\Protokoll.pdf"', "Protokoll.pdf"),
    ],
)
def test_attachment_file_names(disposition: bytes, filename: str) -> None:
    part = b"Content-Type: application/pdf\r\nContent-Disposition: " + disposition + b"\r\n"
    mail = parse_mail(multipart(part + PDF_BASE64))
    (attachment,) = mail.attachments
    assert attachment.filename == filename
    assert (attachment.content_type, attachment.disposition) == ("application/pdf", "attachment")
    assert attachment.data == b"%PDF-1.4\n"


@pytest.mark.parametrize(
    ("part", "filename", "disposition"),
    [
        (  # Apple Mail: inline PDF
            b'Content-Type: application/pdf; name="Protokoll.pdf"\r\n'
            b'Content-Disposition: inline; filename="Protokoll.pdf"\r\n',
            "Protokoll.pdf",
            "inline",
        ),
        (  # Apple Mail: no disposition, name only on Content-Type, RFC 2231
            b"Content-Type: application/pdf; name*=utf-8''%C3%85rsta.pdf\r\n",
            "Årsta.pdf",
            "",
        ),
        (  # no name at all
            b"Content-Type: application/pdf\r\n",
            "bilaga-1.pdf",
            "",
        ),
        (b"Content-Type: Application/PDF\r\nContent-Disposition: inline\r\n", "bilaga-1.pdf", "inline"),
        (
            b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment\r\n",
            "bilaga-1.bin",
            "attachment",
        ),
    ],
)
def test_files_without_attachment_disposition(part: bytes, filename: str, disposition: str) -> None:
    mail = parse_mail(multipart(part + PDF_BASE64))
    (attachment,) = mail.attachments
    assert (attachment.filename, attachment.disposition) == (filename, disposition)
    assert attachment.content_type == attachment.content_type.lower()
    assert attachment.data == b"%PDF-1.4\n"
    assert mail.text_body.strip() == "Hej!"


def test_apple_mail_fixture() -> None:
    mail = parse_mail((DATA / "apple-mail-inline-pdf.eml").read_bytes())
    (attachment,) = mail.attachments
    assert attachment.filename == "Protokollsutdrag förskolan Ängen.pdf"
    assert attachment.disposition == "inline"
    assert attachment.data.startswith(b"%PDF-1.4")
    assert mail.subject == "Protokollsutdrag förskolan Ängen"
    assert "Här kommer" in mail.text_body and "hälsningar" in mail.text_body


def test_text_parts_with_names_are_files_and_bodies_are_not() -> None:
    raw = multipart(
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Disposition: inline; filename=notes.txt\r\n"
        b"\r\nanteckningar",
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hej</p>",
        b"Content-Type: image/png\r\nContent-ID: <image001.png@01D2>\r\n" + PDF_BASE64,
    )
    mail = parse_mail(raw)
    assert [a.filename for a in mail.attachments] == ["notes.txt", "bilaga-2.png"]
    assert (mail.text_body.strip(), mail.html_body.strip()) == ("Hej!", "<p>Hej</p>")


def test_alternative_bodies() -> None:
    msg = message(body="Hej text")
    msg.add_alternative("<p>Hej html</p>", subtype="html")
    mail = parse_mail(msg.as_bytes())
    assert mail.content_type == "multipart/alternative"
    assert (mail.text_body.strip(), mail.html_body.strip()) == ("Hej text", "<p>Hej html</p>")
    assert mail.attachments == ()


def forwarded(depth: int) -> EmailMessage:
    """A mail forwarding a mail ... `depth` times, the innermost with a PDF."""
    inner = message(subject="Protokollsutdrag Förskolan Ängen", body="inre")
    inner.replace_header("Message-ID", "<inner@stockholm.se>")
    inner.add_attachment(PDF, maintype="application", subtype="pdf", filename="Ängen.pdf")
    for level in range(depth):
        outer = message(subject=f"VB: {level}", body=f"vidarebefordrat {level}")
        outer.replace_header("Message-ID", f"<outer{level}@stockholm.se>")
        outer.add_attachment(inner)
        inner = outer
    return inner


def test_forwarded_mail_keeps_its_own_attachments() -> None:
    outer = forwarded(1)
    outer.add_attachment(b"%PDF-1.4 yttre", maintype="application", subtype="pdf", filename="yttre.pdf")
    mail = parse_mail(outer.as_bytes())
    assert [a.filename for a in mail.attachments] == ["yttre.pdf"]
    (inner,) = mail.forwarded
    assert inner.subject == "Protokollsutdrag Förskolan Ängen"
    assert inner.message_id == "<inner@stockholm.se>"
    assert [a.filename for a in inner.attachments] == ["Ängen.pdf"]
    assert inner.attachments[0].data == PDF
    assert [a.filename for a in mail.all_attachments()] == ["yttre.pdf", "Ängen.pdf"]
    assert "inre" not in mail.text_body and inner.text_body.strip() == "inre"


def test_forwarded_mail_in_base64_is_decoded() -> None:
    inner = b"From: a@x.se\r\nSubject: Inre\r\nContent-Type: application/pdf; name=x.pdf\r\n"
    inner += PDF_BASE64
    part = b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    mail = parse_mail(multipart(part + base64.encodebytes(inner)))
    (forwarded_mail,) = mail.forwarded
    assert (forwarded_mail.subject, forwarded_mail.from_addr) == ("Inre", "a@x.se")
    assert [a.filename for a in mail.all_attachments()] == ["x.pdf"]


def test_forwarding_is_followed_to_a_limit() -> None:
    mail = parse_mail(forwarded(parsing.MAX_FORWARD_DEPTH + 2).as_bytes())
    levels = 0
    inner = mail
    while inner.forwarded:
        (inner,) = inner.forwarded
        levels += 1
    assert levels == parsing.MAX_FORWARD_DEPTH
    assert any("nested deeper" in d for d in inner.defects)


def test_forwarded_mail_without_message_id_gets_a_stable_one() -> None:
    inner = message()
    del inner["Message-ID"]
    outer = message()
    outer.add_attachment(inner)
    first, second = parse_mail(outer.as_bytes()), parse_mail(outer.as_bytes())
    assert first.forwarded[0].message_id_synthesised
    assert first.forwarded[0].message_id == second.forwarded[0].message_id


def test_missing_message_id_is_synthesised_and_stable() -> None:
    msg = message()
    del msg["Message-ID"]
    raw = msg.as_bytes()
    mail = parse_mail(raw)
    assert mail.message_id_synthesised
    assert re.fullmatch(r"<[0-9a-f]{32}@intake\.invalid>", mail.message_id)
    assert parse_mail(raw).message_id == mail.message_id
    assert parse_mail(raw + b"x").message_id != mail.message_id


@pytest.mark.parametrize(
    ("headers", "in_reply_to", "references"),
    [
        (
            {"In_Reply_To": "<a1@x.se>", "References": "<r0@x.se> <a1@x.se>"},
            "<a1@x.se>",
            ("<r0@x.se>", "<a1@x.se>"),
        ),
        ({"In_Reply_To": "a1@x.se"}, "<a1@x.se>", ()),  # brackets forgotten
        (
            {"References": "<r0@x.se>\r\n\t<r1@x.se>\r\n <r2@x.se>"},
            None,
            ("<r0@x.se>", "<r1@x.se>", "<r2@x.se>"),
        ),
    ],
)
def test_thread_headers(
    headers: dict[str, str], in_reply_to: str | None, references: tuple[str, ...]
) -> None:
    raw = HEADERS + b"".join(f"{k.replace('_', '-')}: {v}\r\n".encode() for k, v in headers.items())
    mail = parse_mail(raw + b"\r\nbody\r\n")
    assert (mail.in_reply_to, mail.references) == (in_reply_to, references)


def test_reply_to_and_several_recipients() -> None:
    raw = message(Reply_To="Registrator <Registrator@Stockholm.se>", Cc="c@x.se").as_bytes()
    raw = raw.replace(b"To: kvalitetsutmarkelsen", b"To: Lindqvist Anna <a@x.se>, kvalitetsutmarkelsen", 1)
    mail = parse_mail(raw)
    assert mail.reply_to == "registrator@stockholm.se"
    assert mail.to == ("a@x.se", "kvalitetsutmarkelsen@stockholm.se")


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Tue, 13 Jun 2017 14:02:11 -0000", datetime(2017, 6, 13, 14, 2, 11, tzinfo=UTC)),
        ("13 Jun 2017 14:02 +0200", datetime(2017, 6, 13, 12, 2, tzinfo=UTC)),
        ("not a date", None),
    ],
)
def test_dates_are_aware(date: str, expected: datetime | None) -> None:
    mail = parse_mail(f"From: a@x.se\r\nDate: {date}\r\n\r\nb\r\n".encode())
    assert mail.date == expected
    assert mail.date is None or mail.date.tzinfo is not None
    if expected is None:
        assert any(d.startswith("date") for d in mail.defects)


def test_damaged_mail_is_read_with_defects() -> None:
    raw = multipart(b"Content-Type: application/pdf; name=a.pdf\r\n" + PDF_BASE64, close=False)
    mail = parse_mail(raw)
    assert [a.filename for a in mail.attachments] == ["a.pdf"]
    assert mail.text_body.strip() == "Hej!"
    assert any("CloseBoundaryNotFound" in d for d in mail.defects)


def test_multipart_without_boundary_keeps_its_text() -> None:
    raw = HEADERS + b"Content-Type: multipart/mixed\r\n\r\nHej, protokollet kommer.\r\n"
    mail = parse_mail(raw)
    assert "protokollet kommer" in mail.text_body
    assert any("NoBoundaryInMultipart" in d for d in mail.defects)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"  \r\n\r\n ",
        bytes(range(256)) * 8,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200),
        b"just some words\nwithout any header\n",
    ],
    ids=["empty", "whitespace", "binary", "png", "no-headers"],
)
def test_nothing_usable_raises(raw: bytes) -> None:
    with pytest.raises(MailParseError, match=r"empty|no mail headers"):
        parse_mail(raw)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (b"text/plain; charset=windows-1252", "Här är protokollet – 5 € § 12".encode("cp1252")),
        (b"text/plain; charset=iso-8859-1", "Här är protokollet – 5 € § 12".encode("cp1252")),
        (b"text/plain; charset=ISO-8859-1", "Här är protokollet § 12".encode("latin-1")),
        (b"text/plain", "Här är protokollet § 12".encode("latin-1")),  # no charset, 8-bit
        (b"text/plain; charset=utf-8", "Här är protokollet § 12".encode("cp1252")),  # wrong label
        (b"text/plain; charset=x-unknown", "Här är protokollet § 12".encode()),
    ],
)
def test_single_byte_bodies(content_type: bytes, body: bytes) -> None:
    raw = HEADERS + b"Content-Type: " + content_type + b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    mail = parse_mail(raw + body + b"\r\n")
    assert mail.text_body.startswith("Här är protokollet")
    assert "§ 12" in mail.text_body
    assert "\r" not in mail.text_body


def test_quoted_printable_cp1252_body() -> None:
    raw = HEADERS + (
        b"Content-Type: text/plain; charset=windows-1252\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nH=E4r =96 =80=\r\n5\r\n"
    )
    assert parse_mail(raw).text_body.strip() == "Här – €5"


def test_domainless_sender_is_kept() -> None:
    mail = parse_mail(b"From: MAILER-DAEMON\r\nSubject: failure\r\n\r\nb\r\n")
    assert mail.from_addr == "mailer-daemon"


def test_mail_parser_failure_falls_back_to_the_stdlib(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(raw: bytes) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(parsing.mailparser, "parse_from_bytes", broken)
    mail = parse_mail(message(subject="Årsta").as_bytes())
    assert (mail.from_addr, mail.subject) == ("anna.berg@stockholm.se", "Årsta")
    assert any("mail-parser failed" in d for d in mail.defects)


@pytest.mark.parametrize(
    ("fixture", "from_addr", "content_type"),
    [
        ("postfix-bounce.eml", "mailer-daemon@mx.example.org", "multipart/report"),
        ("outlook-autosvar.eml", "goran.lindstrom@stockholm.se", "text/plain"),
    ],
)
def test_machine_mails_parse(fixture: str, from_addr: str, content_type: str) -> None:
    mail = parse_mail((DATA / fixture).read_bytes())
    assert (mail.from_addr, mail.content_type, mail.attachments) == (from_addr, content_type, ())
    assert mail.text_body


def mutations(seed: bytes, count: int) -> list[bytes]:
    """Seeded random damage: flipped bytes, cuts, and MIME syntax dropped in at random."""
    rng = random.Random(seed)
    tokens = [b"\r\n", b"--", b"=?utf-8?q?", b"?=", b";", b'"', b"*0*=", b"boundary=", b"\x00", b"\xff"]
    out = []
    for _ in range(count):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 10)):
            at = rng.randrange(len(data) + 1)
            if rng.random() < 0.4 and data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif rng.random() < 0.5:
                del data[at : at + rng.randint(1, 40)]
            else:
                data[at:at] = rng.choice(tokens)
        out.append(bytes(data))
    return out


@pytest.mark.parametrize("fixture", sorted(path.name for path in DATA.glob("*.eml")))
def test_damaged_mails_never_raise_anything_but_mail_parse_error(fixture: str) -> None:
    for raw in mutations((DATA / fixture).read_bytes(), 150):
        with contextlib.suppress(MailParseError):
            parse_mail(raw)
