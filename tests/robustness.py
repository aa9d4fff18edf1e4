"""Helpers of the robustness tests (test_multi_instance, test_faults): a backlog of mails,
what the database holds about them, and a TCP proxy that can cut the database away."""

from __future__ import annotations

import contextlib
import random
import selectors
import socket
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text

from intake.samples import SampleMail, mail, pdf_from_text, protocol_text
from intake.storage.database import make_engine
from tests.bot import JUNE_19, Bot
from tests.dovecot import Dovecot
from tests.smtpserver import ReceivedMessage


@dataclass(frozen=True)
class Backlog:
    mails: list[SampleMail]

    @property
    def message_ids(self) -> set[str]:
        return {mail_message_id(m.raw) for m in self.mails}


def mail_message_id(raw: bytes) -> str:
    for line in raw.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    raise AssertionError("no Message-ID")


def backlog(count: int, seed: int = 7) -> Backlog:
    """`count` mails from as many senders, each of which the bot answers: a third carry a
    protokollsutdrag (a PDF with a text layer, confirmed), the rest lack the attachment."""
    rng = random.Random(seed)
    pdfs = [pdf_from_text(protocol_text("Socialnämnden", date(2017, 6, 13), paragraph,
                                        [("Korttidshemmet Drömmen", "Socialtjänst"),
                                         ("Förstärkningsteamet", "Socialtjänst")], 2017))
            for paragraph in (9, 10, 11)]
    mails = []
    for number in range(count):
        sender = f"Avsändare {number} <avsandare{number}@stockholm.se>"
        at = JUNE_19 + timedelta(minutes=number)
        if number % 3 == 0:
            mails.append(mail(sender, f"Protokollsutdrag Socialnämnden nr {number}", "Hej!\nHär är utdraget.", at,
                              [(f"Protokollsutdrag {number}.pdf", rng.choice(pdfs), "application/pdf")]))
        else:
            mails.append(mail(sender, f"Protokollsutdrag nr {number}", "Hej! Protokollet kommer här.", at))
    return Backlog(mails)


def append_all(dovecot: Dovecot, mails: list[SampleMail]) -> None:
    """APPEND every mail over one connection (dovecot.append logs in once per mail)."""
    with dovecot.client() as imap:
        for sample in mails:
            imap.append("INBOX", sample.raw, msg_time=sample.received_at)


@dataclass(frozen=True)
class DatabaseState:
    """Messages and replies as the database holds them (statuses, who processed what)."""

    messages: list[tuple[int, str, str, str | None]]  # pk, Message-ID, status, claimed_by
    replies: list[tuple[int, str, str, str]]  # message pk, reply Message-ID, status, kind
    processed_audits: Counter[str]  # message_processed entries per "message:<Message-ID>"

    def statuses(self) -> Counter[str]:
        return Counter(status for _, _, status, _ in self.messages)

    def reply_statuses(self) -> Counter[str]:
        return Counter(status for _, _, status, _ in self.replies)

    def processors(self) -> Counter[str]:
        """Processed mails by the host:pid that processed them."""
        return Counter((owner or "").split(":", 2)[-1] for _, _, status, owner in self.messages
                       if status == "processed")


def database_state(url: str) -> DatabaseState:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            messages = [tuple(row) for row in connection.execute(text(
                "SELECT id, message_id, status, claimed_by FROM messages ORDER BY id"))]
            replies = [tuple(row) for row in connection.execute(text(
                "SELECT message_pk, message_id, status, kind FROM replies ORDER BY id"))]
            audits = Counter(row[0] for row in connection.execute(text(
                "SELECT subject FROM audit_log WHERE action = 'message_processed'")))
    finally:
        engine.dispose()
    return DatabaseState(messages, replies, audits)  # type: ignore[arg-type]


def check_exactly_once(state: DatabaseState, expected: set[str], received: list[ReceivedMessage]) -> int:
    """Every expected mail stored once and processed once, with one reply; every reply the
    SMTP server got came once, and a reply not marked `sent` is `uncertain` (received or not).
    Returns how many replies are uncertain."""
    stored = [message_id for _, message_id, _, _ in state.messages]
    assert sorted(stored) == sorted(expected), "every mail stored, none twice"
    assert state.statuses() == Counter({"processed": len(expected)}), state.statuses()
    assert all(state.processed_audits[f"message:{m}"] == 1 for m in expected), "each decided once"
    per_message = Counter(pk for pk, _, _, _ in state.replies)
    assert len(per_message) == len(expected) and set(per_message.values()) == {1}, "one reply per mail"
    got = Counter(m.message["Message-ID"] for m in received)
    assert not [reply for reply, count in got.items() if count > 1], "no reply received twice"
    uncertain = 0
    for _, reply_id, status, _ in state.replies:
        if status == "sent":
            assert got[reply_id] == 1, f"{reply_id} marked sent but never received"
        else:
            assert status == "uncertain", f"{reply_id} is {status}"
            uncertain += 1
    return uncertain


class TcpProxy:
    """A TCP forwarder to `target` on a free local port that a test can cut and restore:
    cut() drops every connection through it and refuses new ones until restore()."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.open = threading.Event()
        self.open.set()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.refused = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.open.is_set():
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _ in selector.select(timeout=0.5):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            self._close(client, upstream)

    def _close(self, client: socket.socket, upstream: socket.socket) -> None:
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        with self._lock:
            if (client, upstream) in self._pairs:
                self._pairs.remove((client, upstream))

    def cut(self) -> None:
        self.open.clear()
        with self._lock:
            pairs = list(self._pairs)
        for client, upstream in pairs:
            self._close(client, upstream)

    def restore(self) -> None:
        self.open.set()

    def close(self) -> None:
        self._stopping.set()
        self.cut()
        self.listener.close()
        self._thread.join(timeout=2)


def start_daemon(bot: Bot, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """`intake run` with its log in a file (a pipe nobody reads would fill and stop it)."""
    with log.open("ab") as stderr:
        return subprocess.Popen([sys.executable, "-m", "intake.cli", "run"], env=bot.env(**env),
                                stdout=subprocess.DEVNULL, stderr=stderr, cwd=bot.directory)


def stop_daemon(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL and reap. (A SIGTERM while the daemon idles in IDLE costs imap.timeout seconds:
    the IDLE is not ended before LOGOUT. Stopping cleanly is test_end_to_end's business.)"""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


def finished(url: str, count: int) -> bool:
    """All `count` mails stored and decided, and every reply's send has ended (sent or uncertain)."""
    state = database_state(url)
    return (len(state.messages) == count and not state.statuses()["stored"]
            and len(state.replies) == count
            and not {"queued", "sending"} & set(state.reply_statuses()))
