"""The web desk in real headless Chromium: what a coordinator does, by the pages' labels and roles.

Locators are accessible names (get_by_label, get_by_role), so each test also proves that the
controls it uses are labelled. The desk runs behind waitress; see tests/browser.py.
"""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from intake.mailbox.maildir import deliver
from intake.samples import STOCKHOLM, mail, pdf_from_text, protocol_text
from intake.storage import reports, store
from intake.storage.models import AuditRow, MatchRow, MessageRow, ReplyRow
from tests.browser import LiveDesk, new_page, screenshot, sign_in
from tests.desk import PASSWORD, USER

pytest_plugins = ["tests.browser"]  # the fixtures: live_desk, live_register, browser, page

SUBJECT = "Protokollsutdrag Bromma SDN § 7"
SENDER = "sara.lind@stockholm.se"
MENTION = "Enh. för arbete o försörjn"  # as matched; the document reads "… försörjn."
UNIT = "Enheten för arbete och försörjning"
UNIT_ID = "BR-001"
SEASON_DAY = datetime(2017, 7, 4, 8, 0, tzinfo=UTC)  # the day after the season's last (late) mail


def field(scope: Locator | Page, term: str) -> Locator:
    """The <dd> after the <dt> that reads `term`, inside `scope`."""
    return scope.locator(f"xpath=.//dt[normalize-space()='{term}']/following-sibling::dd[1]")


def test_sign_in_refuses_a_wrong_password_and_lands_on_the_queue(live_desk: LiveDesk, page: Page) -> None:
    page.goto(live_desk.at("/"))
    expect(page).to_have_url(re.compile(r"/logga-in\?next=/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Logga in")
    page.get_by_label("Användarnamn").fill(USER)
    page.get_by_label("Lösenord").fill("fel-lösenord")
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("alert")).to_have_text("Fel användarnamn eller lösenord.")
    expect(page.get_by_label("Användarnamn")).to_have_value(USER)  # kept; the password is not
    expect(page.get_by_label("Lösenord")).to_have_value("")

    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Granskning")
    expect(page).to_have_title(re.compile(r"^Granskning – Kvalitetsutmärkelsen 2017"))
    expect(page.get_by_text("Inloggad som samordnare")).to_be_visible()
    menu = page.get_by_role("navigation", name="Huvudmeny")
    expect(menu.get_by_role("link", name="Granskning")).to_have_attribute("aria-current", "page")


def test_a_coordinator_accepts_the_unsure_match_and_the_unit_is_confirmed(live_desk: LiveDesk, page: Page) -> None:
    desk = live_desk.desk
    with desk.ctx.sessions.begin() as db:
        bromma = db.scalars(select(MessageRow).where(MessageRow.subject == SUBJECT)).one()
        pk = bromma.id
        score = next(match.score for match in db.scalars(select(MatchRow).where(MatchRow.message_pk == pk)))
    sign_in(page, live_desk)

    # the overview as it looked the day after the season's last mail (for the README's picture)
    real_clock, desk.ctx.clock = desk.ctx.clock, lambda: SEASON_DAY
    try:
        page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Översikt").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Översikt 2017")
        expect(page.get_by_text("Sista dagen passerade för 4 dagar sedan.")).to_be_visible()
        expect(page.get_by_role("link", name="2 ärenden att granska")).to_be_visible()
        screenshot(page, "oversikt.png")
    finally:
        desk.ctx.clock = real_clock

    # the queue: one mail, its sender and why
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Granskning").click()
    queue = page.get_by_role("table", name=re.compile("att granska"))
    row = queue.get_by_role("row").filter(has=page.get_by_role("link", name=SUBJECT))
    expect(row).to_contain_text("Sara Lind")
    expect(row).to_contain_text(SENDER)
    expect(row).to_contain_text(f"”{MENTION}” liknar {UNIT}")
    row.get_by_role("link", name=SUBJECT).click()

    # the item: the mail, what was read, the candidate with its score
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Granska mejl: {SUBJECT}")
    the_mail = page.get_by_role("region", name="Mejlet", exact=True)
    expect(field(the_mail, "Från")).to_have_text(f"Sara Lind <{SENDER}>")
    expect(field(the_mail, "Ämne")).to_have_text(SUBJECT)
    expect(the_mail.get_by_text("Bifogar protokollsutdrag enligt anvisningarna.")).to_be_visible()
    expect(the_mail).to_contain_text("Protokollsutdrag Bromma § 7.pdf")
    read = page.get_by_role("region", name="Vad boten läste", exact=True)
    expect(field(read, "Dokumenttyp")).to_contain_text("Protokollsutdrag")
    expect(field(read, "Nämnd eller styrelse")).to_contain_text("Bromma stadsdelsnämnd")
    expect(field(read, "Sammanträdesdag")).to_contain_text("14 juni 2017")
    expect(field(read, "Paragraf")).to_contain_text("§ 7")
    expect(field(read, "Beslut om deltagande")).to_contain_text("Ja")
    expect(field(read, "Enheter som nämns")).to_contain_text("Enh. för arbete o försörjn.")
    matched = page.get_by_role("table", name="Enheter som boten matchade")
    candidate = matched.get_by_role("row").filter(has_text=UNIT_ID)
    expect(candidate.get_by_role("cell")).to_have_text(
        [MENTION, f"{UNIT} ({UNIT_ID})", "Bromma stadsdelsnämnd", str(round(score, 1)), "Osäker",
         re.compile("Godkänn")])
    reply_box = candidate.get_by_role("checkbox", name="Skicka svar till avsändaren")
    expect(reply_box).to_be_checked()
    screenshot(page, "granskning.png")

    # the name's hidden part follows "Godkänn" (Chromium reads it with a space before the colon)
    accept = candidate.get_by_role("button", name=re.compile(rf"^Godkänn ?: ”{re.escape(MENTION)}” är {UNIT}$"))
    accept.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Granskning")
    expect(page.get_by_role("status")).to_contain_text(f"”{MENTION}” är nu {UNIT}. Mejlet är nu: Bekräftat.")
    expect(page.get_by_role("link", name="Protokollsutdrag Bromma SDN § 7")).to_have_count(0)
    expect(page.get_by_text("1 mejl att granska, äldst först")).to_be_visible()  # Solrosen's late extract

    # the register: the unit confirmed by that mail (found with the register's own filters)
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Register").click()
    page.get_by_label("Sök enhet eller enhets-ID").fill(UNIT_ID)
    page.get_by_label("Status").select_option(label="Bekräftad")
    page.get_by_role("button", name="Filtrera").click()
    register = page.get_by_role("table", name=re.compile("matchar filtret"))
    expect(register.get_by_role("row")).to_have_count(2)  # the header and the unit
    unit_row = register.get_by_role("row").filter(has=page.get_by_role("rowheader", name=re.compile(UNIT)))
    expect(unit_row).to_contain_text("Bekräftad")
    expect(unit_row).to_contain_text("Sammanträde 14 juni 2017, § 7")

    # the message log: the mail confirmed, the coordinator's answer queued, then sent
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Mejllogg").click()
    logged = page.get_by_role("row").filter(has=page.get_by_role("link", name=SUBJECT))
    expect(logged).to_contain_text("Bekräftat")
    expect(logged).to_contain_text("I kö")
    logged.get_by_role("link", name=SUBJECT).click()
    answers = page.get_by_role("region", name="Svar", exact=True)
    answer = answers.get_by_role("article", name=f"Svar efter granskning till {SENDER}")
    expect(field(answer, "Status")).to_have_text("I kö")
    expect(answer.get_by_label("Svarets text")).to_contain_text(f"- {UNIT}, tävlingsklass")
    desk.poll()  # the bot's next round sends what is in the outbox
    page.reload()
    expect(field(answer, "Status")).to_have_text("Skickat")

    with desk.ctx.sessions.begin() as db:
        unit = next(row for row in reports.status_report(db, 2017) if row["unit_id"] == UNIT_ID)
        assert unit["state"] == "confirmed"
        assert unit["protocol"]["paragraph"] == "§ 7" and unit["protocol"]["meeting_date"] == "2017-06-14"
        message = next(row for row in reports.messages_report(db) if row["subject"] == SUBJECT)
        assert message["outcome"] == "confirmed" and message["units"] == [UNIT_ID]
        assert message["reply_status"] == "sent"
        replies = db.scalars(select(ReplyRow).where(ReplyRow.message_pk == pk, ReplyRow.kind == "repeat")).all()
        assert [(reply.recipient, reply.status) for reply in replies] == [(SENDER, "sent")]
        assert [(alias.unit.unit_id, alias.alias) for alias in store.aliases(db, 2017)] == [(UNIT_ID, MENTION)]
        assert store.count_open_reviews(db) == 1  # Solrosen's late extract still waits
        decisions = db.scalars(select(AuditRow).where(AuditRow.action == "review_accept")).all()
        assert [(row.actor, row.detail["unit"]) for row in decisions] == [(f"web:{USER}", UNIT_ID)]


def test_the_register_downloads_as_xlsx_and_csv_with_swedish_text(live_desk: LiveDesk, page: Page,
                                                                  tmp_path: Path) -> None:
    sign_in(page, live_desk)
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Register").click()
    expect(page.get_by_role("table", name="10 enheter")).to_be_visible()

    with page.expect_download() as started:
        page.get_by_role("link", name="Exportera till Excel (.xlsx)").click()
    download = started.value
    assert download.suggested_filename == "register-2017.xlsx"
    xlsx = tmp_path / download.suggested_filename
    download.save_as(xlsx)
    workbook = openpyxl.load_workbook(xlsx, read_only=True)
    rows = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    workbook.close()
    header = rows[0]
    assert {"Enhet", "Tävlingsklass", "Förvaltning", "Nämnd", "Status"} <= set(header)
    by_name = {row[header.index("Enhet")]: row for row in rows[1:]}
    assert len(by_name) == 10
    bromma = by_name[UNIT]
    assert bromma[header.index("Status")] == "Granskas"
    assert bromma[header.index("Nämnd")] == "Bromma stadsdelsnämnd"
    assert by_name["Förstärkningsteamet"][header.index("Status")] == "Bekräftad"
    assert by_name["Enheten för verksamhetsutveckling"][header.index("Status")] == "Väntar på protokoll"
    assert by_name["Förskolan Solrosen"][header.index("Förvaltning")] == "Enskede-Årsta-Vantörs stadsdelsförvaltning"

    with page.expect_download() as started:
        page.get_by_role("link", name="Exportera som CSV (.csv)").click()
    download = started.value
    assert download.suggested_filename == "register-2017.csv"
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the file as UTF-8
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    header = table[0]
    assert header[:5] == ["År", "Enhet", "Tävlingsklass", "Förvaltning", "Nämnd"]
    by_name = {row[header.index("Enhet")]: row for row in table[1:]}
    assert len(by_name) == 10
    assert by_name[UNIT][header.index("Status")] == "Granskas"
    assert by_name[UNIT][header.index("Enhets-ID")] == UNIT_ID
    assert by_name["Förskolan Solrosen"][header.index("Nämnd")] == "Enskede-Årsta-Vantörs stadsdelsnämnd"


EVIL = "<script>alert('x')</script>"
EVIL_IMG = '<img src=x onerror="alert(1)">'
EVIL_FILE = "<script>alert(3)<img src=x onerror=alert(4)>.pdf"  # no "/": a file name keeps no folders


def test_html_in_a_mail_is_shown_as_text_and_never_runs(live_register: LiveDesk, browser: Browser) -> None:
    desk = live_register.desk
    # a protokollsutdrag whose unit the matcher is unsure of, so the mail waits on the queue
    document = protocol_text("Spånga-Tensta stadsdelsnämnd", date(2017, 6, 15), 15,
                             [("Enh. för verksamhetsutv.", "Andra verksamheter")], 2017)
    arrived = datetime(2017, 6, 21, 10, 0, tzinfo=STOCKHOLM)
    raw = mail(f'"{EVIL}{EVIL_IMG}" <ond@example.org>', f"Protokoll {EVIL}{EVIL_IMG}", f"Hej {EVIL}",
               arrived, [(EVIL_FILE, pdf_from_text(document), "application/pdf")]).raw
    maildir = Path(desk.settings.source.maildir)
    key = deliver(maildir, raw)
    os.utime(maildir / "new" / key, (arrived.timestamp(), arrived.timestamp()))  # before the deadline
    desk.poll()
    with desk.ctx.sessions.begin() as db:
        assert [row["outcome"] for row in reports.messages_report(db)] == ["needs_review"]

    # The pages' Content-Security-Policy would stop an inline script anyway; bypass it, so that
    # only the escaping stands between the mail and the browser.
    with new_page(browser, bypass_csp=True) as tab:
        dialogs: list[str] = []
        tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        sign_in(tab, live_register)
        subject = f"Protokoll {EVIL}{EVIL_IMG}"

        queue = tab.get_by_role("table", name=re.compile("att granska"))
        expect(queue.get_by_role("link", name=subject)).to_be_visible()
        expect(queue).to_contain_text(EVIL)  # the sender's name
        assert_inert(tab)
        queue.get_by_role("link", name=subject).click()

        expect(tab.get_by_role("heading", level=1)).to_have_text(f"Granska mejl: {subject}")
        the_mail = tab.get_by_role("region", name="Mejlet", exact=True)
        expect(field(the_mail, "Från")).to_contain_text(EVIL)
        expect(field(the_mail, "Ämne")).to_have_text(subject)
        expect(the_mail.get_by_label("Mejlets text")).to_have_text(f"Hej {EVIL}")
        expect(the_mail.get_by_text(EVIL_FILE, exact=True).first).to_be_visible()  # the attachment's name
        expect(the_mail.get_by_role("link", name=f"Hämta {EVIL_FILE}")).to_be_visible()
        assert_inert(tab)

        tab.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Mejllogg").click()
        log_row = tab.get_by_role("row").filter(has=tab.get_by_role("link", name=subject))
        expect(log_row).to_contain_text(EVIL)
        assert_inert(tab)
        log_row.get_by_role("link", name=subject).click()
        expect(tab.get_by_role("heading", level=1)).to_have_text(subject)
        files = tab.get_by_role("table", name="Bilagor i mejlet")
        expect(files.get_by_role("rowheader")).to_have_text(EVIL_FILE)
        expect(files.get_by_role("link", name=f"Ladda ner {EVIL_FILE}")).to_be_visible()
        assert_inert(tab)
        assert dialogs == []


def assert_inert(tab: Page) -> None:
    """The mail's markup is on the page as visible text, not as elements."""
    expect(tab.get_by_text("<script>", exact=False).first).to_be_visible()
    assert tab.locator("main script, main img[onerror], main [onerror]").count() == 0
    assert "<script>alert('x')</script>" in tab.locator("main").inner_text()


def test_the_keyboard_alone_signs_in_and_the_skip_link_comes_first(live_desk: LiveDesk, page: Page) -> None:
    page.goto(live_desk.at("/logga-in"))
    username = page.get_by_label("Användarnamn")
    expect(username).to_be_focused()  # autofocus
    page.keyboard.type(USER)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Lösenord")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Logga in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Granskning")

    for path in ("/", "/register/", "/oversikt", "/mejl"):
        page.goto(live_desk.at(path))
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Hoppa till innehållet")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()  # shown when focused
        page.keyboard.press("Enter")
        expect(page.get_by_role("main")).to_be_focused()
        page.keyboard.press("Tab")  # on into the page's content, past the menu
        assert page.evaluate("document.querySelector('main').contains(document.activeElement)"), path
