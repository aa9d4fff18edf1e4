"""The coordinators' decisions in intake.pipeline.review, on the demo's season (real SQLite, real pipeline).

The demo leaves two mails in the review queue: Bromma's extract names "Enh. för arbete o
försörjn.", which resembles BR-001 (Enheten för arbete och försörjning) without being sure;
Enskede-Årsta-Vantör's extract for Förskolan Solrosen came after the deadline."""

from __future__ import annotations

import email
from email import policy

import pytest
from sqlalchemy import select

from intake.domain import MailboxRef, RawMail, Unit
from intake.pipeline import process
from intake.pipeline.ingest import store_raw
from intake.pipeline.review import (
    ReviewError,
    accept_late,
    accept_match,
    add_unit_from_mention,
    dismiss,
    highlight,
    mark_not_protocol,
    open_items,
    reply_draft,
    review_item,
    search_units,
    send_manual_reply,
)
from intake.storage import store
from intake.storage.models import AliasRow, AuditRow, MessageRow, ReplyRow, ReviewItemRow, UnitRow
from intake.storage.reports import messages_report, status_report
from tests.bot import protocol_mail
from tests.desk import Desk

ACTOR = "web:samordnare"
MENTION = "Enh. för arbete o försörjn"


def bromma(desk: Desk) -> tuple[int, int, str]:
    """(message pk, review item id, Message-ID) of the demo's review item about Bromma's extract."""
    [item] = [item for item in open_items(desk.ctx) if "Bromma" in item.subject]
    return item.message_pk, item.item_id, item.message_id


def unit(desk: Desk, unit_id: str) -> dict[str, object]:
    with desk.ctx.sessions.begin() as db:
        return next(u for u in status_report(db, 2017) if u["unit_id"] == unit_id)


def message(desk: Desk, message_id: str) -> dict[str, object]:
    with desk.ctx.sessions.begin() as db:
        return next(m for m in messages_report(db) if m["message_id"] == message_id)


def items_of(desk: Desk, pk: int) -> list[tuple[str, str | None, str | None]]:
    with desk.ctx.sessions.begin() as db:
        rows = db.scalars(select(ReviewItemRow).where(ReviewItemRow.message_pk == pk).order_by(ReviewItemRow.id))
        return [(row.status, row.resolution, row.closed_by) for row in rows]


def replies_of(desk: Desk, pk: int) -> list[ReplyRow]:
    with desk.ctx.sessions.begin() as db:
        rows = list(db.scalars(select(ReplyRow).where(ReplyRow.message_pk == pk).order_by(ReplyRow.id)))
        db.expunge_all()
        return rows


def audited(desk: Desk, action: str) -> list[AuditRow]:
    with desk.ctx.sessions.begin() as db:
        rows = list(db.scalars(select(AuditRow).where(AuditRow.action == action)))
        db.expunge_all()
        return rows


def text_of(reply: ReplyRow) -> str:
    parsed = email.message_from_bytes(reply.raw, policy=policy.default)
    body = parsed.get_body(("plain",))  # type: ignore[attr-defined]
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def test_the_demo_leaves_bromma_in_review(desk: Desk) -> None:
    pk, _, message_id = bromma(desk)
    assert message(desk, message_id)["outcome"] == "needs_review"
    assert message(desk, message_id)["unsure_units"] == ["BR-001"]
    assert unit(desk, "BR-001")["state"] == "needs_review"


def test_accepting_the_match_confirms_the_unit_and_answers(desk: Desk) -> None:
    pk, item_id, message_id = bromma(desk)
    before = len(replies_of(desk, pk))
    outcome = accept_match(desk.ctx, pk, "BR-001", MENTION, ACTOR, item_id=item_id)
    assert outcome == "confirmed"
    assert unit(desk, "BR-001")["state"] == "confirmed"
    report = message(desk, message_id)
    assert report["outcome"] == "confirmed" and report["units"] == ["BR-001"]
    assert items_of(desk, pk) == [("resolved", "accepted", ACTOR)]
    replies = replies_of(desk, pk)
    assert len(replies) == before + 1 and replies[-1].kind == "repeat" and replies[-1].status == "queued"
    with desk.ctx.sessions.begin() as db:
        assert [a.alias for a in db.scalars(select(AliasRow))] == [MENTION]
    assert [item for item in open_items(desk.ctx) if "Bromma" in item.subject] == []
    assert audited(desk, "review_accept")[0].actor == ACTOR


def test_a_decision_on_an_item_already_closed_is_refused(desk: Desk) -> None:
    pk, item_id, _ = bromma(desk)
    dismiss(desk.ctx, pk, "Dubblett", ACTOR, item_id=item_id)
    with pytest.raises(ReviewError, match="redan avgjort av web:samordnare"):
        accept_match(desk.ctx, pk, "BR-001", MENTION, "web:annan", item_id=item_id)
    assert unit(desk, "BR-001")["state"] == "needs_review"


def test_another_unit_can_be_chosen(desk: Desk) -> None:
    pk, item_id, message_id = bromma(desk)
    with desk.ctx.sessions.begin() as db:
        store.upsert_units(db, [Unit("BR-002", 2017, "Enheten för arbete och integration", "Andra verksamheter",
                                     "Bromma stadsdelsförvaltning", "Bromma stadsdelsnämnd")], "test")
    outcome = accept_match(desk.ctx, pk, "BR-002", MENTION, ACTOR, resolution="other_unit", item_id=item_id)
    assert items_of(desk, pk) == [("resolved", "other_unit", ACTOR)]
    report = message(desk, message_id)
    assert report["units"] == ["BR-002"] and report["unsure_units"] == []
    assert outcome == "incomplete" and report["missing"] == ["registered_unit_missing"]  # BR-001 not named
    assert unit(desk, "BR-002")["state"] == "confirmed"
    assert unit(desk, "BR-001")["state"] == "awaiting_protocol"


def test_a_unit_of_another_committee_leaves_the_mail_in_review(desk: Desk) -> None:
    """Bromma's committee does not decide for Spånga-Tensta's units: the matcher stays unsure, so
    the mail is reviewed again (the alias is kept for mails of that committee)."""
    pk, item_id, _ = bromma(desk)
    outcome = accept_match(desk.ctx, pk, "ST-002", MENTION, ACTOR, resolution="other_unit", item_id=item_id)
    assert outcome == "needs_review"
    assert [status for status, _, _ in items_of(desk, pk)] == ["resolved", "open"]


def test_not_a_protocol_releases_the_units_and_sends_the_notice(desk: Desk) -> None:
    pk, item_id, message_id = bromma(desk)
    queued = mark_not_protocol(desk.ctx, pk, ACTOR, item_id=item_id)
    report = message(desk, message_id)
    assert report["outcome"] == "incomplete" and report["missing"] == ["not_protocol"]
    assert report["units"] == [] and report["unsure_units"] == []
    assert unit(desk, "BR-001")["state"] == "awaiting_protocol" and unit(desk, "BR-001")["protocol"] is None
    assert items_of(desk, pk) == [("resolved", "not_protocol", ACTOR)]
    reply = replies_of(desk, pk)[-1]
    assert reply.message_id == queued and reply.status == "queued" and reply.kind == "repeat"
    assert "ser inte ut att vara ett protokollsutdrag" in text_of(reply)
    assert report["reply_message_id"] == queued
    assert audited(desk, "review_not_protocol")[0].detail["released"] == ["BR-001"]


def test_not_a_protocol_gives_a_unit_back_to_the_mail_that_confirmed_it(desk: Desk) -> None:
    pk, item_id, _ = bromma(desk)
    with desk.ctx.sessions.begin() as db:
        confirmed = db.scalars(select(UnitRow).where(UnitRow.state == "confirmed")).first()
        assert confirmed is not None
        first_pk, unit_id = confirmed.protocol_message_pk, confirmed.unit_id
        confirmed.state, confirmed.protocol_message_pk = "needs_review", pk  # as if Bromma's mail had it
    mark_not_protocol(desk.ctx, pk, ACTOR, reply=False, item_id=item_id)
    with desk.ctx.sessions.begin() as db:
        row = db.scalars(select(UnitRow).where(UnitRow.unit_id == unit_id)).one()
        assert row.state == "confirmed" and row.protocol_message_pk == first_pk
        assert row.meeting_date is not None


def test_not_a_protocol_without_a_reply(desk: Desk) -> None:
    pk, item_id, _ = bromma(desk)
    before = len(replies_of(desk, pk))
    assert mark_not_protocol(desk.ctx, pk, ACTOR, reply=False, item_id=item_id) is None
    assert len(replies_of(desk, pk)) == before


def test_a_unit_added_from_the_mention_is_registered_and_matched(desk: Desk) -> None:
    pk, item_id, message_id = bromma(desk)
    added, outcome = add_unit_from_mention(
        desk.ctx, pk, MENTION, ACTOR, name="Enheten för arbete och försörjning Väst",
        award_class="Soc/LSS", administration="Bromma stadsdelsförvaltning", board="Bromma stadsdelsnämnd",
        operator="kommunal", contact_email="Sara.Lind@stockholm.se", item_id=item_id)
    assert added.award_class.startswith("Socialtjänst") and added.contact_email == "sara.lind@stockholm.se"
    assert items_of(desk, pk)[0] == ("resolved", "unit_added", ACTOR)
    assert added.unit_id in message(desk, message_id)["units"]
    assert unit(desk, added.unit_id)["state"] in ("confirmed", "needs_review")
    assert outcome is not None
    assert audited(desk, "unit_added")[-1].actor == ACTOR


@pytest.mark.parametrize(("fields", "error"), [
    ({"name": "Ny enhet", "award_class": "", "administration": "Förv", "board": "Nämnd"}, "tävlingsklass"),
    ({"name": "Ny enhet", "award_class": "Skola", "administration": " ", "board": "Nämnd"}, "förvaltning"),
    ({"name": "Ny enhet", "award_class": "Skola", "administration": "Förv", "board": "Nämnd",
      "operator": "statlig"}, "Driftform"),
    ({"name": "Ny enhet", "award_class": "Skola", "administration": "Förv", "board": "Nämnd",
      "contact_email": "inte en adress"}, "e-postadress"),
    ({"name": "Enheten för arbete och försörjning", "award_class": "Soc/LSS",
      "administration": "Bromma stadsdelsförvaltning", "board": "Bromma stadsdelsnämnd"}, None),
])
def test_a_unit_to_add_is_checked_first(desk: Desk, fields: dict[str, str], error: str | None) -> None:
    pk, item_id, _ = bromma(desk)
    with desk.ctx.sessions.begin() as db:
        before = len(store.unit_rows(db, 2017))
    if error is None:  # the same name under the same board, but without its id: a new id, no duplicate
        add_unit_from_mention(desk.ctx, pk, MENTION, ACTOR, item_id=item_id, **fields)
        with desk.ctx.sessions.begin() as db:
            assert len(store.unit_rows(db, 2017)) == before + 1
        with pytest.raises(ReviewError, match="finns redan"):
            add_unit_from_mention(desk.ctx, pk, MENTION, ACTOR, **fields)
        return
    with pytest.raises(ReviewError, match=error):
        add_unit_from_mention(desk.ctx, pk, MENTION, ACTOR, item_id=item_id, **fields)
    with desk.ctx.sessions.begin() as db:
        assert len(store.unit_rows(db, 2017)) == before
    assert items_of(desk, pk)[0][0] == "open"


def test_dismissing_closes_without_a_reply(desk: Desk) -> None:
    pk, item_id, message_id = bromma(desk)
    before = len(replies_of(desk, pk))
    with pytest.raises(ReviewError, match="Skriv varför"):
        dismiss(desk.ctx, pk, "   ", ACTOR, item_id=item_id)
    dismiss(desk.ctx, pk, "Redan hanterat per telefon", ACTOR, item_id=item_id)
    assert items_of(desk, pk) == [("resolved", "dismissed", ACTOR)]
    assert len(replies_of(desk, pk)) == before
    assert message(desk, message_id)["outcome"] == "needs_review"
    assert audited(desk, "review_dismiss")[0].detail == {"reason": "Redan hanterat per telefon"}


def test_the_reply_draft_follows_the_decision(desk: Desk) -> None:
    pk, _, _ = bromma(desk)
    draft = reply_draft(desk.ctx, pk)
    assert draft is not None
    assert draft.recipient == "sara.lind@stockholm.se" and draft.outcome == "needs_review"
    assert "återkommer till dig" in draft.text and "KU-2017-" in draft.subject


def test_a_manual_reply_is_queued_in_the_thread_with_the_edited_text(desk: Desk) -> None:
    pk, item_id, message_id = bromma(desk)
    with pytest.raises(ReviewError, match="tomt"):
        send_manual_reply(desk.ctx, pk, " \r\n ", ACTOR, item_id=item_id)
    sent = send_manual_reply(desk.ctx, pk, "Hej Sara!\r\nVi har tittat på utdraget.\r\n", ACTOR, item_id=item_id)
    reply = replies_of(desk, pk)[-1]
    assert reply.message_id == sent and reply.kind == "manual" and reply.status == "queued"
    assert reply.recipient == "sara.lind@stockholm.se"
    parsed = email.message_from_bytes(reply.raw, policy=policy.default)
    assert parsed["In-Reply-To"] == message_id
    assert message_id in str(parsed["References"])
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed.get_content_type() == "text/plain"
    assert text_of(reply) == "Hej Sara!\nVi har tittat på utdraget.\n"
    assert "KU-2017-" in str(parsed["Subject"])
    assert items_of(desk, pk) == [("resolved", "replied", ACTOR)]
    assert message(desk, message_id)["reply_message_id"] == sent


def test_search_finds_units_by_name_id_and_committee(desk: Desk) -> None:
    assert search_units(desk.ctx, "arbete och försörjning")[0].unit_id == "BR-001"
    assert search_units(desk.ctx, "br-001")[0].unit_id == "BR-001"
    assert {hit.unit_id for hit in search_units(desk.ctx, "Socialnämnden")} >= {"SOC-001", "SOC-002"}
    assert search_units(desk.ctx, "   ") == []


def test_the_item_shows_what_was_read_with_evidence_and_candidates(desk: Desk) -> None:
    pk, item_id, _ = bromma(desk)
    item = review_item(desk.ctx, pk)
    assert item.item_id == item_id and item.from_name == "Sara Lind"
    assert "Bifogar protokollsutdrag" in item.body
    assert [a.shown for a in item.attachments] == ["pdf"]
    fields = {f.code: f for f in item.fields}
    assert fields["committee"].value == "Bromma stadsdelsnämnd"
    assert fields["committee"].quotes[0].page == 1
    assert fields["paragraph"].value == "§ 7" and fields["year"].value == 2017
    assert fields["has_decision"].value is True and fields["adjusted"].value is True
    [document] = item.documents
    marked = {code: seg.text for seg in document.segments for code in seg.fields}
    assert marked["committee"] == "Bromma stadsdelsnämnd" and marked["paragraph"] == "§ 7"
    assert "".join(seg.text for seg in document.segments).startswith("Bromma stadsdelsnämnd")
    [mention] = item.mentions
    assert mention.guess == "BR-001" and mention.candidates[0].unit_id == "BR-001"
    assert item.new_unit.board == "Bromma stadsdelsnämnd"
    assert item.draft is not None and item.matches[0].sure is False


def test_the_evidence_is_stored_with_offsets_into_the_attachment_text(desk: Desk) -> None:
    pk, _, _ = bromma(desk)
    with desk.ctx.sessions.begin() as db:
        row = db.get_one(MessageRow, pk)
        document = row.document
        assert document is not None
        text = next(a.text for a in row.attachments if a.filename == document["filename"])
    assert {"filename", "doc_type", "committee", "meeting_date", "paragraph", "year", "has_decision",
            "adjusted"} <= set(document)
    fields = {e["field"] for e in document["evidence"]}
    assert {"doc_type", "committee", "meeting_date", "paragraph", "year", "has_decision", "adjusted"} <= fields
    for entry in document["evidence"]:
        assert text is not None and text[entry["offset"]:entry["offset"] + len(entry["text"])] == entry["text"]


def test_highlight_cuts_overlapping_spans() -> None:
    segments = highlight("Beslut: nämnden godkänner 2017.", [(8, 31, "decision_text"), (26, 30, "year"),
                                                              (0, 0, "empty"), (40, 50, "outside")])
    assert [(s.text, s.fields) for s in segments] == [
        ("Beslut: ", ()),
        ("nämnden godkänner ", ("decision_text",)),
        ("2017", ("year", "decision_text")),
        (".", ("decision_text",)),
    ]
    assert highlight("", []) == []


def test_the_names_no_unit_matched_are_kept_with_the_decision_and_offered(desk: Desk) -> None:
    sample = protocol_mail(units=("Förstärkningsteamet", "Korttidsboendet Gläntan"))
    store_raw(desk.ctx, RawMail(MailboxRef("maildir:test", "1", "900"), sample.raw, sample.received_at))
    with desk.ctx.sessions.begin() as db:
        pk = db.scalars(select(MessageRow.id).order_by(MessageRow.id.desc())).first()
    assert pk is not None
    process.process_message(desk.ctx, pk)
    with desk.ctx.sessions.begin() as db:
        row = db.get_one(MessageRow, pk)
        assert row.unknown_mentions == ["Korttidsboendet Gläntan"]
        assert "unknown_unit" in row.missing
    detail = review_item(desk.ctx, pk)
    assert "Korttidsboendet Gläntan" in [mention.mention for mention in detail.mentions]
    draft = reply_draft(desk.ctx, pk)
    assert draft is not None and "Korttidsboendet Gläntan" in draft.text

    mark_not_protocol(desk.ctx, pk, ACTOR, item_id=detail.item_id, reply=False)
    with desk.ctx.sessions.begin() as db:
        assert db.get_one(MessageRow, pk).unknown_mentions == []


def test_the_command_line_names_a_mail_by_its_message_id(desk: Desk) -> None:
    pk, _, message_id = bromma(desk)
    assert accept_match(desk.ctx, message_id, "BR-001", MENTION, "cli:test", reply=False) == "confirmed"
    assert items_of(desk, pk) == [("resolved", "accepted", "cli:test")]
    with pytest.raises(LookupError):
        dismiss(desk.ctx, "<nobody@example.org>", "x", ACTOR)


def solrosen(desk: Desk) -> tuple[int, int, str]:
    [item] = [item for item in open_items(desk.ctx) if "Solrosen" in item.subject]
    return item.message_pk, item.item_id, item.message_id


def test_a_late_extract_waits_in_the_queue_until_a_coordinator_counts_it(desk: Desk) -> None:
    pk, item_id, message_id = solrosen(desk)
    assert unit(desk, "EAV-001")["state"] == "needs_review"
    assert "late" in message(desk, message_id)["missing"]  # type: ignore[operator]
    before = len(replies_of(desk, pk))

    outcome = accept_late(desk.ctx, pk, ACTOR, item_id=item_id)
    assert outcome == "confirmed"
    assert unit(desk, "EAV-001")["state"] == "confirmed"
    assert items_of(desk, pk) == [("resolved", "accepted", ACTOR)]
    assert len(replies_of(desk, pk)) == before + 1  # the confirmation the receipt promised

    desk.ctx.actor = "bot"
    from intake.pipeline import reprocess

    assert reprocess(desk.ctx, message_id) == "confirmed"  # the coordinator's decision holds
    with pytest.raises(ReviewError):
        accept_late(desk.ctx, pk, ACTOR)  # nothing late left to count
