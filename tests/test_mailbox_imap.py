"""ImapSource against a real Dovecot: listing, fetching, waking, reconnecting, TLS."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from imapclient.exceptions import LoginError

from intake.errors import MailboxUnavailable
from intake.mailbox.imap import ImapSource
from tests.dovecot import Dovecot, free_port

WAKE_LIMIT = 5.0  # generous: Dovecot tells an idling client about 0.5 s after an APPEND
SUBJECT = "Protokollsutdrag från Förskolan Äppelgården, Övre Å"


def mail(subject: str = SUBJECT, body: str = "Hej!\r\nBifogat är protokollet.") -> bytes:
    return (
        f"From: Åsa Öberg <asa@example.se>\r\nTo: award@example.se\r\nSubject: {subject}\r\n"
        f"Message-ID: <{time.monotonic_ns()}@example.se>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{body}\r\n"
    ).encode()


@pytest.fixture
def source(dovecot: Dovecot) -> Iterator[ImapSource]:
    imap = ImapSource(dovecot.imap_settings())
    yield imap
    imap.close()


def later(action: Callable[[], object], delay: float = 0.5) -> threading.Thread:
    """Run `action` from another thread (another IMAP connection) after `delay` seconds."""
    thread = threading.Timer(delay, action)
    thread.daemon = True
    thread.start()
    return thread


def timed_wait(imap: ImapSource, timeout: float) -> tuple[bool, float]:
    started = time.monotonic()
    return imap.wait(timeout), time.monotonic() - started


# --- listing and fetching -------------------------------------------------------------


def test_name_says_user_host_port_and_folder(dovecot: Dovecot, source: ImapSource) -> None:
    assert source.name == f"imap://{dovecot.user}@127.0.0.1:{dovecot.port}/INBOX"


def test_snapshot_and_fetch_keep_the_raw_bytes(dovecot: Dovecot, source: ImapSource) -> None:
    raws = [mail(), mail("=?utf-8?q?Beslut_fr=C3=A5n_n=C3=A4mnden?="), mail("Tredje", "ÅÄÖ åäö")]
    uids = [dovecot.append(raw) for raw in raws]

    validity, keys = source.snapshot()
    assert validity == str(dovecot.uidvalidity())
    assert keys == [str(uid) for uid in uids]

    fetched = list(source.fetch(keys))
    assert [m.raw for m in fetched] == raws
    assert SUBJECT.encode() in fetched[0].raw
    assert [m.ref.key for m in fetched] == keys
    assert {(m.ref.source, m.ref.validity) for m in fetched} == {(source.name, validity)}


def test_empty_folder(source: ImapSource) -> None:
    validity, keys = source.snapshot()
    assert validity.isdigit()
    assert keys == []
    assert list(source.fetch([])) == []


def test_internaldate_is_kept_as_an_aware_instant(dovecot: Dovecot, source: ImapSource) -> None:
    sent = datetime(2017, 3, 14, 9, 30, 5, tzinfo=ZoneInfo("Europe/Stockholm"))
    dovecot.append(mail(), internaldate=sent)
    dovecot.append(mail("Utan datum"))

    dated, undated = source.fetch(source.snapshot()[1])

    assert dated.received_at == sent
    assert dated.received_at is not None and dated.received_at.utcoffset() is not None
    assert undated.received_at is not None
    assert abs(undated.received_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_fetch_never_sets_seen_and_seen_mails_are_listed(dovecot: Dovecot, source: ImapSource) -> None:
    unread = dovecot.append(mail("Oläst"))
    read_in_outlook = dovecot.append(mail("Läst i Outlook"), flags=["\\Seen"])
    flagged_later = dovecot.append(mail("Läst senare"))
    dovecot.set_flags(flagged_later, ["\\Seen", "\\Flagged"])

    _, keys = source.snapshot()
    assert keys == [str(unread), str(read_in_outlook), str(flagged_later)]
    assert len(list(source.fetch(keys))) == 3

    assert dovecot.flags(unread) == ()
    assert dovecot.flags(read_in_outlook) == ("\\Seen",)
    assert set(dovecot.flags(flagged_later)) == {"\\Seen", "\\Flagged"}


def test_fetch_in_batches_keeps_the_order_asked_for(dovecot: Dovecot, source: ImapSource) -> None:
    with dovecot.client() as imap:
        for number in range(230):  # three FETCH batches
            imap.append("INBOX", mail(f"Nummer {number} – å"))

    _, keys = source.snapshot()
    assert keys == [str(uid) for uid in range(1, 231)]
    wanted = list(reversed(keys))
    fetched = list(source.fetch(wanted))
    assert [m.ref.key for m in fetched] == wanted
    assert b"Nummer 229 \xe2\x80\x93 \xc3\xa5" in fetched[0].raw


def test_expunged_mails_are_skipped(dovecot: Dovecot, source: ImapSource) -> None:
    kept, gone = dovecot.append(mail("Kvar")), dovecot.append(mail("Borta"))
    _, keys = source.snapshot()
    dovecot.expunge([gone])

    assert [m.ref.key for m in source.fetch(keys)] == [str(kept)]
    assert source.snapshot()[1] == [str(kept)]


def test_other_folder(dovecot: Dovecot) -> None:
    uid = dovecot.append(mail(), folder="Utmärkelse 2017")
    imap = ImapSource(dovecot.imap_settings(folder="Utmärkelse 2017"))
    try:
        assert imap.snapshot()[1] == [str(uid)]
        assert imap.name.endswith("/Utmärkelse 2017")
    finally:
        imap.close()


def test_uidvalidity_change_shows_in_the_next_snapshot(dovecot: Dovecot, source: ImapSource) -> None:
    dovecot.append(mail())
    before, keys = source.snapshot()

    after = dovecot.change_uidvalidity()

    validity, keys_after = source.snapshot()
    assert validity == str(after) != before
    assert keys_after == keys
    assert [m.ref.validity for m in source.fetch(keys_after)] == [validity]


# --- waiting ----------------------------------------------------------------------------


def test_wait_wakes_on_an_append_while_idling(dovecot: Dovecot, source: ImapSource) -> None:
    source.snapshot()
    later(lambda: dovecot.append(mail("Ny")))

    changed, took = timed_wait(source, 30)

    assert changed is True
    assert took < WAKE_LIMIT
    assert len(source.snapshot()[1]) == 1


def test_wait_wakes_on_an_expunge(dovecot: Dovecot, source: ImapSource) -> None:
    uid = dovecot.append(mail())
    source.snapshot()
    later(lambda: dovecot.expunge([uid]))

    changed, took = timed_wait(source, 30)

    assert changed is True
    assert took < WAKE_LIMIT


def test_wait_returns_at_once_for_a_mail_that_came_after_the_snapshot(
    dovecot: Dovecot, source: ImapSource
) -> None:
    source.snapshot()
    dovecot.append(mail())  # before wait(): no IDLE would ever announce it

    changed, took = timed_wait(source, 30)

    assert changed is True
    assert took < WAKE_LIMIT


def test_wait_times_out_without_mail(source: ImapSource) -> None:
    source.snapshot()
    changed, took = timed_wait(source, 1.0)
    assert changed is False
    assert took < WAKE_LIMIT


def test_wait_polls_where_the_server_has_no_idle(dovecot_noidle: Dovecot) -> None:
    with dovecot_noidle.client() as imap:
        assert not imap.has_capability("IDLE")
    source = ImapSource(dovecot_noidle.imap_settings(poll_interval=1))
    try:
        source.snapshot()
        later(lambda: dovecot_noidle.append(mail()), delay=0.2)

        changed, took = timed_wait(source, 30)

        assert changed is False  # slept one poll interval, not the whole timeout
        assert took < WAKE_LIMIT
        assert len(source.snapshot()[1]) == 1
    finally:
        source.close()


# --- dropped connections and failures ------------------------------------------------


def test_reconnects_after_the_imap_process_is_killed(dovecot: Dovecot, source: ImapSource) -> None:
    dovecot.append(mail())
    source.snapshot()
    assert dovecot.kill_sessions() == 1
    dovecot.append(mail())

    assert len(source.snapshot()[1]) == 2
    assert len(list(source.fetch(["1", "2"]))) == 2


def test_reconnects_after_a_server_restart(dovecot: Dovecot, source: ImapSource) -> None:
    dovecot.append(mail())
    before = source.snapshot()
    dovecot.restart()
    assert source.snapshot() == before


def test_wait_after_a_dropped_connection_still_sees_new_mail(dovecot: Dovecot, source: ImapSource) -> None:
    source.snapshot()
    dovecot.kill_sessions()
    later(lambda: dovecot.append(mail()))

    changed, took = timed_wait(source, 30)

    assert changed is True
    assert took < WAKE_LIMIT


def test_a_connection_dropped_during_idle_does_not_spin(dovecot: Dovecot, source: ImapSource) -> None:
    source.snapshot()
    later(dovecot.kill_sessions)
    cpu = time.process_time()

    changed, took = timed_wait(source, 3)

    assert changed is False
    assert took < WAKE_LIMIT
    assert time.process_time() - cpu < 1.0  # a busy loop on the dead socket burns ~3 s


def test_wait_across_a_server_restart_still_sees_new_mail(dovecot: Dovecot, source: ImapSource) -> None:
    def restart_and_deliver() -> None:
        dovecot.restart()
        dovecot.append(mail())

    source.snapshot()
    later(restart_and_deliver)

    deadline = time.monotonic() + 20
    while not source.wait(5):  # the first wait may sleep through the restart
        assert time.monotonic() < deadline
    assert len(source.snapshot()[1]) == 1


def test_wrong_password_is_mailbox_unavailable(dovecot: Dovecot) -> None:
    source = ImapSource(dovecot.imap_settings(password="fel-lösenord"))
    with pytest.raises(MailboxUnavailable) as caught:
        source.snapshot()
    message = str(caught.value)
    assert "127.0.0.1" in message and dovecot.user in message
    assert "fel-lösenord" not in message and "login" in message.lower()
    assert isinstance(caught.value.__cause__, LoginError)


def test_non_ascii_password() -> None:
    with Dovecot(password="lösenord-åäö") as server:
        server.append(mail())
        source = ImapSource(server.imap_settings())
        try:
            assert source.snapshot()[1] == ["1"]
        finally:
            source.close()


def test_unreachable_server(dovecot: Dovecot) -> None:
    source = ImapSource(dovecot.imap_settings(port=free_port(), poll_interval=1))
    with pytest.raises(MailboxUnavailable, match="cannot connect") as caught:
        source.snapshot()
    assert isinstance(caught.value.__cause__, OSError)

    changed, took = timed_wait(source, 0.5)  # a wait never raises: it sleeps
    assert changed is False
    assert took < WAKE_LIMIT


def test_close_is_quiet_and_repeatable(dovecot: Dovecot, source: ImapSource) -> None:
    source.snapshot()
    dovecot.kill_sessions()
    source.close()
    source.close()
    assert source.snapshot()[1] == []  # a closed source reconnects on demand


# --- TLS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_modes(dovecot_tls: Dovecot, security: str) -> None:
    uid = dovecot_tls.append(mail())
    settings = dovecot_tls.imap_settings(security=security)
    assert settings.port == (dovecot_tls.ssl_port if security == "ssl" else dovecot_tls.port)
    source = ImapSource(settings, ssl_context=dovecot_tls.ssl_context())
    try:
        _, keys = source.snapshot()
        assert keys == [str(uid)]
        assert [m.raw for m in source.fetch(keys)] == [mail_body_of(dovecot_tls, uid)]

        later(lambda: dovecot_tls.append(mail()))
        changed, took = timed_wait(source, 30)  # IDLE over TLS
        assert changed is True
        assert took < WAKE_LIMIT
    finally:
        source.close()


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_refuses_an_untrusted_certificate(dovecot_tls: Dovecot, security: str) -> None:
    source = ImapSource(dovecot_tls.imap_settings(security=security))  # system CAs only
    with pytest.raises(MailboxUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        source.snapshot()


def test_starttls_against_a_server_without_it(dovecot: Dovecot) -> None:
    source = ImapSource(dovecot.imap_settings(security="starttls"))
    with pytest.raises(MailboxUnavailable, match="STARTTLS"):
        source.snapshot()


def mail_body_of(server: Dovecot, uid: int) -> bytes:
    with server.client() as imap:
        imap.select_folder("INBOX", readonly=True)
        return bytes(imap.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"])
