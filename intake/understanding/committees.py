"""Stockholm's deciding bodies as data, and finding which of them a document comes from.

A committee is written in many forms: "Spånga-Tensta stadsdelsnämnd",
"Stadsdelsnämnden i Spånga-Tensta", "Spånga-Tensta stadsdelsnämnds sammanträde",
"SDN Spånga-Tensta", the administration's letterhead "Spånga-Tensta
stadsdelsförvaltning"; "SOCIALNÄMNDEN", "socialnämndens sammanträde"; a company
board as "AB Familjebostäder" or "Styrelsen för AB Familjebostäder". Every form
is read back to one display name (the register's "Nämnd"), so the guide's tables
(§2.1–2.3) are the data here. A form counts by where it stands: the letterhead,
"Till <nämnd>", "fört vid <nämnd>s sammanträde" and "<Nämnden> beslutar" name
the committee; a name in the running text usually names another body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.understanding.normalise import NormText, sw


@dataclass(frozen=True, slots=True)
class District:
    """A stadsdelsområde: its name as written after "i"/"SDN", and the committee's display name."""

    area: str
    display: str
    years: str  # when the committee existed, for readers of this table


@dataclass(frozen=True, slots=True)
class Body:
    """A facknämnd or a company board: the stems of its own name and of its administration's."""

    display: str
    names: tuple[str, ...]  # regex stems over folded text (write å/ä/ö plainly; see sw())
    administrations: tuple[str, ...] = ()
    company: bool = False


DISTRICTS: tuple[District, ...] = (
    # The 14 of 2007 to 30 June 2020 (guide §2.1).
    District("Bromma", "Bromma stadsdelsnämnd", "–"),
    District("Enskede-Årsta-Vantör", "Enskede-Årsta-Vantörs stadsdelsnämnd", "2007–"),
    District("Farsta", "Farsta stadsdelsnämnd", "–"),
    District("Hägersten-Liljeholmen", "Hägersten-Liljeholmens stadsdelsnämnd", "2007–2020"),
    District("Hässelby-Vällingby", "Hässelby-Vällingby stadsdelsnämnd", "–"),
    District("Kungsholmen", "Kungsholmens stadsdelsnämnd", "–"),
    District("Norrmalm", "Norrmalms stadsdelsnämnd", "–2023"),
    District("Rinkeby-Kista", "Rinkeby-Kista stadsdelsnämnd", "2007–2023"),
    District("Skarpnäck", "Skarpnäcks stadsdelsnämnd", "–"),
    District("Skärholmen", "Skärholmens stadsdelsnämnd", "–"),
    District("Spånga-Tensta", "Spånga-Tensta stadsdelsnämnd", "–2023"),
    District("Södermalm", "Södermalms stadsdelsnämnd", "2007–"),
    District("Älvsjö", "Älvsjö stadsdelsnämnd", "–2020"),
    District("Östermalm", "Östermalms stadsdelsnämnd", "–2023"),
    # Mergers of 2020 and 2023.
    District("Hägersten-Älvsjö", "Hägersten-Älvsjö stadsdelsnämnd", "2020–"),
    District("Järva", "Järva stadsdelsnämnd", "2023–"),
    District("Norra innerstaden", "Norra innerstadens stadsdelsnämnd", "2023–"),
    # Before 2007: old documents and re-sent extracts still name them.
    District("Enskede-Årsta", "Enskede-Årsta stadsdelsnämnd", "–2006"),
    District("Vantör", "Vantörs stadsdelsnämnd", "–2006"),
    District("Hägersten", "Hägerstens stadsdelsnämnd", "–2006"),
    District("Liljeholmen", "Liljeholmens stadsdelsnämnd", "–2006"),
    District("Kista", "Kista stadsdelsnämnd", "–2006"),
    District("Rinkeby", "Rinkeby stadsdelsnämnd", "–2006"),
    District("Maria-Gamla stan", "Maria-Gamla stans stadsdelsnämnd", "–2006"),
    District("Katarina-Sofia", "Katarina-Sofia stadsdelsnämnd", "–2006"),
)

BODIES: tuple[Body, ...] = (
    # Facknämnder and their administrations (guide §2.2).
    Body("Kommunstyrelsen", ("kommunstyrelse",), ("stadsledningskontor",)),
    Body("Arbetsmarknadsnämnden", ("arbetsmarknadsnämnd",), ("arbetsmarknadsförvaltning",)),
    Body("Exploateringsnämnden", ("exploateringsnämnd",), ("exploateringskontor",)),
    Body("Fastighetsnämnden", ("fastighetsnämnd",), ("fastighetskontor",)),
    Body("Förskolenämnden", ("förskolenämnd",), ("förskoleförvaltning",)),
    Body("Idrottsnämnden", ("idrottsnämnd",), ("idrottsförvaltning",)),
    Body("Kulturnämnden", ("kulturnämnd",), ("kulturförvaltning",)),
    Body("Kyrkogårdsnämnden", ("kyrkogårdsnämnd",), ("kyrkogårdsförvaltning",)),
    Body("Miljö- och hälsoskyddsnämnden", (r"miljö-?\s*och\s+hälsoskyddsnämnd",), ("miljöförvaltning",)),
    Body("Servicenämnden", ("servicenämnd",), ("serviceförvaltning",)),
    Body("Socialtjänst- och arbetsmarknadsnämnden", (r"socialtjänst-?\s*och\s+arbetsmarknadsnämnd",),
         (r"socialtjänst-?\s*och\s+arbetsmarknadsförvaltning",)),
    Body("Socialnämnden", ("socialnämnd",), ("socialförvaltning",)),
    Body("Stadsbyggnadsnämnden", ("stadsbyggnadsnämnd",), ("stadsbyggnadskontor",)),
    Body("Trafiknämnden", ("trafiknämnd",), ("trafikkontor",)),
    Body("Utbildningsnämnden", ("utbildningsnämnd",), ("utbildningsförvaltning",)),
    Body("Äldrenämnden", ("äldrenämnd",), ("äldreförvaltning",)),
    Body("Överförmyndarnämnden", ("överförmyndarnämnd",), ("överförmyndarförvaltning",)),
    Body("Revisorskollegiet", ("revisorskollegi",), ("revisionskontor",)),
    Body("Valnämnden", ("valnämnd",)),
    # City companies (guide §2.3): the board decides; the display name is the company's.
    Body("AB Svenska Bostäder", (r"(?:ab\s+)?svenska\s+bostäder",), company=True),
    Body("AB Familjebostäder", (r"(?:ab\s+)?familjebostäder",), company=True),
    Body("AB Stockholmshem", (r"(?:ab\s+)?stockholmshem",), company=True),
    Body("Bostadsförmedlingen i Stockholm AB", (r"bostadsförmedlingen(?:\s+i\s+stockholm)?",), company=True),
    Body("Skolfastigheter i Stockholm AB", (r"skolfastigheter\s+i\s+stockholm", "sisab"), company=True),
    Body("Micasa Fastigheter i Stockholm AB", (r"micasa(?:\s+fastigheter)?",), company=True),
    Body("Stockholm Vatten och Avfall AB", (r"stockholm\s+vatten(?:\s+och\s+avfall)?",), company=True),
    Body("Stockholm Avfall AB", (r"stockholm\s+avfall",), company=True),
    Body("Stockholms Hamn AB", (r"stockholms\s+hamn(?:ar)?",), company=True),
    Body("Stokab AB", ("stokab",), company=True),
    Body("Stockholm Parkering AB", (r"stockholm\s+parkering",), company=True),
    Body("AB Stockholms Stadsteater", (r"(?:ab\s+)?stockholms\s+stadsteater",), company=True),
    Body("SGA Fastigheter AB", (r"sga\s+fastigheter", r"stockholm\s+globe\s+arena\s+fastigheter"),
         company=True),
    Body("S:t Erik Markutveckling AB", (r"s:?t\s+erik\s+markutveckling",), company=True),
    Body("S:t Erik Kommunikation AB", (r"s:?t\s+erik\s+kommunikation",), company=True),
    Body("S:t Erik Försäkring AB", (r"s:?t\s+erik\s+försäkring",), company=True),
    Body("S:t Erik Livförsäkring AB", (r"s:?t\s+erik\s+livförsäkring",), company=True),
    Body("Stockholm Business Region AB", (r"stockholm\s+business\s+region",), company=True),
    Body("AB Stockholms Stadshus", (r"(?:ab\s+)?stockholms\s+stadshus(?:\s+ab)?",), company=True),
    Body("Stockholm Exergi AB", (r"stockholm\s+exergi",), company=True),
)

# How much a reading of the committee counts, by the form it has and where it stands.
COMMITTEE_FORM = 2  # the nämnd or board itself
ADMINISTRATION_FORM = 1  # only its förvaltning: "Bromma stadsdelsförvaltning"
AT_TOP = 4  # letterhead: the first lines of page 1
ADDRESSED = 3  # "Till <nämnd>" of a tjänsteutlåtande
MEETING = 3  # "fört vid <nämnd>s sammanträde", "sammanträde med <nämnd>"
DECIDING = 2  # "<Nämnden> beslutar/godkänner ..."
SIGNED = 2  # under a director's title in a signature
MIN_SCORE = 3  # below this a name in the running text names some other body
GENERIC_SCORE = 1  # an unknown "...nämnden" in the letterhead loses to any known form

NAME_END = r"(?![\w-])"
NAME_START = r"(?<![\w-])"
DECISION_VERB = r"\s+(?:beslut\w*|godkänn\w*|noter\w*|nominer\w*|tar\s+informationen|lägger)"
GENERIC_HEADER_BODY = re.compile(  # "Kulturnämnden", "Barn- och ungdomsnämnden", "BYGGNADSNÄMNDEN"
    r"(?<![\w-])([A-ZÅÄÖ]\w*(?:-\s*och\s+\w*?)?(?:nämnden|nämnd|styrelsen|styrelse))\b",
    re.MULTILINE | re.IGNORECASE,
)
GENERIC_NAMES = frozenset({"stadsdelsnämnden", "stadsdelsnamnden", "nämnden", "namnden", "styrelsen"})


@dataclass(frozen=True, slots=True)
class CommitteeReading:
    display: str
    start: int  # display offsets of the form read
    end: int
    score: int


def _area(area: str) -> str:
    """An area name as a pattern: hyphens and spaces interchangeable, an optional genitive -s."""
    parts = [re.escape(part).replace(r"\ ", r"\s+") for part in re.split(r"-", area.casefold())]
    return r"[\s-]*".join(parts) + "s?"


PROBE_MIN = 4


@dataclass(frozen=True, slots=True)
class Form:
    """The forms of one committee's name as a pattern, and a plain fragment every form contains."""

    display: str
    pattern: re.Pattern[str]
    score: int
    probe: str  # letters OCR leaves alone (no å/ä/ö): a fast test before the pattern runs


def _probe(written: str) -> str:
    """The first run of plain letters, of PROBE_MIN or more, in a name or stem ("socialf", "tensta"):
    the front of a name tells more than its common ending ("...förvaltning")."""
    runs = re.findall(r"[a-z]+", re.sub(r"\\[a-zA-Z]", " ", written.casefold()))
    return next((run for run in runs if len(run) >= PROBE_MIN), max(runs, key=len, default=""))


def _compile_forms() -> tuple[Form, ...]:
    forms: list[Form] = []
    for district in DISTRICTS:
        area = _area(district.area)
        probe = _probe(district.area)
        committee_forms = (
            rf"{NAME_START}{area}\s+stadsdelsnämnd\w*",
            rf"{NAME_START}stadsdelsnämnden\s+i\s+{area}{NAME_END}",
            rf"{NAME_START}sdn\s+{area}{NAME_END}",
            rf"{NAME_START}{area}\s+sdn{NAME_END}",
        )
        administration_forms = (
            rf"{NAME_START}{area}\s+stadsdelsförvaltning\w*",
            rf"{NAME_START}stadsdelsförvaltningen\s+i\s+{area}{NAME_END}",
            rf"{NAME_START}sdf\s+{area}{NAME_END}",
        )
        forms.append(Form(district.display, sw("|".join(committee_forms)), COMMITTEE_FORM, probe))
        forms.append(Form(district.display, sw("|".join(administration_forms)), ADMINISTRATION_FORM, probe))
    for body in BODIES:
        for stem in body.names:
            name = sw(rf"{NAME_START}(?:styrelsen\s+för\s+)?{stem}\w*")
            forms.append(Form(body.display, name, COMMITTEE_FORM, _probe(stem)))
        for stem in body.administrations:
            forms.append(Form(body.display, sw(rf"{NAME_START}{stem}\w*"), ADMINISTRATION_FORM, _probe(stem)))
    return tuple(forms)


FORMS = _compile_forms()
ADDRESSED_BEFORE = sw(r"^\s*till\s*$")  # "Till" opening its own line: the address block
MEETING_BEFORE = sw(r"(?:fört\s+vid|sammanträde\s+med|protokoll\s+för)\s*$")
MEETING_AFTER = sw(r"^:?s?\s+(?:\w+)?sammanträde")
DECIDING_AFTER = sw(r"^" + DECISION_VERB)
SIGNED_BEFORE = sw(r"(?:direktör|chef)\s*$")


def read_committee(norm: NormText) -> CommitteeReading | None:
    """The committee (or board) the document comes from, by its best-placed name."""
    best: CommitteeReading | None = None
    folded = norm.folded
    for form in FORMS:
        if form.probe not in folded:
            continue
        for found in form.pattern.finditer(folded):
            start, end = found.span()
            score = form.score + _placement(norm, start, end)
            if score < MIN_SCORE:
                continue
            if best is None or score > best.score or (score == best.score and start < best.start):
                best = CommitteeReading(form.display, start, end, score)
    return best or _generic_header_body(norm)


def _placement(norm: NormText, start: int, end: int) -> int:
    folded = norm.folded
    before = folded[max(0, start - 40):start]
    after = folded[end:end + 40]
    score = AT_TOP if norm.in_top(start) else 0
    if ADDRESSED_BEFORE.search(before):
        score += ADDRESSED
    if MEETING_BEFORE.search(before) or MEETING_AFTER.search(after):
        score += MEETING
    if DECIDING_AFTER.search(after):
        score += DECIDING
    if SIGNED_BEFORE.search(before):
        score += SIGNED
    return score


def _generic_header_body(norm: NormText) -> CommitteeReading | None:
    """A body missing from the tables ("Barn- och ungdomsnämnden") as the letterhead writes it."""
    for found in GENERIC_HEADER_BODY.finditer(norm.display, 0, norm.top_end):
        name = found.group(1)
        if not name[0].isupper() or name.casefold() in GENERIC_NAMES:
            continue
        display = name[0].upper() + name[1:].lower() if name.isupper() else name
        return CommitteeReading(display, found.start(1), found.end(1), GENERIC_SCORE)
    return None
