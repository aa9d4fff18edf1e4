"""Renders a laid-out document as bytes: a text PDF, a Word file, or a forwarded mail around a file.

Everything is byte-for-byte reproducible: reportlab runs in invariant mode, the
DOCX zip gets fixed timestamps, and mails get their ids, dates and MIME
boundaries from the caller's seeded random generator.
"""

from __future__ import annotations

import io
import random
import unicodedata
import zipfile
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from tests.corpus.layout import (
    A4_HEIGHT,
    A4_WIDTH,
    BREAK,
    Block,
    Document,
    Run,
    font_family,
    paginate,
    pdf_font,
)

FIXED_ZIP_TIME = (2017, 6, 1, 12, 0, 0)
FIXED_DOCX_TIME = datetime(2017, 6, 1, 12, 0, 0)
STOCKHOLM = ZoneInfo("Europe/Stockholm")
STAMP_SIZE = 44  # points: a rubber stamp across page 1
STAMP_ANGLE = 18  # degrees
DOCX_FONTS = ("Calibri", "Times New Roman", "Arial", "Garamond")
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def draw_runs(pdf: canvas.Canvas, runs: list[Run], family: str, invisible: bool = False) -> None:
    for run in runs:
        y = A4_HEIGHT - run.y
        if invisible:  # an OCR text layer under a scanned image: render mode 3 draws nothing
            text = pdf.beginText()
            text.setTextRenderMode(3)
            text.setFont(pdf_font(family, run.bold), run.size)
            x = run.x - (pdf.stringWidth(run.text, pdf_font(family, run.bold), run.size) if run.right else 0)
            text.setTextOrigin(x, y)
            text.textOut(run.text)
            pdf.drawText(text)
            continue
        pdf.setFont(pdf_font(family, run.bold), run.size)
        if run.right:
            pdf.drawRightString(run.x, y, run.text)
        else:
            pdf.drawString(run.x, y, run.text)


def _stamp(pdf: canvas.Canvas, word: str, family: str) -> None:
    pdf.saveState()
    pdf.setFillGray(0.45)
    pdf.translate(A4_WIDTH * 0.3, A4_HEIGHT * 0.62)
    pdf.rotate(STAMP_ANGLE)
    pdf.setFont(pdf_font(family, True), STAMP_SIZE)
    pdf.drawString(0, 0, word)
    pdf.restoreState()


def text_pdf(doc: Document) -> tuple[bytes, int]:
    """A PDF with a text layer; returns (bytes, pages)."""
    pages = paginate(doc)
    family = font_family(doc.font)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(A4_WIDTH, A4_HEIGHT), invariant=1)
    for number, runs in enumerate(pages):
        draw_runs(pdf, runs, family)
        if number == 0 and doc.stamp:
            _stamp(pdf, doc.stamp, family)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue(), len(pages)


def sandwich_pdf(images: list[bytes], text_layer: Document | None) -> bytes:
    """Scanned page images (JPEG), full page each; with `text_layer`, an invisible (damaged) OCR text
    layer over them, as a scanner's OCR writes it; without, an image-only scan."""
    pages = paginate(text_layer) if text_layer else []
    family = font_family(text_layer.font) if text_layer else "Helvetica"
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(A4_WIDTH, A4_HEIGHT), invariant=1)
    for number, image in enumerate(images):
        pdf.drawImage(ImageReader(io.BytesIO(image)), 0, 0, A4_WIDTH, A4_HEIGHT)
        if number < len(pages):
            draw_runs(pdf, pages[number], family, invisible=True)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def docx(doc: Document, rng: random.Random) -> bytes:
    """A Word file: the header holds the committee, units of a list go into a table (Enhet, Tävlingsklass)."""
    from docx import Document as new_docx
    from docx.shared import Pt

    word = new_docx()
    word.core_properties.created = word.core_properties.modified = FIXED_DOCX_TIME
    word.core_properties.author = word.core_properties.last_modified_by = "Nämndsekreterare"
    normal = word.styles["Normal"]
    normal.font.name = rng.choice(DOCX_FONTS)
    normal.font.size = Pt(rng.choice((10, 11, 12)))
    right = [t for t in doc.header_right if "{" not in t]
    header = word.sections[0].header.paragraphs[0]
    header.text = "\t\t".join(doc.header_left[:1] + tuple(right[:1]))
    for extra in doc.header_left[1:] + tuple(right[1:]):
        word.sections[0].header.add_paragraph(extra)
    if doc.stamp:
        word.add_paragraph().add_run(doc.stamp).bold = True
    as_table = rng.random() < 0.7
    items: list[Block] = []
    for block in (*doc.blocks, Block(style="blank")):
        if block.style == "item" and as_table:
            items.append(block)
            continue
        if items:
            _table(word, items)
            items = []
        if block.style == "pagebreak":
            word.add_page_break()  # type: ignore[no-untyped-call]
        elif block.style == "row":
            word.add_paragraph("\t".join(block.cells))
        elif block.style != "blank":
            _paragraph(word, block)
    if doc.footer:
        word.sections[0].footer.paragraphs[0].text = doc.footer
    buffer = io.BytesIO()
    word.save(buffer)
    return _fixed_zip(buffer.getvalue())


def _paragraph(word: object, block: Block) -> None:
    # Word reflows lines itself: a name hyphenated at a PDF line end is whole here
    run = word.add_paragraph().add_run(block.text.replace(BREAK, ""))  # type: ignore[attr-defined]
    run.bold = block.style in ("heading", "title")


def _table(word: object, items: list[Block]) -> None:
    table = word.add_table(rows=1, cols=2)  # type: ignore[attr-defined]
    table.style = "Table Grid"
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Enhet", "Tävlingsklass"
    for item in items:
        row = table.add_row().cells
        row[0].text, row[1].text = item.cells[0], item.cells[1]


def _fixed_zip(data: bytes) -> bytes:
    """The same zip with fixed member timestamps, so equal documents give equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def address(name: str, domain: str = "stockholm.se") -> str:
    """fornamn.efternamn@stockholm.se, å/ä/ö folded to a/a/o as the city does."""
    plain = unicodedata.normalize("NFKD", name.lower())
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return f"{plain.replace(' ', '.')}@{domain}"


def forwarded_eml(rng: random.Random, attachment: tuple[str, bytes, str], sent: datetime, subject: str,
                  author: str, forwarder: str) -> bytes:
    """A mail forwarded to the award mailbox: the original as a message/rfc822 part, or quoted inline."""
    filename, data, mime = attachment
    maintype, subtype = mime.split("/", 1)
    inner = _mail(rng, author, forwarder, subject, sent,
                  f"Hej!\n\nHär kommer protokollsutdraget.\n\nMed vänlig hälsning\n{author}")
    inner.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    later = sent.replace(hour=min(sent.hour + 2, 23))
    prefix = rng.choice(("VB: ", "Fwd: ", "FW: "))
    outer_body = f"Hej,\n\nvidarebefordrar protokollsutdraget nedan.\n\n/{forwarder.split()[0]}"
    if rng.random() < 0.5:
        outer = _mail(rng, forwarder, "Kvalitetsutmärkelsen", prefix + subject, later, outer_body)
        outer.add_attachment(inner)
    else:
        quoted = (f"{outer_body}\n\n---------- Vidarebefordrat meddelande ----------\nFrån: {author} "
                  f"<{address(author)}>\nDatum: {format_datetime(sent)}\nÄmne: {subject}\n\n"
                  f"Hej!\n\nHär kommer protokollsutdraget.\n\n{author}")
        outer = _mail(rng, forwarder, "Kvalitetsutmärkelsen", prefix + subject, later, quoted)
        outer.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    for part in outer.walk():
        if part.get_content_maintype() == "multipart":
            part.set_boundary(f"=_part_{rng.getrandbits(64):016x}")
    return outer.as_bytes()


def _mail(rng: random.Random, sender: str, recipient: str, subject: str, sent: datetime, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"{sender} <{address(sender)}>"
    to = "kvalitetsutmarkelsen@stockholm.se" if recipient == "Kvalitetsutmärkelsen" else address(recipient)
    message["To"] = f"{recipient} <{to}>"
    message["Subject"] = subject
    message["Date"] = format_datetime(sent.replace(tzinfo=STOCKHOLM))
    message["Message-ID"] = f"<{rng.getrandbits(64):016x}@stockholm.se>"
    message.set_content(body)
    return message
