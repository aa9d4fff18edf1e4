"""Reads the text of one attachment, page by page, or says in Swedish why it could not.

The kind of file is sniffed from its bytes, never taken from its name or header:
senders rename files, and mail programs label PDFs application/octet-stream. Each
sniffed kind has a reader in READERS; kinds without one (Word, images: the next
readers to come) come back with no pages and no complaint. Nothing raises out of
read_document. Time is bounded by MAX_ATTACHMENT_BYTES, MAX_PAGES and pypdf's own
decompression limits; a pure stage can't use signals or kill threads to time out.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

from intake.domain import Attachment, DocumentText, Page

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024  # a usual mail size limit; no protokollsutdrag is bigger
MAX_PAGES = 200  # a protokollsutdrag is a few pages; a whole year's minutes is not read to the end
PDF_MAGIC = b"%PDF-"
PDF_SNIFF_BYTES = 1024  # PDF readers accept junk before the header within the first KB
TEXT_CHARSETS = ("utf-8", "cp1252")
SIGNATURE_IMAGE_BYTES = 10 * 1024  # logos and icons in signatures are smaller than any scan

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

EMPTY = "filen är tom"
TOO_LARGE = "filen är för stor för att läsas (över {mb} MB)"
CORRUPT_PDF = "PDF-filen är skadad och kan inte läsas"
ENCRYPTED_PDF = "PDF-filen är krypterad/lösenordsskyddad och kan inte läsas"
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
        pages, problem = reader(attachment.data)
    except Exception:  # last resort: a reader bug on one file must not stop the mail
        log.exception("reading %r (%s) failed", attachment.filename, kind)
        return _unreadable(attachment, media_type, UNREADABLE)
    return DocumentText(attachment.filename, media_type, tuple(pages), problem)


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


# --- readers: bytes -> (pages, reason it could not be read) -------------------------


def _read_pdf(data: bytes) -> tuple[list[Page], str | None]:
    try:
        pdf = PdfReader(io.BytesIO(data), strict=False)
        encrypted = pdf.is_encrypted
    except PDF_ERRORS as exc:
        log.info("corrupt PDF: %s: %s", type(exc).__name__, exc)
        return [], CORRUPT_PDF
    try:
        if encrypted and pdf.decrypt("") == PasswordType.NOT_DECRYPTED:
            return [], ENCRYPTED_PDF
    except DependencyError:
        # AES needs the cryptography package: our setup's fault, not the sender's
        log.error("cannot decrypt an AES-encrypted PDF: install pypdf[crypto]")
        return [], ENCRYPTED_PDF
    except PDF_ERRORS as exc:  # NotImplementedError: a security handler pypdf lacks
        log.info("PDF could not be decrypted: %s: %s", type(exc).__name__, exc)
        return [], ENCRYPTED_PDF
    try:
        count = len(pdf.pages)
    except FileNotDecryptedError:
        return [], ENCRYPTED_PDF
    except PDF_ERRORS as exc:
        log.info("corrupt PDF: %s: %s", type(exc).__name__, exc)
        return [], CORRUPT_PDF
    if count == 0:
        return [], CORRUPT_PDF
    if count > MAX_PAGES:
        log.warning("PDF has %d pages; reading the first %d", count, MAX_PAGES)
    pages: list[Page] = []
    failures = 0
    for index in range(min(count, MAX_PAGES)):
        try:
            text = pdf.pages[index].extract_text() or ""
        except PDF_ERRORS as exc:
            # one broken page (a damaged scan) shouldn't hide the readable others
            log.info("page %d of a PDF unreadable: %s: %s", index + 1, type(exc).__name__, exc)
            failures += 1
            text = ""
        pages.append(Page(number=index + 1, text=text))
    if pages and failures == len(pages):
        return [], CORRUPT_PDF
    return pages, None


def _read_text(data: bytes) -> tuple[list[Page], str | None]:
    for charset in TEXT_CHARSETS:
        try:
            text = data.decode(charset)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = data.decode("latin-1")  # cp1252 leaves five bytes undefined; latin-1 none
    return [Page(number=1, text=text.removeprefix("\ufeff").replace("\r\n", "\n"))], None


Reader = Callable[[bytes], tuple[list[Page], str | None]]
READERS: dict[str, Reader] = {"pdf": _read_pdf, "text": _read_text}


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
