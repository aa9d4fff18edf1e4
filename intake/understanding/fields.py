"""Read the plain fields of a document: meeting date, diarienummer, award year, justering and certification.

Each reader returns what it found with its display offsets (a `Found`), so the
caller can give the evidence. Labels are matched on folded text, OCR-tolerant;
values (dates, numbers) are read where the label points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from intake.understanding.normalise import NormText, sw
from intake.understanding.sections import AWARD

MONTHS = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)
ISO_DATE = re.compile(r"(?<![\d-])((?:19|20)\d{2})\s?[-./]\s?(\d{1,2})\s?[-./]\s?(\d{1,2})(?!\d)")
WRITTEN_DATE = re.compile(rf"(?<!\d)(\d{{1,2}})(?::e|e)?\s+({'|'.join(MONTHS)})\s+((?:19|20)\d{{2}})(?!\d)")
# "sammanträde onsdagen den 17 juni  Justerat den 24 juni 2015": the year is the justering's.
DAY_AND_MONTH = re.compile(rf"(?<!\d)(\d{{1,2}})(?::e|e)?\s+({'|'.join(MONTHS)})\b(?!\s+(?:19|20)\d{{2}})")
YEAR_LOOKAHEAD = 120  # characters after a day and month in which the next full date gives its year

# The meeting date: a label that names it, or the meeting itself followed by a date, never a
# date that belongs to justering, the notice board or the tjänsteutlåtande.
MEETING_LABEL = sw(r"sammanträdesdatum|sammanträdesdag|mötesdatum|datum\s+för\s+sammanträdet?")
MEETING_WORD = sw(r"[\w-]*sammanträde\w*")
LABEL_WINDOW = 40  # characters after "Sammanträdesdatum" in which its date stands
MEETING_WINDOW = 80  # "... sammanträde tisdagen den 20 juni 2017": weekday and "den" between
FURNITURE_LINE = sw(r"sida?\s+\d+|justerandes\s+sign|anslagsdatum")
OTHER_DATE = sw(r"justera|justering|anslag|intyga|daterat|tjänsteutlåtande|handläggare|telefon|utskrift")

# The diarienummer as an opaque token (guide §1.4): an optional letter prefix ("SDN", "T"),
# numbers with separators, or the digits-lost "/2016"; an optional trailing code ("SAN").
DIARIENUMMER = re.compile(
    r"(?<!\w)(?i:dnr|d\s?nr|diarienr|diarie\s?nr|diarienummer)\.?\s*:?\s*"
    r"(?P<value>(?:[A-ZÅÄÖ]{1,4}\s?)?(?:\d+(?:\s?[./–-]\s?\d+)+|\d{3,}|/\s?\d{2,4}(?:\s[A-ZÅÄÖ]{2,4}\b)?))"
)

# The award year: "kvalitetsutmärkelse(n) 2017", "... för 2017", "2017 års kvalitetsutmärkelse",
# "2015 års upplaga av Stockholms stads kvalitetsutmärkelse".
YEAR = r"((?:19|20)\d{2})(?!\d|-\d)"
YEAR_AFTER_AWARD = sw(AWARD + r"\s*(?:för\s+|år\s+)?" + YEAR)
YEAR_BEFORE_AWARD = sw(r"(?<!\d)" + YEAR + r"\s+års\s+(?:[\w-]+\s+){0,5}?" + AWARD)

# Justering (guide §1.6): a label with a date, the justerare's signature block, or the §
# declared adjusted at the meeting. "Beslutet justeras omedelbart" is a proposal's wish,
# not a fact, so it does not count.
ADJUSTED_MARKERS = sw(
    r"\bjusterat\s*:?\s*(?:den\s+)?\d[\d./-]*(?:\s+[a-z]+\s+\d{4})?"
    r"|^\s*justeras\b(?!\s+omedelbart)"
    r"|(?<!beslutet )(?<!paragrafen )\bjusteras\s*(?::|$)"
    r"|\bomedelbart\s+justerad"
    r"|\bjusterades\s+omedelbart"
    r"|\bjusterandes\s+(?:signatur|sign|signum)\b"
    r"|^\s*justerande\b"
    r"|\bprotokollet\s+är\s+justerat"
    r"|\bjusterat\s+digitalt"
    r"|\bjusteringen\s+har\s+tillkännagivits"
)
NOT_ADJUSTED_MARKERS = sw(
    r"\b(?:ej|inte)\s+justera[dt]\b|\bojustera[dt]e?\b|\bpreliminärt\s+protokoll|\butkast\s+till\s+protokoll"
)
# Certification (guide §1.7). "Utdragsbestyrkande" is also a printed label in every page footer
# of some templates ("Justerandes signum | Anslagsdatum | Utdragsbestyrkande"): it certifies
# only with something after it (a name, a signature line, a date), not as the last word of a page.
CERTIFIED_MARKERS = sw(r"\brätt\s+utdraget\b|\butdraget\s+bestyrk\w*")
CERTIFICATION_BOX = sw(r"\butdragsbestyrkande\b")


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Found(Generic[T]):
    """A value read from the document and the display range it was read from."""

    value: T
    start: int
    end: int


def find_date(text: str, start: int = 0, end: int | None = None) -> Found[date] | None:
    """The first valid date (ISO or written out) in text[start:end]."""
    stop = len(text) if end is None else end
    candidates: list[Found[date]] = []
    for found in ISO_DATE.finditer(text, start, stop):
        day = _date(found.group(1), found.group(2), found.group(3))
        if day is not None:
            candidates.append(Found(day, found.start(), found.end()))
            break
    for found in WRITTEN_DATE.finditer(text, start, stop):
        day = _date(found.group(3), str(MONTHS.index(found.group(2)) + 1), found.group(1))
        if day is not None:
            candidates.append(Found(day, found.start(), found.end()))
            break
    return min(candidates, key=lambda item: item.start) if candidates else None


def _date(year: str, month: str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def read_meeting_date(norm: NormText, protocol: bool) -> Found[date] | None:
    folded = norm.folded
    for pattern, window in ((MEETING_LABEL, LABEL_WINDOW), (MEETING_WORD, MEETING_WINDOW)):
        for label in pattern.finditer(folded):
            stop = min(label.end() + window, len(folded))
            other = OTHER_DATE.search(folded, label.end(), stop)
            found = find_date(folded, label.end(), other.start() if other else stop)
            if found is None:
                found = _date_without_year(folded, label.end(), other.start() if other else stop)
            if found is not None:
                return found
    if protocol:  # the letterhead's date, when it is not a justering or notice-board date
        for start, end in norm.lines(0, norm.top_end):
            if not OTHER_DATE.search(folded, start, end):
                found = find_date(folded, start, end)
                if found is not None:
                    return found
    return None


def _date_without_year(folded: str, start: int, end: int) -> Found[date] | None:
    """A day and month with the year of the next full date (justering comes days after the meeting)."""
    found = DAY_AND_MONTH.search(folded, start, end)
    if found is None:
        return None
    month = MONTHS.index(found.group(2)) + 1
    later = find_date(folded, found.end(), min(found.end() + YEAR_LOOKAHEAD, len(folded)))
    if later is not None:
        # A December meeting justerad in January belongs to the year before.
        year = later.value.year - (1 if month > later.value.month else 0)
    else:  # "Protokoll nr 3/2014, fört vid ... sammanträde torsdagen den 15 maj"
        line_start = folded.rfind("\n", 0, found.start()) + 1
        years = re.findall(r"(?<!\d)((?:19|20)\d{2})(?!\d)", folded[line_start:found.start()])
        if not years:
            return None
        year = int(years[-1])
    day = _date(str(year), str(month), found.group(1))
    return Found(day, found.start(), found.end()) if day is not None else None


def read_diarienummer(norm: NormText, regions: list[tuple[int, int]]) -> Found[str] | None:
    """The first diarienummer in the first of `regions` that has one."""
    for start, end in regions:
        found = DIARIENUMMER.search(norm.display, start, end)
        if found is not None:
            value = " ".join(found.group("value").split()).rstrip(".")
            return Found(value, found.start(), found.end("value"))
    return None


def read_award_year(norm: NormText, regions: list[tuple[int, int]]) -> Found[int] | None:
    """The award year, from the first of `regions` (most telling first) that names one."""
    for start, end in regions:
        hits = [
            Found(int(found.group(1)), found.start(), found.end())
            for pattern in (YEAR_AFTER_AWARD, YEAR_BEFORE_AWARD)
            for found in [pattern.search(norm.folded, start, end)]
            if found is not None
        ]
        if hits:
            return min(hits, key=lambda item: item.start)
    return None


def read_adjusted(norm: NormText) -> tuple[bool, Found[bool] | None]:
    """Whether the minutes are justerade, and the marker that says so (or says they are not)."""
    negative = NOT_ADJUSTED_MARKERS.search(norm.folded)
    if negative is not None:  # a draft stays a draft whatever else the page carries
        return False, Found(False, negative.start(), negative.end())
    positive = ADJUSTED_MARKERS.search(norm.folded)
    if positive is None:
        return False, None
    return True, Found(True, positive.start(), positive.end())


def read_certified(norm: NormText) -> Found[bool] | None:
    found = CERTIFIED_MARKERS.search(norm.folded)
    if found is not None:
        return Found(True, found.start(), found.end())
    return _filled_box(norm)


def _filled_box(norm: NormText) -> Found[bool] | None:
    """An "Utdragsbestyrkande" box with a name or signature in it: after it on its line, or, unless
    the line is a page footer, on the next line."""
    folded = norm.folded
    for found in CERTIFICATION_BOX.finditer(folded):
        line_start = folded.rfind("\n", 0, found.start()) + 1
        line_end = folded.find("\n", found.end())
        line_end = len(folded) if line_end == -1 else line_end
        next_end = folded.find("\n", line_end + 1)
        next_line = folded[line_end + 1:len(folded) if next_end == -1 else next_end]
        footer = FURNITURE_LINE.search(folded, line_start, line_end) is not None
        if folded[found.end():line_end].strip(" \t:|") or (
            not footer and next_line.strip() and not FURNITURE_LINE.search(next_line)
        ):
            return Found(True, found.start(), found.end())
    return None
