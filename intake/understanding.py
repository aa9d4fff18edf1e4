"""Know a document: protokollsutdrag or tjänsteutlåtande, and read its committee, date, §, year.

This is the first, keyword-based reader: signals a coordinator uses, counted on
folded text so that OCR-damaged å/ä/ö still count.
"""

from __future__ import annotations

import re
from datetime import date

from intake.domain import DocType, DocumentText, Understanding
from intake.text import fold, simplify

# Signals counted on folded text (lower case, no diacritics, no hyphens).
PROTOCOL_SIGNALS = (
    "protokollsutdrag",
    "utdrag ur protokoll",
    "sammantradesdatum",
    "justerandes",
    "ratt utdraget",
    "vid protokollet",
    "utdragsbestyrkande",
    "protokoll nr",
    "protokoll fort vid",
    "omedelbart justerad",
)
PROPOSAL_SIGNALS = (
    "tjansteutlatande",
    "tjansteskrivelse",
    "handlaggare",
    "forvaltningens forslag till beslut",
    "forslag till beslut",
    "foreslas besluta",
)
CONTRIBUTION_SIGNALS = ("tavlingsbidrag", "bedomningsunderlag", "anvisningar")
ADJUSTED_SIGNALS = (
    "justerat",
    "justeras",
    "ratt utdraget",
    "utdragsbestyrkande",
    "omedelbart justerad",
    "justeringens",
)
NOT_ADJUSTED_SIGNALS = ("ej justerat", "ojusterat", "preliminart protokoll")
DECISION_VERBS = re.compile(
    r"\b(godkanner|godkanns|nominerar|noterar|beslutar|beslutade|beslutat|anmaler|"
    r"lagger .{0,40}till handlingarna|tar informationen till protokollet)\b"
)
NEGATIVE_DECISIONS = ("arendet bordlades", "arendet aterremitterades", "arendet utgar")
PARAGRAPH = re.compile(r"§[ \t]*(\d{1,4}(?:[ \t]?[a-zA-Z])?)\b")
PARAGRAPH_AFTER = re.compile(r"(?<![\d-])\b(\d{1,4})[ \t]?§")  # "12 §", never a date's day
AWARD_YEAR = re.compile(r"kvalitetsutm\w*\s+(?:ar\s+)?((?:19|20)\d{2})")
YEAR_BEFORE_AWARD = re.compile(r"((?:19|20)\d{2}) ars (?:upplaga|kvalitetsutm)")
ISO_DATE = re.compile(r"\b((?:19|20)\d{2})-(\d{2})-(\d{2})\b")
MEETING_DATE = re.compile(r"sammantradesdatum\s*:?\s*((?:19|20)\d{2})-(\d{2})-(\d{2})")
COMMITTEE = re.compile(
    r"^\s*([A-ZÅÄÖ][\wÅÄÖåäö\- ]{1,60}?(?:nämnd(?:en)?|styrelse(?:n)?|Kommunstyrelsen))\b",
    re.MULTILINE | re.IGNORECASE,
)
PROTOCOL_MARGIN = 1  # protocol signals must outnumber proposal signals by this much


def understand(document: DocumentText) -> Understanding:
    raw = document.text
    folded = fold(raw)
    protocol = sum(folded.count(signal) for signal in PROTOCOL_SIGNALS)
    protocol += 1 if _paragraph(raw) else 0
    proposal = sum(folded.count(signal) for signal in PROPOSAL_SIGNALS)
    contribution = sum(folded.count(signal) for signal in CONTRIBUTION_SIGNALS)

    if protocol >= proposal + PROTOCOL_MARGIN and protocol >= 2:
        doc_type = DocType.PROTOCOL
    elif proposal:
        doc_type = DocType.PROPOSAL
    elif contribution >= 2:
        doc_type = DocType.CONTRIBUTION
    else:
        doc_type = DocType.OTHER

    return Understanding(
        filename=document.filename,
        doc_type=doc_type,
        committee=_committee(raw),
        meeting_date=_meeting_date(simplify(raw)),
        paragraph=_paragraph(raw),
        year=_award_year(folded),
        has_decision=_has_decision(folded),
        adjusted=_adjusted(folded),
        text=raw,
    )


def _committee(raw: str) -> str | None:
    match = COMMITTEE.search(raw)
    return " ".join(match.group(1).split()) if match else None


def _meeting_date(simple: str) -> date | None:
    match = MEETING_DATE.search(simple) or ISO_DATE.search(simple)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _paragraph(raw: str) -> str | None:
    match = PARAGRAPH.search(raw) or PARAGRAPH_AFTER.search(raw)
    if not match:
        return None
    return f"§ {match.group(1).replace(' ', '').replace(chr(9), '')}"


def _award_year(folded: str) -> int | None:
    match = AWARD_YEAR.search(folded) or YEAR_BEFORE_AWARD.search(folded)
    return int(match.group(1)) if match else None


def _has_decision(folded: str) -> bool:
    if any(negative in folded for negative in NEGATIVE_DECISIONS):
        return False
    return bool(DECISION_VERBS.search(folded))


def _adjusted(folded: str) -> bool:
    if any(signal in folded for signal in NOT_ADJUSTED_SIGNALS):
        return False
    return any(signal in folded for signal in ADJUSTED_SIGNALS)
