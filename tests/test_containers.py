"""Containers opened into the files to read, on real archives, mails and signed data made here."""

from __future__ import annotations

import io
import random
import shutil
import struct
import subprocess
import zipfile
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest
from reportlab.pdfgen import canvas

from intake.domain import Attachment
from intake.parsing import parse_mail
from intake.reading import containers
from intake.reading.containers import (
    CORRUPT_ZIP,
    EMPTY_ZIP,
    ENCRYPTED_MEMBER,
    MAX_DEPTH,
    MAX_MEMBERS,
    TOO_DEEP,
    UNREADABLE_TYPE,
    ZIP_BOMB,
    container_kind,
    expand_attachments,
    leaf_problem,
    unreadable_leaf,
)
from intake.reading.mail_containers import (
    BODY_NAME,
    CORRUPT_MSG,
    CORRUPT_TNEF,
    ENCRYPTED_SMIME,
)
from tests.cfb import build_ole

PDF_NAME = "Protokollsutdrag Förskolan.pdf"
LONG_BODY = "Hej! Här kommer nämndens beslut om Kvalitetsutmärkelsen 2025. " * 5


def pdf(text: str = "Protokollsutdrag § 12") -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, text)
    page.save()
    return out.getvalue()


PDF = pdf()


def attachment(name: str, data: bytes, content_type: str = "application/octet-stream") -> Attachment:
    return Attachment(filename=name, content_type=content_type, data=data, disposition="attachment")


def expand(*attachments: Attachment) -> list[Attachment]:
    return expand_attachments(attachments, parse_mail)


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


# --- ZIP -------------------------------------------------------------------------------------


def test_nested_zip_yields_the_pdf_named_by_its_path() -> None:
    inner = zip_of({"Protokoll.pdf": PDF})
    outer = zip_of({"inre.zip": inner, "mapp/Beslut.pdf": PDF, "mapp/": b""})
    leaves = expand(attachment("arkiv.zip", outer, "application/zip"))
    assert [leaf.filename for leaf in leaves] == [
        "arkiv.zip/inre.zip/Protokoll.pdf",
        "arkiv.zip/mapp/Beslut.pdf",
    ]
    assert all(leaf.data == PDF and leaf.content_type == "application/pdf" for leaf in leaves)


def _renamed(placeholder: str, raw_name: bytes) -> bytes:
    """A ZIP whose member name is raw bytes without the UTF-8 flag, as Windows/macOS write them."""
    data = zip_of({placeholder: PDF})
    assert data.count(placeholder.encode("ascii")) == 2  # local header and central directory
    fixed = data.replace(placeholder.encode("ascii"), raw_name)
    if len(raw_name) != len(placeholder):  # patch the name length fields too
        out = bytearray(fixed)
        for signature, length_at in ((b"PK\x03\x04", 26), (b"PK\x01\x02", 28)):
            at = out.index(signature)
            struct.pack_into("<H", out, at + length_at, len(raw_name))
        fixed = bytes(out)
    return fixed


@pytest.mark.parametrize(
    ("placeholder", "raw_name"),
    [
        pytest.param(
            "Protokollsutdrag FXrskolan.pdf", PDF_NAME.encode("cp850"), id="cp850 (Swedish Windows)"
        ),
        pytest.param(
            "Protokollsutdrag FXXrskolan.pdf", PDF_NAME.encode("utf-8"), id="UTF-8 without the flag (macOS)"
        ),
    ],
)
def test_zip_member_names_without_the_utf8_flag_are_repaired(placeholder: str, raw_name: bytes) -> None:
    data = _renamed(placeholder, raw_name)
    assert not zipfile.ZipFile(io.BytesIO(data)).infolist()[0].flag_bits & 0x800
    [leaf] = expand(attachment("arkiv.zip", data))
    assert leaf.filename == f"arkiv.zip/{PDF_NAME}"
    assert leaf.data == PDF


def test_zip_unicode_path_extra_field_wins() -> None:
    name = PDF_NAME.encode("utf-8")
    info = zipfile.ZipInfo("Protokollsutdrag F_rskolan.pdf")
    info.extra = struct.pack("<HHB", 0x7075, 5 + len(name), 1) + b"\x00" * 4 + name
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(info, PDF)
    [leaf] = expand(attachment("arkiv.zip", out.getvalue()))
    assert leaf.filename == f"arkiv.zip/{PDF_NAME}"


def _encrypt_flag(data: bytes, name: str) -> bytes:
    """Set the 'encrypted' flag of one member (zipfile can't write encrypted archives)."""
    out = bytearray(data)
    for signature, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        at = out.find(signature)
        while at >= 0:
            if out[at + name_at : at + name_at + len(name)] == name.encode():
                out[at + flag_at] |= 1
            at = out.find(signature, at + 1)
    return bytes(out)


def test_encrypted_member_becomes_an_unreadable_leaf_and_the_others_are_read() -> None:
    data = _encrypt_flag(zip_of({"hemlig.pdf": PDF, "öppen.pdf": PDF}), "hemlig.pdf")
    leaves = expand(attachment("arkiv.zip", data))
    assert [(leaf.filename, leaf_problem(leaf)) for leaf in leaves] == [
        ("arkiv.zip/hemlig.pdf", ENCRYPTED_MEMBER),
        ("arkiv.zip/öppen.pdf", None),
    ]


def test_zip_bomb_is_not_unpacked() -> None:
    bomb = zip_of({"Protokoll.pdf": b"\x00" * (30 * 1024 * 1024)})
    assert len(bomb) < 100_000
    [leaf] = expand(attachment("arkiv.zip", bomb))
    assert leaf.filename == "arkiv.zip"
    assert leaf_problem(leaf) == ZIP_BOMB


def test_unpacked_bytes_are_budgeted_across_all_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(containers, "MAX_TOTAL_BYTES", len(PDF) * 3)
    first = expand(
        attachment("a.zip", zip_of({"1.pdf": PDF, "2.pdf": PDF})),
        attachment("b.zip", zip_of({"3.pdf": PDF, "4.pdf": PDF})),
    )
    assert [leaf.filename for leaf in first[:2]] == ["a.zip/1.pdf", "a.zip/2.pdf"]
    assert leaf_problem(first[2]) is not None and first[2].filename == "b.zip"


def test_too_many_members() -> None:
    data = zip_of({f"{number}.txt": b"x" for number in range(MAX_MEMBERS + 1)})
    [leaf] = expand(attachment("arkiv.zip", data))
    assert "för många filer" in (leaf_problem(leaf) or "")


def test_depth_limit() -> None:
    data = zip_of({"Protokoll.pdf": PDF})
    for level in range(MAX_DEPTH, 0, -1):
        data = zip_of({f"niva{level}.zip": data})
    leaves = expand(attachment("arkiv.zip", data))
    assert [leaf.filename for leaf in leaves] == ["arkiv.zip/niva1.zip/niva2.zip/niva3.zip"]
    assert leaf_problem(leaves[0]) == TOO_DEEP.format(n=MAX_DEPTH)
    shallower = zip_of({"niva1.zip": zip_of({"niva2.zip": zip_of({"Protokoll.pdf": PDF})})})
    assert [leaf.filename for leaf in expand(attachment("arkiv.zip", shallower))] == [
        "arkiv.zip/niva1.zip/niva2.zip/Protokoll.pdf"
    ]


def test_finder_junk_is_skipped_and_an_empty_archive_is_reported() -> None:
    data = zip_of(
        {
            "__MACOSX/._Protokoll.pdf": b"\x00\x05\x16\x07",
            "._x.pdf": b"",
            ".DS_Store": b"x",
            "Protokoll.pdf": PDF,
        }
    )
    assert [leaf.filename for leaf in expand(attachment("arkiv.zip", data))] == ["arkiv.zip/Protokoll.pdf"]
    [leaf] = expand(attachment("tom.zip", zip_of({})))
    assert leaf_problem(leaf) == EMPTY_ZIP


def test_corrupt_zip_is_an_unreadable_leaf() -> None:
    [leaf] = expand(attachment("arkiv.zip", b"PK\x03\x04" + bytes(100)))
    assert (leaf.filename, leaf_problem(leaf)) == ("arkiv.zip", CORRUPT_ZIP)


def test_documents_in_zip_form_are_not_containers() -> None:
    docx = zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    odt = zip_of({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})
    broken_docx = attachment("protokoll.docx", b"PK\x03\x04" + bytes(50))
    files = [attachment("a.docx", docx), attachment("a.odt", odt), broken_docx, attachment("p.pdf", PDF)]
    assert expand(*files) == files


# --- mails -----------------------------------------------------------------------------------


def mail_with_pdf(body: str = "Se bifogad fil.") -> bytes:
    message = EmailMessage()
    message["From"] = "Anna Nämndsekreterare <anna@stockholm.se>"
    message["To"] = "kvalitetsutmarkelsen@stockholm.se"
    message["Subject"] = "Protokollsutdrag"
    message.set_content(body)
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="bilaga.pdf")
    return message.as_bytes()


def test_eml_attachment_yields_its_pdf_and_a_long_body() -> None:
    short = expand(attachment("vidarebefordrat.eml", mail_with_pdf()))
    assert [(leaf.filename, leaf.data) for leaf in short] == [("vidarebefordrat.eml/bilaga.pdf", PDF)]
    long = expand(attachment("vidarebefordrat.eml", mail_with_pdf(LONG_BODY)))
    assert [leaf.filename for leaf in long] == [
        "vidarebefordrat.eml/bilaga.pdf",
        f"vidarebefordrat.eml/{BODY_NAME}",
    ]
    assert long[1].data.decode("utf-8").startswith("Hej! Här kommer")


def test_mail_is_sniffed_without_its_name_but_a_text_is_not_a_mail() -> None:
    [leaf] = expand(attachment("bilaga-1.bin", mail_with_pdf()))
    assert leaf.filename == "bilaga-1.bin/bilaga.pdf"
    note = attachment("anteckning.txt", b"Subject: protokoll\n\nDet var det.\n", "text/plain")
    assert expand(note) == [note]


def test_forwarded_mail_parsed_by_parse_mail_stays_as_parsed() -> None:
    outer = EmailMessage()
    outer["From"], outer["To"], outer["Subject"] = "a@b.se", "c@d.se", "Fwd"
    outer.set_content("Vidarebefordrar.")
    outer.add_attachment(mail_with_pdf(), maintype="message", subtype="rfc822")
    mail = parse_mail(outer.as_bytes())
    leaves = expand_attachments(mail.all_attachments(), parse_mail)
    assert [leaf.filename for leaf in leaves] == ["bilaga.pdf"]


def build_msg(embedded: bool = True) -> bytes:
    def utf16(text: str) -> bytes:
        return text.encode("utf-16-le")

    tree: dict[str, object] = {
        "__properties_version1.0": bytes(32),
        "__substg1.0_0037001F": utf16("Protokollsutdrag"),
        "__substg1.0_1000001F": utf16(LONG_BODY),
        "__attach_version1.0_#00000000": {
            "__properties_version1.0": bytes(16),
            "__substg1.0_3707001F": utf16(PDF_NAME),
            "__substg1.0_370E001F": utf16("application/pdf"),
            "__substg1.0_37010102": PDF,
        },
    }
    if embedded:
        tree["__attach_version1.0_#00000001"] = {
            "__properties_version1.0": bytes(16),
            "__substg1.0_3001001F": utf16("Vidarebefordrat"),
            "__substg1.0_3701000D": {
                "__properties_version1.0": bytes(24),
                "__attach_version1.0_#00000000": {
                    "__substg1.0_3704001E": "Beslut ÅÄÖ.pdf".encode("cp1252"),
                    "__substg1.0_37010102": PDF,
                },
            },
        }
    return build_ole(tree)


def test_outlook_msg_yields_attachments_embedded_mails_and_body() -> None:
    leaves = expand(attachment("Protokoll.msg", build_msg()))
    assert [leaf.filename for leaf in leaves] == [
        f"Protokoll.msg/{PDF_NAME}",
        "Protokoll.msg/Vidarebefordrat.msg/Beslut ÅÄÖ.pdf",
        f"Protokoll.msg/{BODY_NAME}",
    ]
    assert leaves[0].data == PDF and leaves[0].content_type == "application/pdf"
    assert leaves[1].data == PDF


def test_word_doc_is_not_a_msg_and_a_broken_msg_is_reported() -> None:
    doc = attachment("protokoll.doc", build_ole({"WordDocument": bytes(600), "1Table": bytes(10)}))
    assert expand(doc) == [doc]
    assert container_kind(doc) is None
    [broken] = expand(attachment("Protokoll.msg", build_msg()[:1500]))
    assert (broken.filename, leaf_problem(broken)) == ("Protokoll.msg", CORRUPT_MSG)


def tnef_attribute(level: int, name: int, kind: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", checksum)


def build_tnef() -> bytes:
    """A minimal winmail.dat: version, code page, body, one attachment with a cp1252 title."""
    return (
        struct.pack("<IH", 0x223E9F78, 0x1234)
        + tnef_attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # attTnefVersion
        + tnef_attribute(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))  # attOemCodepage
        + tnef_attribute(1, 0x800C, 0x0002, LONG_BODY.encode("cp1252"))  # attBody
        + tnef_attribute(2, 0x9002, 0x0006, bytes(14))  # attAttachRendData: a new attachment
        + tnef_attribute(2, 0x8010, 0x0001, PDF_NAME.encode("cp1252") + b"\x00")  # attAttachTitle
        + tnef_attribute(2, 0x800F, 0x0006, PDF)  # attAttachData
    )


def test_winmail_dat_yields_its_attachment_with_the_name_decoded() -> None:
    leaves = expand(attachment("winmail.dat", build_tnef(), "application/ms-tnef"))
    assert [leaf.filename for leaf in leaves] == [f"winmail.dat/{PDF_NAME}", f"winmail.dat/{BODY_NAME}"]
    assert leaves[0].data == PDF


def test_broken_winmail_dat_is_an_unreadable_leaf() -> None:
    # an attachment attribute before any attachment was started
    broken = struct.pack("<IH", 0x223E9F78, 0) + tnef_attribute(2, 0x800F, 0x0006, PDF)
    [leaf] = expand(attachment("winmail.dat", broken, "application/ms-tnef"))
    assert (leaf.filename, leaf_problem(leaf)) == ("winmail.dat", CORRUPT_TNEF)


# --- S/MIME ----------------------------------------------------------------------------------

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is needed to sign test mails")


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("smime")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [str(OPENSSL), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=Förskolenämnden test/O=Stockholms stad", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return key, cert


def openssl(*args: str, data: bytes) -> bytes:
    done = subprocess.run([str(OPENSSL), *args], input=data, check=True, capture_output=True, timeout=60)
    return done.stdout


def mime_entity() -> bytes:
    entity = MIMEMultipart()
    entity.attach(MIMEText("Protokollsutdrag bifogas.", "plain", "utf-8"))
    part = MIMEApplication(PDF, "pdf")
    part.add_header("Content-Disposition", "attachment", filename="Protokoll.pdf")
    entity.attach(part)
    return entity.as_bytes().replace(b"\n", b"\r\n")


@needs_openssl
def test_opaque_signed_p7m_yields_the_signed_attachment(signer: tuple[Path, Path]) -> None:
    key, cert = signer
    der = openssl("smime", "-sign", "-nodetach", "-binary", "-outform", "DER", "-signer", str(cert),
                  "-inkey", str(key), data=mime_entity())  # fmt: skip
    assert der[:1] == b"\x30"
    leaves = expand(attachment("smime.p7m", der, "application/pkcs7-mime; smime-type=signed-data"))
    assert [(leaf.filename, leaf.data) for leaf in leaves] == [("smime.p7m/Protokoll.pdf", PDF)]


@needs_openssl
def test_whole_mail_sent_as_opaque_s_mime(signer: tuple[Path, Path]) -> None:
    key, cert = signer
    signed = openssl("smime", "-sign", "-nodetach", "-signer", str(cert), "-inkey", str(key),
                     "-from", "anna@stockholm.se", "-to", "kvalitet@stockholm.se", "-subject",
                     "Protokollsutdrag", data=mime_entity())  # fmt: skip
    mail = parse_mail(signed)
    leaves = expand_attachments(mail.all_attachments(), parse_mail)
    assert [leaf.filename for leaf in leaves] == ["smime.p7m/Protokoll.pdf"]


@needs_openssl
def test_detached_signature_is_dropped(signer: tuple[Path, Path]) -> None:
    key, cert = signer
    signed = openssl("smime", "-sign", "-signer", str(cert), "-inkey", str(key), "-subject", "Protokoll",
                     "-from", "anna@stockholm.se", data=mime_entity())  # fmt: skip
    mail = parse_mail(signed)
    assert "smime.p7s" in [a.filename for a in mail.all_attachments()]
    assert [leaf.filename for leaf in expand_attachments(mail.all_attachments(), parse_mail)] == [
        "Protokoll.pdf"
    ]


@needs_openssl
def test_signed_file_cades_style(signer: tuple[Path, Path]) -> None:
    key, cert = signer
    der = openssl("cms", "-sign", "-nodetach", "-binary", "-outform", "DER", "-signer", str(cert),
                  "-inkey", str(key), data=PDF)  # fmt: skip
    [leaf] = expand(attachment("Protokoll.pdf.p7m", der))
    assert leaf.filename.startswith("Protokoll.pdf.p7m/") and leaf.data == PDF


@needs_openssl
def test_encrypted_s_mime_is_reported(signer: tuple[Path, Path]) -> None:
    _, cert = signer
    der = openssl("smime", "-encrypt", "-aes256", "-outform", "DER", str(cert), data=mime_entity())
    [leaf] = expand(attachment("smime.p7m", der, "application/pkcs7-mime; smime-type=enveloped-data"))
    assert (leaf.filename, leaf_problem(leaf)) == ("smime.p7m", ENCRYPTED_SMIME)


# --- the contract ----------------------------------------------------------------------------


def test_unreadable_leaf_round_trip() -> None:
    leaf = unreadable_leaf("arkiv.zip/x.pdf", "filen är skadad; helt")
    assert leaf.content_type.startswith(UNREADABLE_TYPE)
    assert leaf_problem(leaf) == "filen är skadad; helt"
    assert leaf_problem(attachment("x.pdf", PDF, "application/pdf")) is None
    assert expand(leaf) == [leaf]


def test_plain_attachments_pass_through_in_order() -> None:
    files = [
        attachment("a.pdf", PDF, "application/pdf"),
        attachment("logo.png", b"\x89PNG\r\n\x1a\n", "image/png"),
    ]
    assert expand(*files) == files
    assert expand(attachment("smime.p7s", b"\x30\x82", "application/pkcs7-signature")) == []


@pytest.mark.parametrize("name", ["arkiv.zip", "mail.eml", "x.msg", "winmail.dat", "smime.p7m", "bilaga"])
def test_containers_never_raise_on_garbage(name: str) -> None:
    rng = random.Random(name)
    prefixes = [
        b"PK\x03\x04",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        b"\x78\x9f\x3e\x22",
        b"\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02",
        b"From: a@b\nTo: c@d\n\n",
        b"",
    ]
    originals = [zip_of({"a.pdf": PDF}), build_msg(), build_tnef(), mail_with_pdf()]
    for _ in range(40):
        sample = bytearray(rng.choice(prefixes) + rng.randbytes(rng.randrange(0, 2000)))
        if rng.random() < 0.5:
            sample = bytearray(rng.choice(originals))
            for _ in range(10):
                sample[rng.randrange(len(sample))] = rng.randrange(256)
        for leaf in expand(attachment(name, bytes(sample))):
            assert isinstance(leaf, Attachment)
