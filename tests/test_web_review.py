"""The review queue in the browser: the queue, one mail's page, and every action, through Flask's test client.

Real SQLite and pipeline (tests/desk.py). The demo leaves Bromma's extract in the queue: it names
"Enh. för arbete o försörjn.", which resembles BR-001 without being sure."""

from __future__ import annotations

import email
import re
from datetime import date, datetime
from email import policy
from email.utils import formataddr
from pathlib import Path

from sqlalchemy import select

from intake.pipeline.review import open_items
from intake.samples import STOCKHOLM, mail, pdf_from_text, protocol_text
from intake.storage.models import ReplyRow, ReviewItemRow, UnitRow
from intake.storage.reports import messages_report, status_report
from tests.desk import Desk, SignedIn, csrf_of, make_desk

MENTION = "Enh. för arbete o försörjn"
ACTIONS = ("godkann", "annan-enhet", "inte-protokoll", "ny-enhet", "avfarda", "svara")


def bromma(desk: Desk) -> tuple[int, int, str]:
    [item] = [item for item in open_items(desk.ctx) if "Bromma" in item.subject]
    return item.message_pk, item.item_id, item.message_id


def state_of(desk: Desk, unit_id: str) -> str:
    with desk.ctx.sessions.begin() as db:
        return str(next(u["state"] for u in status_report(db, 2017) if u["unit_id"] == unit_id))


def report_of(desk: Desk, message_id: str) -> dict[str, object]:
    with desk.ctx.sessions.begin() as db:
        return next(m for m in messages_report(db) if m["message_id"] == message_id)


def resolution_of(desk: Desk, item_id: int) -> tuple[str, str | None, str | None]:
    with desk.ctx.sessions.begin() as db:
        row = db.get_one(ReviewItemRow, item_id)
        return row.status, row.resolution, row.closed_by


def replies(desk: Desk, pk: int) -> list[tuple[str, str, bytes]]:
    with desk.ctx.sessions.begin() as db:
        return [(r.kind, r.status, r.raw) for r in db.scalars(
            select(ReplyRow).where(ReplyRow.message_pk == pk).order_by(ReplyRow.id))]


def decide(user: SignedIn, pk: int, action: str, **form: str) -> str:
    """POST one action; it must send the coordinator back to the queue, whose page is returned."""
    response = user.post(f"/granskning/{pk}/{action}", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"] == "/"
    return str(user.get("/").get_data(as_text=True))


def refused(user: SignedIn, pk: int, action: str, **form: str) -> str:
    """POST one action that can't be done: back to the mail's page, which says why."""
    response = user.post(f"/granskning/{pk}/{action}", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"] == f"/granskning/{pk}"
    return str(user.get(f"/granskning/{pk}").get_data(as_text=True))


def test_the_queue_lists_the_item_with_a_link_to_its_page(desk: Desk) -> None:
    pk, _, _ = bromma(desk)
    page = desk.signed_in().get("/").get_data(as_text=True)
    assert f'href="/granskning/{pk}"' in page
    assert "Protokollsutdrag Bromma SDN § 7" in page and "Sara Lind" in page
    assert "2 mejl att granska, äldst först" in page
    assert page.index("Bromma SDN § 7") < page.index("Protokollsutdrag förskolan Solrosen")  # oldest first


def test_signed_out_the_item_page_redirects_and_actions_are_forbidden(desk: Desk) -> None:
    pk, item_id, _ = bromma(desk)
    client = desk.client()
    response = client.get(f"/granskning/{pk}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/logga-in?next=")
    token = csrf_of(client.get("/logga-in").get_data(as_text=True))
    for action in ACTIONS:
        response = client.post(f"/granskning/{pk}/{action}",
                               data={"csrf_token": token, "item": str(item_id), "unit_id": "BR-001",
                                     "mention": MENTION, "reason": "x", "text": "x"})
        assert response.status_code == 403, action
        assert client.post(f"/granskning/{pk}/{action}", data={"unit_id": "BR-001"}).status_code in (400, 403)
    assert resolution_of(desk, item_id)[0] == "open"


def test_a_wrong_csrf_token_changes_nothing(desk: Desk) -> None:
    pk, item_id, _ = bromma(desk)
    user = desk.signed_in()
    for action in ACTIONS:
        response = user.client.post(f"/granskning/{pk}/{action}",
                                    data={"csrf_token": "wrong", "item": str(item_id), "unit_id": "BR-001",
                                          "mention": MENTION, "reason": "x", "text": "x"})
        assert response.status_code == 400, action
    assert resolution_of(desk, item_id) == ("open", None, None)
    assert state_of(desk, "BR-001") == "needs_review"


def test_the_item_page_shows_the_mail_what_was_read_and_the_candidates(desk: Desk) -> None:
    pk, item_id, message_id = bromma(desk)
    user = desk.signed_in()
    page = user.get(f"/granskning/{pk}").get_data(as_text=True)
    for text in ("Sara Lind", "sara.lind@stockholm.se", "Protokollsutdrag Bromma SDN § 7",
                 "Bifogar protokollsutdrag enligt anvisningarna", "Protokollsutdrag Bromma § 7.pdf",
                 "Enheten för arbete och försörjning", "BR-001", "87.5", "Osäker", "KU-2017-",
                 "Sammanträdesdag", "14 juni 2017", "Botens förslag", "återkommer till dig"):
        assert text in page, text
    assert '<mark class="f-committee" title="Nämnd eller styrelse' in page
    assert '<mark class="f-paragraph" title="Paragraf">§ 7</mark>' in page
    assert f'name="item" value="{item_id}"' in page
    assert page.count('name="csrf_token"') >= 7
    for action in ACTIONS:
        if action != "annan-enhet":  # offered with the register's units found by a search
            assert f'action="/granskning/{pk}/{action}"' in page
    # every form field has a label
    ids = set(re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', page))
    labelled = set(re.findall(r'<label for="([^"]+)"', page))
    assert ids and ids <= labelled
    if "overview.attachment" in desk.app.view_functions:
        assert f'<iframe class="document" src="/mejl/{pk}/bilaga/0?visa=1"' in page
    assert user.get("/granskning/999999").status_code == 404
    assert message_id.strip("<>") in page


def test_accepting_the_match_takes_effect_at_once(desk: Desk) -> None:
    pk, item_id, message_id = bromma(desk)
    before = len(replies(desk, pk))
    user = desk.signed_in()
    queue = decide(user, pk, "godkann", unit_id="BR-001", mention=MENTION, svara="1", item=str(item_id))
    assert "är nu Enheten för arbete och försörjning" in queue and "Bekräftat" in queue
    assert f'href="/granskning/{pk}"' not in queue and "1 mejl att granska" in queue
    assert resolution_of(desk, item_id) == ("resolved", "accepted", "web:samordnare")
    assert state_of(desk, "BR-001") == "confirmed"
    assert report_of(desk, message_id)["outcome"] == "confirmed"
    assert [(kind, status) for kind, status, _ in replies(desk, pk)[before:]] == [("repeat", "queued")]
    again = refused(user, pk, "godkann", unit_id="BR-001", mention=MENTION, svara="1", item=str(item_id))
    assert "redan avgjort av web:samordnare" in again


def test_accepting_without_a_reply(desk: Desk) -> None:
    pk, item_id, _ = bromma(desk)
    before = len(replies(desk, pk))
    decide(desk.signed_in(), pk, "godkann", unit_id="BR-001", mention=MENTION, item=str(item_id))
    assert len(replies(desk, pk)) == before
    assert state_of(desk, "BR-001") == "confirmed"


def test_another_unit_is_found_by_search_and_chosen(desk: Desk) -> None:
    pk, item_id, message_id = bromma(desk)
    with desk.ctx.sessions.begin() as db:
        db.add(UnitRow(unit_id="BR-002", year=2017, name="Enheten för arbete och integration",
                       award_class="Andra verksamheter", administration="Bromma stadsdelsförvaltning",
                       board="Bromma stadsdelsnämnd"))
    user = desk.signed_in()
    page = user.get(f"/granskning/{pk}?sok=integration").get_data(as_text=True)
    assert f'action="/granskning/{pk}/annan-enhet"' in page
    assert 'type="radio" id="enhet-1" name="unit_id" value="BR-002"' in page
    assert re.search(r"\d+ träff(ar)? för ”integration”", page)
    none = user.get(f"/granskning/{pk}?sok=zzzzqqq").get_data(as_text=True)
    assert "Inga enheter i registret liknar" in none
    assert "Välj en enhet" in refused(user, pk, "annan-enhet", mention=MENTION, item=str(item_id))
    decide(user, pk, "annan-enhet", unit_id="BR-002", mention=MENTION, svara="1", item=str(item_id))
    assert resolution_of(desk, item_id)[1] == "other_unit"
    assert report_of(desk, message_id)["units"] == ["BR-002"]
    assert state_of(desk, "BR-002") == "confirmed"


def test_marking_not_a_protocol(desk: Desk) -> None:
    pk, item_id, message_id = bromma(desk)
    queue = decide(desk.signed_in(), pk, "inte-protokoll", svara="1", item=str(item_id))
    assert "inte ett protokollsutdrag" in queue and "Avsändaren får ett svar" in queue
    report = report_of(desk, message_id)
    assert report["outcome"] == "incomplete" and report["missing"] == ["not_protocol"]
    assert state_of(desk, "BR-001") == "awaiting_protocol"
    assert resolution_of(desk, item_id)[1] == "not_protocol"
    kind, status, raw = replies(desk, pk)[-1]
    assert (kind, status) == ("repeat", "queued")
    assert report["reply_message_id"] is not None


def test_adding_a_unit_from_the_mention(desk: Desk) -> None:
    pk, item_id, message_id = bromma(desk)
    user = desk.signed_in()
    page = user.get(f"/granskning/{pk}").get_data(as_text=True)
    assert f'id="ny-name" name="name" required value="{MENTION}"' in page
    assert 'id="ny-board" name="board" required value="Bromma stadsdelsnämnd"' in page
    form = {"mention": MENTION, "name": "Arbete och försörjning Bromma",
            "administration": "Bromma stadsdelsförvaltning", "board": "Bromma stadsdelsnämnd", "operator": "",
            "contact_email": "", "svara": "1", "item": str(item_id)}
    assert "Fyll i tävlingsklass" in refused(user, pk, "ny-enhet", **form)
    assert resolution_of(desk, item_id)[0] == "open"
    queue = decide(user, pk, "ny-enhet", award_class="Socialtjänst samt stöd och service till personer med "
                   "funktionsnedsättning (inkl. myndighetsutövning)", **form)
    assert "Arbete och försörjning Bromma är tillagd i registret" in queue
    assert resolution_of(desk, item_id)[1] == "unit_added"
    with desk.ctx.sessions.begin() as db:
        added = db.scalars(select(UnitRow).where(UnitRow.name == "Arbete och försörjning Bromma")).one()
        unit_id = added.unit_id
    units = report_of(desk, message_id)["units"]
    assert isinstance(units, list) and unit_id in units


def test_dismissing_needs_a_reason(desk: Desk) -> None:
    pk, item_id, message_id = bromma(desk)
    user = desk.signed_in()
    before = len(replies(desk, pk))
    assert "Skriv varför ärendet avfärdas." in refused(user, pk, "avfarda", reason=" ", item=str(item_id))
    queue = decide(user, pk, "avfarda", reason="Hanterat per telefon", item=str(item_id))
    assert "avfärdad utan svar" in queue
    assert resolution_of(desk, item_id) == ("resolved", "dismissed", "web:samordnare")
    assert len(replies(desk, pk)) == before
    assert report_of(desk, message_id)["outcome"] == "needs_review"


def test_an_edited_reply_goes_to_the_outbox(desk: Desk) -> None:
    pk, item_id, message_id = bromma(desk)
    user = desk.signed_in()
    assert "Svaret är tomt" in refused(user, pk, "svara", text="  ", item=str(item_id))
    decide(user, pk, "svara", text="Hej!\r\nVi behöver det justerade utdraget. <b>Tack</b>", item=str(item_id))
    assert resolution_of(desk, item_id)[1] == "replied"
    kind, status, raw = replies(desk, pk)[-1]
    assert (kind, status) == ("manual", "queued")
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["In-Reply-To"] == message_id and parsed.get_content_type() == "text/plain"
    body = parsed.get_body(("plain",))  # type: ignore[attr-defined]
    assert body is not None and "Vi behöver det justerade utdraget. <b>Tack</b>" in body.get_content()
    assert report_of(desk, message_id)["reply_status"] == "queued"


def test_mail_content_is_shown_escaped_on_the_queue_and_the_item_page(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    evil = "<script>alert('x')</script>"
    image = '<img src=x onerror="alert(1)">'
    named = "<img src=x onerror=alert(2)>"  # a file name keeps no "/": the parser takes what follows one
    text = protocol_text("Bromma stadsdelsnämnd", date(2017, 6, 14), 7,
                         [(MENTION + ".", "Socialtjänst")], 2017) + f"\n{image}\n"
    desk.deliver(mail(formataddr((evil, "ond@example.org")), f"Protokoll {evil}", f"Hej {evil} {image}",
                      datetime(2017, 6, 1, 10, 0, tzinfo=STOCKHOLM),
                      [(f"{named}.pdf", pdf_from_text(text), "application/pdf")]).raw)
    desk.poll()
    [item] = [item for item in open_items(desk.ctx) if item.sender_name == evil]
    user = desk.signed_in()
    for path in ("/", f"/granskning/{item.message_pk}"):
        page = user.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert(" in page, path
    page = user.get(f"/granskning/{item.message_pk}").get_data(as_text=True)
    assert "&lt;img src=x onerror=" in page
    assert "Protokoll &lt;script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;.pdf" in page  # the attachment's name


def test_a_late_extract_is_counted_from_its_page(desk: Desk) -> None:
    [item] = [item for item in open_items(desk.ctx) if "Solrosen" in item.subject]
    user = desk.signed_in()
    page = user.get(f"/granskning/{item.message_pk}").get_data(as_text=True)
    assert "Kom in efter sista dag" in page and "Räkna protokollsutdraget trots att det kom sent" in page
    queue = decide(user, item.message_pk, "sent-godkant", svara="1", item=str(item.item_id))
    assert "Det sena protokollsutdraget räknas" in queue and "Bekräftat" in queue
    assert state_of(desk, "EAV-001") == "confirmed"
    assert resolution_of(desk, item.item_id) == ("resolved", "accepted", "web:samordnare")
    refused = user.client.post(f"/granskning/{item.message_pk}/sent-godkant", data={"csrf_token": "fel"})
    assert refused.status_code == 400
