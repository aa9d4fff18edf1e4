"""First matcher: registered names found in document text despite case, diacritics and line breaks."""

import pytest

from intake.domain import Unit
from intake.matching import match_units
from intake.samples import seed_text

REGISTER = [
    Unit("A", 2017, "Enheten för ekonomiskt bistånd", "Socialtjänst", "SDF", "Spånga-Tensta stadsdelsnämnd"),
    Unit("B", 2017, "Enheten för verksamhetsutveckling", "Andra verksamheter", "SDF", "Spånga-Tensta stadsdelsnämnd"),
    Unit("C", 2017, "Resursenheten, KBT-teamet", "Socialtjänst", "SDF", "Skarpnäcks stadsdelsnämnd"),
    Unit("D", 2017, "Enheten för arbete och försörjning", "Socialtjänst", "SDF", "Bromma stadsdelsnämnd"),
    Unit("E", 2017, "Förskolan Solen", "Förskola", "SDF", "Farsta stadsdelsnämnd"),
    Unit("F", 2017, "Förskolan Solens äng", "Förskola", "SDF", "Farsta stadsdelsnämnd"),
]


def ids(text: str) -> list[str]:
    return sorted(m.unit_id for m in match_units(text, REGISTER))


@pytest.mark.parametrize(
    ("seed", "expected"),
    [("000", ["A", "B"]), ("003", ["C"])],
)
def test_seeds(seed: str, expected: list[str]) -> None:
    assert ids(seed_text(seed)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ENHETEN FÖR EKONOMISKT BISTÅND", ["A"]),
        ("Enheten for ekonomiskt bistand", ["A"]),  # diacritics lost
        ("Resursenheten, KBT-\n\nteamet medverkar", ["C"]),  # broken line (seed 003)
        ("Förskolan Solens äng deltar", ["F"]),  # the longer name claims its words
        ("Förskolan Solen och Förskolan Solens äng", ["E", "F"]),
        ("Förskolan Solenergi", []),  # whole words only
    ],
)
def test_variants(text: str, expected: list[str]) -> None:
    assert ids(text) == expected
