"""Understanding documents: type, fields, decision and unit mentions, with evidence, on real and composed text.

Fixtures: the four seeds (real tjänsteutlåtanden, OCR damage included), the three
composed extracts of the domain guide §1.9 (tests/data/understanding/), OCR-damaged
variants of those made by a deterministic damage function, and a composed
minutes book of fifteen §§ with the award item in the middle.
"""

from __future__ import annotations

import random
import re
from datetime import date
from pathlib import Path

import pytest

from intake.domain import DocType, DocumentText, Page, Understanding
from intake.samples import protocol_text, seed_text
from intake.text import fold
from intake.understanding import understand
from intake.understanding.normalise import clean

DATA = Path(__file__).parent / "data" / "understanding"


def doc(text: str, name: str = "bilaga.pdf") -> DocumentText:
    return DocumentText(name, "application/pdf", (Page(1, text),))


def paged(pages: list[str], name: str = "protokoll.pdf") -> DocumentText:
    return DocumentText(name, "application/pdf", tuple(Page(i + 1, text) for i, text in enumerate(pages)))


def fixture(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def read(document: DocumentText) -> Understanding:
    """understand(), with every piece of evidence checked against the page it points into."""
    result = understand(document)
    pages = {page.number: page.text for page in document.pages}
    for field, span in result.evidence:
        assert span.text.strip(), field
        assert pages[span.page][span.start:span.end] == span.text, (field, span)
    return result


def key(name: str) -> str:
    """A unit name compared as the matcher will: folded, and with a/e merged because the damage
    below writes ä as é as often as a."""
    return re.sub("[ae]", "a", fold(name))


def fields(result: Understanding) -> set[str]:
    return {field for field, _ in result.evidence}


# --- the seeds: real tjänsteutlåtanden -----------------------------------------------------

SEEDS = [
    ("000", "Spånga-Tensta stadsdelsnämnd", 2015, ["Enheten för ekonomiskt bistånd", "Enheten för verksamhetsutveckling"]),
    ("001", "Socialnämnden", 2017, ["Förstärkningsteamet", "Korttidshemmet Drömmen", "Resursteamet Alvik Väst",
                                    "Misa Blackeberg", "Misa Bondegatan"]),
    ("002", "Bromma stadsdelsnämnd", 2023, ["Enheten för arbete och försörjning"]),  # OCR: "for", "forsorjnings"
    ("003", None, 2016, ["Resursenheten, KBT-teamet"]),  # "KBT-\n\nteamet" across blank lines
]


@pytest.mark.parametrize(("seed", "committee", "year", "mentions"), SEEDS, ids=[s[0] for s in SEEDS])
def test_seeds(seed: str, committee: str | None, year: int, mentions: list[str]) -> None:
    result = read(doc(seed_text(seed)))
    assert result.doc_type is DocType.PROPOSAL
    assert result.committee == committee
    assert result.year == year
    assert [fold(m) for m in result.mentions] == [fold(m) for m in mentions]
    assert not result.has_decision  # a tjänsteutlåtande proposes
    assert result.paragraph is None and result.meeting_date is None


@pytest.mark.parametrize("seed", ["000", "001", "002", "003"])
def test_seeds_are_proposals_not_protocols(seed: str) -> None:
    assert understand(doc(seed_text(seed))).doc_type is DocType.PROPOSAL


# --- the composed extracts of guide §1.9 ---------------------------------------------------

A_UNITS = ["Förskolan Solrosen", "Hemtjänsten Årsta enhet 2", "Enheten för ekonomiskt bistånd, vuxen",
           "Attendo Bandhagens vård- och omsorgsboende"]
B_UNITS = ["Socialjouren", "Stödcentrum för unga brottsutsatta", "Resursenheten, KBT-teamet"]
C_UNITS = ["Kundcenter", "Förvaltningsområde Västerort (enheten Rinkeby/Tensta)"]
COMPOSED = [
    ("a_stadsdelsnamnd.txt", "Enskede-Årsta-Vantörs stadsdelsnämnd", date(2017, 6, 15), "§ 14", "1.2.1-247/2017",
     True, A_UNITS),
    ("b_socialnamnden.txt", "Socialnämnden", date(2017, 6, 20), "§ 9", "3.1-312/2017", True, B_UNITS),
    ("c_familjebostader.txt", "AB Familjebostäder", date(2017, 6, 8), "§ 11", None, True, C_UNITS),
]


@pytest.mark.parametrize(("name", "committee", "meeting", "paragraph", "dnr", "certified", "units"), COMPOSED,
                         ids=[c[0] for c in COMPOSED])
def test_composed_extracts(name: str, committee: str, meeting: date, paragraph: str, dnr: str | None,
                           certified: bool, units: list[str]) -> None:
    result = read(doc(fixture(name)))
    assert result.doc_type is DocType.PROTOCOL
    assert result.committee == committee
    assert result.meeting_date == meeting
    assert result.paragraph == paragraph
    assert result.diarienummer == dnr
    assert result.year == 2017
    assert result.has_decision
    assert result.adjusted
    assert result.certified is certified
    assert list(result.mentions) == units
    assert {"doc_type", "committee", "meeting_date", "paragraph", "year", "decision_text", "has_decision",
            "adjusted", "mentions"} <= fields(result)


def test_decision_text_runs_from_the_heading_to_the_next() -> None:
    a = read(doc(fixture("a_stadsdelsnamnd.txt")))
    assert a.decision_text is not None
    assert a.decision_text.startswith("1. Stadsdelsnämnden godkänner anmälan av följande enheter")
    assert a.decision_text.endswith("2. Paragrafen förklaras omedelbart justerad.")
    b = read(doc(fixture("b_socialnamnden.txt")))
    assert b.decision_text is not None and "Ärendet" not in b.decision_text
    assert b.decision_text.endswith("och lägger den till handlingarna.")
    c = read(doc(fixture("c_familjebostader.txt")))
    assert c.decision_text == "Styrelsen beslutade\natt notera informationen och godkänna bolagets deltagande."


def test_particular_unit_not_named_by_a_dissent() -> None:
    text = fixture("b_socialnamnden.txt").replace(
        "Särskilt uttalande gjordes av ledamöterna ... (V)",
        "Särskilt uttalande gjordes av ledamöterna (V) som ville nominera Förskolan Ekorren")
    assert list(read(doc(text)).mentions) == B_UNITS


# --- OCR damage ----------------------------------------------------------------------------

WRAP_OVER = 50  # lines longer than this are broken again, as a narrower scan would
BREAK_FROM, BREAK_TO = 35, 60


def damage(text: str, seed: int) -> str:
    """What a poor OCR makes of a page: å→a, ä→a or é, ö→o, § → s/5/8, lines broken and hyphenated."""
    rng = random.Random(seed)
    letters = {"å": "a", "Å": "A", "ö": "o", "Ö": "O", "Ä": "A"}
    damaged = "".join(
        rng.choice("aé") if char == "ä" else rng.choice("s58") if char == "§" else letters.get(char, char)
        for char in text
    )
    return "\n".join(part for line in damaged.split("\n") for part in _rewrap(line, rng))


def _rewrap(line: str, rng: random.Random) -> list[str]:
    parts: list[str] = []
    while len(line) > WRAP_OVER:
        long_words = list(re.finditer(r"[a-zé]{8,}", line[BREAK_FROM:BREAK_TO]))
        if long_words and rng.random() < 0.5:  # hyphenate a word at the line end
            word = rng.choice(long_words)
            cut = BREAK_FROM + word.start() + rng.randint(3, len(word.group()) - 3)
            parts.append(line[:cut] + "-")
            line = line[cut:]
            continue
        spaces = [i for i in range(BREAK_FROM, min(len(line), BREAK_TO)) if line[i] == " "]
        if not spaces:
            break
        cut = rng.choice(spaces)
        parts.append(line[:cut])
        line = line[cut + 1:]
    parts.append(line)
    return parts


def test_damage_really_damages() -> None:
    damaged = damage(fixture("a_stadsdelsnamnd.txt"), 1)
    assert "§" not in damaged and "ä" not in damaged and "ö" not in damaged and "å" not in damaged
    assert re.search(r"[a-z]-\n[a-z]", damaged)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(("name", "committee", "meeting", "paragraph", "dnr", "certified", "units"), COMPOSED,
                         ids=[c[0] for c in COMPOSED])
def test_damaged_extracts_read_the_same(name: str, committee: str, meeting: date, paragraph: str,
                                        dnr: str | None, certified: bool, units: list[str], seed: int) -> None:
    result = read(doc(damage(fixture(name), seed)))
    assert result.doc_type is DocType.PROTOCOL
    assert result.paragraph == paragraph
    assert result.meeting_date == meeting
    assert result.year == 2017
    assert result.has_decision and result.adjusted
    assert key(result.committee or "") == key(committee)
    assert [key(m) for m in result.mentions] == [key(u) for u in units]


# --- a whole minutes book ------------------------------------------------------------------

BOOK_ITEMS = [
    ("Val av justerare och dag för justering", None,
     "Ordföranden Eva Lind (S) utsågs att justera protokollet tillsammans med ledamoten Per Ek (M).",
     "Justering sker den 22 juni 2017."),
    ("Fastställande av dagordning", None, "Stadsdelsnämnden fastställer dagordningen.", "Dagordningen sändes ut."),
    ("Anmälan av justerade protokoll", None, "Anmälan läggs till handlingarna.", "Protokollet från maj är justerat."),
    ("Hyresavtal för Förskolan Trollet", "1.2.3-101/2017",
     "Stadsdelsnämnden godkänner hyresavtalet för Förskolan Trollet.", "Förskolan Trollet flyttar i augusti."),
    ("Verksamhetsplan för Hemtjänsten Vällingby", "1.2.3-102/2017",
     "Stadsdelsnämnden godkänner verksamhetsplanen för Hemtjänsten Vällingby och Korttidshemmet Solen.",
     "Planen gäller från 1 juli."),
    ("Skrivelse om Enheten för ekonomiskt bistånd, vuxna", "1.2.3-103/2017", "Ärendet bordlades.",
     "Skrivelsen kom in den 2 maj 2017."),
    ("Tertialrapport 1 2017", "1.2.3-104/2017",
     "Stadsdelsnämnden godkänner tertialrapporten och anmäler den till kommunstyrelsen.",
     "Reservation\nLedamöterna (V) reserverade sig till förmån för eget förslag om Förskolan Humlegården."),
    ("Deltagande i Stockholms stads kvalitetsutmärkelse 2017", "1.2.1-247/2017",
     "1. Stadsdelsnämnden godkänner anmälan av följande enheter till Stockholms stads\n"
     "kvalitetsutmärkelse 2017:\n"
     "- Förskolan Blåklinten, tävlingsklass Förskola\n"
     "- Vällingby vård- och omsorgsboende, tävlingsklass Äldreomsorg (inklusive myndighetsutövning)\n"
     "- Enheten för ekonomiskt bistånd, vuxna, tävlingsklass Socialtjänst samt stöd och service\n"
     "till personer med funktionsnedsättning (inklusive myndighetsutövning)\n"
     "2. Paragrafen förklaras omedelbart justerad.",
     "Tre enheter har lämnat tävlingsbidrag senast den 15 maj 2017."),
    ("Yttrande över remiss om parkprogram", "1.2.3-105/2017",
     "Stadsdelsnämnden överlämnar tjänsteutlåtandet som svar på remissen.", "Remissen kom från Trafiknämnden."),
    ("Medborgarförslag om Gruppbostaden Linden", "1.2.3-106/2017",
     "Stadsdelsnämnden besvarar medborgarförslaget med hänvisning till förvaltningens svar.",
     "Gruppbostaden Linden har 6 platser."),
    ("Internkontrollplan 2017", "1.2.3-107/2017", "Stadsdelsnämnden godkänner internkontrollplanen.",
     "Planen omfattar Dagverksamheten Eken."),
    ("Ekonomisk uppföljning", "1.2.3-108/2017", "Stadsdelsnämnden noterar uppföljningen.",
     "Underskottet gäller Förskolan Sjöstjärnan."),
    ("Anmälan av delegationsbeslut", None, "Anmälan läggs till handlingarna.", "Listan bifogas."),
    ("Anmälan av inkomna skrivelser", None, "Anmälan läggs till handlingarna.", "Tre skrivelser kom in."),
    ("Förvaltningschefen informerar", None, "Stadsdelsnämnden noterar informationen.",
     "Förvaltningschefen berättade om Stödcentrum Vällingby."),
]
AWARD_ITEM = 8
BOOK_UNITS = ["Förskolan Blåklinten", "Vällingby vård- och omsorgsboende", "Enheten för ekonomiskt bistånd, vuxna"]
LINES_PER_PAGE = 28


def minutes_book(items: list[tuple[str, str | None, str, str]] = BOOK_ITEMS) -> DocumentText:
    lines = [
        "Hässelby-Vällingby stadsdelsnämnd                PROTOKOLL",
        "Protokoll nr 6/2017",
        "Sammanträdesdatum 2017-06-15",
        "Plats och tid        Vällingby torg 3, kl. 18.30-20.15",
        "Beslutande           Eva Lind (S) ordförande, Per Ek (M), Sara Berg (V)",
        "Övriga närvarande    Lars Holm, stadsdelsdirektör; Anna Lindqvist, sekreterare",
        "Utses att justera    Per Ek",
        "Justeringens plats och tid   Vällingby, 2017-06-22",
        "Paragrafer §§ 1-15",
        "",
    ]
    for number, (title, dnr, decision, background) in enumerate(items, start=1):
        lines += [f"§ {number}  {title}"] + ([f"Dnr {dnr}"] if dnr else [])
        lines += ["Stadsdelsnämndens beslut", *decision.split("\n"), "Ärendet", *background.split("\n"), ""]
    lines += ["Vid protokollet", "Anna Lindqvist", "Justerat 2017-06-22", "Eva Lind        Per Ek"]
    # Page breaks every LINES_PER_PAGE lines, placed so that one falls inside the award's unit list.
    listed = next((i for i, line in enumerate(lines) if line.startswith("- Vällingby")), LINES_PER_PAGE)
    breaks = [0, *range(listed % LINES_PER_PAGE + LINES_PER_PAGE, len(lines), LINES_PER_PAGE), len(lines)]
    pages = []
    for number, (start, stop) in enumerate(zip(breaks, breaks[1:], strict=False), start=1):
        header = [] if number == 1 else [
            f"Hässelby-Vällingby stadsdelsnämnd   Protokoll nr 6/2017   Sida {number} ({len(breaks) - 1})"]
        footer = ["Justerandes signatur        Utdragsbestyrkande"]
        pages.append("\n".join(header + lines[start:stop] + footer))
    return paged(pages)


def test_minutes_book_is_read_from_the_award_paragraph_only() -> None:
    book = minutes_book()
    assert len(book.pages) >= 4
    result = read(book)
    assert result.doc_type is DocType.PROTOCOL
    assert result.committee == "Hässelby-Vällingby stadsdelsnämnd"
    assert result.meeting_date == date(2017, 6, 15)
    assert result.paragraph == f"§ {AWARD_ITEM}"
    assert result.diarienummer == "1.2.1-247/2017"
    assert result.year == 2017
    assert result.has_decision and result.adjusted
    assert list(result.mentions) == BOOK_UNITS  # not Trollet, Solen, Humlegården, Linden, Eken, Sjöstjärnan
    spans = [span for field, span in result.evidence if field == "mentions"]
    assert len({span.page for span in spans}) == 2  # the list runs over a page break


def test_minutes_book_where_the_award_item_was_put_off() -> None:
    items = list(BOOK_ITEMS)
    title, dnr, _, background = items[AWARD_ITEM - 1]
    items[AWARD_ITEM - 1] = (title, dnr, "Ärendet bordlades.", background)
    result = read(minutes_book(items))
    assert result.paragraph == f"§ {AWARD_ITEM}"
    assert not result.has_decision  # the other §§ decide, this one does not


def test_minutes_book_without_the_award_item() -> None:
    items = [item for number, item in enumerate(BOOK_ITEMS, start=1) if number != AWARD_ITEM]
    result = read(minutes_book(items))
    assert result.doc_type is DocType.PROTOCOL
    assert result.paragraph is None
    assert not result.has_decision
    assert result.mentions == ()


# --- negative cases ------------------------------------------------------------------------

A = fixture("a_stadsdelsnamnd.txt")
A_DECISION = A[A.index("1. Stadsdelsnämnden godkänner"):A.index("Ärendet")]


@pytest.mark.parametrize(
    "decision",
    [
        "Ärendet bordlades.\n",
        "Stadsdelsnämnden beslutade att bordlägga ärendet.\n",
        "Ärendet återremitterades till förvaltningen för vidare beredning.\n",
        "Stadsdelsnämnden beslutade att återremittera ärendet.\n",
        "Ärendet utgår.\n",
    ],
)
def test_item_put_off_is_no_decision(decision: str) -> None:
    result = read(doc(A.replace(A_DECISION, decision).replace("Beslutsgång\nStadsdelsnämnden beslutade i "
                                                              "enlighet med förvaltningens förslag.\n", "")))
    assert result.doc_type is DocType.PROTOCOL
    assert result.paragraph == "§ 14"
    assert not result.has_decision
    assert "has_decision" in fields(result)  # the wording that put it off is shown


def test_returning_item_label_is_not_a_referral() -> None:
    text = A.replace("§ 14  Anmälan", "§ 14  Återremitterat ärende: Anmälan")
    assert read(doc(text)).has_decision


def test_protocol_that_only_quotes_the_proposal_has_no_decision() -> None:
    text = (A.replace("Stadsdelsnämndens beslut", "Förvaltningens förslag till beslut")
            .replace("Beslutsgång\nStadsdelsnämnden beslutade i enlighet med förvaltningens förslag.\n", ""))
    result = read(doc(text))
    assert result.doc_type is DocType.PROTOCOL
    assert not result.has_decision
    assert result.decision_text is None
    assert list(result.mentions) == A_UNITS  # what was proposed, for the coordinator


def test_protocol_adopting_the_quoted_proposal_decides_it() -> None:
    text = A.replace("Stadsdelsnämndens beslut", "Förvaltningens förslag till beslut")
    result = read(doc(text))
    assert result.has_decision
    assert result.decision_text is not None and "Förskolan Solrosen" in result.decision_text
    assert list(result.mentions) == A_UNITS


TU_WITH_REFERENCES = """Äldreförvaltningen                               Tjänsteutlåtande
Avdelningen för stöd och utveckling              Dnr 1.6-201/2017
                                                 Sid 1 (3)
Handläggare                                      2017-05-30
Eva Sund
Telefon: 08-508 36 000

Till
Äldrenämnden

Anmälan av deltagande i Stockholms stads kvalitetsutmärkelse 2017

Äldreförvaltningens förslag till beslut
1. Äldrenämnden godkänner anmälan av Dagverksamheten Träffpunkten till
   Stockholms stads kvalitetsutmärkelse 2017.
2. Beslutet justeras omedelbart.

Karin Ros                    Mats Lund
Äldredirektör                Avdelningschef

Bakgrund
Kommunfullmäktige beslutade den 12 december 2016, § 14, om stadens budget.
§ 5 i nämndens reglemente och 6 kap. 36 § kommunallagen gäller.
Protokollsutdraget skickas till kvalitetsutmarkelsen@stockholm.se.
"""


def test_proposal_quoting_paragraphs_stays_a_proposal() -> None:
    result = read(doc(TU_WITH_REFERENCES))
    assert result.doc_type is DocType.PROPOSAL
    assert result.paragraph is None
    assert not result.has_decision
    assert not result.adjusted  # "Beslutet justeras omedelbart" is proposed, not done
    assert result.committee == "Äldrenämnden"
    assert result.diarienummer == "1.6-201/2017"
    assert result.year == 2017
    assert list(result.mentions) == ["Dagverksamheten Träffpunkten"]


def test_protocol_quoting_the_proposal_stays_a_protocol() -> None:
    quoted = A.replace(
        "Ärendet\n",
        "Ärendet\nFörvaltningens förslag till beslut\nStadsdelsnämnden föreslås besluta att godkänna anmälan.\n"
        "Handläggare Eva Sund, tjänsteutlåtande daterat 2017-05-29.\nStadsdelsdirektör\n",
    )
    assert read(doc(quoted)).doc_type is DocType.PROTOCOL


# --- the existing reader's cases -------------------------------------------------------------


def test_composed_protocol_fields() -> None:
    text = protocol_text("Socialnämnden", date(2017, 6, 13), 9,
                         [("Korttidshemmet Drömmen", "Socialtjänst")], 2017)
    result = read(doc(text))
    assert result.doc_type is DocType.PROTOCOL
    assert result.committee == "Socialnämnden"
    assert result.meeting_date == date(2017, 6, 13)
    assert result.paragraph == "§ 9"
    assert result.year == 2017
    assert result.has_decision
    assert result.adjusted
    assert result.certified
    assert result.mentions == ("Korttidshemmet Drömmen",)


def test_sample_protocol_with_a_broken_unit_name() -> None:
    text = protocol_text("Skarpnäcks stadsdelsnämnd", date(2017, 6, 20), 11,
                         [("Resursenheten, KBT-\n\nteamet", "Socialtjänst")], 2017)
    result = read(doc(text))
    assert result.committee == "Skarpnäcks stadsdelsnämnd"
    assert result.mentions == ("Resursenheten, KBT-teamet",)


def test_not_adjusted_protocol() -> None:
    text = protocol_text("Socialnämnden", date(2017, 6, 13), 9, [("Misa Bondegatan", "Soc")], 2017,
                         adjusted=False).replace("Paragrafen förklaras omedelbart justerad.", "")
    assert not read(doc(text)).adjusted


@pytest.mark.parametrize(
    ("text", "doc_type"),
    [
        ("PROTOKOLLSUTDRAG\nSammanträdesdatum 2017-06-01\n§ 4 Beslut Nämnden godkänner", DocType.PROTOCOL),
        # OCR lost the diacritics: still a protocol
        ("Protokollsutdrag\nSammantradesdatum 2017-06-01\n5 4 Justerandes signatur", DocType.PROTOCOL),
        ("P R O T O K O L L S U T D R A G\nSammanträdesdatum 2017-06-01", DocType.PROTOCOL),
        ("Tjänsteutlåtande\nHandläggare Eva\nFörvaltningens förslag till beslut", DocType.PROPOSAL),
        ("TJANSTÉUTLATANDE\nHandlaggare Eva\nForvaltningens forslag till beslut", DocType.PROPOSAL),
        ("Tävlingsbidrag enligt anvisningar och bedömningsunderlag", DocType.CONTRIBUTION),
        ("Faktura nr 12345", DocType.OTHER),
        ("Protokoll från nämndmöte ska ha inkommit senast den 30 juni.", DocType.OTHER),
    ],
)
def test_document_types(text: str, doc_type: DocType) -> None:
    assert read(doc(text)).doc_type is doc_type


@pytest.mark.parametrize(
    ("text", "decided"),
    [
        ("Stadsdelsnämnden godkänner anmälan", True),
        ("Nämnden nominerar Enheten för ekonomiskt bistånd", True),
        ("Anmälan noteras och läggs till handlingarna. Nämnden noterar anmälan", True),
        ("Ärendet bordlades. Nämnden godkänner", False),
        ("Information om kvalitetsutmärkelsen", False),
        ("Förvaltningen föreslår att nämnden godkänner anmälan.", False),
    ],
)
def test_decision_wording(text: str, decided: bool) -> None:
    assert read(doc(text)).has_decision is decided


def test_award_year_from_ocr_damaged_text() -> None:
    assert read(doc(seed_text("002"))).year == 2023
    assert read(doc("deltar i 2015 års upplaga av kvalitetsutmärkelsen")).year == 2015


# --- single fields, table-driven -------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "committee"),
    [
        ("Spånga-Tensta stadsdelsnämnd\nProtokollsutdrag", "Spånga-Tensta stadsdelsnämnd"),
        ("Stadsdelsnämnden i Spånga-Tensta\nProtokollsutdrag", "Spånga-Tensta stadsdelsnämnd"),
        ("Protokoll fört vid Spånga-Tensta stadsdelsnämnds sammanträde", "Spånga-Tensta stadsdelsnämnd"),
        ("SDN Spånga-Tensta\nProtokollsutdrag", "Spånga-Tensta stadsdelsnämnd"),
        ("Spanga-Tensta stadsdelsnamnd\nProtokollsutdrag", "Spånga-Tensta stadsdelsnämnd"),
        ("Skärholmens stadsdelsnämnd\nProtokollsutdrag", "Skärholmens stadsdelsnämnd"),
        ("Rinkeby-Kista stadsdelsnämnd\nProtokollsutdrag", "Rinkeby-Kista stadsdelsnämnd"),
        ("Hägersten-Liljeholmens stadsdelsnämnd\nProtokollsutdrag", "Hägersten-Liljeholmens stadsdelsnämnd"),
        ("Järva stadsdelsnämnd\nProtokollsutdrag", "Järva stadsdelsnämnd"),
        ("Skarpnäcks stadsdelsförvaltning\nProtokollsutdrag\nStadsdelsnämnden godkänner", "Skarpnäcks stadsdelsnämnd"),
        ("SOCIALNÄMNDEN\nUtdrag ur protokoll", "Socialnämnden"),
        ("Utbildningsnämnden\nProtokollsutdrag", "Utbildningsnämnden"),
        ("ALDRENAMNDEN\nProtokollsutdrag", "Äldrenämnden"),
        ("Kommunstyrelsen   Protokoll nr 13", "Kommunstyrelsen"),
        ("Styrelsen för AB Familjebostäder\nProtokoll nr 4/2017", "AB Familjebostäder"),
        ("Farsta stadsdelsnämnd\nProtokollsutdrag\n" + "Text.\n" * 20 + "Ärendet överlämnas till kommunstyrelsen.",
         "Farsta stadsdelsnämnd"),
        ("Barn- och ungdomsnämnden\nProtokollsutdrag", "Barn- och ungdomsnämnden"),
        ("Stadsdelsnämnden\nProtokollsutdrag", None),
    ],
)
def test_committee_forms(text: str, committee: str | None) -> None:
    result = read(doc(text))
    assert result.committee == committee
    assert ("committee" in fields(result)) is (committee is not None)


@pytest.mark.parametrize(
    ("text", "meeting"),
    [
        ("Protokollsutdrag\nSammanträdesdatum 2017-05-18", date(2017, 5, 18)),
        ("Protokoll nr 6/2017\nfört vid sammanträde med Spånga-Tensta stadsdelsnämnd torsdagen den 18 maj 2017 "
         "kl. 18.30–19.45", date(2017, 5, 18)),
        ("Protokollsutdrag\nJusterat 2017-06-22\nSammanträdesdatum 2017-06-15", date(2017, 6, 15)),
        ("Utdrag ur protokoll fört vid kommunstyrelsens sammanträde onsdagen den 17 juni  Justerat den 24 juni 2015  "
         "Anslaget den 25 juni 2015", date(2015, 6, 17)),
        ("PROTOKOLLSUTDRAG\nJusterat den 22 juni 2017\nAnslaget den 23 juni 2017\n§ 3 Anmälan", None),
        ("Tjänsteutlåtande\nHandläggare Eva Sund 2017-05-30", None),
    ],
)
def test_meeting_date(text: str, meeting: date | None) -> None:
    assert read(doc(text)).meeting_date == meeting


@pytest.mark.parametrize(
    ("heading", "paragraph"),
    [
        ("§ 12  Anmälan av deltagande", "§ 12"),
        ("§12 Anmälan av deltagande", "§ 12"),
        ("12 § Anmälan av deltagande", "§ 12"),
        ("§ 17 A  Anmälan av deltagande", "§ 17 A"),
        ("S 12  Anmälan av deltagande", "§ 12"),
        ("5 12  Anmälan av deltagande", "§ 12"),
        ("8 12 Anmälan av deltagande", "§ 12"),
        ("s12 Anmälan av deltagande", "§ 12"),
        ("Paragrafer §§ 62-70", None),
        ("§ 62-70", None),
        ("Enligt 6 kap. 36 § kommunallagen gäller detta.", None),
        ("Kommunfullmäktige beslutade 2016-05-12 § 5 om detta.", None),
        ("5 12 förskolor deltar", None),
    ],
)
def test_paragraph_forms(heading: str, paragraph: str | None) -> None:
    text = f"PROTOKOLLSUTDRAG\nSammanträdesdatum 2017-06-15\n{heading}\nBeslut\nNämnden godkänner anmälan.\nJusterat 2017-06-20"
    assert read(doc(text)).paragraph == paragraph


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("Dnr 313-24/2013", "313-24/2013"),
        ("Dnr: 102-274-04", "102-274-04"),
        ("D nr 013 – 430 / 05", "013 – 430 / 05"),
        ("dnr 099/668-2008", "099/668-2008"),
        ("Dnr: 147-2009-099", "147-2009-099"),
        ("dnr 1.2.1/363-2010", "1.2.1/363-2010"),
        ("Dnr 2011-875-1.2.4", "2011-875-1.2.4"),
        ("Dnr: 1.3.1-585/2016", "1.3.1-585/2016"),
        ("dnr T 2010-313-01743", "T 2010-313-01743"),
        ("DNR /2009 SAN", "/2009 SAN"),
        ("Diarienummer SDN 2017/123", "SDN 2017/123"),
    ],
)
def test_diarienummer_forms(written: str, value: str) -> None:
    assert read(doc(f"Tjänsteutlåtande\n{written}\nHandläggare Eva")).diarienummer == value


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("Anmälan till 2017 års kvalitetsutmärkelse", 2017),
        ("Stockholms stads kvalitetsutmärkelse 2017:", 2017),
        ("KVALITETSUTMARKELSEN 2016", 2016),
        ("kvalitets-\nutmärkelsen 2018", 2018),
        # the award year, not the meeting year
        ("Protokollsutdrag\nSammanträdesdatum 2018-01-20\n§ 3 Kvalitetsutmärkelsen 2017\nBeslut\nNämnden noterar",
         2017),
        # no year with the award: the meeting's, for a protokoll
        ("Protokollsutdrag\nSammanträdesdatum 2017-06-15\n§ 3 Kvalitetsutmärkelsen\nBeslut\nNämnden noterar", 2017),
        ("Kvalitetsutmärkelsen delas ut i november.", None),
    ],
)
def test_award_year(text: str, year: int | None) -> None:
    assert read(doc(text)).year == year


@pytest.mark.parametrize(
    ("marker", "adjusted"),
    [
        ("Justerat den 27 juni 2017", True),
        ("Justerat 2017-06-15", True),
        ("Vid protokollet                Justeras", True),
        ("Justeras: Per Ek, Sara Berg", True),
        ("Paragrafen förklaras omedelbart justerad.", True),
        ("Justerandes signatur", True),
        ("Protokollet är justerat digitalt.", True),
        ("Utses att justera Per Ek", False),
        ("3. Beslutet justeras omedelbart.", False),
        ("Ej justerat", False),
        ("Justerat 2017-06-15\nPreliminärt protokoll", False),
        ("Ojusterat protokoll. Paragrafen förklaras omedelbart justerad.", False),
    ],
)
def test_adjusted(marker: str, adjusted: bool) -> None:
    text = f"PROTOKOLLSUTDRAG\nSammanträdesdatum 2017-06-15\n§ 4 Anmälan\nBeslut\nNämnden godkänner.\n{marker}"
    assert read(doc(text)).adjusted is adjusted


@pytest.mark.parametrize(
    ("marker", "certified"),
    [("Rätt utdraget intygar", True), ("Rätt utdraget betygar", True), ("Utdragsbestyrkande", True),
     ("RÄTT UTDRAGET INTYGAR", True), ("Ratt utdraget intygar", True), ("Vid protokollet", False)],
)
def test_certified(marker: str, certified: bool) -> None:
    text = f"PROTOKOLLSUTDRAG\n§ 4 Anmälan\nBeslut\nNämnden godkänner.\n{marker}\nAnna Lind"
    assert read(doc(text)).certified is certified


@pytest.mark.parametrize(
    ("sentence", "units"),
    [
        ("Nämnden nominerar Enheten för ekonomiskt bistånd samt Enheten för verksamhetsutveckling till "
         "Stockholms stads kvalitetsutmärkelse 2015.",
         ["Enheten för ekonomiskt bistånd", "Enheten för verksamhetsutveckling"]),
        ("Stadsdelsnämnden nominerar förskolan Sylvester i tävlingsklassen förskola till stadens "
         "kvalitetsutmärkelse 2009.", ["förskolan Sylvester"]),
        ("Nämnden godkänner anmälan av Misa AB och Attendo Fristad servicehus.", ["Misa AB", "Attendo Fristad servicehus"]),
        ("Nämnden godkänner anmälan av Mottagningsenheten, Familjeenheten och Beroendeenheten.",
         ["Mottagningsenheten", "Familjeenheten", "Beroendeenheten"]),
        ("Ordföranden Karin Ek (S) och Stadsdelsnämnden godkänner anmälan av Socialjouren.", ["Socialjouren"]),
        ("Nämnden nominerar Stadens äldreombudsman, Trafikkontorets kundtjänst och Misa Vårby gård.",
         ["Stadens äldreombudsman", "Trafikkontorets kundtjänst", "Misa Vårby gård"]),
        # a team with a name of its own is a unit of its own; "KBT-teamet" belongs to its unit
        ("Nämnden godkänner anmälan av Familjeenheten, Relationsvårdsteamet och Resursenheten, KBT-teamet.",
         ["Familjeenheten", "Relationsvårdsteamet", "Resursenheten, KBT-teamet"]),
        ("Nämnden noterar att Medborgarkontoret deltar. Trafikkontoret deltar inte.", ["Medborgarkontoret"]),
        ("Verkställande direktören Tove Hassan informerade om att Kundcenter deltar.", ["Kundcenter"]),
    ],
)
def test_mentions_in_running_text(sentence: str, units: list[str]) -> None:
    text = f"PROTOKOLLSUTDRAG\n§ 4 Kvalitetsutmärkelsen\nBeslut\n{sentence}\nJusterat 2017-06-20"
    assert list(read(doc(text)).mentions) == units


def test_clean_resolves_line_end_hyphens() -> None:
    assert clean("KBT-\n\nteamet") == "KBT-teamet"
    assert clean("kvalitets-\nutmärkelsen") == "kvalitetsutmärkelsen"
    assert clean("vård-\noch omsorgsboende") == "vård- och omsorgsboende"
    assert clean("Spånga-\nTensta") == "Spånga-Tensta"
    assert clean("2017-\n06-15") == "2017-06-15"


# --- list layouts ----------------------------------------------------------------------------

LIST_INTRO = "PROTOKOLLSUTDRAG\n§ 4 Kvalitetsutmärkelsen 2017\nBeslut\n1. Nämnden godkänner anmälan av följande enheter:\n"


@pytest.mark.parametrize(
    ("rows", "units"),
    [
        # two columns with a tab, a header row, then the signatures
        ("Enhet\tTävlingsklass\nUngdomsteamet\tSocialtjänst & LSS\nPippi förskola\tFörskoleverksamhet\n"
         "Familjeenheten\tSocialtjänst samt stöd och service till personer med funktionsnedsättning (inklusive "
         "myndighetsutövning)\nEva Svensson\tOmar Larsson\nFörvaltningschef\tAvdelningschef\n",
         ["Ungdomsteamet", "Pippi förskola", "Familjeenheten"]),
        # the same table after OCR: one space between the columns, some classes in lower case
        ("Liseberg vård- och omsorgsboende Äldreomsorg (inklusive myndighetsutövning)\n"
         "Förskolan Kvarnen Solberga förskola\nFörstärkningsteamet Soc/LSS\nBamse förskola förskola\n"
         "Magnus Hassan Jonas Haddad\nStadsdelsdirektör Avdelningschef\n",
         ["Liseberg vård- och omsorgsboende", "Förskolan Kvarnen Solberga", "Förstärkningsteamet",
          "Bamse förskola"]),
        # a name on one line, its class on the next
        ("Förskoleenheten Hornstull\nförskola\nSylvester förskola\nFörskola\nFritidsgården Ungdomens hus\n"
         "Andra verksamheter (administrativa verksamheter)\n2. Beslutet justeras omedelbart.\n",
         ["Förskoleenheten Hornstull", "Sylvester förskola", "Fritidsgården Ungdomens hus"]),
        # bullets with the class after a dash or in brackets
        ("- Mulle förskola – förskola\n- Parkeringsövervakningen – Andra verksamheter (administrativa "
         "verksamheter)\n- Vård- och omsorgsboendet Sofia — Äldreomsorg\na) Miljöanal-\nysenheten (Övriga)\n",
         ["Mulle förskola", "Parkeringsövervakningen", "Vård- och omsorgsboendet Sofia", "Miljöanalysenheten"]),
        # a list of the classes is no list of units
        ("- Förskola\n- Äldreomsorg, inklusive myndighetsutövning\n- Andra verksamheter, såsom tekniska "
         "verksamheter\n", []),
    ],
)
def test_list_layouts(rows: str, units: list[str]) -> None:
    intro = LIST_INTRO if units else LIST_INTRO.replace("följande enheter:", "enheter i följande klasser:")
    assert list(read(doc(intro + rows + "Justerat 2017-06-20")).mentions) == units


def test_people_are_not_units() -> None:
    text = fixture("c_familjebostader.txt").replace("Ordföranden ..., Vice ordföranden ...",
                                                    "Ordföranden Eva Nilsson, Vice ordföranden Ali Haddad")
    text = text.replace("§ 11  Stockholms", "Stockholms")  # no § heading: the whole text is read
    assert list(read(doc(text)).mentions) == C_UNITS


def test_single_names_in_a_list_of_names() -> None:
    text = ("PROTOKOLLSUTDRAG\n§ 4 Kvalitetsutmärkelsen 2017\nBeslut\nNämnden godkänner anmälan av "
            "Familjebehandlarna, Förskolan Ekbacken samt Kundservice.\nJusterat 2017-06-20")
    assert list(read(doc(text)).mentions) == ["Familjebehandlarna", "Förskolan Ekbacken", "Kundservice"]


# --- more OCR and layout cases ---------------------------------------------------------------


def test_paragraph_sign_fused_to_its_number() -> None:
    fused = fixture("b_socialnamnden.txt").replace("§ 9   Deltagande", "89 Deltagande")
    assert read(doc(fused)).paragraph == "§ 9"
    # trusted only for the award item: "89 Deltagande i enkät" is just a line starting with a number
    other = fused.replace("kvalitetsutmärkelse 2017\n      Dnr", "enkät 2017\n      Dnr")
    assert read(doc(other)).paragraph is None


def test_footer_label_is_no_certification() -> None:
    footer = "Justerandes signum | Anslagsdatum | Utdragsbestyrkande"
    text = fixture("a_stadsdelsnamnd.txt").split("Rätt utdraget")[0]
    assert not read(doc(text + footer)).certified
    assert read(doc(text + footer + " Anna Lindqvist")).certified


def test_cover_letter_is_not_a_protocol() -> None:
    letter = ("Kulturförvaltningen Meddelande\n2015-04-16\nTill: Stadsledningskontoret\n"
              "Anmälan till Stockholms stads kvalitetsutmärkelse 2015\nKulturnämnden beslutade vid sitt sammanträde "
              "den 16 april 2015 (§ 21) att godkänna anmälan av Kulturskolan Stockholm.\nProtokollet justeras den "
              "23 april 2015. Protokollsutdraget skickas till er så snart protokollet är justerat.\n")
    assert read(doc(letter)).doc_type is DocType.OTHER


def test_meeting_day_without_year_takes_the_protocol_number_year() -> None:
    text = ("Utdrag ur protokoll\nProtokoll nr 3/2014, fört vid Farsta stadsdelsnämnds sammanträde torsdagen "
            "den 15 maj\nProtokollet är inte justerat.\n§ 3 Kvalitetsutmärkelsen 2014\nBeslut\nNämnden noterar.")
    result = read(doc(text))
    assert result.meeting_date == date(2014, 5, 15)
    assert not result.adjusted


@pytest.mark.parametrize(
    ("line", "paragraph"),
    [
        ("13  Stockholms stads kvalitetsutmärkelse 2015", "§ 13"),  # the sign lost
        ("15 8 Stockholms stads kvalitetsutmärkelse 2015", "§ 15"),  # "15 §", the sign read as 8
        (". 819 Nominering av enheter till kvalitetsutmärkelse 2011", "§ 19"),  # with a speck before it
        ("1. Nämnden godkänner anmälan till Stockholms stads kvalitetsutmärkelse 2015.", None),  # a point
        ("78 Nominering till Stockholms stads kvalitetsutmärkelse 2010", None),  # "7 §" or "§ 78"?
    ],
)
def test_award_heading_as_a_last_resort(line: str, paragraph: str | None) -> None:
    text = f"PROTOKOLLSUTDRAG\nSammanträdesdatum 2015-06-15\n{line}\nBeslut\nNämnden godkänner.\nJusterat 2015-06-20"
    assert read(doc(text)).paragraph == paragraph


def test_unreadable_award_heading_still_bounds_the_item() -> None:
    """OCR lost the § of "§ 158" and the signatures stand above the item: the item's decision still counts."""
    text = ("Miljö- och hälsoskyddsnämnden Utdrag ur protokoll\nJusterat den 4 oktober 2021\nTove Larsson\n"
            "158 Nominering till Stockholms stads kvalitetsutmärkelse 2021\nDnr 2.5.4-389/2021\n"
            "Miljö- och hälsoskyddsnämndens beslut\nNämnden beslutar att anmäla följande enheter till "
            "Stockholms stads kvalitetsutmärkelse 2021:\na) Hälsoskyddsavdelningen\nb) Livsmedelsavdelningen\n")
    result = read(doc(text))
    assert result.paragraph is None  # § 158 or 15 §: not guessed
    assert result.has_decision
    assert result.mentions == ("Hälsoskyddsavdelningen", "Livsmedelsavdelningen")


def test_scan_specks_after_a_line_end_hyphen() -> None:
    text = ("PROTOKOLLSUTDRAG\n§ 22 Anmälan av deltagande i Stockholms stads kvalitetsutmärkelse 2010\nBeslut\n"
            "1. Nämnden beslutar att anmäla Förs- ;\nkolan Lärkan och Ropsten förskolor till stadens "
            "kvalitetsutmärkelse 2010.\n")
    assert read(doc(text)).mentions == ("Förskolan Lärkan", "Ropsten förskolor")


@pytest.mark.parametrize(
    ("sentence", "mentions"),
    [
        ("Nämnden beslutar att anmäla Stadsmuseet till Stockholms stads kvalitetsutmärkelse 2019.", ("Stadsmuseet",)),
        ("Förvaltningen föreslår att nämnden godkänner anmälan av Medborgarkontoret till stadens "
         "kvalitetsutmärkelse 2019.", ("Medborgarkontoret",)),
        ("Nämnden godkänner anmälan av Trafikkontoret – Markförbättrande åtgärder för gatuträd, Gatu- och "
         "trafikavdelningen samt Parkeringsövervakningen till kvalitetsutmärkelsen 2023.",
         ("Trafikkontoret – Markförbättrande åtgärder för gatuträd", "Gatu- och trafikavdelningen",
          "Parkeringsövervakningen")),
        # one word after a participation verb but not in a participant's slot: a place, not a unit
        ("Nämnden beslutar att anmäla deltagande från Kista i kvalitetsutmärkelsen 2019.", ()),
    ],
)
def test_one_word_and_dashed_unit_names(sentence: str, mentions: tuple[str, ...]) -> None:
    text = f"PROTOKOLLSUTDRAG\n§ 30 Anmälan av deltagande i Stockholms stads kvalitetsutmärkelse\nBeslut\n{sentence}\n"
    assert read(doc(text)).mentions == mentions


@pytest.mark.parametrize(
    ("raw", "display"),
    [
        # a text layer's split å/ä/ö (guide §5): one word again
        ("Norrga rdens fo rskola", "Norrgardens forskola"),
        ("Innehå llsfö rteckning", "Innehållsförteckning"),
        ("Stadsdelsna mnden beslutar att anmä la fö ljande enheter", "Stadsdelsnamnden beslutar att anmäla följande enheter"),
        ("tja¨nsteutlå tande", "tjänsteutlåtande"),
        ("Sätra vård- och omsorgsboende – Ä ldreomsorg", "Sätra vård- och omsorgsboende – Äldreomsorg"),
        ("Omar Bergstro m (MP)", "Omar Bergstrom (MP)"),
        # real spaces stay
        ("på lördag gick två enheter", "på lördag gick två enheter"),
        ("Bilaga nr 2, alla rader", "Bilaga nr 2, alla rader"),
        ("Miljö och hälsa i Solna stad", "Miljö och hälsa i Solna stad"),
        ("Förskolan Ekerö Backe", "Förskolan Ekerö Backe"),
        ("Älvsjö stadsdelsnämnd", "Älvsjö stadsdelsnämnd"),
    ],
)
def test_split_diacritics_are_rejoined(raw: str, display: str) -> None:
    assert clean(raw) == display


def test_one_word_unit_that_takes_part() -> None:
    text = ("PROTOKOLLSUTDRAG\n§ 9 Stockholms stads kvalitetsutmärkelse 2023\nVerkställande direktören informerade om "
            "att Driftcentralen har lämnat tävlingsbidrag i klassen Andra verksamheter.\nStyrelsen beslutade\natt "
            "godkänna bolagets deltagande.\n")
    assert read(doc(text)).mentions == ("Driftcentralen",)
