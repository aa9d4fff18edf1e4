"""Chooses what each corpus document says: which template, which negative case, and its file name.

The mix of templates per kind of file is fixed here. Photos get one-page
documents only (a photo shows one page); long minutes get the full-protokoll template.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from intake.samples import seed_text
from tests.corpus.layout import Document, paginate, plain
from tests.corpus.minutes import full_minutes
from tests.corpus.model import Label
from tests.corpus.proposals import contribution, cover_letter, proposal, seed_label, seed_variant
from tests.corpus.templates import (
    Twist,
    apply_wrong_year,
    board_minutes,
    box_extract,
    fack_extract,
    scenario,
    sdn_extract,
)
from tests.corpus.wording import long_date

VARIANTS = {  # template or negative case -> weight
    "sdn_extract": 26, "fack_extract": 12, "box_extract": 7, "board_minutes": 7, "proposal": 12,
    "seed_variant": 7, "contribution": 4, "cover_letter": 4, "proposal_quoting": 3,
    "tabled": 5, "not_adjusted": 5, "wrong_year": 5,
}
ONE_PAGE_VARIANTS = ("sdn_extract", "fack_extract", "board_minutes", "box_extract", "tabled", "not_adjusted",
                     "wrong_year", "cover_letter")
PROTOCOL_TEMPLATES = (sdn_extract, fack_extract, box_extract)
TEMPLATES = {"sdn_extract": sdn_extract, "fack_extract": fack_extract, "box_extract": box_extract,
             "board_minutes": board_minutes}
PHOTO_ATTEMPTS = 8  # tries to draw a document that fits one page
SEED_PREFIXES = ("000", "001", "002", "003")
SCANNED_KINDS = frozenset({"scan_pdf", "photo", "ocr_layer_pdf"})


@dataclass(frozen=True, slots=True)
class Content:
    document: Document
    label: Label
    variant: str
    stem: str  # a file name without its extension, as a sender would name it


SEED_STEMS = {"000": "Tjänsteutlåtande nominering", "001": "Anmälan om deltagande i kvalitetsutmärkelsen 2017",
              "002": "Anmälan", "003": "TU Kvalitetsutmärkelsen 2016"}
NEGATIVES = ("tabled", "not_adjusted", "wrong_year")


def seed_content(prefix: str) -> Content:
    """A seed exactly as it is, printed as plain lines."""
    return Content(plain(seed_text(prefix)), seed_label(prefix), f"seed_{prefix}", SEED_STEMS[prefix])


def compose(rng: random.Random, kind: str) -> Content:
    """The document of one corpus item of `kind`, with its label."""
    if kind == "long_minutes":
        return minutes(rng, rng.randint(4, 12))
    names = list(ONE_PAGE_VARIANTS if kind == "photo" else VARIANTS)
    variant = rng.choices(names, [VARIANTS[n] for n in names])[0]
    for _ in range(PHOTO_ATTEMPTS if kind == "photo" else 1):
        content = _content(rng, variant, 3 if kind == "photo" else 6, kind in SCANNED_KINDS)
        if kind != "photo" or len(paginate(content.document)) == 1:
            break
    return content


def minutes(rng: random.Random, pages: int) -> Content:
    sc = scenario(rng, ("sdn", "fack"), (4, 1))
    twist = Twist(not_adjusted=rng.random() < 0.1)
    doc, label = full_minutes(rng, sc, twist, pages)
    return Content(doc, label, "full_minutes", rng.choice((
        f"Protokoll {sc.committee.area} {sc.meeting.isoformat()}", f"Protokoll nr {sc.protocol_no}",
        f"{sc.committee.abbreviation} protokoll {long_date(sc.meeting)}")))


def _content(rng: random.Random, variant: str, max_units: int, scanned: bool) -> Content:
    if variant == "seed_variant":
        prefix = rng.choice(("000", "001", "003"))
        text, label = seed_variant(rng, prefix)
        return Content(plain(text, rng.choice(("Helvetica", "DejaVuSans", "LiberationSerif"))), label,
                       f"seed_{prefix}_variant", _proposal_stem(rng, label.year))
    if variant in ("proposal", "proposal_quoting", "contribution"):
        sc = scenario(rng, ("sdn", "fack"), (3, 1), max_units)
        if variant == "contribution":
            doc, label = contribution(rng, sc)
            return Content(doc, label, variant, f"Tävlingsbidrag {sc.units[0].name}")
        doc, label = proposal(rng, sc, quoting=variant == "proposal_quoting")
        return Content(doc, label, variant, _proposal_stem(rng, sc.year))
    committees = {"sdn_extract": ("sdn",), "box_extract": ("sdn", "fack"), "fack_extract": ("fack", "sdn"),
                  "board_minutes": ("bolag",)}.get(variant, ("sdn", "fack", "bolag"))
    sc = scenario(rng, committees, (6, 3, 1)[: len(committees)], max_units)
    if variant == "cover_letter":
        doc, label = cover_letter(rng, sc)
        return Content(doc, label, variant, rng.choice(("Meddelande om beslut", "Information kvalitetsutmärkelsen")))
    twist = Twist(tabled=variant == "tabled", not_adjusted=variant == "not_adjusted",
                  wrong_year=variant == "wrong_year")
    if twist.wrong_year:
        apply_wrong_year(rng, sc)
    if sc.committee.kind == "bolag":
        template = board_minutes
    elif variant in TEMPLATES:
        template = TEMPLATES[variant]
    else:
        template = rng.choice(PROTOCOL_TEMPLATES)
    doc, label = template(rng, sc, twist)
    name = f"{variant}-{template.__name__}" if variant in NEGATIVES else template.__name__
    return Content(doc, label, name, _protocol_stem(rng, sc.committee.abbreviation, sc.meeting.isoformat(),
                                                    sc.number, sc.year, scanned))


def _protocol_stem(rng: random.Random, abbreviation: str, day: str, number: int, year: int, scanned: bool) -> str:
    names = [f"Protokollsutdrag {abbreviation} {day} § {number}", f"Protokollsutdrag § {number}",
             f"Protokollsutdrag kvalitetsutmärkelsen {year}", "Utdrag ur protokoll", "Protokollsutdrag"]
    if scanned:  # what a scanner names its files
        names += [f"Skannat dokument {rng.randint(1, 999):04d}", f"KM_C{rng.randint(200, 900)}e-{day}"]
    return rng.choice(names)


def _proposal_stem(rng: random.Random, year: int | None) -> str:
    return rng.choice((f"Tjänsteutlåtande kvalitetsutmärkelsen {year}", "TU nominering", "Protokollsutdrag",
                       f"Anmälan kvalitetsutmärkelsen {year}", "Underlag nämnd"))


def mail_subject(rng: random.Random, label: Label) -> str:
    """The subject line of the mail that carried the document."""
    committee = label.committee or "nämnden"
    return rng.choice((f"Protokollsutdrag {committee}", f"Kvalitetsutmärkelsen {label.year}",
                       f"Protokollsutdrag kvalitetsutmärkelsen {label.year}", "Beslut om deltagande"))
