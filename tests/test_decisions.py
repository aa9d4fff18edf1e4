"""Decision rules: each outcome and missing code from the evidence a mail gives."""

from dataclasses import replace
from datetime import date

import pytest

from intake.decisions import Evidence, decide
from intake.domain import (
    DocType,
    DocumentText,
    Missing,
    Outcome,
    Page,
    Understanding,
    Unit,
    UnitMatch,
    UnitState,
)

BOARD = "Socialnämnden"
REGISTER = (
    Unit("S1", 2017, "Korttidshemmet Drömmen", "Socialtjänst", "Socialförvaltningen", BOARD,
         contact_email="registrator@stockholm.se"),
    Unit("S2", 2017, "Förstärkningsteamet", "Socialtjänst", "Socialförvaltningen", BOARD),
    Unit("B1", 2017, "Enheten för arbete och försörjning", "Socialtjänst", "Bromma SDF", "Bromma stadsdelsnämnd"),
)
DOC = DocumentText("p.pdf", "application/pdf", (Page(1, "text"),))
PROTOCOL = Understanding("p.pdf", DocType.PROTOCOL, BOARD, date(2017, 6, 13), "§ 9", 2017, True, True)
BOTH = (UnitMatch("S1", "Korttidshemmet Drömmen", 100, "p.pdf"), UnitMatch("S2", "Förstärkningsteamet", 100, "p.pdf"))
# deciding_boards: what the matcher recognises of PROTOCOL's committee among the register's boards
GOOD = Evidence(2017, REGISTER, candidates=1, documents=(DOC,), understandings=(PROTOCOL,), matches=BOTH,
                deciding_boards=frozenset({BOARD}))


@pytest.mark.parametrize(
    ("evidence", "outcome", "missing", "state"),
    [
        (GOOD, Outcome.CONFIRMED, (), UnitState.CONFIRMED),
        (replace(GOOD, automatic="auto-submitted"), Outcome.IGNORED, (), None),
        (replace(GOOD, parse_error="no headers"), Outcome.NEEDS_REVIEW, (), None),
        (replace(GOOD, candidates=0, documents=(), understandings=(), matches=()),
         Outcome.INCOMPLETE, (Missing.NO_ATTACHMENT,), None),
        (replace(GOOD, documents=(DocumentText("p.pdf", "application/pdf", unreadable="krypterad"),),
                 understandings=(), matches=()),
         Outcome.INCOMPLETE, (Missing.UNREADABLE_ATTACHMENT,), None),
        (replace(GOOD, documents=(DocumentText("bild.jpg", "image/jpeg"),), understandings=(), matches=()),
         Outcome.NEEDS_REVIEW, (), None),
        (replace(GOOD, understandings=(replace(PROTOCOL, doc_type=DocType.PROPOSAL),), matches=()),
         Outcome.INCOMPLETE, (Missing.NOT_PROTOCOL,), None),
        (replace(GOOD, understandings=(replace(PROTOCOL, has_decision=False),)),
         Outcome.INCOMPLETE, (Missing.NO_DECISION,), None),
        (replace(GOOD, understandings=(replace(PROTOCOL, adjusted=False),)),
         Outcome.INCOMPLETE, (Missing.NOT_ADJUSTED,), None),
        (replace(GOOD, understandings=(replace(PROTOCOL, year=2016),)),
         Outcome.INCOMPLETE, (Missing.WRONG_YEAR,), None),
        (replace(GOOD, matches=BOTH[:1]), Outcome.INCOMPLETE, (Missing.REGISTERED_UNIT_MISSING,),
         UnitState.CONFIRMED),
        (replace(GOOD, late=True), Outcome.INCOMPLETE, (Missing.LATE,), UnitState.NEEDS_REVIEW),
        (replace(GOOD, candidates=0, documents=(), understandings=(), matches=(), late=True),
         Outcome.INCOMPLETE, (Missing.NO_ATTACHMENT, Missing.LATE), None),
        (replace(GOOD, matches=()), Outcome.NEEDS_REVIEW, (), None),
        # A poorly read scan is never confirmed, and never the ground for a notice either.
        (replace(GOOD, understandings=(replace(PROTOCOL, low_confidence=True),)),
         Outcome.NEEDS_REVIEW, (), UnitState.NEEDS_REVIEW),
        (replace(GOOD, understandings=(replace(PROTOCOL, doc_type=DocType.OTHER, low_confidence=True),),
                 matches=()), Outcome.NEEDS_REVIEW, (), None),
        # Issue 4: unknown units, unsure matches, cases and earlier confirmations.
        (replace(GOOD, unknown_mentions=("Förskolan Okänd",)), Outcome.INCOMPLETE, (Missing.UNKNOWN_UNIT,),
         UnitState.CONFIRMED),
        (replace(GOOD, matches=(), unknown_mentions=("Förskolan Okänd",)), Outcome.INCOMPLETE,
         (Missing.UNKNOWN_UNIT, Missing.REGISTERED_UNIT_MISSING), None),
        (replace(GOOD, matches=BOTH[:1], unsure=(UnitMatch("S2", "Förstärkningstearnet", 84, "p.pdf"),)),
         Outcome.NEEDS_REVIEW, (), UnitState.NEEDS_REVIEW),
        # a wrong year is a clear notice, whatever the names resemble
        (replace(GOOD, understandings=(replace(PROTOCOL, year=2016),),
                 unsure=(UnitMatch("S2", "Förstärkningstearnet", 84, "p.pdf"),)),
         Outcome.INCOMPLETE, (Missing.WRONG_YEAR,), None),
        (replace(GOOD, matches=BOTH[:1], already_confirmed=frozenset({"S2"})), Outcome.CONFIRMED, (),
         UnitState.CONFIRMED),
        (replace(GOOD, candidates=0, documents=(), understandings=(), matches=(), follow_up=True),
         Outcome.NEEDS_REVIEW, (), None),
        # No committee in the document and a sender we don't know: a coordinator checks the units.
        (replace(GOOD, understandings=(replace(PROTOCOL, committee=None),)), Outcome.NEEDS_REVIEW, (),
         UnitState.NEEDS_REVIEW),
        (replace(GOOD, understandings=(replace(PROTOCOL, committee=None),), sender="Registrator@stockholm.se"),
         Outcome.CONFIRMED, (), UnitState.CONFIRMED),
        # A well-read protokollsutdrag decides even beside a poorly read photo.
        (replace(GOOD, understandings=(PROTOCOL, replace(PROTOCOL, filename="foto.jpg", low_confidence=True))),
         Outcome.CONFIRMED, (), UnitState.CONFIRMED),
    ],
)
def test_rules(evidence: Evidence, outcome: Outcome, missing: tuple[Missing, ...], state: UnitState | None) -> None:
    decision = decide(evidence)
    assert decision.outcome is outcome
    assert decision.missing == missing
    assert decision.unit_state is state
    assert decision.reasons, "every decision records its reasons"
    assert decision.send_reply is (outcome is not Outcome.IGNORED and evidence.parse_error is None)


def test_missing_units_named() -> None:
    decision = decide(replace(GOOD, matches=BOTH[:1]))
    assert decision.units == ("S1",)
    assert decision.missing_units == ("S2",)  # same board; Bromma's unit is not this board's


def test_reading_notes_reach_the_coordinator() -> None:
    """Pages a reader skipped are named in the reasons, beside the outcome's own."""
    noted = replace(DOC, notes=("sidan 41 lästes inte: dokumentet har fler sidor än 40",))
    decision = decide(replace(GOOD, documents=(noted,)))
    assert decision.outcome is Outcome.CONFIRMED
    assert decision.reasons[-1] == "p.pdf: sidan 41 lästes inte: dokumentet har fler sidor än 40"
    assert len(decision.reasons) == 2
    assert decide(GOOD).reasons == ("Protokollsutdraget är mottaget och alla enheter finns i registret.",)


def test_unknown_mentions_are_named_for_the_reply() -> None:
    decision = decide(replace(GOOD, unknown_mentions=("Förskolan Okänd",)))
    assert decision.unknown_mentions == ("Förskolan Okänd",)
    assert decision.units == ("S1", "S2")
    assert any("Förskolan Okänd" in reason for reason in decision.reasons)


def test_missing_units_are_those_of_the_deciding_committee() -> None:
    """The document names Bromma's committee: Bromma's unit is missing even though none of its units matched."""
    bromma = replace(PROTOCOL, committee="Bromma stadsdelsnämnd")
    decision = decide(replace(GOOD, understandings=(bromma,), matches=BOTH,
                              deciding_boards=frozenset({"Bromma stadsdelsnämnd"})))
    assert decision.missing_units == ("B1",)
    assert decision.missing == (Missing.REGISTERED_UNIT_MISSING,)
