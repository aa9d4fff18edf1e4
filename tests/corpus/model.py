"""The corpus's record types: what a document is (`Label`) and one generated file (`CorpusItem`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("text_pdf", "scan_pdf", "ocr_layer_pdf", "docx", "photo", "forwarded_eml", "long_minutes")
OCR_KINDS = frozenset({"scan_pdf", "photo"})  # read only through OCR


@dataclass(frozen=True, slots=True)
class Label:
    """The truth about one document, as a coordinator would read it."""

    doc_type: str  # an intake.domain.DocType value
    committee: str | None = None  # canonical: "Spånga-Tensta stadsdelsnämnd"
    meeting_date: str | None = None  # ISO
    paragraph: str | None = None  # "§ 14"
    diarienummer: str | None = None  # as written, without the "Dnr" label
    year: int | None = None  # the award year the document concerns
    has_decision: bool = False
    adjusted: bool = False
    certified: bool = False
    units: tuple[str, ...] = ()  # exactly as registered
    written: tuple[str, ...] = ()  # the same units as this document writes them (same order)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CorpusItem:
    name: str  # readable and unique: "017-scan_pdf-sdn_extract"
    kind: str  # one of KINDS
    filename: str
    content_type: str
    data: bytes = field(repr=False)
    label: Label
    variant: str = ""  # the template or negative case: "sdn_extract", "bordlagd", "seed_002"
    pages: int = 1
