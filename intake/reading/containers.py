"""Opens container attachments (ZIP, .eml, Outlook .msg, winmail.dat, S/MIME) into the files to read.

`expand_attachments` replaces each container by its members, recursively, and
names each member after its path ("arkiv.zip/Protokoll.pdf",
"vidarebefordrat.eml/bilaga.pdf"). Other attachments pass through unchanged;
detached signatures (smime.p7s) are dropped, since they are never documents.

Containers are sniffed from their bytes. DOCX, ODT and XLSX are ZIP files too but
are documents, not containers; so are Word .doc files, which share the OLE format
with Outlook's .msg.

Nothing raises out of here. A container that can't be opened, or a member that
can't be unpacked, becomes an *unreadable leaf*: an Attachment whose content type
is UNREADABLE_TYPE with the Swedish reason as a parameter, which `leaf_problem`
reads back. The reader then reports it like any unreadable file ("bilagan kunde
inte läsas: ...") instead of the mail looking as if nothing was attached. The
limits (depth, members, unpacked bytes, compression ratio) keep zip bombs and
deep nesting from exhausting memory or time.

Mails inside containers are parsed by the `parse` function the caller passes
(intake.parsing.parse_mail): reading and parsing are independent stages and do not
import each other.
"""

from __future__ import annotations

import io
import logging
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import replace

import olefile

from intake.domain import Attachment
from intake.reading.mail_containers import (
    Parse,
    guess_type,
    is_pkcs7,
    looks_like_mail,
    open_eml,
    open_msg,
    open_pkcs7,
    open_tnef,
)

log = logging.getLogger(__name__)

MAX_DEPTH = 3  # containers inside containers; "arkiv.zip/a.zip/b.zip/c.zip" is not opened
MAX_MEMBERS = 100  # files taken out of one mail's containers, all levels together
MAX_ZIP_ENTRIES = 10_000  # parts of a DOCX/ODT; more is no word-processor file
MAX_TOTAL_BYTES = 100 * 1024 * 1024  # unpacked bytes of one mail's containers, all levels together
MAX_RATIO = 100  # deflate reaches ~10:1 on text and ~1:1 on images; 1000:1 is a bomb
RATIO_MIN_BYTES = 1024 * 1024  # tiny members compress very well (empty XML parts); ignore them

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local header, or an empty archive's end record
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
TNEF_MAGIC = b"\x78\x9f\x3e\x22"
ZIP_FLAG_ENCRYPTED = 0x1
ZIP_FLAG_UTF8 = 0x800
ZIP_UNICODE_PATH_EXTRA = 0x7075  # Info-ZIP's UTF-8 name, written by 7-Zip and WinRAR
# Members of ZIP-based document formats: with these the ZIP is a document, not an archive.
DOCUMENT_ZIP_MEMBERS = frozenset({"[Content_Types].xml", "mimetype"})
DOCUMENT_EXTENSIONS = (".docx", ".docm", ".dotx", ".odt", ".ott", ".xlsx", ".pptx", ".ods", ".epub")
# What Finder and Explorer add to archives: resource forks, folder settings, thumbnails.
JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
SIGNATURE_TYPES = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature"})
MAIL_TYPES = frozenset({"message/rfc822", "message/global"})
PKCS7_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})

UNREADABLE_TYPE = "application/x-intake-unreadable"
_REASON = "; reason="

TOO_DEEP = "arkiv i arkiv i för många nivåer (över {n}); det innersta har inte öppnats"
TOO_MANY = "bilagorna innehåller för många filer (över {n}); resten har inte öppnats"
TOO_LARGE = "arkivet blir för stort uppackat (över {mb} MB) och har inte öppnats"
ZIP_BOMB = "arkivet packas upp till orimligt mycket (misstänkt zip-bomb) och har inte öppnats"
CORRUPT_ZIP = "ZIP-arkivet är skadat och kan inte öppnas"
EMPTY_ZIP = "ZIP-arkivet innehåller inga filer"
ENCRYPTED_MEMBER = "filen i ZIP-arkivet är lösenordsskyddad och kan inte läsas"
UNSUPPORTED_MEMBER = "filen i ZIP-arkivet är packad på ett sätt som inte stöds"
CORRUPT_MEMBER = "filen i ZIP-arkivet är skadad och kan inte packas upp"


def expand_attachments(attachments: Iterable[Attachment], parse: Parse) -> list[Attachment]:
    """The files to read: containers opened recursively, their members named by path."""
    expansion = _Expansion(parse)
    leaves: list[Attachment] = []
    for attachment in attachments:
        leaves.extend(expansion.expand(attachment, 0))
    return leaves


def unreadable_leaf(filename: str, reason: str, data: bytes = b"") -> Attachment:
    """A file that could not be taken out of its container, carrying the reason."""
    return Attachment(filename, f"{UNREADABLE_TYPE}{_REASON}{reason}", data, "attachment")


def leaf_problem(attachment: Attachment) -> str | None:
    """The Swedish reason an unreadable leaf carries, or None for any other attachment."""
    if not attachment.content_type.startswith(UNREADABLE_TYPE + _REASON):
        return None
    return attachment.content_type[len(UNREADABLE_TYPE + _REASON) :]


def container_kind(attachment: Attachment) -> str | None:
    """ "zip", "eml", "msg", "tnef", "pkcs7" or "signature" (to drop); None for a file to read."""
    data = attachment.data
    declared = attachment.content_type.split(";", 1)[0].strip().lower()
    name = attachment.filename.lower()
    if declared in SIGNATURE_TYPES or name.endswith(".p7s"):
        return "signature"
    if leaf_problem(attachment) is not None:
        return None
    if data.startswith(ZIP_MAGIC):
        return _zip_kind(data, name)
    if data.startswith(OLE_MAGIC):
        return "msg" if _is_msg(data, name) else None
    if data.startswith(TNEF_MAGIC):
        return "tnef"
    if is_pkcs7(data, declared in PKCS7_TYPES or name.endswith(".p7m")):
        return "pkcs7"
    if declared in MAIL_TYPES or name.endswith(".eml") or looks_like_mail(data):
        return "eml"
    return None


def zip_problem(
    infos: list[zipfile.ZipInfo], max_entries: int = MAX_ZIP_ENTRIES, max_bytes: int = MAX_TOTAL_BYTES
) -> str | None:
    """Why a ZIP must not be unpacked (too many entries or bytes, a bomb's ratio), or None.

    zipfile never unpacks more than a member's declared size, so checking the
    declared sizes before reading bounds the memory used.
    """
    if len(infos) > max_entries:
        return TOO_MANY.format(n=max_entries)
    if sum(info.file_size for info in infos) > max_bytes:
        return TOO_LARGE.format(mb=max_bytes >> 20)
    for info in infos:
        if info.file_size > RATIO_MIN_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            return ZIP_BOMB
    return None


class _Expansion:
    """One call's walk, with the member and byte budgets shared by all levels."""

    def __init__(self, parse: Parse) -> None:
        self.parse = parse
        self.members = 0
        self.unpacked = 0

    def expand(self, attachment: Attachment, depth: int) -> list[Attachment]:
        kind = container_kind(attachment)
        if kind is None:
            return [attachment]
        if kind == "signature":
            return []
        if depth >= MAX_DEPTH:
            return [unreadable_leaf(attachment.filename, TOO_DEEP.format(n=MAX_DEPTH), attachment.data)]
        members, problem = self._open(kind, attachment.data)
        if problem:
            log.info("container %r (%s) not opened: %s", attachment.filename, kind, problem)
            return [unreadable_leaf(attachment.filename, problem, attachment.data)]
        leaves: list[Attachment] = []
        for member in members:
            if self.members >= MAX_MEMBERS:
                leaves.append(unreadable_leaf(attachment.filename, TOO_MANY.format(n=MAX_MEMBERS)))
                break
            self.members += 1
            self.unpacked += len(member.data)
            named = replace(member, filename=f"{attachment.filename}/{member.filename}")
            leaves.extend(self.expand(named, depth + 1))
        if not leaves and kind == "zip":
            return [unreadable_leaf(attachment.filename, EMPTY_ZIP, attachment.data)]
        return leaves

    def _open(self, kind: str, data: bytes) -> tuple[list[Attachment], str | None]:
        if kind == "zip":
            return self._open_zip(data)
        if kind == "eml":
            return open_eml(data, self.parse)
        if kind == "pkcs7":
            return open_pkcs7(data, self.parse)
        if kind == "msg":
            return open_msg(data)
        return open_tnef(data)

    def _open_zip(self, data: bytes) -> tuple[list[Attachment], str | None]:
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            log.info("corrupt ZIP: %s: %s", type(exc).__name__, exc)
            return [], CORRUPT_ZIP
        with archive:
            infos = [info for info in archive.infolist() if not info.is_dir() and not _is_junk(info)]
            problem = zip_problem(infos, MAX_MEMBERS, MAX_TOTAL_BYTES - self.unpacked)
            if problem:
                return [], problem
            return [_zip_member(archive, info) for info in infos], None


def _zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Attachment:
    name = member_name(info)
    if info.flag_bits & ZIP_FLAG_ENCRYPTED:
        # zipfile could try passwords, but we have none: say so instead of guessing
        return unreadable_leaf(name, ENCRYPTED_MEMBER)
    try:
        data = archive.read(info)  # at most info.file_size bytes, checked by zip_problem
    except NotImplementedError:  # deflate64, PPMd, AES (method 99)
        return unreadable_leaf(name, UNSUPPORTED_MEMBER)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError) as exc:
        log.info("ZIP member %r unreadable: %s: %s", name, type(exc).__name__, exc)
        return unreadable_leaf(name, CORRUPT_MEMBER)
    return Attachment(name, guess_type(name), data, "attachment")


def member_name(info: zipfile.ZipInfo) -> str:
    """A member's path, decoded as the archiver meant it, with "/" separators.

    Without the UTF-8 flag zipfile decodes names as cp437. macOS and some other
    archivers write UTF-8 without setting the flag, Swedish Windows writes its OEM
    code page cp850 (where å, ä and ö sit where cp437 has them).
    """
    name = _unicode_path(info) or info.filename
    if not info.flag_bits & ZIP_FLAG_UTF8 and name == info.filename:
        raw = info.filename.encode("cp437")  # cp437 maps all 256 bytes: this gives them back
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            name = raw.decode("cp850")
    return "/".join(part for part in name.replace("\\", "/").split("/") if part not in ("", ".", ".."))


def _unicode_path(info: zipfile.ZipInfo) -> str | None:
    """The Info-ZIP Unicode Path extra field: version, CRC-32 of the raw name, UTF-8 name."""
    extra = info.extra
    offset = 0
    while offset + 4 <= len(extra):
        tag = int.from_bytes(extra[offset : offset + 2], "little")
        size = int.from_bytes(extra[offset + 2 : offset + 4], "little")
        body = extra[offset + 4 : offset + 4 + size]
        if tag == ZIP_UNICODE_PATH_EXTRA and len(body) > 5 and body[0] == 1:
            try:
                return body[5:].decode("utf-8")
            except UnicodeDecodeError:
                return None
        offset += 4 + size
    return None


def _is_junk(info: zipfile.ZipInfo) -> bool:
    path = info.filename.replace("\\", "/")
    base = path.rsplit("/", 1)[-1]
    return path.startswith("__MACOSX/") or base.startswith("._") or base.lower() in JUNK_NAMES


def _zip_kind(data: bytes, name: str) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        # a damaged DOCX is the reader's to report; a damaged archive is ours
        return None if name.endswith(DOCUMENT_EXTENSIONS) else "zip"
    return None if names & DOCUMENT_ZIP_MEMBERS else "zip"


def _is_msg(data: bytes, name: str) -> bool:
    """Outlook's .msg is an OLE file whose root holds MAPI property streams."""
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            return bool(ole.exists("__properties_version1.0")) or any(
                entry[0].startswith("__substg1.0_") for entry in ole.listdir()
            )
    except Exception:  # damaged: a .msg is reported as one, anything else by the Word reader
        return name.endswith(".msg")
