"""Fuzzing: thousands of malformed mails through ingest and processing, and of malformed files
through read_document. Never an exception escapes, never a hang: every mail ends with a recorded
outcome (or `failed`, with a review item), every file with a text or a reason it is unreadable.

Mails: random bytes; real mails cut, flipped and spliced; MIME built wrong on purpose (missing,
wrong and nested boundaries, bad transfer encodings and charsets, broken encoded words, huge
headers, deeply nested message/rfc822). Files: PDF, DOCX, ODT, ZIP, RTF, Word .doc, PNG, JPEG and
text, cut, flipped and spliced, and random bytes behind each kind's magic number.

OCR is the one slow step (seconds a page): the bulk runs answer it with "time ran out" at once
(the path a hostile page takes); a few real tesseract runs on garbled scans close the file.
Each example has a deadline (hypothesis) and a hard limit (SIGALRM) that catches a hang.
"""

from __future__ import annotations

import functools
import io
import itertools
import random
import signal
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, TypeVar

import pytest
from docx import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from sqlalchemy import event, select

from intake.domain import Attachment, DocumentText, MailboxRef, Outcome, RawMail
from intake.identity import sha256_hex
from intake.pipeline import Context, import_register, process_pending
from intake.pipeline.ingest import store_raw
from intake.reading import read_document, tools
from intake.samples import demo_mails, pdf_from_text, protocol_text
from intake.storage import store
from intake.storage.database import make_engine
from intake.storage.models import ReviewItemRow
from tests.bot import REGISTER_CSV, protocol_mail
from tests.cfb import build_ole
from tests.contexts import make_context

# Pillow warns about the damaged EXIF and truncated images the fuzzing makes on purpose
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL")

T = TypeVar("T")
HARD_LIMIT = 30  # seconds: an example still running then is a hang
MAIL_DEADLINE = timedelta(seconds=10)  # per example; generous, the CI machine may be busy
FILE_DEADLINE = timedelta(seconds=10)
FUZZ = settings(deadline=MAIL_DEADLINE, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


class Hang(Exception):
    pass


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hang(f"an example ran longer than {HARD_LIMIT} s")


def within_limit(function: Callable[[], T]) -> T:
    """Run `function`, raising Hang if it takes longer than HARD_LIMIT (main thread only)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HARD_LIMIT)
    try:
        return function()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def quick_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    """OCR answers "time ran out" at once: the bulk runs can't wait seconds a page."""
    def out_of_time(args: list[str], deadline: float) -> bytes:
        raise tools.OcrTimeout("fuzzing: no time for OCR")

    monkeypatch.setattr(tools, "run", out_of_time)
    monkeypatch.setattr(tools, "check", lambda *, pdf=False: None)


# --- mails through the pipeline ----------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Context:
    """A context on a SQLite file (without fsync: thousands of commits), the sample register in."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'intake.db'}")

    @event.listens_for(engine, "connect")
    def _fast(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    ctx = make_context(engine, outbox_replies_per_hour="1000000")
    import_register(ctx, "register.csv", REGISTER_CSV.encode(), actor="test")
    return ctx


_keys = itertools.count(1)
RECEIVED = datetime(2017, 6, 19, 8, 0, tzinfo=UTC)


def through_pipeline(ctx: Context, raw: bytes) -> None:
    """Store and process one mail; it must end stored once and with a recorded outcome."""
    mail = RawMail(MailboxRef("fuzz", "1", str(next(_keys))), raw, RECEIVED)

    def run() -> None:
        store_raw(ctx, mail)
        process_pending(ctx)

    within_limit(run)
    with ctx.sessions.begin() as session:
        row = store.message_by_sha(session, sha256_hex(raw))
        assert row is not None, "stored"
        assert row.status in ("processed", "failed", "duplicate"), row.status
        if row.status == "processed":
            assert row.outcome in set(Outcome), row.outcome
        elif row.status == "failed":
            assert row.outcome == Outcome.NEEDS_REVIEW
            assert session.scalar(select(ReviewItemRow.id).where(ReviewItemRow.message_pk == row.id))
        assert not store.pending_claims(session), "nothing left stored"


@functools.cache
def seed_mails() -> list[bytes]:
    return [protocol_mail().raw, *(sample.raw for sample in demo_mails()[:5])]


# made when the first example is drawn, not when the tests are collected
SEEDS = st.deferred(lambda: st.sampled_from(seed_mails()))
DOCUMENTS = st.deferred(lambda: st.sampled_from(document_seeds()))


@st.composite
def mutated(draw: st.DrawFn, seeds: st.SearchStrategy[bytes]) -> bytes:
    """A real file or mail, then cut, flipped, spliced, duplicated or its line ends changed."""
    data = bytearray(draw(seeds))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        operation = draw(st.sampled_from(["cut", "flip", "insert", "delete", "repeat", "lines", "zero"]))
        if operation == "cut":
            del data[at:]
        elif operation == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif operation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif operation == "delete":
            del data[at:at + draw(st.integers(1, 512))]
        elif operation == "repeat":
            data[at:at] = data[at:at + draw(st.integers(1, 256))] * draw(st.integers(2, 20))
        elif operation == "zero":
            data[at:at + draw(st.integers(1, 64))] = bytes(min(len(data) - at, 64))
        else:
            data = bytearray(bytes(data).replace(b"\r\n", draw(st.sampled_from([b"\n", b"\r", b"\r\r\n"]))))
    return bytes(data)


HEADER_NAMES = ["From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "Reply-To",
                "Return-Path", "Auto-Submitted", "Precedence", "Content-Type", "Content-Transfer-Encoding",
                "Content-Disposition", "MIME-Version", "X-Mailer", "Received"]
CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "x-unknown", "utf-7", "", "utf-16", "gb2312", "ut\x00f-8",
            "iso-2022-jp", "latin1'sv'", "\u00e5\u00e4\u00f6"]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "bas e64", ""]

header_text = st.one_of(
    st.text(max_size=80),
    st.builds(lambda charset, kind, body: f"=?{charset}?{kind}?{body}?=",
              st.sampled_from(CHARSETS), st.sampled_from(["B", "Q", "X", ""]), st.text(max_size=40)),
    st.sampled_from(["Lena <lena@stockholm.se>", "<>", "MAILER-DAEMON", "a@b", "\"unterminated <x@y",
                     "=?utf-8?B?w6XDpMO2?= <\u00e5@\u00e4.se>", "Mon, 99 Jun 2017 25:61:00 +9999", "<<<>>>"]),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "å", "=?utf-8?Q?", " ", "\t"]), st.integers(500, 5000)),
)


@st.composite
def headers(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        name = draw(st.one_of(st.sampled_from(HEADER_NAMES), st.text(min_size=1, max_size=20)))
        value = draw(header_text)
        fold = draw(st.sampled_from(["", "\r\n ", "\r\n\t", "\n", "\r\n"]))
        lines.append(f"{name}:{fold}{value}".encode("utf-8", "surrogatepass"))
    return b"\r\n".join(lines)


def body_bytes(encoding: str) -> st.SearchStrategy[bytes]:
    if encoding == "base64":
        return st.one_of(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789+/=\r\n!", max_size=300).map(str.encode),
                         st.binary(max_size=200))
    if encoding == "quoted-printable":
        return st.text("=AF09 \r\nåäöxyz=\t", max_size=300).map(lambda s: s.encode("utf-8"))
    return st.binary(max_size=300)


@st.composite
def mime_part(draw: st.DrawFn, depth: int = 0) -> bytes:
    """One MIME part (headers, blank line, body), wrong in ways senders' software gets it wrong."""
    kinds = ["text", "file", "garbage"] + (["multipart", "rfc822"] if depth < 4 else [])
    kind = draw(st.sampled_from(kinds))
    encoding = draw(st.sampled_from(ENCODINGS))
    charset = draw(st.sampled_from(CHARSETS))
    if kind == "text":
        head = f"Content-Type: text/{draw(st.sampled_from(['plain', 'html', 'enriched']))}; charset=\"{charset}\""
        body = draw(body_bytes(encoding))
    elif kind == "file":
        mime = draw(st.sampled_from(["application/pdf", "application/zip", "application/msword", "image/png",
                                     "application/octet-stream", "message/delivery-status", "application/ms-tnef"]))
        name = draw(st.one_of(st.text(max_size=30), st.just("protokoll.pdf"), st.just("=?utf-8?B?cHJvdG9rb2xs?=")))
        head = (f"Content-Type: {mime}; name*=utf-8''{name}\r\n"
                f"Content-Disposition: {draw(st.sampled_from(['attachment', 'inline', 'bogus', '']))}; "
                f"filename=\"{name}\"")
        body = draw(st.one_of(body_bytes(encoding), mutated(DOCUMENTS)))
    elif kind == "garbage":
        head = draw(headers()).decode("utf-8", "surrogateescape")
        body = draw(st.binary(max_size=200))
    elif kind == "rfc822":
        head = "Content-Type: message/rfc822"
        body = draw(mime_mail(depth + 1))
    else:
        boundary = draw(st.one_of(st.just("b1"), st.text(max_size=10), st.just("")))
        quoted = draw(st.sampled_from([f'"{boundary}"', boundary, f'"{boundary}', ""]))
        head = f"Content-Type: multipart/{draw(st.sampled_from(['mixed', 'alternative', 'report', 'signed']))}; boundary={quoted}"
        used = draw(st.one_of(st.just(boundary), st.text(max_size=10)))  # sometimes not the declared one
        parts = draw(st.lists(mime_part(depth + 1), max_size=4))
        closing = draw(st.sampled_from([f"\r\n--{used}--\r\n", "", f"\r\n--{used}", "\r\n--\r\n"]))
        body = (b"preamble\r\n" + b"".join(f"--{used}\r\n".encode("utf-8", "surrogateescape") + part + b"\r\n"
                                           for part in parts) + closing.encode("utf-8", "surrogateescape"))
    head += f"\r\nContent-Transfer-Encoding: {encoding}"
    return head.encode("utf-8", "surrogateescape") + draw(st.sampled_from([b"\r\n\r\n", b"\n\n", b"\r\n"])) + body


@st.composite
def mime_mail(draw: st.DrawFn, depth: int = 0) -> bytes:
    top = (b"From: " + draw(header_text).encode("utf-8", "surrogatepass") + b"\r\nSubject: "
           + draw(header_text).encode("utf-8", "surrogatepass")
           + b"\r\nMIME-Version: 1.0\r\n" + draw(headers()) + b"\r\n")
    return top + draw(mime_part(depth))


def nested_forwards(depth: int, inner: bytes) -> bytes:
    """A mail forwarded inside a mail, `depth` times over."""
    raw = inner
    for level in range(depth):
        raw = (f"From: f{level}@stockholm.se\r\nSubject: Fwd {level}\r\nMIME-Version: 1.0\r\n"
               f"Content-Type: message/rfc822\r\n\r\n").encode() + raw
    return raw


@settings(FUZZ, max_examples=300)
@given(st.binary(max_size=2000))
def test_random_bytes_are_stored_and_get_an_outcome(quick_ocr: None, pipeline: Context, raw: bytes) -> None:
    through_pipeline(pipeline, raw)


@settings(FUZZ, max_examples=500)
@given(mutated(SEEDS))
def test_damaged_real_mails_are_stored_and_get_an_outcome(quick_ocr: None, pipeline: Context, raw: bytes) -> None:
    through_pipeline(pipeline, raw)


@settings(FUZZ, max_examples=600)
@given(mime_mail())
def test_malformed_mime_is_stored_and_gets_an_outcome(quick_ocr: None, pipeline: Context, raw: bytes) -> None:
    through_pipeline(pipeline, raw)


@settings(FUZZ, max_examples=60)
@given(st.integers(1, 60), SEEDS, st.sampled_from([b"", b"\r\n", b"--x\r\n"]))
def test_deeply_forwarded_mails_and_huge_headers_get_an_outcome(quick_ocr: None, pipeline: Context, depth: int,
                                                                 inner: bytes,
                                                                 junk: bytes) -> None:
    through_pipeline(pipeline, nested_forwards(depth, inner + junk))
    huge = b"Subject: " + b"x" * (depth * 5000) + b"\r\n" + b"X-Junk: y\r\n" * (depth * 100) + inner
    through_pipeline(pipeline, huge)


# --- files through read_document -----------------------------------------------------------


def _docx() -> bytes:
    document = Document()
    document.add_paragraph("Protokollsutdrag Socialnämnden § 9")
    document.add_table(rows=2, cols=2).rows[1].cells[0].text = "Korttidshemmet Drömmen"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _zip(members: dict[str, bytes], stored: frozenset[str] = frozenset()) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data, zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _odt() -> bytes:
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
               '<text:p>Protokollsutdrag § 7 Kvalitetsutmärkelsen</text:p></office:text></office:body>'
               '</office:document-content>')
    return _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": content.encode()},
                stored=frozenset({"mimetype"}))


def _image(kind: str) -> bytes:
    image = Image.new("L", (320, 120), 255)
    ImageDraw.Draw(image).text((10, 40), "Protokollsutdrag § 9", fill=0)
    out = io.BytesIO()
    image.save(out, format=kind)
    return out.getvalue()


@functools.cache
def document_seeds() -> list[bytes]:
    pdf = pdf_from_text(protocol_text("Socialnämnden", datetime(2017, 6, 13).date(), 9,
                                      [("Korttidshemmet Drömmen", "Socialtjänst")], 2017))
    rtf = rb"{\rtf1\ansi\ansicpg1252 Protokollsutdrag \'e5\'e4\'f6 \par S\'e4rskilt {\pict 0102}}"
    doc = build_ole({"WordDocument": b"\xec\xa5" + bytes(510), "1Table": bytes(512)})
    return [pdf, _docx(), _odt(), _zip({"protokoll.pdf": pdf, "inner.zip": _zip({"a.txt": b"x"})}), rtf, doc,
            _image("PNG"), _image("JPEG"), "Protokollsutdrag åäö\r\n§ 9".encode("cp1252")]


MAGIC = [b"%PDF-1.7\n", b"PK\x03\x04", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"{\\rtf1", b"GIF89a",
         b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"II*\x00", b"MM\x00*", b"\x00\x00\x00\x18ftypheic"]
DECLARED = ["application/pdf", "application/octet-stream", "text/plain", "image/jpeg", "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "", "application/zip"]


def read_within_limit(data: bytes, name: str, declared: str) -> DocumentText:
    result = within_limit(lambda: read_document(Attachment(name, declared, data)))
    assert isinstance(result, DocumentText)
    assert result.unreadable is None or result.unreadable.strip(), "a reason, when unreadable"
    return result


FILES = settings(FUZZ, deadline=FILE_DEADLINE)


@settings(FILES, max_examples=1500)
@given(mutated(DOCUMENTS), st.sampled_from(["protokoll.pdf", "utdrag.docx", "x", "bild.jpg", "a.odt"]),
       st.sampled_from(DECLARED))
def test_damaged_files_are_read_or_reported_unreadable(quick_ocr: None, data: bytes, name: str,
                                                       declared: str) -> None:
    read_within_limit(data, name, declared)


@settings(FILES, max_examples=500)
@given(st.sampled_from(MAGIC), st.binary(max_size=3000), st.sampled_from(DECLARED))
def test_random_bytes_behind_a_magic_number_are_reported_unreadable(quick_ocr: None, magic: bytes, data: bytes,
                                                                    declared: str) -> None:
    read_within_limit(magic + data, "fil", declared)


@settings(FILES, max_examples=6, deadline=None)
@given(st.sampled_from(["PNG", "JPEG", "TIFF", "PDF"]), st.integers(0, 359), st.floats(0.0, 0.6),
       st.integers(0, 2**32 - 1), st.booleans())
def test_damaged_scans_through_real_ocr_are_read_or_reported(kind: str, angle: int, noise: float, seed: int,
                                                             cut: bool) -> None:
    """A few scans through the real pdftoppm and tesseract: turned, speckled, and cut short."""
    if not tools.languages():
        pytest.skip("tesseract is not installed")
    image = Image.new("L", (420, 160), 255)
    ImageDraw.Draw(image).text((20, 70), "Protokollsutdrag Socialnämnden § 9", fill=0)
    image = image.rotate(angle, expand=True, fillcolor=255)
    speckles = random.Random(seed)
    for _ in range(int(noise * image.width * image.height / 10)):
        image.putpixel((speckles.randrange(image.width), speckles.randrange(image.height)), speckles.randrange(256))
    out = io.BytesIO()
    image.save(out, format=kind)
    data = out.getvalue()
    if cut:
        data = data[: max(64, speckles.randrange(len(data)))]
    read_within_limit(data, "skanning", "application/octet-stream")
