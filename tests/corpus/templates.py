"""Protocol templates: SDN extract (A), facknämnd extract (B), board minutes (C) and the boxed extract.

Each template takes a `Scenario` (who, when, which units) and a `Twist` (the
negative cases: tabled, not adjusted, wrong year) and returns the laid-out
`Document` with its `Label`. Layouts follow the domain guide §1.2–§1.9.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from intake.domain import DocType
from tests.corpus import wording as w
from tests.corpus.layout import BREAK, Block, Document
from tests.corpus.model import Label
from tests.corpus.pools import ALL_COMMITTEES, PARTIES, Committee, UnitName, class_label, person, units_for

FONTS = ("Helvetica", "Helvetica", "DejaVuSans", "DejaVuSerif", "LiberationSerif")
SIGNATURE_STOPS = (0.0, 170.0, 320.0)
ITEM_INDENT, ITEM_HANG = 14.0, 10.0
TITLES = (
    "Anmälan av deltagande i Stockholms stads kvalitetsutmärkelse {y}",
    "Nominering till Stockholms stads kvalitetsutmärkelse {y}",
    "Nominering av enheter till kvalitetsutmärkelse {y}",
    "Deltagande i Stockholms stads kvalitetsutmärkelse {y}",
    "Anmälan till kvalitetsutmärkelsen {y}",
)
TABLED = ("Ärendet bordlades.", "Ärendet återremitterades till förvaltningen.",
          "Stadsdelsnämnden beslutade att bordlägga ärendet. Ärendet bordlades.")
NOT_ADJUSTED_STAMPS = ("EJ JUSTERAT", "PRELIMINÄRT PROTOKOLL", "OJUSTERAT", "Ej justerat", "Ojusterat protokoll")


@dataclass(frozen=True, slots=True)
class Twist:
    """Negative cases a template can show."""

    tabled: bool = False  # "Ärendet bordlades": no decision
    not_adjusted: bool = False  # "Ej justerat": neither justerat nor certified
    wrong_year: bool = False  # the title names another award year than the meeting's


@dataclass(slots=True)
class Scenario:
    committee: Committee
    year: int  # the award year the document names
    meeting: date
    number: int  # the §
    dnr: str
    units: list[UnitName]
    secretary: str
    chair: str
    adjuster: str
    protocol_no: int
    parties: tuple[str, str] = ("S", "M")
    broken: set[str] = field(default_factory=set)  # written names shown with a line-break hyphen


def scenario(rng: random.Random, kinds: tuple[str, ...] = ("sdn", "fack", "bolag"),
             weights: tuple[int, ...] = (6, 3, 1), max_units: int = 6) -> Scenario:
    kind = rng.choices(kinds, weights)[0]
    committee = rng.choice([c for c in ALL_COMMITTEES if c.kind == kind])
    year = rng.randint(max(committee.first_year, committee.last_year - 9), committee.last_year)
    meeting = w.meeting_day(rng, year)
    count = rng.choices(range(1, max_units + 1), (5, 5, 4, 2, 1, 1)[:max_units])[0]
    units = units_for(rng, committee, count)
    sc = Scenario(committee, year, meeting, rng.randint(3, 30), w.diarienummer(rng, committee, year), units,
                  person(rng), person(rng), person(rng), rng.randint(3, 9), _two(rng.sample(PARTIES, 2)))
    if rng.random() < 0.3:
        sc.broken.add(rng.choice(units).written)
    return sc


def _two(items: list[str]) -> tuple[str, str]:
    return items[0], items[1]


def shown(sc: Scenario, name: str) -> str:
    """A unit name as printed: with a hyphenated line break inside when the scenario asks for one."""
    if name not in sc.broken:
        return name
    if "-" in name:
        return name.replace("-", BREAK, 1)
    word = max(name.split(" "), key=len)
    if len(word) < 7:
        return name
    return name.replace(word, word[: len(word) // 2] + BREAK + word[len(word) // 2:], 1)


def joined(sc: Scenario, names: list[str], rng: random.Random) -> str:
    names = [shown(sc, n) for n in names]
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} {rng.choice(('och', 'samt'))} {names[-1]}"


def unit_blocks(rng: random.Random, sc: Scenario, intro: str) -> list[Block]:
    """The decision's unit list: dashed items, numbered items, two columns, or one sentence."""
    style = rng.choices(("dash", "letter", "columns", "inline"), (5, 2, 2, 3))[0]
    if style == "inline":
        year_phrase = rng.choice((f"till Stockholms stads kvalitetsutmärkelse {sc.year}",
                                  f"till stadens kvalitetsutmärkelse {sc.year}"))
        return [Block(f"{intro} {joined(sc, [u.written for u in sc.units], rng)} {year_phrase}.")]
    blocks = [Block(f"{intro} följande enheter till Stockholms stads kvalitetsutmärkelse {sc.year}:")]
    pattern = rng.choice(("{name}, tävlingsklass {cls}", "{name} ({cls})", "{name} – {cls}", "{name}",
                          "{name}, klass: {cls}"))
    for index, unit in enumerate(sc.units):
        cls = class_label(rng, unit.award_class)
        name = shown(sc, unit.written)
        if style == "columns":
            blocks.append(Block(style="row", indent=ITEM_INDENT, cells=(unit.written, cls),
                                stops=(0.0, 230.0)))
            continue
        bullet = "-" if style == "dash" else f"{'abcdef'[index]})"
        blocks.append(Block(f"{bullet} {pattern.format(name=name, cls=cls)}", "item", ITEM_INDENT, ITEM_HANG,
                            cells=(unit.written, cls)))
    return blocks


def title(rng: random.Random, sc: Scenario) -> str:
    return rng.choice(TITLES).format(y=sc.year)


def paragraph_heading(rng: random.Random, sc: Scenario) -> Block:
    return Block(f"{w.paragraph_form(rng, sc.number)}  {title(rng, sc)}", "heading")


def signatures(rng: random.Random, sc: Scenario, twist: Twist, adjusted_on: date) -> list[Block]:
    left = "Vid protokollet"
    right = "Justeras" if twist.not_adjusted else f"Justerat {w.written_date(rng, adjusted_on)}"
    chair, adjuster = f"{sc.chair} ({sc.parties[0]})", f"{sc.adjuster} ({sc.parties[1]})"
    return [
        Block("_____________", "small"),
        Block(style="row", cells=(left, right), stops=SIGNATURE_STOPS[:2]),
        Block(style="row", cells=(sc.secretary, chair, adjuster), stops=SIGNATURE_STOPS),
        Block(style="row", cells=("", "ordförande", "justerare"), stops=SIGNATURE_STOPS),
    ]


def label(sc: Scenario, twist: Twist, certified: bool, doc_type: DocType = DocType.PROTOCOL) -> Label:
    return Label(
        doc_type=doc_type.value, committee=sc.committee.name, meeting_date=sc.meeting.isoformat(),
        paragraph=f"§ {sc.number}", diarienummer=sc.dnr, year=sc.year, has_decision=not twist.tabled,
        adjusted=not twist.not_adjusted, certified=certified and not twist.not_adjusted,
        units=tuple(u.name for u in sc.units), written=tuple(u.written for u in sc.units))


def unadjusted(rng: random.Random, twist: Twist, right: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    """An unadjusted protocol says so in its header, and often with a slanted stamp: (header, stamp)."""
    if not twist.not_adjusted:
        return right, ""
    word = rng.choice(NOT_ADJUSTED_STAMPS)
    return (*right, word), (word.upper() if rng.random() < 0.5 else "")


def apply_wrong_year(rng: random.Random, sc: Scenario) -> None:
    """Last year's extract sent again, or a title that names another year than the meeting."""
    if rng.random() < 0.5:
        sc.meeting = sc.meeting.replace(year=sc.meeting.year - 1)
        sc.year -= 1
    else:
        sc.year += rng.choice((-1, 1))


def decision(rng: random.Random, sc: Scenario, twist: Twist) -> list[Block]:
    who = w.acting(rng, sc.committee)
    if twist.tabled:
        proposal = (f"Förvaltningen föreslår att nämnden godkänner anmälan av "
                    f"{joined(sc, [u.written for u in sc.units], rng)} till Stockholms stads "
                    f"kvalitetsutmärkelse {sc.year}.")
        return [Block(rng.choice(TABLED)), Block("Förslag till beslut", "heading"), Block(proposal)]
    verb = rng.choice(("godkänner anmälan av", "nominerar", "noterar anmälan av", "beslutar att anmäla"))
    numbered = rng.random() < 0.5
    blocks = unit_blocks(rng, sc, f"{'1. ' if numbered else ''}{who} {verb}")
    if verb.startswith("noterar") and not numbered and rng.random() < 0.5:
        blocks.append(Block("Anmälan läggs till handlingarna."))
    if not twist.not_adjusted and rng.random() < 0.4:
        blocks.append(Block(f"{'2. ' if numbered else ''}Paragrafen förklaras omedelbart justerad."))
    return blocks


def sdn_extract(rng: random.Random, sc: Scenario, twist: Twist) -> tuple[Document, Label]:
    """Layout A: a stadsdelsnämnd's extract, PROTOKOLLSUTDRAG at the top right."""
    c = sc.committee
    adjusted_on = sc.meeting + timedelta(days=rng.choice((0, 0, 5, 7, 8)))
    if rng.random() < 0.6:
        dated = Block(f"Sammanträdesdatum {rng.choice((sc.meeting.isoformat(), w.long_date(sc.meeting)))}")
    else:
        dated = Block(f"Protokoll fört vid sammanträde med {c.name} {w.long_date(sc.meeting, weekday=True)} "
                      f"kl. 18.30–{rng.choice(('19.45', '20.10', '21.05'))}")
    blocks = [dated, Block(style="blank"), paragraph_heading(rng, sc), Block(w.dnr_line(rng, sc.dnr)),
              Block(w.decision_heading(rng, c), "heading"), *decision(rng, sc, twist),
              Block("Ärendet", "heading"),
              Block(f"Förvaltningen redovisar i tjänsteutlåtande daterat "
                    f"{(sc.meeting - timedelta(days=17)).isoformat()} de enheter som lämnat tävlingsbidrag "
                    f"senast den 15 maj {sc.year}. {w.filler(rng, rng.randint(1, 3))}")]
    if not twist.tabled:
        blocks += [Block("Beslutsgång", "heading"),
                   Block(f"{w.acting(rng, c)} beslutade i enlighet med förvaltningens förslag.")]
    blocks += signatures(rng, sc, twist, adjusted_on)
    certified = rng.random() < 0.8
    if certified and not twist.not_adjusted:
        blocks += [Block(style="blank"), Block("Rätt utdraget intygar"),
                   Block(f"{sc.secretary}, nämndsekreterare, {(adjusted_on + timedelta(days=1)).isoformat()}")]
    right, stamp = unadjusted(rng, twist, (rng.choice(("PROTOKOLLSUTDRAG", "Protokollsutdrag")),
                                           f"Protokoll nr {sc.protocol_no}/{sc.meeting.year}", "Sida {page} ({pages})"))
    doc = Document(tuple(blocks), (w.committee_heading(rng, c),), right,
                   rng.choice(("", "Justerandes signum | Utdragsbestyrkande")), rng.choice(FONTS),
                   rng.choice((10.0, 10.5, 11.0)), stamp)
    return doc, label(sc, twist, certified)


def fack_extract(rng: random.Random, sc: Scenario, twist: Twist) -> tuple[Document, Label]:
    """Layout B: 'Utdrag ur protokoll' of a facknämnd (or any nämnd), justering dates in the heading."""
    c = sc.committee
    adjusted_on = sc.meeting + timedelta(days=rng.choice((5, 7, 8)))
    # Kommunstyrelsen's style writes the meeting day without its year (domain guide §1.2).
    day = w.long_date(sc.meeting, weekday=True)
    if rng.random() < 0.3:
        day = day.rsplit(" ", 1)[0]
    blocks = [Block(f"Protokoll nr {sc.protocol_no}/{sc.meeting.year}, fört vid {w.committee_genitive(c)} "
                    f"sammanträde {day}")]
    if twist.not_adjusted:
        blocks.append(Block("Protokollet är inte justerat."))
    else:
        blocks.append(Block(style="row", cells=(f"Justerat den {w.long_date(adjusted_on)}",
                                                f"Anslaget den {w.long_date(adjusted_on + timedelta(days=1))}"),
                            stops=(0.0, 200.0)))
        blocks.append(Block(style="row", cells=(sc.chair, sc.adjuster), stops=(0.0, 200.0)))
    blocks += [Block(style="blank"), paragraph_heading(rng, sc), Block(w.dnr_line(rng, sc.dnr)),
               Block(w.decision_heading(rng, c), "heading"), *decision(rng, sc, twist),
               Block("Ärendet", "heading"), Block(w.filler(rng, rng.randint(2, 4)))]
    if rng.random() < 0.3:
        blocks += [Block("Särskilt uttalande", "heading"),
                   Block(f"Särskilt uttalande gjordes av ledamoten {person(rng)} (V) enligt bilaga 1.")]
    certified = rng.random() < 0.7 and not twist.not_adjusted
    if certified:
        blocks += [Block(style="blank"), Block(style="row", cells=("Utdragsbestyrkande", sc.secretary),
                                               stops=(0.0, 170.0))]
    header = (rng.choice((c.name.upper(), c.name)),)
    right = ("Utdrag ur protokoll", "Sida {page} ({pages})")
    doc = Document(tuple(blocks), header, right, "", rng.choice(FONTS), rng.choice((10.0, 10.5)),
                   "PRELIMINÄRT" if twist.not_adjusted and rng.random() < 0.5 else "")
    return doc, label(sc, twist, certified)


def meeting_box(rng: random.Random, sc: Scenario, twist: Twist, paragraphs: str) -> list[Block]:
    """The generic template's page-1 box: date, place, members, justering, signatures, ANSLAG/BEVIS."""
    c = sc.committee
    adjusted_on = sc.meeting + timedelta(days=rng.choice((3, 6, 9)))
    members = ", ".join(f"{person(rng)} ({p})" for p in rng.sample(PARTIES, 5))
    stop = (0.0, 150.0)
    blocks = [Block(style="row", cells=("Sammanträdesdatum", sc.meeting.isoformat()), stops=stop),
              Block(style="row", cells=("Plats och tid", f"{c.office}, kl. 18.00–19.30"), stops=stop),
              Block(f"Beslutande      {sc.chair} ({sc.parties[0]}) ordförande, {members}"),
              Block(style="row", cells=("Utses att justera", sc.adjuster), stops=stop)]
    if not twist.not_adjusted:
        blocks.append(Block(style="row", cells=("Justeringens plats och tid",
                                                f"{c.office}, {adjusted_on.isoformat()}"), stops=stop))
    blocks += [Block(style="row", cells=("Underskrifter  Sekreterare", sc.secretary, paragraphs),
                     stops=(0.0, 150.0, 330.0)),
               Block(style="row", cells=("Ordförande", sc.chair), stops=stop),
               Block(style="row", cells=("Justerande", sc.adjuster), stops=stop)]
    if not twist.not_adjusted:
        blocks += [Block("ANSLAG/BEVIS", "heading"),
                   Block(f"Protokollet är justerat. Justeringen har tillkännagivits genom anslag "
                         f"{(adjusted_on + timedelta(days=1)).isoformat()}.")]
    return blocks


def box_extract(rng: random.Random, sc: Scenario, twist: Twist) -> tuple[Document, Label]:
    """The generic Swedish template: a box of meeting facts on page 1, then the §."""
    blocks = meeting_box(rng, sc, twist, f"Paragraf § {sc.number}")
    blocks += [Block(style="blank"), paragraph_heading(rng, sc), Block(w.dnr_line(rng, sc.dnr)),
               Block("Beslut", "heading"), *decision(rng, sc, twist), Block("Ärendet", "heading"),
               Block(w.filler(rng, 3))]
    certified = not twist.not_adjusted and rng.random() < 0.6
    footer = "Justerandes signum | Anslagsdatum | Utdragsbestyrkande" + (f"  {sc.secretary}" if certified else "")
    right, stamp = unadjusted(rng, twist, ("SAMMANTRÄDESPROTOKOLL", "Sida {page} ({pages})"))
    doc = Document(tuple(blocks), (w.committee_heading(rng, sc.committee),), right, footer, rng.choice(FONTS),
                   10.0, stamp)
    return doc, label(sc, twist, certified)


def board_minutes(rng: random.Random, sc: Scenario, twist: Twist) -> tuple[Document, Label]:
    """Layout C: a city company's board minutes with the award item."""
    c = sc.committee
    roles = ("Ordföranden", "Vice ordföranden", "Ledamöterna", "Personalrepresentanten", "Verkställande direktören")
    present = ", ".join(f"{role} {person(rng)}" for role in roles)
    units = joined(sc, [u.written for u in sc.units], rng)
    blocks = [Block(f"PROTOKOLL fört vid styrelsesammanträde {sc.meeting.isoformat()}, kl. 08.30–10.15, "
                    "bolagets kontor"), Block(f"Närvarande: {present}"), Block(style="blank"),
              Block(f"{w.paragraph_form(rng, sc.number)}  Stockholms stads kvalitetsutmärkelse {sc.year}", "heading"),
              Block(f"Verkställande direktören informerade om att {units} har lämnat tävlingsbidrag i klassen "
                    f"Andra verksamheter till Stockholms stads kvalitetsutmärkelse {sc.year}.")]
    if twist.tabled:
        blocks += [Block("Styrelsen beslutade att bordlägga ärendet till nästa sammanträde. Ärendet bordlades.")]
    else:
        blocks += [Block("Styrelsen beslutade", "heading"),
                   Block("att notera informationen och godkänna bolagets deltagande.", indent=ITEM_INDENT)]
    blocks += [Block(style="blank"), Block(style="row", cells=("Vid protokollet", "Justeras"), stops=(0.0, 200.0)),
               Block(style="row", cells=(sc.secretary, f"{sc.chair}, ordförande"), stops=(0.0, 200.0))]
    certified = not twist.not_adjusted and rng.random() < 0.6
    if certified:
        stamp_day = sc.meeting + timedelta(days=rng.randint(8, 14))
        blocks += [Block(style="blank"), Block(f"RÄTT UTDRAGET INTYGAR  {stamp_day.isoformat()}  {sc.secretary}")]
    right, stamp = unadjusted(rng, twist, (f"Org.nr 556{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                                           f"Protokoll nr {sc.protocol_no}/{sc.meeting.year}"))
    doc = Document(tuple(blocks), (rng.choice((c.name, c.name.upper())),), right, "", rng.choice(FONTS), 10.5,
                   stamp)
    return doc, replace(label(sc, twist, certified), diarienummer=None)  # board minutes carry no Dnr
