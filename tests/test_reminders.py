"""Reminders to the committees still missing a protokollsutdrag: text, guards, outbox, automatic."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.cli import template_dir
from intake.domain import Unit
from intake.outbox.files import FileMailer
from intake.parsing import parse_mail
from intake.pipeline import reminders as reminders_module
from intake.pipeline import send_due
from intake.pipeline.reminders import (
    auto_reminder_key,
    check_auto_reminder,
    contact_addresses,
    missing_committees,
    queue_reminders,
)
from intake.replies import ReplyRenderer, compose_reminder, reminder_subject
from intake.storage import store
from intake.storage.models import AuditRow, ReplyRow, UnitRow
from tests.desk import Desk, make_desk

SOCIAL = "Socialnämnden"
SOCIAL_CONTACTS = ["info@misa.example", "info@resursteamet.example", "registrator.soc@stockholm.se"]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def desk_at(tmp_path: Path, database_url: str, now: datetime, web: str = "") -> tuple[Desk, Clock]:
    """The register imported, no mails: every unit awaits its protokollsutdrag."""
    desk = make_desk(tmp_path, database_url, mails=False, web=web)
    clock = Clock(now)
    desk.ctx.clock = clock
    return desk, clock


def reminder_rows(desk: Desk) -> list[ReplyRow]:
    with desk.ctx.sessions.begin() as db:
        rows = list(db.scalars(select(ReplyRow).where(ReplyRow.kind == "reminder").order_by(ReplyRow.id)))
        db.expunge_all()
    return rows


def unit(name: str, award_class: str = "Förskola") -> Unit:
    return Unit(unit_id=name[:3], year=2017, name=name, award_class=award_class,
                administration="Enskede-Årsta-Vantörs stadsdelsförvaltning",
                board="Enskede-Årsta-Vantörs stadsdelsnämnd", operator="kommunal", contact_email=None)


def compose(desk: Desk, now: datetime, units: list[Unit]) -> bytes:
    award = desk.settings.award
    return compose_reminder(
        ReplyRenderer(template_dir()), to_address="registrator.eav@stockholm.se",
        board="Enskede-Årsta-Vantörs stadsdelsnämnd", units=units, award=award,
        sender="Kvalitetsutmärkelsen <kvalitetsutmarkelsen@stockholm.se>",
        reply_to_address=award.mailbox, now=now,
    ).raw


# --- the mail ------------------------------------------------------------------------------


def test_contact_addresses_are_read_from_the_register_field() -> None:
    assert contact_addresses("Registrator.SOC@stockholm.se") == ["registrator.soc@stockholm.se"]
    assert contact_addresses("Anna Ek <anna.ek@stockholm.se>; b@x.se, anna.ek@stockholm.se") == [
        "anna.ek@stockholm.se", "b@x.se"]
    assert contact_addresses("") == [] and contact_addresses(None) == []
    assert contact_addresses("ingen adress") == []
    assert contact_addresses("åsa@stockholm.se") == []  # SMTP without SMTPUTF8 can't carry it


def test_the_reminder_is_swedish_names_the_units_the_deadline_and_how_to_send(
        tmp_path: Path, database_url: str) -> None:
    desk, _ = desk_at(tmp_path, database_url, datetime(2017, 6, 20, 8, tzinfo=UTC))
    raw = compose(desk, datetime(2017, 6, 20, 8, tzinfo=UTC),
                  [unit("Förskolan Solrosen"), unit("Äppelgårdens förskola")])
    mail = parse_mail(raw)
    assert mail.subject == reminder_subject(2017, "Enskede-Årsta-Vantörs stadsdelsnämnd")
    assert mail.subject == "Påminnelse: protokollsutdrag för Kvalitetsutmärkelsen 2017 – Enskede-Årsta-Vantörs stadsdelsnämnd"
    assert mail.to == ("registrator.eav@stockholm.se",)
    assert mail.header("auto-submitted") == "auto-generated"
    assert mail.header("content-language") == "sv"
    assert mail.in_reply_to is None and mail.references == ()
    text = mail.text_body
    assert text.startswith("Hej!\n\nDet här är en påminnelse från Kvalitetsutmärkelsen")
    assert "De här enheterna under Enskede-Årsta-Vantörs stadsdelsnämnd är anmälda" in text
    assert "- Förskolan Solrosen, tävlingsklass Förskola\n- Äppelgårdens förskola, tävlingsklass Förskola" in text
    assert "senast den 30 juni 2017" in text
    assert "svara på det här mejlet, eller skriv till kvalitetsutmarkelsen@stockholm.se" in text
    assert "Ett tjänsteutlåtande räcker inte" in text and "justerat" in text
    assert "\n\n\n" not in text
    assert "<li>Äppelgårdens förskola, tävlingsklass Förskola</li>" in mail.html_body
    assert 'lang="sv"' in mail.html_body


def test_the_reminder_on_and_after_the_deadline_day(tmp_path: Path, database_url: str) -> None:
    desk, _ = desk_at(tmp_path, database_url, datetime(2017, 6, 20, tzinfo=UTC))
    # 22:30 UTC on 29 June is already the deadline day in Stockholm
    text = parse_mail(compose(desk, datetime(2017, 6, 29, 22, 30, tzinfo=UTC), [unit("Förskolan Solrosen")])).text_body
    assert "I dag, den 30 juni 2017, är sista dagen för protokollsutdrag." in text
    assert "Den här enheten under Enskede-Årsta-Vantörs stadsdelsnämnd är anmäld" in text
    text = parse_mail(compose(desk, datetime(2017, 7, 3, 9, tzinfo=UTC), [unit("Förskolan Solrosen")])).text_body
    assert "Sista dagen för protokollsutdrag var den 30 juni 2017. Skicka protokollsutdraget så snart som möjligt." in text


def test_html_in_register_names_is_escaped_in_the_html_part(tmp_path: Path, database_url: str) -> None:
    desk, _ = desk_at(tmp_path, database_url, datetime(2017, 6, 20, tzinfo=UTC))
    mail = parse_mail(compose(desk, datetime(2017, 6, 20, tzinfo=UTC), [unit("<b>Fet</b> förskola")]))
    assert "&lt;b&gt;Fet&lt;/b&gt; förskola" in mail.html_body and "<b>Fet" not in mail.html_body
    assert "- <b>Fet</b> förskola" in mail.text_body


# --- queueing and the guard ------------------------------------------------------------------


def test_the_missing_committees_with_their_units_and_distinct_contacts(tmp_path: Path, database_url: str) -> None:
    desk, _ = desk_at(tmp_path, database_url, datetime(2017, 6, 20, tzinfo=UTC))
    with desk.ctx.sessions.begin() as db:
        committees = {c.board: c for c in missing_committees(desk.ctx, db)}
    assert len(committees) == 5
    social = committees[SOCIAL]
    assert len(social.units) == 5 and sorted(social.contacts) == SOCIAL_CONTACTS
    assert social.last_reminded is None


def test_one_reminder_per_address_listing_the_committees_units(tmp_path: Path, database_url: str) -> None:
    now = datetime(2017, 6, 20, 8, tzinfo=UTC)
    desk, clock = desk_at(tmp_path, database_url, now)
    report = queue_reminders(desk.ctx, "web:samordnare", [SOCIAL])
    assert sorted(report.queued[SOCIAL]) == SOCIAL_CONTACTS and not report.recent
    rows = reminder_rows(desk)
    assert sorted(row.recipient for row in rows) == SOCIAL_CONTACTS
    for row in rows:
        assert (row.kind, row.status, row.message_pk, row.created_at) == ("reminder", "queued", None, now)
        text = parse_mail(row.raw).text_body
        for name in ("Förstärkningsteamet", "Korttidshemmet Drömmen", "Resursteamet Alvik Väst",
                     "Misa Blackeberg", "Misa Bondegatan"):
            assert f"- {name}, tävlingsklass" in text
    with desk.ctx.sessions.begin() as db:
        audit = db.scalars(select(AuditRow).where(AuditRow.action == "reminder_queued")).all()
        assert sorted(a.detail["to"] for a in audit) == SOCIAL_CONTACTS
        assert {a.actor for a in audit} == {"web:samordnare"} and {a.detail["board"] for a in audit} == {SOCIAL}
        assert [c.last_reminded for c in missing_committees(desk.ctx, db) if c.board == SOCIAL] == [now]

    clock.now = now + timedelta(hours=23, minutes=59)
    again = queue_reminders(desk.ctx, "web:samordnare", [SOCIAL])
    assert not again.queued and sorted(again.recent[SOCIAL]) == SOCIAL_CONTACTS
    assert len(reminder_rows(desk)) == 3

    clock.now = now + timedelta(days=1, seconds=1)
    assert sorted(queue_reminders(desk.ctx, "web:samordnare", [SOCIAL]).queued[SOCIAL]) == SOCIAL_CONTACTS
    assert len(reminder_rows(desk)) == 6


def test_the_guard_is_per_committee(tmp_path: Path, database_url: str) -> None:
    desk, _ = desk_at(tmp_path, database_url, datetime(2017, 6, 20, 8, tzinfo=UTC))
    with desk.ctx.sessions.begin() as db:
        for row in db.scalars(select(UnitRow).where(UnitRow.board == "Bromma stadsdelsnämnd")):
            row.contact_email = "registrator.soc@stockholm.se"  # the same address for two committees
    report = queue_reminders(desk.ctx, "bot", [SOCIAL, "Bromma stadsdelsnämnd"])
    assert report.queued["Bromma stadsdelsnämnd"] == ["registrator.soc@stockholm.se"]
    assert "registrator.soc@stockholm.se" in report.queued[SOCIAL]


def test_confirmed_units_are_not_reminded_about(tmp_path: Path, database_url: str) -> None:
    desk, _ = desk_at(tmp_path, database_url, datetime(2017, 6, 20, 8, tzinfo=UTC))
    with desk.ctx.sessions.begin() as db:
        for row in db.scalars(select(UnitRow).where(UnitRow.board == SOCIAL)):
            row.state = "needs_review" if row.unit_id == "SOC-001" else "confirmed"
        row = db.scalars(select(UnitRow).where(UnitRow.unit_id == "SK-001")).one()
        row.state = "confirmed"
    report = queue_reminders(desk.ctx, "bot")
    assert SOCIAL not in report.queued and "Skarpnäcks stadsdelsnämnd" not in report.queued
    assert sorted(report.queued) == ["Bromma stadsdelsnämnd", "Enskede-Årsta-Vantörs stadsdelsnämnd",
                                     "Spånga-Tensta stadsdelsnämnd"]
    assert queue_reminders(desk.ctx, "bot", [SOCIAL]).unknown == [SOCIAL]


def test_the_reply_budget_holds_a_reminder_back(tmp_path: Path, database_url: str) -> None:
    now = datetime(2017, 6, 20, 8, tzinfo=UTC)
    desk, _ = desk_at(tmp_path, database_url, now)
    with desk.ctx.sessions.begin() as db:
        for number in range(desk.settings.outbox.replies_per_hour):
            db.add(ReplyRow(message_pk=None, kind="manual", message_id=f"<r{number}@stockholm.se>",
                            sender="kvalitetsutmarkelsen@stockholm.se", recipient="registrator.bromma@stockholm.se",
                            subject="x", raw=b"x", status="sent", created_at=now - timedelta(minutes=5)))
    report = queue_reminders(desk.ctx, "bot", ["Bromma stadsdelsnämnd"])
    assert report.held == {"Bromma stadsdelsnämnd": ["registrator.bromma@stockholm.se"]}
    [row] = reminder_rows(desk)
    assert row.status == "held" and "Svarsgränsen" in (row.last_error or "")


def test_reminders_are_sent_by_the_outbox(tmp_path: Path, database_url: str) -> None:
    desk, _ = desk_at(tmp_path, database_url, datetime(2017, 6, 20, 8, tzinfo=UTC))
    queue_reminders(desk.ctx, "web:samordnare", ["Spånga-Tensta stadsdelsnämnd"])
    outbox = tmp_path / "sent"
    assert send_due(desk.ctx, FileMailer(outbox)) == 1
    [row] = reminder_rows(desk)
    assert row.status == "sent" and row.sent_at == datetime(2017, 6, 20, 8, tzinfo=UTC)
    [written] = outbox.glob("*.eml")
    assert written.read_bytes() == row.raw
    assert "Enheten för verksamhetsutveckling" in parse_mail(written.read_bytes()).text_body
    assert send_due(desk.ctx, FileMailer(outbox)) == 0  # sent once


# --- the automatic reminder ---------------------------------------------------------------------


def test_the_automatic_reminder_is_off_by_default(tmp_path: Path, database_url: str) -> None:
    desk, _ = desk_at(tmp_path, database_url, datetime(2017, 6, 29, 8, tzinfo=UTC))
    assert desk.settings.web.reminder_days == 0
    assert check_auto_reminder(desk.ctx) == 0
    desk.poll()
    assert reminder_rows(desk) == []
    with desk.ctx.sessions.begin() as db:
        assert store.setting(db, auto_reminder_key(2017)) is None


@pytest.mark.parametrize(("now", "due"), [
    (datetime(2017, 6, 22, 21, 59, tzinfo=UTC), False),  # 23:59 on 22 June in Stockholm: 8 days before
    (datetime(2017, 6, 22, 22, 0, tzinfo=UTC), True),  # midnight: 7 days before the deadline
    (datetime(2017, 6, 30, 21, 59, tzinfo=UTC), True),  # the deadline day's last minute
    (datetime(2017, 6, 30, 22, 0, tzinfo=UTC), False),  # 1 July in Stockholm: too late
])
def test_the_automatic_reminder_window_is_in_the_award_time_zone(
        tmp_path: Path, database_url: str, now: datetime, due: bool) -> None:
    desk, _ = desk_at(tmp_path, database_url, now, web="reminder_days = 7")
    assert (check_auto_reminder(desk.ctx) > 0) is due
    assert bool(reminder_rows(desk)) is due


def test_the_automatic_reminder_goes_out_once_a_year(tmp_path: Path, database_url: str) -> None:
    now = datetime(2017, 6, 25, 6, tzinfo=UTC)
    desk, clock = desk_at(tmp_path, database_url, now, web="reminder_days = 7")
    assert check_auto_reminder(desk.ctx) == 7  # every committee's every distinct contact
    rows = reminder_rows(desk)
    assert {parse_mail(row.raw).subject.rsplit("– ", 1)[1] for row in rows} == {
        SOCIAL, "Spånga-Tensta stadsdelsnämnd", "Bromma stadsdelsnämnd", "Skarpnäcks stadsdelsnämnd",
        "Enskede-Årsta-Vantörs stadsdelsnämnd"}
    with desk.ctx.sessions.begin() as db:
        assert store.setting(db, auto_reminder_key(2017)) == now.isoformat()
        audit = db.scalars(select(AuditRow).where(AuditRow.action.in_(("reminder_queued", "auto_reminder")))).all()
        assert {a.actor for a in audit} == {"bot"}
        assert [a.subject for a in audit if a.action == "auto_reminder"] == ["year:2017"]
    clock.now = now + timedelta(days=2)  # still in the window, days after the guard lapsed
    assert check_auto_reminder(desk.ctx) == 0
    assert len(reminder_rows(desk)) == 7


def test_the_automatic_reminder_skips_addresses_a_coordinator_reminded_today(
        tmp_path: Path, database_url: str) -> None:
    now = datetime(2017, 6, 25, 6, tzinfo=UTC)
    desk, clock = desk_at(tmp_path, database_url, now, web="reminder_days = 7")
    queue_reminders(desk.ctx, "web:samordnare", ["Bromma stadsdelsnämnd"])
    clock.now = now + timedelta(hours=3)
    assert check_auto_reminder(desk.ctx) == 6
    assert [r.recipient for r in reminder_rows(desk)].count("registrator.bromma@stockholm.se") == 1


def test_the_daemon_sends_the_automatic_reminder_on_its_poll(tmp_path: Path, database_url: str) -> None:
    desk, _ = desk_at(tmp_path, database_url, datetime(2017, 6, 26, 6, tzinfo=UTC), web="reminder_days = 5")
    desk.poll()
    rows = reminder_rows(desk)
    assert len(rows) == 7 and {row.status for row in rows} == {"sent"}
    written = sorted(Path(desk.settings.outbox.path).glob("*.eml"))
    assert sorted(path.read_bytes() for path in written) == sorted(row.raw for row in rows)
    desk.poll()
    assert len(reminder_rows(desk)) == 7


def test_a_failing_automatic_reminder_never_stops_the_poll(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    desk, _ = desk_at(tmp_path, database_url, datetime(2017, 6, 26, 6, tzinfo=UTC), web="reminder_days = 5")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("template broken")

    monkeypatch.setattr(reminders_module, "compose_reminder", broken)
    with caplog.at_level(logging.ERROR):
        desk.poll()
    assert "automatic reminder failed" in caplog.text
    assert reminder_rows(desk) == []
    with desk.ctx.sessions.begin() as db:
        assert store.setting(db, auto_reminder_key(2017)) is None  # tried again on the next poll
    monkeypatch.undo()
    desk.poll()
    assert len(reminder_rows(desk)) == 7


def test_the_overview_says_when_the_automatic_reminder_went_out(tmp_path: Path, database_url: str) -> None:
    desk, _ = desk_at(tmp_path, database_url, datetime(2017, 6, 26, 6, tzinfo=UTC), web="reminder_days = 5")
    user = desk.signed_in()
    page = user.get("/oversikt").get_data(as_text=True)
    assert "på, 5 dagar före sista dagen (från 25 juni 2017)" in page and "inte skickad ännu" in page
    assert "4 dagar kvar till sista dagen." in page
    check_auto_reminder(desk.ctx)
    page = user.get("/oversikt").get_data(as_text=True)
    assert "skickades 2017-06-26 08:00" in page
    assert date(2017, 6, 30) == desk.settings.award.protocol_deadline
