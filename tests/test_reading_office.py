"""Office readers on real files made here: python-docx DOCX, hand-zipped ODT, RTF, OLE containers."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docx.enum.text import WD_BREAK

from intake.domain import Attachment
from intake.reading import office
from intake.reading.containers import ZIP_BOMB, zip_problem
from intake.reading.office import (
    CORRUPT_DOC,
    CORRUPT_DOCX,
    CORRUPT_ODT,
    EMPTY_DOCUMENT,
    ENCRYPTED_OFFICE,
    NO_DOC_TOOL,
    NOT_WORD_OLE,
    OFFICE_READERS,
    read_doc,
    read_docx,
    read_odt,
    read_rtf,
)
from tests.cfb import build_ole

COMMITTEE = "Förskolenämnden"


def attachment(data: bytes, name: str = "protokoll.docx") -> Attachment:
    return Attachment(filename=name, content_type="application/octet-stream", data=data)


def protocol_docx() -> bytes:
    document = Document()
    document.sections[0].header.paragraphs[0].text = f"{COMMITTEE} – Protokollsutdrag"
    document.sections[0].footer.paragraphs[0].text = "Stockholms stad"
    document.add_heading("Sammanträde 2025-03-12", level=1)
    document.add_paragraph("§ 12 Anmälan till Kvalitetsutmärkelsen 2025")
    table = document.add_table(rows=3, cols=2)
    for row, (unit, award_class) in zip(
        table.rows,
        [("Enhet", "Tävlingsklass"), ("Förskolan Solrosen", "Förskola"), ("Åby förskola", "Förskola")],
        strict=True,
    ):
        row.cells[0].text = unit
        row.cells[1].text = award_class
    document.add_paragraph("Nämnden beslutar att anmäla enheterna ovan.")
    document.add_paragraph("Protokollet justeras omedelbart.").add_run().add_break(WD_BREAK.PAGE)
    document.add_paragraph("Rätt utdraget intygar: Anna Ärlig")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_reads_header_paragraphs_tables_in_order_and_hard_page_breaks() -> None:
    result = read_docx(attachment(protocol_docx()))
    assert result.unreadable is None
    assert result.media_type == office.MEDIA_TYPES["docx"]
    assert [page.number for page in result.pages] == [1, 2]
    first = result.pages[0].text.splitlines()
    assert first[0] == f"{COMMITTEE} – Protokollsutdrag"  # the header comes first
    assert (
        first.index("§ 12 Anmälan till Kvalitetsutmärkelsen 2025")
        < first.index("Förskolan Solrosen\tFörskola")
        < first.index("Nämnden beslutar att anmäla enheterna ovan.")
    )
    assert "Åby förskola\tFörskola" in first
    assert "Rätt utdraget intygar: Anna Ärlig" in result.pages[1].text
    assert result.pages[1].text.rstrip().endswith("Stockholms stad")  # the footer last


def test_docm_main_part_is_read_too() -> None:
    source = zipfile.ZipFile(io.BytesIO(protocol_docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(
                    b"wordprocessingml.document.main+xml", b"ms-word.document.macroEnabled.main+xml"
                )
                assert b"macroEnabled" in data
            target.writestr(info, data)
    result = read_docx(attachment(out.getvalue(), "protokoll.docm"))
    assert result.unreadable is None
    assert "Förskolan Solrosen\tFörskola" in result.text


def test_docx_text_in_content_controls_and_text_boxes_is_read_once() -> None:
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = (
        "<w:sdt><w:sdtContent><w:p><w:r><w:t>Datum: 2025-03-12</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        '<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:txbxContent><w:p><w:r>'
        "<w:t>Utbildningsnämnden</w:t></w:r></w:p></w:txbxContent></mc:Choice><mc:Fallback>"
        "<w:txbxContent><w:p><w:r><w:t>Utbildningsnämnden</w:t></w:r></w:p></w:txbxContent>"
        "</mc:Fallback></mc:AlternateContent></w:r></w:p>"
        "<w:p><w:del><w:r><w:delText>struken text</w:delText></w:r></w:del>"
        "<w:ins><w:r><w:t>infogad text</w:t></w:r></w:ins></w:p>"
    )
    source = zipfile.ZipFile(io.BytesIO(protocol_docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                text = data.decode("utf-8")
                if "xmlns:mc=" not in text:
                    text = text.replace(
                        f'xmlns:w="{w}"',
                        f'xmlns:w="{w}" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"',
                    )
                start = text.index("<w:body>") + len("<w:body>")
                data = (text[:start] + body + text[start:]).encode("utf-8")
            target.writestr(info, data)
    result = read_docx(attachment(out.getvalue()))
    assert result.unreadable is None, result.unreadable
    assert "Datum: 2025-03-12" in result.text
    assert result.text.count("Utbildningsnämnden") == 1
    assert "infogad text" in result.text and "struken text" not in result.text


def zip_of(members: dict[str, bytes], stored: frozenset[str] = frozenset()) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data, zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED)
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(protocol_docx()[: len(protocol_docx()) // 2], id="truncated"),
        pytest.param(b"PK\x03\x04" + bytes(500), id="garbage after the magic"),
        pytest.param(zip_of({"word/document.xml": b"<not xml"}), id="no content types, bad XML"),
        pytest.param(b"", id="empty"),
    ],
)
def test_corrupt_docx_is_unreadable_with_a_reason(data: bytes) -> None:
    result = read_docx(attachment(data))
    assert result.unreadable == CORRUPT_DOCX
    assert result.pages == ()


def test_docx_zip_bomb_is_not_unpacked() -> None:
    bomb = zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\x00" * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    assert read_docx(attachment(bomb)).unreadable == ZIP_BOMB


def test_zip_problem_checks_declared_sizes_before_unpacking() -> None:
    def info(size: int, compressed: int) -> zipfile.ZipInfo:
        member = zipfile.ZipInfo("x")
        member.file_size, member.compress_size = size, compressed
        return member

    assert zip_problem([info(10_000, 100)]) is None  # small members may compress well
    assert zip_problem([info(50 << 20, 40 << 20)]) is None
    assert zip_problem([info(60 << 20, 60 << 20), info(60 << 20, 60 << 20)]) is not None  # > 100 MB
    assert zip_problem([info(5 << 20, 1000)]) == ZIP_BOMB
    assert zip_problem([info(1, 1)] * 3, max_entries=2) is not None


def test_encrypted_docx_is_an_ole_container() -> None:
    encrypted = build_ole(
        {"EncryptionInfo": b"\x04\x00\x04\x00" + bytes(200), "EncryptedPackage": bytes(5000)}
    )
    assert read_docx(attachment(encrypted)).unreadable == ENCRYPTED_OFFICE
    assert read_doc(attachment(encrypted, "protokoll.doc")).unreadable == ENCRYPTED_OFFICE


def protocol_odt() -> bytes:
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"'
    )
    content = f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document-content {ns} office:version="1.3">
  <office:body>
    <office:text>
      <text:sequence-decls><text:sequence-decl text:name="Table"/></text:sequence-decls>
      <text:h text:outline-level="1">Protokollsutdrag</text:h>
      <text:p>§ 7 <text:span>Kvalitetsutmärkelsen</text:span><text:s text:c="2"/>2025</text:p>
      <table:table table:name="Enheter">
        <table:table-column table:number-columns-repeated="2"/>
        <table:table-row>
          <table:table-cell><text:p>Hemtjänst Söder</text:p></table:table-cell>
          <table:table-cell><text:p>Äldreomsorg</text:p></table:table-cell>
        </table:table-row>
      </table:table>
      <text:p>Nämnden beslutar<text:tab/>att anmäla<text:line-break/>enheten.<text:s text:c="999999999"/>x</text:p>
    </office:text>
  </office:body>
</office:document-content>"""
    styles = f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document-styles {ns}>
  <office:master-styles>
    <style:master-page style:name="Standard">
      <style:header><text:p>Äldrenämnden</text:p></style:header>
      <style:header-left><text:p>Äldrenämnden</text:p></style:header-left>
    </style:master-page>
  </office:master-styles>
</office:document-styles>"""
    manifest = b"""<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"""
    return zip_of(
        {
            "mimetype": b"application/vnd.oasis.opendocument.text",
            "content.xml": content.encode("utf-8"),
            "styles.xml": styles.encode("utf-8"),
            "META-INF/manifest.xml": manifest,
        },
        stored=frozenset({"mimetype"}),
    )


def test_odt_reads_header_headings_paragraphs_and_tables() -> None:
    result = read_odt(attachment(protocol_odt(), "protokoll.odt"))
    assert result.unreadable is None
    lines = result.text.splitlines()
    assert lines[:3] == ["Äldrenämnden", "Protokollsutdrag", "§ 7 Kvalitetsutmärkelsen  2025"]
    assert "Hemtjänst Söder\tÄldreomsorg" in lines
    assert "Nämnden beslutar\tatt anmäla" in lines
    assert any(line.startswith("enheten.") and len(line) < 200 for line in lines)  # spaces capped
    assert result.text.count("Äldrenämnden") == 1


@pytest.mark.parametrize(
    "data",
    [
        zip_of({"mimetype": b"application/vnd.oasis.opendocument.text"}),  # no content.xml
        zip_of({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<broken"}),
        b"PK\x03\x04 not really",
    ],
)
def test_corrupt_odt_is_unreadable(data: bytes) -> None:
    assert read_odt(attachment(data, "x.odt")).unreadable == CORRUPT_ODT


RTF = (
    rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss\fcharset0 Arial;}}"
    rb"{\*\generator Riched20 10.0.19041}\viewkind4\uc1"
    rb"\pard\f0\fs22 Protokollsutdrag\par"
    rb"\'a7 12 F\'f6rskolan Solrosen \'e4r anm\'e4ld till Kvalitetsutm\'e4rkelsen.\par"
    rb"\u197?by f\'f6rskola\par"
    rb"{\pict\pngblip " + b"89504e47" * 400 + rb"}"
    rb"\par}"
)


def test_rtf_decodes_cp1252_escapes_and_skips_pictures() -> None:
    result = read_rtf(attachment(RTF, "protokoll.rtf"))
    assert result.unreadable is None
    assert "§ 12 Förskolan Solrosen är anmäld till Kvalitetsutmärkelsen." in result.text
    assert "Åby förskola" in result.text
    assert "8950" not in result.text


def test_rtf_without_text_is_reported() -> None:
    assert read_rtf(attachment(rb"{\rtf1\ansi{\fonttbl{\f0 Arial;}}}", "x.rtf")).unreadable == EMPTY_DOCUMENT


@pytest.mark.parametrize(
    ("tree", "reason"),
    [
        ({"Workbook": bytes(5000)}, NOT_WORD_OLE),
        # fEncrypted set in the File Information Block's flags
        (
            {"WordDocument": b"\xec\xa5\xc1\x00" + bytes(6) + b"\x00\x01" + bytes(500), "1Table": bytes(100)},
            ENCRYPTED_OFFICE,
        ),
    ],
)
def test_doc_container_checks(tree: dict[str, object], reason: str) -> None:
    assert read_doc(attachment(build_ole(tree), "protokoll.doc")).unreadable == reason


def test_damaged_ole_is_a_corrupt_doc() -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    assert read_doc(attachment(data, "protokoll.doc")).unreadable == CORRUPT_DOC


def test_doc_the_tools_cannot_read_is_unreadable() -> None:
    junk = build_ole({"WordDocument": b"\xec\xa5" + bytes(1000), "1Table": bytes(100)})
    reason = read_doc(attachment(junk, "protokoll.doc")).unreadable
    if shutil.which("antiword") or shutil.which("catdoc"):
        assert reason in (CORRUPT_DOC, EMPTY_DOCUMENT)
    else:
        assert reason == NO_DOC_TOOL


def test_doc_without_tools_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(office, "DOC_COMMANDS", (("intake-no-such-tool",),))
    junk = build_ole({"WordDocument": b"\xec\xa5" + bytes(1000)})
    assert read_doc(attachment(junk, "protokoll.doc")).unreadable == NO_DOC_TOOL


def test_doc_tool_that_hangs_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(office, "DOC_COMMANDS", ((sys.executable, "-c", "import time; time.sleep(30)"),))
    monkeypatch.setattr(office, "DOC_TIMEOUT_SECONDS", 0.5)
    junk = build_ole({"WordDocument": b"\xec\xa5" + bytes(1000)})
    assert read_doc(attachment(junk, "protokoll.doc")).unreadable == office.DOC_TIMED_OUT


def test_doc_text_is_split_at_form_feeds(monkeypatch: pytest.MonkeyPatch) -> None:
    script = "import sys; sys.stdout.write('Sida ett\\n\\fSida två\\n')"
    monkeypatch.setattr(office, "DOC_COMMANDS", ((sys.executable, "-c", script),))
    junk = build_ole({"WordDocument": b"\xec\xa5" + bytes(1000)})
    result = read_doc(attachment(junk, "protokoll.doc"))
    assert [page.text for page in result.pages] == ["Sida ett", "Sida två"]


LIBREOFFICE = shutil.which("libreoffice") or shutil.which("soffice")


@pytest.mark.skipif(LIBREOFFICE is None, reason="no LibreOffice here to write a real Word 97-2003 .doc")
@pytest.mark.skipif(
    shutil.which("antiword") is None and shutil.which("catdoc") is None, reason="neither antiword nor catdoc"
)
def test_real_doc_is_read(tmp_path: Path) -> None:
    source = tmp_path / "protokoll.docx"
    source.write_bytes(protocol_docx())
    subprocess.run(
        [str(LIBREOFFICE), "--headless", "--convert-to", "doc", "--outdir", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    result = read_doc(attachment((tmp_path / "protokoll.doc").read_bytes(), "protokoll.doc"))
    assert result.unreadable is None
    assert "Förskolan Solrosen" in result.text
    assert "§ 12" in result.text


def test_readers_are_registered_by_kind() -> None:
    assert {"docx": read_docx, "odt": read_odt, "rtf": read_rtf, "doc": read_doc} == OFFICE_READERS


def test_readers_never_raise_on_garbage() -> None:
    rng = random.Random(3)
    samples = [rng.randbytes(rng.randrange(0, 3000)) for _ in range(30)]
    docx = protocol_docx()
    samples += [bytearray(docx) for _ in range(20)]
    for sample in samples[30:]:
        for _ in range(20):
            sample[rng.randrange(len(sample))] = rng.randrange(256)
    for sample in samples:
        for reader in OFFICE_READERS.values():
            result = reader(attachment(bytes(sample)))
            assert result.unreadable or result.pages
