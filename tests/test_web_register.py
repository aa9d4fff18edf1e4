"""The register pages of the web desk: search and filter, add and edit, import from the page, export."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import func, select

from intake.domain import AwardClass
from intake.mailbox.maildir import deliver
from intake.pipeline import import_register
from intake.storage import export
from intake.storage.models import AuditRow, MessageRow, ReplyRow, UnitRow
from tests.bot import protocol_mail
from tests.desk import Desk, csrf_of, make_desk

SOCIAL = AwardClass.SOCIAL.value
NEW_UNIT = {"name": "Korttidshemmet Vinden", "award_class": SOCIAL, "administration": "Socialförvaltningen",
            "board": "Socialnämnden", "operator": "kommunal", "contact_email": "Vinden@Stockholm.se",
            "unit_id": ""}


def unit(desk: Desk, unit_id: str) -> UnitRow:
    with desk.ctx.sessions.begin() as db:
        row = db.scalar(select(UnitRow).where(UnitRow.unit_id == unit_id))
        assert row is not None
        db.expunge(row)
        return row


def audits(desk: Desk, action: str) -> list[AuditRow]:
    with desk.ctx.sessions.begin() as db:
        rows = list(db.scalars(select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id)))
        db.expunge_all()
        return rows


def replies(desk: Desk) -> int:
    with desk.ctx.sessions.begin() as db:
        return db.scalar(select(func.count(ReplyRow.id))) or 0


def deliver_in_time(desk: Desk, units: tuple[str, ...]) -> None:
    """A Socialnämnden protokollsutdrag naming `units`, arrived on 19 June, processed."""
    sample = protocol_mail(units)
    key = deliver(Path(desk.settings.source.maildir), sample.raw)
    stamp = sample.received_at.timestamp()
    for folder in ("new", "cur"):
        path = Path(desk.settings.source.maildir) / folder / key
        if path.exists():
            os.utime(path, (stamp, stamp))
    desk.poll()


def text(response: Any) -> str:
    page: str = response.get_data(as_text=True)
    return page


def row_names(page: str) -> list[str]:
    return re.findall(r'<th scope="row">([^<]+)<br>', page)


# --- access ---------------------------------------------------------------------------------


def test_signed_out_the_pages_redirect_and_the_actions_are_refused(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    client = desk.client()
    pk = unit(desk, "SOC-001").id
    for path in ("/register/", "/register/ny", f"/register/enhet/{pk}", "/register/importera",
                 "/register/export.xlsx", "/register/export.csv?status=confirmed"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/logga-in?next=")
    token = csrf_of(text(client.get("/logga-in")))
    for path in ("/register/ny", f"/register/enhet/{pk}", "/register/importera"):
        assert client.post(path, data={**NEW_UNIT, "csrf_token": token}).status_code == 403, path
        assert client.post(path, data=NEW_UNIT).status_code == 400, path
    assert unit(desk, "SOC-001").name == "Förstärkningsteamet"
    assert not audits(desk, "unit_added")[10:]  # the ten of the sample register, nothing more


def test_a_form_without_the_right_csrf_token_changes_nothing(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    user = desk.signed_in()
    pk = unit(desk, "SOC-001").id
    for path, data in (("/register/ny", NEW_UNIT), (f"/register/enhet/{pk}", {**NEW_UNIT, "name": "Nytt"}),
                       ("/register/importera", {"file": (io.BytesIO(b"x"), "r.csv")})):
        response = user.client.post(path, data={**data, "csrf_token": "fel"})
        assert response.status_code == 400 and "säkerhetskoden" in text(response), path
    assert unit(desk, "SOC-001").name == "Förstärkningsteamet"
    assert len(audits(desk, "unit_added")) == 10
    assert user.get("/register/export.xlsx?q=x").status_code == 200  # a download is a GET: no token


# --- the register ---------------------------------------------------------------------------


def test_the_register_lists_the_year_with_states_protocols_and_filters(desk: Desk) -> None:
    user = desk.signed_in()
    page = text(user.get("/register/"))
    assert "<caption" in page and "10 enheter" in page
    assert len(row_names(page)) == 10
    assert '<th scope="col">Status</th>' in page
    assert '<label for="q">' in page and '<label for="namnd">' in page and '<label for="status">' in page
    assert "Bekräftad: 7" in page and "Granskas: 2" in page and "Väntar på protokoll: 1" in page
    assert "Sammanträde 13 juni 2017, § 9" in page
    with desk.ctx.sessions.begin() as db:
        first = db.scalar(select(MessageRow.id).where(MessageRow.subject == "Protokollsutdrag Socialnämnden § 9"))
    assert f'href="/mejl/{first}"' in page
    assert f'href="/register/enhet/{unit(desk, "SOC-002").id}"' in page

    def shown(query: str) -> list[str]:
        return row_names(text(user.get(f"/register/?{query}")))

    assert shown("q=drommen") == ["Korttidshemmet Drömmen"]
    assert shown("q=SOC-00") == ["Förstärkningsteamet", "Korttidshemmet Drömmen", "Misa Blackeberg",
                                 "Misa Bondegatan", "Resursteamet Alvik Väst"]
    assert shown("namnd=Bromma+stadsdelsnämnd") == ["Enheten för arbete och försörjning"]
    assert shown("klass=forskola") == ["Förskolan Solrosen"]
    assert shown("forvaltning=Spånga-Tensta+stadsdelsförvaltning") == [
        "Enheten för ekonomiskt bistånd", "Enheten för verksamhetsutveckling"]
    assert shown("status=needs_review") == ["Enheten för arbete och försörjning", "Förskolan Solrosen"]
    assert shown("status=confirmed&klass=andra") == []
    assert shown("status=okänd") == shown("")  # an unknown state is no filter

    filtered = text(user.get("/register/?klass=forskola&status=needs_review"))
    assert "1 av 10 enheter matchar filtret" in filtered
    assert '<option value="forskola" selected>' in filtered
    assert 'href="/register/export.xlsx?klass=forskola&amp;status=needs_review"' in filtered
    assert 'href="/register/export.csv?klass=forskola&amp;status=needs_review"' in filtered
    assert "Inga enheter matchar filtret" in text(user.get("/register/?q=finns+inte"))


def test_export_downloads_xlsx_and_csv_with_the_filters(desk: Desk) -> None:
    user = desk.signed_in()
    response = user.get("/register/export.xlsx")
    assert response.status_code == 200
    assert response.mimetype == export.MEDIA_TYPES["xlsx"]
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"register-2017.xlsx\"; filename*=UTF-8''register-2017.xlsx")
    assert response.headers["Cache-Control"] == "no-store"
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert sheet is not None and sheet.max_row == 11 and sheet["A1"].value == "År"

    response = user.get("/register/export.csv?namnd=Socialnämnden&status=confirmed")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "register-2017-urval.csv" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    lines = response.data[3:].decode("utf-8").split("\r\n")
    assert lines[0].startswith("År;Enhet;Tävlingsklass;Förvaltning;Nämnd;")
    assert len([line for line in lines[1:] if line]) == 5 and "Korttidshemmet Drömmen" in lines[2]
    assert user.get("/register/export.pdf").status_code == 404
    done = audits(desk, "register_exported")
    assert [(row.actor, row.detail["format"], row.detail["units"]) for row in done] == [
        ("web:samordnare", "xlsx", 10), ("web:samordnare", "csv", 5)]


# --- add and edit ---------------------------------------------------------------------------


def test_adding_a_unit_validates_each_field_in_swedish(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    user = desk.signed_in()
    page = text(user.get("/register/ny"))
    for name in ("name", "award_class", "administration", "board", "operator", "contact_email", "unit_id"):
        assert f'<label for="{name}">' in page and f'id="{name}"' in page, name
    assert 'name="csrf_token"' in page

    bad = {"name": " ", "award_class": "Fotboll", "administration": "", "board": "Socialnämnden",
           "operator": "statlig", "contact_email": "a@stockholm.se; inte-en-adress", "unit_id": "SOC-001"}
    response = user.post("/register/ny", bad)
    assert response.status_code == 422
    page = text(response)
    for message in ("Skriv enhetens namn.", "Välj en tävlingsklass.", "Skriv förvaltningen.",
                    "Driftformen ska vara kommunal, enskild eller ej angiven.",
                    "inte-en-adress är ingen giltig e-postadress",
                    "Enhets-ID SOC-001 används redan av en annan enhet."):
        assert message in page, message
    assert 'aria-invalid="true"' in page and 'aria-describedby="name-error"' in page
    assert '<a href="#award_class">' in page  # the summary leads to each field
    assert 'value="a@stockholm.se; inte-en-adress"' in page and 'value="SOC-001"' in page  # kept

    twin = {**NEW_UNIT, "name": "korttidshemmet  drömmen"}
    assert "Det finns redan en enhet med det namnet" in text(user.post("/register/ny", twin))
    evil = {**NEW_UNIT, "name": "<script>alert(1)</script>", "board": "x" * 201}
    page = text(user.post("/register/ny", evil))
    assert "Högst 200 tecken." in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert len(audits(desk, "unit_added")) == 10


def test_adding_a_unit_audits_it_and_settles_the_mail_waiting_for_it(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    named = ("Förstärkningsteamet", "Korttidshemmet Drömmen", "Resursteamet Alvik Väst", "Misa Blackeberg",
             "Misa Bondegatan", "Korttidshemmet Vinden")
    deliver_in_time(desk, named)
    with desk.ctx.sessions.begin() as db:
        mail = db.scalars(select(MessageRow)).one()
        assert mail.outcome == "incomplete" and mail.missing == ["unknown_unit"]
    answered = replies(desk)

    user = desk.signed_in()
    response = user.post("/register/ny", NEW_UNIT)
    assert response.status_code == 302 and response.headers["Location"] == "/register/"
    page = text(user.get("/register/"))
    assert "Enheten Korttidshemmet Vinden är tillagd i registret. 1 väntande mejl matchades om" in page

    with desk.ctx.sessions.begin() as db:
        row = db.scalar(select(UnitRow).where(UnitRow.name == "Korttidshemmet Vinden"))
        assert row is not None
        assert re.fullmatch(r"u-[0-9a-f]{12}", row.unit_id)  # made like the importer makes one
        assert (row.year, row.award_class, row.operator, row.contact_email) == (
            2017, SOCIAL, "kommunal", "vinden@stockholm.se")
        assert row.state == "confirmed"
        mail = db.scalars(select(MessageRow)).one()
        assert mail.outcome == "confirmed"
    assert replies(desk) == answered  # the sender is not answered twice
    [entry] = [row for row in audits(desk, "unit_added") if row.subject.startswith("unit:u-")]
    assert entry.actor == "web:samordnare" and entry.detail["name"] == "Korttidshemmet Vinden"


def test_editing_a_unit_is_audited_and_matches_the_waiting_mails_again(desk: Desk) -> None:
    user = desk.signed_in()
    target = unit(desk, "ST-002")
    page = text(user.get(f"/register/enhet/{target.id}"))
    assert 'value="Enheten för verksamhetsutveckling"' in page
    assert f'<option value="{AwardClass.OTHER.value}" selected>' in page
    assert "Väntar på protokoll" in page and 'name="unit_id"' not in page  # the id is not edited

    with desk.ctx.sessions.begin() as db:
        waiting = db.scalar(select(MessageRow).where(MessageRow.subject == "SV: Kvalitetsutmärkelsen – Spånga-Tensta"))
        assert waiting is not None and waiting.missing == ["registered_unit_missing"]
    answered = replies(desk)
    form = {"name": target.name, "award_class": target.award_class, "administration": "Kulturförvaltningen",
            "board": "Kulturnämnden", "operator": "", "contact_email": ""}
    response = user.post(f"/register/enhet/{target.id}", form)
    assert response.status_code == 302
    assert "Ändringarna av Enheten för verksamhetsutveckling är sparade." in text(user.get("/register/"))
    edited = unit(desk, "ST-002")
    assert (edited.board, edited.administration, edited.operator, edited.contact_email) == (
        "Kulturnämnden", "Kulturförvaltningen", None, None)
    [change] = [row for row in audits(desk, "unit_updated") if row.subject == "unit:ST-002"]
    assert change.actor == "web:samordnare"
    assert change.detail["changes"]["board"] == "Kulturnämnden"
    with desk.ctx.sessions.begin() as db:
        mail = db.scalar(select(MessageRow).where(MessageRow.subject == "SV: Kvalitetsutmärkelsen – Spånga-Tensta"))
        assert mail is not None and "registered_unit_missing" not in mail.missing
    assert replies(desk) == answered

    assert user.post(f"/register/enhet/{target.id}", form).status_code == 302
    assert "Inget ändrades för Enheten för verksamhetsutveckling." in text(user.get("/register/"))
    taken = {**form, "name": "Enheten för ekonomiskt bistånd", "board": "Spånga-Tensta stadsdelsnämnd"}
    response = user.post(f"/register/enhet/{target.id}", taken)
    assert response.status_code == 422 and "Det finns redan en enhet med det namnet" in text(response)
    assert user.get("/register/enhet/999999").status_code == 404
    assert user.post("/register/enhet/999999", form).status_code == 404


# --- import ---------------------------------------------------------------------------------


REGISTER = """År;Enhet;Tävlingsklass;Förvaltning;Nämnd;Driftform;Kontakt e-post;Enhets-ID
2017;Korttidshemmet Vinden;Soc/LSS;Socialförvaltningen;Socialnämnden;kommunal;;SOC-006
2017;Sätra äldreboende;<i>Cirkus</i>;Skärholmens stadsdelsförvaltning;Skärholmens stadsdelsnämnd;;;SKH-2
2017;Korttidshemmet Drömmen;Socialtjänst;Socialförvaltningen;Socialnämnden;enskild;registrator.soc@stockholm.se;SOC-002
"""
WAITING_FOR = ("Förstärkningsteamet", "Korttidshemmet Drömmen", "Resursteamet Alvik Väst", "Misa Blackeberg",
               "Misa Bondegatan", "Korttidshemmet Vinden")


def upload(user: Any, data: bytes, filename: str) -> Any:
    return user.post("/register/importera", {"file": (io.BytesIO(data), filename)},
                     content_type="multipart/form-data")


def test_import_from_the_page_reports_what_it_did_and_the_rows_it_could_not_read(
        tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    deliver_in_time(desk, WAITING_FOR)
    answered = replies(desk)
    user = desk.signed_in()
    page = text(user.get("/register/importera"))
    assert '<label for="file">' in page and 'enctype="multipart/form-data"' in page
    assert 'aria-describedby="file-hint"' in page and '<th scope="row">Tävlingsklass</th>' in page

    response = upload(user, REGISTER.encode("cp1252"), "Mina dokument/Socialnämnden.csv")
    assert response.status_code == 200
    page = text(response)
    assert "Import av Socialnämnden.csv" in page
    report = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", page))
    assert report == {"Tillagda enheter": "1", "Uppdaterade enheter": "1", "Oförändrade enheter": "0",
                      "Rader som inte kunde läsas": "1", "Väntande mejl som matchades om": "1"}
    assert '<th scope="row" class="number">3</th>' in page and "känns inte igen" in page
    assert "&lt;i&gt;Cirkus&lt;/i&gt;" in page and "<i>Cirkus" not in page  # the file's text is shown as text
    with desk.ctx.sessions.begin() as db:
        mail = db.scalars(select(MessageRow)).one()
        assert mail.outcome == "confirmed"
        assert f'<a href="/mejl/{mail.id}">{mail.message_id.replace("<", "&lt;").replace(">", "&gt;")}</a>' in page
    assert "Bekräftat" in page
    assert replies(desk) == answered
    assert unit(desk, "SOC-006").state == "confirmed"
    assert unit(desk, "SOC-002").operator == "enskild"
    [entry] = audits(desk, "register_imported")[-1:]
    assert entry.actor == "web:samordnare" and entry.subject == "file:Socialnämnden.csv"
    assert entry.detail == {"added": 1, "updated": 1, "unchanged": 0, "errors": 1}

    again = text(upload(user, REGISTER.encode("utf-8-sig"), "Socialnämnden.csv"))
    assert dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", again))["Oförändrade enheter"] == "2"


def test_import_from_the_page_takes_xlsx_and_refuses_what_it_cannot_read(
        tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    user = desk.signed_in()
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["year", "unit", "class", "administration", "board", "unit_id"])
    sheet.append([2017, "Äldreboendet Åkermyntan", "Äldreomsorg", "Äldreförvaltningen", "Äldrenämnden", "ÄN-1"])
    data = io.BytesIO()
    book.save(data)
    page = text(upload(user, data.getvalue(), "register.xlsx"))
    assert dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", page))["Tillagda enheter"] == "1"
    assert unit(desk, "ÄN-1").award_class == AwardClass.ELDERLY.value

    response = user.post("/register/importera", {}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Välj en registerfil" in text(response)
    response = upload(user, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old excel", "register.xls")
    page = text(response)
    assert response.status_code == 422
    assert "register.xls kunde inte importeras" in page and "gamla Excel-formatet" in page
    assert 'aria-invalid="true"' in page
    response = upload(user, "Namn;Något\nx;y\n".encode(), "<script>.csv")
    assert response.status_code == 422 and "<script>" not in text(response)
    assert len(audits(desk, "register_imported")) == 2  # the sample register and the workbook


def test_the_register_of_a_new_year_is_empty_until_imported(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    import_register(desk.ctx, "r.csv", REGISTER.replace("2017;", "2018;").encode(), actor="test")
    user = desk.signed_in()
    page = text(user.get("/register/"))
    assert len(row_names(page)) == 10 and "Korttidshemmet Vinden" not in page  # only the award year
