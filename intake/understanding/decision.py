"""Read the decision in the award §: its text, and whether it decides on participation.

The decision is the text under "Beslut" / "Nämndens beslut" / "Stadsdelsnämndens
beslut" / "Styrelsen beslutade", up to the next heading. A protokoll also quotes
the proposal ("Förvaltningens förslag till beslut"); that is what was proposed,
and becomes the decision only through "Nämnden beslutade i enlighet med
förvaltningens förslag". An item put off ("bordlades", "återremitterades",
"utgår") decides nothing, and neither does a tjänsteutlåtande.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.domain import DocType
from intake.understanding.normalise import NormText, sw
from intake.understanding.sections import BODY_GENITIVE, Block, Kind, text_lines

# Wording that decides on participation (guide §1.5): approve, nominate, note the registration,
# file it, decide to take part.
POSITIVE = sw(
    r"\bgodkänn(?:er|es|s|a|de)\b|\bgodkänt\b|\bgodkände\b"
    r"|\bnominer(?:ar|as|ade|at|a)\b"
    r"|\bno?ter(?:ar|as|ade|at|a)\b"  # "nterar": OCR drops a round letter
    r"|\b(?:lägger|läggs|lades|lagt)\b[^.]{0,80}?\btill\s+handlingarna\b"
    r"|\bbeslut(?:ar|ade|at)\s+att\s+(?:delta|anmäla|nominera|godkänna|notera|ställa\s+sig\s+bakom)"
    r"|\banmäl(?:er|s|des)\b"
    r"|\btar\s+informationen\s+till\s+protokollet|\btillstyrk(?:er|te|s)\b|\bställer\s+sig\s+bakom\b"
    r"|\bbeslutade\s+i\s+enlighet\s+med\b|\bbifall(?:er|s|a|de)?\b"
)
# Under a decision heading of the award §, "Nämnden beslutar att ..." decides, whatever the verb
# after it (a scan may have lost or displaced it); the negative forms above still win.
DECIDES = sw(r"\bbeslut(?:ar|ade)\s+att\b")
# The item was put off or dropped: no decision, whatever else the § says. Finite verbs only:
# "Återremitterat ärende" and "Bordlagt den ..." label an item that is now decided (guide
# §1.5), and "yrkade att ärendet skulle återremitteras" is a motion, not the outcome.
NEGATIVE = sw(
    r"(?<!skulle )\bbordl(?:ades|äggs)\b|(?<!skulle )\båterremitt(?:erades|eras)\b"
    r"|\bbeslut(?:ade|ar)\s+att\s+(?:bordlägga|återremittera|avslå|inte)\b"
    r"|\b(?:ärendet|frågan)\s+(?:utgår|utgick|ströks|avfördes|drogs\s+tillbaka)\b"
    r"|\bavslår\b|\bavslogs\b"
)
# The decision adopts the proposal quoted above it.
ADOPTS_PROPOSAL = sw(
    r"\bbeslut(?:ade|ar)\s+(?:i\s+enlighet\s+med|enligt|att\s+bifalla)\s+(?:\S+\s+){0,2}?förslag"
    r"|\bgodkänn(?:er|de)\s+(?:\S+\s+){0,2}?förslag"
)
# Sentences that only propose or report ("Förvaltningen föreslår att nämnden nominerar ...").
PROPOSING = sw(r"\bföreslå\w*|\bförslag\w*|\btillstyrker\b")


Range = tuple[int, int]  # display offsets [start, end)
DECISION_LABEL = sw(rf"^\s*{BODY_GENITIVE}?beslut\s*:?\s*$")  # a heading line that is only "Beslut"


@dataclass(frozen=True, slots=True)
class DecisionReading:
    decided: bool
    text: str | None  # the decision as written (lines joined, hyphenation resolved)
    text_range: tuple[int, int] | None
    marker: tuple[int, int] | None  # the wording that decides, or that puts the item off
    sources: tuple[Block, ...]  # where the units the decision concerns are named


def read_decision(norm: NormText, parts: list[Block], doc_type: DocType) -> DecisionReading:
    """Read the decision from the blocks of the award § (or of the whole document)."""
    proposals = [b for b in parts if b.kind is Kind.PROPOSAL]
    if doc_type in (DocType.PROPOSAL, DocType.CONTRIBUTION):
        # A tjänsteutlåtande proposes; what it proposes names the units all the same.
        return DecisionReading(False, None, None, None, tuple(proposals))
    negative = _search(norm, [b for b in parts if b.kind not in (Kind.PROPOSAL, Kind.DISSENT)], NEGATIVE)
    found = _decision(norm, parts, proposals)
    if found is None:
        return DecisionReading(False, None, None, negative, tuple(proposals))
    marker, (start, end), sources = found
    text = block_text(norm, start, end)
    decided = marker is not None and negative is None
    return DecisionReading(
        decided, text or None, (start, end) if text else None, marker if decided else negative, sources
    )


def _decision(
    norm: NormText, parts: list[Block], proposals: list[Block]
) -> tuple[Range | None, Range, tuple[Block, ...]] | None:
    """(deciding wording or None, the decision text's range, the blocks naming the units) or None."""
    folded = norm.folded
    decisions = [b for b in parts if b.kind is Kind.DECISION]
    for block in decisions:
        positive = POSITIVE.search(folded, block.heading_start, block.end) or DECIDES.search(
            folded, block.heading_start, block.end
        )
        if positive is None:
            continue
        adopting = ADOPTS_PROPOSAL.search(folded, block.heading_start, block.end)
        if adopting is not None and proposals:
            return adopting.span(), (proposals[0].start, proposals[-1].end), tuple(proposals)
        return positive.span(), _shown(norm, block), (block,)
    adopts = _search(norm, [b for b in parts if b.kind is not Kind.PROPOSAL], ADOPTS_PROPOSAL)
    if adopts is not None and proposals:
        return adopts, (proposals[0].start, proposals[-1].end), tuple(proposals)
    # No decision heading: a decision in running text ("Nämnden godkänner anmälan."), never in
    # a sentence that proposes, and never in the background of the case.
    for block in (b for b in parts if b.kind is Kind.TEXT):
        sentence = _deciding_sentence(norm, block)
        if sentence is not None:
            marker, span = sentence
            return marker, span, (Block(Kind.DECISION, span[0], span[0], span[1]),)
    if decisions:  # a decision that does not decide on participation: shown, not counted
        return None, _shown(norm, decisions[0]), (decisions[0],)
    return None


def _shown(norm: NormText, block: Block) -> Range:
    """The decision's text: from its heading line, unless that line is only the label "Beslut"."""
    label_end = norm.folded.find("\n", block.heading_start, block.end)
    label = norm.folded[block.heading_start:label_end if label_end != -1 else block.start]
    return (block.start if DECISION_LABEL.match(label) else block.heading_start), block.end


def block_text(norm: NormText, start: int, end: int) -> str:
    """A block's lines as a reader writes them: one line each, page furniture left out."""
    lines = [" ".join(norm.display[s:e].split()) for s, e in text_lines(norm, start, end)]
    return "\n".join(line for line in lines if line)


def _search(norm: NormText, parts: list[Block], pattern: re.Pattern[str]) -> Range | None:
    for block in parts:
        found = pattern.search(norm.folded, block.heading_start, block.end)
        if found is not None:
            return found.span()
    return None


def _deciding_sentence(norm: NormText, block: Block) -> tuple[Range, Range] | None:
    """(deciding wording, sentence) of the first sentence in a block that decides."""
    folded = norm.folded
    start = block.start
    while start < block.end:
        stop = _sentence_end(folded, start, block.end)
        positive = POSITIVE.search(folded, start, stop)
        if positive is not None and not PROPOSING.search(folded, start, stop):
            return positive.span(), (start, stop)
        start = stop
    return None


def _sentence_end(folded: str, start: int, end: int) -> int:
    for index in range(start, end):
        if folded[index] in ".!?" and (index + 1 == end or folded[index + 1].isspace()):
            return index + 1
    return end
