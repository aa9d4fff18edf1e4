"""Read unit lists: bulleted lists, one-name-a-line lists and two-column tables of unit and class.

After "godkänner anmälan av följande enheter:" the units follow one a line, as
"- Förskolan Solrosen, tävlingsklass Förskola", "a) Miljöanalysenheten (Övriga)",
"Mulle förskola – förskola", a table row "Ungdomsteamet<TAB>Socialtjänst & LSS",
or a name on one line and its class on the next. Each item becomes a name with
its class taken off. A list ends at the next numbered point of the decision
("2. Paragrafen förklaras omedelbart justerad."), at a sentence, at the
signatures, or (in a table) at the first row without a class.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from intake.text import fold
from intake.understanding import unit_words as words
from intake.understanding.normalise import NormText, clean, fold_char, sw
from intake.understanding.sections import text_lines

BULLET = re.compile(r"^\s*(?:[-–—•*·▪◦]|\d{1,2}\)|[a-zA-Z]\))\s+(?=\S)", re.MULTILINE)
# "2. Paragrafen förklaras omedelbart justerad." after a list: a point of the decision, not an item.
NUMBERED_POINT = re.compile(r"^\s*\d{1,2}\.\s", re.MULTILINE)
LIST_INTRO_WINDOW = 200  # characters before a list in which its introduction stands
FORM_LABEL = re.compile(r"\s*[^\W\d_][\w-]*(?:\s+[^\W\d_][\w-]*)?\s*:\s*")  # "Enhet:", "Kontaktperson:"
LIST_CLASS_WINDOW = 80  # "... i följande klasser:" just before the list makes it a list of classes
LIST_INTRO = sw(r"följande|enhet|verksamhet|anmäl|nominer|delta|medverk|godkänn|noter")
CLASS_LIST = sw(r"\bklass")  # "Utmärkelsen delas ut i följande klasser:" lists classes, not units
# The class as senders write it (guide §3), with a remark in brackets or after "inklusive".
CLASS = (
    r"(?:förskol(?:a|or|everksamhet)|skol(?:a|verksamhet)|grundskola|gymnasieskola"
    r"|äldre(?:omsorg(?:en)?)?|socialtjänst(?:\s*(?:&|och|samt|/)\s*lss)?"
    r"(?:\s+samt\s+stöd\s+och\s+service(?:\s+till\b.*)?)?"  # also cut off by the scan's edge
    r"|soc\s*/\s*lss|soc|lss|andra\s+verksamheter|övriga\s+verksamheter|övrig\s+verksamhet|övriga)"
    r"(?:\s*,?\s*(?:\(.*\)|inklusive\b.*|inkl\b.*|såsom\b.*))?"
)
CLASS_LABEL = sw(rf"\(?\s*{CLASS}\s*\)?[\s.,;:|!-]*", re.DOTALL)  # fullmatch; scans leave specks
CLASS_PHRASE = sw(r",?\s*(?:\bi\s+)?\b(?:tävlings)?klass(?:en)?\b")  # ", tävlingsklass Förskola"
SEPARATOR = re.compile(r"\s[-–—]\s")  # "Mulle förskola – förskola"
WORD_START = re.compile(r"(?<!\S)(?=[\w(])")
TABLE_HEADER = frozenset({"enhet", "enheter", "enhetens", "namn", "tavlingsklass", "klass", "verksamhet"})
HEADER_FORMS = frozenset({f"{a} {b}" for a in TABLE_HEADER for b in TABLE_HEADER} | TABLE_HEADER)
SIGNATURE_TITLE = sw(r"^\s*(?:tf\.?\s+)?[\w-]*(?:direktör|chef)\b")
OPERATING_FORM = re.compile(rf"\s*\(\s*(?:{'|'.join(words.OPERATING_FORMS)})\w*\s*\)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Item:
    """A list item: the name's display range and whether a class was taken off it."""

    start: int
    stop: int
    classed: bool


def list_items(norm: NormText, start: int, end: int, prose: list[tuple[int, int]]) -> list[Item]:
    """The unit list items in [start, end); runs of lines outside lists are added to `prose`."""
    items: list[Item] = []
    lines = text_lines(norm, start, end)
    index = 0
    while index < len(lines):
        line_start, line_end = lines[index]
        bulleted = BULLET.match(norm.display, line_start, line_end) is not None
        # A bullet's list is introduced above it; a line ending in ":" introduces the list itself,
        # and a short one ("Enhet:", "Kontaktperson:") is a form's label that says it alone.
        label = not bulleted and bool(FORM_LABEL.fullmatch(norm.display, line_start, line_end))
        intro_start = line_start if label else max(start, line_start - LIST_INTRO_WINDOW)
        intro = norm.folded[intro_start:line_start if bulleted else line_end]
        unit_list = bool(LIST_INTRO.search(intro)) and not CLASS_LIST.search(intro[-LIST_CLASS_WINDOW:])
        if bulleted:
            found, index = _bulleted(norm, lines, index)
        elif norm.display[line_start:line_end].rstrip().endswith((":", ";")) and unit_list:  # ";": OCR
            _add_prose(norm, prose, lines[index])
            found, index = _unbulleted(norm, lines, index + 1)
        else:
            _add_prose(norm, prose, lines[index])
            index += 1
            continue
        if unit_list:
            items.extend(found)
    return _in_table(norm, items)


def _add_prose(norm: NormText, prose: list[tuple[int, int]], line: tuple[int, int]) -> None:
    if prose and not norm.display[prose[-1][1]:line[0]].strip():  # nothing left out between
        prose[-1] = (prose[-1][0], line[1])
    else:
        prose.append(line)


def _bulleted(norm: NormText, lines: list[tuple[int, int]], index: int) -> tuple[list[Item], int]:
    items: list[Item] = []
    while index < len(lines):
        line_start, line_end = lines[index]
        marker = BULLET.match(norm.display, line_start, line_end)
        if marker is None:
            break
        item_end = line_end
        index += 1
        while index < len(lines) and _continues(norm, lines[index], item_end):
            item_end = lines[index][1]
            index += 1
        items.extend(_item(norm, marker.end(), item_end))
    return items, index


def _continues(norm: NormText, line: tuple[int, int], previous_end: int) -> bool:
    text = norm.display[line[0]:line[1]]
    if BULLET.match(text) or NUMBERED_POINT.match(text):
        return False
    previous_start = norm.display.rfind("\n", 0, previous_end) + 1
    previous = norm.display[previous_start:previous_end].rstrip()
    # A capitalised line after a complete one starts something new: a name broken after a
    # capitalised word ("Resursteamet Alvik\nVäst") is lost rather than the next sentence taken in.
    return text.lstrip()[:1].islower() or previous.endswith((",", "-", " och", " samt"))


def _unbulleted(norm: NormText, lines: list[tuple[int, int]], index: int) -> tuple[list[Item], int]:
    """Rows after "följande enheter:" until a point, a sentence, a bullet or the signatures."""
    rows: list[tuple[int, int]] = []
    while index < len(lines):
        line_start, line_end = lines[index]
        text = norm.display[line_start:line_end].strip()
        if (NUMBERED_POINT.match(text) or BULLET.match(text) or text.endswith((".", ":"))
                or SIGNATURE_TITLE.match(norm.folded, line_start, line_end)):
            break
        rows.append(lines[index])
        index += 1
    signed = index < len(lines) and bool(SIGNATURE_TITLE.match(norm.folded, *lines[index]))
    alone = [_is_class(norm, s, e) for s, e in rows]
    named: list[tuple[Item, bool]] = []  # (item, its class stands on the next line)
    for number, (row_start, row_end) in enumerate(rows):
        if alone[number] or fold(norm.display[row_start:row_end]) in HEADER_FORMS:
            continue
        for item in _item(norm, row_start, row_end):
            named.append((item, number + 1 < len(rows) and alone[number + 1]))
    if any(item.classed for item, _ in named):
        # A table: rows after the last one with a class are something else (the signatures).
        rows_in_table = _in_table(norm, [item for item, _ in named])
        last = max(i for i, item in enumerate(rows_in_table) if item.classed)
        return rows_in_table[:last + 1], index
    if any(alone):  # a name on one line, its class on the next: a line without one is no unit
        return [item for item, classed_below in named if classed_below], index
    items = [item for item, _ in named]
    while signed and items and not words.is_unit_word(_last_word(norm, items[-1])):
        items.pop()  # the names right above "Stadsdelsdirektör" sign the document
    return items, index


def _last_word(norm: NormText, item: Item) -> str:
    found = re.findall(r"\w+", norm.folded[item.start:item.stop])
    return found[-1] if found else ""


def _is_class(norm: NormText, start: int, end: int) -> bool:
    return bool(CLASS_LABEL.fullmatch(norm.folded, start, end)) and bool(norm.folded[start:end].strip())


def _item(norm: NormText, start: int, end: int) -> list[Item]:
    """The item in [start, end) without its class; none when it is only a class or a committee."""
    while start < end and norm.display[start].isspace():
        start += 1
    stop, classed = _cut_class(norm, start, end, lowercase=False)
    text = clean(norm.display[start:stop]).strip(" ,;:.")
    if not text or CLASS_LABEL.fullmatch(fold_text(text)) or _is_committee(fold(text)):
        return []
    return [Item(start, stop, classed)]


def _cut_class(norm: NormText, start: int, end: int, lowercase: bool) -> tuple[int, bool]:
    """Where the name ends and its class begins: after "tävlingsklass", a column gap, a dash or
    a bracket; before a capitalised class word; with `lowercase`, before a lower-case one too
    when enough of a name remains ("Bamse förskola förskola", not "Sylvester förskola")."""
    phrase = CLASS_PHRASE.search(norm.folded, start, end)
    if phrase is not None and phrase.start() > start:
        return phrase.start(), True
    gaps = _gaps(norm, start, end)
    for cut in _boundaries(norm, start, end):
        if not CLASS_LABEL.fullmatch(norm.folded, cut, end):
            continue
        name = norm.folded[start:cut].split()
        separated = cut in gaps or bool(SEPARATOR.search(norm.display, cut - 3, cut + 1))
        if separated or norm.display[cut] == "(" or norm.display[cut].isupper():
            return _trim(norm, start, cut), True
        if lowercase and (len(name) >= 2 or (name and words.is_unit_word(name[-1]))):
            return _trim(norm, start, cut), True
    return end, False


def _boundaries(norm: NormText, start: int, end: int) -> Iterator[int]:
    for found in WORD_START.finditer(norm.display, start + 1, end):
        yield found.start()


def _gaps(norm: NormText, start: int, end: int) -> set[int]:
    """Display offsets just after a column gap: a tab or several spaces in the raw text."""
    gaps = set()
    for index in range(start, end):
        if norm.display[index] == " ":
            raw = norm.raw[norm.origin[index]:norm.origin[index + 1]]
            if "\t" in raw or len(raw) > 1:
                gaps.add(index + 1)
    return gaps


def _trim(norm: NormText, start: int, cut: int) -> int:
    """The end of the name before a cut: separators and spaces left behind."""
    while cut > start and norm.display[cut - 1] in " \t-–—,;":
        cut -= 1
    return cut


def _in_table(norm: NormText, items: list[Item]) -> list[Item]:
    """When some items carried a class, the others may carry one in lower case: "Bamse förskola förskola"."""
    if not any(item.classed for item in items):
        return items
    recut = []
    for item in items:
        stop, classed = (item.stop, True) if item.classed else _cut_class(norm, item.start, item.stop, True)
        recut.append(Item(item.start, stop, classed))
    return recut


def fold_text(text: str) -> str:
    """Text folded as NormText.folded is: lower case, no diacritics, punctuation kept."""
    return "".join(fold_char(char) for char in text)


def _is_committee(folded: str) -> bool:
    """A committee or administration named alone ("Spånga-Tensta stadsdelsnämnd"), not a unit of it."""
    return words.is_committee_word(folded.split()[-1])


def item_name(norm: NormText, item: Item) -> str:
    """The item as a name: one line, hyphenation resolved, the bracketed operating form taken off."""
    text = OPERATING_FORM.sub("", clean(norm.display[item.start:item.stop])).strip(" ,;:.")
    return re.sub(r"\s+(?:och|samt)$", "", text)
