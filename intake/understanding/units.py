"""Find the names of the units a document names as participants ("mentions").

Lists ("följande enheter:" and one unit a line) are read by lists.py. Running
text ("nominerar Enheten för ekonomiskt bistånd samt Enheten för
verksamhetsutveckling till ...", "noterar anmälan av Socialjouren, Stödcentrum
för unga brottsutsatta samt Resursenheten, KBT-teamet till ...") is read here:
in a sentence about taking part, a name is a run of capitalised words, with
"för ..." and unit words ("enhet 2", "vård- och omsorgsboende") inside it,
ended by a comma, "och"/"samt" before a new name, or the rest of the sentence.

The comma is ambiguous: it separates units, but "Resursenheten, KBT-teamet" is
one unit and its team. It is read as one name when a container unit ("...enheten",
"...avdelningen") is followed by a team ("...teamet", "...gruppen"), and as two
names otherwise. One candidate per name, not both readings: an extra candidate
would show as an unknown unit. The matcher compares names folded and fuzzily, so
an operator suffix ("Misa AB") is kept and left to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.text import fold
from intake.understanding import unit_words as words
from intake.understanding.lists import item_name, list_items
from intake.understanding.normalise import NormText, clean, sw

SHORT_LINE = 30  # a line this short is a heading, an address or a name: the next line starts afresh
PARTICIPATION = sw(
    r"\bnominer\w*|\banmäl\w*|\bdelta(?:r|git|ga|gande\w*)?\b|\bdeltagare\b|\bmedverk\w*|\bgodkänn\w*"
    r"|\bnoter\w*|\btävlingsbidrag\w*|\btävlar\b|\btillstyrk\w*|\bföljande\s+enheter\b"
)
# Lines that list people or file data, never units: "Närvarande: Ordföranden Eva Nilsson, ...".
LABEL_LINE = sw(
    r"^\s*(?:närvarande|beslutande|övriga\s+närvarande|frånvarande|ledamöter|ersättare|tjänstemän"
    r"|utses\s+att\s+justera|justerare|justerande|handläggare|telefon|e-?post|dnr|d\s?nr|diarienummer"
    r"|underskrifter|plats\s+och\s+tid|org\.?\s*nr)\b"
)
OPERATING_FORM = re.compile(rf"\s*\(\s*(?:{'|'.join(words.OPERATING_FORMS)})\w*\s*\)", re.IGNORECASE)
TOKEN = re.compile(r"[^\W_](?:[\w'’/&-]|:(?=t\b))*|[(),;:]|[–—-](?=\s)")
SENTENCE_END = re.compile(r"[.!?](?=\s+[A-ZÅÄÖÉ0-9]|\s*$)|;")
CONNECTORS = ("och", "samt", "&", "eller")
LIST_SEPARATORS = (",", "och", "samt", "&")
DASHES = ("–", "—", "-")  # a spaced dash inside a name: "Trafikkontoret – Markförbättrande åtgärder"
DASH_STOPS = words.STOP_WORDS - {words.FOR_WORD, "och", "samt"}  # "åtgärder för gatuträd" goes on
MAX_DASH_WORDS = 6
NOMINATING_VERBS = ("anmal", "nominer")  # folded: "anmäla", "anmäler", "nominerar", "nominera"
NOMINATING_NOUNS = ("anmalan", "nominering")
TAKING_PART = ("har lamnat tavlingsbidrag", "deltar", "medverkar", "tavlar", "nomineras", "anmals")
DATE_LIKE = re.compile(r"\d{2,4}-\d{1,2}(?:-\d{1,2})?")
BRACKET_TOKENS = 10  # a bracket inside a name is short: "(enheten Rinkeby/Tensta)"
TITLE_WINDOW = 2  # tokens before a name in which a title ("Ordföranden", "ledamoten") makes it a person


@dataclass(frozen=True, slots=True)
class Mention:
    name: str
    start: int  # display offsets
    end: int


def read_mentions(norm: NormText, ranges: list[tuple[int, int]]) -> list[Mention]:
    """Unit names in the given display ranges, first-seen order, each once."""
    found: list[Mention] = []
    for start, end in ranges:
        prose: list[tuple[int, int]] = []
        for item in list_items(norm, start, end, prose):
            name = item_name(norm, item)
            if name:
                found.append(Mention(name, item.start, item.stop))
        for segment_start, segment_end in prose:
            found.extend(_names_in_prose(norm, segment_start, segment_end))
    seen: set[str] = set()
    unique: list[Mention] = []
    for mention in found:
        key = fold(mention.name)
        if key and key not in seen:
            seen.add(key)
            unique.append(mention)
    return unique


def _names_in_prose(norm: NormText, start: int, end: int) -> list[Mention]:
    names: list[Mention] = []
    for sentence_start, sentence_end in _sentences(norm, start, end):
        if PARTICIPATION.search(norm.folded, sentence_start, sentence_end):
            names.extend(_names_in_sentence(norm, sentence_start, sentence_end))
    return names


def _sentences(norm: NormText, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences end at punctuation and before label lines: lines break inside sentences and names."""
    cuts = {found.end() for found in SENTENCE_END.finditer(norm.display, start, end)}
    for line_start, line_end in norm.lines(start, end):
        if LABEL_LINE.match(norm.folded, line_start, line_end):
            cuts.update((line_start, line_end))  # the label line becomes a sentence of its own
    bounds = sorted({start, *(c for c in cuts if start < c < end), end})
    return [
        (a, b) for a, b in zip(bounds, bounds[1:], strict=False)
        if norm.display[a:b].strip() and not LABEL_LINE.match(norm.folded, a, b)
    ]


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    folded: str
    start: int
    end: int
    opens: bool  # first word of a sentence or of a line that starts one: capitalised anyway

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()

    @property
    def word(self) -> bool:
        return self.text[:1].isalnum()


def _tokens(norm: NormText, start: int, end: int) -> list[Token]:
    tokens: list[Token] = []
    for found in TOKEN.finditer(norm.display, start, end):
        s, e = found.span()
        line_start = norm.display.rfind("\n", 0, s) + 1
        opens = not tokens or (not norm.display[line_start:s].strip() and _line_opens(norm, line_start))
        tokens.append(Token(found.group(0), norm.folded[s:e], s, e, opens))
    return tokens


def _line_opens(norm: NormText, line_start: int) -> bool:
    """Whether a line starts afresh: after a finished sentence, or among short lines (an address,
    a signature, a letterhead). The short tail of a wrapped sentence ("... Kundcenter samt\\n
    Förvaltningsområde\\nVästerort ...") does not end it."""
    previous = _line_before(norm, line_start)
    if previous is None:
        return True
    text = norm.display[previous:line_start].strip()
    if text.endswith((".", "!", "?", ":")):
        return True
    if len(text) >= SHORT_LINE:
        return False
    before = _line_before(norm, previous)
    if before is None:
        return True
    earlier = norm.display[before:previous].strip()
    return len(earlier) < SHORT_LINE or earlier.endswith((".", "!", "?", ":"))


def _line_before(norm: NormText, line_start: int) -> int | None:
    return None if line_start == 0 else norm.display.rfind("\n", 0, line_start - 1) + 1


def _names_in_sentence(norm: NormText, start: int, end: int) -> list[Mention]:
    tokens = _tokens(norm, start, end)
    runs: list[tuple[int, int]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.folded in words.CLASS_WORDS:  # "i klassen Andra verksamheter": a class, skip it
            index += 1
            while index < len(tokens) and tokens[index].text not in (",", ";", "("):
                index += 1
            continue
        if not _opens_name(tokens, index):
            # "Lena Murray" opening a line: a capitalised run that is no unit is skipped whole.
            index = _extend(tokens, index) + 1 if token.opens and token.capitalised else index + 1
            continue
        last = _extend(tokens, index)
        runs.append((index, last))
        index = last + 1
    names = []
    for first, last in runs:
        mention = _mention(norm, tokens, first, last, _coordinated(tokens, runs, first, last))
        if mention is not None:
            names.append(mention)
    return names


def _opens_name(tokens: list[Token], index: int) -> bool:
    token = tokens[index]
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if not token.word or token.folded in words.CLASS_NAMES:
        return False
    if words.is_excluded(token.folded):
        after = tokens[index + 2] if index + 2 < len(tokens) else None
        if following is not None and following.text in DASHES and after is not None and after.capitalised:
            return True  # "Trafikkontoret – Markförbättrande åtgärder för gatuträd": an office's project
        # "Serviceförvaltningens IT-support", "Trafikkontorets kundtjänst": an administration's unit.
        return (token.folded.endswith(words.ADMINISTRATION_GENITIVES) and following is not None
                and following.word and (following.capitalised or words.is_unit_word(following.folded)))
    if not token.capitalised:  # "förskolan Sylvester", "enheten för ekonomiskt bistånd"
        return token.folded in words.LOWER_UNIT_HEADS and following is not None and (
            following.capitalised or following.folded == words.FOR_WORD
        )
    return not token.opens or words.is_unit_word(token.folded)


def _extend(tokens: list[Token], first: int) -> int:
    """The index of the last token of the name that starts at `first`."""
    last = first
    while (step := _step(tokens, first, last)) is not None:
        last = step
    return last


def _step(tokens: list[Token], first: int, last: int) -> int | None:
    """The new last token when the name goes on past `last`, or None where it ends."""
    if last + 1 >= len(tokens):
        return None
    current, following = tokens[last], tokens[last + 1]
    after = tokens[last + 2] if last + 2 < len(tokens) else None
    if following.opens:  # a new line after a short one: an address, a title, a heading
        return None
    if current.folded == "vard" and following.folded == "och" and after is not None \
            and after.folded.startswith("omsorgsboende"):
        return last + 2  # "Attendo Bromstens vård och omsorgsboende", the hyphen left out
    if current.text.endswith("-") and following.folded in CONNECTORS and after is not None and after.word:
        return last + 2  # "Miljö- och hållbarhetsenheten", "vård- och omsorgsboende"
    unit_so_far = any(words.is_unit_word(t.folded) for t in tokens[first:last + 1])
    if following.word and following.text[0].isdigit():
        # "Hemtjänsten Årsta enhet 2", never "Tove Hassan 13" or "Meddelande 2012-06-07"
        numbered = current.folded in words.UNIT_TYPE_WORDS or unit_so_far
        return last + 1 if numbered and not DATE_LIKE.fullmatch(following.text) else None
    if following.word and following.capitalised:
        return None if words.is_excluded(following.folded) else last + 1  # "Korttidshemmet Drömmen"
    genitive = current.folded.endswith("s") and (current.capitalised or current.folded in words.PLACE_TAILS)
    if following.folded in words.UNIT_TYPE_WORDS or (genitive and words.is_unit_word(following.folded)):
        return last + 1  # "Hemtjänsten Årsta enhet 2", "Stadens äldreombudsman", "Trafikkontorets kundtjänst"
    if following.folded in words.PLACE_TAILS and current.capitalised:
        return last + 1  # "Misa Vårby gård", "Förskolan Kastanjen Hammarby sjöstad"
    if following.text.endswith("-") and after is not None and after.folded in CONNECTORS:
        return last + 1  # "Attendo Bandhagens vård-" before "och omsorgsboende"
    if following.folded == words.FOR_WORD and unit_so_far:
        extended = _extend_for(tokens, last + 1)  # "Enheten för ekonomiskt bistånd"
        return extended if extended > last else None
    place = after is not None and after.capitalised and not words.is_excluded(after.folded)
    if following.folded == "i" and place:
        return last + 2  # "Resursteamet i Stockholm AB"
    if following.text == "(":  # "(enheten Rinkeby/Tensta)"
        window = range(last + 2, min(last + BRACKET_TOKENS, len(tokens)))
        return next((i for i in window if tokens[i].text == ")"), None)
    if following.text in DASHES and after is not None and after.word and after.capitalised:
        return _extend_dash(tokens, last + 2)  # "Trafikkontoret – Markförbättrande åtgärder för gatuträd"
    if following.text == "," and after is not None and _unit_and_team(current, after):
        return last + 2  # "Resursenheten, KBT-teamet"
    return None


def _extend_for(tokens: list[Token], for_index: int) -> int:
    """The last token of "för unga brottsutsatta"; `for_index` is the "för"."""
    last = for_index
    taken = 0
    while last + 1 < len(tokens) and taken < words.MAX_FOR_WORDS:
        following = tokens[last + 1]
        after = tokens[last + 2] if last + 2 < len(tokens) else None
        joins = (after is not None and after.word and not after.capitalised
                 and after.folded not in words.STOP_WORDS)
        if following.folded in CONNECTORS and joins:
            last += 2  # "för arbete och försörjning"
        elif following.word and not following.capitalised and following.folded not in words.STOP_WORDS:
            last += 1
        else:
            break
        taken += 1
    return last if last > for_index else for_index - 1  # a bare "för" is not part of the name


def _nominated(tokens: list[Token], index: int) -> bool:
    """ "anmäla Stadsmuseet till", "anmälan av Medborgarkontoret till", "Stadsmuseet deltar":
    the slot of a participant."""
    before = [t.folded for t in tokens[max(0, index - 2):index]]
    following = tokens[index + 1].folded if index + 1 < len(tokens) else ""
    verb = bool(before) and before[-1].startswith(NOMINATING_VERBS)
    of = len(before) == 2 and before[-1] == "av" and before[0].startswith(NOMINATING_NOUNS)
    if (verb or of) and following == "till":
        return True
    # "... att Driftcentralen har lämnat tävlingsbidrag", "Stadsmuseet deltar i ..."
    then = " ".join(t.folded for t in tokens[index + 1:index + 3])
    return then.startswith(TAKING_PART)


def _extend_dash(tokens: list[Token], first: int) -> int:
    """The last token of the part after a dash in a name ("– Markförbättrande åtgärder för gatuträd"):
    words up to a comma, a bracket, a connector before a new name, "till" or a sentence's end."""
    last = first
    while last + 1 < len(tokens) and last - first < MAX_DASH_WORDS:
        following = tokens[last + 1]
        after = tokens[last + 2] if last + 2 < len(tokens) else None
        if not following.word or following.opens or following.folded in DASH_STOPS:
            break
        if following.folded in CONNECTORS and (after is None or after.capitalised):
            break
        last += 1
    return last


def _unit_and_team(unit: Token, team: Token) -> bool:
    """ "Resursenheten, KBT-teamet": one unit and its team, so one name. A team with a name of its
    own ("Familjeenheten, Relationsvårdsteamet") is a unit of its own."""
    team_of_unit = ("-" in team.text or not team.capitalised) and team.folded.endswith(words.TEAM_SUFFIXES)
    return team_of_unit and unit.folded.endswith(words.CONTAINER_SUFFIXES)


def _coordinated(tokens: list[Token], runs: list[tuple[int, int]], first: int, last: int) -> bool:
    """Whether the name stands in a list of names ("Kundcenter, Förvaltningsområde Söderort och
    Kundservice"): joined to the name before or after it by a comma, "och" or "samt" alone."""
    for other_first, other_last in runs:
        between = tokens[other_last + 1:first] if other_last < first else tokens[last + 1:other_first]
        if (other_first, other_last) != (first, last) and len(between) == 1 \
                and between[0].folded in LIST_SEPARATORS:
            return True
    return False


def _mention(norm: NormText, tokens: list[Token], first: int, last: int, coordinated: bool) -> Mention | None:
    start, end = tokens[first].start, tokens[last].end
    following = tokens[last + 1] if last + 1 < len(tokens) else None
    genitive = following is not None and following.folded in words.GENITIVE_FOLLOWERS
    if genitive and tokens[last].folded.endswith("s"):
        end -= 1  # "Enheten för arbete och försörjnings deltagande"
    rest = " ".join(norm.folded[end:end + 40].replace(",", " ").split())
    if rest.startswith(words.OPERATOR_INTRODUCERS):
        return None  # "Resursteamet i Stockholm AB, som deltar med ...": the company, not a unit
    if any(t.text == "(" and tokens[i + 1].folded in words.PARTY_CODES
           for i, t in enumerate(tokens[first:last], start=first)):
        return None  # "Karin Ek (S)": a politician
    if any(t.folded in words.PERSON_TITLES for t in tokens[max(0, first - TITLE_WINDOW):first]):
        return None  # "Ordföranden Eva Nilsson", "ledamoten Per Ek"
    name = OPERATING_FORM.sub("", clean(norm.display[start:end])).strip(" ,;:")
    folded = fold(name)
    if not folded or folded in words.CLASS_NAMES or folded in words.GENERIC or words.AWARD_STEM in folded:
        return None
    if words.is_committee_word(folded.split()[-1]):
        return None  # "Rinkeby-Kista stadsdelsförvaltning", "Miljö- och hälsoskyddsnämnden"
    alone = last == first and not (coordinated or _nominated(tokens, first))
    if alone and not words.is_unit_word(tokens[first].folded):
        return None  # one capitalised word, alone and no unit word: a place, a person, a programme
    return Mention(name, start, end)
