"""Reads the text of word-processor files (DOCX, ODT, RTF, Word 97-2003 .doc), or says why not.

Each reader takes an Attachment and returns a DocumentText; none raises. DOCX and
ODT are ZIP files, so their sizes are checked before anything is unpacked (a zip
bomb is a valid ZIP). These formats rarely record where pages end: the text is one
Page, except that hard page breaks in a DOCX (``w:br w:type="page"``) and form
feeds from antiword/catdoc start new pages. Page numbers given as evidence are then
the document's own hard breaks, not the printed layout.

Word 97-2003 is read by a Debian tool (antiword, else catdoc) in a subprocess with
a timeout; without either the file is reported unreadable, not skipped.
"""

from __future__ import annotations

import io
import logging
import re
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import olefile
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.package import OpcPackage
from docx.opc.part import XmlPart
from docx.oxml.parser import parse_xml
from striprtf.striprtf import rtf_to_text

from intake.domain import Attachment, DocumentText, Page
from intake.reading.containers import OLE_MAGIC, zip_problem
from intake.reading.office_xml import odt_text, unique_texts, walk_docx

log = logging.getLogger(__name__)

Reader = Callable[[Attachment], DocumentText]

MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "odt": "application/vnd.oasis.opendocument.text",
    "rtf": "application/rtf",
    "doc": "application/msword",
}
RTF_DEFAULT_CODEPAGE = "cp1252"  # what Swedish Word and WordPad write (\ansicpg1252)
RTF_CODEPAGE = re.compile(rb"\\ansicpg(\d{3,5})")
RTF_HEADER_BYTES = 4096  # \ansicpg sits in the header, before the font table
# Long runs of hex digits are picture data (\pict); no text has them. Dropping them
# first keeps striprtf, which walks the text a token at a time, fast on RTF with photos.
RTF_HEX_RUN = re.compile(r"[0-9a-fA-F\r\n]{512,}")

# Tried in order; "-w 0" / "-w" keep each paragraph on one line. antiword reads
# Word 97 and later best; catdoc also reads Word 6/95.
DOC_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("antiword", "-m", "UTF-8.txt", "-w", "0"),
    ("catdoc", "-d", "utf-8", "-w"),
)
DOC_TIMEOUT_SECONDS = 30  # a 25 MB document converts in a second or two; a hang is a bug
FIB_FLAGS_OFFSET = 10  # File Information Block: wIdent, nFib, unused, lid, pnNext, then flags
FIB_FLAGS_END = 12
FIB_ENCRYPTED = 0x0100  # fEncrypted: the document is password-protected

CORRUPT_DOCX = "Word-filen (DOCX) är skadad och kan inte läsas"
CORRUPT_ODT = "OpenDocument-filen (ODT) är skadad och kan inte läsas"
CORRUPT_RTF = "RTF-filen är skadad och kan inte läsas"
CORRUPT_DOC = "Word-filen (.doc) är skadad och kan inte läsas"
ENCRYPTED_OFFICE = "Word-filen är krypterad/lösenordsskyddad och kan inte läsas"
NOT_WORD_OLE = "filen är ett äldre Office-dokument men inte ett Word-dokument"
NO_DOC_TOOL = "äldre Word-filer (.doc) kan inte läsas här: verktyget antiword/catdoc saknas på servern"
DOC_TIMED_OUT = "Word-filen (.doc) tog för lång tid att läsa"
EMPTY_DOCUMENT = "dokumentet innehåller ingen text (kanske bara inklistrade bilder)"


def read_docx(attachment: Attachment) -> DocumentText:
    """Paragraphs, tables (a row a line, cells tab-separated) and headers/footers, in order."""
    data = attachment.data
    if data.startswith(OLE_MAGIC):
        # Word saves a password-protected DOCX as an OLE container around the encrypted ZIP
        return _unreadable(attachment, "docx", _ole_problem(data) or ENCRYPTED_OFFICE)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            problem = zip_problem(archive.infolist())
        if problem:
            return _unreadable(attachment, "docx", problem)
        main = OpcPackage.open(io.BytesIO(data)).main_document_part
        body = unique_texts([_element(main)], walk_docx) or [""]
        headers = unique_texts(_related(main, RT.HEADER), walk_docx)
        footers = unique_texts(_related(main, RT.FOOTER), walk_docx)
    except Exception as exc:  # python-docx and lxml raise many kinds on damaged packages
        log.info("unreadable DOCX %r: %s: %s", attachment.filename, type(exc).__name__, exc)
        return _unreadable(attachment, "docx", CORRUPT_DOCX)
    # committee names sit in the header: it goes before the body, the footer after
    if headers:
        body[0] = "\n".join(text.strip("\n") for text in headers) + "\n" + body[0].lstrip("\n")
    if footers:
        body[-1] = body[-1].rstrip("\n") + "\n" + "\n".join(text.strip("\n") for text in footers)
    return _document(attachment, "docx", body)


def read_odt(attachment: Attachment) -> DocumentText:
    """Paragraphs, headings, tables and the master pages' headers/footers of an ODT."""
    try:
        with zipfile.ZipFile(io.BytesIO(attachment.data)) as archive:
            problem = zip_problem(archive.infolist())
            if problem:
                return _unreadable(attachment, "odt", problem)
            text = odt_text(archive)
    except Exception as exc:  # BadZipFile, KeyError (no content.xml), ParseError...
        log.info("unreadable ODT %r: %s: %s", attachment.filename, type(exc).__name__, exc)
        return _unreadable(attachment, "odt", CORRUPT_ODT)
    return _document(attachment, "odt", [text])


def read_rtf(attachment: Attachment) -> DocumentText:
    r"""RTF text with \'e5-style escapes decoded in the file's code page (cp1252 by default)."""
    match = RTF_CODEPAGE.search(attachment.data[:RTF_HEADER_BYTES])
    codepage = f"cp{int(match.group(1))}" if match else RTF_DEFAULT_CODEPAGE
    try:
        source = attachment.data.decode(codepage, "replace")
    except LookupError:  # a code page Python doesn't know
        codepage = RTF_DEFAULT_CODEPAGE
        source = attachment.data.decode(codepage, "replace")
    try:
        text = rtf_to_text(  # type: ignore[no-untyped-call]  # striprtf ships py.typed but no hints
            RTF_HEX_RUN.sub("", source), encoding=codepage, errors="replace"
        )
    except Exception as exc:  # striprtf on malformed control words (int() of junk, unknown codecs)
        log.info("unreadable RTF %r: %s: %s", attachment.filename, type(exc).__name__, exc)
        return _unreadable(attachment, "rtf", CORRUPT_RTF)
    return _document(attachment, "rtf", [text])


def read_doc(attachment: Attachment) -> DocumentText:
    """Word 97-2003 text through antiword (else catdoc), after checking the OLE container."""
    problem = _ole_problem(attachment.data)
    if problem:
        return _unreadable(attachment, "doc", problem)
    text, problem = _convert_doc(attachment.data)
    if problem:
        return _unreadable(attachment, "doc", problem)
    return _document(attachment, "doc", text.split("\f"))


OFFICE_READERS: dict[str, Reader] = {
    "docx": read_docx,
    "odt": read_odt,
    "rtf": read_rtf,
    "doc": read_doc,
}


# --- DOCX -----------------------------------------------------------------------------


def _element(part: Any) -> Any:
    # a .docm or .dotx main part is a plain Part to python-docx: parse its bytes ourselves
    return part.element if isinstance(part, XmlPart) else parse_xml(part.blob)


def _related(part: Any, reltype: str) -> Iterator[Any]:
    """Header or footer parts of the main part, in relationship order."""
    for rel in part.rels.values():
        if rel.reltype == reltype and not rel.is_external:
            yield _element(rel.target_part)


# --- Word 97-2003 -------------------------------------------------------------------------


def _ole_problem(data: bytes) -> str | None:
    """Why an OLE file can't be read as Word 97-2003, or None if it is a plain Word file."""
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            if ole.exists("EncryptionInfo") or ole.exists("EncryptedPackage"):
                return ENCRYPTED_OFFICE  # an encrypted DOCX wrapped by Office
            if not ole.exists("WordDocument"):
                return NOT_WORD_OLE
            fib = ole.openstream("WordDocument").read(FIB_FLAGS_END)
    except Exception as exc:  # olefile raises OSError and plain errors on damaged files
        log.info("damaged OLE file: %s: %s", type(exc).__name__, exc)
        return CORRUPT_DOC
    flags = int.from_bytes(fib[FIB_FLAGS_OFFSET:FIB_FLAGS_END], "little")
    return ENCRYPTED_OFFICE if flags & FIB_ENCRYPTED else None


def _convert_doc(data: bytes) -> tuple[str, str | None]:
    """(text, None) from the first tool that works, else ("", a Swedish reason)."""
    problem: str | None = NO_DOC_TOOL
    with tempfile.TemporaryDirectory(prefix="intake-doc-") as folder:
        path = Path(folder) / "dokument.doc"
        path.write_bytes(data)
        for command in DOC_COMMANDS:
            try:
                done = subprocess.run(
                    [*command, str(path)],
                    capture_output=True,
                    timeout=DOC_TIMEOUT_SECONDS,
                    check=False,
                    stdin=subprocess.DEVNULL,
                )
            except FileNotFoundError:
                continue  # not installed: try the next tool
            except subprocess.TimeoutExpired:
                log.warning("%s timed out after %d s", command[0], DOC_TIMEOUT_SECONDS)
                problem = DOC_TIMED_OUT
                continue
            text = done.stdout.decode("utf-8", "replace")
            if done.returncode == 0 and text.strip():
                return text, None
            if done.returncode == 0:
                problem = None  # read, but no text: the next tool may find some, else it's empty
                continue
            message = done.stderr.decode("utf-8", "replace").strip()
            log.info("%s could not read a .doc (exit %d): %s", command[0], done.returncode, message)
            lowered = message.lower()
            problem = ENCRYPTED_OFFICE if "encrypt" in lowered or "password" in lowered else CORRUPT_DOC
    return "", problem


# --- shared -----------------------------------------------------------------------------


def _document(attachment: Attachment, kind: str, texts: list[str]) -> DocumentText:
    pages = tuple(Page(number=i + 1, text=text.strip("\n")) for i, text in enumerate(texts))
    if not any(page.text.strip() for page in pages):
        return _unreadable(attachment, kind, EMPTY_DOCUMENT)
    return DocumentText(filename=attachment.filename, media_type=MEDIA_TYPES[kind], pages=pages)


def _unreadable(attachment: Attachment, kind: str, reason: str) -> DocumentText:
    return DocumentText(filename=attachment.filename, media_type=MEDIA_TYPES[kind], unreadable=reason)
