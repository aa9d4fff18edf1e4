"""Turns the raw bytes of one mail into a ParsedMail: headers, bodies, files and forwarded mails.

Which library does what (checked against mail-parser 4.8):

* mail-parser builds the message tree and reads From, To, Reply-To and Date. It
  reads raw 8-bit display names and unquoted commas ("Lindqvist, Anna <a@x.se>")
  better than the stdlib, reports bad addresses and dates as defects, and always
  gives an aware datetime (the stdlib's is naive for "-0000").
* The stdlib ``email`` package, on that same tree, does the rest, because mail-parser
  flattens message/rfc822 parts (a forwarded mail's files land in the outer mail,
  the forwarded mail itself becomes a randomly named ".txt"), skips a PDF that has
  neither file name nor disposition (Apple Mail), names unnamed files randomly, drops
  the space after an encoded word in a folded Subject ("över flera" -> "överflera"),
  and leaves quoted RFC 2047 display names (as Outlook writes them) undecoded.

mail-parser and ``email`` objects never leave this module.
"""

from __future__ import annotations

import base64
import email
import email.errors
import email.header
import email.utils
import hashlib
import logging
import mimetypes
import quopri
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from email.policy import default as _HEADER_POLICY
from typing import Any

import mailparser
from mailparser.exceptions import MailParserRecursionError

from intake.domain import Attachment, ParsedMail
from intake.errors import MailParseError

log = logging.getLogger(__name__)

MAX_FORWARD_DEPTH = 5  # forwarded inside forwarded...; deeper ones are noted, not parsed
SYNTHETIC_ID_DOMAIN = "intake.invalid"
SYNTHETIC_ID_HEX_CHARS = 32
GENERATED_NAME_STEM = "bilaga"  # Swedish, since coordinators and senders see the names

# Without at least one of these the bytes are not a mail but something else.
MAIL_HEADERS = frozenset(
    {"from", "sender", "to", "cc", "subject", "date", "message-id", "received", "return-path"}
)
BODY_TYPES = frozenset({"text/plain", "text/html"})
# Parts of these main types are files even with no name and no disposition (Apple Mail).
FILE_MAINTYPES = frozenset({"application", "image"})
FORWARD_TYPES = frozenset({"message/rfc822", "message/global"})
# Labels that senders get wrong: cp1252 is a superset of latin-1 for text, and
# Outlook labels cp1252 text ("–", "€") as iso-8859-1.
CHARSET_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252"}
FALLBACK_CHARSETS = ("utf-8", "cp1252", "latin-1")  # latin-1 decodes any bytes
# Names for unnamed files; mimetypes answers the rest, though some answers vary by host.
EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "text/plain": ".txt"}
_Param = str | tuple[str | None, str | None, str]  # plain, or RFC 2231 (charset, language, value)
_MSG_ID = re.compile(r"<[^<>\s]+>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse one mail; raise MailParseError only when nothing usable can be read."""
    raw = bytes(raw)
    if not raw.strip():
        raise MailParseError("the mail is empty (no bytes, or only whitespace)")
    parser: Any = None
    notes: list[str] = []
    try:
        parser = mailparser.parse_from_bytes(raw)
        message = parser.message
    except MailParserRecursionError as exc:
        raise MailParseError(f"MIME structure nested too deeply to parse: {exc}") from exc
    except Exception as exc:  # a mail-parser bug on hostile input must not lose the mail
        log.warning("mail-parser failed, reading with the stdlib only", exc_info=True)
        notes.append(f"mail-parser failed: {type(exc).__name__}: {exc}")
        try:
            message = email.message_from_bytes(raw)
        except RecursionError as inner:
            raise MailParseError("MIME structure nested too deeply to parse") from inner
    names = {name.lower() for name, _ in message.raw_items()}
    if not names & MAIL_HEADERS:
        raise MailParseError(
            f"no mail headers could be read from {len(raw)} bytes; not a mail or binary garbage"
        )
    return _parse_message(message, parser, raw, 0, notes)


def _parse_message(
    message: Message, parser: Any, raw: bytes, depth: int, notes: list[str] | None = None
) -> ParsedMail:
    headers = tuple((name.lower(), _decode_header(name, val)) for name, val in message.raw_items())
    first = dict(reversed(headers))  # first occurrence of each header wins
    from_name, from_addr = next(iter(_addresses(parser, message, "from")), ("", ""))
    reply_to = next((addr for _, addr in _addresses(parser, message, "reply-to")), None)
    defects: list[str] = [*(notes or []), *_header_defects(parser)]

    message_id = _first_id(first.get("message-id", ""))
    synthesised = message_id is None
    if message_id is None:
        digest = hashlib.sha256(raw).hexdigest()[:SYNTHETIC_ID_HEX_CHARS]
        message_id = f"<{digest}@{SYNTHETIC_ID_DOMAIN}>"

    text: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    forwarded: list[ParsedMail] = []
    for part in _parts(message, root=True):
        defects.extend(f"{part.get_content_type()}: {_describe(d)}" for d in part.defects)
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        if part is not message and ctype in FORWARD_TYPES and part.is_multipart():
            if depth + 1 > MAX_FORWARD_DEPTH:
                defects.append(f"{ctype}: forwarded mail nested deeper than {MAX_FORWARD_DEPTH}")
            else:
                forwarded.append(_parse_forwarded(part, depth + 1))
        elif part.is_multipart():
            continue  # its children come next
        elif _is_body(part, filename, disposition):
            body, problem = _decode_text(part)
            if body:
                (html if ctype == "text/html" else text).append(body)
            if problem:
                defects.append(f"{ctype}: {problem}")
        elif disposition == "attachment" or filename or ctype.split("/")[0] in FILE_MAINTYPES:
            data = part.get_payload(decode=True)
            attachments.append(
                Attachment(
                    filename=filename or _generated_name(len(attachments) + 1, ctype),
                    content_type=ctype,
                    data=data if isinstance(data, bytes) else b"",
                    disposition=disposition if disposition in ("attachment", "inline") else "",
                )
            )
        # anything else (text/watch-html alternatives, message/delivery-status) is neither

    return ParsedMail(
        message_id=message_id,
        message_id_synthesised=synthesised,
        from_addr=from_addr,
        from_name=from_name,
        to=tuple(addr for _, addr in _addresses(parser, message, "to")),
        subject=" ".join(first.get("subject", "").split()),
        date=_date(parser),
        in_reply_to=_first_id(first.get("in-reply-to", "")),
        references=tuple(_ids(first.get("references", ""))),
        reply_to=reply_to,
        headers=headers,
        content_type=message.get_content_type().lower(),
        text_body="\n".join(text),
        html_body="\n".join(html),
        attachments=tuple(attachments),
        forwarded=tuple(forwarded),
        defects=tuple(defects),
    )


def _parse_forwarded(part: Message, depth: int) -> ParsedMail:
    payload = part.get_payload(0)
    inner = payload if isinstance(payload, Message) else Message()
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    try:
        if encoding in ("base64", "quoted-printable"):
            # RFC 2046 forbids it but some mail programs do it; email parsed the encoded
            # text as a headerless mail, so decode that text and parse it again
            encoded = str(inner.get_payload()).encode("ascii", "surrogateescape")
            decode = base64.b64decode if encoding == "base64" else quopri.decodestring
            raw = decode(encoded)
            inner = email.message_from_bytes(raw)
        else:
            raw = inner.as_bytes()
    except Exception:  # a broken inner mail may not re-serialise; the id just needs to be stable
        raw = repr(list(inner.raw_items())).encode("utf-8", "surrogateescape")
    parser: Any = None
    notes = []
    try:
        parser = mailparser.MailParser(inner)
    except Exception as exc:  # RecursionError or a mail-parser bug: see parse_mail
        notes.append(f"mail-parser failed: {type(exc).__name__}: {exc}")
    return _parse_message(inner, parser, raw, depth, notes)


def _parts(part: Message, root: bool = False) -> Iterator[Message]:
    """The part and its descendants, not descending into forwarded mails or reports."""
    yield part
    if part.get_content_maintype() == "message" and not root:
        return  # a forwarded mail, or a delivery report's fields: neither are this mail's parts
    if part.is_multipart():
        for sub in part.get_payload():
            if isinstance(sub, Message):
                yield from _parts(sub)


# --- headers --------------------------------------------------------------------------


def _decode_header(name: str, value: object) -> str:
    """A header's value as text: RFC 2047 decoded, unfolded, 8-bit bytes repaired."""
    text = _repair(str(value))
    try:
        text = str(_HEADER_POLICY.header_fetch_parse(name, text))
    except Exception:  # the stdlib header parser raises on a few malformed values
        log.debug("header %s kept undecoded", name, exc_info=True)
    return _repair(text).strip()


def _decode_words(text: str) -> str:
    if "=?" not in text:
        return text
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (email.errors.MessageError, LookupError, ValueError):  # unknown or garbled charset
        return text


def _addresses(parser: Any, message: Message, name: str) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs of an address header."""
    pairs: list[tuple[str, str]] = []
    if parser is not None:
        pairs = [(n, a) for n, a in getattr(parser, name.replace("-", "_")) or [] if a]
    if not pairs:
        # mail-parser refuses addresses without a domain ("MAILER-DAEMON"); the stdlib reads them
        values = [str(v) for k, v in message.raw_items() if k.lower() == name]
        pairs = [(n, a) for n, a in email.utils.getaddresses(values) if a and a != "<>"]
    return [
        (" ".join(_repair(_decode_words(n)).strip("\"' ").split()), _repair(a).strip().lower())
        for n, a in pairs
    ]


def _ids(value: str) -> list[str]:
    found = _MSG_ID.findall(value)
    if not found and value.strip() and " " not in value.strip():
        found = [f"<{value.strip()}>"]  # some clients write Message-IDs without brackets
    return found


def _first_id(value: str) -> str | None:
    return next(iter(_ids(value)), None)


def _date(parser: Any) -> datetime | None:
    value = getattr(parser, "date", None)  # mail-parser gives UTC
    return value.replace(tzinfo=value.tzinfo or UTC) if isinstance(value, datetime) else None


def _header_defects(parser: Any) -> list[str]:
    found = [*getattr(parser, "address_header_defects", ())]
    found += getattr(parser, "date_header_defects", ())
    return list(dict.fromkeys(f"{d.get('header')}: {d.get('reason')}" for d in found))


def _describe(defect: object) -> str:
    doc = (type(defect).__doc__ or "").strip().splitlines()
    return f"{type(defect).__name__}: {doc[0]}" if doc else type(defect).__name__


# --- parts ----------------------------------------------------------------------------


def _filename(part: Message) -> str:
    """The part's file name: Content-Disposition filename, else Content-Type name."""
    try:
        value = _param(part, "content-disposition", "filename")
        if value is None:
            value = _param(part, "content-type", "name")
        if value is None:
            return ""
        # surrogateescape keeps bytes a wrong charset label can't decode, for _repair to guess
        text = email.utils.collapse_rfc2231_value(value, errors="surrogateescape")
    except (TypeError, ValueError, IndexError, email.errors.MessageError):
        return ""  # garbled parameters (the stdlib trips on broken RFC 2231 continuations)
    text = _repair(_decode_words(text))
    text = re.split(r"[/\\]", text)[-1]  # some clients send the sender's full path
    return " ".join(_CONTROL.sub(" ", text).split())


def _param(part: Message, header: str, name: str) -> _Param | None:
    raw = next((v for k, v in part.raw_items() if k.lower() == header), None)
    if raw is None:
        return None
    # compat32 turns raw 8-bit bytes into U+FFFD before splitting parameters; a scratch
    # header holding the repaired text keeps "Förskolan.pdf" from Outlook's raw names.
    scratch = Message()
    scratch[header] = _repair(str(raw))
    return scratch.get_param(name, None, header)


def _is_body(part: Message, filename: str, disposition: str) -> bool:
    if part.get_content_maintype() == "multipart":
        return True  # a multipart without boundary: its raw text is all there is to read
    return part.get_content_type() in BODY_TYPES and not filename and disposition != "attachment"


def _generated_name(number: int, ctype: str) -> str:
    extension = EXTENSIONS.get(ctype) or mimetypes.guess_extension(ctype) or ".bin"
    return f"{GENERATED_NAME_STEM}-{number}{extension}"


def _decode_text(part: Message) -> tuple[str, str | None]:
    """A body part's text, and a note when its charset label was wrong or unknown."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or not data:
        return "", None
    declared = (part.get_content_charset() or "").lower()
    first = CHARSET_ALIASES.get(declared, declared)
    for charset in (first, *FALLBACK_CHARSETS) if first else FALLBACK_CHARSETS:
        try:
            text = data.decode(charset)
        except (LookupError, ValueError):  # unknown label, wrong label, NUL in the label
            continue
        note = None
        if declared and charset != first:
            note = f"body not readable as charset {declared!r}; decoded as {charset}"
        return text.replace("\r\n", "\n"), note
    return data.decode("latin-1"), None  # unreachable: latin-1 decodes any bytes


def _repair(text: str) -> str:
    """Turn undecoded 8-bit bytes (kept as surrogates) into text: UTF-8, else cp1252."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")
