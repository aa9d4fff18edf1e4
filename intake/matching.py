"""Match the unit names a document gives to the register of this year's units.

`build_index` turns the register (and the spellings coordinators confirmed) into
normalised keys once per batch of mails; `match_document` scores one document's
mentions against them with rapidfuzz, with the document's committee and the
sender's address as context, and assigns mentions to units one to one:

- accepted: score >= SURE and clearly better than any other unit for that mention;
- unsure: the best candidate of a mention in the grey zone (GREY <= score < SURE), or
  a tie between units (the same name under two committees with nothing to tell them
  apart): a coordinator decides;
- unknown: mentions with no candidate >= GREY.

A wrong confirmation is worse than a notice, so every doubt lands in `unsure`.
docs/MATCHING.md explains the normalisation and the scores; bench/matching.py sets
the thresholds from the labelled corpus.

`match_units` is the first, exact-only matcher, kept unchanged for its callers.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from intake import vocabulary
from intake.domain import Unit, UnitMatch
from intake.text import HYPHEN_BREAK, fold, strip_diacritics

# --- thresholds and weights (bench/matching.py measures them on the labelled corpus) ---------

SURE = 90.0  # accepted at or above this score
GREY = 80.0  # a coordinator decides at or above this (below SURE); below: unknown unit
MARGIN = 4.0  # an accepted match must beat the next unit for the same mention by this much
CONTEXT_PENALTY = 15.0  # the unit's committee is not the document's (or the sender's)
OPERATOR_PENALTY = 8.0  # matched only with the operator left out on one side ("Attendo X" / "X")
SUBSTITUTION_PENALTY = 10.0  # per letter of the distinctive words replaced by one OCR does not mistake for it
PAREN_PENALTY = 2.0  # matched only without a bracketed remark ("(EFH)", "(LSS)")
FALLBACK_NO_CONTEXT = 15.0  # a registered name found in the text, with no committee to confirm it
COMMITTEE_MIN = 90.0  # folded committee names this close (rapidfuzz ratio) are the same committee
JOIN_GAIN = 10.0  # "Kommunikation" + "Service" -> "Kommunikation och Service" must gain this much
EXTEND_GAIN = 10.0  # a mention extended by words next to it in the text must gain this much
CANDIDATE_FLOOR = 50.0  # rapidfuzz cut-off of the first pass; below it a unit is no candidate
CANDIDATES = 8  # distinct keys kept per mention variant in the first pass
EXACT_SCORE = 100.0
NAME_CACHE = 8192  # folded register names kept between mails; a season has hundreds


@dataclass(frozen=True, slots=True)
class Thresholds:
    sure: float = SURE
    grey: float = GREY
    margin: float = MARGIN


DEFAULT = Thresholds()


@dataclass(frozen=True, slots=True)
class Matching:
    accepted: tuple[UnitMatch, ...]  # one-to-one, score >= SURE, in document order
    unsure: tuple[UnitMatch, ...]  # best candidate for a mention in the grey zone (not assigned elsewhere)
    unknown: tuple[str, ...]  # mentions with no candidate >= GREY
    committee_boards: frozenset[str] = frozenset()  # the register's boards the document's committee names


# --- word lists (folded: lower case, no diacritics) ------------------------------------------

# Abbreviations and other names of the same kind of unit (guide §4), one token -> tokens.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "fsk": ("forskola",), "forsk": ("forskola",), "forskoleenh": ("forskoleenheten",),
    "enh": ("enheten",), "avd": ("avdelningen",), "htj": ("hemtjanst",),
    "vob": ("vard", "och", "omsorgsboende"), "vobo": ("vard", "och", "omsorgsboende"),
    "sabo": ("vard", "och", "omsorgsboende"), "aldreboende": ("vard", "och", "omsorgsboende"),
    "aldreboendet": ("vard", "och", "omsorgsboende"), "dv": ("daglig", "verksamhet"),
    "kh": ("korttidshem",), "ekb": ("ekonomiskt", "bistand"), "grp": ("grupp",),
}
COMPOUND_ABBREVIATIONS = (("avd", "avdelningen"), ("enh", "enheten"))
# The kind of unit, written before or after its own name: "Förskolan Solen" / "Solens förskola".
TYPE_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = tuple(sorted((
    (("vard", "och", "omsorgsboende"), "vard och omsorgsboende"),
    (("vard", "och", "omsorgsboendet"), "vard och omsorgsboende"),
    (("vard", "omsorgsboende"), "vard och omsorgsboende"),
    (("daglig", "verksamhet"), "daglig verksamhet"), (("dagliga", "verksamhet"), "daglig verksamhet"),
    (("dagliga", "verksamheten"), "daglig verksamhet"), (("daglig", "verksamheten"), "daglig verksamhet"),
    (("forskolan",), "forskola"), (("forskola",), "forskola"),
    (("forskolor",), "forskolor"), (("forskolorna",), "forskolor"),
    (("forskoleenheten",), "forskoleenhet"), (("forskoleenhet",), "forskoleenhet"),
    (("forskoleomradet",), "forskoleomrade"), (("forskoleomrade",), "forskoleomrade"),
    (("hemtjansten",), "hemtjanst"), (("hemtjanst",), "hemtjanst"),
    (("servicehuset",), "servicehus"), (("servicehus",), "servicehus"),
    (("dagverksamheten",), "dagverksamhet"), (("dagverksamhet",), "dagverksamhet"),
    (("korttidshemmet",), "korttidshem"), (("korttidshem",), "korttidshem"),
    (("gruppbostaden",), "gruppbostad"), (("gruppbostad",), "gruppbostad"),
    (("gruppbostaderna",), "gruppbostader"), (("gruppbostader",), "gruppbostader"),
    (("boendestodet",), "boendestod"), (("boendestod",), "boendestod"),
    (("skolan",), "skola"), (("skola",), "skola"),
), key=lambda pair: -len(pair[0])))
TYPE_BASES = frozenset(base for _, base in TYPE_PHRASES)
# Words that say what kind of unit it is or join words: never what tells two units apart.
GENERIC = frozenset({
    "enheten", "enhet", "enheterna", "for", "och", "samt", "i", "inom", "av", "pa", "med", "till",
    "avdelningen", "avdelning", "verksamheten", "verksamhet", "vard", "omsorgsboende", "daglig",
} | {word for words, _ in TYPE_PHRASES for word in words} | {w for base in TYPE_BASES for w in base.split()})
# Words that end a unit's name: a name without one is not left alone when its operator goes
# ("byrån" too here: "Familjerättsbyrån").
UNIT_SUFFIXES = (*vocabulary.UNIT_SUFFIXES, "byran")
# Private operators (guide §4) as a name says them; several words become one token first.
OPERATOR_PHRASES: dict[tuple[str, ...], str] = {
    ("attendo", "care"): "attendo", ("forenade", "care"): "forenadecare", ("carema", "care"): "carema",
    ("frosunda", "lss"): "frosunda", ("frosunda", "omsorg"): "frosunda", ("cikoria", "omsorg"): "cikoria",
    ("pysslingen", "forskolor"): "pysslingen", ("norlandia", "forskolor"): "norlandia",
    ("humana", "omsorg"): "humana", ("enklare", "vardag"): "enklarevardag",
}
OPERATORS = frozenset({
    "attendo", "vardaga", "misa", "humana", "norlandia", "pysslingen", "frosunda", "carema", "aleris",
    "capio", "praktikertjanst", "cikoria", "homsan", "carepartner", "forenadecare", "enklarevardag",
    "ersta", "erstastiftelsen", "amygdalus", "academedia", "kunskapsskolan", "vittra", "internationella",
})
OPERATOR_LIST = sorted(OPERATORS)
LEGAL_FORMS = frozenset({"ab", "aktiebolag", "publ"})
# How a unit is run, not what it is called: "(enskild)", "(entreprenad)".
OPERATING_FORMS = frozenset({"enskild", "enskilt", "entreprenad", "intraprenad", "privat", "kommunal",
                             "extern", "drift", "driven", "i", "pa"})
CLASS_WORDS = ("tavlingsklass", "tavlingsklassen", "klass", "klassen")
CLASS_NAMES = (
    "forskola", "forskoleverksamhet", "skola", "skolverksamhet", "grundskola", "gymnasieskola",
    "aldreomsorg", "aldre", "aldreomsorg inklusive myndighetsutovning",
    "aldreomsorg inkl myndighetsutovning",
    "socialtjanst", "soc lss", "socialtjanst lss", "socialtjanst och lss", "lss",
    "socialtjanst samt stod och service till personer med funktionsnedsattning",
    "socialtjanst samt stod och service till personer med funktionsnedsattning inklusive myndighetsutovning",
    "socialtjanst samt stod och service till personer med funktionsnedsattning inkl myndighetsutovning",
    "andra verksamheter", "andra", "ovriga", "ovriga verksamheter",
    "andra verksamheter administrativa verksamheter",
)
# Words of a committee's name that say only what kind of body it is.
COMMITTEE_NOISE = frozenset({
    "stadsdelsnamnd", "stadsdelsnamnden", "stadsdelsnamnds", "stadsdelsnamndens", "sdn",
    "stadsdelsforvaltning", "stadsdelsforvaltningen", "stadsdelsforvaltnings", "stadsdelsomrade", "styrelsen",
    "styrelse", "for", "i", "ab", "aktiebolag", "publ",
})
COMMITTEE_WORDS = ("namnd", "styrelse", "forvaltning", "kontoret")
# Shared by many committees: a sender's domain here says nothing about which one.
SHARED_DOMAINS = frozenset({
    "stockholm.se", "edu.stockholm.se", "gmail.com", "hotmail.com", "outlook.com", "live.se", "yahoo.com",
    "yahoo.se", "icloud.com", "telia.com", "hotmail.se", "msn.com",
})

# --- repairing and folding a name ---------------------------------------------------------------

# Glyphs a wrong glyph map leaves for ligatures (guide §5), and spacing marks of split diacritics.
LIGATURE_GLYPHS = {"\u02db": "fi", "\u02d9": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb00": "ff"}
SPACING_MARKS = re.compile(r"\s?[\u00a8\u00b4\u02c6\u02dc\u0060]")
RING = re.compile(r"(?<=[aA])\s?\u02da")  # "a˚" is å; any other "˚" is the "ft" ligature
PAREN = re.compile(r"\(([^()]*)\)?")
TAIL = re.compile(r"(?:\s*[,;:]\s*|\s+[-\u2013\u2014]\s+|\s*[\u2013\u2014]\s*)(?=[^,;:\u2013\u2014]*$)")
AMPERSAND_IN_WORD = re.compile(r"(?<=[^\W\d_])&(?=[^\W\d_])")  # OCR's "&" for ä: "kundtj&nst"
DIGIT_LETTERS = str.maketrans({"0": "o", "1": "l", "5": "s", "6": "o", "8": "b"})
TOKEN = re.compile(r"\w+(?:[-\u2010\u2011]\w+)*")
SUSPENDED_HYPHEN = re.compile(r"[-\u2010\u2011]\s*\n\s*(?=(?:och|eller|samt|&)\s)", re.IGNORECASE)
# Letters OCR and broken text layers mistake for each other (guide §5, after folding and the é, &
# and digit repairs): å/ä/ö read as d or i, m as rn, d as cl, h as li, e as c, l as 1 or I.
OCR_PAIRS = frozenset(frozenset(pair) for pair in (
    "ad", "ai", "od", "il", "cd", "ld", "lh", "ih", "rm", "nm", "im", "ec"))
OCR_GROUPS = (("rn", "m"), ("ni", "m"), ("cl", "d"), ("li", "h"))  # several letters OCR reads for one
OCR_E = ("a", "o")  # what an OCR'd "é" stood for: å or ä, ö (or é itself: a variant of its own)
MAX_E_VARIANTS = 3  # "é"s read each way; more in one name are all read alike


def _repair(raw: str) -> str:
    """Undo damage that is never part of a name: mojibake, ligature glyphs, split marks, line breaks."""
    text = raw
    if "Ã" in text or "Â" in text:  # UTF-8 read as Latin-1: "fÃ¶rskola"
        with contextlib.suppress(UnicodeError):
            text = text.encode("cp1252").decode("utf-8")
    text = unicodedata.normalize("NFC", text)
    for glyph, letters in LIGATURE_GLYPHS.items():
        text = text.replace(glyph, letters)
    text = RING.sub("", text).replace("\u02da", "ft")
    text = SPACING_MARKS.sub("", text)
    text = SUSPENDED_HYPHEN.sub("- ", text)  # "vård-\noch omsorgsboende" keeps its words apart
    return HYPHEN_BREAK.sub("", text)


@lru_cache(maxsize=65536)
def _fold_word(word: str) -> str:
    return strip_diacritics(word.casefold()).replace("-", "").replace("\u2010", "").replace("\u2011", "")


def _tokens(text: str, vocabulary: frozenset[str] = frozenset()) -> list[str]:
    """Folded words; a digit inside a word is the letter OCR mistook ("F6rvaltning"); split words rejoined."""
    text = AMPERSAND_IN_WORD.sub("a", text).replace("&", " och ")
    words = fold(text).split()
    out: list[str] = []
    for word in words:
        if not word.isdigit() and any(ch.isdigit() for ch in word) and sum(ch.isalpha() for ch in word) >= 2:
            word = word.translate(DIGIT_LETTERS)
        out.append(word)
    return _rejoin(out, vocabulary)


TYPE_WORDS = frozenset(phrase[0] for phrase, _ in TYPE_PHRASES if len(phrase) == 1 and len(phrase[0]) >= 6)
KNOWN_WORDS = frozenset(GENERIC | set(ABBREVIATIONS) | {"hemtjanst", "hemtjansten", "forskolan", "forskola",
                                                         "omsorgsboende", "omsorgsboendet", "verksamhet"})


MAX_PIECES = 4  # "fo rsko lan": a word split by up to three stray spaces


def _known(word: str, vocabulary: frozenset[str]) -> bool:
    return word in KNOWN_WORDS or word in vocabulary


def _rejoin(words: list[str], vocabulary: frozenset[str] = frozenset()) -> list[str]:
    """ "fo rskolan", "hem tjänst", "Ekonomienh eten": a word split by stray spaces is joined when the
    whole is a known word or a word of the register's names (`vocabulary`, for mentions) and its
    pieces are not all words of their own ("för skolan" is joined all the same)."""
    out: list[str] = []
    index = 0
    while index < len(words):
        for size in range(min(MAX_PIECES, len(words) - index), 1, -1):
            pieces = words[index:index + size]
            whole = "".join(pieces)
            if whole in TYPE_WORDS or (_known(whole, vocabulary)
                                       and not all(_known(piece, vocabulary) for piece in pieces)):
                out.append(whole)
                index += size
                break
        else:
            out.append(words[index])
            index += 1
    return out


def _expand(words: list[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        if word in LEGAL_FORMS:
            continue
        if word not in ABBREVIATIONS:
            for short, full in COMPOUND_ABBREVIATIONS:  # "Kommunikationsavd." is "Kommunikationsavdelningen"
                if word.endswith(short) and len(word) > len(short) + 3:
                    word = word[: -len(short)] + full
                    break
        out.extend(ABBREVIATIONS.get(word, (word,)))
    return out


def _is_class(folded: str) -> bool:
    """A trailing "tävlingsklass Förskola", "– förskola" or "(Äldreomsorg)": the class, not the name."""
    words = folded.split()
    if not words:
        return False
    glued = folded.replace(" ", "")  # "tav lingsklass"
    if any(max(fuzz.ratio(words[0], word), fuzz.ratio(glued[:len(word)], word)) >= 85
           for word in CLASS_WORDS):
        return True
    return max(fuzz.ratio(folded, name) for name in CLASS_NAMES) >= 90


def _operator_words(folded: str) -> list[str] | None:
    """The operators a bracket or a tail names ("Attendo Care AB" -> ["attendo"]), None if it names more.

    Here, where nothing but an operator is expected, an OCR'd "ATTNDO" is still Attendo."""
    words = [_near_operator(w) for w in _merge_operators(_tokens(folded))]
    if not words or not all(w in OPERATORS or w in LEGAL_FORMS or w in OPERATING_FORMS for w in words):
        return None
    return [w for w in words if w in OPERATORS]


def _near_operator(word: str) -> str:
    if word in OPERATORS or len(word) < 5:
        return word
    found = process.extractOne(word, OPERATOR_LIST, scorer=fuzz.ratio, score_cutoff=85.0)
    return found[0] if found else word


def _merge_operators(words: list[str]) -> list[str]:
    out: list[str] = []
    index = 0
    while index < len(words):
        pair = tuple(words[index:index + 2])
        if pair in OPERATOR_PHRASES:
            out.append(OPERATOR_PHRASES[pair])
            index += 2
        else:
            out.append(words[index])
            index += 1
    return out


@dataclass(frozen=True, slots=True)
class Form:
    """One spelling of a name, normalised for comparison."""

    plain: str  # folded, in written order: "ekbackens forskola"
    key: str  # canonical: operator first, the kind of unit last: "ekbacken forskola"
    bare: str | None  # the key without its operator, when what is left still names a unit
    distinct: str  # what tells it from other units of its kind: "ekbacken"
    numbers: tuple[str, ...]  # "Hemtjänsten Tensta enhet 3" -> ("3",)
    compact: str  # the key without spaces ("fo rskolan" = "forskolan")
    compact_bare: str | None
    compact_distinct: str
    kind_at: str  # where the kind of unit was written: "first" ("Förskolan Solen"), "last" or ""


FUZZY_WORD = 6  # words this long still count as a word of the lists with one letter damaged
FUZZY_WORD_MIN = 88.0


def _same_word(word: str, listed: str) -> bool:
    """The listed word, or it with one letter damaged: any letter in a long word, an OCR confusion
    in a short one ("fdr" for "för")."""
    if word == listed:
        return True
    if len(word) == len(listed) >= 3:
        differ = [(a, b) for a, b in zip(word, listed, strict=True) if a != b]
        if len(differ) == 1 and frozenset(differ[0]) in OCR_PAIRS:
            return True
    return (len(listed) >= FUZZY_WORD and abs(len(word) - len(listed)) <= 1
            and fuzz.ratio(word, listed) >= FUZZY_WORD_MIN)


def _is_phrase(words: Sequence[str], phrase: tuple[str, ...]) -> bool:
    """Words are the phrase; inside a longer phrase a short word may have one letter wrong ("vdrd och")."""
    if len(phrase) == 1:
        return _same_word(words[0], phrase[0])
    return all(_same_word(word, listed) or (len(listed) >= 4 and Levenshtein.distance(word, listed) <= 1)
               for word, listed in zip(words, phrase, strict=True))


@lru_cache(maxsize=65536)
def _generic(word: str) -> bool:
    return word in GENERIC or any(_same_word(word, listed) for listed in GENERIC)


def _canonical(words: list[str]) -> tuple[list[str], list[str], str]:
    """(key words, distinctive words, where the kind of unit was written: "first", "last" or "").

    The kind of unit moves last in its base form, and a genitive before it is undone."""
    for phrase, base in TYPE_PHRASES:
        size = len(phrase)
        if len(words) > size and _is_phrase(words[:size], phrase):
            rest = words[size:]
            return [*rest, base], [w for w in rest if not _generic(w)], "first"
        if len(words) > size and _is_phrase(words[-size:], phrase):
            rest = list(words[:-size])
            last = rest[-1]
            if len(last) > 3 and last.endswith("s") and not last.endswith("ss"):
                rest[-1] = last[:-1]  # "Ekbackens förskola" is "Förskolan Ekbacken"
            return [*rest, base], [w for w in rest if not _generic(w)], "last"
    return list(words), [w for w in words if not _generic(w)], ""


def _has_unit_word(words: Iterable[str]) -> bool:
    return any(w in TYPE_BASES or w.endswith(UNIT_SUFFIXES) for w in words)


def _form(text: str, operators: list[str], vocabulary: frozenset[str]) -> Form | None:
    words = _merge_operators(_expand(_tokens(text, vocabulary)))
    plain = " ".join(words)
    lead: list[str] = []
    while words and words[0] in OPERATORS:
        lead.append(words.pop(0))
    tail: list[str] = []
    while len(words) > 1 and words[-1] in OPERATORS:
        tail.insert(0, words.pop())
    ops = list(dict.fromkeys([*lead, *operators, *tail]))
    if not words:
        if not ops:
            return None
        words, ops = ops, []  # the name is an operator's: "Misa"
    key_words, distinct_words, kind_at = _canonical(words)
    key = " ".join([*ops, *key_words])
    distinct = " ".join(distinct_words)
    bare = " ".join(key_words) if ops and distinct and _has_unit_word(key_words) else None
    numbers = tuple(sorted(w for w in words if w.isdigit()))
    return Form(plain, key, bare, distinct, numbers, key.replace(" ", ""),
                bare.replace(" ", "") if bare else None, distinct.replace(" ", ""), kind_at)


def _strip_name(raw: str) -> tuple[str, list[str], list[str]]:
    """(name, operators, other bracketed remarks): brackets and trailing classes or operators taken off."""
    text = _repair(raw)
    operators: list[str] = []
    remarks: list[str] = []

    def bracket(found: re.Match[str]) -> str:
        inner = found.group(1)
        folded = fold(inner)
        named = _operator_words(folded)
        if named is not None:
            operators.extend(named)
        elif not _is_class(folded) and folded:
            remarks.append(inner)
        return " "

    text = PAREN.sub(bracket, text)
    while True:
        tail = TAIL.search(text)
        if tail is None or not text[: tail.start()].strip():
            break
        folded = fold(text[tail.end():])
        named = _operator_words(folded)
        if named is not None:
            operators.extend(named)
        elif not folded or _is_class(folded):
            pass
        else:
            break
        text = text[: tail.start()]
    words = text.split()
    for index, word in enumerate(words[1:], start=1):  # "Ungdomsteamet tävlingsklass Socialtjänst"
        if any(fuzz.ratio(_fold_word(word).strip(":,."), cls) >= 85 for cls in CLASS_WORDS):
            text = " ".join(words[:index])
            break
    return text, operators, remarks


def name_forms(raw: str, *, ocr: bool = False, vocabulary: frozenset[str] = frozenset()
               ) -> list[tuple[Form, float]]:
    """The forms of a name with their penalties; `ocr` adds readings of "é" (å, ä, ö or é itself);
    `vocabulary` (the register's words) rejoins a mention's words split by stray spaces."""
    text, operators, remarks = _strip_name(raw)
    texts: list[tuple[str, float]] = [(text, 0.0)]
    if remarks:
        texts = [(f"{text} {' '.join(remarks)}", 0.0), (text, PAREN_PENALTY)]
    if ocr and ("é" in text or "É" in text):
        texts = [(variant, p) for t, p in texts for variant in _e_readings(t)]
    out: dict[str, tuple[Form, float]] = {}
    for variant, penalty in texts:
        form = _form(variant, operators, vocabulary)
        if form is not None and (form.key not in out or out[form.key][1] > penalty):
            out[form.key] = (form, penalty)
    return list(out.values())


MAX_SUBSTITUTIONS = 2  # penalised at most this many times
OCR_LETTER_COST = 5.0  # points per letter read back from an OCR confusion: an exact name wins by > MARGIN


def _ocr_similar(mention: str, unit: str) -> tuple[float, int]:
    """(similarity, letters replaced by one OCR does not mistake them for), the OCR confusions read back.

    One OCR error and one letter of another name look alike to a ratio ("Regnbdgen" / "Regnbogen");
    the kind of error tells them apart: OCR confuses a few shapes, another name has any letter."""
    if mention == unit:
        return 100.0, 0
    best = _read_back(mention, unit)
    for many, one in OCR_GROUPS:  # "Kornpassen" is "Kompassen"
        if many in mention and one in unit and many not in unit:
            score, foreign = _ocr_similar(mention.replace(many, one), unit)
            best = max(best, (score - OCR_LETTER_COST * mention.count(many), foreign), key=lambda r: r[0])
    return best


def _read_back(mention: str, unit: str) -> tuple[float, int]:
    letters = list(mention)
    read_back = foreign = 0
    for op in Levenshtein.editops(mention, unit):
        if op.tag != "replace":
            continue
        if frozenset((mention[op.src_pos], unit[op.dest_pos])) in OCR_PAIRS:
            letters[op.src_pos] = unit[op.dest_pos]
            read_back += 1
        else:
            foreign += 1
    return fuzz.ratio("".join(letters), unit) - OCR_LETTER_COST * read_back, min(foreign, MAX_SUBSTITUTIONS)


def _e_readings(text: str) -> list[str]:
    """ "Férskolan Solstrélen": every way to read its "é"s as å/ä or ö, and as é itself."""
    parts = re.split("([éÉ])", text)
    marks = parts[1::2]
    if len(marks) > MAX_E_VARIANTS:
        return [text.replace("é", r).replace("É", r.upper()) for r in ("e", *OCR_E)]
    readings = [""]
    for index, part in enumerate(parts):
        if index % 2 == 0:
            readings = [r + part for r in readings]
        else:
            readings = [r + (c.upper() if part == "É" else c) for r in readings for c in OCR_E]
    return [text.replace("é", "e").replace("É", "E"), *readings]


def _similar(a: str, b: str, compact_a: str, compact_b: str) -> float:
    return max(fuzz.ratio(a, b), _ocr_similar(compact_a, compact_b)[0])


def pair_score(mention: Form, unit: Form) -> float:
    """How well one form of a mention names one form of a unit, 0..100, before context.

    The whole name and its distinctive words are compared (with spaces and without, OCR
    confusions read back); the lower counts, so "Förskolan Solen" is not "Förskolan Solens äng"
    however much of the name they share."""
    full = _similar(mention.key, unit.key, mention.compact, unit.compact)
    if mention.bare is not None or unit.bare is not None:
        bare = _similar(mention.bare or mention.key, unit.bare or unit.key,
                        mention.compact_bare or mention.compact, unit.compact_bare or unit.compact)
        full = max(full, bare - OPERATOR_PENALTY)
    if mention.distinct or unit.distinct:
        distinct, foreign = _ocr_similar(mention.compact_distinct, unit.compact_distinct)
        full = min(full, max(distinct, fuzz.ratio(mention.distinct, unit.distinct)))
        full -= SUBSTITUTION_PENALTY * foreign
    return full


# --- committees and senders -----------------------------------------------------------------------


COMMITTEE_NOISE_GLUED = re.compile(r"^(?:stadsdelsnamndeni|styrelsenfor|sdn)|stadsdelsnamnd(?:ens|en|s)?|"
                                   r"stadsdelsforvaltning(?:ens|en|s)?|aktiebolag|^ab|ab$")


def _committee_fold(name: str) -> str:
    """Folded, with OCR's "&" and "é" for ä read back ("Idrottsn&mnden", "Servicenémnden")."""
    return fold(AMPERSAND_IN_WORD.sub("a", name).replace("é", "a").replace("É", "A"))


def committee_compact(name: str) -> str:
    """The committee key with every space gone first: "Kulturnäm nden" -> "kulturnamnd"."""
    glued = COMMITTEE_NOISE_GLUED.sub("", _committee_fold(name).replace(" ", ""))
    glued = re.sub(r"namnd(?:ens|en|s)$", "namnd", glued)
    return glued[:-1] if len(glued) > 4 and glued.endswith("s") and not glued.endswith("ss") else glued


def committee_key(name: str) -> str:
    """ "Skärholmens stadsdelsnämnd", "SDN Skärholmen", "Stadsdelsnämnden i Skärholmen" -> "skarholmen"."""
    words = [w for w in _committee_fold(name).split()
             if w not in COMMITTEE_NOISE and not any(_same_word(w, noise) for noise in COMMITTEE_NOISE)]
    if words[:2] == ["stockholms", "stad"]:
        words = words[2:]
    words = [w[:-1] if len(w) > 4 and w.endswith("s") and not w.endswith("ss") else w for w in words]
    words = [w[:-2] if w.endswith("namnden") else w for w in words]  # "Socialnämnden" = "Socialnämnd"
    return " ".join(words)


def _address(sender: str) -> str:
    found = re.search(r"<([^<>]+)>", sender)
    return (found.group(1) if found else sender).strip().casefold()


# --- the index ------------------------------------------------------------------------------------------


class RegisterIndex:
    """Every unit's name and aliases as normalised keys, the committees and the contact addresses."""

    __slots__ = ("units", "groups", "keys", "owners", "boards", "board_keys", "unit_board", "admin_keys",
                 "email_boards", "domain_boards", "text_one", "text_many", "order_sensitive", "board_names",
                 "board_compacts", "vocabulary")

    def __init__(self, units: Sequence[Unit], aliases: Mapping[str, str]) -> None:
        self.units: tuple[Unit, ...] = tuple(units)
        by_id = {unit.unit_id: index for index, unit in enumerate(self.units)}
        spellings: list[list[str]] = [[unit.name] for unit in self.units]
        for spelling, unit_id in aliases.items():
            if unit_id in by_id and spelling.strip():
                spellings[by_id[unit_id]].append(spelling)
        # Units of the same name (and aliases) under several committees share one group: their
        # name is scored once per mention, the committee apart.
        grouped: dict[tuple[str, ...], list[int]] = {}
        for index, names in enumerate(spellings):
            grouped.setdefault(tuple(names), []).append(index)
        self.groups: list[tuple[tuple[tuple[Form, float], ...], tuple[int, ...]]] = []
        owners: dict[str, set[int]] = {}
        orders_of_key: dict[str, set[str]] = {}
        text_owners: dict[tuple[str, ...], set[int]] = {}
        for spelled, members in grouped.items():
            forms = tuple(pair for name in spelled for pair in name_forms(name))
            group = len(self.groups)
            self.groups.append((forms, tuple(members)))
            for form, _ in forms:
                orders_of_key.setdefault(form.key, set()).add(form.kind_at)
                for key in (form.key, form.bare):
                    if key:
                        owners.setdefault(key, set()).add(group)
            for name in spelled:
                words = tuple(_fold_word(w) for w in TOKEN.findall(_repair(name)))
                if words:
                    text_owners.setdefault(words, set()).update(members)
        self.vocabulary = frozenset(word for forms, _ in self.groups for form, _ in forms
                                    for word in form.plain.split() if len(word) >= 4)
        # Names as the text would write them: one word by the word, longer ones by their first two.
        self.text_one: dict[str, tuple[int, ...]] = {}
        self.text_many: dict[tuple[str, str], list[tuple[tuple[str, ...], tuple[int, ...]]]] = {}
        for words, found in text_owners.items():
            if len(words) == 1:
                self.text_one[words[0]] = tuple(sorted(found))
            else:
                self.text_many.setdefault((words[0], words[1]), []).append((words, tuple(sorted(found))))
        # Two names that differ only in word order ("Förskolan Solen", "Solens förskola") are two units
        # when the register holds both: then the written order decides.
        self.order_sensitive = frozenset(key for key, at in orders_of_key.items() if {"first", "last"} <= at)
        self.keys: list[str] = list(owners)
        self.owners: list[tuple[int, ...]] = [tuple(sorted(owners[key])) for key in self.keys]
        self.boards: list[str] = list(dict.fromkeys(unit.board for unit in self.units))
        board_index = {board: index for index, board in enumerate(self.boards)}
        self.board_keys: list[str] = [committee_key(board) for board in self.boards]
        self.board_compacts: list[str] = [committee_compact(board) for board in self.boards]
        self.board_names = frozenset(fold(name) for unit in self.units
                                     for name in (unit.board, unit.administration))
        self.unit_board: list[int] = [board_index[unit.board] for unit in self.units]
        admin: dict[str, set[int]] = {}
        emails: dict[str, set[int]] = {}
        domains: dict[str, set[int]] = {}
        for unit, board in zip(self.units, self.unit_board, strict=True):
            if unit.administration:
                admin.setdefault(committee_key(unit.administration), set()).add(board)
            for address in re.split(r"[;,\s]+", unit.contact_email or ""):
                address = _address(address)
                if "@" in address:
                    emails.setdefault(address, set()).add(board)
                    domains.setdefault(address.rsplit("@", 1)[1], set()).add(board)
        self.admin_keys: dict[str, frozenset[int]] = {k: frozenset(v) for k, v in admin.items() if k}
        self.email_boards: dict[str, frozenset[int]] = {k: frozenset(v) for k, v in emails.items()}
        self.domain_boards: dict[str, int] = {
            domain: next(iter(found)) for domain, found in domains.items()
            if len(found) == 1 and domain not in SHARED_DOMAINS}

    def __len__(self) -> int:
        return len(self.units)

    def committee_boards(self, committee: str) -> frozenset[int] | None:
        """Boards a committee's name stands for; empty when it is none of the register's; None: no name."""
        key, compact = committee_key(committee), committee_compact(committee)
        if not key:
            return None
        scored = [(max(fuzz.ratio(key, board_key), _ocr_similar(compact, board_compact)[0]), index)
                  for index, (board_key, board_compact) in enumerate(zip(self.board_keys, self.board_compacts,
                                                                         strict=True))]
        best = max((score for score, _ in scored), default=0.0)
        found = {index for score, index in scored if score >= COMMITTEE_MIN and score >= best - 3.0}
        for admin_key, boards in self.admin_keys.items():
            if fuzz.ratio(key, admin_key) >= max(COMMITTEE_MIN, best):
                found |= boards
        return frozenset(found)

    def sender_boards(self, sender: str) -> frozenset[int] | None:
        """The board of a unit's contact address, or of a domain only one board's units use."""
        address = _address(sender)
        if address in self.email_boards:
            return self.email_boards[address]
        domain = address.rsplit("@", 1)[1] if "@" in address else ""
        if domain in self.domain_boards:
            return frozenset({self.domain_boards[domain]})
        return None

    def is_committee_name(self, mention: str) -> bool:
        """ "AB Stockholmshem", "Socialnämnden": a committee, not a unit (a bare "Skärholmen" may be both)."""
        folded = fold(mention)
        if folded in self.board_names:
            return True
        key = committee_key(mention)
        return bool(key) and any(word in folded for word in COMMITTEE_WORDS) \
            and any(fuzz.ratio(key, board_key) >= 95 for board_key in self.board_keys)


def build_index(units: Sequence[Unit], aliases: Mapping[str, str] = {}) -> RegisterIndex:  # noqa: B006
    """aliases: a spelling a coordinator confirmed (as written) -> unit_id; it matches that unit like its
    own name. Aliases of unit_ids not in `units` are ignored (a unit may leave the register)."""
    return RegisterIndex(units, aliases)


# --- matching one document ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Mention:
    text: str  # as the document (or the join / extension) writes it
    order: int
    forms: list[tuple[Form, float]]
    scores: dict[int, float]  # unit index -> score with context
    position: int = 1 << 30  # token index in the text, for document order

    @property
    def best(self) -> float:
        return max(self.scores.values(), default=0.0)


class _Text:
    """The document's words, folded, with where each stands in the (line-break-joined) text."""

    def __init__(self, text: str) -> None:
        self.raw = HYPHEN_BREAK.sub("", text)
        self.spans: list[tuple[int, int]] = []
        words: list[str] = []
        for found in TOKEN.finditer(self.raw):
            words.append(_fold_word(found.group(0)))
            self.spans.append(found.span())
        self.words = words

    def find(self, words: Sequence[str], taken: set[int] = set()) -> int | None:  # noqa: B006 (not changed)
        """Where these words first stand in the text, outside the words already `taken`."""
        size = len(words)
        if not size:
            return None
        first, wanted = words[0], list(words)
        for index, word in enumerate(self.words):
            if word == first and self.words[index:index + size] == wanted \
                    and not any(i in taken for i in range(index, index + size)):
                return index
        return None

    def joined(self, start: int, end: int) -> bool:
        """Words start..end (exclusive) run on: only spaces, one line break, a comma or a hyphen between."""
        for index in range(start, end - 1):
            gap = self.raw[self.spans[index][1]:self.spans[index + 1][0]]
            if gap.count("\n") > 1 or gap.strip(" \t\n,-") != "":
                return False
        return True

    def dashed(self, start: int, end: int) -> bool:
        """Words start..end stand next to a dash: part of a name like "Trafikkontoret – Markförbättrande"."""
        before = self.raw[self.spans[start - 1][1]:self.spans[start][0]] if start > 0 else ""
        after = self.raw[self.spans[end - 1][1]:self.spans[end][0]] if end < len(self.spans) else ""
        return any(dash in gap for gap in (before, after) for dash in ("\u2013", "\u2014", " - "))

    def slice(self, start: int, end: int) -> str:
        return self.raw[self.spans[start][0]:self.spans[end - 1][1]]


def _mention_words(text: str) -> list[str]:
    return [_fold_word(w) for w in TOKEN.findall(_repair(text))]


def _score(index: RegisterIndex, forms: list[tuple[Form, float]], context: frozenset[int] | None,
           thresholds: Thresholds) -> dict[int, float]:
    """Unit index -> score: a rapidfuzz pass over the keys, then every form of each candidate compared."""
    candidates: set[int] = set()
    for form, _ in forms:
        for query in (form.key, form.bare):
            if query:
                for _, _, key_index in process.extract(query, index.keys, scorer=fuzz.ratio, limit=CANDIDATES,
                                                        score_cutoff=CANDIDATE_FLOOR):
                    candidates.update(index.owners[key_index])
    scores: dict[int, float] = {}
    for group in candidates:
        unit_forms, members = index.groups[group]
        name = 0.0
        for unit_form, unit_penalty in unit_forms:
            for form, penalty in forms:
                score = pair_score(form, unit_form) - penalty - unit_penalty
                if unit_form.key in index.order_sensitive and form.kind_at != unit_form.kind_at:
                    score -= MARGIN  # the register has this name in both word orders: only the written one
                if form.numbers != unit_form.numbers:
                    score = min(score, thresholds.grey)  # "enhet 2" is not "enhet 3": a coordinator looks
                name = max(name, score)
        for unit in members:
            best = name
            if context is not None and index.unit_board[unit] not in context:
                best -= CONTEXT_PENALTY
            if best >= CANDIDATE_FLOOR:
                scores[unit] = round(best, 2)
    return scores


def _context(index: RegisterIndex, named: frozenset[int] | None, sender: str | None) -> frozenset[int] | None:
    """Boards the document's committee (`named`) or the sender's address point to; None when neither tells."""
    found: set[int] = set(named or ())
    told = named is not None
    if sender and sender.strip():
        boards = index.sender_boards(sender)
        if boards is not None:
            found |= boards
            told = True
    return frozenset(found) if told else None


def match_document(index: RegisterIndex, mentions: Sequence[str], text: str, *, committee: str | None = None,
                   sender: str | None = None, filename: str = "") -> Matching:
    """mentions: Understanding.mentions (unit names the document gives as participants); text: the document's
    text, searched as a fallback for registered names written exactly (folded) that the mentions missed;
    committee: the committee the document names (Understanding.committee), sender: the mail's from-address."""
    return match_with(index, mentions, text, committee=committee, sender=sender, filename=filename)


def match_with(index: RegisterIndex, mentions: Sequence[str], text: str, *, committee: str | None = None,
               sender: str | None = None, filename: str = "", thresholds: Thresholds = DEFAULT) -> Matching:
    """`match_document` with other thresholds: the benchmark sweeps them."""
    named = index.committee_boards(committee) if committee and committee.strip() else None
    context = _context(index, named, sender)
    words = _Text(text)
    found = _read_mentions(index, mentions, context, thresholds)
    found = _join(index, found, context, thresholds)
    taken: set[int] = set()
    for mention in found:  # each where the text names it, a name written twice counted once
        mention.position = _locate(words, mention.text, taken)
        taken.update(range(mention.position, mention.position + len(_mention_words(mention.text))))
    _extend(index, found, words, context, thresholds)
    accepted, unsure, unknown, claimed = _assign(index, found, thresholds, filename)
    covered = _covered(words, found)
    for position, match in _fallback(index, words, covered, claimed, context, thresholds, filename):
        (accepted if match.score >= thresholds.sure else unsure).append(((position, len(found)), match))
    accepted.sort(key=lambda pair: pair[0])
    unsure.sort(key=lambda pair: pair[0])
    return Matching(tuple(m for _, m in accepted), tuple(m for _, m in unsure), tuple(unknown),
                    frozenset(index.boards[board] for board in named or ()))


def _read_mentions(index: RegisterIndex, mentions: Sequence[str], context: frozenset[int] | None,
                   thresholds: Thresholds) -> list[_Mention]:
    out: list[_Mention] = []
    seen: set[str] = set()
    for order, raw in enumerate(mentions):
        forms = name_forms(raw, ocr=True, vocabulary=index.vocabulary)
        keys = frozenset(form.key for form, _ in forms)
        if not forms or not any(form.distinct for form, _ in forms) or index.is_committee_name(raw):
            continue  # only a kind of unit ("Förskolan"), or the committee itself ("AB Stockholmshem")
        if keys & seen:
            continue  # the same name again
        seen |= keys
        out.append(_Mention(raw.strip(), order, forms, _score(index, forms, context, thresholds)))
    return out


def _join(index: RegisterIndex, found: list[_Mention], context: frozenset[int] | None,
          thresholds: Thresholds) -> list[_Mention]:
    """ "Kommunikation", "Service" -> "Kommunikation och Service" when the register has the joined name."""
    out: list[_Mention] = []
    position = 0
    while position < len(found):
        mention = found[position]
        following = found[position + 1] if position + 1 < len(found) else None
        if following is not None and max(mention.best, following.best) <= EXACT_SCORE - JOIN_GAIN:
            text = f"{mention.text} och {following.text}"
            forms = name_forms(text, ocr=True, vocabulary=index.vocabulary)
            scores = _score(index, forms, context, thresholds)
            best = max(scores.values(), default=0.0)
            if best >= thresholds.sure and best >= max(mention.best, following.best) + JOIN_GAIN:
                out.append(_Mention(text, mention.order, forms, scores))
                position += 2
                continue
        out.append(mention)
        position += 1
    return out


def _locate(words: _Text, mention: str, taken: set[int] = set()) -> int:  # noqa: B006 (not changed)
    found = words.find(_mention_words(mention), taken)
    return (1 << 30) if found is None else found


def _extend(index: RegisterIndex, found: list[_Mention], words: _Text, context: frozenset[int] | None,
            thresholds: Thresholds) -> None:
    """A mention cut short ("Fritidsgården Ungdomens" for "… Ungdomens hus"): try the words next to it."""
    taken = _covered(words, found)
    for mention in found:
        if mention.best >= thresholds.sure or mention.position >= len(words.words):
            continue
        size = len(_mention_words(mention.text))
        start, end = mention.position, mention.position + size
        best = (mention.best, mention.text, mention.forms, mention.scores, start)
        for before, after in ((0, 1), (0, 2), (1, 0), (2, 0), (1, 1)):
            low, high = start - before, end + after
            outside = [*range(low, start), *range(end, high)]
            if low < 0 or high > len(words.words) or any(i in taken for i in outside) \
                    or not words.joined(low, high):
                continue
            text = words.slice(low, high)
            forms = name_forms(text, ocr=True, vocabulary=index.vocabulary)
            scores = _score(index, forms, context, thresholds)
            score = max(scores.values(), default=0.0)
            if score >= thresholds.sure and score >= best[0] + EXTEND_GAIN:
                best = (score, text, forms, scores, low)
        _, mention.text, mention.forms, mention.scores, mention.position = best


Placed = tuple[tuple[int, int], UnitMatch]  # ((word number in the text, mention number), match)


def _assign(index: RegisterIndex, found: list[_Mention], thresholds: Thresholds, filename: str
            ) -> tuple[list[Placed], list[Placed], list[str], set[int]]:
    """Greedy one-to-one by score; a near tie for the best unit makes the mention unsure."""
    pairs = sorted(((score, order, unit) for order, mention in enumerate(found)
                    for unit, score in mention.scores.items() if score >= thresholds.grey),
                   key=lambda pair: (-pair[0], pair[1], index.units[pair[2]].unit_id))
    claimed: dict[int, float] = {}  # unit -> score of the mention that has it
    done: set[int] = set()
    accepted: list[Placed] = []
    unsure: list[Placed] = []
    for score, order, unit in pairs:
        if order in done:
            continue
        mention = found[order]
        if unit in claimed:
            if score >= thresholds.sure and score == mention.best:
                done.add(order)  # the same unit named twice ("Enheten for …" and "Enheten för …")
            continue
        match = UnitMatch(index.units[unit].unit_id, mention.text, score, filename)
        done.add(order)
        claimed[unit] = score
        rivals = [s for u, s in mention.scores.items() if u != unit and u not in claimed]
        lead = score - max(rivals, default=0.0)
        sure = score >= thresholds.sure and lead >= thresholds.margin and lead > 0.0  # a tie is never sure
        (accepted if sure else unsure).append(((mention.position, order), match))
    unknown = [mention.text for order, mention in enumerate(found) if order not in done]
    return accepted, unsure, unknown, set(claimed)


def _covered(words: _Text, found: list[_Mention]) -> set[int]:
    covered: set[int] = set()
    for mention in found:
        if mention.position < len(words.words):
            covered.update(range(mention.position, mention.position + len(_mention_words(mention.text))))
    return covered


def _fallback(index: RegisterIndex, words: _Text, covered: set[int], claimed: set[int],
              context: frozenset[int] | None, thresholds: Thresholds, filename: str
              ) -> list[tuple[int, UnitMatch]]:
    """Registered names written exactly (folded) in the text that no mention gave: capitalised, as a name."""
    hits: list[tuple[int, int, tuple[int, ...]]] = []
    text = words.words
    for position, word in enumerate(text):
        if word in index.text_one:
            hits.append((position, 1, index.text_one[word]))
        if position + 1 < len(text):
            for name, owners in index.text_many.get((word, text[position + 1]), ()):
                if tuple(text[position:position + len(name)]) == name:
                    hits.append((position, len(name), owners))
    hits.sort(key=lambda hit: (-hit[1], hit[0]))
    taken = set(covered)
    out: list[tuple[int, UnitMatch]] = []
    for position, size, owners in hits:
        span = range(position, position + size)
        if any(i in taken for i in span):
            continue
        taken.update(span)
        written = words.slice(position, position + size)
        if not written[:1].isupper():
            continue  # "beretts av parkenheten": a common noun, not the unit's name
        units = [u for u in owners if u not in claimed]
        if context is not None:
            units = [u for u in units if index.unit_board[u] in context]
        if not units:
            continue  # a unit of another committee named in passing, or one a mention already has
        score = EXACT_SCORE - (FALLBACK_NO_CONTEXT if context is None else 0.0)
        if len(units) > 1 or words.dashed(position, position + size):
            # the same name twice in the register, or part of a longer "Förvaltning – projekt" name
            score = min(score, thresholds.sure - 0.01)
        if score < thresholds.grey:
            continue
        unit = min(units, key=lambda u: index.units[u].unit_id)
        claimed.add(unit)
        out.append((position, UnitMatch(index.units[unit].unit_id, written, score, filename)))
    return out


# --- the first matcher, exact only ----------------------------------------------------------------------


@lru_cache(maxsize=NAME_CACHE)
def folded_name(name: str) -> str:
    return fold(name)


def match_units(text: str, units: Sequence[Unit], filename: str = "") -> list[UnitMatch]:
    """Registered names found, folded, as whole words in the folded text; longer names claim words first."""
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
