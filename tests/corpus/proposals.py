"""Documents that are not protocols: tjänsteutlåtanden (the four seeds, their variants, the Stockholm
layout), tävlingsbidrag, and a cover letter that only quotes the decision.

The seeds are real tjänsteutlåtanden of this process (intake/samples/seeds). Their
variants swap committee, units, people and year by plain substitution, so every
sentence stays as a förvaltning wrote it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import timedelta

from intake.domain import DocType
from intake.samples import seed_text
from tests.corpus import wording as w
from tests.corpus.layout import Block, Document
from tests.corpus.model import Label
from tests.corpus.pools import FACK, SDNS, SOCIAL, UnitName, person, units_of_class
from tests.corpus.templates import FONTS, Scenario, joined, unit_blocks

DEPARTMENTS = ("Avdelningen för individ- och familjeomsorg", "Avdelningen för äldreomsorg", "Strategiska staben",
               "Avdelningen för förskola", "Administrativa avdelningen", "Avdelningen för stöd och service")
DIRECTORS = {"Socialnämnden": "Socialdirektör", "Utbildningsnämnden": "Utbildningsdirektör",
             "Äldrenämnden": "Äldredirektör"}
SUMMARY = (
    "Kvalitetsutmärkelsen är Stockholms stads årliga pris för att uppmärksamma och belöna framgångsrik "
    "verksamhetsutveckling genom att lyfta fram förebilder och goda exempel inom staden.",
    "Alla kommunalt och enskilt drivna verksamheter som finansieras av staden är välkomna att delta i "
    "Kvalitetsutmärkelsen.",
    "Deltagande enheter granskar sin verksamhet i grunden och Kvalitetsutmärkelsen fungerar på så vis som ett "
    "verktyg för att underlätta arbetet med kvalitetsutveckling i staden i stort.",
    "Tävlingsbidragen ska utformas i enlighet med en av staden fastställd struktur och bedöms av särskilt "
    "utbildade examinatorer.",
)


@dataclass(frozen=True, slots=True)
class SeedFacts:
    """What a seed says, for its label and for the substitutions of its variants."""

    committee: str | None
    year: int
    units: tuple[str, ...]
    people: tuple[str, ...]


SEEDS = {
    "000": SeedFacts("Spånga-Tensta stadsdelsnämnd", 2015,
                     ("Enheten för ekonomiskt bistånd", "Enheten för verksamhetsutveckling"),
                     ("Ida Reimegård", "Christina Heglert", "Anna Larsson")),
    "001": SeedFacts("Socialnämnden", 2017,
                     ("Förstärkningsteamet", "Korttidshemmet Drömmen", "Resursteamet Alvik Väst", "Misa Blackeberg",
                      "Misa Bondegatan"), ("Lena Murray", "Gillis Hammar", "Jenny Swärd")),
    "002": SeedFacts("Bromma stadsdelsnämnd", 2023, ("Enheten för arbete och försörjning",),
                     ("Lisa Kinnari", "Magnus Borgsten")),
    "003": SeedFacts(None, 2016, ("Resursenheten, KBT-teamet",), ("Susanne Leinsköld", "Lena Thorson")),
}
# Seed 002's OCR wrote the unit in the genitive without its diacritics.
SEED_002_WRITTEN = "Enheten for arbete och forsorjnings"
YEAR = re.compile(r"\b(20[12]\d)\b")


def seed_label(prefix: str) -> Label:
    facts = SEEDS[prefix]
    written = (SEED_002_WRITTEN,) if prefix == "002" else facts.units
    return Label(DocType.PROPOSAL.value, facts.committee, year=facts.year, units=facts.units, written=written)


def _line_broken(name: str) -> str:
    """Seed 003's extraction artefact: a unit name broken over a blank line at a hyphen."""
    if "-" in name:
        return name.replace("-", "-\n\n", 1)
    word = max(name.split(" "), key=len)
    return name.replace(word, f"{word[: len(word) // 2]}-\n\n{word[len(word) // 2:]}", 1)


def seed_variant(rng: random.Random, prefix: str) -> tuple[str, Label]:
    """A seed with another committee, other units, people and year: (plain text, label)."""
    facts = SEEDS[prefix]
    text = seed_text(prefix)
    committee = rng.choice((FACK[0], *SDNS)) if prefix == "001" else rng.choice(SDNS)
    units = units_of_class(rng, committee, SOCIAL, len(facts.units))
    if len(units) < len(facts.units):  # a small pool: fall back to the seed's own units
        units = [UnitName(u, SOCIAL, u) for u in facts.units]
    if prefix == "003":
        text = text.replace("Resursenheten, KBT-\n\nteamet", _line_broken(units[0].name))
    for index, old in enumerate(facts.units):
        text = text.replace(old, f"\x00{index}\x00")
    for index, unit in enumerate(units):
        text = text.replace(f"\x00{index}\x00", unit.name)
    for old in facts.people:
        text = text.replace(old, person(rng))
    year = rng.randint(2012, 2019)
    # the seed's award year and the dates around it move together
    text = YEAR.sub(lambda m: str(int(m.group(1)) - facts.year + year), text)
    name: str | None = committee.name
    if prefix == "001" and committee.kind == "sdn":
        text = (text.replace("Till\nSocialnämnden", f"Till\n{committee.name}")
                .replace("Socialnämnden godkänner", "Stadsdelsnämnden godkänner")
                .replace("Socialförvaltningens", "Stadsdelsförvaltningens")
                .replace("Förvaltningsdirektör", "Stadsdelsdirektör"))
    elif prefix == "000":
        text = text.replace(facts.committee or "", committee.name)
    elif prefix == "003" and rng.random() < 0.5:  # the part of the seed its extraction lost
        author = person(rng)
        phone = f"08-508 {rng.randint(10, 99)} {rng.randint(100, 999)}"
        text = f"Handläggare\n{author}\nTelefon: {phone}\n\nTill\n{committee.name}\n\n{text}"
    elif prefix == "003":
        name = None  # like the seed: only "Stadsdelsnämnden", no committee named
    label = Label(DocType.PROPOSAL.value, name, year=year, units=tuple(u.name for u in units),
                  written=tuple(u.name for u in units))
    return text, label


def proposal(rng: random.Random, sc: Scenario, quoting: bool = False) -> tuple[Document, Label]:
    """A tjänsteutlåtande in the Stockholm layout (domain guide §1.8); `quoting`: it quotes a past decision."""
    c = sc.committee
    written = sc.meeting - timedelta(days=rng.randint(14, 30))
    office_heading = "Stadsdelsförvaltningens" if c.kind == "sdn" else f"{c.office}s"
    director = "Stadsdelsdirektör" if c.kind == "sdn" else DIRECTORS.get(c.name, "Förvaltningschef")
    department = rng.choice(DEPARTMENTS)
    who = w.acting(rng, c)
    blocks = [Block(style="row", cells=("Handläggare", written.isoformat()), stops=(0.0, 330.0)),
              Block(person(rng)), Block(f"Telefon: 08-508 {rng.randint(10, 99)} {rng.randint(100, 999)}"),
              Block(style="blank"), Block("Till"), Block(c.name), Block(style="blank")]
    if quoting:
        blocks += [Block(f"Uppföljning av deltagande i Stockholms stads kvalitetsutmärkelse {sc.year}", "title"),
                   Block(rng.choice(("Förvaltningens förslag till beslut", f"{office_heading} förslag till beslut")),
                         "heading"),
                   Block(f"1. {who} godkänner uppföljningen och lägger den till handlingarna.")]
    else:
        blocks += [Block(f"Anmälan av deltagande i Stockholms stads kvalitetsutmärkelse {sc.year}", "title"),
                   Block(rng.choice(("Förvaltningens förslag till beslut", f"{office_heading} förslag till beslut")),
                         "heading"),
                   *unit_blocks(rng, sc, f"1. {who} {rng.choice(('godkänner anmälan av', 'nominerar'))}")]
        if rng.random() < 0.35:
            blocks.append(Block("2. Beslutet justeras omedelbart."))
    blocks += [Block(style="blank"), Block(style="row", cells=(person(rng), person(rng)), stops=(0.0, 220.0)),
               Block(style="row", cells=(director, "Avdelningschef"), stops=(0.0, 220.0)),
               Block("Sammanfattning", "heading"), Block(" ".join(rng.sample(SUMMARY, 2)))]
    if quoting:
        day = w.written_date(rng, sc.meeting.replace(year=sc.year))
        blocks += [Block("Bakgrund", "heading"),
                   Block(f"{who} beslutade {day}, {w.paragraph_form(rng, sc.number)}, att godkänna anmälan av "
                         f"{joined(sc, [u.written for u in sc.units], rng)} till Stockholms stads "
                         f"kvalitetsutmärkelse {sc.year}. Protokollsutdraget skickades till stadsledningskontoret.")]
    blocks += [Block("Ärendet", "heading"), Block(f"{w.filler(rng, 2)} {rng.choice(SUMMARY)}"),
               Block("Ärendets beredning", "heading"), Block(f"Ärendet har beretts inom {department.lower()}."),
               Block("Förvaltningens synpunkter och förslag", "heading"),
               Block(f"Förvaltningen tillstyrker att enheterna deltar i {sc.year} års upplaga av Stockholms stads "
                     "kvalitetsutmärkelse.")]
    header_right = ("Tjänsteutlåtande", f"Dnr {sc.dnr}", "Sid {page} ({pages})")
    doc = Document(tuple(blocks), (c.office, department), header_right, "", rng.choice(FONTS), 10.5)
    label = Label(DocType.PROPOSAL.value, c.name, diarienummer=sc.dnr, year=sc.year,
                  units=tuple(u.name for u in sc.units), written=tuple(u.written for u in sc.units))
    return doc, label


def contribution(rng: random.Random, sc: Scenario) -> tuple[Document, Label]:
    """A unit's tävlingsbidrag: its answers to the award's questions."""
    unit = sc.units[0]
    sections = ("1. Verksamhetens förutsättningar", "2. Ledarskap och medarbetarskap", "3. Brukare och resultat",
                "4. Utveckling och lärande", "5. Samverkan")
    blocks = [Block(f"Tävlingsbidrag – Stockholms stads kvalitetsutmärkelse {sc.year}", "title"),
              Block(style="row", cells=("Enhet:", unit.written), stops=(0.0, 120.0)),
              Block(style="row", cells=("Tävlingsklass:", unit.award_class), stops=(0.0, 120.0)),
              Block(style="row", cells=("Förvaltning:", sc.committee.office), stops=(0.0, 120.0)),
              Block(style="row", cells=("Kontaktperson:", person(rng)), stops=(0.0, 120.0))]
    for section in sections:
        blocks += [Block(section, "heading"),
                   Block(f"Enligt anvisningarna beskriver vi här hur vi arbetar. {w.filler(rng, rng.randint(3, 6))}"),
                   Block(f"Vårt bedömningsunderlag visar att {unit.written} har utvecklat arbetssätten under året.")]
    doc = Document(tuple(blocks), (sc.committee.office,), ("Tävlingsbidrag", "Sida {page} ({pages})"), "",
                   rng.choice(FONTS), 10.5)
    return doc, Label(DocType.CONTRIBUTION.value, year=sc.year, units=(unit.name,), written=(unit.written,))


def cover_letter(rng: random.Random, sc: Scenario) -> tuple[Document, Label]:
    """A note that only quotes the decision and promises the extract: not a protocol."""
    c = sc.committee
    adjusted = sc.meeting + timedelta(days=7)
    blocks = [Block(style="row", cells=("Till:", "Stadsledningskontoret, Kvalitetsutmärkelsen"), stops=(0.0, 60.0)),
              Block(style="row", cells=("Från:", c.office), stops=(0.0, 60.0)), Block(style="blank"),
              Block(f"Anmälan till Stockholms stads kvalitetsutmärkelse {sc.year}", "title"),
              Block(f"{c.name} beslutade vid sitt sammanträde den {w.long_date(sc.meeting)} "
                    f"({w.paragraph_form(rng, sc.number)}) att godkänna anmälan av "
                    f"{joined(sc, [u.written for u in sc.units], rng)}."),
              Block(f"Protokollet justeras den {w.long_date(adjusted)}. Protokollsutdraget skickas till er så snart "
                    "protokollet är justerat."),
              Block(style="blank"), Block("Med vänlig hälsning"), Block(sc.secretary), Block("Nämndsekreterare")]
    doc = Document(tuple(blocks), (c.office,), ("Meddelande", sc.meeting.isoformat()), "", rng.choice(FONTS), 11.0)
    return doc, Label(DocType.OTHER.value, c.name, year=sc.year, units=tuple(u.name for u in sc.units),
                      written=tuple(u.written for u in sc.units))
