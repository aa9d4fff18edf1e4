"""The register with each unit's state, as entries, CSV (as Swedish Excel reads it) and XLSX.

Pure functions over the store's rows, shared by `intake units export` and the web desk. The
first eight columns are the register file's (docs/CONTRACT.md, "The register file"), headed as
the importer reads them, so an exported file imports again without a change; the columns after
them say where each unit stands.
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy.orm import Session

from intake.errors import RegisterFileError
from intake.register import COLUMNS
from intake.storage import store
from intake.vocabulary import STATE_LABELS

STATUS_HEADERS = ("Status", "Sammanträdesdatum", "Paragraf", "Protokoll mottaget", "Message-ID")
HEADERS = tuple(swedish for swedish, _ in COLUMNS.values()) + STATUS_HEADERS
FORMATS = {".xlsx": "xlsx", ".csv": "csv"}
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
CSV_SEPARATOR = ";"  # what Swedish Excel reads and writes
# A CSV cell starting with one of these is a formula to Excel; a leading ' makes it text (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "yyyy-mm-dd"  # the Swedish standard date, as Excel shows a date cell
MIN_WIDTH, MAX_WIDTH = 8, 60  # column widths in characters
# Swedish alphabetical order: å, ä, ö after z (code points put ä before å).
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SWEDISH_ORDER = str.maketrans({"å": "{", "ä": "|", "æ": "|", "ö": "}", "ø": "}"})


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """One unit of the register with its state and the protokoll matched to it, if any."""

    pk: int
    year: int
    unit_id: str
    name: str
    award_class: str
    administration: str
    board: str
    operator: str | None
    contact_email: str | None
    state: str
    meeting_date: date | None
    paragraph: str | None
    message_pk: int | None
    message_id: str | None
    received_on: date | None  # the day the protokoll arrived, in the award's time zone

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)

    def cells(self) -> tuple[Any, ...]:
        """The row of an export, in the order of HEADERS."""
        return (self.year, self.name, self.award_class, self.administration, self.board,
                self.operator or "", self.contact_email or "", self.unit_id, self.state_label,
                self.meeting_date, self.paragraph or "", self.received_on, self.message_id or "")


@dataclass(frozen=True, slots=True)
class RegisterFilter:
    """What the coordinator asked for: free text (name or unit id) and exact committee, class,
    administration and state. Empty means any."""

    text: str = ""
    board: str = ""
    award_class: str = ""
    administration: str = ""
    state: str = ""

    @property
    def active(self) -> bool:
        return any((self.text.strip(), self.board, self.award_class, self.administration, self.state))

    def matches(self, entry: RegisterEntry) -> bool:
        words = fold(self.text).split()
        haystack = fold(f"{entry.name} {entry.unit_id}")
        return (all(word in haystack for word in words)
                and (not self.board or entry.board == self.board)
                and (not self.award_class or entry.award_class == self.award_class)
                and (not self.administration or entry.administration == self.administration)
                and (not self.state or entry.state == self.state))


def fold(text: str) -> str:
    """Text for searching: no case, no diacritics, single spaces ('Drömmen' finds 'drommen')."""
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def swedish_key(text: str) -> str:
    """A sort key in Swedish alphabetical order, without regard to case."""
    return unicodedata.normalize("NFC", text).casefold().translate(_SWEDISH_ORDER)


def register_entries(session: Session, year: int, tz: tzinfo,
                     where: RegisterFilter | None = None) -> list[RegisterEntry]:
    """The year's units by committee and name (Swedish order), those `where` matches."""
    entries = [
        RegisterEntry(
            pk=unit.id, year=unit.year, unit_id=unit.unit_id, name=unit.name,
            award_class=unit.award_class, administration=unit.administration, board=unit.board,
            operator=unit.operator, contact_email=unit.contact_email, state=unit.state,
            meeting_date=unit.meeting_date, paragraph=unit.paragraph,
            message_pk=unit.protocol_message_pk, message_id=message_id,
            received_on=_local_day(received_at, tz),
        )
        for unit, message_id, received_at in store.register_rows(session, year)
    ]
    if where is not None:
        entries = [entry for entry in entries if where.matches(entry)]
    entries.sort(key=lambda e: (swedish_key(e.board), swedish_key(e.name), e.unit_id))
    return entries


def _local_day(moment: datetime | None, tz: tzinfo) -> date | None:
    return None if moment is None else moment.astimezone(tz).date()


def export_format(filename: str | os.PathLike[str]) -> str:
    """'xlsx' or 'csv', from the file name's suffix; RegisterFileError for anything else."""
    suffix = os.path.splitext(os.fspath(filename))[1].lower()
    if suffix not in FORMATS:
        raise RegisterFileError(f"Okänd filtyp {suffix or '(ingen)'}: exporten kan vara .xlsx eller .csv.")
    return FORMATS[suffix]


def export_bytes(entries: Sequence[RegisterEntry], fmt: str, year: int) -> bytes:
    """The entries as a file of `fmt` ('xlsx' or 'csv')."""
    return to_xlsx(entries, f"Register {year}") if fmt == "xlsx" else to_csv(entries)


def to_csv(entries: Iterable[RegisterEntry]) -> bytes:
    """CSV as Swedish Excel opens it: ';' between cells, UTF-8 with a byte-order mark, CRLF."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=CSV_SEPARATOR, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for entry in entries:
        writer.writerow([_csv_cell(value) for value in entry.cells()])
    return buffer.getvalue().encode("utf-8-sig")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_xlsx(entries: Iterable[RegisterEntry], title: str) -> bytes:
    """A workbook of one sheet: the header bold and frozen, a filter on it, dates as dates."""
    from openpyxl import Workbook  # heavy; only XLSX exports need it
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = title[:31]  # Excel's limit
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(header) for header in HEADERS]
    for entry in entries:
        values = [_xlsx_cell(value) for value in entry.cells()]
        sheet.append(values)
        for column, (cell, value) in enumerate(zip(sheet[sheet.max_row], values, strict=True)):
            if isinstance(value, date):
                cell.number_format = DATE_FORMAT
                widths[column] = max(widths[column], len(DATE_FORMAT))
            elif isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
                widths[column] = max(widths[column], len(value))
            elif value is not None:
                widths[column] = max(widths[column], len(str(value)))
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = min(max(width + 2, MIN_WIDTH), MAX_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(HEADERS))}{sheet.max_row}"
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def _xlsx_cell(value: Any) -> Any:
    """An empty cell for no value; text without the control characters XML can't carry."""
    if isinstance(value, str):
        return _ILLEGAL_XML.sub("", value) or None
    return value
