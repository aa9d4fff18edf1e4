"""The full protokoll template: a page-1 box and every § of the meeting, one of them the award item.

Long minutes are cheap to build: the §§ other than the award's are short agenda
items with filler text, repeated until the document reaches the wanted length.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from tests.corpus import wording as w
from tests.corpus.layout import Block, Document, paginate
from tests.corpus.model import Label
from tests.corpus.templates import (
    FONTS,
    Scenario,
    Twist,
    decision,
    label,
    meeting_box,
    paragraph_heading,
    signatures,
    unadjusted,
)

LINES_PER_PARAGRAPH, LINES_PER_PAGE = 14, 52  # rough sizes, to pick the number of §§ for a length
OTHER_DECISIONS = ("Stadsdelsnämnden lägger informationen till handlingarna.",
                   "Nämnden godkänner förvaltningens förslag.",
                   "Nämnden beslutar i enlighet med förvaltningens förslag.",
                   "Ärendet bordlades.", "Nämnden lägger rapporten till handlingarna.")


def full_minutes(rng: random.Random, sc: Scenario, twist: Twist, pages: int = 6) -> tuple[Document, Label]:
    """A whole protokoll (all §§) of `pages` pages (one more when a § cannot end on the page); the award
    item is one § among many."""
    c = sc.committee
    estimate = max(4, pages * LINES_PER_PAGE // LINES_PER_PARAGRAPH)
    first = rng.choice((1, 1, rng.randint(40, 120)))  # some bodies number §§ through the year
    award_at = rng.randint(3, max(3, estimate // 2))  # the award item's place among the §§
    sc.number = first + award_at - 1
    box = meeting_box(rng, sc, twist, "Paragrafer §§ {range}")
    sections: list[list[Block]] = []
    for index in range(estimate * 2):
        number = first + index
        if number == sc.number:
            sections.append([Block(style="blank"), paragraph_heading(rng, sc), Block(w.dnr_line(rng, sc.dnr)),
                             Block(w.decision_heading(rng, c), "heading"), *decision(rng, sc, twist)])
            continue
        heading = w.AGENDA[index % len(w.AGENDA)]
        sections.append([Block(style="blank"), Block(f"{w.paragraph_form(rng, number)}  {heading}", "heading"),
                         Block(w.filler(rng, rng.randint(3, 8))), Block("Beslut", "heading"),
                         Block(rng.choice(OTHER_DECISIONS))])
    tail = signatures(rng, sc, twist, sc.meeting + timedelta(days=7))
    right, stamp = unadjusted(rng, twist, ("PROTOKOLL", f"Nr {sc.protocol_no}/{sc.meeting.year}",
                                           "Sida {page} ({pages})"))
    font = rng.choice(FONTS)

    def build(count: int) -> Document:
        span = f"{first}–{first + count - 1}"
        head = [replace(b, cells=tuple(cell.replace("{range}", span) for cell in b.cells)) for b in box]
        body = [block for section in sections[:count] for block in section]
        return Document((*head, Block(style="pagebreak"), *body, *tail), (w.committee_heading(rng, c),), right,
                        "Justerandes signum | Utdragsbestyrkande", font, 10.0, stamp)

    count = estimate
    while (got := len(paginate(build(count)))) < pages and count < len(sections):
        count = min(len(sections), max(count + 1, count * pages // got))
    while count > award_at and len(paginate(build(count - 1))) >= pages:
        count -= 1
    return build(count), label(sc, twist, certified=False)
