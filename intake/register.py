"""Turn the coordinators' register file (CSV or XLSX bytes) into units and per-line errors.

Pure: it takes the file's name and bytes and returns a `RegisterParse`; storing the
units is the importer's job. The format is CONTRACT.md, "The register file". Line
numbers are rows as Excel shows them: the header is row 1 when it is the first
row, blank rows count, an Excel "sep=;" line does not (Excel hides it), and a
quoted CSV field spanning several lines is one row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any

from intake.domain import AwardClass, Unit
from intake.errors import RegisterFileError

XLSX_MAGIC = b"PK\x03\x04"  # an XLSX is a ZIP archive
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the pre-2007 binary Excel format
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # Excel's "Unicode text" export
XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
TEXT_SUFFIXES = frozenset({".csv", ".txt", ""})
BINARY_SNIFF_BYTES = 4096
# Strict UTF-8 first: cp1252 decodes almost any bytes, so it can only be the fallback.
ENCODINGS = ("utf-8-sig", "cp1252")
SEPARATORS = (";", ",")  # first wins a tie: ";" is what Swedish Excel writes
HEADER_SCAN_ROWS = 10  # a title or a note above the header is tolerated this far down
MIN_HEADER_MATCHES = 2  # a row naming fewer known columns is data, not a header
YEAR_RANGE = range(1990, 2101)
OPERATORS = frozenset({"kommunal", "enskild"})
SYNTHETIC_ID_PREFIX = "u-"
SYNTHETIC_ID_HEX_CHARS = 12

# field -> (Swedish header, required); the English header is the field name itself.
COLUMNS: dict[str, tuple[str, bool]] = {
    "year": ("År", True),
    "unit": ("Enhet", True),
    "class": ("Tävlingsklass", True),
    "administration": ("Förvaltning", True),
    "board": ("Nämnd", True),
    "operator": ("Driftform", False),
    "contact_email": ("Kontakt e-post", False),
    "unit_id": ("Enhets-ID", False),
}

_SEP_LINE = re.compile(r'"?sep=(\S)', re.IGNORECASE)
_YEAR_TEXT = re.compile(r"(\d{4})(?:[.,]0+)?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_HEADER_NOISE = re.compile(r"[\s_-]+")
# Qualifiers that the official class names carry but senders leave out or vary.
_CLASS_QUALIFIER = re.compile(
    r"\(?\s*\binkl(?:usive)?\b\.?\s*myndighetsutovning\s*\)?|\(\s*sasom\b[^)]*\)?"
)
_CLASS_CONNECTORS = frozenset({"och", "samt"})  # "&" and "/" vanish with the punctuation

_P, _S, _E = AwardClass.PRESCHOOL, AwardClass.SCHOOL, AwardClass.ELDERLY
_SOC, _O = AwardClass.SOCIAL, AwardClass.OTHER
# Keys are folded (no diacritics, lower case), qualifiers and connectors removed.
CLASS_ALIASES: dict[str, AwardClass] = {
    "forskola": _P, "forskolor": _P, "fsk": _P, "preschool": _P,
    "skola": _S, "skolor": _S, "grundskola": _S, "grundskolor": _S, "gymnasium": _S,
    "gymnasieskola": _S, "school": _S,
    "aldreomsorg": _E, "aldre": _E, "elderly care": _E,
    "socialtjanst": _SOC, "soc": _SOC, "lss": _SOC, "soc lss": _SOC,
    "socialtjanst lss": _SOC, "social services": _SOC,
    "socialtjanst stod service till personer med funktionsnedsattning": _SOC,
    "andra verksamheter": _O, "andra": _O, "ovriga": _O, "ovriga verksamheter": _O,
    "ovrig verksamhet": _O, "other": _O,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RegisterParse:
    """The units read, and (line number, reason in Swedish) for every row that was not."""

    units: tuple[Unit, ...]
    errors: tuple[tuple[int, str], ...]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def normalise_header(text: str) -> str:
    """A header name without case, diacritics, spaces, '-' or '_': 'Kontakt e-post' -> 'kontaktepost'."""
    return _HEADER_NOISE.sub("", _fold(text))


_HEADERS: dict[str, str] = {
    normalise_header(name): field
    for field, (swedish, _) in COLUMNS.items()
    for name in (swedish, field)
}


def canonical_class(text: str) -> str | None:
    """The `AwardClass` value a class name or clear abbreviation stands for, else None."""
    folded = _CLASS_QUALIFIER.sub(" ", _fold(text))
    words = [w for w in re.findall(r"[^\W_]+", folded) if w not in _CLASS_CONNECTORS]
    found = CLASS_ALIASES.get(" ".join(words))
    return found.value if found else None


def synthesise_unit_id(year: int, board: str, name: str) -> str:
    """A stable id for a row without Enhets-ID, so re-importing a file gives the same ids."""
    digest = hashlib.sha1(_identity(year, board, name).encode()).hexdigest()
    return SYNTHETIC_ID_PREFIX + digest[:SYNTHETIC_ID_HEX_CHARS]


def parse_register(filename: str, data: bytes) -> RegisterParse:
    """Read a register file; raise RegisterFileError when the file as a whole can't be read."""
    if _is_xlsx(filename, data):
        return _parse_workbook(data)
    return _parse_sources([_csv_rows(_decode(data))])


def _is_xlsx(filename: str, data: bytes) -> bool:
    # The bytes decide; the name only explains what went wrong.
    suffix = os.path.splitext(filename)[1].lower()
    if data.startswith(XLSX_MAGIC):
        return True
    if data.startswith(XLS_MAGIC):
        raise RegisterFileError("Filen är i det gamla Excel-formatet (.xls); spara den som .xlsx.")
    if suffix in XLSX_SUFFIXES:
        raise RegisterFileError(f"{filename} är ingen läsbar Excel-fil (.xlsx).")
    if suffix not in TEXT_SUFFIXES:
        raise RegisterFileError(f"Okänd filtyp {suffix}: registret ska vara .xlsx eller .csv.")
    if not data.strip():
        raise RegisterFileError("Registerfilen är tom.")
    if data.startswith(UTF16_BOMS) or b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise RegisterFileError(
            "Filen är varken .xlsx eller CSV i UTF-8/Windows-1252; spara den som .xlsx "
            "eller som CSV (UTF-8)."
        )
    return False


def _decode(data: bytes) -> str:
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RegisterFileError("Teckenkodningen känns inte igen; spara filen som CSV (UTF-8) eller .xlsx.")


def _guess_separator(text: str) -> str:
    """The separator used most often in the first non-blank line, outside quotes."""
    counts = dict.fromkeys(SEPARATORS, 0)
    quoted = False
    for char in text.lstrip():
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in "\r\n":
            break
        elif char in counts:
            counts[char] += 1
    return max(SEPARATORS, key=counts.__getitem__)


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    first, _, rest = text.partition("\n")
    declared = _SEP_LINE.match(first.strip())
    if declared:
        separator, text = declared[1], rest
    else:
        separator = _guess_separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    line = 0
    try:
        for line, cells in enumerate(reader, start=1):
            yield line, [_unguarded(cell) for cell in cells]
    except csv.Error as exc:
        raise RegisterFileError(f"CSV-filen kan inte läsas efter rad {line}: {exc}") from exc


def _unguarded(cell: str) -> str:
    """A cell without the apostrophe an export puts before =, +, - or @ so Excel shows it as text."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@") else cell


def _parse_workbook(data: bytes) -> RegisterParse:
    from openpyxl import load_workbook  # heavy; only XLSX imports need it

    # openpyxl reports a damaged file with whatever the failing layer raises (zipfile,
    # XML, KeyError, ValueError ...), possibly only while rows are read.
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise RegisterFileError(f"Excel-filen kan inte öppnas: {exc}") from exc
    try:
        return _parse_sources(_sheet_rows(sheet) for sheet in book.worksheets)
    except RegisterFileError:
        raise
    except Exception as exc:
        raise RegisterFileError(f"Excel-filen kan inte läsas: {exc}") from exc
    finally:
        book.close()


def _sheet_rows(sheet: Any) -> Iterator[tuple[int, Sequence[Any]]]:
    sheet.reset_dimensions()  # some writers store a stale size that would cut rows off
    return enumerate(sheet.iter_rows(values_only=True), start=1)


def _parse_sources(sources: Iterable[Iterator[tuple[int, Sequence[Any]]]]) -> RegisterParse:
    """Find the header in the first source (sheet) that has one, then read the rows below it."""
    best: tuple[int, list[str]] | None = None  # (known columns, missing ones) of a near-header
    for rows in sources:
        head = list(islice(rows, HEADER_SCAN_ROWS))
        for pos, (_, cells) in enumerate(head):
            columns, repeated = _header_columns(cells)
            if len(columns) < MIN_HEADER_MATCHES:
                continue
            if repeated:
                raise RegisterFileError(f"Kolumnen {_label(repeated)} finns flera gånger.")
            missing = [f for f, (_, required) in COLUMNS.items() if required and f not in columns]
            if not missing:
                return _read_units(columns, chain(head[pos + 1 :], rows))
            if best is None or len(columns) > best[0]:
                best = (len(columns), missing)
    if best:
        names = ", ".join(_label(field) for field in best[1])
        raise RegisterFileError(f"Registerfilen saknar kolumn: {names}.")
    required = ", ".join(_label(f) for f, (_, req) in COLUMNS.items() if req)
    raise RegisterFileError(f"Registerfilen har ingen rubrikrad med kolumnerna {required}.")


def _label(field: str) -> str:
    return f"{COLUMNS[field][0]} ({field})"


def _header_columns(cells: Sequence[Any]) -> tuple[dict[str, int], str | None]:
    columns: dict[str, int] = {}
    repeated = None
    for index, cell in enumerate(cells):
        field = _HEADERS.get(normalise_header(_text(cell)))
        if field in columns:
            repeated = field
        elif field:
            columns[field] = index
    return columns, repeated


def _read_units(columns: dict[str, int], rows: Iterable[tuple[int, Sequence[Any]]]) -> RegisterParse:
    units: list[Unit] = []
    errors: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}  # unit_id or identity -> the line that had it first
    for line, cells in rows:
        values = {f: cells[i] if i < len(cells) else None for f, i in columns.items()}
        if not any(_text(value) for value in values.values()):
            continue  # a blank row, or one with notes only in columns we don't read
        unit = _to_unit(values)
        if isinstance(unit, str):
            errors.append((line, unit))
            continue
        keys = (unit.unit_id, _identity(unit.year, unit.board, unit.name))
        earlier = next((first_line[key] for key in keys if key in first_line), None)
        if earlier is not None:
            errors.append((line, f"dubblett av rad {earlier}"))
            continue
        first_line.update(dict.fromkeys(keys, line))
        units.append(unit)
    return RegisterParse(units=tuple(units), errors=tuple(errors))


def _to_unit(values: dict[str, Any]) -> Unit | str:
    """The row as a Unit, or every reason it can't be one, joined."""
    reasons: list[str] = []
    text = {field: _text(value) for field, value in values.items()}
    for field in ("year", "unit", "class", "administration", "board"):
        if not text[field]:
            reasons.append(f"{COLUMNS[field][0]} saknas")
    year = _year(values["year"])
    if text["year"] and year is None:
        reasons.append(f'År "{text["year"]}" är inget årtal')
    award_class = canonical_class(text["class"])
    if text["class"] and award_class is None:
        reasons.append(
            f'Tävlingsklass "{text["class"]}" känns inte igen (Förskola, Skola, Äldreomsorg, '
            "Socialtjänst/LSS eller Andra verksamheter)"
        )
    operator = text.get("operator", "").casefold() or None
    if operator and operator not in OPERATORS:
        reasons.append(f'Driftform "{text["operator"]}" ska vara kommunal eller enskild')
    emails = [part.strip() for part in re.split(r"[;,]", text.get("contact_email", ""))]
    emails = [email.lower() for email in emails if email]
    bad = [email for email in emails if not _EMAIL.fullmatch(email)]
    if bad:
        reasons.append(f'Kontakt e-post "{bad[0]}" är ingen giltig adress')
    if reasons or year is None or award_class is None:
        return "; ".join(reasons)
    return Unit(
        unit_id=text.get("unit_id") or synthesise_unit_id(year, text["board"], text["unit"]),
        year=year,
        name=text["unit"],
        award_class=award_class,
        administration=text["administration"],
        board=text["board"],
        operator=operator,
        contact_email="; ".join(emails) or None,
    )


def _text(value: Any) -> str:
    """A cell as text: composed å/ä/ö (Mac files decompose them), whitespace collapsed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores every number as a float: 1234.0 is the id 1234
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def _year(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        year = value
    elif isinstance(value, str) and (match := _YEAR_TEXT.fullmatch(value.strip())):
        year = int(match[1])
    else:
        return None
    return year if year in YEAR_RANGE else None


def _identity(year: int, board: str, name: str) -> str:
    """Year, board and name compared without case or spacing differences."""
    return "|".join((str(year), " ".join(board.casefold().split()), " ".join(name.casefold().split())))
