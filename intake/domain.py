"""Hand-off types between the pipeline stages, and the ports the I/O adapters implement.

Everything here is stdlib only. Objects of mail-parser, pypdf, imapclient or the
ORM never cross a module boundary: stages exchange these frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    """Per-mail outcome, exactly as the contract names them."""

    CONFIRMED = "confirmed"
    INCOMPLETE = "incomplete"
    NEEDS_REVIEW = "needs_review"
    IGNORED = "ignored"


class Missing(StrEnum):
    """Missing codes of an `incomplete` outcome, in the contract's order."""

    NO_ATTACHMENT = "no_attachment"
    UNREADABLE_ATTACHMENT = "unreadable_attachment"
    NOT_PROTOCOL = "not_protocol"
    NO_DECISION = "no_decision"
    NOT_ADJUSTED = "not_adjusted"
    WRONG_YEAR = "wrong_year"
    UNKNOWN_UNIT = "unknown_unit"
    REGISTERED_UNIT_MISSING = "registered_unit_missing"
    LATE = "late"


class UnitState(StrEnum):
    AWAITING_PROTOCOL = "awaiting_protocol"
    CONFIRMED = "confirmed"
    NEEDS_REVIEW = "needs_review"


class DocType(StrEnum):
    PROTOCOL = "protokollsutdrag"  # an extract or a full protokoll
    PROPOSAL = "tjansteutlatande"  # the officials' report: a proposal, not a decision
    CONTRIBUTION = "tavlingsbidrag"
    OTHER = "other"


class AwardClass(StrEnum):
    """The five competition classes (tävlingsklasser)."""

    PRESCHOOL = "Förskola"
    SCHOOL = "Skola"
    ELDERLY = "Äldreomsorg (inkl. myndighetsutövning)"
    SOCIAL = (
        "Socialtjänst samt stöd och service till personer med funktionsnedsättning "
        "(inkl. myndighetsutövning)"
    )
    OTHER = "Andra verksamheter"


# --- the mailbox -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MailboxRef:
    """Where a mail was seen: source name, UIDVALIDITY (or equivalent) and key (UID)."""

    source: str
    validity: str
    key: str


@dataclass(frozen=True, slots=True)
class RawMail:
    ref: MailboxRef
    raw: bytes
    received_at: datetime | None  # server arrival (IMAP INTERNALDATE), timezone-aware


class MailSource(Protocol):
    """A mailbox folder the bot reads. The database, not the server's flags, decides what is new."""

    name: str

    def snapshot(self) -> tuple[str, list[str]]:
        """Return (validity, keys of every message now in the folder), keys in arrival order."""

    def fetch(self, keys: Sequence[str]) -> Iterator[RawMail]:
        """Yield the raw mails for these keys without changing their flags (BODY.PEEK[])."""

    def wait(self, timeout: float) -> bool:
        """Block until the folder may have changed or `timeout` seconds passed.

        Returns True when the server signalled a change. Uses IMAP IDLE where the
        server has it, else sleeps (polling)."""

    def close(self) -> None: ...


# --- reading the mail ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    disposition: str = ""  # "attachment", "inline" or "" when the part had none


@dataclass(frozen=True, slots=True)
class ParsedMail:
    message_id: str  # with angle brackets; synthesised from the raw hash when absent
    message_id_synthesised: bool
    from_addr: str  # lower-case address, "" when none could be read
    from_name: str
    to: tuple[str, ...]
    subject: str
    date: datetime | None  # the sender's Date: header, for information only
    in_reply_to: str | None
    references: tuple[str, ...]
    reply_to: str | None
    headers: tuple[tuple[str, str], ...]  # (lower-case name, decoded value), in order
    content_type: str  # of the top-level part, lower-case
    text_body: str
    html_body: str
    attachments: tuple[Attachment, ...]
    forwarded: tuple[ParsedMail, ...] = ()  # message/rfc822 parts, parsed in turn
    defects: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """First value of a header, case-insensitive."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None

    def all_attachments(self) -> Iterator[Attachment]:
        """This mail's attachments, then those of every forwarded mail inside it."""
        yield from self.attachments
        for inner in self.forwarded:
            yield from inner.all_attachments()


@dataclass(frozen=True, slots=True)
class Page:
    number: int  # 1-based
    text: str
    method: str = "text"  # "text" (the file's own text) or "ocr"
    confidence: float | None = None  # OCR: mean word confidence, 0..100


LOW_OCR_CONFIDENCE = 60.0  # below this mean word confidence a page is not trusted alone


@dataclass(frozen=True, slots=True)
class DocumentText:
    """The text of one attachment, page by page, or why it could not be read."""

    filename: str
    media_type: str
    pages: tuple[Page, ...] = ()
    unreadable: str | None = None  # a reason for coordinators when the file could not be read
    notes: tuple[str, ...] = ()  # readable, but not wholly: pages skipped or not recognised (Swedish)

    @property
    def text(self) -> str:
        return "\n".join(page.text for page in self.pages)

    @property
    def low_confidence(self) -> bool:
        """True when any page was read by OCR with low confidence: never auto-confirm it."""
        return any(
            page.confidence is not None and page.confidence < LOW_OCR_CONFIDENCE for page in self.pages
        )


# --- understanding, matching, deciding ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """Evidence: where in a document a field was read (page number, character offsets in that page)."""

    page: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Understanding:
    """What one document says, as far as the bot could read it."""

    filename: str
    doc_type: DocType
    committee: str | None = None
    meeting_date: date | None = None
    paragraph: str | None = None  # "§ 12"
    year: int | None = None  # the award year the decision concerns
    has_decision: bool = False
    adjusted: bool = False  # justerat (a justering marker); certification is `certified`
    text: str = ""
    diarienummer: str | None = None
    decision_text: str | None = None
    certified: bool = False  # "Rätt utdraget intygar" / "Utdragsbestyrkande"
    mentions: tuple[str, ...] = ()  # unit names as the document writes them
    evidence: tuple[tuple[str, Span], ...] = ()  # (field name, where it was read)
    low_confidence: bool = False  # read by OCR with low confidence


@dataclass(frozen=True, slots=True)
class Unit:
    """A registered unit, as the register file gives it."""

    unit_id: str
    year: int
    name: str
    award_class: str
    administration: str
    board: str
    operator: str | None = None
    contact_email: str | None = None


@dataclass(frozen=True, slots=True)
class UnitMatch:
    unit_id: str
    mention: str  # the text that named it
    score: float  # 0..100
    filename: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    missing: tuple[Missing, ...] = ()
    units: tuple[str, ...] = ()  # unit_ids the protokollsutdrag was matched to
    reasons: tuple[str, ...] = ()  # for coordinators, in Swedish
    document: Understanding | None = None
    send_reply: bool = True
    unit_state: UnitState | None = None  # the state the matched units move to, if any
    missing_units: tuple[str, ...] = ()  # registered unit_ids of the board not named
    unknown_mentions: tuple[str, ...] = ()  # names in the document not in the register


# --- replies ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """A rendered reply, ready for a transport."""

    message_id: str
    sender: str  # envelope sender (bare address)
    recipients: tuple[str, ...]
    raw: bytes
    subject: str = ""


class Mailer(Protocol):
    """A transport for replies: SMTP in production, files for the embedded default."""

    def send(self, mail: OutgoingMail) -> None:
        """Deliver or raise TransientSendError / PermanentSendError."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What a register import did; `errors` are (line number, reason) pairs."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: tuple[tuple[int, str], ...] = field(default_factory=tuple)
    rematched: tuple[tuple[str, str | None], ...] = ()  # (Message-ID, its outcome now) of mails matched again


def unique(items: Iterable[str]) -> tuple[str, ...]:
    """Items in first-seen order without repeats."""
    return tuple(dict.fromkeys(items))
