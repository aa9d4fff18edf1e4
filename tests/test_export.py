"""The register export (intake.storage.export, `intake units export`): CSV for Swedish Excel, XLSX,
and files that import again without a change."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from intake.cli import main
from intake.domain import AwardClass, Unit
from intake.errors import RegisterFileError
from intake.pipeline import import_register
from intake.register import COLUMNS
from intake.storage import export, store
from intake.storage.export import HEADERS, RegisterFilter, register_entries
from intake.storage.models import AuditRow
from intake.web import labels
from tests.desk import CONFIG, Desk, make_desk

REGISTER_HEADERS = ["År", "Enhet", "Tävlingsklass", "Förvaltning", "Nämnd", "Driftform", "Kontakt e-post",
                    "Enhets-ID"]


def entries(desk: Desk, where: RegisterFilter | None = None) -> list[export.RegisterEntry]:
    with desk.ctx.sessions.begin() as db:
        return register_entries(db, desk.settings.award.year, desk.settings.award.tz, where)


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    text = data[3:].decode("utf-8")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def test_headers_are_the_register_file_columns_then_the_state() -> None:
    assert [swedish for swedish, _ in COLUMNS.values()] == REGISTER_HEADERS
    assert list(HEADERS) == [*REGISTER_HEADERS, "Status", "Sammanträdesdatum", "Paragraf",
                             "Protokoll mottaget", "Message-ID"]
    assert {k: v for k, v in labels.STATES.items()} == export.STATE_LABELS


def test_csv_and_xlsx_carry_states_and_protocols_and_import_again_unchanged(desk: Desk) -> None:
    rows = entries(desk)
    assert len(rows) == 10
    assert [row.board for row in rows] == sorted((row.board for row in rows), key=export.swedish_key)

    data = export.to_csv(rows)
    table = csv_rows(data)
    assert table[0] == list(HEADERS)
    by_id = {line[7]: dict(zip(HEADERS, line, strict=True)) for line in table[1:]}
    dream = by_id["SOC-002"]
    assert dream["Enhet"] == "Korttidshemmet Drömmen"  # å/ä/ö intact
    assert dream["År"] == "2017" and dream["Driftform"] == "kommunal"
    assert dream["Status"] == "Bekräftad"
    assert dream["Sammanträdesdatum"] == "2017-06-13" and dream["Paragraf"] == "§ 9"
    assert dream["Protokoll mottaget"] == "2017-06-19" and dream["Message-ID"].startswith("<")
    assert by_id["ST-002"]["Status"] == "Väntar på protokoll" and by_id["ST-002"]["Message-ID"] == ""
    assert by_id["BR-001"]["Status"] == "Granskas"

    book = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(rows, "Register 2017")))
    sheet = book.active
    assert sheet is not None and sheet.title == "Register 2017"
    assert [cell.value for cell in sheet[1]] == list(HEADERS)
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width >= len("Enheten för verksamhetsutveckling")
    values = {row[7]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert len(values) == 10
    dream_row = values["SOC-002"]
    assert dream_row[0] == 2017 and dream_row[1] == "Korttidshemmet Drömmen"
    assert isinstance(dream_row[9], datetime) and dream_row[9].date() == date(2017, 6, 13)
    assert isinstance(dream_row[11], datetime) and dream_row[11].date() == date(2017, 6, 19)
    assert values["ST-002"][5] == "kommunal" and values["ST-002"][9] is None

    for name, payload in (("register.csv", data), ("register.xlsx", export.to_xlsx(rows, "R"))):
        report = import_register(desk.ctx, name, payload, actor="test")
        assert (report.added, report.updated, report.unchanged, report.errors) == (0, 0, 10, ()), name
    assert entries(desk) == rows  # states and protocols untouched too


def test_units_without_ids_or_contacts_round_trip(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    odd = Unit(unit_id="u-0123456789ab", year=2017, name="Gärdets gruppbostäder; Daglig verksamhet, \"Ö\"",
               award_class=AwardClass.ELDERLY.value, administration="Östermalms stadsdelsförvaltning",
               board="Östermalms stadsdelsnämnd", operator=None, contact_email="a@stockholm.se; b@stockholm.se")
    with desk.ctx.sessions.begin() as db:
        store.upsert_units(db, [odd], actor="test")
    rows = entries(desk)
    for name, payload in (("r.csv", export.to_csv(rows)), ("r.xlsx", export.to_xlsx(rows, "R"))):
        report = import_register(desk.ctx, name, payload, actor="test")
        assert (report.added, report.updated, report.unchanged, report.errors) == (0, 0, 11, ()), name


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    evil = Unit(unit_id="X-1", year=2017, name='=HYPERLINK("http://evil.example","klicka")',
                award_class=AwardClass.OTHER.value, administration="@SUM(1)", board="+Nämnd", operator=None,
                contact_email=None)
    with desk.ctx.sessions.begin() as db:
        store.upsert_units(db, [evil], actor="test")
    rows = entries(desk, RegisterFilter(text="X-1"))
    [line] = csv_rows(export.to_csv(rows))[1:]
    assert line[1].startswith("'=HYPERLINK") and line[3] == "'@SUM(1)" and line[4] == "'+Nämnd"
    sheet = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(rows, "R"))).active
    assert sheet is not None
    assert sheet["B2"].data_type == "s" and sheet["B2"].value == evil.name
    report = import_register(desk.ctx, "r.csv", export.to_csv(rows), actor="test")
    assert (report.unchanged, report.updated) == (1, 0)  # the guarding apostrophe is not read back


def test_filter_on_text_committee_class_administration_and_state(desk: Desk) -> None:
    def ids(where: RegisterFilter) -> set[str]:
        return {row.unit_id for row in entries(desk, where)}

    assert ids(RegisterFilter(text="drommen")) == {"SOC-002"}  # without diacritics, any case
    assert ids(RegisterFilter(text="MISA")) == {"SOC-004", "SOC-005"}
    assert ids(RegisterFilter(text="soc-00 blackeberg")) == {"SOC-004"}  # every word must match
    assert ids(RegisterFilter(board="Spånga-Tensta stadsdelsnämnd")) == {"ST-001", "ST-002"}
    assert ids(RegisterFilter(award_class=AwardClass.PRESCHOOL.value)) == {"EAV-001"}
    assert ids(RegisterFilter(administration="Bromma stadsdelsförvaltning")) == {"BR-001"}
    assert ids(RegisterFilter(state="awaiting_protocol")) == {"ST-002"}
    assert ids(RegisterFilter(state="needs_review", board="Bromma stadsdelsnämnd")) == {"BR-001"}
    assert not RegisterFilter().active and RegisterFilter(state="confirmed").active


def test_export_format_from_the_suffix() -> None:
    assert export.export_format("register.xlsx") == "xlsx"
    assert export.export_format(Path("REGISTER.CSV")) == "csv"
    for name in ("register.txt", "register"):
        with pytest.raises(RegisterFileError):
            export.export_format(name)


def write_config(desk: Desk, database_url: str) -> Path:
    path = desk.directory / "intake.toml"
    path.write_text(CONFIG.format(dir=desk.directory.as_posix(), url=database_url, web=""), encoding="utf-8")
    return path


def test_cli_exports_and_the_file_imports_again(tmp_path: Path, database_url: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    config = str(write_config(desk, database_url))
    for name in ("register-2017.xlsx", "register-2017.csv"):
        target = tmp_path / name
        assert main(["units", "export", "--config", config, str(target)]) == 0
        assert capsys.readouterr().out.strip() == f"10 enheter exporterade till {target}"
        assert main(["units", "import", "--config", config, str(target)]) == 0
        assert capsys.readouterr().out.strip() == "0 tillagda, 0 uppdaterade, 10 oförändrade"
    table = csv_rows((tmp_path / "register-2017.csv").read_bytes())
    assert [line[1] for line in table[1:3]] == ["Enheten för arbete och försörjning", "Förskolan Solrosen"]
    sheet = openpyxl.load_workbook(tmp_path / "register-2017.xlsx").active
    assert sheet is not None and sheet.max_row == 11

    assert main(["units", "export", "--config", config, str(tmp_path / "register.txt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("intake: Okänd filtyp .txt") and err.count("\n") == 1
    assert not (tmp_path / "register.txt").exists()
    assert main(["units", "export", "--config", config, str(tmp_path / "saknas" / "r.csv")]) == 1
    with desk.ctx.sessions.begin() as db:
        exported = db.scalars(select(AuditRow).where(AuditRow.action == "register_exported")).all()
        assert [(row.actor.startswith("cli:"), row.detail["format"]) for row in exported] == [
            (True, "xlsx"), (True, "csv")]
