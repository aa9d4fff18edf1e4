"""Damages text the way OCR and PDF text extraction damage Swedish (domain guide §5, seed 002).

Profiles:
- "ocr_swe": Tesseract on a poor scan, as seed 002 shows: å/ä/ö mostly lose their
  marks, some become é, &, d or i; § reads as s, 5, 8 or &; a few letters merge or split.
- "ocr_wrong_model": an English or German model: every diacritic lost, § always "&" or "s".
- "split_diacritics": a text layer with decomposed letters ("Tjä nsteinformation",
  "Norrga rdens fo rskola") and a lost § ("130 Fastställande").
- "lost_glyphs": a wrong glyph map: a letter of a few words vanishes ("Kvaitet"), ligatures break.
"""

from __future__ import annotations

import random
from dataclasses import replace

from tests.corpus.layout import BREAK, Document

PROFILES = ("ocr_swe", "ocr_wrong_model", "split_diacritics", "lost_glyphs")

# (probability the mark is simply lost, other readings) per letter, from seed 002's errors
SWE_DIACRITICS = {
    "å": (0.75, ("é", "d", "a")), "ä": (0.7, ("é", "&", "i", "a")), "ö": (0.8, ("é", "6", "d")),
    "Å": (0.8, ("A",)), "Ä": (0.8, ("A",)), "Ö": (0.85, ("O", "0")),
}
PLAIN = {"å": "a", "ä": "a", "ö": "o", "Å": "A", "Ä": "A", "Ö": "O", "é": "e"}
SECTION_READINGS = ("s", "5", "8", "&", "S", "$")
CONFUSIONS = (("m", "rn"), ("rn", "m"), ("l", "1"), ("i", "1"), ("O", "0"), ("cl", "d"), ("li", "h"), ("e", "c"))
LIGATURES = (("fi", "˛"), ("ff", "˙"), ("ft", "˚"))
RATES = {  # per-character probabilities: diacritic damaged, § misread, confusion, space inserted in a word
    "ocr_swe": (0.9, 0.9, 0.004, 0.002),
    "ocr_wrong_model": (1.0, 1.0, 0.002, 0.001),
    "split_diacritics": (0.6, 0.7, 0.0, 0.0),
    "lost_glyphs": (0.0, 0.5, 0.0, 0.0),
}
LOST_GLYPH_WORDS = 0.03  # share of longer words that lose one letter


def damage(text: str, profile: str, rng: random.Random) -> str:
    """The text as a damaged text layer would give it. Line breaks and BREAK marks stay in place."""
    diacritic_rate, section_rate, confusion_rate, split_rate = RATES[profile]
    out: list[str] = []
    index = 0
    while index < len(text):
        ch = text[index]
        index += 1
        if ch in ("\n", BREAK):
            out.append(ch)
        elif ch == "§" and rng.random() < section_rate:
            out.append("" if profile == "split_diacritics" else _section(profile, rng))
        elif ch in PLAIN and rng.random() < diacritic_rate:
            out.append(_diacritic(ch, profile, rng))
        elif ch.isalpha() and rng.random() < confusion_rate:
            pair = rng.choice(CONFUSIONS)
            if text.startswith(pair[0], index - 1):
                out.append(pair[1])
                index += len(pair[0]) - 1
            else:
                out.append(ch)
        elif ch.isalpha() and rng.random() < split_rate:
            out.append(f"{ch} ")
        else:
            out.append(ch)
    damaged = "".join(out)
    return _lose_glyphs(damaged, rng) if profile == "lost_glyphs" else damaged


def _section(profile: str, rng: random.Random) -> str:
    if profile == "ocr_wrong_model":
        return rng.choice(("&", "s"))
    return rng.choice(SECTION_READINGS)


def _diacritic(ch: str, profile: str, rng: random.Random) -> str:
    if profile == "split_diacritics":
        # "Norrga rdens fo rskola", "Tjä nsteinformation", or a spacing diaeresis after the letter
        spacing = f"{PLAIN[ch]}\u00a8" if ch in "äöÄÖ" else f"{PLAIN[ch]} "
        return rng.choices((f"{PLAIN[ch]} ", f"{ch} ", spacing), (5, 3, 2))[0]
    if profile == "ocr_wrong_model" or ch == "é":
        return PLAIN[ch]
    lost, others = SWE_DIACRITICS[ch]
    return PLAIN[ch] if rng.random() < lost else rng.choice(others)


def _lose_glyphs(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) > 6 and rng.random() < LOST_GLYPH_WORDS:
            cut = rng.randint(1, len(word) - 2)
            words[i] = word[:cut] + word[cut + 1:]
        for pair, glyph in LIGATURES:
            if pair in words[i] and rng.random() < 0.5:
                words[i] = words[i].replace(pair, glyph)
    return " ".join(words)


def damage_document(doc: Document, profile: str, rng: random.Random) -> Document:
    """The same document with every text of it damaged: blocks, cells, header and footer."""
    def hit(text: str) -> str:
        return damage(text, profile, rng) if text else text

    blocks = tuple(replace(b, text=hit(b.text), cells=tuple(hit(c) for c in b.cells)) for b in doc.blocks)
    return replace(doc, blocks=blocks, header_left=tuple(hit(t) for t in doc.header_left),
                   header_right=tuple(t if "{" in t else hit(t) for t in doc.header_right), footer=hit(doc.footer))
