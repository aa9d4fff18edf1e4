"""Tell what kind of document this is: protokoll(sutdrag), tjänsteutlåtande, tävlingsbidrag or other.

A coordinator looks at the letterhead and the headings first ("PROTOKOLLSUTDRAG",
"Sammanträdesdatum", "§ 14" versus "Tjänsteutlåtande", "Handläggare", "Till
Socialnämnden") and at the signatures last ("Vid protokollet", "Justerat",
"Rätt utdraget intygar" versus a direktör and an avdelningschef). Each such
signal has a weight; one found in the first lines of page 1 counts TOP_FACTOR
times. A signal counts once however often it recurs, so a footer repeated on
forty pages, or a protokoll quoting the tjänsteutlåtande's "Förvaltningens
förslag till beslut" (guide §1.8), cannot outweigh the letterhead. Words that
also occur in running text ("tjänsteutlåtande daterat ...", "Protokollsutdraget
skickas till ...") count only where a heading stands: at a line start or end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.domain import DocType
from intake.understanding.normalise import NormText, sw

TOP_FACTOR = 2  # a heading in the letterhead area says what the document is
MIN_PROTOCOL = 6  # e.g. "Protokollsutdrag" alone in the letterhead, or § + Justerat
MIN_PROPOSAL = 3
MIN_CONTRIBUTION = 5

# Weights: 5 names the document type outright; 3-4 is a structural part only that type has;
# 1-2 is typical wording that the other type may quote.
NAMES_TYPE = 5
STRUCTURAL = 3
CERTIFICATION = 4
TYPICAL = 2
HINT = 1

AT_LINE_EDGE = r"(?:^\s*{0}\b|\b{0}\s*$)"  # a heading word opening or closing its line


def heading(word: str) -> str:
    return AT_LINE_EDGE.format(word)


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    kind: DocType
    pattern: re.Pattern[str]
    weight: int


SIGNALS: tuple[Signal, ...] = (
    # The protokoll and its extract (guide §1.2, §1.6, §1.7).
    Signal("protokollsutdrag", DocType.PROTOCOL, sw(heading("protokollsutdrag")), NAMES_TYPE),
    Signal("utdrag ur protokoll", DocType.PROTOCOL, sw(r"\butdrag\s+ur\s+protokoll"), NAMES_TYPE),
    Signal("protokoll", DocType.PROTOCOL, sw(
        r"^\s*(?:sammanträdes|styrelse|justerat\s+)?protokoll\b\s*(?:$|nr\b|nummer\b|fört\b|\d|från\s+sammanträde)"
        r"|\b(?:sammanträdes|styrelse)protokoll\b"
    ), 4),
    Signal("fört vid sammanträde", DocType.PROTOCOL, sw(r"\bfört\s+vid\s+(?:\S+\s+){0,4}?\S*sammanträde"),
           STRUCTURAL),
    Signal("sammanträdesdatum", DocType.PROTOCOL, sw(r"\bsammanträdesdatum\b"), STRUCTURAL),
    Signal("justerat", DocType.PROTOCOL, sw(
        r"\bjusterat\s*:?\s*(?:den\s+)?\d|^\s*justeras\b(?!\s+omedelbart)|\bjusterandes\s+sign"
        r"|^\s*justerande\b|\bjusteras\s*:"
    ), STRUCTURAL),
    Signal("omedelbart justerad", DocType.PROTOCOL, sw(r"\bomedelbart\s+justerad|\bjusterades\s+omedelbart"),
           TYPICAL),
    Signal("vid protokollet", DocType.PROTOCOL, sw(r"\bvid\s+protokollet\b"), STRUCTURAL),
    Signal("rätt utdraget", DocType.PROTOCOL, sw(r"\brätt\s+utdraget\b|\butdragsbestyrkande\b"),
           CERTIFICATION),
    Signal("beslutande", DocType.PROTOCOL, sw(r"^\s*(?:beslutande|(?:övriga\s+)?närvarande)\b"), TYPICAL),
    Signal("anslag", DocType.PROTOCOL, sw(
        r"\banslaget\s+den\b|\banslag\s*/\s*bevis\b|\bbevis\s+om\s+anslag\b|\banslagsdatum\b"
        r"|\bjusteringen\s+har\s+tillkännagivits"
    ), TYPICAL),
    Signal("beslutsgång", DocType.PROTOCOL, sw(r"^\s*beslutsgång\b"), TYPICAL),
    Signal("beslutade i enlighet", DocType.PROTOCOL, sw(r"\bbeslutade\s+i\s+enlighet\s+med\b"), TYPICAL),
    # The tjänsteutlåtande (guide §1.8).
    Signal("tjänsteutlåtande", DocType.PROPOSAL, sw(heading(r"tjänste\s?(?:utlåtande|skrivelse)")),
           NAMES_TYPE),
    Signal("handläggare", DocType.PROPOSAL, sw(r"^\s*handläggare\b"), STRUCTURAL),
    Signal("till nämnden", DocType.PROPOSAL, sw(
        r"^\s*till\s*\n?\s*[^\n]{0,40}?(?:nämnd\w*|styrelse\w*|fullmäktige)\s*$"
    ), STRUCTURAL),
    Signal("förvaltningens förslag", DocType.PROPOSAL, sw(
        r"^\s*[\w-]*(?:förvaltningens|kontorets)\s+förslag\s+till\s+beslut"
    ), STRUCTURAL),
    Signal("föreslås besluta", DocType.PROPOSAL, sw(
        r"\bföreslås\s+(?:besluta|att)\b|\bföreslår\s+att\s+\S*nämnden\b"
    ), TYPICAL),
    Signal("direktör", DocType.PROPOSAL, sw(
        r"^\s*(?:tf\.?\s+)?[\w-]*(?:direktör|chef)(?:\s+(?:tf\.?\s+)?[\w-]*(?:direktör|chef))*\s*$"
    ), TYPICAL),
    Signal("utredningsrubriker", DocType.PROPOSAL, sw(
        r"^\s*(?:ärendets\s+beredning|[\w-]*förvaltningens\s+synpunkter(?:\s+och\s+förslag)?)\s*$"
    ), TYPICAL),
    Signal("sammanfattning", DocType.PROPOSAL, sw(r"^\s*sammanfattning\s*$"), HINT),
    # The contribution itself.
    Signal("tävlingsbidrag", DocType.CONTRIBUTION, sw(heading("tävlingsbidrag")), NAMES_TYPE),
    Signal("bedömningsunderlag", DocType.CONTRIBUTION, sw(r"\bbedömningsunderlag"), TYPICAL),
    Signal("anvisningar", DocType.CONTRIBUTION, sw(r"\banvisningar"), HINT),
    Signal("enhetens namn", DocType.CONTRIBUTION, sw(
        r"^\s*(?:enhetens|verksamhetens)\s+namn\b|^\s*tävlingsklass\s*:|^\s*antal\s+medarbetare\b"
    ), TYPICAL),
)


@dataclass(frozen=True, slots=True)
class Hit:
    signal: Signal
    start: int
    end: int
    score: int


@dataclass(frozen=True, slots=True)
class Classification:
    doc_type: DocType
    scores: dict[DocType, int]
    hits: tuple[Hit, ...]  # the signals of the chosen type, strongest first


def classify(norm: NormText, paragraph_heading: tuple[int, int] | None) -> Classification:
    """The document type by weighted signals; `paragraph_heading` is the first § heading, if any."""
    hits: list[Hit] = []
    for signal in SIGNALS:
        best: Hit | None = None
        for found in signal.pattern.finditer(norm.folded):
            score = signal.weight * (TOP_FACTOR if norm.in_top(found.start()) else 1)
            if best is None or score > best.score:
                best = Hit(signal, found.start(), found.end(), score)
            if norm.in_top(found.start()):
                break
        if best is not None:
            hits.append(best)
    if paragraph_heading is not None:
        start, end = paragraph_heading
        paragraph = Signal("§", DocType.PROTOCOL, re.compile("§"), STRUCTURAL)
        hits.append(Hit(paragraph, start, end, STRUCTURAL * (TOP_FACTOR if norm.in_top(start) else 1)))
    scores = {kind: sum(hit.score for hit in hits if hit.signal.kind is kind) for kind in DocType}
    doc_type = _decide(scores)
    chosen = tuple(sorted((h for h in hits if h.signal.kind is doc_type), key=lambda h: -h.score))
    return Classification(doc_type, scores, chosen)


def _decide(scores: dict[DocType, int]) -> DocType:
    protocol, proposal = scores[DocType.PROTOCOL], scores[DocType.PROPOSAL]
    contribution = scores[DocType.CONTRIBUTION]
    # Ties go to the protokoll: its structural marks are hard to produce by accident,
    # whereas a protokoll routinely quotes the proposal.
    if protocol >= MIN_PROTOCOL and protocol >= proposal and protocol >= contribution:
        return DocType.PROTOCOL
    if proposal >= MIN_PROPOSAL and proposal >= contribution:
        return DocType.PROPOSAL
    if contribution >= MIN_CONTRIBUTION:
        return DocType.CONTRIBUTION
    return DocType.OTHER
