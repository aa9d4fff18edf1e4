"""Tests for intake.replies: the Swedish reply, its wording per outcome and its headers."""

from __future__ import annotations

import email
from dataclasses import replace
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, cast

import pytest
from jinja2 import UndefinedError

from intake.config import AwardSettings
from intake.domain import (
    Decision,
    DocType,
    Missing,
    Outcome,
    OutgoingMail,
    ParsedMail,
    Understanding,
    Unit,
)
from intake.errors import ConfigError
from intake.replies import (
    MAX_REFERENCES,
    ReplyRenderer,
    reply_recipient,
    reply_subject,
    swedish_date,
)

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
SENDER = "Kvalitetsutmärkelsen <kvalitetsutmarkelsen@stockholm.se>"
MAILBOX = "kvalitetsutmarkelsen@stockholm.se"
BEFORE_DEADLINE = datetime(2017, 6, 20, 8, 0, tzinfo=UTC)
AFTER_DEADLINE = datetime(2017, 7, 3, 8, 0, tzinfo=UTC)

AWARD = AwardSettings(year=2017, mailbox=MAILBOX, protocol_deadline=date(2017, 6, 30))
BOARD = "Enskede-Årsta-Vantörs stadsdelsnämnd"
ADMINISTRATION = "Enskede-Årsta-Vantörs stadsdelsförvaltning"
SOLROSEN = Unit("u1", 2017, "Förskolan Solrosen", "Förskola", ADMINISTRATION, BOARD)
HEMTJANST = Unit(
    "u2", 2017, "Hemtjänsten Årsta enhet 2", "Äldreomsorg (inkl. myndighetsutövning)", ADMINISTRATION, BOARD
)
EXTRACT = Understanding(
    filename="protokollsutdrag § 14.pdf",
    doc_type=DocType.PROTOCOL,
    committee=BOARD,
    meeting_date=date(2017, 6, 15),
    paragraph="§ 14",
    year=2017,
    has_decision=True,
    adjusted=True,
)
ORIGINAL = ParsedMail(
    message_id="<CAB+utdrag.14@sdf.stockholm.se>",
    message_id_synthesised=False,
    from_addr="asa.oberg@stockholm.se",
    from_name="Åsa Öberg",
    to=(MAILBOX,),
    subject="Protokollsutdrag § 14 Enskede-Årsta-Vantör, förskolor",
    date=None,
    in_reply_to=None,
    references=(),
    reply_to=None,
    headers=(),
    content_type="multipart/mixed",
    text_body="Hej, här kommer protokollsutdraget.",
    html_body="",
    attachments=(),
)

# A phrase only the paragraph for that code says; every code must have its own.
PHRASES = {
    Missing.NO_ATTACHMENT: "ingen bifogad fil",
    Missing.UNREADABLE_ATTACHMENT: "kunde inte öppna",
    Missing.NOT_PROTOCOL: "justerat protokollsutdrag från det sammanträde",
    Missing.NO_DECISION: "inget beslut om deltagande",
    Missing.NOT_ADJUSTED: "att protokollet är justerat",
    Missing.WRONG_YEAR: "Beslutet i protokollsutdraget gäller",
    Missing.UNKNOWN_UNIT: "som vi inte hittar bland de anmälda",
    Missing.REGISTERED_UNIT_MISSING: "nämns inte i protokollsutdraget",
    Missing.LATE: "efter sista dagen",
}


@pytest.fixture(scope="module")
def renderer() -> ReplyRenderer:
    return ReplyRenderer(TEMPLATES)


def compose(renderer: ReplyRenderer, decision: Decision, **overrides: Any) -> OutgoingMail:
    arguments: dict[str, Any] = {
        "original": ORIGINAL,
        "decision": decision,
        "confirmed_units": (),
        "unknown_mentions": (),
        "missing_units": (),
        "award": AWARD,
        "sender": SENDER,
        "reply_to_address": MAILBOX,
        "now": BEFORE_DEADLINE,
    }
    arguments.update(overrides)
    return renderer.compose_reply(**arguments)


def parse(mail: OutgoingMail) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(mail.raw, policy=default_policy))


def bodies(mail: OutgoingMail) -> tuple[str, str]:
    """(plain text, HTML) as a mail client shows them: lines end in LF, not the wire's CRLF."""
    message = parse(mail)
    text, html = (
        cast(EmailMessage, message.get_body((kind,))).get_content().replace("\r\n", "\n")
        for kind in ("plain", "html")
    )
    return text, html


def confirmed(renderer: ReplyRenderer, **overrides: Any) -> OutgoingMail:
    decision = Decision(Outcome.CONFIRMED, units=("u1", "u2"), document=EXTRACT)
    overrides.setdefault("confirmed_units", (SOLROSEN, HEMTJANST))
    return compose(renderer, decision, **overrides)


def incomplete(renderer: ReplyRenderer, *codes: Missing, **overrides: Any) -> OutgoingMail:
    decision = Decision(Outcome.INCOMPLETE, missing=codes, document=overrides.pop("document", EXTRACT))
    return compose(renderer, decision, **overrides)


# --- wording per outcome ------------------------------------------------------------


def test_confirmed_names_each_unit_with_its_class(renderer: ReplyRenderer) -> None:
    for body in bodies(confirmed(renderer)):
        assert "Förskolan Solrosen, tävlingsklass Förskola" in body
        assert "Hemtjänsten Årsta enhet 2, tävlingsklass Äldreomsorg (inkl. myndighetsutövning)" in body
        assert "kvalitetsutmärkelse 2017" in body


def test_confirmed_names_committee_meeting_and_paragraph(renderer: ReplyRenderer) -> None:
    text, html = bodies(confirmed(renderer))
    for body in (text, html):
        assert "Enskede-Årsta-Vantörs stadsdelsnämnd" in body
        assert "15 juni 2017" in body
        assert "§ 14" in body


def test_confirmed_writes_around_unknown_document_facts(renderer: ReplyRenderer) -> None:
    sparse = replace(EXTRACT, committee="Socialnämnden", meeting_date=None, paragraph=None)
    decision = Decision(Outcome.CONFIRMED, units=("u1",), document=sparse)
    text, html = bodies(compose(renderer, decision, confirmed_units=(SOLROSEN,)))
    assert "Socialnämnden" in text and "Sammanträde:" not in text and "Paragraf:" not in text
    bare = Decision(Outcome.CONFIRMED, units=("u1",), document=None)
    text, html = bodies(compose(renderer, bare, confirmed_units=(SOLROSEN,)))
    assert "Uppgifter ur protokollsutdraget" not in text
    assert "None" not in text and "None" not in html
    assert "den här enheten deltar" in text


def test_needs_review_is_a_receipt(renderer: ReplyRenderer) -> None:
    text, html = bodies(compose(renderer, Decision(Outcome.NEEDS_REVIEW)))
    for body in (text, html):
        assert "Vi har tagit emot det" in body
        assert "samordnare" in body


@pytest.mark.parametrize("outcome", [Outcome.CONFIRMED, Outcome.INCOMPLETE, Outcome.NEEDS_REVIEW])
def test_every_reply_greets_signs_and_says_it_is_automatic(renderer: ReplyRenderer, outcome: Outcome) -> None:
    mail = compose(renderer, Decision(outcome, missing=(Missing.NO_ATTACHMENT,)))
    text, html = bodies(mail)
    assert text.startswith("Hej!\n")
    assert "Vänliga hälsningar\nKvalitetsutmärkelsen\nStockholms stad" in text
    for body in (text, html):
        assert "automatiskt svar" in body
        assert MAILBOX in body
    assert "\n\n\n" not in text


@pytest.mark.parametrize("code", list(Missing))
def test_each_missing_code_has_its_own_paragraph(renderer: ReplyRenderer, code: Missing) -> None:
    mail = incomplete(renderer, code, unknown_mentions=("Förskolan Månen",), missing_units=(HEMTJANST,))
    for body in bodies(mail):
        assert PHRASES[code] in body
        for other, phrase in PHRASES.items():
            if other is not code:
                assert phrase not in body, f"{other} paragraph shown for {code}"


def test_every_missing_code_has_a_phrase() -> None:
    assert set(PHRASES) == set(Missing)


def test_deadline_named_in_swedish_while_there_is_time(renderer: ReplyRenderer) -> None:
    text, html = bodies(incomplete(renderer, Missing.NOT_ADJUSTED))
    assert "senast den 30 juni 2017" in text and "senast den 30 juni 2017" in html


def test_after_the_deadline_asks_for_it_as_soon_as_possible(renderer: ReplyRenderer) -> None:
    text, _ = bodies(incomplete(renderer, Missing.NOT_ADJUSTED, Missing.LATE, now=AFTER_DEADLINE))
    assert "så snart som möjligt" in text
    assert "senast den" not in text
    assert "som var den 30 juni 2017" in text


def test_not_protocol_explains_a_tjansteutlatande(renderer: ReplyRenderer) -> None:
    proposal = replace(EXTRACT, doc_type=DocType.PROPOSAL, filename="TU nominering.pdf")
    text, html = bodies(incomplete(renderer, Missing.NOT_PROTOCOL, document=proposal))
    for body in (text, html):
        assert "tjänsteutlåtande" in body
        assert "förslag till beslut" in body
        assert "justerat protokollsutdrag" in body
        assert "TU nominering.pdf" in body


def test_unknown_unit_lists_the_mentions(renderer: ReplyRenderer) -> None:
    mentions = ("Förskolan Månen", "Fritidsklubben Örnen")
    text, html = bodies(incomplete(renderer, Missing.UNKNOWN_UNIT, unknown_mentions=mentions))
    assert "- Förskolan Månen\n- Fritidsklubben Örnen\n" in text
    assert "<li>Förskolan Månen</li>" in html and "<li>Fritidsklubben Örnen</li>" in html


def test_registered_unit_missing_lists_units_with_class(renderer: ReplyRenderer) -> None:
    text, html = bodies(incomplete(renderer, Missing.REGISTERED_UNIT_MISSING, missing_units=(HEMTJANST,)))
    line = "Hemtjänsten Årsta enhet 2, tävlingsklass Äldreomsorg (inkl. myndighetsutövning)"
    assert f"- {line}\n" in text
    assert f"<li>{line}</li>" in html


def test_wrong_year_names_the_year_of_the_document(renderer: ReplyRenderer) -> None:
    old = replace(EXTRACT, year=2016)
    text, _ = bodies(incomplete(renderer, Missing.WRONG_YEAR, document=old))
    assert "gäller kvalitetsutmärkelsen 2016, inte 2017" in text


def test_incomplete_also_lists_units_already_confirmed(renderer: ReplyRenderer) -> None:
    mail = incomplete(
        renderer,
        Missing.REGISTERED_UNIT_MISSING,
        confirmed_units=(SOLROSEN,),
        missing_units=(HEMTJANST,),
    )
    text, html = bodies(mail)
    assert "redan kunnat registrera" in text
    assert "- Förskolan Solrosen, tävlingsklass Förskola" in text
    assert "<li>Förskolan Solrosen, tävlingsklass Förskola</li>" in html


def test_html_escapes_unit_names(renderer: ReplyRenderer) -> None:
    evil = replace(SOLROSEN, name="<script>alert('x')</script> & Co")
    text, html = bodies(confirmed(renderer, confirmed_units=(evil,)))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "&amp; Co" in html
    assert "<script>alert('x')</script> & Co" in text


# --- headers --------------------------------------------------------------------------


def test_threading_headers(renderer: ReplyRenderer) -> None:
    original = replace(ORIGINAL, in_reply_to="<b@x.se>", references=("<a@x.se>", "<b@x.se>"))
    message = parse(confirmed(renderer, original=original))
    assert message["In-Reply-To"] == ORIGINAL.message_id
    assert message["References"].split() == ["<a@x.se>", "<b@x.se>", ORIGINAL.message_id]


def test_references_fall_back_to_in_reply_to(renderer: ReplyRenderer) -> None:
    original = replace(ORIGINAL, in_reply_to="<b@x.se>")
    message = parse(confirmed(renderer, original=original))
    assert message["References"].split() == ["<b@x.se>", ORIGINAL.message_id]


def test_long_message_ids_survive_folding(renderer: ReplyRenderer) -> None:
    long_id = "<" + "A1b2" * 30 + "@EXCHANGE.sdf.stockholm.se>"
    mail = confirmed(renderer, original=replace(ORIGINAL, message_id=long_id))
    head = mail.raw.split(b"\r\n\r\n", 1)[0]
    assert f"In-Reply-To: {long_id}\r\n".encode() in head  # not turned into an encoded word
    message = parse(mail)
    assert message["In-Reply-To"] == long_id
    assert message["References"].split() == [long_id]


def test_long_threads_keep_root_and_latest_references(renderer: ReplyRenderer) -> None:
    chain = tuple(f"<m{i}@x.se>" for i in range(40))
    message = parse(confirmed(renderer, original=replace(ORIGINAL, references=chain)))
    references = message["References"].split()
    assert len(references) == MAX_REFERENCES
    assert references[0] == "<m0@x.se>" and references[-1] == ORIGINAL.message_id


def test_synthesised_message_id_is_not_referenced(renderer: ReplyRenderer) -> None:
    original = replace(ORIGINAL, message_id="<sha256.abc@intake.invalid>", message_id_synthesised=True)
    message = parse(confirmed(renderer, original=original))
    assert message["In-Reply-To"] is None
    assert message["References"] is None


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Protokollsutdrag", "Re: Protokollsutdrag"),
        ("Re: Protokollsutdrag", "Re: Protokollsutdrag"),
        ("RE: Protokollsutdrag", "RE: Protokollsutdrag"),
        ("SV: Protokollsutdrag", "SV: Protokollsutdrag"),
        ("Sv: Protokollsutdrag", "Sv: Protokollsutdrag"),
        ("AW: Protokoll", "AW: Protokoll"),
        ("VS: Protokollsutdrag", "Re: VS: Protokollsutdrag"),
        ("  Protokoll\n  nr 6 ", "Re: Protokoll nr 6"),
        ("", "Re: Kvalitetsutmärkelsen 2017"),
    ],
)
def test_subject_gets_one_reply_prefix(subject: str, expected: str) -> None:
    assert reply_subject(subject, "Kvalitetsutmärkelsen 2017") == expected


def test_subject_in_the_message_is_not_doubled(renderer: ReplyRenderer) -> None:
    original = replace(ORIGINAL, subject="SV: Protokollsutdrag för förskolan Solrosen")
    assert parse(confirmed(renderer, original=original))["Subject"] == (
        "SV: Protokollsutdrag för förskolan Solrosen"
    )


def test_swedish_characters_survive_encoding(renderer: ReplyRenderer) -> None:
    mail = confirmed(renderer)
    head = mail.raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # RFC 2047 encoded words, no raw 8-bit in the header
    message = parse(mail)
    assert message["Subject"] == "Re: " + ORIGINAL.subject
    assert message["From"].addresses[0].display_name == "Kvalitetsutmärkelsen"
    assert message["To"].addresses[0].display_name == "Åsa Öberg"
    assert message["To"].addresses[0].addr_spec == "asa.oberg@stockholm.se"
    text, html = bodies(mail)
    assert "Hemtjänsten Årsta" in text and "Vänliga hälsningar" in text
    assert "Hemtjänsten Årsta" in html
    for part in message.walk():
        if part.get_content_maintype() == "text":
            assert part.get_content_charset() == "utf-8"


def test_auto_reply_headers(renderer: ReplyRenderer) -> None:
    message = parse(incomplete(renderer, Missing.NO_ATTACHMENT))
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["Content-Language"] == "sv"
    assert message["Precedence"] is None
    assert message.get_content_type() == "multipart/alternative"


def test_message_id_date_and_envelope(renderer: ReplyRenderer) -> None:
    mail = confirmed(renderer)
    message = parse(mail)
    assert mail.message_id == message["Message-ID"]
    assert mail.message_id.endswith("@stockholm.se>")
    assert mail.sender == MAILBOX
    assert mail.recipients == ("asa.oberg@stockholm.se",)
    assert message["Date"].datetime == BEFORE_DEADLINE
    assert message["Date"].datetime.utcoffset().total_seconds() == 2 * 3600  # Stockholm, summer


def test_given_message_id_is_used(renderer: ReplyRenderer) -> None:
    mail = confirmed(renderer, message_id="<reply-1@stockholm.se>")
    assert mail.message_id == "<reply-1@stockholm.se>"
    assert parse(mail)["Message-ID"] == "<reply-1@stockholm.se>"


def test_reply_goes_to_reply_to_when_given(renderer: ReplyRenderer) -> None:
    original = replace(ORIGINAL, reply_to="Registrator <registrator.sdf@stockholm.se>")
    mail = confirmed(renderer, original=original)
    assert mail.recipients == ("registrator.sdf@stockholm.se",)
    assert parse(mail)["To"].addresses[0].display_name == "Registrator"


def test_reply_to_header_names_the_mailbox_when_sender_differs(renderer: ReplyRenderer) -> None:
    mail = confirmed(renderer, sender="Kvalitetsutmärkelsen <noreply@stockholm.se>")
    assert parse(mail)["Reply-To"] == MAILBOX
    assert mail.sender == "noreply@stockholm.se"
    assert parse(confirmed(renderer))["Reply-To"] is None


def test_no_address_no_reply(renderer: ReplyRenderer) -> None:
    original = replace(ORIGINAL, from_addr="", reply_to="undisclosed-recipients:;")
    assert reply_recipient(original) == ("", "")
    with pytest.raises(ValueError, match="no address"):
        confirmed(renderer, original=original)


def test_ignored_messages_are_never_answered(renderer: ReplyRenderer) -> None:
    with pytest.raises(ValueError, match="never answered"):
        compose(renderer, Decision(Outcome.IGNORED, send_reply=False))


def test_naive_time_is_refused(renderer: ReplyRenderer) -> None:
    with pytest.raises(ValueError, match="timezone"):
        confirmed(renderer, now=datetime(2017, 6, 20, 10, 0))


# --- templates and helpers --------------------------------------------------------------


def test_strict_undefined_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "confirmed.txt").write_text("Hej {{ no_such_variable }}!\n", encoding="utf-8")
    (tmp_path / "confirmed.html").write_text("<p>Hej!</p>\n", encoding="utf-8")
    with pytest.raises(UndefinedError):
        confirmed(ReplyRenderer(tmp_path))


def test_missing_template_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        ReplyRenderer(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2017, 6, 30), "30 juni 2017"),
        (date(2017, 1, 1), "1 januari 2017"),
        (date(2017, 3, 9), "9 mars 2017"),
        (date(2017, 12, 24), "24 december 2017"),
    ],
)
def test_swedish_date(day: date, expected: str) -> None:
    assert swedish_date(day) == expected


# --- reference numbers ---------------------------------------------------------------


@pytest.mark.parametrize("outcome", [Outcome.CONFIRMED, Outcome.INCOMPLETE, Outcome.NEEDS_REVIEW])
def test_reference_number_in_subject_and_text(renderer: ReplyRenderer, outcome: Outcome) -> None:
    mail = compose(renderer, Decision(outcome, document=EXTRACT), reference="KU-2017-0042")
    assert mail.subject.endswith("[KU-2017-0042]")
    assert parse(mail)["Subject"] == mail.subject
    text, html = bodies(mail)
    assert "Ärendenummer: KU-2017-0042" in text and "Ärendenummer: KU-2017-0042" in html


def test_reference_number_not_repeated_in_a_thread(renderer: ReplyRenderer) -> None:
    """The sender answers our notice: its subject already carries the number."""
    answer = replace(ORIGINAL, subject="SV: Re: Protokollsutdrag [KU-2017-0042]")
    mail = compose(renderer, Decision(Outcome.CONFIRMED, document=EXTRACT), original=answer, reference="KU-2017-0042")
    assert mail.subject == "SV: Re: Protokollsutdrag [KU-2017-0042]"


def test_no_reference_no_line(renderer: ReplyRenderer) -> None:
    mail = compose(renderer, Decision(Outcome.CONFIRMED, document=EXTRACT))
    assert "Ärendenummer" not in bodies(mail)[0] and "[KU-" not in mail.subject
