"""Sample documents and mails for the demo and the tests, built from the real seed documents.

The seeds (intake/samples/seeds/) are officials' reports (tjänsteutlåtanden) of
this very process, OCR damage and extraction artefacts included. The
protokollsutdrag are composed in the Stockholm layout (see the domain guide) for
the units those reports propose.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from importlib import resources
from textwrap import wrap
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")
SWEDISH_MONTHS = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)
LINE_WIDTH = 90  # characters per PDF line at 10 pt Helvetica on A4
LINES_PER_PAGE = 60


def seed_text(prefix: str) -> str:
    """The text of a seed document by its number prefix ("000" … "003")."""
    folder = resources.files("intake.samples") / "seeds"
    for entry in folder.iterdir():
        if entry.name.startswith(prefix):
            return entry.read_text(encoding="utf-8")
    raise LookupError(f"no seed {prefix}")


def register_csv() -> bytes:
    return (resources.files("intake.samples") / "register.csv").read_bytes()


def swedish_date(day: date) -> str:
    return f"{day.day} {SWEDISH_MONTHS[day.month - 1]} {day.year}"


def pdf_from_text(text: str) -> bytes:
    """A text PDF (one text layer, A4, Helvetica) with the lines of `text`, wrapped."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    lines: list[str] = []
    for paragraph in text.splitlines():
        lines.extend(wrap(paragraph, LINE_WIDTH) or [""])
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    for start in range(0, max(len(lines), 1), LINES_PER_PAGE):
        y = A4[1] - 50
        pdf.setFont("Helvetica", 10)
        for line in lines[start:start + LINES_PER_PAGE]:
            pdf.drawString(50, y, line)
            y -= 12.5
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def protocol_text(
    committee: str,
    meeting: date,
    paragraph: int,
    units: Sequence[tuple[str, str]],
    year: int,
    *,
    adjusted: bool = True,
    secretary: str = "Anna Lindqvist",
) -> str:
    """A protokollsutdrag in the Stockholm layout approving `units` (name, class)."""
    listed = "\n".join(f"   - {name}, tävlingsklass {award_class}" for name, award_class in units)
    justering = (
        f"Justerat {meeting.isoformat()}\n\nRätt utdraget intygar\n{secretary}, nämndsekreterare"
        if adjusted
        else "Ej justerat"
    )
    return f"""{committee}                PROTOKOLLSUTDRAG
Protokoll nr 6/{meeting.year}
Sida 1 (2)
Sammanträdesdatum {meeting.isoformat()}

§ {paragraph}  Anmälan av deltagande i Stockholms stads kvalitetsutmärkelse {year}
Dnr 1.2.1-247/{meeting.year}

Beslut
1. {committee} godkänner anmälan av följande enheter till Stockholms stads
   kvalitetsutmärkelse {year}:
{listed}
2. Paragrafen förklaras omedelbart justerad.

Ärendet
Förvaltningen redovisar i tjänsteutlåtande daterat {meeting.isoformat()} de enheter som
lämnat tävlingsbidrag senast den 15 maj {year}.

Beslutsgång
Nämnden beslutade i enlighet med förvaltningens förslag.

Vid protokollet
{secretary}
{justering}
"""


@dataclass(frozen=True, slots=True)
class SampleMail:
    raw: bytes
    received_at: datetime
    note: str  # what the demo shows with it


def mail(
    sender: str,
    subject: str,
    body: str,
    received_at: datetime,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    extra_headers: Sequence[tuple[str, str]] = (),
    note: str = "",
) -> SampleMail:
    """A mail as an administration would send it; attachments are (name, bytes, mime type)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "Kvalitetsutmärkelsen <kvalitetsutmarkelsen@stockholm.se>"
    message["Subject"] = subject
    message["Date"] = format_datetime(received_at)
    message["Message-ID"] = make_msgid(domain="stockholm.se")
    for name, value in extra_headers:
        message[name] = value
    message.set_content(body)
    for filename, data, mime in attachments:
        maintype, subtype = mime.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return SampleMail(message.as_bytes(), received_at, note)


def _at(day: int, hour: int, month: int = 6) -> datetime:
    return datetime(2017, month, day, hour, 12, tzinfo=STOCKHOLM)


def demo_mails() -> list[SampleMail]:
    """The demo's season of 2017: good extracts, wrong documents, automatic mail, late mail."""
    social = protocol_text(
        "Socialnämnden", date(2017, 6, 13), 9,
        [("Förstärkningsteamet", "Socialtjänst"), ("Korttidshemmet Drömmen", "Socialtjänst"),
         ("Resursteamet Alvik Väst", "Socialtjänst"), ("Misa Blackeberg", "Socialtjänst"),
         ("Misa Bondegatan", "Socialtjänst")], 2017)
    spanga = protocol_text(
        "Spånga-Tensta stadsdelsnämnd", date(2017, 6, 15), 14,
        [("Enheten för ekonomiskt bistånd", "Socialtjänst")], 2017)
    # The seed's line break inside the unit name ("KBT-\n\nteamet"), kept on purpose.
    skarpnack = protocol_text(
        "Skarpnäcks stadsdelsnämnd", date(2017, 6, 20), 11,
        [("Resursenheten, KBT-\n\nteamet", "Socialtjänst")], 2017)
    solrosen = protocol_text(
        "Enskede-Årsta-Vantörs stadsdelsnämnd", date(2017, 6, 29), 22,
        [("Förskolan Solrosen", "Förskola")], 2017)
    # an abbreviation the matcher is not sure of: the review queue's example
    bromma = protocol_text(
        "Bromma stadsdelsnämnd", date(2017, 6, 14), 7,
        [("Enh. för arbete o försörjn.", "Socialtjänst")], 2017)
    greeting = "Hej!\n\nBifogar protokollsutdrag enligt anvisningarna.\n\nMed vänlig hälsning\n"
    return [
        mail("Lena Murray <lena.murray@stockholm.se>", "Protokollsutdrag Socialnämnden § 9",
             greeting + "Lena Murray, Socialförvaltningen", _at(19, 9),
             [("Protokollsutdrag SN 2017-06-13 § 9.pdf", pdf_from_text(social), "application/pdf")],
             note="protokollsutdrag för fem enheter"),
        mail("Ida Reimegård <ida.reimegard@stockholm.se>", "Kvalitetsutmärkelsen – Spånga-Tensta",
             "Hej, här kommer vårt underlag.\n\nIda", _at(20, 10),
             [("Tjänsteutlåtande nominering.pdf", pdf_from_text(seed_text("000")), "application/pdf")],
             note="tjänsteutlåtande i stället för protokollsutdrag (seed 000)"),
        mail("Ida Reimegård <ida.reimegard@stockholm.se>", "SV: Kvalitetsutmärkelsen – Spånga-Tensta",
             "Hej igen, nu med protokollsutdraget.\n\nIda", _at(22, 14),
             [("Protokollsutdrag § 14.pdf", pdf_from_text(spanga), "application/pdf")],
             note="protokollsutdrag där en anmäld enhet saknas"),
        mail("Magnus Borgsten <magnus.borgsten@stockholm.se>", "Anmälan kvalitetsutmärkelsen",
             "Hej!\nSe bifogad fil.\n/Magnus", _at(23, 8),
             [("Anmälan.pdf", pdf_from_text(seed_text("002")), "application/pdf")],
             note="OCR-skadat tjänsteutlåtande (seed 002)"),
        mail("Sara Lind <sara.lind@stockholm.se>", "Protokollsutdrag Bromma SDN § 7",
             greeting + "Sara Lind, Bromma stadsdelsförvaltning", _at(23, 15),
             [("Protokollsutdrag Bromma § 7.pdf", pdf_from_text(bromma), "application/pdf")],
             note="förkortat enhetsnamn som en samordnare får bekräfta"),
        mail("Lena Thorson <lena.thorson@stockholm.se>", "Protokoll Skarpnäck",
             greeting + "Lena Thorson", _at(26, 11),
             [("Protokollsutdrag Skarpnäck.pdf", pdf_from_text(skarpnack), "application/pdf")],
             note="protokollsutdrag med radbrutet enhetsnamn (seed 003)"),
        mail("Karin Ek <karin.ek@stockholm.se>", "Protokollsutdrag förskolan Solrosen",
             "Hej, protokollet kommer här!\n\nKarin", _at(27, 16),
             note="mejl utan bilaga"),
        mail("Karin Ek <karin.ek@stockholm.se>", "Automatiskt svar: Protokollsutdrag",
             "Jag är ledig till och med 7 augusti.", _at(27, 16),
             extra_headers=[("Auto-Submitted", "auto-replied")],
             note="frånvaromeddelande (besvaras inte)"),
        mail("Karin Ek <karin.ek@stockholm.se>", "Protokollsutdrag förskolan Solrosen",
             "Hej, nu med bilagan. Ursäkta dröjsmålet!\n\nKarin", _at(3, 9, month=7),
             [("Protokollsutdrag EAV § 22.pdf", pdf_from_text(solrosen), "application/pdf")],
             note="protokollsutdrag som kom efter sista dagen"),
    ]
