"""Classification and field extraction over the labelled corpus (issue 3), one test per item and field.

Each item is generated (tests/corpus), read with intake.reading (containers expanded
when that module exists), understood with intake.understanding, and every field its
label knows is asserted. Kinds of file the reading package cannot read at all yet
(probed with a clean sample) are marked xfail for those kinds only, never skipped.
The corpus size keeps the run near two minutes: OCR costs about 2 s a page.
"""

from __future__ import annotations

from functools import cache

import pytest

from intake.text import fold
from tests.corpus import Planned, plan, render_item
from tests.corpus.scoring import Result, check, fields_of, missing_readers, run

CORPUS_SEED = 3
CORPUS_SIZE = 56  # ~40 text PDF / DOCX / mail items and ~15 scans and photos with the default shares
PLANNED = plan(CORPUS_SEED, CORPUS_SIZE)
CASES = [(item, field) for item in PLANNED for field in fields_of(item.content.label)]


@cache
def outcome(index: int) -> Result:
    return run(render_item(PLANNED[index]))


@pytest.mark.parametrize(("item", "field"), CASES, ids=[f"{item.name}-{field}" for item, field in CASES])
def test_field(item: Planned, field: str, request: pytest.FixtureRequest) -> None:
    reason = missing_readers().get(item.kind)
    if reason:
        request.applymarker(pytest.mark.xfail(strict=False, reason=reason))
    result = check(field, item.content.label, outcome(item.index))
    assert result.ok, result.message(item.name)


def test_corpus_has_every_kind_and_document_type() -> None:
    kinds = {item.kind for item in PLANNED}
    types = {item.content.label.doc_type for item in PLANNED}
    assert kinds == {"text_pdf", "scan_pdf", "ocr_layer_pdf", "docx", "photo", "forwarded_eml", "long_minutes"}
    assert types == {"protokollsutdrag", "tjansteutlatande", "tavlingsbidrag", "other"}
    assert {"seed_000", "seed_001", "seed_002", "seed_003"} <= {item.content.variant for item in PLANNED}


def test_generation_is_deterministic() -> None:
    again = plan(CORPUS_SEED, CORPUS_SIZE)
    assert [item.content.label for item in again] == [item.content.label for item in PLANNED]
    for index in (4, 5, 6):  # a few items rendered twice give the same bytes
        assert render_item(again[index]).data == render_item(PLANNED[index]).data


@pytest.mark.parametrize("item", [i for i in PLANNED if i.kind in ("text_pdf", "long_minutes")],
                         ids=lambda item: item.name)
def test_labels_match_the_printed_text(item: Planned) -> None:
    """The generator's own check: what a label says is printed in the document (via pypdf, not our readers)."""
    import io

    from pypdf import PdfReader

    pages = PdfReader(io.BytesIO(render_item(item).data)).pages
    text = fold("\n".join(page.extract_text() for page in pages)).replace(" ", "")
    label = item.content.label
    for written in label.written:  # spaces dropped: fold joins "vård-\noch" into "vardoch"
        assert fold(written).replace(" ", "") in text, written
    if label.year is not None:
        assert str(label.year) in text
    if label.paragraph is not None:
        assert label.paragraph.split()[1] in text
