"""MaildirSource and deliver(): list, fetch without moving files, wake on a delivery."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from intake.domain import MailboxRef
from intake.errors import MailboxUnavailable
from intake.mailbox.maildir import VALIDITY, MaildirSource, deliver

WAKE_LIMIT = 5.0


def mail(subject: str) -> bytes:
    return f"From: Åsa <asa@example.se>\r\nSubject: {subject}\r\n\r\nHej på er!\r\n".encode()


def files(path: Path) -> dict[str, list[str]]:
    return {sub: sorted(os.listdir(path / sub)) for sub in ("new", "cur", "tmp")}


def test_source_creates_the_maildir(tmp_path: Path) -> None:
    source = MaildirSource(tmp_path / "inbox")
    assert files(tmp_path / "inbox") == {"new": [], "cur": [], "tmp": []}
    assert source.name == f"maildir:{tmp_path / 'inbox'}"
    assert source.snapshot() == (VALIDITY, [])


def test_relative_path_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert MaildirSource("var/maildir").name == f"maildir:{tmp_path}/var/maildir"


def test_deliver_snapshot_fetch(tmp_path: Path) -> None:
    raws = [mail("Protokollsutdrag från Förskolan Äppelgården"), mail("Två"), mail("Tre")]
    keys = []
    for raw in raws:
        keys.append(deliver(tmp_path, raw))
        time.sleep(0.01)  # distinct mtimes, so arrival order is certain
    source = MaildirSource(tmp_path)

    validity, listed = source.snapshot()
    assert (validity, listed) == (VALIDITY, keys)

    fetched = list(source.fetch(listed))
    assert [m.raw for m in fetched] == raws
    assert [m.ref for m in fetched] == [MailboxRef(source.name, VALIDITY, k) for k in keys]
    for item in fetched:
        assert item.received_at is not None and item.received_at.tzinfo is not None
        assert abs(item.received_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_fetch_moves_no_file_and_keeps_flags(tmp_path: Path) -> None:
    deliver(tmp_path, mail("Ny"))
    # A mail someone already read: in cur/ with the Seen flag.
    seen_key = deliver(tmp_path, mail("Läst"))
    os.rename(tmp_path / "new" / seen_key, tmp_path / "cur" / f"{seen_key}:2,S")
    before = files(tmp_path)
    source = MaildirSource(tmp_path)

    _, keys = source.snapshot()
    assert len(keys) == 2 and seen_key in keys
    assert len(list(source.fetch(keys))) == 2
    assert files(tmp_path) == before


def test_received_at_is_the_delivery_mtime(tmp_path: Path) -> None:
    key = deliver(tmp_path, mail("Gammal"))
    arrived = datetime(2017, 3, 14, 8, 30, tzinfo=UTC)
    os.utime(tmp_path / "new" / key, (arrived.timestamp(), arrived.timestamp()))

    (item,) = MaildirSource(tmp_path).fetch([key])
    assert item.received_at == arrived


def test_order_follows_arrival_not_key(tmp_path: Path) -> None:
    first, second = deliver(tmp_path, mail("Först")), deliver(tmp_path, mail("Sedan"))
    old = time.time() - 3600
    os.utime(tmp_path / "new" / second, (old, old))  # `second` arrived an hour earlier
    assert MaildirSource(tmp_path).snapshot()[1] == [second, first]


def test_missing_keys_are_skipped(tmp_path: Path) -> None:
    kept, gone = deliver(tmp_path, mail("Kvar")), deliver(tmp_path, mail("Borta"))
    source = MaildirSource(tmp_path)
    _, keys = source.snapshot()
    (tmp_path / "new" / gone).unlink()
    assert [m.ref.key for m in source.fetch([*keys, "no-such-key"])] == [kept]


def test_a_mail_moved_to_cur_after_snapshot_is_still_fetched(tmp_path: Path) -> None:
    key = deliver(tmp_path, mail("Flyttad"))
    source = MaildirSource(tmp_path)
    _, keys = source.snapshot()
    os.rename(tmp_path / "new" / key, tmp_path / "cur" / f"{key}:2,S")
    assert [m.ref.key for m in source.fetch(keys)] == [key]


def test_wait_wakes_on_a_delivery(tmp_path: Path) -> None:
    source = MaildirSource(tmp_path, poll_interval=30)
    source.snapshot()
    threading.Timer(0.5, deliver, (tmp_path, mail("Ny"))).start()

    started = time.monotonic()
    assert source.wait(30) is True
    assert time.monotonic() - started < WAKE_LIMIT
    assert len(source.snapshot()[1]) == 1


def test_wait_sees_a_delivery_made_after_the_snapshot(tmp_path: Path) -> None:
    source = MaildirSource(tmp_path, poll_interval=30)
    source.snapshot()
    deliver(tmp_path, mail("Mellan"))
    started = time.monotonic()
    assert source.wait(30) is True
    assert time.monotonic() - started < WAKE_LIMIT


def test_wait_times_out_after_the_poll_interval(tmp_path: Path) -> None:
    source = MaildirSource(tmp_path, poll_interval=0.5)
    source.snapshot()
    started = time.monotonic()
    assert source.wait(30) is False
    assert time.monotonic() - started < WAKE_LIMIT


def test_a_vanished_maildir_is_unavailable_but_wait_does_not_raise(tmp_path: Path) -> None:
    source = MaildirSource(tmp_path / "box", poll_interval=0.3)
    for sub in ("new", "cur", "tmp"):
        (tmp_path / "box" / sub).rmdir()
    with pytest.raises(MailboxUnavailable, match="box"):
        source.snapshot()
    assert source.wait(0.3) is False
