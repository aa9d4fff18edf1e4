"""Decide a mail's outcome and missing codes with small named rules that record their reasons.

Each rule looks at the Evidence and either ends the walk with a Decision or adds
missing codes. Reasons are in Swedish: coordinators read them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from intake.domain import (
    Decision,
    DocType,
    DocumentText,
    Missing,
    Outcome,
    Understanding,
    Unit,
    UnitMatch,
    UnitState,
    unique,
)

# Codes that make the document itself unusable as a decision on participation.
DOCUMENT_FAULTS = frozenset({Missing.NO_DECISION, Missing.NOT_ADJUSTED, Missing.WRONG_YEAR})
CONFIRMED_REASON = "Protokollsutdraget är mottaget och alla enheter finns i registret."


@dataclass(frozen=True, slots=True)
class Evidence:
    award_year: int
    register: tuple[Unit, ...]  # the award year's units
    parse_error: str | None = None
    automatic: str | None = None
    candidates: int = 0  # attachments that could be a protokollsutdrag
    documents: tuple[DocumentText, ...] = ()
    understandings: tuple[Understanding, ...] = ()
    matches: tuple[UnitMatch, ...] = ()  # accepted: sure matches, one unit per mention
    unsure: tuple[UnitMatch, ...] = ()  # a mention's best unit, not sure enough: a coordinator decides
    unknown_mentions: tuple[str, ...] = ()  # unit names in the protokollsutdrag matching no registered unit
    late: bool = False
    follow_up: bool = False  # the mail joins a submission already open (a reply in its thread)
    sender: str = ""  # the mail's from-address
    deciding_boards: frozenset[str] = frozenset()  # register boards the protokollsutdrag names as deciding
    already_confirmed: frozenset[str] = frozenset()  # unit_ids confirmed by earlier mails


@dataclass(slots=True)
class Draft:
    """What the rules have found so far."""

    missing: list[Missing] = field(default_factory=list)
    missing_units: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    document: Understanding | None = None

    def add(self, code: Missing, reason: str) -> None:
        if code not in self.missing:
            self.missing.append(code)
        self.reasons.append(reason)


Rule = Callable[[Evidence, Draft], Decision | None]


def unparseable(evidence: Evidence, draft: Draft) -> Decision | None:
    if evidence.parse_error is None:
        return None
    return Decision(
        Outcome.NEEDS_REVIEW,
        reasons=(f"Mejlet kunde inte tolkas: {evidence.parse_error}",),
        send_reply=False,
    )


def automatic(evidence: Evidence, draft: Draft) -> Decision | None:
    if evidence.automatic is None:
        return None
    return Decision(
        Outcome.IGNORED,
        reasons=(f"Automatiskt meddelande ({evidence.automatic}); besvaras inte.",),
        send_reply=False,
    )


def nothing_attached(evidence: Evidence, draft: Draft) -> Decision | None:
    if evidence.candidates:
        return None
    if evidence.follow_up:
        # a reply in an open case with nothing attached is a person writing to us: a question,
        # "enheten ska inte delta", a correction; a coordinator reads it
        return Decision(
            Outcome.NEEDS_REVIEW,
            reasons=("Ett svar i ett pågående ärende, utan bifogad fil; en samordnare läser det.",),
        )
    draft.add(Missing.NO_ATTACHMENT, "Ingen bifogad fil som kan vara ett protokollsutdrag.")
    return _finish(evidence, draft)


def nothing_readable(evidence: Evidence, draft: Draft) -> Decision | None:
    readable = [doc for doc in evidence.documents if doc.unreadable is None and doc.text.strip()]
    if readable:
        return None
    unreadable = [doc for doc in evidence.documents if doc.unreadable is not None]
    if unreadable:
        for doc in unreadable:
            draft.add(Missing.UNREADABLE_ATTACHMENT, f"{doc.filename}: {doc.unreadable}")
        return _finish(evidence, draft)
    # Files of a kind the bot cannot read yet (for instance an image without text).
    return Decision(
        Outcome.NEEDS_REVIEW,
        reasons=tuple(f"{doc.filename}: ingen text kunde läsas ur filen." for doc in evidence.documents),
    )


def no_protocol(evidence: Evidence, draft: Draft) -> Decision | None:
    protocols = [u for u in evidence.understandings if u.doc_type is DocType.PROTOCOL]
    if protocols:
        matched_files = {m.filename for m in evidence.matches}
        draft.document = next((u for u in protocols if u.filename in matched_files), protocols[0])
        return None
    for understanding in evidence.understandings:
        kind = {
            DocType.PROPOSAL: "ett tjänsteutlåtande (ett förslag, inte ett beslut)",
            DocType.CONTRIBUTION: "ett tävlingsbidrag",
        }.get(understanding.doc_type, "inte ett protokollsutdrag")
        draft.add(Missing.NOT_PROTOCOL, f"{understanding.filename} är {kind}.")
    return _finish(evidence, draft)


def unsure_reading(evidence: Evidence, draft: Draft) -> Decision | None:
    """Without a well-read protokollsutdrag, a document read by OCR with low confidence goes to review.

    Its type, fields or unit names may be misread, so neither a confirmation nor a
    notice of what is missing can be trusted."""
    unsure = [u for u in evidence.understandings if u.low_confidence]
    well_read = [u for u in evidence.understandings
                 if u.doc_type is DocType.PROTOCOL and not u.low_confidence]
    if not unsure or well_read:
        return None
    units = unique(m.unit_id for m in evidence.matches)
    return Decision(
        Outcome.NEEDS_REVIEW,
        units=units,
        reasons=tuple(f"{u.filename}: texten lästes med OCR med låg säkerhet; en handläggare granskar."
                      for u in unsure),
        document=next((u for u in unsure if u.doc_type is DocType.PROTOCOL), None),
        unit_state=UnitState.NEEDS_REVIEW if units else None,
    )


def document_faults(evidence: Evidence, draft: Draft) -> Decision | None:
    document = draft.document
    assert document is not None
    if not document.has_decision:
        draft.add(Missing.NO_DECISION, "Protokollsutdraget innehåller inget beslut om deltagande.")
    # Justerat, or certified as a true extract: either shows the decision stands.
    if not (document.adjusted or document.certified):
        draft.add(Missing.NOT_ADJUSTED, "Protokollet är inte justerat eller utdraget inte bestyrkt.")
    if document.year is not None and document.year != evidence.award_year:
        draft.add(
            Missing.WRONG_YEAR,
            f"Beslutet gäller kvalitetsutmärkelsen {document.year}, inte {evidence.award_year}.",
        )
    return None


def unsure_matches(evidence: Evidence, draft: Draft) -> Decision | None:
    """A unit name that resembles a registered unit but not surely enough: never a guess."""
    if not evidence.unsure or draft.missing:
        return None
    names = {u.unit_id: u.name for u in evidence.register}
    units = unique([*(m.unit_id for m in evidence.matches), *(m.unit_id for m in evidence.unsure)])
    return Decision(
        Outcome.NEEDS_REVIEW,
        units=units,
        reasons=tuple(
            f"”{m.mention}” liknar {names.get(m.unit_id, m.unit_id)} (likhet {m.score:.0f} av 100) "
            "men inte tillräckligt för att avgöra; en samordnare granskar." for m in evidence.unsure
        ),
        document=draft.document,
        unit_state=UnitState.NEEDS_REVIEW,
    )


def no_committee(evidence: Evidence, draft: Draft) -> Decision | None:
    """Names matched, but neither the document nor the sender says which committee decided.

    Two units of one name under two committees are told apart only by that (docs/MATCHING.md:
    without it, an unregistered unit whose name another committee registered would be taken
    for that one), so a coordinator looks before anything is confirmed."""
    document = draft.document
    if not evidence.matches or draft.missing or document is None or document.committee:
        return None
    contacts = {u.contact_email.lower() for u in evidence.register
                if u.contact_email and u.unit_id in {m.unit_id for m in evidence.matches}}
    if evidence.sender and evidence.sender.lower() in contacts:
        return None
    return Decision(
        Outcome.NEEDS_REVIEW,
        units=unique(m.unit_id for m in evidence.matches),
        reasons=("Protokollsutdraget anger ingen nämnd eller styrelse och avsändaren är ingen registrerad "
                 "kontakt; en samordnare kontrollerar att enheterna är rätt.",),
        document=document,
        unit_state=UnitState.NEEDS_REVIEW,
    )


def unknown_units(evidence: Evidence, draft: Draft) -> Decision | None:
    for mention in evidence.unknown_mentions:
        draft.add(Missing.UNKNOWN_UNIT,
                  f"”{mention}” finns inte bland de anmälda enheterna för {evidence.award_year}.")
    return None


def no_units(evidence: Evidence, draft: Draft) -> Decision | None:
    if evidence.matches or draft.missing:
        return None
    return Decision(
        Outcome.NEEDS_REVIEW,
        reasons=("Ingen registrerad enhet kunde hittas i protokollsutdraget.",),
        document=draft.document,
    )


def registered_missing(evidence: Evidence, draft: Draft) -> Decision | None:
    """Units registered under the deciding committee that the protokollsutdrag does not name.

    The deciding committee is the one the document names (as the matcher recognised it
    among the register's boards: `deciding_boards`) and the board of the units it names.
    Units confirmed by earlier mails (another extract, an earlier mail of the same case) are
    not missing."""
    matched = {m.unit_id for m in evidence.matches}
    boards = {u.board for u in evidence.register if u.unit_id in matched} | evidence.deciding_boards
    done = matched | evidence.already_confirmed
    for unit in evidence.register:
        if unit.board in boards and unit.unit_id not in done:
            draft.missing_units.append(unit.unit_id)
            draft.add(
                Missing.REGISTERED_UNIT_MISSING,
                f"{unit.name} är anmäld under {unit.board} men nämns inte i protokollsutdraget.",
            )
    return None


RULES: tuple[Rule, ...] = (
    unparseable,
    automatic,
    nothing_attached,
    nothing_readable,
    unsure_reading,
    no_protocol,
    document_faults,
    unsure_matches,
    no_committee,
    unknown_units,
    no_units,
    registered_missing,
)


def decide(evidence: Evidence) -> Decision:
    draft = Draft()
    decision = next((d for rule in RULES if (d := rule(evidence, draft)) is not None), None)
    decision = decision or _finish(evidence, draft)
    # what the readers could not read (pages skipped, OCR stopped) is for the coordinator too
    notes = tuple(f"{doc.filename}: {note}" for doc in evidence.documents for note in doc.notes)
    return replace(decision, reasons=decision.reasons + notes) if notes else decision


def _finish(evidence: Evidence, draft: Draft) -> Decision:
    # Lateness is added on every path: a late mail is still recorded and answered.
    if evidence.late:
        draft.add(Missing.LATE, "Mejlet kom in efter sista dag för protokollsutdrag.")
    units = unique(m.unit_id for m in evidence.matches) if draft.document else ()
    return Decision(
        outcome=Outcome.INCOMPLETE if draft.missing else Outcome.CONFIRMED,
        missing=tuple(sorted(draft.missing, key=list(Missing).index)),
        units=units,
        reasons=tuple(draft.reasons) or (CONFIRMED_REASON,),
        document=draft.document,
        unit_state=_unit_state(draft) if units else None,
        missing_units=tuple(draft.missing_units),
        unknown_mentions=evidence.unknown_mentions if Missing.UNKNOWN_UNIT in draft.missing else (),
    )


def _unit_state(draft: Draft) -> UnitState | None:
    if DOCUMENT_FAULTS.intersection(draft.missing):
        return None  # the units still wait for a valid protokollsutdrag
    if Missing.LATE in draft.missing:
        return UnitState.NEEDS_REVIEW  # a coordinator decides whether a late extract counts
    return UnitState.CONFIRMED
