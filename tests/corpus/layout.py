"""Lays a document out on A4 pages once, so the PDF, the scan and the photo show the same lines.

A `Document` is a list of blocks (headings, paragraphs, list items, rows of cells)
plus a running header and footer. `paginate` wraps the blocks with the real font
metrics and returns positioned runs in points; the renderers only draw them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

A4_WIDTH, A4_HEIGHT = 595.28, 841.89
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64.0, 56.0, 54.0, 64.0
LEADING = 1.3  # line height as a multiple of the font size
HEADER_GAP = 14.0  # points between the running header and the body
BREAK = "\u00ad"  # in block text: break the line here and show a hyphen (a hyphenated unit name)

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
LIBERATION = Path("/usr/share/fonts/truetype/liberation")
# family -> (regular TTF, bold TTF); Helvetica is drawn with Liberation Sans on images (same metrics)
FONT_FILES = {
    "Helvetica": (LIBERATION / "LiberationSans-Regular.ttf", LIBERATION / "LiberationSans-Bold.ttf"),
    "DejaVuSans": (DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"),
    "DejaVuSerif": (DEJAVU / "DejaVuSerif.ttf", DEJAVU / "DejaVuSerif-Bold.ttf"),
    "LiberationSerif": (LIBERATION / "LiberationSerif-Regular.ttf", LIBERATION / "LiberationSerif-Bold.ttf"),
}
FALLBACK = "DejaVuSans"  # fonts-dejavu-core is required; fonts-liberation is optional
STYLE_SCALE = {"title": 1.35, "heading": 1.1, "body": 1.0, "item": 1.0, "row": 1.0, "small": 0.85}
BOLD_STYLES = frozenset({"title", "heading"})
SPACE_BEFORE = {"title": 0.9, "heading": 0.9, "body": 0.35, "item": 0.0, "row": 0.2, "small": 0.2}


@dataclass(frozen=True, slots=True)
class Block:
    text: str = ""
    style: str = "body"  # title | heading | body | item | row | small | blank | pagebreak
    indent: float = 0.0  # points from the left margin
    hang: float = 0.0  # further indent of the wrapped lines (list items)
    cells: tuple[str, ...] = ()  # item: (unit name, class); row: texts placed at `stops`
    stops: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Document:
    blocks: tuple[Block, ...]
    header_left: tuple[str, ...] = ()
    header_right: tuple[str, ...] = ()  # "{page}" and "{pages}" are filled in per page
    footer: str = ""
    font: str = "Helvetica"
    size: float = 10.0
    stamp: str = ""  # a big slanted word on page 1 ("EJ JUSTERAT"), drawn by the renderers


@dataclass(frozen=True, slots=True)
class Run:
    x: float  # points from the left edge
    y: float  # baseline, points from the top edge
    text: str
    size: float
    bold: bool = False
    right: bool = False  # x is the right end of the text


def font_family(name: str) -> str:
    """The family actually usable here: Liberation fonts may be missing."""
    return name if name == "Helvetica" or FONT_FILES[name][0].exists() else FALLBACK


@cache
def pdf_font(family: str, bold: bool) -> str:
    """The reportlab font name, registering the TTF on first use."""
    if family == "Helvetica":
        return "Helvetica-Bold" if bold else "Helvetica"
    name = f"{family}-Bold" if bold else family
    pdfmetrics.registerFont(TTFont(name, str(FONT_FILES[family][1 if bold else 0])))
    return name


def width(text: str, family: str, size: float, bold: bool = False) -> float:
    return float(pdfmetrics.stringWidth(text, pdf_font(family, bold), size))


def wrap(text: str, family: str, size: float, first: float, rest: float, bold: bool = False) -> list[str]:
    """Greedy wrap to `first` points on the first line and `rest` on the others; BREAK forces a hyphen."""
    lines: list[str] = []
    for part in text.replace(BREAK, "-\n").split("\n"):
        line = ""
        for word in part.split(" "):
            candidate = f"{line} {word}" if line else word
            limit = first if not lines else rest
            if line and width(candidate, family, size, bold) > limit:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def paginate(doc: Document) -> list[list[Run]]:
    """Positioned runs per page: the header, the body blocks wrapped, the footer."""
    family = font_family(doc.font)
    doc = replace(doc, font=family)
    header_height = max(len(doc.header_left), len(doc.header_right)) * doc.size * LEADING
    top = MARGIN_TOP + header_height + HEADER_GAP
    bottom = A4_HEIGHT - MARGIN_BOTTOM
    usable = A4_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    pages: list[list[Run]] = [[]]
    y = top

    def new_page() -> None:
        nonlocal y
        pages.append([])
        y = top

    for block in doc.blocks:
        if block.style == "pagebreak":
            new_page()
            continue
        if block.style == "blank":
            y += doc.size * LEADING * 0.6
            continue
        size = doc.size * STYLE_SCALE[block.style]
        bold = block.style in BOLD_STYLES
        step = size * LEADING
        y += size * SPACE_BEFORE[block.style]
        if block.style == "row":
            if y + step > bottom:
                new_page()
            for cell, stop in zip(block.cells, block.stops, strict=True):
                pages[-1].append(Run(MARGIN_LEFT + block.indent + stop, y + size, cell, size, bold))
            y += step
            continue
        left = MARGIN_LEFT + block.indent
        lines = wrap(block.text, family, size, usable - block.indent, usable - block.indent - block.hang, bold)
        for number, line in enumerate(lines):
            if y + step > bottom:
                new_page()
            x = left if number == 0 else left + block.hang
            pages[-1].append(Run(x, y + size, line, size, bold))
            y += step
    if not pages[-1] and len(pages) > 1:
        pages.pop()
    total = len(pages)
    for number, runs in enumerate(pages, start=1):
        runs[:0] = _header(doc, number, total)
    return pages


def _header(doc: Document, page: int, pages: int) -> list[Run]:
    runs: list[Run] = []
    step = doc.size * LEADING
    for index, text in enumerate(doc.header_left):
        runs.append(Run(MARGIN_LEFT, MARGIN_TOP + doc.size + index * step, text, doc.size, index == 0))
    for index, text in enumerate(doc.header_right):
        filled = text.format(page=page, pages=pages)
        runs.append(Run(A4_WIDTH - MARGIN_RIGHT, MARGIN_TOP + doc.size + index * step, filled, doc.size,
                        index == 0, right=True))
    if doc.footer:
        runs.append(Run(MARGIN_LEFT, A4_HEIGHT - MARGIN_BOTTOM / 2, doc.footer, doc.size * 0.8))
    return runs


def plain(text: str, font: str = "Helvetica", size: float = 10.0) -> Document:
    """A document of plain lines, as a text file would be printed (the seeds)."""
    blocks = tuple(Block(line.rstrip()) if line.strip() else Block(style="blank") for line in text.splitlines())
    return Document(blocks, font=font, size=size)
