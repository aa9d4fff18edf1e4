"""Replies: render the Swedish answer to one sender as a complete, threaded MIME message.

Pure: no sockets, no database, no environment. The wording lives in Jinja2
templates (``<outcome>.txt`` and ``<outcome>.html`` in the folder given to
`ReplyRenderer`); this module chooses the template, fills in the facts and
builds the headers that keep the reply in the sender's thread and keep
auto-responders from answering it (RFC 3834).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from email import errors, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from intake.config import AwardSettings
from intake.domain import Decision, Outcome, OutgoingMail, ParsedMail, Unit, unique
from intake.errors import ConfigError

SWEDISH_MONTHS = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)  # fmt: skip

ANSWERED_OUTCOMES = frozenset({Outcome.CONFIRMED, Outcome.INCOMPLETE, Outcome.NEEDS_REVIEW})

# "SV:" is what Swedish Outlook writes, "AW:" German; "VS:" (a forward) is not a reply.
REPLY_PREFIX = re.compile(r"^\s*(?:re|sv|aw)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
REPLY_PREFIX_TEXT = "Re: "

# A msg-id we may copy into our own headers: printable ASCII between angle brackets,
# short enough to fit a header line (RFC 5322 caps lines at 998 characters).
MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,900}>")

# Long threads would grow References without end; RFC 5322 allows trimming the
# middle, and keeping the first id lets clients still find the thread's root.
MAX_REFERENCES = 20

# Only raw header values set with set_raw are affected: they are folded by hand below,
# and refolding would turn a long msg-id into an RFC 2047 word that breaks threading.
MAIL_POLICY = policy.SMTP.clone(refold_source="none")
# For a recipient whose address is not ASCII ("åsa@…", RFC 6531/6532): headers in raw UTF-8, sent
# only over SMTPUTF8 (intake.outbox.smtp asks for it, and refuses a server without it).
UTF8_MAIL_POLICY = MAIL_POLICY.clone(utf8=True)
# an address's characters that no mailbox has: whitespace, controls, brackets, quotes, separators
UNADDRESSABLE = re.compile(r"[\s\x00-\x1f\x7f<>()\[\]\\,;:\"]")
HEADER_CONTINUATION = "\r\n "

CONTENT_LANGUAGE = "sv"
TRANSFER_ENCODING = "quoted-printable"  # keeps the raw .eml readable; lines are long
BLANK_LINES = re.compile(r"\n{3,}")


def swedish_date(day: date) -> str:
    """30 juni 2017, as a Swedish letter writes it."""
    return f"{day.day} {SWEDISH_MONTHS[day.month - 1]} {day.year}"


def reply_subject(subject: str, fallback: str) -> str:
    """The subject with one reply prefix; an existing Re:/SV:/AW: is kept as it is."""
    text = " ".join(subject.split()) or fallback
    return text if REPLY_PREFIX.match(text) else REPLY_PREFIX_TEXT + text


def with_reference(subject: str, reference: str | None) -> str:
    """The subject ending in "[KU-2017-0042]", once: a reply to our reply keeps it as it is."""
    if not reference or reference.casefold() in subject.casefold():
        return subject
    return f"{subject} [{reference}]"


def thread_ids(original: ParsedMail) -> tuple[str | None, tuple[str, ...]]:
    """(In-Reply-To, References) for a reply to `original`, per RFC 5322 section 3.6.4."""
    parents = original.references or ((original.in_reply_to,) if original.in_reply_to else ())
    # A synthesised id was never on the wire: no client could thread on it.
    own = () if original.message_id_synthesised else (original.message_id,)
    ids = [i for i in unique((*parents, *own)) if MESSAGE_ID.fullmatch(i)]
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    in_reply_to = own[0] if own and MESSAGE_ID.fullmatch(own[0]) else None
    return in_reply_to, tuple(ids)


def reply_recipient(original: ParsedMail) -> tuple[str, str]:
    """(display name, address) the reply goes to: Reply-To when given, else From; ("", "") if none."""
    if original.reply_to:
        for name, address in getaddresses([original.reply_to]):
            if "@" in address:
                return name, address
    if "@" in original.from_addr:
        return original.from_name, original.from_addr
    return "", ""


def mailbox_address(display_name: str, address: str) -> Address:
    """The To: of a reply; an address with a non-ASCII local part ("åsa@stockholm.se") too, which
    the email package accepts when given in parts (its parser refuses it as one string)."""
    local, at, domain = address.rpartition("@")
    # an encoded word ("=?utf-8?q?=C3=A5sa?=") is not allowed in an address (RFC 2047, 5): a
    # client that wrote one meant an address it could not write, and a reply to it would bounce
    if not at or not local or not domain or UNADDRESSABLE.search(address) or "@" in local or "=?" in local:
        raise ValueError(f"not an address a reply can go to: {address!r}")
    return Address(display_name=display_name, username=local, domain=domain)


def addressable(address: str) -> bool:
    """Whether a reply can be addressed to `address`: one plain local@domain, ASCII or not."""
    try:
        mailbox_address("", address)
    except (ValueError, IndexError, TypeError, errors.MessageError):
        return False
    return True


def _domain(*addresses: str) -> str:
    for text in addresses:
        address = parseaddr(text)[1]
        if "@" in address:
            return address.rsplit("@", 1)[1].lower()
    raise ValueError("the reply's sender has no address with a domain")


class ReplyRenderer:
    """Renders replies from the templates in one folder."""

    def __init__(self, template_dir: Path) -> None:
        if not template_dir.is_dir():
            raise ConfigError(f"reply templates: folder {template_dir} not found")
        self.template_dir = template_dir
        self.env = Environment(
            loader=FileSystemLoader(template_dir),
            undefined=StrictUndefined,  # a missing variable fails a test, never a sent mail
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["swedish_date"] = swedish_date

    def render(self, outcome: Outcome, context: dict[str, Any]) -> tuple[str, str]:
        """(plain text, HTML) for one outcome."""
        text = self.env.get_template(f"{outcome.value}.txt").render(context)
        html = self.env.get_template(f"{outcome.value}.html").render(context)
        # Optional paragraphs leave blank runs behind; a phone shows them as gaps.
        text = BLANK_LINES.sub("\n\n", text).strip() + "\n"
        return text, html

    def compose_reply(
        self,
        *,
        original: ParsedMail,
        decision: Decision,
        confirmed_units: Sequence[Unit],
        unknown_mentions: Sequence[str],
        missing_units: Sequence[Unit],
        award: AwardSettings,
        sender: str,
        reply_to_address: str,
        now: datetime,
        message_id: str | None = None,
        reference: str | None = None,
    ) -> OutgoingMail:
        """The reply to `original` for `decision`, as bytes ready for any transport.

        `reference` is the submission's number (KU-2017-0042): in the subject, where a
        later mail about the same case brings it back, and in the text."""
        if decision.outcome not in ANSWERED_OUTCOMES:
            raise ValueError(f"outcome {decision.outcome} is never answered")
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        context = reply_context(
            decision=decision,
            confirmed_units=confirmed_units,
            unknown_mentions=unknown_mentions,
            missing_units=missing_units,
            award=award,
            now=now,
            reference=reference,
        )
        text, html = self.render(decision.outcome, context)

        to_name, to_address = reply_recipient(original)
        if not to_address:
            raise ValueError(f"no address to reply to in {original.message_id}")
        envelope_sender = parseaddr(sender)[1] or award.mailbox
        own_id = message_id or make_msgid(domain=_domain(sender, award.mailbox))
        in_reply_to, references = thread_ids(original)

        subject = reply_subject(original.subject, f"Kvalitetsutmärkelsen {award.year}")
        subject = with_reference(subject, reference)
        threading = [("In-Reply-To", in_reply_to)] if in_reply_to else []
        if references:
            threading.append(("References", HEADER_CONTINUATION.join(references)))
        return build_mail(
            sender=sender, envelope_sender=envelope_sender,
            to=mailbox_address(to_name, to_address), reply_to_address=reply_to_address,
            subject=subject, now=now.astimezone(award.tz), own_id=own_id,
            raw_headers=threading, auto_submitted="auto-replied", text=text, html=html)


def reply_context(
    *,
    decision: Decision,
    confirmed_units: Sequence[Unit],
    unknown_mentions: Sequence[str],
    missing_units: Sequence[Unit],
    award: AwardSettings,
    now: datetime,
    reference: str | None = None,
) -> dict[str, Any]:
    """Every variable the templates may use; each is always present (StrictUndefined)."""
    document = decision.document
    meeting = document.meeting_date if document else None
    return {
        "outcome": decision.outcome.value,
        "missing": [code.value for code in decision.missing],
        "confirmed_units": list(confirmed_units),
        "unknown_mentions": list(unique(m.strip() for m in unknown_mentions if m.strip())),
        "missing_units": list(missing_units),
        "year": award.year,
        "mailbox": award.mailbox,
        "deadline": swedish_date(award.protocol_deadline),
        "before_deadline": now.astimezone(award.tz).date() <= award.protocol_deadline,
        "committee": document.committee if document else None,
        "meeting_date": swedish_date(meeting) if meeting else None,
        "paragraph": document.paragraph if document else None,
        "document_year": document.year if document else None,
        "doc_type": document.doc_type.value if document else None,
        "document_name": document.filename if document and document.filename else None,
        "reference": reference,
    }


# --- reminders ------------------------------------------------------------------------------

REMINDER_TEMPLATE = "reminder"
# Not an answer to a mail but a mail of our own making: RFC 3834 calls that auto-generated.
REMINDER_AUTO_SUBMITTED = "auto-generated"
# Out-of-office and automatic replies are suppressed; delivery reports still come back,
# so a coordinator sees a contact address that no longer works.
REMINDER_RESPONSE_SUPPRESS = "OOF, AutoReply"


def reminder_subject(year: int, board: str) -> str:
    """The reminder's subject; the same for every reminder to one committee in one year."""
    name = " ".join(board.split())
    return f"Påminnelse: protokollsutdrag för Kvalitetsutmärkelsen {year} – {name}"


def compose_reminder(
    renderer: ReplyRenderer,
    *,
    to_address: str,
    board: str,
    units: Sequence[Unit],
    award: AwardSettings,
    sender: str,
    reply_to_address: str,
    now: datetime,
    message_id: str | None = None,
) -> OutgoingMail:
    """A reminder to one contact of a committee whose units still await a protokollsutdrag.

    Swedish, from `reminder.txt` and `reminder.html`: the units, the deadline and how to
    send the extract. A new thread (no In-Reply-To), marked Auto-Submitted: auto-generated."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if "@" not in to_address or any(ch.isspace() for ch in to_address):
        raise ValueError(f"not an e-mail address: {to_address!r}")
    today = now.astimezone(award.tz).date()
    context = {
        "board": " ".join(board.split()),
        "units": list(units),
        "year": award.year,
        "mailbox": award.mailbox,
        "deadline": swedish_date(award.protocol_deadline),
        "before_deadline": today <= award.protocol_deadline,
        "days_left": (award.protocol_deadline - today).days,
    }
    env = renderer.env
    text = env.get_template(f"{REMINDER_TEMPLATE}.txt").render(context)
    html = env.get_template(f"{REMINDER_TEMPLATE}.html").render(context)
    text = BLANK_LINES.sub("\n\n", text).strip() + "\n"

    envelope_sender = parseaddr(sender)[1] or award.mailbox
    own_id = message_id or make_msgid(domain=_domain(sender, award.mailbox))
    subject = reminder_subject(award.year, board)
    return build_mail(
        sender=sender, envelope_sender=envelope_sender, to=Address(addr_spec=to_address),
        reply_to_address=reply_to_address, subject=subject, now=now.astimezone(award.tz), own_id=own_id,
        raw_headers=[], auto_submitted=REMINDER_AUTO_SUBMITTED, text=text, html=html,
        response_suppress=REMINDER_RESPONSE_SUPPRESS)


def build_mail(*, sender: str, envelope_sender: str, to: Address, reply_to_address: str | None, subject: str,
               now: datetime, own_id: str, raw_headers: list[tuple[str, str]], auto_submitted: str,
               text: str, html: str, response_suppress: str = "All") -> OutgoingMail:
    """A Swedish text-and-HTML mail from the bot, marked as automatic for other robots."""
    msg = EmailMessage(policy=MAIL_POLICY if to.addr_spec.isascii() else UTF8_MAIL_POLICY)
    msg["From"] = sender
    msg["To"] = to
    if reply_to_address and reply_to_address.lower() != envelope_sender.lower():
        msg["Reply-To"] = reply_to_address
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg.set_raw("Message-ID", own_id)
    for name, value in raw_headers:
        msg.set_raw(name, value)
    msg["Auto-Submitted"] = auto_submitted
    # Exchange and Outlook honour this one instead of Auto-Submitted.
    msg["X-Auto-Response-Suppress"] = response_suppress
    msg.set_content(text, subtype="plain", charset="utf-8", cte=TRANSFER_ENCODING)
    msg.add_alternative(html, subtype="html", charset="utf-8", cte=TRANSFER_ENCODING)
    # After the body: set_content and add_alternative drop or move Content-* headers.
    msg["Content-Language"] = CONTENT_LANGUAGE
    return OutgoingMail(message_id=own_id, sender=envelope_sender, recipients=(to.addr_spec,),
                        raw=msg.as_bytes(), subject=subject)
