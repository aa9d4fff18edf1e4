"""First document reader: protokollsutdrag versus tjänsteutlåtande, and the fields, on the seeds."""

from datetime import date

import pytest

from intake.domain import DocType, DocumentText, Page
from intake.samples import protocol_text, seed_text
from intake.understanding import understand


def doc(text: str, name: str = "bilaga.pdf") -> DocumentText:
    return DocumentText(name, "application/pdf", (Page(1, text),))


@pytest.mark.parametrize("seed", ["000", "001", "002", "003"])
def test_seeds_are_proposals_not_protocols(seed: str) -> None:
    assert understand(doc(seed_text(seed))).doc_type is DocType.PROPOSAL


def test_composed_protocol_fields() -> None:
    text = protocol_text("Socialnämnden", date(2017, 6, 13), 9,
                         [("Korttidshemmet Drömmen", "Socialtjänst")], 2017)
    result = understand(doc(text))
    assert result.doc_type is DocType.PROTOCOL
    assert result.committee == "Socialnämnden"
    assert result.meeting_date == date(2017, 6, 13)
    assert result.paragraph == "§ 9"
    assert result.year == 2017
    assert result.has_decision
    assert result.adjusted


def test_not_adjusted_protocol() -> None:
    text = protocol_text("Socialnämnden", date(2017, 6, 13), 9, [("Misa Bondegatan", "Soc")], 2017,
                         adjusted=False).replace("Paragrafen förklaras omedelbart justerad.", "")
    assert not understand(doc(text)).adjusted


@pytest.mark.parametrize(
    ("text", "doc_type"),
    [
        ("PROTOKOLLSUTDRAG\nSammanträdesdatum 2017-06-01\n§ 4 Beslut Nämnden godkänner", DocType.PROTOCOL),
        # OCR lost the diacritics: still a protocol
        ("Protokollsutdrag\nSammantradesdatum 2017-06-01\n5 4 Justerandes signatur", DocType.PROTOCOL),
        ("Tjänsteutlåtande\nHandläggare Eva\nFörvaltningens förslag till beslut", DocType.PROPOSAL),
        ("Tävlingsbidrag enligt anvisningar och bedömningsunderlag", DocType.CONTRIBUTION),
        ("Faktura nr 12345", DocType.OTHER),
    ],
)
def test_document_types(text: str, doc_type: DocType) -> None:
    assert understand(doc(text)).doc_type is doc_type


@pytest.mark.parametrize(
    ("text", "decided"),
    [
        ("Stadsdelsnämnden godkänner anmälan", True),
        ("Nämnden nominerar Enheten för ekonomiskt bistånd", True),
        ("Anmälan noteras och läggs till handlingarna. Nämnden noterar anmälan", True),
        ("Ärendet bordlades. Nämnden godkänner", False),
        ("Information om kvalitetsutmärkelsen", False),
    ],
)
def test_decision_wording(text: str, decided: bool) -> None:
    assert understand(doc(text)).has_decision is decided


def test_award_year_from_ocr_damaged_text() -> None:
    assert understand(doc(seed_text("002"))).year == 2023
    assert understand(doc("deltar i 2015 års upplaga av kvalitetsutmärkelsen")).year == 2015
