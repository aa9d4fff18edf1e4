"""read_document on scans and photos: real pdftoppm and tesseract on images drawn here.

The scans are small crops (a few lines at 300 dpi), so each OCR costs about half
a second; the text is Swedish with å/ä/ö, and OCR may miss a character, so the
words are compared folded and with a little slack (`reads`).
"""

from __future__ import annotations

import io
import random
import struct
import sys
import time
import zlib
from collections.abc import Callable
from difflib import SequenceMatcher

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont
from pypdf import PdfReader, PdfWriter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from intake import reading
from intake.domain import LOW_OCR_CONFIDENCE, Attachment, DocumentText
from intake.reading import deskew, images, ocr, pdf, read_document, textlayer, tools
from intake.text import fold

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # Debian fonts-dejavu-core (./dev installs it)
LINES = (
    "Protokollsutdrag",
    "Förskolan Solrosen",
    "Sammanträdesdatum 2024-03-14",
    "§ 12 Anmälan till kvalitetsutmärkelse",
    "Beslut: Nämnden godkänner anmälan.",
)
KEY_PHRASES = ("Protokollsutdrag", "Förskolan Solrosen", "Sammanträdesdatum", "kvalitetsutmärkelse", "godkänner")
# An excerpt of a real scanner's OCR layer (seed 002): å/ä/ö damaged, but real text.
POOR_OCR_LAYER = """Forvaltningens forslag till beslut
Anmilan noteras och laggs till handlingarna.
Kvalitetsutmérkelsen &r stadens rliga pris for att uppméarksamma
och belona framgéngsrik verksamhetsutveckling. Utmérkelsen
syftar ocksa till att inspirera och skapa dialog om kvalitetsarbete i
alla delar av de verksamheter som staden finansierar, och for att
skapa mesta mojliga nytta for stockholmarna."""


def reads(text: str, phrase: str, slack: float = 0.9) -> bool:
    """Whether the folded text holds the phrase, allowing OCR a wrong or missing letter or two."""
    haystack, needle = fold(text), fold(phrase)
    if needle in haystack:
        return True
    windows = (haystack[at : at + len(needle)] for at in range(max(1, len(haystack) - len(needle) + 1)))
    return any(SequenceMatcher(None, window, needle).ratio() >= slack for window in windows)


def assert_reads_all(document: DocumentText) -> None:
    missed = [phrase for phrase in KEY_PHRASES if not reads(document.text, phrase)]
    assert not missed, f"OCR missed {missed} in {document.text!r}"


def scan(
    lines: tuple[str, ...] = LINES,
    *,
    size: int = 40,
    angle: float = 0.0,
    background: int = 255,
    ink: int = 0,
    noise: float = 0.0,
    blur: float = 0.0,
) -> Image.Image:
    """A grayscale crop of a page at ~300 dpi (40 px is 10 points), as a scanner would give it."""
    font = ImageFont.truetype(FONT, size)
    step = int(size * 1.6)
    width = int(max(font.getlength(line) for line in lines)) + 4 * size
    image = Image.new("L", (width, step * len(lines) + 4 * size), background)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((2 * size, 2 * size + index * step), line, font=font, fill=ink)
    if angle:
        image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=background)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    return grainy(image, noise) if noise else image


def grainy(image: Image.Image, noise: float) -> Image.Image:
    """The image with uniform noise of +-noise gray levels, the same every run."""
    grain = Image.frombytes("L", image.size, random.Random(7).randbytes(image.width * image.height))
    return ImageChops.add(image, grain.point(lambda v: 128 + (v - 128) * noise / 128), offset=-128)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def attachment(data: bytes, filename: str, content_type: str = "application/octet-stream") -> Attachment:
    return Attachment(filename=filename, content_type=content_type, data=data)


def text_pdf(*pages: str) -> bytes:
    buffer = io.BytesIO()
    drawing = canvas.Canvas(buffer)
    for text in pages:
        lines = drawing.beginText(72, 720)
        for line in text.splitlines():
            lines.textLine(line)
        drawing.drawText(lines)
        drawing.showPage()
    drawing.save()
    return buffer.getvalue()


def scan_with_layer(image: Image.Image, layer: str) -> bytes:
    """A PDF page of the scanned image with an invisible text layer over it, as scanners write."""
    width, height = image.width * 72 / 300, image.height * 72 / 300
    buffer = io.BytesIO()
    drawing = canvas.Canvas(buffer, pagesize=(width, height))
    drawing.drawImage(ImageReader(image), 0, 0, width, height)
    text = drawing.beginText(10, height - 20)
    text.setTextRenderMode(3)  # invisible: only the image shows, only the layer is text
    text.setFont("Helvetica", 6)
    for line in layer.splitlines():
        text.textLine(line)
    drawing.drawText(text)
    drawing.showPage()
    drawing.save()
    return buffer.getvalue()


def gibberish(seed: int = 5, words: int = 80) -> str:
    rng = random.Random(seed)
    tokens = ["".join(rng.choice("bcdfghjklmnpqrstvwxzq") for _ in range(rng.randint(3, 9))) for _ in range(words)]
    return "\n".join(" ".join(tokens[at : at + 10]) for at in range(0, words, 10))


@pytest.fixture(scope="module")
def scanned_pdf() -> bytes:
    page = scan(angle=4.0, background=225, noise=12.0)
    return encode(page, "PDF", resolution=300.0)


# --- PDFs ------------------------------------------------------------------------------


def test_text_pdf_keeps_its_own_text() -> None:
    data = text_pdf("Protokollsutdrag § 12\nFörskolan Solrosen, Sammanträdesdatum 2024-03-14\nåäö ÅÄÖ")
    document = read_document(attachment(data, "protokoll.pdf"))
    assert document.unreadable is None and document.notes == ()
    [page] = document.pages
    assert (page.method, page.confidence) == ("text", None)
    assert "§ 12" in page.text and "Förskolan Solrosen" in page.text and "åäö ÅÄÖ" in page.text


def test_scanned_pdf_is_read_by_ocr(scanned_pdf: bytes) -> None:
    document = read_document(attachment(scanned_pdf, "skanning.pdf"))
    assert document.unreadable is None and document.notes == ()
    [page] = document.pages
    assert page.method == "ocr"
    assert page.confidence is not None and page.confidence >= LOW_OCR_CONFIDENCE
    assert not document.low_confidence
    assert_reads_all(document)


def test_gibberish_text_layer_is_replaced_by_ocr() -> None:
    data = scan_with_layer(scan(), gibberish())
    assert textlayer.gibberish(PdfReader(io.BytesIO(data)).pages[0].extract_text())
    document = read_document(attachment(data, "skanning.pdf"))
    [page] = document.pages
    assert page.method == "ocr" and page.confidence is not None
    assert_reads_all(document)


def test_poor_but_real_ocr_layer_is_kept() -> None:
    data = scan_with_layer(scan(), POOR_OCR_LAYER)
    document = read_document(attachment(data, "skanning.pdf"))
    [page] = document.pages
    assert page.method == "text"
    assert "Kvalitetsutmérkelsen" in page.text


@pytest.mark.parametrize(
    ("text", "real"),
    [
        (POOR_OCR_LAYER, True),
        ("Närvarande ledamöter\nAnna Svensson (S) ordförande\nPer Olsson (M)\nLena Berg (V)\nKarin Holm (L)\n"
         "Johan Ek (C)\nMaria Lind (MP)\nTjänstemän\nGöran Öst, förvaltningschef\nEva Ström", True),
        (gibberish(), False),
        (" ".join(f"(cid:{n})" for n in range(3, 200, 7)), False),
        ("".join(chr(0x100 + (n * 37) % 0x1FF) for n in range(600)), False),  # random Latin glyphs
        ("".join(chr((ord(c) - 94) % 26 + 97) if c.islower() else c for c in POOR_OCR_LAYER), False),  # shifted
    ],
    ids=["poor-ocr-layer", "names", "random-letters", "cid", "glyphs", "shifted-encoding"],
)
def test_text_layer_judgement(text: str, real: bool) -> None:
    assert textlayer.usable(text) is real


def test_short_page_without_images_is_not_sent_to_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "TESSERACT", "/nonexistent/tesseract")  # any OCR would show as a note
    document = read_document(attachment(text_pdf("Justerat: Göran Öst § 13"), "p.pdf"))
    assert [(page.method, page.text.strip()) for page in document.pages] == [("text", "Justerat: Göran Öst § 13")]


def test_pdf_beyond_the_page_limit_is_read_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "MAX_PAGES", 3)
    document = read_document(attachment(text_pdf(*(f"sida {n}" for n in range(1, 6))), "p.pdf"))
    assert [page.number for page in document.pages] == [1, 2, 3]
    assert document.notes == ("bara de första 3 av 5 sidorna lästes",)


def test_encrypted_pdf_is_unreadable() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf("Protokollsutdrag"))))
    writer.encrypt("hemligt", algorithm="AES-256")
    buffer = io.BytesIO()
    writer.write(buffer)
    document = read_document(attachment(buffer.getvalue(), "p.pdf"))
    assert document.unreadable == reading.ENCRYPTED_PDF and document.pages == ()


def raw_pdf(page_extra: bytes, *objects: bytes) -> bytes:
    """A minimal PDF with one page; `objects` are numbered from 4 on."""
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] " + page_extra + b" >>",
        *objects,
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(bodies, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(bodies) + 1, xref))
    return out.getvalue()


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d /Filter /FlateDecode %s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def content_bomb() -> bytes:
    """Content that unpacks to 100 MB from 100 KB."""
    return raw_pdf(b"/Contents 4 0 R", stream(zlib.compress(b"0 0 m " * 17_000_000, 9)))


def image_bomb() -> bytes:
    """An image of 400 M pixels on a page with no text."""
    image = b"/Type /XObject /Subtype /Image /Width 20000 /Height 20000 /ColorSpace /DeviceGray"
    return raw_pdf(
        b"/Contents 4 0 R /Resources << /XObject << /Im1 5 0 R >> >>",
        stream(zlib.compress(b"q 595 0 0 842 0 0 cm /Im1 Do Q")),
        stream(zlib.compress(bytes(1000)), image + b" /BitsPerComponent 8"),
    )


@pytest.mark.parametrize("make", [content_bomb, image_bomb], ids=["content", "image"])
def test_decompression_bomb_pdf_is_unreadable(make: Callable[[], bytes]) -> None:
    data = make()
    started = time.monotonic()
    document = read_document(attachment(data, "bomb.pdf"))
    assert document.unreadable == pdf.BOMB_PDF
    assert time.monotonic() - started < 5


# --- images ----------------------------------------------------------------------------


def test_photo_turned_by_its_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90° clockwise to show": the camera stored the photo on its side
    stored = scan(background=235, noise=8.0).transpose(Image.Transpose.ROTATE_90).convert("RGB")
    document = read_document(attachment(encode(stored, "JPEG", exif=exif, quality=85), "IMG_0042.JPG"))
    assert document.media_type == "image/jpeg" and document.unreadable is None
    [page] = document.pages
    assert page.method == "ocr" and page.confidence is not None and page.confidence >= LOW_OCR_CONFIDENCE
    assert_reads_all(document)


def test_image_on_its_side_without_exif_is_turned_by_osd() -> None:
    lines = LINES + ("Justerat av ordföranden och sekreteraren.", "Rätt utdraget intygar Göran Östlund.")
    turned = scan(lines).transpose(Image.Transpose.ROTATE_90)
    document = read_document(attachment(encode(turned, "PNG"), "skanning.png"))
    [page] = document.pages
    assert page.confidence is not None and page.confidence >= LOW_OCR_CONFIDENCE
    assert_reads_all(document)


def test_skewed_photo_is_levelled() -> None:
    page = scan(angle=9.0, background=230)
    assert deskew.measure(page).angle == pytest.approx(-9.0, abs=0.5)
    document = read_document(attachment(encode(page, "PNG"), "foto.png"))
    assert_reads_all(document)


def test_content_box_keeps_faint_marks_far_from_the_text_and_crops_only_white_margins() -> None:
    page = Image.new("L", (2480, 3508), 250)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(FONT, 40)
    draw.text((400, 800), "Förskolan Solrosen", font=font, fill=0)
    draw.text((1900, 3200), "Justerat", font=font, fill=205)  # a faint stamp near a corner
    left, upper, right, lower = deskew.measure(page).content or (0, 0, *page.size)
    assert left <= 400 and upper <= 800
    assert right >= 1900 + font.getlength("Justerat") and lower >= 3240
    assert (right - left) * (lower - upper) < page.width * page.height * 0.8
    assert deskew.measure(Image.new("L", (800, 1000), 250)).content is None  # blank: nothing to keep
    draw.text((1900, 3200), "Justerat", font=font, fill=140)  # one tesseract reads (205 it never does)
    document = read_document(attachment(encode(page, "PNG"), "skanning.png"))
    assert reads(document.text, "Förskolan Solrosen") and reads(document.text, "Justerat")


def test_two_page_tiff_gives_two_pages() -> None:
    first, second = scan(("Sida ett", "Förskolan Solrosen")), scan(("Sida två", "Sammanträdesdatum 2024-03-14"))
    data = encode(first, "TIFF", save_all=True, append_images=[second], compression="tiff_lzw")
    document = read_document(attachment(data, "skanning.tif"))
    assert document.media_type == "image/tiff"
    assert [(page.number, page.method) for page in document.pages] == [(1, "ocr"), (2, "ocr")]
    assert reads(document.pages[0].text, "Förskolan Solrosen")
    assert reads(document.pages[1].text, "Sammanträdesdatum")


def heic(image: Image.Image) -> bytes:
    from pillow_heif import from_pillow

    buffer = io.BytesIO()
    from_pillow(image.convert("RGB")).save(buffer, quality=90)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("make", "media_type"),
    [(lambda image: encode(image, "GIF"), "image/gif"), (heic, "image/heic")],
    ids=["gif", "heic"],
)
def test_gif_and_heic(make: Callable[[Image.Image], bytes], media_type: str) -> None:
    document = read_document(attachment(make(scan(LINES[:2])), "bild"))
    assert document.media_type == media_type and document.unreadable is None
    assert reads(document.text, "Förskolan Solrosen")


@pytest.mark.parametrize(
    ("poor", "words"),
    [
        (scan(size=24, background=200, ink=90, blur=1.5, noise=25.0), True),  # some words, badly
        (scan(size=24, blur=2.2), False),  # lines of ink, not one word
    ],
    ids=["grainy", "blurred"],
)
def test_poor_photo_is_marked_low_confidence(poor: Image.Image, words: bool) -> None:
    document = read_document(attachment(encode(poor, "JPEG", quality=8), "suddig.jpg"))
    assert document.unreadable is None
    [page] = document.pages
    assert page.method == "ocr" and page.confidence is not None and page.confidence < LOW_OCR_CONFIDENCE
    assert bool(page.text.strip()) is words
    assert document.low_confidence


def test_blank_page_is_not_low_confidence() -> None:
    blank = grainy(Image.new("L", (1240, 1754), 235), 12.0)  # the back of a sheet, at 150 dpi
    document = read_document(attachment(encode(blank, "PNG"), "tom.png"))
    assert [(page.text, page.confidence) for page in document.pages] == [("", None)]
    assert not document.low_confidence


def png_bomb(width: int, height: int) -> bytes:
    """A 1-bit black PNG: tens of KB that unpack to width x height pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    packer = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte and the bits
    compressed = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", compressed) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [7_000, 20_000], ids=["over-our-limit", "over-pillows-limit"])
def test_png_decompression_bomb_is_unreadable(side: int) -> None:
    document = read_document(attachment(png_bomb(side, side), "bild.png"))
    assert document.unreadable == reading.IMAGE_TOO_LARGE.format(mp=40)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0" + bytes(random.Random(1).randrange(256) for _ in range(20_000)),
        encode(scan(LINES[:2]), "JPEG")[:3_000],  # cut off in transfer
    ],
    ids=["garbage", "truncated"],
)
def test_corrupt_jpeg_is_unreadable(data: bytes) -> None:
    document = read_document(attachment(data, "foto.jpg", "image/jpeg"))
    assert document.unreadable == reading.CORRUPT_IMAGE


def test_empty_image_is_unreadable() -> None:
    assert read_document(attachment(b"", "foto.jpg", "image/jpeg")).unreadable == reading.EMPTY


# --- OCR missing, slow or out of time ------------------------------------------------------


def test_missing_tesseract_is_a_swedish_reason_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, scanned_pdf: bytes
) -> None:
    monkeypatch.setattr(tools, "TESSERACT", "/nonexistent/tesseract")
    for name, data in (("skanning.pdf", scanned_pdf), ("foto.png", encode(scan(), "PNG"))):
        document = read_document(attachment(data, name))
        assert document.unreadable == reading.OCR_MISSING == "texten kunde inte läsas: OCR saknas på servern"
    assert read_document(attachment(text_pdf(POOR_OCR_LAYER), "p.pdf")).unreadable is None


def test_missing_pdftoppm_is_the_same_reason(monkeypatch: pytest.MonkeyPatch, scanned_pdf: bytes) -> None:
    monkeypatch.setattr(tools, "PDFTOPPM", "/nonexistent/pdftoppm")
    assert read_document(attachment(scanned_pdf, "skanning.pdf")).unreadable == reading.OCR_MISSING


def test_heic_without_pillow_heif_is_a_swedish_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import fails as if not installed
    images._heif_registered.cache_clear()
    try:
        document = read_document(attachment(b"\x00\x00\x00\x18ftypheic" + bytes(100), "IMG_0001.HEIC"))
    finally:
        images._heif_registered.cache_clear()
    assert document.unreadable == reading.HEIC_UNSUPPORTED


def test_child_past_its_deadline_is_killed() -> None:
    started = time.monotonic()
    with pytest.raises(tools.OcrTimeout):
        tools.run(["sleep", "30"], time.monotonic() + 0.3)
    assert time.monotonic() - started < 2


def test_page_out_of_time_is_empty_with_a_note(monkeypatch: pytest.MonkeyPatch, scanned_pdf: bytes) -> None:
    monkeypatch.setattr(reading, "OCR_SECONDS_PER_PAGE", 0.1)
    started = time.monotonic()
    document = read_document(attachment(scanned_pdf, "skanning.pdf"))
    assert time.monotonic() - started < 3  # the child was killed, not waited for
    assert [(page.text, page.method, page.confidence) for page in document.pages] == [("", "ocr", 0.0)]
    assert document.notes == (ocr.TIMEOUT_NOTE.format(page=1),)
    assert document.low_confidence and document.unreadable is None


def test_document_out_of_time_skips_the_remaining_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "OCR_SECONDS_PER_DOCUMENT", 0.0)
    monkeypatch.setattr(reading, "MAX_PAGES", 2)
    data = encode(scan(LINES[:1]), "TIFF", save_all=True, append_images=[scan(LINES[1:2]), scan(LINES[2:3])])
    document = read_document(attachment(data, "skanning.tif"))
    assert [page.confidence for page in document.pages] == [0.0, 0.0]
    assert document.notes == (
        "bara de första 2 av 3 sidorna lästes",
        *(ocr.BUDGET_NOTE.format(page=n) for n in (1, 2)),
    )


# --- the pieces -------------------------------------------------------------------------


def test_tsv_keeps_lines_and_paragraphs_and_averages_word_confidence() -> None:
    head = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [
        "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t",
        "4\t1\t1\t1\t1\t0\t0\t0\t10\t10\t-1\t",
        "5\t1\t1\t1\t1\t1\t0\t0\t10\t10\t90\tFörskolan",
        "5\t1\t1\t1\t1\t2\t0\t0\t10\t10\t80\tSolrosen",
        "5\t1\t1\t1\t2\t1\t0\t0\t10\t10\t70\t§",
        "5\t1\t1\t1\t2\t2\t0\t0\t10\t10\t-1\t ",
        "5\t1\t2\t1\t1\t1\t0\t0\t10\t10\t40\tBeslut",
    ]
    result = ocr.parse_tsv("\n".join([head, *rows]))
    assert result.text == "Förskolan Solrosen\n§\n\nBeslut"
    assert result.confidence == 70.0
    assert ocr.parse_tsv(head).confidence is None
