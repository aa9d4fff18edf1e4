"""Reads the text of one attachment, page by page, or says in Swedish why it could not.

The kind of file is sniffed from its bytes, never taken from its name or header:
senders rename files, and mail programs label PDFs application/octet-stream. Each
sniffed kind has a reader in READERS (PDF: pdf; photos and scans: images; Word,
ODT, RTF: office, when installed); kinds without one come back with no pages and
no complaint. Nothing raises out of read_document, and nothing runs unbounded:
the limits below bound the bytes, the pages and the OCR time of every attachment;
pypdf's and Pillow's decompression limits (see pdf, images) bound the rest.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import zipfile
from collections.abc import Callable

from intake.domain import Attachment, DocumentText, Page
from intake.reading.images import CORRUPT_IMAGE, HEIC_UNSUPPORTED, IMAGE_TOO_LARGE, read_image
from intake.reading.ocr import OCR_MISSING
from intake.reading.pdf import BOMB_PDF, CORRUPT_PDF, ENCRYPTED_PDF, read_pdf

try:  # the Word/ODT/RTF readers are optional: without them those kinds come back unread
    from intake.reading.office import OFFICE_READERS
except ModuleNotFoundError as exc:
    if exc.name != "intake.reading.office":
        raise  # the module is there but one of its own imports is not: a setup error to see
    OFFICE_READERS = {}

__all__ = [
    "BOMB_PDF",
    "CORRUPT_IMAGE",
    "CORRUPT_PDF",
    "EMPTY",
    "ENCRYPTED_PDF",
    "HEIC_UNSUPPORTED",
    "IMAGE_TOO_LARGE",
    "MAX_ATTACHMENT_BYTES",
    "MAX_PAGES",
    "OCR_MISSING",
    "OCR_SECONDS_PER_DOCUMENT",
    "OCR_SECONDS_PER_PAGE",
    "READERS",
    "TOO_LARGE",
    "UNREADABLE",
    "Reader",
    "is_document_candidate",
    "read_document",
    "sniff",
]

log = logging.getLogger(__name__)

# Read at each call, so a test or a benchmark may lower them on this module.
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024  # a usual mail size limit; no protokollsutdrag is bigger
MAX_PAGES = 200  # a protokollsutdrag is a few pages; a whole year's minutes is not read to the end
OCR_SECONDS_PER_PAGE = 60.0  # an A4 page takes tesseract 2-7 s on 2 cores; 60 s is a page gone wrong
OCR_SECONDS_PER_DOCUMENT = 240.0  # 30-100 scanned pages: one mail must not hold a worker longer

PDF_MAGIC = b"%PDF-"
PDF_SNIFF_BYTES = 1024  # PDF readers accept junk before the header within the first KB
TEXT_CHARSETS = ("utf-8", "cp1252")
SIGNATURE_IMAGE_BYTES = 10 * 1024  # logos and icons in signatures are smaller than any scan

EMPTY = "filen är tom"
TOO_LARGE = "filen är för stor för att läsas (över {mb} MB)"
UNREADABLE = "filen kunde inte läsas"

# Leading bytes of the kinds we recognise; PDF and ZIP-based kinds are sniffed apart.
MAGIC = (
    (b"PK\x03\x04", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "doc"),  # OLE2: Word 97-2003
    (b"{\\rtf", "rtf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
HEIF_BRANDS = (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1")  # iPhone photos, at byte 4
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "odt": "application/vnd.oasis.opendocument.text",
    "doc": "application/msword",
    "rtf": "application/rtf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "heic": "image/heic",
    "text": "text/plain",
    "zip": "application/zip",
}
IMAGE_KINDS = frozenset({"png", "jpeg", "gif", "tiff", "heic"})
DOCUMENT_KINDS = frozenset({"pdf", "docx", "odt", "doc", "rtf", "text"}) | IMAGE_KINDS
# Declared types that never hold a protokollsutdrag even when the bytes look like text.
NOT_DOCUMENT_TYPES = frozenset(
    {
        "text/vcard",
        "text/x-vcard",
        "text/calendar",
        "application/ics",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "application/pgp-signature",
        "application/ms-tnef",  # winmail.dat
    }
)
NOT_DOCUMENT_EXTENSIONS = (".vcf", ".ics", ".p7s", ".asc", ".sig")
# Bytes we can't place still count when labelled as a document: the sender meant one.
DOCUMENT_TYPES = frozenset(MEDIA_TYPES[kind] for kind in DOCUMENT_KINDS - IMAGE_KINDS)
DOCUMENT_EXTENSIONS = (".pdf", ".doc", ".docx", ".odt", ".rtf", ".txt")



def read_document(attachment: Attachment) -> DocumentText:
    """The attachment's text, page by page, or a Swedish reason in `unreadable`."""
    kind = sniff(attachment.data, attachment.content_type)
    media_type = MEDIA_TYPES.get(kind) or attachment.content_type or "application/octet-stream"
    if not attachment.data:
        return _unreadable(attachment, media_type, EMPTY)
    if len(attachment.data) > MAX_ATTACHMENT_BYTES:
        return _unreadable(attachment, media_type, TOO_LARGE.format(mb=MAX_ATTACHMENT_BYTES >> 20))
    reader = READERS.get(kind)
    if reader is None:
        return DocumentText(filename=attachment.filename, media_type=media_type)
    try:
        document = reader(attachment)
    except Exception:  # last resort: a reader bug on one file must not stop the mail
        log.exception("reading %r (%s) failed", attachment.filename, kind)
        return _unreadable(attachment, media_type, UNREADABLE)
    # the sniffed type, whatever the reader says: the same kind is named the same everywhere
    return dataclasses.replace(document, filename=attachment.filename, media_type=media_type)


def sniff(data: bytes, declared_type: str = "") -> str:
    """The kind of file the bytes are ("pdf", "docx", "jpeg", "text", ...) or "unknown"."""
    if PDF_MAGIC in data[:PDF_SNIFF_BYTES]:
        return "pdf"
    kind = next((kind for magic, kind in MAGIC if data.startswith(magic)), None)
    if kind == "zip":
        return _zip_kind(data)
    if kind:
        return kind
    if data[4:12] in HEIF_BRANDS:
        return "heic"
    declared = declared_type.split(";", 1)[0].strip().lower()
    if declared == "text/plain" and b"\x00" not in data[:PDF_SNIFF_BYTES]:
        return "text"
    return "unknown"


def is_document_candidate(attachment: Attachment) -> bool:
    """Whether the file could be a protokollsutdrag: not a signature logo, vCard or signature."""
    name = attachment.filename.lower()
    declared = attachment.content_type.lower()
    if declared in NOT_DOCUMENT_TYPES or name.endswith(NOT_DOCUMENT_EXTENSIONS):
        return False
    kind = sniff(attachment.data, declared)
    if kind in IMAGE_KINDS or (kind == "unknown" and declared.startswith("image/")):
        # by size, not name: a pasted photo of the minutes is "image001.png" too
        return len(attachment.data) >= SIGNATURE_IMAGE_BYTES
    if kind in DOCUMENT_KINDS:
        return True
    # "unreadable" is a better answer than "nothing attached" to a broken document
    return declared in DOCUMENT_TYPES or name.endswith(DOCUMENT_EXTENSIONS)


# --- readers: Attachment -> DocumentText ------------------------------------------------


Reader = Callable[[Attachment], DocumentText]


def _read_pdf(attachment: Attachment) -> DocumentText:
    return read_pdf(
        attachment,
        max_pages=MAX_PAGES,
        page_seconds=OCR_SECONDS_PER_PAGE,
        document_seconds=OCR_SECONDS_PER_DOCUMENT,
    )


def _read_image(attachment: Attachment) -> DocumentText:
    return read_image(
        attachment,
        heic=sniff(attachment.data) == "heic",
        max_pages=MAX_PAGES,
        page_seconds=OCR_SECONDS_PER_PAGE,
        document_seconds=OCR_SECONDS_PER_DOCUMENT,
    )


def _read_text(attachment: Attachment) -> DocumentText:
    for charset in TEXT_CHARSETS:
        try:
            text = attachment.data.decode(charset)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = attachment.data.decode("latin-1")  # cp1252 leaves five bytes undefined; latin-1 none
    page = Page(number=1, text=text.removeprefix("\ufeff").replace("\r\n", "\n"))
    return DocumentText(attachment.filename, MEDIA_TYPES["text"], (page,))


READERS: dict[str, Reader] = {
    **OFFICE_READERS,
    "pdf": _read_pdf,
    "text": _read_text,
    **{kind: _read_image for kind in sorted(IMAGE_KINDS)},
}


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "word/document.xml" in names:
                return "docx"
            if "mimetype" in names:
                with archive.open("mimetype") as entry:  # read a little: it may be a zip bomb
                    if entry.read(len(ODT_MIMETYPE)) == ODT_MIMETYPE:
                        return "odt"
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, RuntimeError):
        pass  # damaged or encrypted archive: still a zip
    return "zip"


def _unreadable(attachment: Attachment, media_type: str, reason: str) -> DocumentText:
    return DocumentText(filename=attachment.filename, media_type=media_type, unreadable=reason)
