"""Tests for intake.register: CSV and XLSX register files, generated in tmp_path."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from intake.domain import AwardClass, Unit
from intake.errors import RegisterFileError
from intake.register import (
    RegisterParse,
    canonical_class,
    normalise_header,
    parse_register,
    synthesise_unit_id,
)

SWEDISH = ["År", "Enhet", "Tävlingsklass", "Förvaltning", "Nämnd", "Driftform", "Kontakt e-post",
           "Enhets-ID"]  # fmt: skip
ENGLISH = ["year", "unit", "class", "administration", "board", "operator", "contact_email",
           "unit_id"]  # fmt: skip
ODD = ["AR", " enhet ", "Tavlingsklass", "FORVALTNING", "nämnd ", "DRIFT-FORM", "kontakt_epost",
       "Enhets ID"]  # fmt: skip

# Names carry å/ä/ö and each separator, so quoting and every encoding are exercised.
ROWS = [
    ["2017", "Förskolan Äppelängen", "Förskola", "Skärholmens stadsdelsförvaltning",
     "Skärholmens stadsdelsnämnd", "kommunal", "anna.ek@stockholm.se", ""],
    ["2017", "Sätra vård- och omsorgsboende", "Äldreomsorg (inkl. myndighetsutövning)",
     "Skärholmens stadsdelsförvaltning", "Skärholmens stadsdelsnämnd", "enskild", "", "A-17"],
    ["2017", "Gärdets gruppbostäder; Daglig verksamhet, Östermalm", "Soc/LSS",
     "Östermalms stadsdelsförvaltning", "Östermalms stadsdelsnämnd", "", "", ""],
]  # fmt: skip
EXPECTED_NAMES = [
    "Förskolan Äppelängen",
    "Sätra vård- och omsorgsboende",
    "Gärdets gruppbostäder; Daglig verksamhet, Östermalm",
]
SYNTHETIC_ID = re.compile(r"u-[0-9a-f]{12}")


def write_csv(path: Path, rows: list[list[str]], *, sep: str = ";", encoding: str = "utf-8",
              prefix: str = "") -> Path:  # fmt: skip
    """Write rows as Excel would: every field that needs it quoted, CRLF line ends."""
    buffer = _CsvText()
    csv.writer(buffer, delimiter=sep, lineterminator="\r\n").writerows(rows)
    path.write_bytes((prefix + buffer.text).encode(encoding))
    return path


class _CsvText:
    def __init__(self) -> None:
        self.text = ""

    def write(self, chunk: str) -> None:
        self.text += chunk


def write_xlsx(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def parse(path: Path) -> RegisterParse:
    return parse_register(path.name, path.read_bytes())


# --- CSV: encodings, separators, headers -------------------------------------------


@pytest.mark.parametrize("sep", [";", ","])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_csv_encodings_and_separators(tmp_path: Path, encoding: str, sep: str) -> None:
    result = parse(write_csv(tmp_path / "reg.csv", [SWEDISH, *ROWS], sep=sep, encoding=encoding))
    assert result.errors == ()
    assert [u.name for u in result.units] == EXPECTED_NAMES
    first, second, third = result.units
    assert first.administration == "Skärholmens stadsdelsförvaltning"
    assert first.board == "Skärholmens stadsdelsnämnd"
    assert first.award_class == AwardClass.PRESCHOOL.value
    assert first.operator == "kommunal"
    assert first.contact_email == "anna.ek@stockholm.se"
    assert SYNTHETIC_ID.fullmatch(first.unit_id)
    assert second == Unit(
        unit_id="A-17", year=2017, name="Sätra vård- och omsorgsboende",
        award_class=AwardClass.ELDERLY.value, administration="Skärholmens stadsdelsförvaltning",
        board="Skärholmens stadsdelsnämnd", operator="enskild", contact_email=None,
    )  # fmt: skip
    assert third.award_class == AwardClass.SOCIAL.value
    assert third.operator is None


@pytest.mark.parametrize("header", [SWEDISH, ENGLISH, ODD], ids=["swedish", "english", "odd"])
def test_header_variants(tmp_path: Path, header: list[str]) -> None:
    result = parse(write_csv(tmp_path / "reg.csv", [header, *ROWS]))
    assert result.errors == ()
    assert [u.name for u in result.units] == EXPECTED_NAMES
    assert result.units[1].unit_id == "A-17"
    assert result.units[0].contact_email == "anna.ek@stockholm.se"


def test_extra_columns_ignored_and_order_free(tmp_path: Path) -> None:
    header = ["Kommentar", "Nämnd", "Enhet", "År", "Förvaltning", "Tävlingsklass"]
    row = ["ring först", "Kulturnämnden", "Kulturförvaltningen SHD", "2017", "Kulturförvaltningen",
           "Andra verksamheter"]  # fmt: skip
    (unit,) = parse(write_csv(tmp_path / "reg.csv", [header, row])).units
    assert (unit.name, unit.board, unit.award_class) == (
        "Kulturförvaltningen SHD", "Kulturnämnden", AwardClass.OTHER.value,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("År", "ar"),
        ("  AR ", "ar"),
        ("Kontakt e-post", "kontaktepost"),
        ("contact_email", "contactemail"),
        ("Enhets-ID", "enhetsid"),
        ("unit_id", "unitid"),
        ("TÄVLINGSKLASS", "tavlingsklass"),
    ],
)
def test_normalise_header(raw: str, expected: str) -> None:
    assert normalise_header(raw) == expected


def test_excel_sep_line_multiline_field_and_blank_lines(tmp_path: Path) -> None:
    rows = [SWEDISH, ROWS[0], [], ["2017", "Enheten för\nekonomiskt bistånd", "Soc", "Socialförv",
            "Socialnämnden"], ["2017", "", "Skola", "Utbildningsförv", "Utbildningsnämnden"]]  # fmt: skip
    result = parse(write_csv(tmp_path / "reg.csv", rows, sep=",", prefix="sep=,\r\n"))
    assert [u.name for u in result.units] == [EXPECTED_NAMES[0], "Enheten för ekonomiskt bistånd"]
    # Excel hides the sep line and shows the two-line field as one row: header 1, blank 3.
    assert result.errors == ((5, "Enhet saknas"),)


def test_separator_inside_quotes_does_not_decide() -> None:
    # More commas inside the quoted note than semicolons outside it.
    header = ["År", "Enhet", "Tävlingsklass", "Förvaltning", "Nämnd", '"Not, a, b, c, d, e"']
    text = ";".join(header) + "\r\n2017;Fsk Solen;fsk;Förv, AB;Nämnd, styrelse;x\r\n"
    result = parse_register("reg.csv", text.encode())
    assert [(u.name, u.administration) for u in result.units] == [("Fsk Solen", "Förv, AB")]


def test_decomposed_letters_are_composed(tmp_path: Path) -> None:
    name = "Fo\u0308rskolan A\u030angen"  # as macOS may write it
    row = ["2017", name, "Forskola", "Forv", "Namnd"]
    (unit,) = parse(write_csv(tmp_path / "reg.csv", [SWEDISH[:5], row])).units
    assert unit.name == "Förskolan Ången"


# --- XLSX ----------------------------------------------------------------------------


def test_xlsx_numeric_cells_and_empty_cells(tmp_path: Path) -> None:
    rows = [
        SWEDISH,
        [2017, "Förskolan Äppelängen", "Fsk", "Skärholmens sdf", "Skärholmens sdn", None, None, 4711],
        [2017.0, "  Sätra   vård- och omsorgsboende ", "Äldre", "Skärholmens sdf",
         "Skärholmens sdn", "Kommunal", None, None],
    ]  # fmt: skip
    result = parse(write_xlsx(tmp_path / "reg.xlsx", {"Register": rows}))
    assert result.errors == ()
    first, second = result.units
    assert (first.year, first.unit_id, first.operator, first.contact_email) == (2017, "4711", None, None)
    assert (second.year, second.name, second.operator) == (2017, "Sätra vård- och omsorgsboende", "kommunal")
    assert SYNTHETIC_ID.fullmatch(second.unit_id)


def test_xlsx_header_on_later_sheet_below_title(tmp_path: Path) -> None:
    notes = [["Instruktioner"], ["Fyll i fliken Register"]]
    register = [["Anmälda enheter 2017"], [], ENGLISH, [2017, "Skolan", "Skola", "Utbf", "Utbn"],
                [2017, "Skolan 2", "Vård", "Utbf", "Utbn"]]  # fmt: skip
    result = parse(write_xlsx(tmp_path / "reg.xlsx", {"Info": notes, "Register": register}))
    assert [u.name for u in result.units] == ["Skolan"]
    assert [line for line, _ in result.errors] == [5]  # Excel's row number, title rows counted


def test_xlsx_is_sniffed_from_bytes_not_name(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "reg.xlsx", {"Register": [SWEDISH, [2017, "X", "Skola", "F", "N"]]})
    assert len(parse_register("register.csv", path.read_bytes()).units) == 1


# --- classes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Förskola", AwardClass.PRESCHOOL),
        ("forskola", AwardClass.PRESCHOOL),
        ("FSK", AwardClass.PRESCHOOL),
        ("Skola", AwardClass.SCHOOL),
        ("Grundskola", AwardClass.SCHOOL),
        ("Gymnasium", AwardClass.SCHOOL),
        ("Äldreomsorg", AwardClass.ELDERLY),
        ("Aldreomsorg", AwardClass.ELDERLY),
        ("Äldre", AwardClass.ELDERLY),
        ("Äldreomsorg (inklusive myndighetsutövning)", AwardClass.ELDERLY),
        ("Äldreomsorg inkl. myndighetsutövning", AwardClass.ELDERLY),
        (AwardClass.ELDERLY.value, AwardClass.ELDERLY),
        ("Socialtjänst", AwardClass.SOCIAL),
        ("Soc", AwardClass.SOCIAL),
        ("Soc/LSS", AwardClass.SOCIAL),
        ("Socialtjänst & LSS", AwardClass.SOCIAL),
        ("LSS", AwardClass.SOCIAL),
        ("Socialtjänst samt stöd och service till personer med funktionsnedsättning "
         "(inklusive myndighetsutövning)", AwardClass.SOCIAL),
        (AwardClass.SOCIAL.value, AwardClass.SOCIAL),
        ("Andra verksamheter", AwardClass.OTHER),
        ("Andra verksamheter (såsom administrativa verksamheter, stadens bolag och tekniska "
         "verksamheter)", AwardClass.OTHER),
        ("Övriga", AwardClass.OTHER),
        ("Övriga verksamheter", AwardClass.OTHER),
        ("andra", AwardClass.OTHER),
        ("  skola  ", AwardClass.SCHOOL),
    ],
)  # fmt: skip
def test_canonical_class_accepts(text: str, expected: AwardClass) -> None:
    assert canonical_class(text) == expected.value


@pytest.mark.parametrize(
    "text",
    ["", "Vård", "Övrig vård och omsorg", "Förskola/Skola", "Äldre LSS", "Omsorg", "1", "Skol"],
)
def test_canonical_class_rejects_unclear(text: str) -> None:
    assert canonical_class(text) is None


# --- bad rows ---------------------------------------------------------------------------


BAD_ROWS: list[tuple[list[str], str | None]] = [
    (["2017", "Fsk Solen", "Förskola", "F", "N", "", "", ""], None),  # line 2
    (["2017", "Fsk Månen", "", "F", "N", "", "", ""], "Tävlingsklass saknas"),
    (["tjugo", "Fsk Stjärnan", "Förskola", "F", "N", "", "", ""], 'År "tjugo" är inget årtal'),
    (["17", "Fsk Kometen", "Förskola", "F", "N", "", "", ""], 'År "17" är inget årtal'),
    (["2017", "Vobo X", "Vård", "F", "N", "", "", ""], "Tävlingsklass \"Vård\" känns inte igen"),
    (["2017", "Vobo Y", "Äldre", "F", "N", "privat", "", ""],
     'Driftform "privat" ska vara kommunal eller enskild'),
    (["2017", "Vobo Z", "Äldre", "F", "N", "", "a@b.se, inte en adress", ""],
     'Kontakt e-post "inte en adress" är ingen giltig adress'),
    (["2017", "  fsk   SOLEN ", "Förskola", "F", "n", "", "", ""], "dubblett av rad 2"),
    (["2017", "Skolan", "Skola", "F", "N", "", "", "ID-1"], None),  # line 10
    (["2017", "Annan skola", "Skola", "F", "N", "", "", "ID-1"], "dubblett av rad 10"),
    (["2017", "Tom", "", "", "", "", "", ""], "Tävlingsklass saknas; Förvaltning saknas; Nämnd saknas"),
    (["2017", "Fsk Solen", "Förskola", "F", "Annan nämnd", "", "", ""], None),
]  # fmt: skip


def test_bad_rows_reported_by_line_and_others_kept(tmp_path: Path) -> None:
    rows = [SWEDISH, *(row for row, _ in BAD_ROWS)]
    result = parse(write_csv(tmp_path / "reg.csv", rows))
    expected = [(line, why) for line, (_, why) in enumerate(BAD_ROWS, start=2) if why]
    assert [line for line, _ in result.errors] == [line for line, _ in expected]
    for (_, got), (_, want) in zip(result.errors, expected, strict=True):
        assert got.startswith(want)
    assert [u.name for u in result.units] == ["Fsk Solen", "Skolan", "Fsk Solen"]


def test_several_contact_addresses_are_cleaned(tmp_path: Path) -> None:
    row = ["2017", "Fsk", "Förskola", "F", "N", "", " Anna.Ek@Stockholm.se ;bo@x.se,", ""]
    (unit,) = parse(write_csv(tmp_path / "reg.csv", [SWEDISH, row])).units
    assert unit.contact_email == "anna.ek@stockholm.se; bo@x.se"


# --- the file as a whole -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dropped", "named"),
    [("Tävlingsklass", "Tävlingsklass"), ("Nämnd", "Nämnd"), ("År", "År")],
)
def test_missing_required_column_is_named(tmp_path: Path, dropped: str, named: str) -> None:
    keep = [i for i, name in enumerate(SWEDISH) if name != dropped]
    rows = [[row[i] for i in keep] for row in [SWEDISH, *ROWS]]
    with pytest.raises(RegisterFileError, match=named):
        parse(write_csv(tmp_path / "reg.csv", rows))


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("reg.csv", bytes(range(256)) * 8, "varken"),
        ("reg.csv", b"\x81\x8d\x8f\x90\x9d garbage;more\r\n", "Teckenkodningen"),
        ("reg.xlsx", b"PK\x03\x04 this is not a zip at all", "Excel-filen"),
        ("reg.xlsx", b"year;unit\n", "ingen läsbar Excel-fil"),
        ("reg.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "gamla Excel-formatet"),
        ("reg.pdf", b"%PDF-1.4\n", "Okänd filtyp"),
        ("reg.csv", b"", "tom"),
        ("reg.csv", "Hej!\nDetta är inget register.\n".encode(), "ingen rubrikrad"),
        ("reg.csv", "\ufeffÅr;Enhet;År;Tävlingsklass\n".encode(), "flera gånger"),
    ],
)
def test_unreadable_files_raise(filename: str, data: bytes, message: str) -> None:
    with pytest.raises(RegisterFileError, match=message):
        parse_register(filename, data)


def test_zip_that_is_not_a_workbook_raises(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "reg.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hej")
    with pytest.raises(RegisterFileError, match="Excel-filen"):
        parse(path)


# --- synthesised ids ------------------------------------------------------------------------


def test_synthesised_ids_are_stable(tmp_path: Path) -> None:
    first = parse(write_csv(tmp_path / "a.csv", [SWEDISH, *ROWS], encoding="utf-8"))
    again = parse(write_csv(tmp_path / "b.csv", [SWEDISH, *ROWS], sep=",", encoding="cp1252"))
    assert [u.unit_id for u in first.units] == [u.unit_id for u in again.units]
    assert first.units[0].unit_id == synthesise_unit_id(
        2017, "Skärholmens stadsdelsnämnd", "Förskolan Äppelängen"
    )


@pytest.mark.parametrize(
    ("other", "same"),
    [
        ((2017, "skärholmens  STADSDELSNÄMND", " Förskolan äppelängen"), True),
        ((2017, "Östermalms stadsdelsnämnd", "Förskolan Äppelängen"), False),
        ((2018, "Skärholmens stadsdelsnämnd", "Förskolan Äppelängen"), False),
        ((2017, "Skärholmens stadsdelsnämnd", "Förskolan Appelangen"), False),
    ],
)
def test_synthesised_id_depends_on_year_board_and_name(other: tuple[int, str, str], same: bool) -> None:
    base = synthesise_unit_id(2017, "Skärholmens stadsdelsnämnd", "Förskolan Äppelängen")
    assert (synthesise_unit_id(*other) == base) is same
