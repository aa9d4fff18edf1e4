"""Normalise a document's text for OCR-tolerant matching, keeping every character traceable to its page.

Readers give the text as the PDF, Word file or OCR left it: words hyphenated at
line ends, blank lines inside sentences, headings spelled out letter by letter,
å/ä/ö read as a/é/&/i/d and § as s/5/8/&/$. Every other module of this package
matches against one normalised view built here, `NormText`:

- `display`: the original letters and case, with line-end hyphens resolved,
  every whitespace run collapsed to one space (or one newline when the run
  holds a line break) and spaced-out headings ("P R O T O K O L L") closed up;
- `folded`: `display` in lower case without diacritics, character for character,
  so an offset in one is the same offset in the other;
- `origin`: the offset in the raw text of every display character, so a match
  becomes a `Span` into the page it was read from.

Patterns are written in ordinary Swedish and compiled with `sw()`, which widens
å/ä/ö to the letters OCR turns them into.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from intake.domain import DocumentText, Span

HYPHENS = "-\u00ad\u2010\u2011"  # hyphen-minus, soft hyphen, hyphen, non-breaking hyphen
DASHES = {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-"}
# A hyphen at a line end is kept (not joined) before these words: "vård-\noch omsorgsboende".
SUSPENDED_HYPHEN_WORDS = frozenset({"och", "eller", "samt", "resp", "respektive", "till"})
LINE_BREAKS = "\n\r\f\v\u2028\u2029"
RAW_WORD = re.compile(r"[^\W\d_]+")
VOWELS = frozenset("aeiouyåäöé")
# Two consonants a Swedish word may begin with; any other pair after "a"/"o" and a space is the
# rest of a word whose å/ä/ö lost its mark ("fo rskola", "Stadsdelsna mnden").
ONSETS = frozenset({
    "bj", "bl", "br", "dj", "dr", "dv", "fj", "fl", "fn", "fr", "gl", "gn", "gr", "hj", "hl", "hr", "hv",
    "kl", "kn", "kr", "kv", "lj", "mj", "nj", "pj", "pl", "pr", "ps", "sf", "sj", "sk", "sl", "sm", "sn",
    "sp", "st", "sv", "tj", "tr", "tv", "vr", "ch", "sc", "sh", "th"
})
ABBREVIATIONS = frozenset({
    "nr", "st", "kr", "tkr", "mkr", "mnkr", "dnr", "ff", "bl", "mfl", "mm", "dvs", "ca", "kl", "tf", "resp",
    "jfr", "sk", "ks", "fd"
})
# Words and names that end in å/ä/ö, after which a space is a real one.
WORDS_ENDING_IN_DIACRITICS = frozenset({
    "på", "så", "två", "få", "då", "gå", "nå", "må", "stå", "små", "blå", "grå", "rå", "strå", "slå", "flå",
    "spå", "tå", "å", "också", "förstå", "bestå", "övergå", "ingå", "utgå", "uppnå", "framgå", "åtgå",
    "undergå", "tillgå", "avgå", "frångå", "förgå", "trä", "knä", "klä", "spä", "sjö", "snö", "frö", "strö",
    "hö", "dö", "rö", "miljö", "lidingö", "ekerö", "tyresö", "värmdö", "djurö", "ornö", "björkö", "adelsö",
    "munsö", "lovö", "kungsö"
})
PLACE_ENDINGS = ("sjö",)  # "Älvsjö stadsdelsnämnd": places named after a lake
HYPHEN_SPECKS = ";:|'`.,"  # a scan's dust between a line-end hyphen and the break: "Förs- ;\nkolan"
ACRONYM_MAX = 5  # "KBT-\nteamet": an upper-case stem this short is an acronym, so its hyphen is real
SPACING_MARKS = {"\u00a8": "\u0308", "\u02da": "\u030a", "\u00b4": "\u0301"}  # ¨ ˚ ´ -> combining
SPACED_OUT = re.compile(r"(?<!\w)(?:[A-ZÅÄÖ] ){3,}[A-ZÅÄÖ](?!\w)")  # "P R O T O K O L L"
TOP_LINES = 15  # the lines at the top of page 1 where letterhead and headings sit

# What OCR and text extraction make of Swedish letters (guide §5), as regex classes over
# folded text: ä is read as a/é/i/d or "&", å as a/d, ö as o/0/d; folding already turned
# ä/å/é into a/a/e.
OCR_LETTER_CLASSES = {"ä": "[aeid&]", "å": "[ad]", "ö": "[o0d]", "é": "e"}
# § as OCR reads it; only trusted where a § heading stands (see sections.py).
SECTION_SIGNS = "§sS58&$"


@dataclass(frozen=True, slots=True)
class NormText:
    """One document's text: raw pages, and the normalised views matching works on."""

    raw: str  # the pages joined by "\n", as DocumentText.text
    display: str
    folded: str
    origin: tuple[int, ...]  # raw offset of each display character, plus one past the end
    page_starts: tuple[int, ...]  # raw offset at which each page begins
    page_numbers: tuple[int, ...]
    page_lengths: tuple[int, ...]
    top_end: int  # display offset where the top of page 1 ends

    def span(self, start: int, end: int) -> Span:
        """The evidence for display[start:end]: page number and offsets into that page's text.

        A range that runs over a page break is cut at the end of its first page."""
        while start < end and self.display[start].isspace():
            start += 1
        while end > start and self.display[end - 1].isspace():
            end -= 1
        raw_start = self.origin[start]
        raw_end = self.origin[end - 1] + 1 if end > start else raw_start
        index = max(bisect_right(self.page_starts, raw_start) - 1, 0)
        page_start = self.page_starts[index]
        local_start = raw_start - page_start
        local_end = min(raw_end - page_start, self.page_lengths[index])
        return Span(
            self.page_numbers[index],
            local_start,
            local_end,
            self.raw[page_start + local_start:page_start + local_end],
        )

    def lines(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
        """(start, end) of each display line that begins in [start, end), without its newline."""
        stop = len(self.display) if end is None else end
        position = self.display.rfind("\n", 0, start) + 1
        while position < stop:
            line_end = self.display.find("\n", position)
            if line_end == -1:
                line_end = len(self.display)
            yield position, min(line_end, max(stop, position))
            position = line_end + 1

    def in_top(self, offset: int) -> bool:
        return offset < self.top_end


@lru_cache(maxsize=4096)
def fold_char(char: str) -> str:
    """One character in lower case without diacritics; always exactly one character."""
    if char in DASHES:
        return "-"
    lower = char.lower()
    if len(lower) != 1:
        lower = char
    stripped = "".join(c for c in unicodedata.normalize("NFKD", lower) if not unicodedata.combining(c))
    return stripped if len(stripped) == 1 else lower


def sw(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile a pattern written in Swedish for folded text, tolerant of OCR-damaged å/ä/ö.

    Write å/ä/ö outside character classes only; they become classes themselves."""
    widened = "".join(OCR_LETTER_CLASSES.get(char, char) for char in pattern)
    return re.compile(widened, flags | re.MULTILINE)


def normalise(document: DocumentText) -> NormText:
    """Build the normalised views of a document's pages."""
    pages = document.pages
    raw = "\n".join(page.text for page in pages)
    starts: list[int] = []
    offset = 0
    for page in pages:
        starts.append(offset)
        offset += len(page.text) + 1
    display, origin = _display(raw)
    folded = "".join(fold_char(char) for char in display)
    first_page_end = len(pages[0].text) if pages else 0
    return NormText(
        raw=raw,
        display=display,
        folded=folded,
        origin=tuple(origin),
        page_starts=tuple(starts) or (0,),
        page_numbers=tuple(page.number for page in pages) or (1,),
        page_lengths=tuple(len(page.text) for page in pages) or (0,),
        top_end=_top_end(display, origin, first_page_end),
    )


def clean(text: str) -> str:
    """A raw snippet as a reader would write it: line-end hyphens resolved, spaces collapsed, one line."""
    display, _ = _display(text)
    return " ".join(display.split())


def _display(raw: str) -> tuple[str, list[int]]:
    dropped = {m.start() + i for m in SPACED_OUT.finditer(raw) for i in range(1, m.end() - m.start(), 2)}
    out: list[str] = []
    origin: list[int] = []
    i, size = 0, len(raw)
    while i < size:
        char = raw[i]
        if char in HYPHENS and i > 0 and raw[i - 1].isalnum():
            j = i + 1
            while j < size and (raw[j].isspace() or raw[j] in HYPHEN_SPECKS and _specks_to_line_end(raw, j)):
                j += 1
            if any(c in LINE_BREAKS for c in raw[i + 1:j]):
                i = _line_end_hyphen(raw, i, j, out, origin)
                continue
            if char == "\u00ad":  # a soft hyphen inside a line is invisible
                i += 1
                continue
        if char.isspace():
            j = i
            while j < size and raw[j].isspace() and j not in dropped:
                j += 1
            if j == i:  # a dropped space between spaced-out capitals
                i += 1
                continue
            run = raw[i:j]
            if not any(c in LINE_BREAKS for c in run) and _split_letter(out, raw, j):
                i = j  # "Norrga rdens fo rskola", "Innehå llsfö rteckning": one word, split by a text layer
                continue
            out.append("\n" if any(c in LINE_BREAKS for c in run) else " ")
            origin.append(i)
            i = j
            continue
        if char in SPACING_MARKS and out and out[-1].isalpha():
            char = SPACING_MARKS[char]  # "fo¨rt", "ta¨nsteutlatande": a text layer's split diacritic
        if unicodedata.combining(char) and out:
            composed = unicodedata.normalize("NFC", out[-1] + char)
            if len(composed) == 1:
                out[-1] = composed
            i += 1
            continue
        out.append(char)
        origin.append(i)
        i += 1
    origin.append(size)
    return "".join(out), origin


def _split_letter(out: list[str], raw: str, following: int) -> bool:
    """Whether the space before raw[following] splits a word at a letter with a diacritic.

    PDF text layers write å/ä/ö as a letter and a mark, and extraction then puts a space
    after the letter, with or without its mark (guide §5). The space is dropped when the
    piece before it ends in å/ä/ö and is no word that ends so ("på", "två", "miljö"), or
    ends in a/o and the piece after it starts as no Swedish word can ("rskola", "mnden",
    "ng"). Never before an upper-case letter or a digit: two words stay two words."""
    after = RAW_WORD.match(raw, following)
    if after is None or not after.group(0)[0].islower():
        return False
    end = len(out)
    start = end
    while start > 0 and out[start - 1].isalpha():
        start -= 1
    if start == end or (start > 0 and not out[start - 1].isspace() and out[start - 1] not in "(\"'"):
        return False
    before = "".join(out[start:end])
    last = before[-1].casefold()
    if last in "åäö":  # "Ä ldreomsorg": a capital alone is a split word too
        word = before.casefold()
        return (len(before) > 1 or before.isupper()) and word not in WORDS_ENDING_IN_DIACRITICS \
            and not word.endswith(PLACE_ENDINGS)
    if last not in "ao":
        return False
    piece = after.group(0).casefold()
    if piece in ABBREVIATIONS:
        return False
    if len(piece) == 1:
        return piece not in "aeiouyåäöé"  # "Bergstro m": a consonant alone is no word
    return piece[0] not in VOWELS and piece[1] not in VOWELS and piece[:2] not in ONSETS


def _specks_to_line_end(raw: str, position: int) -> bool:
    """Only specks and spaces from position to the next line break (at most a few characters)."""
    for char in raw[position:position + 4]:
        if char in LINE_BREAKS:
            return True
        if not (char in HYPHEN_SPECKS or char.isspace()):
            return False
    return False


def _line_end_hyphen(raw: str, hyphen: int, next_start: int, out: list[str], origin: list[int]) -> int:
    """Resolve "-" + line break: join a hyphenated word, keep a compound's hyphen. Returns the next index."""
    before = re.search(r"[^\W_]+$", raw[max(0, hyphen - 40):hyphen])
    after = re.match(r"[^\W_]+", raw[next_start:next_start + 40])
    previous = before.group(0) if before else "-"
    following = after.group(0) if after else ""
    if not following or previous[-1].isdigit() or following[0].isdigit():
        keep, space = True, False  # dates and numbers: "2017-\n06-15"
    elif following.casefold() in SUSPENDED_HYPHEN_WORDS:
        keep, space = True, True
    elif previous.isupper() and len(previous) <= ACRONYM_MAX:
        keep, space = True, False
    elif following[0].isupper() and not previous.isupper():
        keep, space = True, False  # "Spånga-\nTensta"
    else:
        keep, space = False, False  # "kvalitets-\nutmärkelsen", "PROTOKOLLS-\nUTDRAG"
    if keep:
        out.append("-")
        origin.append(hyphen)
    if space:
        out.append(" ")
        origin.append(hyphen + 1)
    return next_start


def _top_end(display: str, origin: list[int], first_page_end: int) -> int:
    """Display offset after the first TOP_LINES lines of page 1."""
    count, position = 0, 0
    while count < TOP_LINES:
        found = display.find("\n", position)
        if found == -1 or origin[found] >= first_page_end:
            return found if found != -1 else len(display)
        position = found + 1
        count += 1
    return position
