"""The season overview, the mail log, the message page and its downloads, through Flask's test client."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from intake.parsing import parse_mail
from intake.samples import STOCKHOLM, mail
from intake.storage.models import AuditRow, MessageRow, ReplyRow, UnitRow
from intake.storage.reports import status_report
from intake.web import labels
from intake.web.overview import content_disposition, deadline_text, inline_type, safe_filename
from tests.desk import Desk, SignedIn, make_desk

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))


class Tables(HTMLParser):
    """Every table of a page as {caption: [[cell text, ...], ...]} (header rows included)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._rows: list[list[str]] | None = None
        self._caption: list[str] | None = None
        self._cell: list[str] | None = None
        self._name = ""
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._rows, self._name = [], f"table{len(self.tables)}"
        elif tag == "caption":
            self._caption = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._caption is not None:
            self._name = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.tables[self._name] = self._rows
            self._rows = None

    def handle_data(self, data: str) -> None:
        if self._caption is not None:
            self._caption.append(data)
        if self._cell is not None:
            self._cell.append(data)


def table(page: str, caption_start: str) -> list[list[str]]:
    tables = Tables(page).tables
    found = [rows for name, rows in tables.items() if name.startswith(caption_start)]
    assert found, f"no table {caption_start!r} in {list(tables)}"
    return found[0]


def reminders(desk: Desk) -> list[ReplyRow]:
    with desk.ctx.sessions.begin() as db:
        rows = list(db.scalars(select(ReplyRow).where(ReplyRow.kind == "reminder").order_by(ReplyRow.id)))
        db.expunge_all()
    return rows


def follow(user: SignedIn, response: TestResponse) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    return str(user.get(response.headers["Location"]).get_data(as_text=True))


def message_pk(desk: Desk, subject_start: str) -> int:
    with desk.ctx.sessions.begin() as db:
        pk = db.scalar(select(MessageRow.id).where(MessageRow.subject.startswith(subject_start))
                       .order_by(MessageRow.id))
    assert pk is not None
    return pk


# --- access --------------------------------------------------------------------------------


def test_every_page_and_download_needs_a_signed_in_coordinator(desk: Desk) -> None:
    client = desk.client()
    for path in ("/oversikt", "/mejl", "/mejl?utfall=ignored", "/mejl/1", "/mejl/1/original.eml",
                 "/mejl/1/bilaga/0", "/mejl/1/bilaga/0?visa=1", "/mejl/svar/1.eml"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/logga-in?next="), path
    for path in ("/oversikt/paminnelse", "/oversikt/paminnelse-alla"):
        response = client.post(path, data={"board": "Spånga-Tensta stadsdelsnämnd"})
        assert response.status_code in (400, 403), path
    assert reminders(desk) == []


def test_a_reminder_without_the_csrf_token_is_refused(desk: Desk) -> None:
    user = desk.signed_in()
    for path in ("/oversikt/paminnelse", "/oversikt/paminnelse-alla"):
        response = user.client.post(path, data={"board": "Spånga-Tensta stadsdelsnämnd", "csrf_token": "fel"})
        assert response.status_code == 400
        assert "säkerhetskoden" in response.get_data(as_text=True)
        response = user.client.post(path, data={"board": "Spånga-Tensta stadsdelsnämnd"})
        assert response.status_code == 400
    assert reminders(desk) == []


def test_reminders_are_only_posted(desk: Desk) -> None:
    user = desk.signed_in()
    assert user.get("/oversikt/paminnelse").status_code == 405
    assert user.post("/oversikt/paminnelse", {"board": "  "}).status_code == 400


# --- the overview --------------------------------------------------------------------------


def test_the_overview_counts_the_season_by_state_class_and_committee(desk: Desk) -> None:
    with desk.ctx.sessions.begin() as db:
        units = status_report(db, 2017)
    page = desk.signed_in().get("/oversikt").get_data(as_text=True)

    by_state = Counter(unit["state"] for unit in units)
    assert by_state == {"confirmed": 7, "needs_review": 2, "awaiting_protocol": 1}  # the demo season
    rows = {row[0]: row[1:] for row in table(page, "Per status")}
    for code, count in by_state.items():
        assert rows[labels.STATES[code]] == [str(count)]
    assert rows["Totalt"] == [str(len(units))]

    order = ("awaiting_protocol", "needs_review", "confirmed")
    for caption, key in (("Per tävlingsklass", "class"), ("Per nämnd", "board")):
        rows = {row[0]: row[1:] for row in table(page, caption)[1:]}
        groups = {unit[key] for unit in units}
        assert set(rows) == groups
        for group in groups:
            counts = Counter(unit["state"] for unit in units if unit[key] == group)
            assert rows[group] == [*(str(counts[code]) for code in order), str(sum(counts.values()))]


def test_the_overview_shows_the_committees_still_missing_and_the_backlog(desk: Desk) -> None:
    page = desk.signed_in().get("/oversikt").get_data(as_text=True)
    section = page.split('id="saknas"', 1)[1].split('id="paminnelser"', 1)[0]
    assert "Spånga-Tensta stadsdelsnämnd" in section
    assert "Enheten för verksamhetsutveckling" in section  # ST-002, the one unit still awaiting
    assert "Enheten för ekonomiskt bistånd" not in section  # confirmed
    assert "Socialnämnden" not in section
    assert "registrator.spanga-tensta@stockholm.se" in section
    assert "Aldrig" in section
    assert section.count('name="csrf_token"') == 2  # the committee's button and "alla"
    assert "Skicka påminnelse" in section and "Skicka påminnelse till alla nämnder som saknas (1)" in section
    assert "Automatisk påminnelse:" in page and "av (inställningen" in page  # off by default
    assert "passerade för" in page  # the clock is today's; the 2017 deadline is long gone
    assert re.search(r"2 ärenden att granska", page)  # Bromma's unsure name, Solrosen's late extract
    assert "0 i kö" in page and "0 misslyckade" in page


@pytest.mark.parametrize(("today", "text"), [
    (datetime(2017, 6, 20), "10 dagar kvar till sista dagen."),
    (datetime(2017, 6, 29), "1 dag kvar: sista dagen är i morgon."),
    (datetime(2017, 6, 30), "Sista dagen är i dag."),
    (datetime(2017, 7, 1), "Sista dagen passerade i går."),
    (datetime(2017, 7, 5), "Sista dagen passerade för 5 dagar sedan."),
])
def test_days_left_in_swedish(today: datetime, text: str) -> None:
    assert deadline_text(datetime(2017, 6, 30).date(), today.date()) == text


def test_days_left_are_counted_in_the_award_time_zone(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    desk.ctx.clock = lambda: datetime(2017, 6, 29, 22, 30, tzinfo=UTC)  # 30 June 00:30 in Stockholm
    page = desk.signed_in().get("/oversikt").get_data(as_text=True)
    assert "Sista dagen är i dag." in page


def test_the_reminder_button_queues_one_reminder_and_refuses_a_second_within_a_day(desk: Desk) -> None:
    user = desk.signed_in()
    page = follow(user, user.post("/oversikt/paminnelse", {"board": "Spånga-Tensta stadsdelsnämnd"}))
    assert "Påminnelse till Spånga-Tensta stadsdelsnämnd lagd i utkorgen" in page
    [row] = reminders(desk)
    assert (row.kind, row.status, row.message_pk) == ("reminder", "queued", None)
    assert row.recipient == "registrator.spanga-tensta@stockholm.se"
    text = parse_mail(row.raw).text_body
    assert "Enheten för verksamhetsutveckling" in text and "påminnelse" in text
    assert "Enheten för ekonomiskt bistånd" not in text  # confirmed: not reminded about
    with desk.ctx.sessions.begin() as db:
        audit = db.scalars(select(AuditRow).where(AuditRow.action == "reminder_queued")).all()
        assert [(a.actor, a.subject, a.detail["to"]) for a in audit] == [
            ("web:samordnare", f"reply:{row.message_id}", row.recipient)]
    section = page.split('id="saknas"', 1)[1]
    assert "Aldrig" not in section.split('id="paminnelser"', 1)[0]
    assert "registrator.spanga-tensta@stockholm.se" in table(page, "De senaste 1 påminnelserna")[1][1]

    again = follow(user, user.post("/oversikt/paminnelse", {"board": "Spånga-Tensta stadsdelsnämnd"}))
    assert "Ingen påminnelse skickades till Spånga-Tensta stadsdelsnämnd" in again
    assert "högst en gång per dygn" in again
    again = follow(user, user.post("/oversikt/paminnelse-alla"))
    assert "högst en gång per dygn" in again
    assert len(reminders(desk)) == 1

    later = datetime.now(UTC) + timedelta(days=1, minutes=5)
    desk.ctx.clock = lambda: later
    follow(user, user.post("/oversikt/paminnelse", {"board": "Spånga-Tensta stadsdelsnämnd"}))
    assert len(reminders(desk)) == 2


def test_a_committee_that_is_not_missing_is_not_reminded(desk: Desk) -> None:
    user = desk.signed_in()
    page = follow(user, user.post("/oversikt/paminnelse", {"board": "Socialnämnden"}))
    assert "Socialnämnden väntar inte på något protokollsutdrag längre" in page
    page = follow(user, user.post("/oversikt/paminnelse", {"board": "<script>alert(1)</script>"}))
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
    assert reminders(desk) == []


def test_remind_all_reaches_every_missing_committee_once(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)  # the register only: every unit awaits
    user = desk.signed_in()
    page = user.get("/oversikt").get_data(as_text=True)
    assert "Skicka påminnelse till alla nämnder som saknas (5)" in page
    page = follow(user, user.post("/oversikt/paminnelse-alla"))
    with desk.ctx.sessions.begin() as db:
        contacts = {(row.board, row.contact_email) for row in db.scalars(select(UnitRow))}
    rows = reminders(desk)
    assert sorted((r.subject.rsplit("– ", 1)[1], r.recipient) for r in rows) == sorted(contacts)
    assert len(rows) == 7  # Socialnämnden's five units have three distinct contacts
    assert page.count("lagd i utkorgen") == 5
    page = follow(user, user.post("/oversikt/paminnelse-alla"))
    assert page.count("Ingen påminnelse skickades till") == 5
    assert len(reminders(desk)) == 7


def test_a_committee_without_a_contact_address_says_so(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    with desk.ctx.sessions.begin() as db:
        for row in db.scalars(select(UnitRow).where(UnitRow.board == "Bromma stadsdelsnämnd")):
            row.contact_email = "ingen adress"
    user = desk.signed_in()
    page = user.get("/oversikt").get_data(as_text=True)
    assert "Ingen giltig e-postadress i registret." in page
    page = follow(user, user.post("/oversikt/paminnelse", {"board": "Bromma stadsdelsnämnd"}))
    assert "Bromma stadsdelsnämnd har ingen giltig kontaktadress i registret" in page
    assert reminders(desk) == []


# --- the mail log --------------------------------------------------------------------------


def test_the_log_lists_every_mail_newest_first_with_outcome_missing_reference_and_reply(desk: Desk) -> None:
    page = desk.signed_in().get("/mejl").get_data(as_text=True)
    rows = table(page, "9 mejl, nyast först")
    assert rows[0] == ["Inkom", "Från", "Ämne", "Utfall", "Saknas", "Ärende", "Svar"]
    body = rows[1:]
    assert len(body) == 9
    times = [row[0] for row in body]
    assert times == sorted(times, reverse=True)
    assert body[0][0] == "2017-07-03 09:12"  # the late mail, in Stockholm time
    assert body[0][3] == "Ofullständigt" and body[0][4] == "Inkom efter sista dag"
    assert body[0][5] == "KU-2017-0008" and body[0][6] == "Skickat"
    ignored = [row for row in body if row[3] == "Ignorerat"]
    assert len(ignored) == 1 and ignored[0][6] == "Inget svar" and ignored[0][5] == ""
    assert page.count('href="/mejl/') == 9


def test_the_log_filters_by_outcome(desk: Desk) -> None:
    user = desk.signed_in()
    page = user.get("/mejl?utfall=incomplete").get_data(as_text=True)
    body = table(page, "5 mejl med utfallet ofullständigt")[1:]
    assert {row[3] for row in body} == {"Ofullständigt"}
    assert '<option value="incomplete" selected>' in page
    page = user.get("/mejl?utfall=ej-behandlat").get_data(as_text=True)
    assert "Inga mejl med det utfallet." in page
    page = user.get("/mejl?utfall=<b>").get_data(as_text=True)  # unknown: every mail
    assert table(page, "9 mejl")


def test_the_log_pages_by_a_hundred(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    start = datetime(2017, 6, 1, 8, 0, tzinfo=UTC)
    with desk.ctx.sessions.begin() as db:
        for number in range(130):
            db.add(MessageRow(message_id=f"<m{number}@x.se>", sha256=f"{number:064d}", raw=b"From: a@x.se\r\n\r\nx",
                              size=17, received_at=start + timedelta(minutes=number), status="processed",
                              outcome="ignored", from_addr="a@x.se", subject=f"Mejl {number}"))
    user = desk.signed_in()
    first = user.get("/mejl").get_data(as_text=True)
    rows = table(first, "130 mejl, nyast först (sida 1 av 2)")[1:]
    assert len(rows) == 100 and rows[0][2] == "Mejl 129" and rows[-1][2] == "Mejl 30"
    assert 'href="/mejl?sida=2"' in first and "Föregående sida" not in first
    second = user.get("/mejl?sida=2").get_data(as_text=True)
    rows = table(second, "130 mejl, nyast först (sida 2 av 2)")[1:]
    assert len(rows) == 30 and rows[-1][2] == "Mejl 0"
    assert 'href="/mejl?sida=1"' in second and "Nästa sida" not in second
    filtered = user.get("/mejl?utfall=ignored&sida=2").get_data(as_text=True)
    assert 'href="/mejl?utfall=ignored&amp;sida=1"' in filtered
    assert "Inga mejl" in user.get("/mejl?sida=9").get_data(as_text=True)
    assert user.get("/mejl?sida=x").status_code == 200


# --- one mail, and its downloads ---------------------------------------------------------------


def test_the_message_page_shows_headers_body_outcome_attachments_replies_and_audit(desk: Desk) -> None:
    pk = message_pk(desk, "Protokollsutdrag Socialnämnden")
    page = desk.signed_in().get(f"/mejl/{pk}").get_data(as_text=True)
    assert "Bekräftat" in page and "KU-2017-0001" in page
    assert "lena.murray@stockholm.se" in page
    assert "Alla rubrikfält" in page and "<code>message-id</code>" in page
    assert 'class="mail"' in page
    files = table(page, "Bilagor i mejlet")
    assert files[1][0].endswith(".pdf") and files[1][3].startswith("Ladda ner")
    assert f'href="/mejl/{pk}/bilaga/0"' in page and f'href="/mejl/{pk}/bilaga/0?visa=1"' in page
    assert "Protokollsutdrag" in table(page, "Dokument som boten läste")[1][1]
    assert "Förstärkningsteamet" in page  # a matched unit
    assert "Automatiskt svar till lena.murray@stockholm.se" in page
    assert "Tack för protokollsutdraget!" in page  # the reply's text, parsed from its raw bytes
    with desk.ctx.sessions.begin() as db:
        reply_pk = db.scalar(select(ReplyRow.id).where(ReplyRow.message_pk == pk))
    assert f'href="/mejl/svar/{reply_pk}.eml"' in page
    audit = table(page, "Händelser i loggen")
    actions = [row[2] for row in audit[1:]]
    assert actions[:2] == ["message_stored", "message_processed"] and "reply_sent" in actions
    assert f'href="/mejl/{pk}/original.eml"' in page


def test_downloads_are_the_stored_bytes_exactly(desk: Desk) -> None:
    pk = message_pk(desk, "Protokollsutdrag Socialnämnden")
    with desk.ctx.sessions.begin() as db:
        row = db.get(MessageRow, pk)
        assert row is not None
        raw = bytes(row.raw)
        reply = db.scalars(select(ReplyRow).where(ReplyRow.message_pk == pk)).one()
        reply_pk, reply_raw = reply.id, bytes(reply.raw)
    user = desk.signed_in()

    response = user.get(f"/mejl/{pk}/original.eml")
    assert response.status_code == 200 and response.data == raw
    assert response.headers["Content-Type"] == "message/rfc822"
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="mejl-{pk}.eml"')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]

    [pdf] = list(parse_mail(raw).all_attachments())
    response = user.get(f"/mejl/{pk}/bilaga/0")
    assert response.status_code == 200 and response.data == pdf.data
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]

    shown = user.get(f"/mejl/{pk}/bilaga/0?visa=1")
    assert shown.status_code == 200 and shown.data == pdf.data
    assert shown.headers["Content-Type"] == "application/pdf"
    assert shown.headers["Content-Disposition"].startswith("inline;")
    assert shown.headers["Content-Security-Policy"].startswith("default-src 'none'")  # no script runs
    assert shown.headers["X-Content-Type-Options"] == "nosniff"

    response = user.get(f"/mejl/svar/{reply_pk}.eml")
    assert response.status_code == 200 and response.data == reply_raw
    assert f'filename="svar-{reply_pk}.eml"' in response.headers["Content-Disposition"]

    assert user.get(f"/mejl/{pk}/bilaga/1").status_code == 404
    assert user.get("/mejl/999999").status_code == 404
    assert user.get("/mejl/999999/original.eml").status_code == 404
    assert user.get("/mejl/svar/999999.eml").status_code == 404
    assert "Bilagan finns inte" in user.get(f"/mejl/{pk}/bilaga/7").get_data(as_text=True)


def test_a_hostile_file_name_and_content_are_handled_safely(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    evil = '../../etc/<script>alert("x")</script>.pdf'
    page_html = b"<html><script>alert('x')</script></html>"
    desk.deliver(mail("Ond <ond@example.org>", "Protokoll <b>fet</b>", "Hej <script>alert(1)</script>",
                      datetime(2017, 6, 1, 10, 0, tzinfo=STOCKHOLM),
                      [(evil, page_html, "application/pdf"), ("Ärende åäö.png", PNG, "image/png")]).raw)
    desk.poll()
    pk = message_pk(desk, "Protokoll <b>")
    user = desk.signed_in()

    page = user.get(f"/mejl/{pk}").get_data(as_text=True)
    assert "<script>alert" not in page and "<b>fet</b>" not in page
    assert "&lt;script&gt;alert" in page and "&lt;b&gt;fet&lt;/b&gt;" in page
    assert f'href="/mejl/{pk}/bilaga/0?visa=1"' not in page  # not a PDF, whatever the sender says
    assert f'href="/mejl/{pk}/bilaga/1?visa=1"' in page

    response = user.get(f"/mejl/{pk}/bilaga/0")
    assert response.data == page_html
    assert response.headers["Content-Type"] == "application/octet-stream"
    disposition = response.headers["Content-Disposition"]
    ascii_name = re.search(r'filename="([^"]*)"', disposition)
    utf8_name = re.search(r"filename\*=UTF-8''(\S+)", disposition)
    assert ascii_name and utf8_name
    for name in (ascii_name.group(1), unquote(utf8_name.group(1))):
        assert "/" not in name and "\\" not in name and "<" not in name and ">" not in name
        assert not name.startswith(".") and name.endswith(".pdf")
    refused = user.get(f"/mejl/{pk}/bilaga/0?visa=1")
    assert refused.status_code == 415
    assert refused.headers["Content-Type"].startswith("text/html")
    assert "<script>alert" not in refused.get_data(as_text=True)

    image = user.get(f"/mejl/{pk}/bilaga/1?visa=1")
    assert image.data == PNG and image.headers["Content-Type"] == "image/png"
    assert image.headers["Content-Security-Policy"] == "sandbox"
    assert "filename*=UTF-8''%C3%84rende%20%C3%A5%C3%A4%C3%B6.png" in image.headers["Content-Disposition"]
    assert 'filename="Arende aao.png"' in image.headers["Content-Disposition"]


def test_file_name_and_type_helpers() -> None:
    assert safe_filename("../../etc/passwd", "bilaga-1") == "passwd"
    assert safe_filename("C:\\Users\\x\\prot.pdf", "bilaga-1") == "prot.pdf"
    assert safe_filename("..", "bilaga-1") == "bilaga-1"
    assert safe_filename('a<b>"c".pdf', "x") == "a_b_c_.pdf"
    assert safe_filename("\x00\r\n", "bilaga-2") == "_"
    long = safe_filename("x" * 300 + ".pdf", "x")
    assert len(long) == 150 and long.endswith(".pdf")
    assert content_disposition("a b.pdf") == "attachment; filename=\"a b.pdf\"; filename*=UTF-8''a%20b.pdf"
    assert inline_type(PDF) == "application/pdf"
    assert inline_type(b"\r\n" + PDF) == "application/pdf"
    assert inline_type(PNG) == "image/png"
    assert inline_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert inline_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert inline_type(b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>') is None
    assert inline_type(b"<html>") is None


def test_a_mail_that_cannot_be_parsed_still_has_its_page_and_original(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    garbage = b"\x00\x01 not a mail at all \xff"
    with desk.ctx.sessions.begin() as db:
        row = MessageRow(message_id="<trasig@x.se>", sha256="f" * 64, raw=garbage, size=len(garbage),
                         received_at=datetime(2017, 6, 2, tzinfo=UTC), status="failed", outcome="needs_review",
                         error="Traceback: <boom>")
        db.add(row)
        db.flush()
        pk = row.id
    user = desk.signed_in()
    page = user.get(f"/mejl/{pk}").get_data(as_text=True)
    assert "Mejlet kunde inte tolkas" in page and "&lt;boom&gt;" in page
    assert "Behandlingen misslyckades" in page
    assert user.get(f"/mejl/{pk}/original.eml").data == garbage
    assert user.get(f"/mejl/{pk}/bilaga/0").status_code == 404
    log = user.get("/mejl").get_data(as_text=True)
    assert "(inget ämne)" in log and "Behandlingen misslyckades" in log


def test_the_reminder_download_and_the_overview_list(desk: Desk) -> None:
    user = desk.signed_in()
    follow(user, user.post("/oversikt/paminnelse", {"board": "Spånga-Tensta stadsdelsnämnd"}))
    [row] = reminders(desk)
    response = user.get(f"/mejl/svar/{row.id}.eml")
    assert response.data == row.raw
    assert f'filename="paminnelse-{row.id}.eml"' in response.headers["Content-Disposition"]
    page = user.get("/oversikt").get_data(as_text=True)
    assert f'href="/mejl/svar/{row.id}.eml"' in page
    with desk.ctx.sessions.begin() as db:
        assert db.scalar(select(func.count(ReplyRow.id)).where(ReplyRow.status == "queued")) == 1
    assert "1 i kö" in page
