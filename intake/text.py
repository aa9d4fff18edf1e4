"""Normalise Swedish text for comparison: case, diacritics, hyphenation and spacing."""

from __future__ import annotations

import re
import unicodedata

# A hyphen at a line break ("KBT-\n\nteamet") and a hyphen inside a word ("KBT-teamet")
# both vanish, so either spelling of the name compares equal.
HYPHEN_BREAK = re.compile(r"[-\u00ad\u2010\u2011]\s*\n\s*")
HYPHEN = re.compile(r"(?<=\w)[-\u2010\u2011](?=\w)")
NON_WORD = re.compile(r"[^\w§]+")
SPACES = re.compile(r"\s+")


def strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def simplify(text: str) -> str:
    """Lower case, no diacritics, single spaces; punctuation and hyphens kept (dates, numbers)."""
    return SPACES.sub(" ", strip_diacritics(text.casefold())).strip()


def fold(text: str) -> str:
    """Lower case, no diacritics, no hyphens, punctuation as single spaces."""
    text = HYPHEN_BREAK.sub("", text)
    text = HYPHEN.sub("", text)
    text = strip_diacritics(text.casefold())
    return SPACES.sub(" ", NON_WORD.sub(" ", text)).strip()
