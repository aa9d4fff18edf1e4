"""Reads a PDF page by page: the file's own text where it is real text, OCR where it is not.

pypdf gives each page's text layer (about 4 ms a page). A page whose layer is
missing, too short beside an image, or gibberish (see textlayer) is rendered by
pdftoppm and read by tesseract. pypdf's decompression limits are tightened for
the time of the reading, and a page whose content or images would unpack beyond
them makes the whole file a decompression bomb: unreadable, and never rendered.
"""

from __future__ import annotations

import io
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from pypdf import PageObject, PasswordType, PdfReader, apply_configuration
from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PyPdfError
from pypdf.generic import DictionaryObject

from intake.domain import Attachment, DocumentText, Page
from intake.reading import ocr, textlayer, tools

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/pdf"
MAX_DECODED_STREAM_BYTES = 20_000_000  # one page's content; pypdf's default is 75 MB per stream
MAX_IMAGE_PIXELS = 150_000_000  # declared size of one image: A4 scanned at 1200 dpi is 140 M
VECTOR_TEXT_BYTES = 20_000  # a page with no text but this much drawing may be text drawn as outlines
TEXT_SECONDS = 60.0  # for pypdf on one document; its limits bound each stream, this the whole
MAX_RESOURCE_DEPTH = 4  # form XObjects nested deeper are not searched for images
DEFAULT_PAGE_SIZE = (595.0, 842.0)  # A4 in points, for a page whose size can't be read

# What pypdf raises on damaged files: its own errors, NotImplementedError for filters
# and security handlers it lacks, and plain Python errors (asserts included) from
# malformed objects.
PDF_ERRORS = (
    PyPdfError,
    NotImplementedError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    ArithmeticError,
    AssertionError,
    RecursionError,
)

CORRUPT_PDF = "PDF-filen är skadad och kan inte läsas"
ENCRYPTED_PDF = "PDF-filen är krypterad/lösenordsskyddad och kan inte läsas"
BOMB_PDF = "PDF-filen packas upp till en orimlig storlek och läses därför inte"
PAGE_LIMIT_NOTE = "bara de första {read} av {count} sidorna lästes"
TEXT_TIME_NOTE = "sidorna {first}–{last} lästes inte: läsningen tog för lång tid"


class Bomb(Exception):
    """A page would unpack beyond our limits."""


def read_pdf(
    attachment: Attachment, *, max_pages: int, page_seconds: float, document_seconds: float
) -> DocumentText:
    """The PDF's text page by page, OCR where needed, or a Swedish reason in `unreadable`."""

    def unreadable(reason: str) -> DocumentText:
        return DocumentText(attachment.filename, MEDIA_TYPE, unreadable=reason)

    with apply_configuration(
        zlib_maximum_output_length=MAX_DECODED_STREAM_BYTES,
        lzw_maximum_output_length=MAX_DECODED_STREAM_BYTES,
        run_length_maximum_output_length=MAX_DECODED_STREAM_BYTES,
        jbig2_maximum_output_length=MAX_DECODED_STREAM_BYTES,
        array_based_stream_maximum_output_length=MAX_DECODED_STREAM_BYTES,
    ):
        try:
            pdf, reason = _open(attachment.data)
            if pdf is None:
                return unreadable(reason or CORRUPT_PDF)
            pages, to_ocr, notes = _text_layers(pdf, max_pages)
        except Bomb as exc:
            log.warning("%r is a decompression bomb: %s", attachment.filename, exc)
            return unreadable(BOMB_PDF)
        except FileNotDecryptedError:
            return unreadable(ENCRYPTED_PDF)
        if not pages:
            return unreadable(CORRUPT_PDF)
        if to_ocr:
            try:
                notes += _ocr(attachment.data, pages, to_ocr, ocr.Budget(page_seconds, document_seconds))
            except tools.OcrUnavailable as exc:
                log.error("a PDF needs OCR, which is not available: %s", exc)
                if not any(page.text.strip() for page in pages):
                    return unreadable(ocr.OCR_MISSING)
                notes += [ocr.MISSING_NOTE.format(page=page.number) for page in to_ocr]
                for page in to_ocr:
                    pages[page.number - 1] = ocr.failed_page(page.number)
    return DocumentText(attachment.filename, MEDIA_TYPE, tuple(pages), notes=tuple(notes))


def _open(data: bytes) -> tuple[PdfReader | None, str | None]:
    try:
        pdf = PdfReader(io.BytesIO(data), strict=False)
        encrypted = pdf.is_encrypted
    except PDF_ERRORS as exc:
        log.info("corrupt PDF: %s: %s", type(exc).__name__, exc)
        return None, CORRUPT_PDF
    try:
        if encrypted and pdf.decrypt("") == PasswordType.NOT_DECRYPTED:
            return None, ENCRYPTED_PDF
    except DependencyError:
        # AES needs the cryptography package: our setup's fault, not the sender's
        log.error("cannot decrypt an AES-encrypted PDF: install pypdf[crypto]")
        return None, ENCRYPTED_PDF
    except PDF_ERRORS as exc:  # NotImplementedError: a security handler pypdf lacks
        log.info("PDF could not be decrypted: %s: %s", type(exc).__name__, exc)
        return None, ENCRYPTED_PDF
    return pdf, None


@dataclass(frozen=True, slots=True)
class _Ocr:
    """A page marked for OCR: its number and its size in points."""

    number: int
    size: tuple[float, float]


def _text_layers(pdf: PdfReader, max_pages: int) -> tuple[list[Page], list[_Ocr], list[str]]:
    """Each page's own text, and which pages need OCR. Raises Bomb; empty pages: all broken."""
    try:
        count = len(pdf.pages)
    except FileNotDecryptedError:
        raise
    except PDF_ERRORS as exc:
        log.info("corrupt PDF: %s: %s", type(exc).__name__, exc)
        return [], [], []
    notes: list[str] = []
    if count > max_pages:
        log.warning("PDF has %d pages; reading the first %d", count, max_pages)
        notes.append(PAGE_LIMIT_NOTE.format(read=max_pages, count=count))
    pages: list[Page] = []
    to_ocr: list[_Ocr] = []
    failures = 0
    deadline = time.monotonic() + TEXT_SECONDS
    for index in range(min(count, max_pages)):
        if time.monotonic() > deadline:
            notes.append(TEXT_TIME_NOTE.format(first=index + 1, last=min(count, max_pages)))
            break
        try:
            page = pdf.pages[index]
            drawing = _content_bytes(page)
            has_images = _largest_image(page.get("/Resources"), MAX_RESOURCE_DEPTH) > 0
            text = page.extract_text() or ""
        except (Bomb, FileNotDecryptedError):
            raise
        except PDF_ERRORS as exc:
            # one broken page (a damaged scan) shouldn't hide the readable others
            log.info("page %d of a PDF unreadable: %s: %s", index + 1, type(exc).__name__, exc)
            failures += 1
            pages.append(Page(number=index + 1, text=""))
            continue
        pages.append(Page(number=index + 1, text=text))
        if _needs_ocr(text, has_images, drawing):
            to_ocr.append(_Ocr(index + 1, _size(page)))
    if pages and failures == len(pages):
        return [], [], []
    return pages, to_ocr, notes


def _needs_ocr(text: str, has_images: bool, drawing: int) -> bool:
    assessment = textlayer.assess(text)
    if assessment.letters < textlayer.MIN_LETTERS:
        # a short page without images is just short (a signature page); with a scan
        # on it, or much drawing (text as outlines), the text is in the picture
        return has_images or drawing >= VECTOR_TEXT_BYTES
    return assessment.gibberish


def _content_bytes(page: PageObject) -> int:
    """Bytes of the page's decoded content; raises Bomb beyond MAX_DECODED_STREAM_BYTES."""
    try:
        contents = page.get_contents()
        return len(contents.get_data()) if contents is not None else 0
    except LimitReachedError as exc:  # extract_text() would swallow it and return ""
        raise Bomb(str(exc)) from exc


def _largest_image(resources: object, depth: int) -> int:
    """Pixels of the largest image on the page, looking into forms; raises Bomb beyond MAX_IMAGE_PIXELS."""
    resources = getattr(resources, "get_object", lambda: resources)()
    if depth <= 0 or not isinstance(resources, DictionaryObject):
        return 0
    xobjects = resources.get("/XObject")
    xobjects = getattr(xobjects, "get_object", lambda: xobjects)()
    if not isinstance(xobjects, DictionaryObject):
        return 0
    largest = 0
    for reference in xobjects.values():
        xobject = reference.get_object()
        if not isinstance(xobject, DictionaryObject):
            continue
        if xobject.get("/Subtype") == "/Image":
            pixels = int(xobject.get("/Width", 0)) * int(xobject.get("/Height", 0))
            if pixels > MAX_IMAGE_PIXELS:
                raise Bomb(f"an image of {pixels} pixels")
            largest = max(largest, pixels)
        elif xobject.get("/Subtype") == "/Form":
            largest = max(largest, _largest_image(xobject.get("/Resources"), depth - 1))
    return largest


def _size(page: PageObject) -> tuple[float, float]:
    try:
        box = page.cropbox
        unit = float(page.get("/UserUnit", 1.0))
        return abs(float(box.width)) * unit, abs(float(box.height)) * unit
    except PDF_ERRORS:
        return DEFAULT_PAGE_SIZE


def _ocr(data: bytes, pages: list[Page], to_ocr: list[_Ocr], budget: ocr.Budget) -> list[str]:
    """Replace the marked pages with their OCR reading; the notes of pages that failed."""
    tools.check(pdf=True)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="intake-ocr-") as folder:
        pdf_path = Path(folder) / "document.pdf"
        pdf_path.write_bytes(data)
        for marked in to_ocr:

            def load(deadline: float, workdir: Path, marked: _Ocr = marked) -> tuple[Image.Image, Path]:
                rendered = tools.render_pdf_page(pdf_path, marked.number, marked.size, deadline)
                with Image.open(rendered) as image:
                    return image.convert("L"), rendered

            page, note = ocr.read_page(marked.number, load, budget, Path(folder))
            pages[marked.number - 1] = page
            if note:
                notes.append(note)
            for image_file in Path(folder).glob("*.pgm"):  # 9 MB a page: don't keep 40 of them
                image_file.unlink()
    return notes
