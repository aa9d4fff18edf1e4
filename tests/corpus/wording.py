"""Swedish wording that varies between documents: dates, § forms, Dnr formats, committee name forms.

Formats follow the domain guide: §1.3 (paragraph numbering), §1.4 (Dnr per era and
kind of committee), §1.2 and §2.1 (name forms of a committee).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from tests.corpus.pools import Committee

MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
          "oktober", "november", "december")
WEEKDAYS = ("måndagen", "tisdagen", "onsdagen", "torsdagen", "fredagen", "lördagen", "söndagen")
MEETING_MONTHS = (4, 5, 5, 6, 6, 6, 6, 9)  # award items come up in May and June, a few earlier or later
LAST_MEETING_WEEKDAY = 3  # Thursday: nämnder meet Monday to Thursday


def long_date(day: date, weekday: bool = False) -> str:
    text = f"{day.day} {MONTHS[day.month - 1]} {day.year}"
    return f"{WEEKDAYS[day.weekday()]} den {text}" if weekday else text


def meeting_day(rng: random.Random, year: int) -> date:
    day = date(year, rng.choice(MEETING_MONTHS), rng.randint(1, 28))
    while day.weekday() > LAST_MEETING_WEEKDAY:
        day -= timedelta(days=1)
    return day


def written_date(rng: random.Random, day: date) -> str:
    """A date as a secretary writes it in running text."""
    return rng.choice((day.isoformat(), long_date(day), long_date(day)))


def paragraph_form(rng: random.Random, number: int) -> str:
    """'§ 12', '§12', '12 §' or '§ 12.'; the label is always '§ 12'."""
    return rng.choices((f"§ {number}", f"§{number}", f"{number} §", f"§ {number}."), (6, 2, 1, 1))[0]


def diarienummer(rng: random.Random, committee: Committee, year: int) -> str:
    """A Dnr in one of the formats of its era and committee (without the 'Dnr' label)."""
    n = rng.randint(12, 999)
    yy = f"{year % 100:02d}"
    if rng.random() < 0.2 and year >= 2016:
        return f"{committee.abbreviation} {year}/{n}"
    if committee.kind == "fack":
        if committee.name == "Kommunstyrelsen":
            return f"{rng.randint(300, 330)}-{n}/{year}"
        return rng.choice((f"{rng.randint(1, 3)}.{rng.randint(1, 6)}.{rng.randint(1, 4)}-{n}/{year}",
                           f"{rng.randint(1, 3)}.{rng.randint(1, 6)}-{n}/{year}"))
    if committee.kind == "bolag":
        return f"{year}-{n:04d}"
    if year <= 2009:
        return rng.choice((f"{n:03d}/{rng.randint(100, 999)}-{year}", f"{n}-{year}-{rng.randint(1, 199):03d}",
                           f"{rng.randint(1, 99):03d} – {n} / {yy}"))
    scheme = f"{rng.randint(1, 3)}.{rng.randint(1, 6)}.{rng.randint(1, 6)}"
    return rng.choice((f"{scheme}/{n}-{year}", f"{scheme}-{n}-{year}", f"{year}-{n}-{scheme}",
                       f"{n}-{year}-{scheme}", f"{scheme}-{n}/{year}"))


def dnr_line(rng: random.Random, number: str) -> str:
    return f"{rng.choice(('Dnr', 'Dnr', 'Dnr:', 'dnr', 'D nr', 'Diarienummer'))} {number}"


def committee_heading(rng: random.Random, committee: Committee) -> str:
    """How the letterhead or first line names the committee."""
    if committee.kind == "sdn":
        return rng.choices((committee.name, committee.name.upper(), committee.office,
                            f"Stadsdelsnämnden i {committee.area}", f"SDN {committee.area}"), (5, 2, 2, 2, 1))[0]
    if committee.kind == "bolag":
        return rng.choice((committee.name, committee.name.upper(), committee.name))
    return rng.choice((committee.name, committee.name.upper(), committee.name))


def committee_genitive(committee: Committee) -> str:
    """'Spånga-Tensta stadsdelsnämnds', 'socialnämndens', 'styrelsens för AB X'."""
    if committee.kind == "sdn":
        return f"{committee.name}s"
    if committee.kind == "bolag":
        return f"{committee.name}s styrelses"
    return f"{committee.name.lower()}s"


def acting(rng: random.Random, committee: Committee) -> str:
    """Who decides in the decision text: 'Stadsdelsnämnden', 'Nämnden', 'Socialnämnden', 'Styrelsen'."""
    if committee.kind == "sdn":
        return rng.choice(("Stadsdelsnämnden", "Stadsdelsnämnden", "Nämnden", committee.name))
    if committee.kind == "bolag":
        return "Styrelsen"
    return rng.choice((committee.name, committee.name, "Nämnden"))


def decision_heading(rng: random.Random, committee: Committee) -> str:
    if committee.kind == "sdn":
        return rng.choice(("Stadsdelsnämndens beslut", "Beslut", "Nämndens beslut"))
    if committee.kind == "bolag":
        return "Styrelsens beslut"
    return rng.choice(("Beslut", f"{committee.name}s beslut", "Nämndens beslut"))


FILLER = (
    "Förvaltningen har i tjänsteutlåtande redovisat ärendet och dess bakgrund.",
    "Ärendet har behandlats i förvaltningens samverkansgrupp.",
    "Nämnden har tidigare informerats om arbetet vid sammanträdet i april.",
    "Förvaltningen bedömer att åtgärderna ryms inom befintlig budgetram.",
    "Uppföljningen visar att verksamheten i huvudsak når de mål som kommunfullmäktige har satt.",
    "Remissen har beretts i samråd med stadsledningskontoret och berörda förvaltningar.",
    "Pensionärsrådet och funktionshinderrådet har fått ta del av ärendet.",
    "Kostnaderna för projektet beräknas till 1,2 miljoner kronor under innevarande år.",
    "Förvaltningen föreslår att nämnden godkänner förvaltningens svar på remissen.",
    "Det ekonomiska utfallet per maj visar ett mindre överskott inom individ- och familjeomsorgen.",
    "Antalet barn i förskolan har ökat med cirka fyra procent jämfört med föregående år.",
    "Arbetet med att minska sjukfrånvaron fortsätter enligt den plan som nämnden beslutade om.",
    "Lokalbehovet för äldreomsorgen beskrivs i förvaltningens lokalförsörjningsplan.",
    "Synpunkter har inkommit från allmänheten vid den öppna frågestunden.",
    "Förvaltningen har genomfört en brukarundersökning med god svarsfrekvens.",
    "Ärendet överlämnades utan eget ställningstagande till kommunstyrelsen.",
    "Medborgarförslaget har beretts av parkenheten i samråd med trafikkontoret.",
    "Delegationsbesluten redovisas i bilaga till protokollet.",
    "Ledamöterna ställde frågor om planeringen inför sommaren som förvaltningschefen besvarade.",
    "Internkontrollplanen följs upp två gånger per år.",
)

AGENDA = (
    "Val av justerare och dag för justering", "Fastställande av dagordning", "Anmälan av justerade protokoll",
    "Förvaltningschefen informerar", "Ekonomisk uppföljning per maj", "Tertialrapport 1",
    "Anmälan av delegationsbeslut", "Anmälan av inkomna skrivelser", "Svar på remiss om stadens lokalförsörjning",
    "Medborgarförslag om fler parkbänkar", "Upphandling av städtjänster", "Verksamhetsplan",
    "Ansökan om föreningsbidrag", "Rapport från pensionärsrådet", "Rapport från funktionshinderrådet",
    "Lokalförsörjningsplan för förskolan", "Öppen frågestund", "Svar på skrivelse om trygghet i centrum",
    "Internkontrollplan", "Övriga frågor", "Uppföljning av stadsdelens miljöarbete",
)


def filler(rng: random.Random, sentences: int) -> str:
    return " ".join(rng.sample(FILLER, k=min(sentences, len(FILLER))))
