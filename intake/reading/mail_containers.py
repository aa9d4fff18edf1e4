"""Takes the files out of mail-shaped containers: .eml, S/MIME signed data, Outlook .msg, winmail.dat.

Each opener returns (members, None), or ([], a Swedish reason) when the container
can't be opened. Member names are relative to the container; the caller prefixes
them and opens members that are containers in turn. A mail's body becomes a member
("brödtext.txt") only when it is long enough to hold a decision: some senders paste
the protokollsutdrag into a mail and forward that.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import logging
import mimetypes
import re
from collections.abc import Callable
from typing import Any

import olefile
from asn1crypto import cms
from tnefparse.tnef import TNEF

from intake.domain import Attachment, ParsedMail

log = logging.getLogger(__name__)

Parse = Callable[[bytes], ParsedMail]

BODY_NAME = "brödtext.txt"
MIN_BODY_CHARS = 200  # shorter bodies are greetings ("Se bifogad fil"), not decisions
GENERATED_STEM = "bilaga"
MAIL_SNIFF_BYTES = 8192  # a mail's header block starts well within this
MIN_MAIL_HEADERS = 2  # "Subject:" alone starts many a text file; two mail headers make a mail
MAIL_HEADER_NAMES = frozenset(
    {
        b"from",
        b"to",
        b"cc",
        b"subject",
        b"date",
        b"message-id",
        b"received",
        b"return-path",
        b"mime-version",
        b"content-type",
        b"reply-to",
        b"sender",
    }
)
_HEADER_LINE = re.compile(rb"([A-Za-z0-9][A-Za-z0-9-]*):[ \t]*\S?")
# DER ContentInfo of PKCS#7 signedData / envelopedData: OID 1.2.840.113549.1.7.2 / .3
PKCS7_OIDS = tuple(b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07" + last for last in (b"\x02", b"\x03"))
PKCS7_SNIFF_BYTES = 32  # the OID follows the outer SEQUENCE's tag and length
# The signed content is a MIME entity, usually without the mail headers parse_mail
# requires (it rejects header-less bytes as "not a mail"); one harmless header fixes that.
SMIME_ENTITY_HEADER = b"Subject: S/MIME\r\n"
_TAGS = re.compile(r"<[^>]*>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)

# Outlook .msg: MAPI properties are streams named __substg1.0_<tag><type>.
MSG_ATTACHMENT_PREFIX = "__attach_version1.0_#"
MSG_BODY = "1000"  # PR_BODY
MSG_ATTACH_NAMES = ("3707", "3704", "3001")  # long filename, 8.3 filename, display name
MSG_ATTACH_MIME = "370E"  # PR_ATTACH_MIME_TAG
MSG_ATTACH_DATA = "__substg1.0_37010102"  # PR_ATTACH_DATA_BIN
MSG_EMBEDDED = "__substg1.0_3701000D"  # PR_ATTACH_DATA_OBJ: an attached Outlook item
MSG_UNICODE, MSG_STRING8 = "001F", "001E"
MSG_CODEPAGE = "cp1252"  # 8-bit strings in Swedish Outlook
MAX_EMBEDDED_MSG = 3  # a mail in a mail in a mail; as deep as the other containers go
TNEF_CODEPAGE = "cp1252"

CORRUPT_EML = "det bifogade e-postmeddelandet är skadat och kan inte läsas"
CORRUPT_SMIME = "den S/MIME-signerade delen är skadad och kan inte läsas"
ENCRYPTED_SMIME = "meddelandet är krypterat med S/MIME och kan inte läsas"
EMPTY_SMIME = "den S/MIME-signerade delen saknar innehåll"
CORRUPT_MSG = "Outlook-meddelandet (.msg) är skadat och kan inte läsas"
CORRUPT_TNEF = "winmail.dat (Outlook-format) är skadad och kan inte läsas"


def open_eml(data: bytes, parse: Parse) -> tuple[list[Attachment], str | None]:
    try:
        mail = parse(data)
    except Exception as exc:  # MailParseError, or a bug on hostile input
        log.info("attached mail unreadable: %s: %s", type(exc).__name__, exc)
        return [], CORRUPT_EML
    return mail_members(mail), None


def open_pkcs7(data: bytes, parse: Parse) -> tuple[list[Attachment], str | None]:
    """The signed content of an opaque-signed S/MIME part (smime.p7m), not the signature.

    The signature is not verified: the bot reads what was sent, it does not vouch for it.
    """
    der = _der(data)
    try:
        info = cms.ContentInfo.load(der)
        kind = info["content_type"].native
        if kind == "enveloped_data":
            return [], ENCRYPTED_SMIME
        if kind != "signed_data":
            return [], CORRUPT_SMIME
        content = info["content"]["encap_content_info"]["content"].native
    except Exception as exc:  # asn1crypto raises ValueError/TypeError on malformed DER
        log.info("S/MIME data unreadable: %s: %s", type(exc).__name__, exc)
        return [], CORRUPT_SMIME
    if not isinstance(content, bytes) or not content:
        return [], EMPTY_SMIME
    if not _HEADER_LINE.match(content.lstrip()):
        # a signed file rather than a signed mail (CAdES "Protokoll.pdf.p7m")
        return [Attachment("signerat-innehåll", "application/octet-stream", content, "attachment")], None
    return open_eml(SMIME_ENTITY_HEADER + content.lstrip(b"\r\n"), parse)


def open_msg(data: bytes) -> tuple[list[Attachment], str | None]:
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            return _msg_members(ole, [], 0), None
    except Exception as exc:  # olefile raises OSError and plain errors on damaged files
        log.info("Outlook .msg unreadable: %s: %s", type(exc).__name__, exc)
        return [], CORRUPT_MSG


def open_tnef(data: bytes) -> tuple[list[Attachment], str | None]:
    try:
        tnef = TNEF(data, do_checksum=False)
        codepage = tnef.codepage or TNEF_CODEPAGE
        members: list[Attachment] = []
        for number, att in enumerate(tnef.attachments, 1):
            name = _tnef_name(att, codepage) or f"{GENERATED_STEM}-{number}"
            payload = att.data if isinstance(att.data, bytes) else b""
            members.append(Attachment(name, guess_type(name), payload, "attachment"))
        body = tnef.body
        if isinstance(body, bytes):
            body = body.decode(codepage, "replace")
    except Exception as exc:  # tnefparse raises ValueError, struct/index errors on damaged files
        log.info("winmail.dat unreadable: %s: %s", type(exc).__name__, exc)
        return [], CORRUPT_TNEF
    return members + _body_member(body if isinstance(body, str) else ""), None


def mail_members(mail: ParsedMail) -> list[Attachment]:
    """A parsed mail's files (forwarded mails' included), then its body if it is long."""
    body = mail.text_body.strip() or _html_text(mail.html_body)
    return [*mail.all_attachments(), *_body_member(body)]


def looks_like_mail(data: bytes) -> bool:
    """Whether the bytes start with a mail's header block (some senders attach .txt mails)."""
    head = data[:MAIL_SNIFF_BYTES]
    if b"\x00" in head or not _HEADER_LINE.match(head):
        return False
    names: set[bytes] = set()
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if not line.strip():
            break  # the end of the header block
        if line[:1] in (b" ", b"\t"):
            continue  # a folded header's continuation
        match = _HEADER_LINE.match(line)
        if not match:
            return False
        names.add(match.group(1).lower())
    return len(names & MAIL_HEADER_NAMES) >= MIN_MAIL_HEADERS


def is_pkcs7(data: bytes, declared: bool) -> bool:
    """DER (or, when declared as S/MIME, base64) PKCS#7 signed or enveloped data."""
    head = (_der(data) if declared else data)[:PKCS7_SNIFF_BYTES]
    return head[:1] == b"\x30" and any(oid in head for oid in PKCS7_OIDS)


def guess_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


# --- helpers -----------------------------------------------------------------------------


def _der(data: bytes) -> bytes:
    """DER bytes: as they are, or decoded from base64 text (PEM armour stripped)."""
    if data[:1] == b"\x30":
        return data
    lines = [line for line in data.splitlines() if line.strip() and not line.startswith(b"-----")]
    try:
        return base64.b64decode(b"".join(lines), validate=False)
    except (binascii.Error, ValueError):
        return data


def _body_member(body: str) -> list[Attachment]:
    if len(body.strip()) <= MIN_BODY_CHARS:
        return []
    return [Attachment(BODY_NAME, "text/plain", body.strip().encode("utf-8"), "inline")]


def _html_text(markup: str) -> str:
    text = _TAGS.sub(" ", _SCRIPT.sub(" ", markup))
    return "\n".join(" ".join(line.split()) for line in html.unescape(text).splitlines() if line.strip())


def _msg_members(ole: Any, prefix: list[str], depth: int) -> list[Attachment]:
    """The attachments of the message stored at `prefix` (the root, or an embedded message)."""
    storages = sorted(
        {
            entry[len(prefix)]
            for entry in ole.listdir(streams=True, storages=True)
            if len(entry) > len(prefix)
            and entry[: len(prefix)] == prefix
            and entry[len(prefix)].startswith(MSG_ATTACHMENT_PREFIX)
        }
    )
    members: list[Attachment] = []
    for number, storage in enumerate(storages, 1):
        path = [*prefix, storage]
        names = (_msg_string(ole, path, tag) for tag in MSG_ATTACH_NAMES)
        name = next((n for n in names if n), "") or f"{GENERATED_STEM}-{number}"
        if ole.exists("/".join([*path, MSG_ATTACH_DATA])):
            data = ole.openstream([*path, MSG_ATTACH_DATA]).read()
            declared = _msg_string(ole, path, MSG_ATTACH_MIME)
            members.append(Attachment(name, declared or guess_type(name), data, "attachment"))
        elif ole.exists("/".join([*path, MSG_EMBEDDED])) and depth < MAX_EMBEDDED_MSG:
            # an attached Outlook item lives in a sub-storage, not as bytes: walk it in place
            inner_name = name if name.lower().endswith(".msg") else f"{name}.msg"
            for inner in _msg_members(ole, [*path, MSG_EMBEDDED], depth + 1):
                members.append(
                    Attachment(
                        f"{inner_name}/{inner.filename}", inner.content_type, inner.data, inner.disposition
                    )
                )
    return members + _body_member(_msg_string(ole, prefix, MSG_BODY))


def _msg_string(ole: Any, path: list[str], tag: str) -> str:
    for kind, decode in ((MSG_UNICODE, "utf-16-le"), (MSG_STRING8, MSG_CODEPAGE)):
        stream = [*path, f"__substg1.0_{tag}{kind}"]
        if ole.exists("/".join(stream)):
            return str(ole.openstream(stream).read().decode(decode, "replace")).rstrip("\x00").strip()
    return ""


def _tnef_name(attachment: Any, codepage: str) -> str:
    try:
        name = attachment.long_filename()
    except UnicodeDecodeError:
        # tnefparse decodes the 8-bit title as UTF-8, but Outlook writes it in the
        # message's code page ("F\xf6rskolan.pdf"): decode the raw title ourselves
        raw = getattr(attachment, "_name", b"")
        name = raw.decode(codepage, "replace") if isinstance(raw, bytes) else str(raw)
    if isinstance(name, bytes):
        name = name.decode(codepage, "replace")
    return str(name).strip("\x00 ")
