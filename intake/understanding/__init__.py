"""Understand one document: what it is, and what it says about the award, with evidence for each field.

The steps, each in its own module:

- normalise: one OCR-tolerant view of the pages that keeps every offset (NormText);
- sections: the § headings, the § about the award, the headed blocks inside it;
- classify: protokoll(sutdrag), tjänsteutlåtande, tävlingsbidrag or other, by weighted signals;
- committees: which nämnd or board, from Stockholm's bodies as data;
- fields: meeting date, diarienummer, award year, justering, certification;
- decision: the decision text and whether it decides on participation;
- units, lists, unit_words: the unit names it gives as participants, in sentences and in lists.

Everything is pure: text in, `Understanding` out.
"""

from __future__ import annotations

from intake.domain import DocType, DocumentText, Span, Understanding, unique
from intake.understanding.classify import classify
from intake.understanding.committees import read_committee
from intake.understanding.decision import DecisionReading, read_decision
from intake.understanding.fields import (
    read_adjusted,
    read_award_year,
    read_certified,
    read_diarienummer,
    read_meeting_date,
)
from intake.understanding.normalise import NormText, normalise
from intake.understanding.sections import Block, Kind, Region, award_region, blocks, find_headings
from intake.understanding.units import Mention, read_mentions

__all__ = ["understand"]

DOC_TYPE_EVIDENCE = 3  # the strongest signals shown for the document type
NOT_A_DECISION = DecisionReading(False, None, None, None, ())
RUNNING_TEXT = (Kind.TEXT, Kind.BACKGROUND, Kind.DECISION)  # where a name in a sentence may stand


def understand(document: DocumentText) -> Understanding:
    norm = normalise(document)
    evidence: list[tuple[str, Span]] = []

    def note(field: str, start: int, end: int) -> None:
        if end > start:
            evidence.append((field, norm.span(start, end)))

    headings = find_headings(norm)
    trusted = next((h for h in headings if h.trusted), None)  # a guessed § says nothing of the type
    verdict = classify(norm, (trusted.start, trusted.end) if trusted else None)
    doc_type = verdict.doc_type
    for hit in verdict.hits[:DOC_TYPE_EVIDENCE]:
        note("doc_type", hit.start, hit.end)

    # A tjänsteutlåtande or a contribution has no § of its own: any "§ 12" in it is a
    # reference, so the whole text is read.
    whole = Region(0, len(norm.display))
    region = whole if doc_type in (DocType.PROPOSAL, DocType.CONTRIBUTION) else award_region(norm, headings)
    parts = blocks(norm, region) if region is not None else []
    decision = read_decision(norm, parts, doc_type) if region is not None else NOT_A_DECISION

    paragraph = None
    if region is not None and region.heading is not None and region.heading.label is not None:
        paragraph = region.heading.label
        note("paragraph", region.heading.start, region.heading.end)

    committee = read_committee(norm)
    if committee is not None:
        note("committee", committee.start, committee.end)

    meeting = read_meeting_date(norm, protocol=doc_type is DocType.PROTOCOL)
    if meeting is not None:
        note("meeting_date", meeting.start, meeting.end)

    preamble = (0, headings[0].start) if headings else (0, len(norm.display))
    scope = (region.start, region.end) if region is not None else preamble
    diarienummer = read_diarienummer(norm, [scope, preamble])
    if diarienummer is not None:
        note("diarienummer", diarienummer.start, diarienummer.end)

    year_regions = []
    if region is not None and region.heading is not None:
        year_regions.append((region.heading.start, region.heading.title_end))
    if decision.text_range is not None:
        year_regions.append(decision.text_range)
    year_regions += [scope, (0, len(norm.display))]
    award_year = read_award_year(norm, year_regions)
    year = award_year.value if award_year is not None else None
    if award_year is not None:
        note("year", award_year.start, award_year.end)
    elif meeting is not None and doc_type is DocType.PROTOCOL:
        year = meeting.value.year  # the meeting decides on this year's award (guide §6.3)
        note("year", meeting.start, meeting.end)

    if decision.text_range is not None:
        note("decision_text", *decision.text_range)
    if decision.marker is not None:
        note("has_decision", *decision.marker)

    adjusted, adjusted_at = read_adjusted(norm)
    if adjusted_at is not None:
        note("adjusted", adjusted_at.start, adjusted_at.end)
    certified = read_certified(norm)
    if certified is not None:
        note("certified", certified.start, certified.end)

    mentions = read_mentions_by_priority(norm, decision, parts) if region is not None else []
    for mention in mentions:
        note("mentions", mention.start, mention.end)

    return Understanding(
        filename=document.filename,
        doc_type=doc_type,
        committee=committee.display if committee is not None else None,
        meeting_date=meeting.value if meeting is not None else None,
        paragraph=paragraph,
        year=year,
        has_decision=decision.decided,
        adjusted=adjusted,
        text=document.text,
        diarienummer=diarienummer.value if diarienummer is not None else None,
        decision_text=decision.text,
        certified=certified is not None,
        mentions=unique(mention.name for mention in mentions),
        evidence=tuple(evidence),
        low_confidence=document.low_confidence,
    )


def read_mentions_by_priority(norm: NormText, decision: DecisionReading, parts: list[Block]) -> list[Mention]:
    """Units named by the decision; else by the (quoted) proposal; else in sentences about taking part."""
    groups = [
        list(decision.sources),
        [b for b in parts if b.kind is Kind.PROPOSAL],
        [b for b in parts if b.kind in RUNNING_TEXT],
    ]
    for group in groups:
        found = read_mentions(norm, [(b.start, b.end) for b in group])
        if found:
            return found
    return []
