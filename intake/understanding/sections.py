"""Find a document's structure: its § headings, the § about the award, and the headed blocks inside it.

A protokollsutdrag holds one § (or a few); a full protokoll holds them all, and
only the § about the quality award counts, so everything about the decision and
the units is read from that § alone. Inside it, headings ("Beslut",
"Stadsdelsnämndens beslut", "Förvaltningens förslag till beslut", "Ärendet",
"Beslutsgång", "Reservation", "Vid protokollet" ...) divide the text into blocks
whose kind says what the text is: the decision, a quoted proposal, background, a
dissent, or the signatures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from intake.understanding.normalise import NormText, sw

SPECKS = r"^[\s.,'’`´:;|*]*"  # a scan's dust before a heading: ". 819 Nominering ..."
# § headings, matched per display line. A real "§" (or "12 §") opens a heading before a
# title in capitals or at a line end; an OCR reading of § ("S 12", "5 12", "8 12", "& 12",
# "$ 12") only before a title on the same line, where nothing else would stand.
SIGN_FIRST = re.compile(SPECKS + r"§\s*(\d{1,4})(?:\s?([A-Za-z])(?!\w))?\s*[.:]?(?!\s*[-–]\s*\d)(?=\s|$)")
SIGN_AFTER = re.compile(SPECKS + r"(\d{1,4})\s?(?:§(?!§)|[$&](?=\s+[A-ZÅÄÖÉ]))\s*[.:]?(?=\s|$)")
SIGN_OCR = re.compile(SPECKS + r"(?:[§sS&$]{1,2}\s?|[58]\s)(\d{1,3})(?:\s?([A-Za-z])(?!\w))?\s*[.:]?(?=\s)")
# Last resort, for the award item only, when no line reads as a § heading: "§16" read as "816"
# (the sign fused to its number), "15 §" read as "15 8", or the sign lost ("13  Stockholms
# stads kvalitetsutmärkelse"). A leading 5 or 8 before one or two digits is taken for the sign.
# No full stop after the number: "1. Nämnden godkänner ... kvalitetsutmärkelse 2017" is a point
# of a decision, not a § (and "78" is left alone: "7 §" or "§ 78"?).
SIGN_FUSED = re.compile(SPECKS + r"[58](\d{1,2})\s+(?=[A-ZÅÄÖÉ])", re.MULTILINE)
SIGN_AFTER_DIGIT = re.compile(SPECKS + r"(\d{1,3})\s[58]\s+(?=[A-ZÅÄÖÉ])", re.MULTILINE)
SIGN_LOST = re.compile(SPECKS + r"(\d{0,2}[01234679])\s+(?=[A-ZÅÄÖÉ])", re.MULTILINE)
# And then any number: "158 Nominering till ... kvalitetsutmärkelse" is § 158 or 15 §: a
# heading either way, so the award item's text is found, but its number is unknown.
SIGN_LOST_ANY = re.compile(SPECKS + r"(\d{1,3})\s+(?=[A-ZÅÄÖÉ])", re.MULTILINE)
TITLE_START = re.compile(r"\s*[A-ZÅÄÖÉ]")
LINE_REST_EMPTY = re.compile(r"\s*$")

AWARD = r"kvalitets?[\s-]*utmärkels\w*"
AWARD_WORD = sw(AWARD)
# Words that say a § is about the award, and how much each counts. A word in the § title
# counts TITLE_FACTOR times: the title names the item, the body may only refer to it.
TOPIC_WORDS: tuple[tuple[re.Pattern[str], int], ...] = (
    (AWARD_WORD, 3),
    (sw(r"kvalitetspris\w*"), 2),
    (sw(r"tävlingsbidrag\w*|tävlingsklass\w*"), 2),
    (sw(r"nominer\w*"), 1),
)
TITLE_FACTOR = 3
MIN_TOPIC = 3  # a § scoring less is not about the award


class Kind(Enum):
    """What a block of text inside a § is."""

    TEXT = "text"  # before any heading, or after a heading of no consequence
    DECISION = "decision"  # "Beslut", "Nämndens beslut", "Styrelsen beslutade"
    PROPOSAL = "proposal"  # "Förvaltningens förslag till beslut": what was proposed, not decided
    BACKGROUND = "background"  # "Ärendet", "Bakgrund", "Beslutsgång" ...
    DISSENT = "dissent"  # "Reservation", "Särskilt uttalande": may name units, decides nothing
    SIGNATURES = "signatures"  # "Vid protokollet", "Justerat", "Rätt utdraget intygar"


# Headings over a folded line. "inline" headings may carry their text after them on the
# same line ("Beslut: Nämnden godkänner ...", "Styrelsen beslutade att ...").
# "Nämndens", "Idrottsnämndens", "Miljö- och hälsoskyddsnämndens", "Kommunstyrelsens" ...
BODY_GENITIVE = r"(?:(?:[\w]+-\s+och\s+)?[\w-]*(?:nämndens|styrelsens|fullmäktiges)\s+)"
HEADINGS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (Kind.DECISION, sw(rf"^\s*{BODY_GENITIVE}?beslut\s*(?::\s*|$)")),
    (Kind.DECISION, sw(r"^\s*(?:[\w-]*nämnden|[\w-]*styrelsen)\s+beslutade\b\s*:?\s*")),
    (Kind.PROPOSAL, sw(
        r"^\s*(?:[\w-]*(?:förvaltningens|kontorets|ordförandens|direktörens)\s+)?förslag\s+till\s+beslut\b\s*:?\s*"
    )),
    (Kind.PROPOSAL, sw(r"^\s*[\w-]*förvaltningen\s+föreslår\s+att\s+\S+\s+beslutar?\b\s*:?\s*")),
    (Kind.BACKGROUND, sw(
        r"^\s*(?:ärendet|ärendets\s+(?:beredning|handläggning)|bakgrund|sammanfattning|beslutsunderlag"
        r"|handlingar|bilagor|bilaga(?:\s+\d+)?|föredragande|anföranden?|omröstning|jäv"
        r"|(?:[\w-]*förvaltningens\s+)?synpunkter(?:\s+och\s+förslag)?|yrkanden?|propositionsordning"
        r")\s*:?(?:\s+\S{1,3}){0,2}\s*$"  # "Ärendet RT": a scan's specks after the heading
    )),
    (Kind.BACKGROUND, sw(r"^\s*(?:beslutsgång|expedieras|beslutet\s+skickas\s+till)\b\s*:?\s*")),
    (Kind.DISSENT, sw(
        r"^\s*(?:särskil(?:t|da)\s+uttalanden?|reservation(?:er)?|protokollsanteckning(?:ar)?)\b\s*:?\s*"
    )),
    (Kind.SIGNATURES, sw(
        r"^\s*(?:vid\s+protokollet|justerat|justeras|rätt\s+utdraget|utdragsbestyrkande|_{3,}|-{5,})"
    )),
)
# Page furniture repeated on every page: skipped inside blocks, never ends one.
FURNITURE = sw(r"sida?\s+\d+\s*\(\s*\d+\s*\)|justerandes\s+sign|^\s*\d+\s*\(\s*\d+\s*\)\s*$")


@dataclass(frozen=True, slots=True)
class Heading:
    """A § heading: its label ("§ 12"), where the heading line is, and its title line(s)."""

    label: str | None  # None: a heading whose number can't be read for sure
    start: int
    end: int  # end of the "§ 12" marker
    title_end: int
    trusted: bool = True  # False: read by the last resort for the award item (the sign fused or lost)


@dataclass(frozen=True, slots=True)
class Region:
    """A stretch of the display text: a whole document or one §."""

    start: int
    end: int
    heading: Heading | None = None


@dataclass(frozen=True, slots=True)
class Block:
    kind: Kind
    heading_start: int  # the heading line (== start for the untitled first block)
    start: int  # the block's own text
    end: int


def find_headings(norm: NormText) -> list[Heading]:
    headings = _find_headings(norm)
    return headings or _fused_award_heading(norm)


def _fused_award_heading(norm: NormText) -> list[Heading]:
    """"816 Stockholms stads kvalitetsutmärkelse 2014": a § fused to its number, trusted only
    when nothing else is a § heading and the title names the award."""
    for patterns in ((SIGN_FUSED, SIGN_AFTER_DIGIT, SIGN_LOST), (SIGN_LOST_ANY,)):
        for start, end in norm.lines():
            for pattern in patterns:
                found = pattern.match(norm.display, start, end)
                if found is not None and AWARD_WORD.search(norm.folded, found.end(), end):
                    label = None if pattern is SIGN_LOST_ANY else f"§ {found.group(1)}"
                    return [Heading(label, start, found.end(1), end, trusted=False)]
    return []


def _find_headings(norm: NormText) -> list[Heading]:
    headings: list[Heading] = []
    lines = list(norm.lines())
    for index, (start, end) in enumerate(lines):
        line = norm.display[start:end]
        next_line = norm.display[lines[index + 1][0]:lines[index + 1][1]] if index + 1 < len(lines) else ""
        heading = _heading(line, next_line)
        if heading is None:
            continue
        label, marker_end = heading
        title_end = end if line[marker_end:].strip() else (lines[index + 1][1] if next_line else end)
        headings.append(Heading(label, start, start + marker_end, title_end))
    return headings


def _heading(line: str, next_line: str) -> tuple[str, int] | None:
    """("§ 12", end of the marker) when the line opens a § heading."""
    for pattern in (SIGN_FIRST, SIGN_AFTER, SIGN_OCR):
        found = pattern.match(line)
        if found is None:
            continue
        rest = line[found.end():]
        titled = bool(TITLE_START.match(rest))
        alone = bool(LINE_REST_EMPTY.fullmatch(rest)) and bool(TITLE_START.match(next_line))
        if titled or alone:
            letter = found.group(2) if found.lastindex and found.lastindex >= 2 else None
            label = f"§ {found.group(1)}" + (f" {letter}" if letter else "")
            return label, found.end()
    return None


def award_region(norm: NormText, headings: list[Heading]) -> Region | None:
    """The § about the award; the whole document when it has no § heading; None when no § is about it."""
    if not headings:
        return Region(0, len(norm.display))
    regions = [
        Region(h.start, headings[i + 1].start if i + 1 < len(headings) else len(norm.display), h)
        for i, h in enumerate(headings)
    ]
    scored = [(_topic(norm, region), -i, region) for i, region in enumerate(regions)]
    score, _, best = max(scored, key=lambda item: (item[0], item[1]))
    if score >= MIN_TOPIC or (len(regions) == 1 and score > 0):
        return best
    if len(regions) == 1:
        return regions[0]  # an extract of one §: whatever it is about, it is the item sent
    return None


def _topic(norm: NormText, region: Region) -> int:
    assert region.heading is not None
    title = norm.folded[region.heading.end:region.heading.title_end]
    body = norm.folded[region.heading.title_end:region.end]
    score = 0
    for pattern, weight in TOPIC_WORDS:
        score += weight * TITLE_FACTOR * len(pattern.findall(title))
        score += weight * min(len(pattern.findall(body)), 3)  # a few mentions are enough; many say no more
    return score


def blocks(norm: NormText, region: Region) -> list[Block]:
    """The region divided at its headings; the § title line belongs to the first block."""
    found: list[Block] = []
    kind, heading_start, start = Kind.TEXT, region.start, region.start
    for line_start, line_end in norm.lines(region.start, region.end):
        line = norm.folded[line_start:line_end]
        for heading_kind, pattern in HEADINGS:
            match = pattern.match(line)
            if match is None:
                continue
            found.append(Block(kind, heading_start, start, line_start))
            kind, heading_start, start = heading_kind, line_start, line_start + match.end()
            break
    found.append(Block(kind, heading_start, start, region.end))
    return [block for block in found if block.end > block.start or block.kind is not Kind.TEXT]


def is_furniture(norm: NormText, start: int, end: int) -> bool:
    return bool(FURNITURE.search(norm.folded[start:end]))


def text_lines(norm: NormText, start: int, end: int) -> list[tuple[int, int]]:
    """The lines of a block that are text, not page furniture, clipped to [start, end)."""
    result = []
    for line_start, line_end in norm.lines(start, end):
        line_start, line_end = max(line_start, start), min(line_end, end)
        if line_end > line_start and not is_furniture(norm, line_start, line_end):
            result.append((line_start, line_end))
    return result
