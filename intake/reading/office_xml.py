"""Turns the XML of DOCX and ODT files into plain text, in document order, tables a row a line.

Both formats are walked element by element rather than through a library's
paragraph API: text in content controls (``w:sdt``, common in the city's
templates), text boxes and tracked insertions would otherwise be skipped, and
tables would not stand where they stand in the document.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from typing import Any
from xml.etree import ElementTree

# --- a writer that knows about pages, paragraphs and table cells ---------------------------


class TextSink:
    """Collects text into pages; inside a table, cells become tab-separated lines."""

    def __init__(self) -> None:
        self._pages: list[list[str]] = [[]]
        self._cells: list[list[str]] = []  # the text of each open cell (nested tables stack)
        self._rows: list[list[str]] = []  # the finished cells of each open row

    def text(self, value: str) -> None:
        (self._cells[-1] if self._cells else self._pages[-1]).append(value)

    def line_break(self) -> None:
        self.text(" " if self._cells else "\n")  # a row must stay on one line

    def end_paragraph(self) -> None:
        self.line_break()

    def page_break(self) -> None:
        if self._cells:
            self.text(" ")
        else:
            self._pages.append([])

    def start_row(self) -> None:
        self._rows.append([])

    def end_row(self) -> None:
        cells = self._rows.pop() if self._rows else []
        if any(cells):
            self.text("\t".join(cells).rstrip("\t"))
            self.line_break()

    def start_cell(self) -> None:
        self._cells.append([])

    def end_cell(self) -> None:
        text = " ".join("".join(self._cells.pop()).split()) if self._cells else ""
        if self._rows:
            self._rows[-1].append(text)
        else:  # a cell outside any row: malformed, but its text still counts
            self.text(text)

    def snapshot(self) -> str:
        """Everything written so far, pages separated by form feeds (for de-duplication)."""
        return "\f".join("".join(page) for page in self._pages)

    def truncate(self, length: int) -> None:
        """Go back to an earlier snapshot's length."""
        kept = self.snapshot()[:length].split("\f")
        self._pages = [[page] for page in kept]

    def pages(self) -> list[str]:
        return ["".join(page) for page in self._pages]


def unique_texts(elements: Iterable[Any], walk: Any) -> list[str]:
    """Walk each element into one sink; an element whose text repeats an earlier one is dropped.

    First-page, even-page and default headers often say the same thing; once is enough.
    Returns the pages, or [] when there is no text at all.
    """
    sink = TextSink()
    seen: set[str] = set()
    for element in elements:
        start = len(sink.snapshot())
        walk(element, sink)
        added = sink.snapshot()[start:]
        if added in seen:
            sink.truncate(start)
        seen.add(added)
    pages = sink.pages()
    return pages if any(page.strip() for page in pages) else []


# --- DOCX (WordprocessingML, as lxml elements from python-docx) -----------------------------

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def walk_docx(element: Any, sink: TextSink) -> None:
    tag = element.tag
    if not isinstance(tag, str) or tag == MC_FALLBACK:
        return  # comments and processing instructions; Fallback repeats mc:Choice's text box
    if tag == f"{W}t":
        sink.text(element.text or "")
    elif tag == f"{W}tab":
        sink.text("\t")
    elif tag in (f"{W}br", f"{W}cr"):
        if element.get(f"{W}type") == "page":
            sink.page_break()
        else:
            sink.line_break()
    elif tag == f"{W}noBreakHyphen":
        sink.text("-")
    elif tag == f"{W}tr":
        sink.start_row()
        for child in element:
            walk_docx(child, sink)
        sink.end_row()
    elif tag == f"{W}tc":
        sink.start_cell()
        for child in element:
            walk_docx(child, sink)
        sink.end_cell()
    else:  # w:delText and w:instrText (deleted text, field codes) fall through unread
        for child in element:
            walk_docx(child, sink)
        if tag == f"{W}p":
            sink.end_paragraph()


# --- ODT (OpenDocument, parsed with the stdlib) ------------------------------------------------

TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
ODT_PARAGRAPHS = frozenset({f"{TEXT}p", f"{TEXT}h"})
# Deleted text kept for change tracking, comments, and the bodies' non-text parts.
ODT_SKIPPED = frozenset(
    {f"{TEXT}tracked-changes", f"{OFFICE}annotation", f"{TEXT}sequence-decls", f"{TEXT}variable-decls"}
)
ODT_HEADERS = tuple(f"{STYLE}{name}" for name in ("header", "header-first", "header-left", "header-right"))
ODT_FOOTERS = tuple(f"{STYLE}{name}" for name in ("footer", "footer-first", "footer-left", "footer-right"))
MAX_ODT_SPACES = 100  # text:s c="1000000000" must not become a gigabyte of spaces


def odt_text(archive: zipfile.ZipFile) -> str:
    """Header, body and footer text of an ODT archive whose sizes were already checked."""
    body = ElementTree.fromstring(archive.read("content.xml")).find(f"{OFFICE}body")
    headers: list[Any] = []
    footers: list[Any] = []
    if "styles.xml" in archive.namelist():
        styles = ElementTree.fromstring(archive.read("styles.xml"))
        for page in styles.iter(f"{STYLE}master-page"):
            headers.extend(child for child in page if child.tag in ODT_HEADERS)
            footers.extend(child for child in page if child.tag in ODT_FOOTERS)
    parts = [
        "".join(unique_texts(headers, walk_odt)),
        "".join(unique_texts([] if body is None else [body], walk_odt)),
        "".join(unique_texts(footers, walk_odt)),
    ]
    return "\n".join(part.strip("\n") for part in parts if part.strip())


def walk_odt(element: Any, sink: TextSink, inline: bool = False) -> None:
    """Write the element's text; character data counts only inside paragraphs and headings.

    Elsewhere (between table cells, inside office:text) it is indentation. A child's
    tail belongs to its parent, so the parent writes it.
    """
    tag = element.tag
    if tag in ODT_SKIPPED:
        return
    if tag == f"{TEXT}s":
        count = element.get(f"{TEXT}c", "1")
        sink.text(" " * min(int(count) if count.isdigit() else 1, MAX_ODT_SPACES))
    elif tag == f"{TEXT}tab":
        sink.text("\t")
    elif tag == f"{TEXT}line-break":
        sink.line_break()
    elif tag == f"{TABLE}table-row":
        sink.start_row()
        _odt_children(element, sink, inline)
        sink.end_row()
    elif tag in (f"{TABLE}table-cell", f"{TABLE}covered-table-cell"):
        sink.start_cell()
        _odt_children(element, sink, inline)
        sink.end_cell()
    else:
        _odt_children(element, sink, inline or tag in ODT_PARAGRAPHS)
        if tag in ODT_PARAGRAPHS:
            sink.end_paragraph()


def _odt_children(element: Any, sink: TextSink, inline: bool) -> None:
    if inline and element.text:
        sink.text(element.text)
    for child in element:
        walk_odt(child, sink, inline)
        if inline and child.tail:
            sink.text(child.tail)
