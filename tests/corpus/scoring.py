"""Runs the bot's readers and understanding on corpus items and scores the result against the labels.

Shared by tests/test_corpus.py (assertions per field) and bench/corpus.py (accuracy
figures), so both judge a document the same way. The reading package is
used through whatever it offers at run time: containers are expanded when
`intake.reading.containers.expand_attachments` exists, and `missing_readers`
probes each kind of file with a clean sample to tell "no reader yet" from "reads badly".
"""

from __future__ import annotations

import importlib
import inspect
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from intake.domain import Attachment, DocType, DocumentText, Understanding
from intake.reading import read_document
from intake.text import fold
from intake.understanding import understand
from tests.corpus.model import CorpusItem, Label

FUZZY_MIN = 90.0  # rapidfuzz ratio on folded names that still counts as the same unit (OCR damage)
FIELDS = {
    DocType.PROTOCOL.value: ("doc_type", "committee", "meeting_date", "paragraph", "year", "has_decision",
                             "adjusted", "units"),
    DocType.PROPOSAL.value: ("doc_type", "committee", "year", "units"),
    DocType.CONTRIBUTION.value: ("doc_type", "year"),
    DocType.OTHER.value: ("doc_type",),
}
BENCH_ONLY = {DocType.PROTOCOL.value: ("certified", "diarienummer"), DocType.PROPOSAL.value: ("diarienummer",)}
DNR_LABEL = re.compile(r"^\s*(?:dnr|d\s*nr|diarienummer|diarienr)\s*[:.]?\s*", re.IGNORECASE)

_ratio: Callable[[str, str], float] | None
try:
    from rapidfuzz.fuzz import ratio as _ratio
except ImportError:  # rapidfuzz is a dependency; kept optional here so the corpus runs anywhere
    _ratio = None


@dataclass(frozen=True, slots=True)
class Result:
    """What the bot made of one corpus item."""

    documents: tuple[DocumentText, ...]
    understanding: Understanding | None  # of the document with the most text
    read_seconds: float
    understand_seconds: float

    @property
    def text(self) -> str:
        return self.understanding.text if self.understanding else ""


@dataclass(frozen=True, slots=True)
class Check:
    field: str
    ok: bool
    expected: Any
    got: Any

    def message(self, name: str) -> str:
        return f"{name}: {self.field} expected {self.expected!r}, got {self.got!r}"


@cache
def _expander() -> Callable[[list[Attachment]], list[Attachment]] | None:
    try:
        module = importlib.import_module("intake.reading.containers")
    except ImportError:
        return None
    expand = getattr(module, "expand_attachments", None)
    if expand is None:
        return None
    parameters = inspect.signature(expand).parameters
    extra: dict[str, Any] = {}
    if "parse" in parameters:  # mails inside containers are parsed by the caller's parser
        from intake.parsing import parse_mail

        extra["parse"] = parse_mail
    if next(iter(parameters)).endswith("s"):  # takes the mail's attachments
        return lambda attachments: list(expand(attachments, **extra))
    return lambda attachments: [part for a in attachments for part in expand(a, **extra)]


def attachments_of(item: CorpusItem) -> list[Attachment]:
    attachment = Attachment(item.filename, item.content_type, item.data, "attachment")
    expand = _expander()
    return expand([attachment]) if expand else [attachment]


def run(item: CorpusItem) -> Result:
    """Reads every file the item holds and understands the one with the most text."""
    started = time.perf_counter()
    documents = tuple(read_document(a) for a in attachments_of(item))
    read = time.perf_counter() - started
    readable = [d for d in documents if d.text.strip()]
    if not readable:
        return Result(documents, None, read, 0.0)
    started = time.perf_counter()
    understanding = understand(max(readable, key=lambda d: len(d.text)))
    return Result(documents, understanding, read, time.perf_counter() - started)


def fields_of(label: Label, bench: bool = False) -> tuple[str, ...]:
    """The fields a label makes a claim about: by document type, and only where the label knows the value."""
    fields = FIELDS[label.doc_type] + (BENCH_ONLY.get(label.doc_type, ()) if bench else ())
    return tuple(f for f in fields if f == "units" and label.units or f != "units" and getattr(label, f) is not None)


def same_unit(mention: str, registered: str, written: str) -> bool:
    """A mention names a unit: folded-equal to its registered or written name, or OCR-close to one."""
    folded = fold(mention)
    for name in (registered, written):
        target = fold(name)
        if folded == target or (_ratio is not None and _ratio(folded, target) >= FUZZY_MIN):
            return True
    return False


def found_units(label: Label, mentions: Iterable[str]) -> tuple[list[str], list[str]]:
    """(labelled units found among the mentions, mentions that name no labelled unit)."""
    mentions = list(mentions)
    found = [reg for reg, wr in zip(label.units, label.written, strict=True)
             if any(same_unit(m, reg, wr) for m in mentions)]
    strays = [m for m in mentions if not any(same_unit(m, reg, wr)
                                             for reg, wr in zip(label.units, label.written, strict=True))]
    return found, strays


def _paragraph(value: str | None) -> str | None:
    return None if value is None else re.sub(r"\s+", "", value).rstrip(".")


def _dnr(value: str | None) -> str | None:
    return None if value is None else re.sub(r"\s+", "", DNR_LABEL.sub("", value)).casefold()


def check(field: str, label: Label, result: Result) -> Check:
    u = result.understanding
    if field == "doc_type":
        got: Any = u.doc_type.value if u else None
        return Check(field, got == label.doc_type, label.doc_type, got)
    if field == "units":
        found, _ = found_units(label, u.mentions if u else ())
        missing = [name for name in label.units if name not in found]
        return Check(field, not missing, list(label.units), {"missing": missing,
                                                             "mentions": list(u.mentions) if u else []})
    expected = getattr(label, field)
    got = getattr(u, field) if u else None
    if field == "committee":
        return Check(field, got is not None and fold(got) == fold(expected), expected, got)
    if field == "meeting_date":
        got = got.isoformat() if got else None
    elif field == "paragraph":
        return Check(field, _paragraph(got) == _paragraph(expected), expected, got)
    elif field == "diarienummer":
        return Check(field, _dnr(got) == _dnr(expected), expected, got)
    return Check(field, got == expected, expected, got)


def _probe_items() -> dict[str, CorpusItem]:
    """One clean, easy file per kind: a reader that exists reads these."""
    from tests.corpus import imaging, render
    from tests.corpus.layout import Block, Document

    doc = Document((Block("PROTOKOLLSUTDRAG", "title"), Block("Sammanträdesdatum 2017-06-15"),
                    Block("Beslut Nämnden godkänner anmälan av Förskolan Solrosen.")), size=14.0)
    pdf, _ = render.text_pdf(doc)
    page = imaging.page_images(doc, 300, max_pages=1)[0]
    scan = render.sandwich_pdf([imaging.jpeg(page.convert("L"), 90)], None)
    photo = imaging.jpeg(page.convert("RGB"), 90)
    docx = render.docx(doc, random.Random(0))
    eml = render.forwarded_eml(random.Random(0), ("p.pdf", pdf, "application/pdf"), datetime(2017, 6, 20, 9),
                               "Protokollsutdrag", "Anna Ek", "Per Holm")
    label = Label(DocType.PROTOCOL.value)

    def item(kind: str, name: str, mime: str, data: bytes) -> CorpusItem:
        return CorpusItem(f"probe-{kind}", kind, name, mime, data, label)

    return {"text_pdf": item("text_pdf", "p.pdf", "application/pdf", pdf),
            "scan_pdf": item("scan_pdf", "s.pdf", "application/pdf", scan),
            "photo": item("photo", "p.jpg", "image/jpeg", photo),
            "docx": item("docx", "p.docx", render.DOCX_MIME, docx),
            "forwarded_eml": item("forwarded_eml", "f.eml", "message/rfc822", eml)}


READS_LIKE = {"ocr_layer_pdf": "text_pdf", "long_minutes": "text_pdf"}  # kinds read by another kind's reader


@cache
def missing_readers() -> dict[str, str]:
    """Kinds of file for which the reading package has no reader yet -> why we think so."""
    missing = {}
    for kind, probe in _probe_items().items():
        text = "\n".join(d.text for d in run(probe).documents)
        if not text.strip():
            missing[kind] = f"reader for {kind} not yet available (a clean sample gave no text)"
    for kind, reader in READS_LIKE.items():
        if reader in missing:
            missing[kind] = missing[reader]
    return missing
