"""Word lists that tell a unit's name from the words around it, all folded (lower case, no diacritics).

Swedish writes common nouns in lower case, so a capitalised word inside a
sentence is a name: of a unit, but also of a person, a committee, an
administration, the city or the award. These lists say which is which. They are
data: extend them when a real document shows a new form (guide §4).
"""

from __future__ import annotations

from intake import vocabulary

# A word ending like this names a unit by itself ("Förstärkningsteamet", "Korttidshemmet",
# "Socialjouren", "Kundcenter", "Förvaltningsområde"). Only such a word may open a name
# at the start of a sentence, where every word is capitalised.
UNIT_SUFFIXES = vocabulary.UNIT_SUFFIXES
# Lower-case words that continue a name: "Hemtjänsten Årsta enhet 2",
# "Attendo Bandhagens vård- och omsorgsboende", "Skarpnäcks dagliga verksamhet".
UNIT_TYPE_WORDS = frozenset({
    "enhet", "forskola", "forskolor", "forskolan", "skola", "hemtjanst", "hemtjansten", "gruppbostad",
    "gruppbostader", "dagverksamhet", "daglig", "dagliga", "verksamhet", "korttidshem", "servicehus",
    "aldreboende", "omsorgsboende", "vard", "boende", "team", "grupp", "fsk", "vob", "dv", "kh", "htj",
    "enheten", "avdelningen", "teamet", "gruppen", "boendet", "omsorgsboendet", "verksamheten",
})
# Lower-case unit nouns that open a name when a name or "för" follows: "förskolan Sylvester",
# "enheten för ekonomiskt bistånd".
LOWER_UNIT_HEADS = frozenset({
    "forskolan", "enheten", "hemtjansten", "korttidshemmet", "skolan", "gruppbostaden",
    "dagverksamheten", "mottagningen", "vard- och omsorgsboendet",
})
# A name of one word that is only the kind of unit: never a unit's name on its own.
GENERIC = frozenset({
    "enheten", "enhet", "enheter", "enheterna", "verksamheten", "verksamhet", "verksamheterna",
    "forskolan", "skolan", "teamet", "gruppen", "hemmet", "boendet", "avdelningen", "sektionen",
    "mottagningen", "kontoret", "center", "centrum", "hemtjansten",
})
# "Resursenheten, KBT-teamet": a unit followed by one of its teams after a comma is one name,
# not two. The container ends like the first list, the team like the second.
CONTAINER_SUFFIXES = ("enheten", "enhet", "avdelningen", "sektionen", "verksamheten", "mottagningen")
TEAM_SUFFIXES = ("teamet", "team", "gruppen", "grupp")

# Lower-case ends of place names: "Vårby gård", "Hässelby gårds", "Hammarby sjöstad".
PLACE_TAILS = frozenset({
    "gard", "gards", "sjostad", "sjostads", "strand", "strands", "torg", "torgs", "backe", "backes",
    "hojd", "hojden", "park", "parks", "udde", "holme", "holmes", "centrum", "by", "bys",
})
# Words inside "Enheten för ..." that end the name: what comes after them is the sentence.
STOP_WORDS = frozenset({
    "till", "i", "att", "som", "med", "har", "hade", "ar", "var", "ska", "skall", "kan", "inom", "pa",
    "av", "fran", "under", "vid", "enligt", "infor", "genom", "efter", "for", "om", "den", "det",
    "deltar", "deltagande", "deltog", "medverkar", "medverkan", "tavlar", "nomineras", "anmals",
    "anmaler", "lamnat", "lamnar", "vann", "far", "fick", "blir", "tavlingsbidrag", "samt", "och",
})
FOR_WORD = "for"
MAX_FOR_WORDS = 5  # "för unga brottsutsatta", "för arbete och försörjning": short

# Capitalised words that are never a unit's name nor part of one.
EXCLUDED_WORDS = frozenset({
    "stockholms", "stad", "stads", "staden", "stadshuset", "kommun", "kommunen", "sverige",
    "januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
    "november", "december", "mandag", "tisdag", "onsdag", "torsdag", "fredag", "mandagen", "tisdagen",
    "onsdagen", "torsdagen", "fredagen",
    "ordforande", "ordforanden", "sekreterare", "handlaggare", "verkstallande", "vice", "ledamot",
    "ledamoten", "ledamoterna", "ersattare", "suppleant", "suppleanterna", "personalrepresentanten",
    "till", "den", "de", "det", "dnr", "bilaga", "beslut", "arendet", "samtliga", "alla", "tva", "tre",
    "fyra", "fem", "dessa", "nomineringar", "nominering", "anmalan", "deltagande", "tavlingsklass",
    "program", "kvalitetsprogram", "bla", "hallen", "diarienummer", "diarienr", "protokoll", "paragraf",
    "sida", "sid", "telefon", "org", "meddelande", "tavlingsbidrag", "tavlingsbidraget",
})
# Capitalised words ending like this name a committee, an administration, a council or a
# title: "Socialförvaltningens verksamheter Förstärkningsteamet ...".
EXCLUDED_SUFFIXES = (
    "namnd", "namnden", "namnds", "namndens", "namnder", "namnderna",
    "forvaltningen", "forvaltningens", "forvaltningar", "forvaltningarna", "kontorets",
    "styrelse", "styrelsen", "styrelsens", "fullmaktige", "fullmaktiges", "direktor", "direktoren",
    "direktorn", "chef", "chefen",
)
# The facknämnder's offices (guide §2.2): "Medborgarkontoret" is a unit, "Trafikkontoret" is not.
ADMINISTRATION_OFFICES = (
    "ledningskontoret", "trafikkontoret", "exploateringskontoret", "fastighetskontoret",
    "stadsbyggnadskontoret", "revisionskontoret",
)
# An administration in the genitive may open the name of one of its units.
ADMINISTRATION_GENITIVES = ("forvaltningens", "kontorets")
# Words before a name that make it a person's: "Ordföranden Eva Nilsson", "ledamoten Per Ek".
PERSON_TITLES = frozenset({
    "ordforanden", "ordforande", "ledamoten", "ledamoterna", "ledamot", "ersattaren", "ersattare",
    "suppleanten", "suppleanterna", "sekreteraren", "sekreterare", "direktoren", "direktor",
    "personalrepresentanten", "handlaggare", "handlaggaren", "justerare", "justerande", "chefen",
    "forvaltningschefen", "stadsdelsdirektoren", "avdelningschefen", "enhetschefen", "rektor", "rektorn",
})
AWARD_STEM = "kvalitetsutm"  # "Kvalitetsutmärkelsen", "kvalitetsutmarkelsen@stockholm.se"

# The five classes and their short forms (guide §3): a list item or a name that is only a
# class is the class, not a unit.
CLASS_NAMES = frozenset({
    "forskola", "skola", "aldreomsorg", "aldre", "socialtjanst", "andra verksamheter", "andra",
    "ovriga verksamheter", "ovrig verksamhet", "ovriga", "soc lss", "lss", "socialtjanst lss",
    "aldreomsorg inklusive myndighetsutovning", "aldreomsorg inkl myndighetsutovning",
    "forskoleverksamhet", "skolverksamhet", "grundskola", "gymnasieskola",
})
CLASS_WORDS = frozenset({"klass", "klassen", "klasserna", "tavlingsklass", "tavlingsklassen"})
# What a unit is followed by when it is the subject of its own participation in the genitive:
# "Enheten för arbete och försörjnings deltagande".
GENITIVE_FOLLOWERS = frozenset({"deltagande", "medverkan", "tavlingsbidrag", "anmalan", "nominering"})
# Run by a company, not a unit: the company "som deltar med" its units.
OPERATOR_INTRODUCERS = ("som deltar med", "som medverkar med", "som tavlar med")
# A name followed by a party in brackets is a politician's: "Karin Ek (S)", "Jan Jönsson (fp)".
PARTY_CODES = frozenset({"s", "m", "v", "mp", "l", "fp", "c", "kd", "sd", "fi"})
# A qualifier in brackets that says how the unit is run, not what it is called.
OPERATING_FORMS = ("entreprenad", "intraprenad", "privat", "kommunal", "enskild", "extern")


def is_unit_word(folded: str) -> bool:
    return folded.endswith(UNIT_SUFFIXES)


def is_committee_word(folded: str) -> bool:
    """A word that names a committee, an administration or a board: the name is not a unit's."""
    if folded.endswith(ADMINISTRATION_OFFICES):
        return True
    return folded.endswith(EXCLUDED_SUFFIXES + ("forvaltning",)) and not folded.endswith(UNIT_SUFFIXES)


def is_excluded(folded: str) -> bool:
    return (folded in EXCLUDED_WORDS or folded.endswith(EXCLUDED_SUFFIXES + ADMINISTRATION_OFFICES)
            or folded.startswith(AWARD_STEM))
