"""Proof under faults, against the real servers and the real `intake run`:

- SIGKILL at random moments while a backlog of 300 mails is worked through, restarted
  each time: every mail stored, each answered exactly once, or `uncertain` (the one
  documented window: killed between SMTP's acceptance and the commit of `sent`);
- Dovecot stopped and started while the daemon idles: it reconnects and misses nothing;
- the SMTP server down for a while: the replies wait in the outbox and go out after;
- the database unreachable (PostgreSQL behind a proxy the test cuts): the daemon waits,
  retries and loses nothing.

docs/ROBUSTNESS.md describes the design these tests hold to.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import text
from sqlalchemy.engine import make_url

from intake.samples import SampleMail
from intake.storage.database import make_engine
from tests.bot import Bot, wait_until
from tests.dovecot import Dovecot
from tests.robustness import (
    TcpProxy,
    append_all,
    backlog,
    check_exactly_once,
    database_state,
    finished,
    mail_message_id,
    start_daemon,
    stop_daemon,
)
from tests.smtpserver import HOST, SERVER_NAME, SmtpTestServer

KILL_SEED = 20170630
BACKLOG = 300
MAX_KILLS = 30
KILL_AFTER = (0.0, 2.5)  # seconds after the daemon started watching
KILL_EARLY = (0.0, 0.6)  # the first two kills: while the backlog is being stored
STARTED = 60.0  # seconds the daemon may take to say "watching" on a loaded CI machine


def make_bot(tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpTestServer, database_url: str) -> Bot:
    bot = Bot(tmp_path, dovecot.port, dovecot.user, dovecot.password, smtp_server.port, database_url,
              replies_per_hour=10_000)
    bot.import_register()
    return bot


def watching(log: Path, after: int = 0) -> bool:
    return log.exists() and log.read_text().count("watching") > after


def test_sigkill_at_random_moments_every_mail_is_answered_exactly_once(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpTestServer, each_database_url: str
) -> None:
    """Runs on SQLite and on PostgreSQL."""
    database_url = each_database_url
    bot = make_bot(tmp_path, dovecot, smtp_server, database_url)
    mails = backlog(BACKLOG)
    append_all(dovecot, mails.mails)
    rng = random.Random(KILL_SEED)
    log = tmp_path / "daemon.log"
    trace = []
    for number in range(MAX_KILLS):  # killed again and again until the work is done
        # one worker: no pool to start, so the kills fall in the work, not in the start-up
        daemon = start_daemon(bot, log, INTAKE_PROCESSING_WORKERS="1")
        wait_until(lambda n=number, d=daemon: watching(log, after=n) or d.poll() is not None, timeout=STARTED)
        time.sleep(rng.uniform(*(KILL_EARLY if number < 2 else KILL_AFTER)))
        daemon.kill()
        daemon.wait()
        state = database_state(database_url)
        trace.append((len(state.messages), state.statuses()["processed"], len(smtp_server.messages)))
        if finished(database_url, BACKLOG):
            break
    daemon = start_daemon(bot, log)  # the last run, with the default pool of workers, finishes
    try:
        wait_until(lambda: finished(database_url, BACKLOG), timeout=120, interval=0.5)
        assert daemon.poll() is None, log.read_text()[-3000:]
    finally:
        stop_daemon(daemon)
    received = smtp_server.messages
    uncertain = check_exactly_once(database_state(database_url), mails.message_ids, received)
    print(f"(stored, processed, received) after each kill: {trace}; uncertain replies: {uncertain}")
    interrupted = [step for step in trace if 0 < sum(step) < 3 * BACKLOG]  # some work done, some left
    assert len(interrupted) >= 5, f"the kills should fall in the middle of the work: {trace}"
    assert len(received) >= BACKLOG - uncertain  # each uncertain reply was received once or not at all


def test_dovecot_stopped_and_started_while_idle_misses_nothing(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpTestServer, database_url: str
) -> None:
    bot = make_bot(tmp_path, dovecot, smtp_server, database_url)
    mails = backlog(5, seed=2).mails
    log = tmp_path / "daemon.log"
    daemon = start_daemon(bot, log)
    try:
        wait_until(lambda: watching(log), timeout=STARTED)
        append_all(dovecot, mails[:1])
        smtp_server.wait_for(1, timeout=30)
        time.sleep(1)  # idling in IDLE again
        # While IMAP is down the mail server still delivers: a mail lands in the Maildir.
        inbox = Path(dovecot.root) / "mail" / dovecot.user / "new"
        delivered = threading.Timer(1.0, lambda: (inbox / f"{time.time():.0f}.M1P1.test").write_bytes(mails[1].raw))
        delivered.start()
        dovecot.restart(down_for=3.0)
        delivered.join()
        append_all(dovecot, mails[2:])
        smtp_server.wait_for(len(mails), timeout=45)
        wait_until(lambda: finished(database_url, len(mails)), timeout=20)
        assert daemon.poll() is None, log.read_text()
    finally:
        stop_daemon(daemon)
    assert "retrying in" in log.read_text(), "the daemon noticed the server was gone and retried"
    assert check_exactly_once(database_state(database_url), set(_ids(mails)), smtp_server.messages) == 0


def test_smtp_server_down_replies_wait_in_the_outbox(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpTestServer, database_url: str
) -> None:
    bot = make_bot(tmp_path, dovecot, smtp_server, database_url)
    mails = backlog(6, seed=3).mails
    log = tmp_path / "daemon.log"
    daemon = start_daemon(bot, log)
    try:
        wait_until(lambda: watching(log), timeout=STARTED)
        smtp_server.stop()
        append_all(dovecot, mails)

        def retried() -> bool:
            state = database_state(database_url)
            return (len(state.replies) == len(mails) and state.reply_statuses()["queued"] == len(mails)
                    and _attempts(database_url) >= 2)

        wait_until(retried, timeout=40, interval=0.3)  # processed, answered, the answers queued and retried
        assert smtp_server.messages == []
        # the server is back on the same port (aiosmtpd's controller can't start twice: a new one)
        smtp_server.controller = Controller(smtp_server.handler, hostname=HOST, port=smtp_server.port,
                                            server_hostname=SERVER_NAME)
        smtp_server.controller.start()
        smtp_server.wait_for(len(mails), timeout=45)
        wait_until(lambda: finished(database_url, len(mails)), timeout=20)
        assert daemon.poll() is None, log.read_text()
    finally:
        stop_daemon(daemon)
    assert "will retry" in log.read_text()
    assert check_exactly_once(database_state(database_url), set(_ids(mails)), smtp_server.messages) == 0


def test_database_unreachable_the_daemon_waits_and_loses_nothing(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpTestServer, postgresql_url: str
) -> None:
    """PostgreSQL only: SQLite is a file in the bot's own process, there is no server to lose."""
    database_url = postgresql_url
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    bot = make_bot(tmp_path, dovecot, smtp_server, proxied)
    mails = backlog(60, seed=4).mails
    log = tmp_path / "daemon.log"
    rng = random.Random(KILL_SEED)
    daemon = start_daemon(bot, log)
    try:
        wait_until(lambda: watching(log), timeout=STARTED)
        append_all(dovecot, mails[:5])
        smtp_server.wait_for(5, timeout=30)
        proxy.cut()  # the database is gone while the daemon idles; mail keeps arriving
        append_all(dovecot, mails[5:])
        wait_until(lambda: "database unavailable" in log.read_text(), timeout=20)
        time.sleep(3)
        assert daemon.poll() is None, log.read_text()
        proxy.restore()
        for _ in range(3):  # and gone again, at random moments, while the backlog is worked through
            time.sleep(rng.uniform(0.5, 2.0))
            proxy.cut()
            time.sleep(rng.uniform(1.0, 2.5))
            proxy.restore()
        wait_until(lambda: finished(database_url, len(mails)), timeout=90, interval=0.5)
        assert daemon.poll() is None, log.read_text()
    finally:
        proxy.restore()
        stop_daemon(daemon)
        proxy.close()
    assert proxy.refused > 0, "the daemon tried the database while it was away"
    uncertain = check_exactly_once(database_state(database_url), set(_ids(mails)), smtp_server.messages)
    assert uncertain == 0, "a live daemon records its sends once the database is back"


def _ids(mails: list[SampleMail]) -> list[str]:
    return [mail_message_id(m.raw) for m in mails]


def _attempts(url: str) -> int:
    """The fewest attempts any reply has had."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT COALESCE(MIN(attempts), 0) FROM replies")).scalar_one())
    finally:
        engine.dispose()


def test_database_away_at_start_up_the_daemon_waits_for_it(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpTestServer, postgresql_url: str
) -> None:
    """`intake run` started while its database is unreachable waits and retries instead of exiting;
    once the database answers it works as usual; SIGTERM then stops it at once, exit 0."""
    real = make_url(postgresql_url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    proxy.cut()
    proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    bot = Bot(tmp_path, dovecot.port, dovecot.user, dovecot.password, smtp_server.port, proxied)
    log = tmp_path / "daemon.log"
    daemon = start_daemon(bot, log)
    try:
        wait_until(lambda: "retrying in" in log.read_text(), timeout=STARTED)
        time.sleep(2)
        assert daemon.poll() is None, log.read_text()  # still waiting, not exited
        assert proxy.refused > 0
        proxy.restore()
        wait_until(lambda: watching(log), timeout=STARTED)
        bot.import_register()
        mails = backlog(3, seed=9).mails
        append_all(dovecot, mails)
        smtp_server.wait_for(3, timeout=60)
        stopping = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0, log.read_text()
        assert time.monotonic() - stopping < 10
    finally:
        stop_daemon(daemon)
        proxy.close()


ORPHAN_SCRIPT = """
import multiprocessing, sys, time
from intake.pipeline.analysis import end_with_parent

def worker():
    end_with_parent()
    time.sleep(120)

if __name__ == "__main__":
    child = multiprocessing.get_context("spawn").Process(target=worker)
    child.start()
    print(child.pid, flush=True)
    time.sleep(120)
"""


def test_reading_workers_end_when_the_bot_is_killed(tmp_path: Path) -> None:
    """A SIGKILL of the bot (or the OOM killer) must not leave its reading workers behind."""
    import subprocess
    import sys

    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN_SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    time.sleep(1.0)  # the worker has called end_with_parent
    parent.kill()
    parent.wait(timeout=10)

    def gone() -> bool:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{worker}/stat").read_text().split()[2] == "Z"  # a zombie awaiting init

    wait_until(gone, timeout=10)
