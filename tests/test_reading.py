"""read_document and is_document_candidate on real PDFs (made with reportlab) and broken files."""

from __future__ import annotations

import io
import random
import zipfile

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.errors import DependencyError
from reportlab.pdfgen import canvas

from intake import reading
from intake.domain import Attachment
from intake.reading import MAX_PAGES, is_document_candidate, read_document, sniff

PAGE_ONE = "Protokollsutdrag § 12 Förskolan Ängen åäö ÅÄÖ"
PAGE_TWO = "Justerat: Göran Öst § 13"


def pdf(*pages: str) -> bytes:
    buffer = io.BytesIO()
    drawing = canvas.Canvas(buffer)
    for text in pages:
        drawing.drawString(72, 720, text)
        drawing.showPage()
    drawing.save()
    return buffer.getvalue()


def encrypted(data: bytes, user_password: str) -> bytes:
    # RC4: pypdf writes and reads it without the optional cryptography package
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password, "ägarlösen", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def attachment(
    data: bytes, filename: str = "protokoll.pdf", content_type: str = "application/pdf"
) -> Attachment:
    return Attachment(filename=filename, content_type=content_type, data=data)


def no_pages() -> bytes:
    buffer = io.BytesIO()
    PdfWriter().write(buffer)
    return buffer.getvalue()


TWO_PAGES = pdf(PAGE_ONE, PAGE_TWO)


@pytest.mark.parametrize(
    "data",
    [
        TWO_PAGES,
        encrypted(TWO_PAGES, ""),  # "protected" against editing only: opens without a password
        b"junk before the header\n" * 3 + TWO_PAGES,
    ],
    ids=["plain", "empty-user-password", "junk-before-header"],
)
def test_pdf_is_read_page_by_page(data: bytes) -> None:
    document = read_document(attachment(data))
    assert document.unreadable is None
    assert document.media_type == "application/pdf"
    assert [page.number for page in document.pages] == [1, 2]
    assert document.pages[0].text.strip() == PAGE_ONE
    assert document.pages[1].text.strip() == PAGE_TWO
    assert PAGE_ONE in document.text and PAGE_TWO in document.text
    assert document.filename == "protokoll.pdf"


def test_pdf_is_sniffed_not_named() -> None:
    document = read_document(attachment(TWO_PAGES, "scan0001.dat", "application/octet-stream"))
    assert document.media_type == "application/pdf"
    assert len(document.pages) == 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", reading.EMPTY),
        (TWO_PAGES[: len(TWO_PAGES) // 2], reading.CORRUPT_PDF),
        (TWO_PAGES[:40], reading.CORRUPT_PDF),
        (b"%PDF-1.4\n" + bytes(range(256)) * 20, reading.CORRUPT_PDF),
        (encrypted(TWO_PAGES, "hemligt"), reading.ENCRYPTED_PDF),
        (no_pages(), reading.CORRUPT_PDF),
    ],
    ids=["empty", "truncated", "header-only", "garbage-after-header", "user-password", "no-pages"],
)
def test_unreadable_pdfs_say_why_in_swedish(data: bytes, reason: str) -> None:
    document = read_document(attachment(data))
    assert document.unreadable == reason
    assert document.pages == ()
    assert document.filename == "protokoll.pdf"


def test_aes_without_its_dependency_is_reported_as_encrypted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def needs_cryptography(self: PdfReader, password: str) -> None:
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(PdfReader, "decrypt", needs_cryptography)
    document = read_document(attachment(encrypted(TWO_PAGES, "")))
    assert document.unreadable == reading.ENCRYPTED_PDF


def test_swedish_reasons() -> None:
    assert reading.EMPTY == "filen är tom"
    assert reading.CORRUPT_PDF == "PDF-filen är skadad och kan inte läsas"
    assert "krypterad" in reading.ENCRYPTED_PDF


def test_oversized_attachment_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "MAX_ATTACHMENT_BYTES", len(TWO_PAGES) - 1)
    document = read_document(attachment(TWO_PAGES))
    assert document.unreadable is not None and "för stor" in document.unreadable
    assert document.pages == ()


def test_default_size_limit_is_checked_before_reading() -> None:
    data = b"%PDF-1.4\n" + bytes(reading.MAX_ATTACHMENT_BYTES)
    assert "för stor" in (read_document(attachment(data)).unreadable or "")


def test_long_pdf_is_read_up_to_max_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "MAX_PAGES", 3)
    document = read_document(attachment(pdf(*(f"sida {n}" for n in range(1, 6)))))
    assert document.unreadable is None
    assert [(page.number, page.text.strip()) for page in document.pages] == [
        (1, "sida 1"),
        (2, "sida 2"),
        (3, "sida 3"),
    ]
    assert MAX_PAGES >= 100


def test_not_a_pdf_named_pdf() -> None:
    document = read_document(attachment(b"<html><body>Protokoll</body></html>"))
    assert document.unreadable is None
    assert document.pages == ()
    assert document.media_type == "application/pdf"  # as declared: the bytes say nothing better


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("Protokollsutdrag § 12\r\nFörskolan Ängen".encode(), "Protokollsutdrag § 12\nFörskolan Ängen"),
        ("\ufeffProtokoll Ängen".encode(), "Protokoll Ängen"),
        ("Protokoll Ängen – § 12".encode("cp1252"), "Protokoll Ängen – § 12"),
    ],
    ids=["utf-8", "utf-8-bom", "cp1252"],
)
def test_text_attachment(data: bytes, text: str) -> None:
    document = read_document(attachment(data, "protokoll.txt", "text/plain"))
    assert document.unreadable is None
    assert document.media_type == "text/plain"
    assert [(page.number, page.text) for page in document.pages] == [(1, text)]


@pytest.mark.parametrize(
    ("data", "declared", "kind"),
    [
        (TWO_PAGES, "application/octet-stream", "pdf"),
        (docx(), "application/octet-stream", "docx"),
        (b"PK\x03\x04 not really a zip", "application/zip", "zip"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "application/msword", "doc"),
        (b"{\\rtf1\\ansi Protokoll}", "application/rtf", "rtf"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png", "png"),
        (b"\xff\xd8\xff\xe0" + bytes(100), "image/jpeg", "jpeg"),
        (b"\x00\x00\x00\x18ftypheic" + bytes(100), "image/heic", "heic"),
        (b"plain words", "text/plain; charset=utf-8", "text"),
        (b"plain words", "application/octet-stream", "unknown"),
    ],
)
def test_sniff(data: bytes, declared: str, kind: str) -> None:
    assert sniff(data, declared) == kind


def test_kinds_without_a_reader_come_back_without_pages_or_complaint() -> None:
    # a plain archive: its members are read as attachments of their own, not here
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("protokoll.txt", "Protokoll")
    document = read_document(attachment(buffer.getvalue(), "arkiv.zip", "application/octet-stream"))
    assert "zip" not in reading.READERS
    assert document.unreadable is None and document.pages == ()
    assert document.media_type == "application/zip"


def test_a_reader_that_crashes_is_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(data: bytes) -> None:
        raise RuntimeError("a bug in a reader")

    monkeypatch.setitem(reading.READERS, "pdf", crash)
    document = read_document(attachment(TWO_PAGES))
    assert document.unreadable == reading.UNREADABLE


PHOTO = b"\xff\xd8\xff\xe0" + bytes(200_000)
LOGO = b"\x89PNG\r\n\x1a\n" + bytes(3_000)


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (attachment(TWO_PAGES), True),
        (attachment(TWO_PAGES, "skanning.dat", "application/octet-stream"), True),
        (attachment(b"", "protokoll.pdf"), True),  # empty, but meant as one: "unreadable"
        (attachment(b"garbage", "protokoll.pdf"), True),
        (attachment(docx(), "protokoll.docx", "application/octet-stream"), True),
        (attachment(b"PK\x03\x04", "protokoll.odt", "application/vnd.oasis.opendocument.text"), True),
        (attachment(b"{\\rtf1 x}", "protokoll.rtf", "application/rtf"), True),
        (attachment(PHOTO, "IMG_0042.JPG", "image/jpeg"), True),
        (attachment(PHOTO, "image001.jpg", "image/jpeg"), True),  # a pasted photo of the minutes
        (attachment(b"text", "protokoll.txt", "text/plain"), True),
        (attachment(LOGO, "image001.png", "image/png"), False),
        (attachment(LOGO, "logo.png", "image/png"), False),
        (attachment(b"BEGIN:VCARD\r\nEND:VCARD", "Anna Berg.vcf", "text/vcard"), False),
        (attachment(b"BEGIN:VCARD\r\nEND:VCARD", "Anna Berg.vcf", "text/plain"), False),
        (attachment(b"BEGIN:VCALENDAR", "invite.ics", "text/calendar"), False),
        (attachment(b"0\x82\x05", "smime.p7s", "application/pkcs7-signature"), False),
        (attachment(b"x\x9f>\x22", "winmail.dat", "application/ms-tnef"), False),
        (attachment(b"\x00\x01binary", "data.bin", "application/octet-stream"), False),
    ],
)
def test_is_document_candidate(candidate: Attachment, expected: bool) -> None:
    assert is_document_candidate(candidate) is expected


def test_damaged_pdfs_never_raise() -> None:
    rng = random.Random(7)
    for seed in (TWO_PAGES, encrypted(TWO_PAGES, "")):
        for _ in range(60):
            data = bytearray(seed)
            for _ in range(rng.randint(1, 8)):
                at = rng.randrange(len(data))
                if rng.random() < 0.6:
                    data[at] = rng.randrange(256)
                else:
                    data[at:at] = rng.choice([b"obj", b"<<", b">>", b"stream", b"0 0 R", b"/Length 9999"])
            document = read_document(attachment(bytes(data)))
            assert document.unreadable in (None, reading.CORRUPT_PDF, reading.ENCRYPTED_PDF)
