"""More than one instance on one mailbox and one database never processes or answers a mail twice.

Two real `intake run` daemons on one Dovecot mailbox and one PostgreSQL (the test
session's own server, tests/postgres.py); and, on SQLite and on PostgreSQL, two instances in
one process (two engines, two threads) racing on the same mails and replies, with the
races the daemons only sometimes meet forced here. docs/ROBUSTNESS.md has the design.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from intake.domain import MailboxRef, OutgoingMail, RawMail
from intake.pipeline import (
    Context,
    claims,
    import_register,
    process,
    process_pending,
    recover_interrupted_sends,
    send_due,
)
from intake.pipeline.ingest import store_raw
from intake.storage import store
from intake.storage.models import AuditRow, MessageRow, ReplyRow, SightingRow
from tests.bot import REGISTER_CSV, Bot, wait_until
from tests.contexts import make_context
from tests.dovecot import Dovecot
from tests.robustness import (
    append_all,
    backlog,
    check_exactly_once,
    database_state,
    finished,
    start_daemon,
    stop_daemon,
)
from tests.smtpserver import SmtpTestServer

# --- two daemons, real servers ---------------------------------------------------------


def test_two_daemons_on_one_mailbox_answer_every_mail_exactly_once(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpTestServer, postgresql_url: str
) -> None:
    """Several daemons need PostgreSQL: SQLite is a file that one bot at a time works on."""
    database_url = postgresql_url
    bot = Bot(tmp_path, dovecot.port, dovecot.user, dovecot.password, smtp_server.port, database_url,
              replies_per_hour=10_000)
    bot.import_register()
    mails = backlog(150, seed=11)
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    daemons = [start_daemon(bot, log) for log in logs]
    try:
        for log, daemon in zip(logs, daemons, strict=True):
            wait_until(lambda log=log, daemon=daemon: "watching" in log.read_text() or daemon.poll() is not None,
                       timeout=60)
        for start in range(0, len(mails.mails), 15):  # mail keeps arriving while both work
            append_all(dovecot, mails.mails[start:start + 15])
            time.sleep(0.3)
        wait_until(lambda: finished(database_url, len(mails.mails)), timeout=120, interval=0.5)
        time.sleep(1)  # nothing more goes out
        assert all(daemon.poll() is None for daemon in daemons), [log.read_text()[-2000:] for log in logs]
    finally:
        for daemon in daemons:
            stop_daemon(daemon)
    state = database_state(database_url)
    assert check_exactly_once(state, mails.message_ids, smtp_server.messages) == 0
    print(f"mails processed per daemon: {dict(state.processors())}")
    stored_by = [log.read_text().count("new message(s)") for log in logs]
    assert all(stored_by), f"both daemons read the mailbox: {stored_by}"


# --- two instances in one process ------------------------------------------------------


def two_instances(url: str) -> Iterator[tuple[Context, Context]]:
    """Two instances on one database: each its own engine, so its own identity."""
    first, second = (make_context(url, outbox_replies_per_hour="10000") for _ in range(2))
    import_register(first, "register.csv", REGISTER_CSV.encode(), actor="test")
    yield first, second
    for ctx in (first, second):
        claims.instance(ctx).close()
        ctx.sessions.kw["bind"].dispose()


@pytest.fixture
def pair(each_database_url: str) -> Iterator[tuple[Context, Context]]:
    """Two instances, on SQLite and (a second run of the test) on PostgreSQL."""
    yield from two_instances(each_database_url)


@pytest.fixture
def postgresql_pair(postgresql_url: str) -> Iterator[tuple[Context, Context]]:
    """Two instances on PostgreSQL, for what only it has (advisory locks)."""
    yield from two_instances(postgresql_url)


def raw_mails(count: int, seed: int) -> list[RawMail]:
    return [RawMail(MailboxRef("imap://test/INBOX", "1", str(number)), sample.raw, sample.received_at)
            for number, sample in enumerate(backlog(count, seed=seed).mails, start=1)]


def together(*jobs: Callable[[], Any]) -> list[Any]:
    """Run the jobs in threads released at the same moment; their results, or raise their error."""
    start = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(index: int, job: Callable[[], Any]) -> None:
        start.wait()
        try:
            results[index] = job()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


class SlowMailer:
    """A Mailer that takes its time (so two instances' sends overlap) and keeps what it was given."""

    def __init__(self, sent: list[OutgoingMail]) -> None:
        self.sent = sent

    def send(self, mail: OutgoingMail) -> None:
        time.sleep(0.01)
        self.sent.append(mail)


def decided(ctx: Context) -> Counter[str]:
    with ctx.sessions.begin() as session:
        return Counter(session.scalars(select(AuditRow.subject).where(AuditRow.action == "message_processed")))


def test_two_instances_storing_the_same_mails_keep_one_row_each(pair: tuple[Context, Context]) -> None:
    first, second = pair
    mails = raw_mails(40, seed=1)

    def store_all(ctx: Context) -> int:
        return sum(store_raw(ctx, mail) for mail in mails)

    stored = together(lambda: store_all(first), lambda: store_all(second))
    assert sum(stored) == len(mails), stored  # each mail stored by exactly one of them
    with first.sessions.begin() as session:
        assert session.scalar(select(func.count(MessageRow.id))) == len(mails)
        assert session.scalar(select(func.count(SightingRow.id))) == len(mails)
        assert set(session.scalars(select(MessageRow.status))) == {"stored"}


def test_two_instances_working_at_once_decide_and_send_each_mail_once(pair: tuple[Context, Context]) -> None:
    first, second = pair
    mails = raw_mails(60, seed=2)
    for mail in mails:
        store_raw(first, mail)

    processed = together(lambda: process_pending(first), lambda: process_pending(second))

    assert sum(processed) == len(mails), processed
    counts = decided(first)
    assert len(counts) == len(mails) and set(counts.values()) == {1}
    sent: list[OutgoingMail] = []
    together(lambda: send_due(first, SlowMailer(sent)), lambda: send_due(second, SlowMailer(sent)))
    assert len(sent) == len(mails)
    assert len({mail.message_id for mail in sent}) == len(mails), "no reply sent twice"
    with first.sessions.begin() as session:
        assert set(session.scalars(select(ReplyRow.status))) == {"sent"}
        assert session.scalar(select(func.count(ReplyRow.id))) == len(mails)


def test_a_mail_whose_claim_was_taken_over_is_decided_once(pair: tuple[Context, Context]) -> None:
    """A slow instance (its claim ran out) and the one that took over both finish the same mail."""
    first, second = pair
    [mail] = raw_mails(1, seed=3)
    store_raw(first, mail)
    token = claims.instance(first).token(process.PROCESS_ROLE)
    claimed = process._claim_batch(first, claims.instance(first), token, set())
    assert len(claimed) == 1
    with first.sessions.begin() as session:  # the first instance hangs past its lease
        session.execute(text("UPDATE messages SET claimed_until = :past"),
                        {"past": (first.clock() - timedelta(minutes=1)).replace(tzinfo=None)})

    assert process_pending(second) == 1  # taken over and decided
    assert process.process_message(first, claimed[0], owner=token) is None  # the slow one finds it done

    assert decided(first) == Counter({f"message:{_message_id(first)}": 1})
    with first.sessions.begin() as session:
        assert session.scalar(select(func.count(ReplyRow.id))) == 1


def _message_id(ctx: Context) -> str:
    with ctx.sessions.begin() as session:
        return session.scalars(select(MessageRow.message_id)).one()


def test_two_copies_of_one_mail_stored_at_once_are_answered_once(pair: tuple[Context, Context]) -> None:
    """Two instances store the same Message-ID with other bytes at the same moment, so neither copy
    is marked a duplicate when stored: the decision transactions, one at a time, answer one."""
    first, second = pair
    [mail] = raw_mails(1, seed=4)
    copy = RawMail(MailboxRef("imap://test/INBOX", "1", "2"), b"X-Relayed: yes\r\n" + mail.raw, mail.received_at)
    store_raw(first, mail)
    store_raw(second, copy)
    with first.sessions.begin() as session:  # as if stored in the same instant by two instances
        session.execute(update(MessageRow).values(status="stored", duplicate_of_pk=None))
        pks = list(session.scalars(select(MessageRow.id).order_by(MessageRow.id)))

    together(lambda: process.process_message(first, pks[1]), lambda: process.process_message(second, pks[0]))

    with first.sessions.begin() as session:
        assert sorted(session.scalars(select(MessageRow.status))) == ["duplicate", "processed"]
        assert session.scalar(select(func.count(ReplyRow.id))) == 1


def test_a_live_instance_s_send_is_left_alone_and_a_dead_one_s_becomes_uncertain(
    postgresql_pair: tuple[Context, Context],
) -> None:
    first, second = postgresql_pair
    mails = raw_mails(2, seed=5)
    for mail in mails:
        store_raw(first, mail)
    process_pending(first)
    sender = claims.instance(first)
    sender.ensure()  # alive: its advisory lock is held
    with first.sessions.begin() as session:
        now = first.clock()
        pk = session.scalars(select(ReplyRow.id).order_by(ReplyRow.id)).first()
        assert pk is not None
        assert store.take_reply(session, pk, sender.token("send"), now, now + timedelta(minutes=15))
    sender.handing[pk] = sender.token("send")  # as _send_one has it, between claim and SMTP

    sent: list[OutgoingMail] = []
    assert recover_interrupted_sends(second) == 0  # another instance starting: the send is alive
    assert send_due(second, SlowMailer(sent)) == 1  # the other reply
    assert statuses(first) == ["sending", "sent"]

    sender.close()  # the first instance dies: its connection, and so its lock, is gone
    wait_until(lambda: _lock_released(second, sender.key), timeout=10)
    assert send_due(second, SlowMailer(sent)) == 0
    assert statuses(first) == ["uncertain", "sent"]
    assert len(sent) == 1, "the uncertain reply is never resent"


def statuses(ctx: Context) -> list[str]:
    with ctx.sessions.begin() as session:
        return list(session.scalars(select(ReplyRow.status).order_by(ReplyRow.id)))


def _lock_released(ctx: Context, key: int) -> bool:
    with ctx.sessions.begin() as session:
        live = store.live_instance_keys(session)
        return live is not None and key not in live
