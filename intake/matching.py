"""Match the unit names a document mentions to the register of this year's units.

This first matcher finds each registered name, folded (case, diacritics, hyphens,
line breaks), as whole words in the folded text. Longer names claim their words
first, so "Förskolan Solen" inside "Förskolan Solens äng" never counts twice.
Matches come back in the order the document names them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from intake.domain import Unit, UnitMatch
from intake.text import fold

EXACT_SCORE = 100.0
NAME_CACHE = 8192  # folded register names kept between mails; a season has hundreds


@lru_cache(maxsize=NAME_CACHE)
def folded_name(name: str) -> str:
    return fold(name)


def match_units(text: str, units: Sequence[Unit], filename: str = "") -> list[UnitMatch]:
    folded = fold(text)
    claimed = [False] * len(folded)
    found_at: list[tuple[int, UnitMatch]] = []
    named = [(folded_name(unit.name), unit) for unit in units]
    # A plain substring test first: most registered names are not in a given document.
    present = [(name, unit) for name, unit in named if name and name in folded]
    for name, unit in sorted(present, key=lambda pair: len(pair[0]), reverse=True):
        for found in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", folded):
            start, end = found.span()
            if any(claimed[start:end]):
                continue
            claimed[start:end] = [True] * (end - start)
            found_at.append((start, UnitMatch(unit.unit_id, unit.name, EXACT_SCORE, filename)))
            break
    return [match for _, match in sorted(found_at, key=lambda pair: pair[0])]  # document order
