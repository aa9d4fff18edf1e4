"""Name pools for the corpus: Stockholm committees, their places, unit names, people and classes.

Committees and places follow the domain guide §2 (the 14 stadsdelsnämnder of
2007–2020, the facknämnder, the city companies). Unit names follow the patterns of
§4: "Förskolan X" / "X förskola", "<place> vård- och omsorgsboende", "Enheten för …",
private operators, schools and administrative units.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

PRESCHOOL = "Förskola"
SCHOOL = "Skola"
ELDERLY = "Äldreomsorg"
SOCIAL = "Socialtjänst"
OTHER = "Andra verksamheter"


@dataclass(frozen=True, slots=True)
class Committee:
    name: str  # canonical, as registered: "Skärholmens stadsdelsnämnd"
    kind: str  # "sdn", "fack" or "bolag"
    area: str  # "Skärholmen"; the nämnd's short name for facknämnder; the short company name
    office: str  # the förvaltning / kontor, or the company itself
    places: tuple[str, ...]
    abbreviation: str  # Dnr prefix in eDok style: "SDN", "SN", "UN", "FB"
    first_year: int = 2009
    last_year: int = 2019


def _sdn(area: str, genitive: bool, places: str) -> Committee:
    owner = f"{area}s" if genitive else area
    return Committee(f"{owner} stadsdelsnämnd", "sdn", area, f"{owner} stadsdelsförvaltning",
                     tuple(places.split(", ")), "SDN")


SDNS = (
    _sdn("Bromma", False, "Abrahamsberg, Alvik, Traneberg, Ulvsunda, Äppelviken, Ålsten, Nockeby, Olovslund, "
         "Smedslätten, Blackeberg, Riksby, Åkeshov, Beckomberga"),
    _sdn("Enskede-Årsta-Vantör", True, "Enskede, Årsta, Hagsätra, Rågsved, Högdalen, Bandhagen, Stureby, "
         "Svedmyra, Örby, Johanneshov, Östberga, Enskededalen"),
    _sdn("Farsta", False, "Farsta, Hökarängen, Gubbängen, Larsboda, Fagersjö, Sköndal, Tallkrogen, Farsta strand"),
    _sdn("Hägersten-Liljeholmen", True, "Hägersten, Liljeholmen, Fruängen, Västertorp, Mälarhöjden, "
         "Midsommarkransen, Aspudden, Gröndal, Axelsberg, Västberga"),
    _sdn("Hässelby-Vällingby", False, "Hässelby, Vällingby, Råcksta, Grimsta, Kälvesta, Vinsta, Nälsta, "
         "Hässelby strand, Hässelby gård"),
    _sdn("Kungsholmen", True, "Kungsholmen, Marieberg, Fredhäll, Stadshagen, Kristineberg, Hornsberg, "
         "Stora Essingen, Lilla Essingen"),
    _sdn("Norrmalm", True, "Vasastan, Sibirien, Birkastan, Rödabergen, Norrmalm, Hagastaden, Sankt Eriksplan"),
    _sdn("Rinkeby-Kista", False, "Rinkeby, Kista, Husby, Akalla, Rinkebyskogen"),
    _sdn("Skarpnäck", True, "Skarpnäck, Bagarmossen, Björkhagen, Kärrtorp, Hammarbyhöjden, Flaten"),
    _sdn("Skärholmen", True, "Skärholmen, Sätra, Bredäng, Vårberg, Vårby gård"),
    _sdn("Spånga-Tensta", False, "Spånga, Tensta, Hjulsta, Bromsten, Flysta, Solhem, Lunda, Sundby"),
    _sdn("Södermalm", True, "Hornstull, Gamla stan, Katarina, Sofia, Högalid, Reimersholme, Långholmen, "
         "Hammarby sjöstad"),
    _sdn("Älvsjö", False, "Älvsjö, Solberga, Herrängen, Långbro, Liseberg, Långsjö, Örby slott"),
    _sdn("Östermalm", True, "Östermalm, Gärdet, Hjorthagen, Lärkstaden, Djurgården, Ropsten, Storängsbotten"),
)

CITY = ("Stockholm", "Kungsholmen", "Södermalm", "Vasastan", "Östermalm", "Skarpnäck", "Bromma",
        "Kista", "Farsta", "Liljeholmen", "Vällingby", "Skärholmen")

FACK = (
    Committee("Socialnämnden", "fack", "Socialnämnden", "Socialförvaltningen", CITY, "SN", 2012, 2023),
    Committee("Utbildningsnämnden", "fack", "Utbildningsnämnden", "Utbildningsförvaltningen", CITY, "UN",
              2009, 2023),
    Committee("Äldrenämnden", "fack", "Äldrenämnden", "Äldreförvaltningen", CITY, "ÄN", 2009, 2023),
    Committee("Kulturnämnden", "fack", "Kulturnämnden", "Kulturförvaltningen", CITY, "KN", 2009, 2023),
    Committee("Idrottsnämnden", "fack", "Idrottsnämnden", "Idrottsförvaltningen", CITY, "IDN", 2009, 2023),
    Committee("Arbetsmarknadsnämnden", "fack", "Arbetsmarknadsnämnden", "Arbetsmarknadsförvaltningen", CITY,
              "AMN", 2012, 2023),
    Committee("Trafiknämnden", "fack", "Trafiknämnden", "Trafikkontoret", CITY, "TN", 2009, 2023),
    Committee("Miljö- och hälsoskyddsnämnden", "fack", "Miljö- och hälsoskyddsnämnden", "Miljöförvaltningen",
              CITY, "MHN", 2009, 2023),
    Committee("Servicenämnden", "fack", "Servicenämnden", "Serviceförvaltningen", CITY, "SEN", 2009, 2023),
    Committee("Kommunstyrelsen", "fack", "Kommunstyrelsen", "Stadsledningskontoret", CITY, "KS", 2009, 2023),
)

BOLAG = (
    Committee("AB Familjebostäder", "bolag", "Familjebostäder", "AB Familjebostäder", CITY, "FB", 2009, 2023),
    Committee("AB Svenska Bostäder", "bolag", "Svenska Bostäder", "AB Svenska Bostäder", CITY, "SB", 2009, 2023),
    Committee("AB Stockholmshem", "bolag", "Stockholmshem", "AB Stockholmshem", CITY, "SH", 2009, 2023),
    Committee("Micasa Fastigheter i Stockholm AB", "bolag", "Micasa", "Micasa Fastigheter i Stockholm AB",
              CITY, "MF", 2009, 2023),
    Committee("Stockholm Vatten och Avfall AB", "bolag", "Stockholm Vatten och Avfall",
              "Stockholm Vatten och Avfall AB", CITY, "SVOA", 2017, 2023),
    Committee("Stokab AB", "bolag", "Stokab", "Stokab AB", CITY, "STO", 2009, 2023),
    Committee("Stockholms Hamn AB", "bolag", "Stockholms Hamnar", "Stockholms Hamn AB", CITY, "SHAB", 2009, 2023),
)

ALL_COMMITTEES = SDNS + FACK + BOLAG

PRESCHOOL_DEFINITE = (
    "Solrosen", "Ekorren", "Humlan", "Regnbågen", "Trollskogen", "Lärkan", "Myrstacken", "Blåklockan",
    "Kastanjen", "Ugglan", "Äppelängen", "Vitsippan", "Snäckan", "Kotten", "Lönnen", "Skattkistan",
    "Fyrklövern", "Pärlan", "Tallbacken", "Stjärnan", "Gläntan", "Näckrosen", "Kvarnen", "Ekbacken",
    "Karusellen", "Nyckelpigan", "Fjärilen", "Sjöstjärnan", "Hasselnöten", "Tussilagon",
)
PRESCHOOL_PROPER = ("Sylvester", "Alfons", "Pippi", "Saga", "Pettson", "Mulle", "Bamse", "Astrid", "Emil")
HOMES = ("Linnégården", "Koppargården", "Dianagården", "Solgården", "Björkgården", "Ekgården", "Lindgården",
         "Rosengården", "Silvergården", "Kristinagården", "Tallgården")
DAY_CENTRES = ("Träffen", "Oasen", "Mötesplatsen", "Kompassen", "Fyren", "Ankaret", "Solstrålen")
SOCIAL_FIXED = (
    "Enheten för ekonomiskt bistånd", "Relationsvårdsteamet", "Resursenheten, KBT-teamet", "Mottagningsenheten",
    "Familjeenheten", "Barn- och ungdomsenheten", "Beroendeenheten", "Socialpsykiatriska enheten",
    "Enheten för arbete och försörjning", "Förstärkningsteamet", "Familjebehandlarna", "Ungdomsteamet",
)
SOCIAL_CITY = ("Socialjouren", "Stödcentrum för unga brottsutsatta", "Enheten för hemlösa", "Uppsökarenheten",
               "Tillståndsenheten", "Förstärkningsteamet", "Resursenheten, KBT-teamet", "Familjerättsbyrån")
ADMIN = ("Enheten för verksamhetsutveckling", "Kommunikation och Service", "Kontaktcenter", "Parkenheten",
         "Administrativa enheten", "Ekonomienheten", "Medborgarkontoret", "Fritidsgården Ungdomens hus")
SCHOOLS = ("Rålambshovsskolan", "Engelbrektsskolan", "Sturebyskolan", "Södermalmsskolan", "Bredängsskolan",
           "Vasa Real", "Norra Real", "Kista grundskola", "Hässelby villastads skola", "Eriksdalsskolan",
           "Stockholms transport- och fordonstekniska gymnasium", "Kungsholmens gymnasium", "Grundsärskolan Ekbacken")
FACK_UNITS = {
    "Äldrenämnden": ("Äldrecentrum", "Fixartjänsten", "Stadens äldreombudsman", "Trygghetsjouren"),
    "Kulturnämnden": ("Stadsbiblioteket", "Stadsarkivet", "Stadsmuseet", "Kulturskolan Stockholm",
                      "SHD-resurs inom Kulturnämnden"),
    "Idrottsnämnden": ("Eriksdalsbadet", "Stadionavdelningen", "Sportcentrum Västerort", "Idrottsplatsavdelningen"),
    "Arbetsmarknadsnämnden": ("Jobbtorg Stockholm", "Språkstöd för nyanlända", "Komvux Stockholm",
                              "Arbetsmarknadsförvaltningen – Språkstöd för nyanlända", "Jobbtorg Unga"),
    "Trafiknämnden": ("Trafikkontoret – Markförbättrande åtgärder för gatuträd", "Gatu- och trafikavdelningen",
                      "Parkeringsövervakningen", "Trafikkontorets kundtjänst"),
    "Miljö- och hälsoskyddsnämnden": ("Livsmedelsavdelningen", "Miljöanalysenheten", "Hälsoskyddsavdelningen"),
    "Servicenämnden": ("Kontaktcenter Stockholm", "Lönecenter", "Serviceförvaltningens IT-support"),
    "Kommunstyrelsen": ("Stadsledningskontorets HR-avdelning", "Enheten för digital utveckling", "Stadsarkivet",
                        "Kommunikationsavdelningen"),
}
BOLAG_UNITS = ("Kundcenter", "Förvaltningsområde Västerort", "Förvaltningsområde Söderort", "Hyresgästcenter",
               "Fastighetsförvaltning Innerstaden", "Driftcentralen", "Projektavdelningen", "Kundservice",
               "Nätdriftavdelningen", "Miljö- och hållbarhetsenheten")
PRIVATE_CHAINS = ("Pysslingen förskolor", "Norlandia förskolor", "Förskolan {name} (Pysslingen)")

FIRST_NAMES = ("Anna", "Karin", "Per", "Lena", "Omar", "Maria", "Erik", "Johan", "Sara", "Ida", "Magnus",
               "Lisa", "Fatima", "Ahmed", "Eva", "Lars", "Mikael", "Sofia", "Elin", "Jonas", "Anders",
               "Kristina", "Hanna", "Ali", "Nadia", "Björn", "Gunilla", "Tove", "Jan", "Liliane")
LAST_NAMES = ("Lindqvist", "Ek", "Holm", "Berg", "Haddad", "Sund", "Andersson", "Johansson", "Karlsson",
              "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson", "Jönsson",
              "Hassan", "Lundgren", "Bergström", "Lindberg", "Forsberg", "Sandberg", "Wallin", "Åberg",
              "Öberg", "Ståhl", "Murray", "Reimegård", "Thorson")
PARTIES = ("S", "M", "L", "MP", "V", "C", "KD", "SD")

CLASS_LABELS = {
    PRESCHOOL: ("Förskola", "förskola", "Förskoleverksamhet"),
    SCHOOL: ("Skola", "skola"),
    ELDERLY: ("Äldreomsorg (inklusive myndighetsutövning)", "Äldreomsorg", "Äldre", "äldreomsorg"),
    SOCIAL: ("Socialtjänst samt stöd och service till personer med funktionsnedsättning "
             "(inklusive myndighetsutövning)", "Socialtjänst samt stöd och service till personer med "
             "funktionsnedsättning", "Soc/LSS", "Socialtjänst & LSS", "Socialtjänst"),
    OTHER: ("Andra verksamheter", "Övriga", "Andra verksamheter (administrativa verksamheter)"),
}


@dataclass(frozen=True, slots=True)
class UnitName:
    name: str  # as registered
    award_class: str
    written: str  # as this document writes it (usually the same)


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def genitive(place: str) -> str:
    """Swedish genitive of a place name: "Bandhagens", "Sätra" stays (a vowel), "Årstas" is not used."""
    return place if place[-1] in "aeiouyåäös" else f"{place}s"


def _preschool(rng: random.Random, place: str) -> str:
    pick = rng.random()
    if pick < 0.55:
        return f"Förskolan {rng.choice(PRESCHOOL_DEFINITE)}"
    if pick < 0.7:
        return f"{rng.choice(PRESCHOOL_PROPER)} förskola"
    if pick < 0.82:
        return f"{place} förskolor"
    if pick < 0.92:
        return f"Förskolan {rng.choice(PRESCHOOL_DEFINITE)} {place}"
    return f"Förskoleenheten {place}"


def _elderly(rng: random.Random, place: str) -> str:
    return rng.choice((
        f"{place} vård- och omsorgsboende", f"{genitive(rng.choice(HOMES))} vård- och omsorgsboende",
        f"Hemtjänsten {place}", f"Hemtjänsten {place} enhet {rng.randint(1, 4)}", f"{place} servicehus",
        f"Dagverksamheten {rng.choice(DAY_CENTRES)}", f"Attendo {genitive(place)} vård- och omsorgsboende",
        f"Vardaga {rng.choice(HOMES)}", "Biståndsenheten för äldre",
    ))


def _social(rng: random.Random, place: str) -> str:
    return rng.choice(SOCIAL_FIXED + (
        f"Boendestöd {place}", f"{genitive(place)} gruppbostäder", f"Misa {place}",
        f"Korttidshemmet {rng.choice(DAY_CENTRES)}", f"{genitive(place)} dagliga verksamhet",
    ))


def _unit(rng: random.Random, committee: Committee) -> tuple[str, str]:
    place = rng.choice(committee.places)
    if committee.kind == "sdn":
        award_class = rng.choices((PRESCHOOL, ELDERLY, SOCIAL, OTHER), (4, 3, 3, 1))[0]
        maker = {PRESCHOOL: _preschool, ELDERLY: _elderly, SOCIAL: _social}.get(award_class)
        return (maker(rng, place) if maker else rng.choice(ADMIN)), award_class
    if committee.kind == "bolag":
        return rng.choice(BOLAG_UNITS), OTHER
    if committee.name == "Socialnämnden":
        return rng.choice(SOCIAL_CITY + (f"Misa {place}", f"Korttidshemmet {rng.choice(DAY_CENTRES)}")), SOCIAL
    if committee.name == "Utbildningsnämnden":
        if rng.random() < 0.6:
            return rng.choice(SCHOOLS), SCHOOL
        chain = rng.choice(PRIVATE_CHAINS)
        name = rng.choice(PRESCHOOL_DEFINITE)
        return (chain.format(name=name) if "{" in chain else f"{chain} – {name}"), PRESCHOOL
    award_class = ELDERLY if committee.name == "Äldrenämnden" else OTHER
    return rng.choice(FACK_UNITS[committee.name]), award_class


def units_of_class(rng: random.Random, committee: Committee, award_class: str, count: int) -> list[UnitName]:
    """Like `units_for`, but all of one class (a seed's sentence names the class)."""
    chosen: list[str] = []
    for _ in range(count * 40):
        name, found_class = _unit(rng, committee)
        if found_class == award_class and name not in chosen:
            chosen.append(name)
        if len(chosen) == count:
            break
    return [UnitName(name, award_class, name) for name in chosen]


def written_form(rng: random.Random, name: str) -> str:
    """How a document may write a registered name: mostly as registered, sometimes another usual form."""
    if rng.random() > 0.2:
        return name
    if name.startswith("Förskolan ") and " " not in name[10:] and name[10:].endswith("en"):
        return f"{genitive(name[10:])} förskola"
    if name.startswith("Hemtjänsten ") and " enhet " not in name:
        return f"{name[12:]} hemtjänst"
    if name.endswith(" vård- och omsorgsboende") and not name.startswith("Attendo"):
        return f"Vård- och omsorgsboendet {name.removesuffix(' vård- och omsorgsboende')}"
    if name.startswith("Attendo "):
        return f"{name[8:]} (Attendo)"
    return name


def units_for(rng: random.Random, committee: Committee, count: int) -> list[UnitName]:
    """`count` distinct units of this committee, each with a class and its written form."""
    chosen: dict[str, str] = {}
    for _ in range(count * 20):
        if len(chosen) == count:
            break
        name, award_class = _unit(rng, committee)
        chosen.setdefault(name, award_class)
    return [UnitName(name, award_class, written_form(rng, name)) for name, award_class in chosen.items()]


def class_label(rng: random.Random, award_class: str) -> str:
    return rng.choice(CLASS_LABELS[award_class])
