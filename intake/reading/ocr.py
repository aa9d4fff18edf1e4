"""Reads the text of page images with tesseract: levelled, scaled, and within a time budget.

One tesseract call per page gives both the text and the word confidences (TSV).
Before it, the page's small skew is levelled and small text enlarged (see
deskew). A page that reads badly is checked for a quarter turn with tesseract's
orientation detection (OSD, 1.8 s, so only then) and read again if turned. A page
that can't be read in time comes back empty with confidence 0 and a Swedish note,
so the document is never trusted alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from intake.domain import LOW_OCR_CONFIDENCE, Page
from intake.reading import deskew, perspective, tools
from intake.reading.tools import OcrError, OcrTimeout, OcrUnavailable

log = logging.getLogger(__name__)

PAGE_SEGMENTATION = "3"  # fully automatic layout: tesseract's default
TARGET_LINE_HEIGHT = 30.0  # pixels of a 10-point text line at 300 dpi, as deskew.measure sees it
MIN_LINE_HEIGHT = 20.0  # smaller text (a downsized phone photo) is enlarged to TARGET_LINE_HEIGHT
MAX_LINE_HEIGHT = 120.0  # larger text (a close-up photo) is reduced: more pixels only cost time
MAX_UPSCALE = 3.0
QUARTER_TURNS = {  # OSD's clockwise degrees as Pillow's counter-clockwise transpositions
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}

OCR_MISSING = "texten kunde inte läsas: OCR saknas på servern"
TIMEOUT_NOTE = "sidan {page}: textigenkänningen tog för lång tid och avbröts"
FAILED_NOTE = "sidan {page} kunde inte läsas med textigenkänning"
BUDGET_NOTE = "sidan {page} lästes inte: tiden för textigenkänning av dokumentet tog slut"
MISSING_NOTE = "sidan {page} är en bild och kunde inte läsas: OCR saknas på servern"

# Loads a page image within a deadline, into a work folder; with the file holding it, if any.
Loader = Callable[[float, Path], tuple[Image.Image, Path | None]]


@dataclass(frozen=True, slots=True)
class OcrText:
    text: str
    confidence: float | None  # mean word confidence 0..100; None when no word was found


@dataclass(slots=True)
class Budget:
    """OCR time for one document: each page gets page_seconds, all pages document_seconds."""

    page_seconds: float
    document_seconds: float
    started: float = field(default_factory=time.monotonic)

    def page_deadline(self) -> float:
        return min(time.monotonic() + self.page_seconds, self.started + self.document_seconds)

    @property
    def spent(self) -> bool:
        return time.monotonic() >= self.started + self.document_seconds


def failed_page(number: int) -> Page:
    """A page OCR could not read: empty, and confidence 0 so the document isn't trusted alone."""
    return Page(number=number, text="", method="ocr", confidence=0.0)


def read_page(number: int, load: Loader, budget: Budget, workdir: Path) -> tuple[Page, str | None]:
    """One page by OCR, or an empty page and a note saying why not. OcrUnavailable passes."""
    if budget.spent:
        return failed_page(number), BUDGET_NOTE.format(page=number)
    deadline = budget.page_deadline()
    try:
        image, source = load(deadline, workdir)
        result = recognise(image, deadline, workdir, source)
    except OcrUnavailable:
        raise
    except OcrTimeout as exc:
        log.warning("OCR of page %d stopped: %s", number, exc)
        return failed_page(number), TIMEOUT_NOTE.format(page=number)
    except (OcrError, OSError, ValueError) as exc:  # OSError, ValueError: Pillow on a bad image
        log.warning("OCR of page %d failed: %s: %s", number, type(exc).__name__, exc)
        return failed_page(number), FAILED_NOTE.format(page=number)
    return Page(number=number, text=result.text, method="ocr", confidence=result.confidence), None


def recognise(image: Image.Image, deadline: float, workdir: Path, source: Path | None = None) -> OcrText:
    """The text of a grayscale page image, levelled and scaled for tesseract first.

    `source` is a file that already holds exactly `image`: saved again only if changed."""
    prepared, layout = _prepare(image)
    path = source if prepared is image and source is not None else _save(prepared, workdir / "ocr.pgm")
    result = _tesseract(path, deadline)
    # OSD costs ~2 s, so it is asked only when the page read badly; when no word was
    # read at all, the page is blank or too poor for OSD too (a turned page reads as junk)
    badly = result.confidence is not None and result.confidence < LOW_OCR_CONFIDENCE
    if badly and "osd" in tools.languages():
        result = _turned_if_better(image, path, result, deadline, workdir)
    if result.confidence is None and layout.line_height is not None:
        # lines of ink, yet no word read: a page too poor to read, not a blank one
        return OcrText(result.text, 0.0)
    return result


def _turned_if_better(
    image: Image.Image, path: Path, result: OcrText, deadline: float, workdir: Path
) -> OcrText:
    """The reading of the image given a quarter turn, if OSD says so and it reads better."""
    try:
        turn = _orientation(path, deadline)
        if not turn:
            return result
        log.info("page is turned %d°; reading it again", turn)
        turned, _ = _prepare(image.transpose(QUARTER_TURNS[turn]))
        again = _tesseract(_save(turned, workdir / "ocr-turned.pgm"), deadline)
    except OcrTimeout:  # the first reading stands; its low confidence marks it
        log.info("no time left to check the page's orientation")
        return result
    return again if (again.confidence or 0.0) > (result.confidence or 0.0) else result


def parse_tsv(tsv: str) -> OcrText:
    """Text with tesseract's line and paragraph breaks, and the mean confidence of its words."""
    paragraphs: list[list[list[str]]] = []
    last_paragraph: list[str] = []
    last_line: list[str] = []
    confidences: list[float] = []
    for row in tsv.splitlines()[1:]:
        columns = row.split("\t")
        if len(columns) < 12 or columns[0] != "5" or not columns[11].strip():
            continue  # levels 1-4 are page, block, paragraph and line boxes; 5 are words
        try:
            confidence = float(columns[10])
        except ValueError:
            continue
        if columns[1:4] != last_paragraph or not paragraphs:
            paragraphs.append([])
        if columns[1:5] != last_line or not paragraphs[-1]:
            paragraphs[-1].append([])
        last_paragraph, last_line = columns[1:4], columns[1:5]
        paragraphs[-1][-1].append(columns[11].strip())
        if confidence >= 0:
            confidences.append(confidence)
    text = "\n\n".join("\n".join(" ".join(words) for words in lines) for lines in paragraphs)
    return OcrText(text, round(sum(confidences) / len(confidences), 1) if confidences else None)


def _prepare(image: Image.Image) -> tuple[Image.Image, deskew.Layout]:
    """Cut the sheet out of a photo, even its light, scale text lines to a size tesseract reads well,
    level any skew."""
    sheet = perspective.find_sheet(image)
    if sheet is not None:
        image = perspective.flatten(image, sheet, fill=255)
    image = perspective.even_light(image)
    layout = deskew.measure(image)
    if layout.content is not None:
        image = image.crop(layout.content)  # the margins hold nothing, and cost OCR and levelling time
    height = layout.line_height
    factor = 1.0
    if height is not None and height < MIN_LINE_HEIGHT:
        factor = min(MAX_UPSCALE, TARGET_LINE_HEIGHT / height)
    elif height is not None and height > MAX_LINE_HEIGHT:
        factor = 2 * TARGET_LINE_HEIGHT / height
    if factor != 1.0:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    if layout.angle:
        # bilinear, not nearest (0.13 s against 0.03 s on an A4 page at 300 dpi): nearest
        # neighbour's stair-stepped strokes cost small glyphs, "(Soc/LSS)" read as "SOcILSS"
        image = image.rotate(
            layout.angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=layout.paper
        )
    return image, layout


def _save(image: Image.Image, path: Path) -> Path:
    image.save(path, format="PPM")  # mode L makes a PGM: quick to write and to read
    return path


def _tesseract(path: Path, deadline: float) -> OcrText:
    options = ["-l", tools.LANGUAGE, "--psm", PAGE_SEGMENTATION, "--dpi", str(tools.RENDER_DPI), "tsv"]
    output = tools.run([tools.TESSERACT, str(path), "-", *options], deadline)
    return parse_tsv(output.decode("utf-8", "replace"))


def _orientation(path: Path, deadline: float) -> int:
    """Degrees (90, 180, 270) to turn the image clockwise to stand upright; 0 when upright or unsure."""
    try:
        output = tools.run([tools.TESSERACT, str(path), "-", "--psm", "0"], deadline)
    except (OcrUnavailable, OcrTimeout):
        raise
    except OcrError as exc:  # too few letters to tell: keep the page as it is
        log.info("orientation detection failed: %s", exc)
        return 0
    for line in output.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Rotate" and value.strip() in ("90", "180", "270"):
            return int(value)
    return 0
