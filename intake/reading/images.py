"""Reads photos and scans (JPEG, PNG, TIFF, GIF, HEIC) by OCR, one page per TIFF frame.

Each frame is turned upright by its EXIF orientation (phones store photos sideways
and say so in a tag), made grayscale on a white background, and handed to ocr,
which levels, scales and reads it. Pixel counts are checked from the header before
anything is decoded, so a decompression bomb is refused without unpacking it;
JPEGs are decoded at a reduced size (Pillow's draft mode) when they are larger
than OCR needs, which keeps a 48-megapixel photo to a few tens of MB.
"""

from __future__ import annotations

import functools
import io
import logging
import tempfile
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from intake.domain import Attachment, DocumentText, Page
from intake.reading import ocr, tools
from intake.reading.pdf import PAGE_LIMIT_NOTE

log = logging.getLogger(__name__)

MAX_IMAGE_PIXELS = 40_000_000  # decoded at full size: an A4 page scanned at 600 dpi is 35 M
MAX_JPEG_PIXELS = 250_000_000  # declared: JPEGs are decoded reduced, so a 200 MP photo still reads
OCR_PIXELS = 10_000_000  # a JPEG is reduced while it stays this large: an A4 page at 300 dpi is 8.7 M
# What Pillow raises on damaged or truncated files
IMAGE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    Image.DecompressionBombError,
)

CORRUPT_IMAGE = "bildfilen är skadad och kan inte läsas"
IMAGE_TOO_LARGE = "bilden är för stor för att läsas (över {mp} megapixlar)"
HEIC_UNSUPPORTED = "HEIC-bilder (iPhone-foton) kan inte läsas på servern"


class TooLarge(Exception):
    """The image has more pixels than we decode."""


def read_image(
    attachment: Attachment, *, heic: bool, max_pages: int, page_seconds: float, document_seconds: float
) -> DocumentText:
    """The text of every frame by OCR, or a Swedish reason in `unreadable`."""

    def unreadable(reason: str) -> DocumentText:
        return DocumentText(attachment.filename, "", unreadable=reason)

    if heic and not _heif_registered():
        return unreadable(HEIC_UNSUPPORTED)
    try:
        tools.check()
    except tools.OcrUnavailable as exc:
        log.error("an image needs OCR, which is not available: %s", exc)
        return unreadable(ocr.OCR_MISSING)
    pages: list[Page] = []
    notes: list[str] = []
    budget = ocr.Budget(page_seconds, document_seconds)
    with warnings.catch_warnings(), tempfile.TemporaryDirectory(prefix="intake-ocr-") as folder:
        # our own pixel limits apply; Pillow's warning between its limit and twice it would only be noise
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(attachment.data))
            # a TIFF's frames are the pages of a scan; other formats' frames are animation
            frames = getattr(image, "n_frames", 1) if image.format == "TIFF" else 1
        except Image.DecompressionBombError:
            return unreadable(IMAGE_TOO_LARGE.format(mp=MAX_IMAGE_PIXELS // 1_000_000))
        except IMAGE_ERRORS as exc:
            log.info("image %r unreadable: %s: %s", attachment.filename, type(exc).__name__, exc)
            return unreadable(CORRUPT_IMAGE)
        if frames > max_pages:
            notes.append(PAGE_LIMIT_NOTE.format(read=max_pages, count=frames))
        for number in range(1, min(frames, max_pages) + 1):
            try:
                image.seek(number - 1)
                frame = _prepared(image)
            except TooLarge as exc:
                log.warning("image %r refused: %s", attachment.filename, exc)
                return unreadable(IMAGE_TOO_LARGE.format(mp=MAX_IMAGE_PIXELS // 1_000_000))
            except IMAGE_ERRORS as exc:
                log.info("frame %d of %r unreadable: %r", number, attachment.filename, exc)
                if not pages:
                    return unreadable(CORRUPT_IMAGE)
                notes.append(ocr.FAILED_NOTE.format(page=number))
                break

            def load(deadline: float, workdir: Path, frame: Image.Image = frame) -> tuple[Image.Image, None]:
                return frame, None

            page, note = ocr.read_page(number, load, budget, Path(folder))
            pages.append(page)
            if note:
                notes.append(note)
    return DocumentText(attachment.filename, "", tuple(pages), notes=tuple(notes))


def _prepared(image: Image.Image) -> Image.Image:
    """The current frame decoded, upright and grayscale on white. Raises TooLarge."""
    pixels = image.width * image.height
    if image.format == "JPEG" and pixels <= MAX_JPEG_PIXELS:
        reduction = 1
        while reduction < 8 and pixels // ((2 * reduction) ** 2) >= OCR_PIXELS:
            reduction *= 2
        # decodes only the luminance, at 1/reduction of the size: far less memory and time
        image.draft("L", (image.width // reduction, image.height // reduction))
    elif pixels > MAX_IMAGE_PIXELS:
        raise TooLarge(f"{image.width}x{image.height} pixels")
    image.load()
    upright = ImageOps.exif_transpose(image) or image
    if upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info):
        # a transparent background would turn black in grayscale: put the image on white paper
        paper = Image.new("RGBA", upright.size, "white")
        paper.alpha_composite(upright.convert("RGBA"))
        upright = paper
    elif upright.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        upright = upright.convert("I").point(lambda value: value / 256)  # 16-bit scans: keep the top 8 bits
    return upright.convert("L")


@functools.cache
def _heif_registered() -> bool:
    """Whether pillow-heif is installed and Pillow now opens HEIC/HEIF files."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        log.error("HEIC images can't be read: install pillow-heif")
        return False
    register_heif_opener()
    return True
