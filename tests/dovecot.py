"""Pytest plugin: start real, self-contained Dovecot IMAP servers for the tests.

Each `Dovecot` has its own folder under /tmp (mode 0755, so the mail user can
enter it; pytest's tmp_path may not be), its own config file started with
`dovecot -F -c FILE` (never /etc/dovecot), its own base_dir, state_dir and
instance_name, and free ports on 127.0.0.1. Starting takes a few hundredths of a
second; stopping takes about a second (the master waits for its log process),
so the fixtures only signal the master and reap it at the end of the session.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import count
from pathlib import Path

import pytest
from imapclient import IMAPClient

from intake.config import ImapSettings

HOST = "127.0.0.1"
MAIL_USER = "vmail"  # Dovecot refuses to store mail as root
START_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0
CLIENT_TIMEOUT = 10.0
# Dovecot's default capability list less IDLE, for the polling-fallback tests.
CAPABILITY_WITHOUT_IDLE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
    "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES "
    "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE LITERAL+"
)
# imaps port 0 disables that listener; auth_failure_delay 0 spares a wrong-password test 2 s.
CONFIG = """\
protocols = imap
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
instance_name = {instance}
log_path = {root}/dovecot.log
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{mail}/%u
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = {passwd}
}}
userdb {{
  driver = passwd-file
  args = {passwd}
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
  }}
}}
"""
APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")

_instances = count(1)
_stopping: list[Dovecot] = []  # signalled, not yet reaped


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def mail_user() -> tuple[int, int]:
    """(uid, gid) of the system user that owns the test Maildirs, created if missing."""
    try:
        entry = pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", MAIL_USER],
            check=True,
        )
        entry = pwd.getpwnam(MAIL_USER)
    return entry.pw_uid, entry.pw_gid


class Dovecot:
    """One Dovecot instance with one account (`user`, `password`) and its helpers."""

    host = HOST

    def __init__(
        self, *, tls: bool = False, idle: bool = True, user: str = "bot", password: str = ""
    ) -> None:
        self.tls = tls
        self.idle = idle
        self.user = user
        self.password = password or f"pw-{os.urandom(6).hex()}"
        self.port = free_port()
        self.ssl_port: int | None = free_port() if tls else None
        self.root = Path(tempfile.mkdtemp(prefix="intake-dovecot-", dir="/tmp"))
        self.root.chmod(0o755)
        self.config = self.root / "dovecot.conf"
        self.log_file = self.root / "dovecot.log"
        self.certfile: Path | None = None
        self.instance_name = f"intake-test-{os.getpid()}-{next(_instances)}"
        self._process: subprocess.Popen[bytes] | None = None
        self._write_config()

    # --- lifecycle ------------------------------------------------------------------

    def _write_config(self) -> None:
        uid, gid = mail_user()
        mail = self.root / "mail"
        mail.mkdir()
        os.chown(mail, uid, gid)
        (self.root / "state").mkdir()
        passwd = self.root / "passwd"
        assert ":" not in self.user + self.password, "passwd-file fields are colon-separated"
        passwd.write_text(f"{self.user}:{{PLAIN}}{self.password}:{uid}:{gid}::{mail}/%u::\n")
        passwd.chmod(0o644)  # the auth process reads it as user dovecot
        extra = "" if self.idle else f"imap_capability = {CAPABILITY_WITHOUT_IDLE}\n"
        if self.tls:
            self.certfile, keyfile = self.root / "cert.pem", self.root / "key.pem"
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-days", "2", "-subj", "/CN=localhost",
                 "-addext", f"subjectAltName=IP:{HOST},DNS:localhost",
                 "-keyout", str(keyfile), "-out", str(self.certfile)],
                check=True, capture_output=True,
            )  # fmt: skip
            extra += f"ssl = yes\nssl_cert = <{self.certfile}\nssl_key = <{keyfile}\n"
        else:
            extra += "ssl = no\n"
        self.config.write_text(
            CONFIG.format(
                root=self.root, host=HOST, instance=self.instance_name, uid=uid, gid=gid,
                mail=mail, passwd=passwd, port=self.port, imaps_port=self.ssl_port or 0,
            )
            + extra
        )  # fmt: skip

    def start(self) -> Dovecot:
        dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(dovecot).exists():
            raise RuntimeError("dovecot not found: apt-get install -y dovecot-imapd")
        _reap(block=False)
        stderr = (self.root / "stderr.log").open("ab")
        with stderr:
            self._process = subprocess.Popen(
                [dovecot, "-F", "-c", str(self.config)],
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
            )  # fmt: skip
        try:
            self._await_greeting()
        except Exception:
            print(f"--- dovecot {self.instance_name} failed to start; its log:\n{self.log()}")
            self.stop()
            raise
        return self

    def _await_greeting(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited with status {self._process.returncode}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"* OK"):
                        sock.sendall(b"a LOGOUT\r\n")  # a clean goodbye keeps the log readable
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not greet on port {self.port}")
            time.sleep(0.02)

    def stop(self, wait: bool = True) -> None:
        """SIGTERM the master; with wait=False it is reaped at the end of the session."""
        if self._process is None:  # never started, or already reaped
            shutil.rmtree(self.root, ignore_errors=True)
            return
        if self._process.poll() is None:
            # A master's SIGTERM leaves logged-in imap processes running (measured, despite
            # shutdown_clients = yes): kill them, or they outlive the instance.
            self.kill_sessions()
            self._process.send_signal(signal.SIGTERM)
        if wait:
            self._reap_process()
            shutil.rmtree(self.root, ignore_errors=True)
        elif self not in _stopping:
            _stopping.append(self)

    def _reap_process(self) -> None:
        assert self._process is not None
        try:
            self._process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def restart(self, down_for: float = 0.0) -> None:
        """Stop and start on the same ports and Maildir (down `down_for` seconds in between);
        every client connection drops."""
        assert self._process is not None
        self.kill_sessions()
        self._process.send_signal(signal.SIGTERM)
        self._reap_process()
        time.sleep(down_for)
        self.start()

    def kill_sessions(self) -> int:
        """SIGKILL this instance's imap processes: their clients see a dropped connection."""
        assert self._process is not None
        killed = 0
        for pid in _children(self._process.pid, "imap"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        return killed

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(wait=False)

    def log(self) -> str:
        parts = [p.read_text(errors="replace") for p in (self.root / "stderr.log", self.log_file)
                 if p.exists()]  # fmt: skip
        return "".join(parts)

    # --- client-side helpers ----------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying context that trusts this instance's self-signed certificate."""
        if self.certfile is None:
            raise RuntimeError("this Dovecot was started without tls=True")
        return ssl.create_default_context(cafile=str(self.certfile))

    def imap_settings(self, **overrides: object) -> ImapSettings:
        """Settings for ImapSource; security="ssl" defaults the port to `ssl_port`."""
        settings = ImapSettings(
            host=HOST, port=self.port, security="none", username=self.user,
            password=self.password, folder="INBOX", poll_interval=1, idle_timeout=60,
            timeout=int(CLIENT_TIMEOUT),
        )  # fmt: skip
        if overrides.get("security") == "ssl" and "port" not in overrides:
            overrides["port"] = self.ssl_port
        return dataclasses.replace(settings, **overrides)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def client(self) -> Iterator[IMAPClient]:
        """A logged-in IMAPClient on the plain port (the test's 'other connection')."""
        imap = IMAPClient(HOST, self.port, ssl=False, timeout=CLIENT_TIMEOUT)
        try:
            if f"{self.user}{self.password}".isascii():
                imap.login(self.user, self.password)
            else:  # imaplib's LOGIN is ASCII only
                imap.plain_login(self.user, self.password)
            yield imap
        finally:
            with contextlib.suppress(Exception):
                imap.logout()

    def append(
        self,
        raw: bytes,
        internaldate: datetime | None = None,
        folder: str = "INBOX",
        flags: Sequence[str] = (),
    ) -> int:
        """APPEND a mail (creating the folder if needed) and return its UID."""
        with self.client() as imap:
            if not imap.folder_exists(folder):
                imap.create_folder(folder)
            response = imap.append(folder, raw, flags=tuple(flags), msg_time=internaldate)
        match = APPENDUID.search(response)
        assert match, f"no APPENDUID in {response!r}"
        return int(match.group(1))

    def set_flags(self, uid: int, flags: Sequence[str], folder: str = "INBOX") -> None:
        with self.client() as imap:
            imap.select_folder(folder)
            imap.set_flags([uid], list(flags))

    def flags(self, uid: int, folder: str = "INBOX") -> tuple[str, ...]:
        """The UID's flags, read without changing them (\\Recent left out)."""
        with self.client() as imap:
            imap.select_folder(folder, readonly=True)
            found = imap.get_flags([uid]).get(uid, ())
        return tuple(f.decode() for f in found if f != b"\\Recent")

    def expunge(self, uids: Sequence[int], folder: str = "INBOX") -> None:
        with self.client() as imap:
            imap.select_folder(folder)
            imap.delete_messages(list(uids))
            imap.uid_expunge(list(uids))

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.client() as imap:
            return int(imap.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def change_uidvalidity(self, folder: str = "INBOX") -> int:
        """Give the folder a new UIDVALIDITY, as a rebuilt mailbox gets; returns it."""
        new = self.uidvalidity(folder) + 1
        self.doveadm("mailbox", "update", "-u", self.user, "--uid-validity", str(new), folder)
        assert self.uidvalidity(folder) == new
        return new

    def doveadm(self, *args: str) -> str:
        done = subprocess.run(["doveadm", "-c", str(self.config), *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout


def _children(parent: int, name: str) -> list[int]:
    """Pids of the processes called `name` whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # stat is "pid (comm) state ppid ...": comm may hold spaces, so split after ")"
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if comm == name and ppid == parent:
            found.append(int(entry.name))
    return found


def _reap(block: bool) -> None:
    """Reap masters stopped with wait=False (all of them when `block`), removing their folders."""
    for server in list(_stopping):
        process = server._process
        if process is not None and not block and process.poll() is None:
            continue
        if process is not None:
            server._reap_process()
        shutil.rmtree(server.root, ignore_errors=True)
        _stopping.remove(server)


atexit.register(_reap, block=True)  # for instances stopped outside a pytest session


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _reap(block=True)


def _started(tls: bool = False, idle: bool = True) -> Iterator[Dovecot]:
    server = Dovecot(tls=tls, idle=idle).start()
    try:
        yield server
    finally:
        server.stop(wait=False)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A fresh plain-text Dovecot (ssl = no) with IDLE, and an empty INBOX."""
    yield from _started()


@pytest.fixture
def dovecot_tls() -> Iterator[Dovecot]:
    """A fresh Dovecot with STARTTLS on `port` and implicit TLS on `ssl_port`."""
    yield from _started(tls=True)


@pytest.fixture
def dovecot_noidle() -> Iterator[Dovecot]:
    """A fresh Dovecot that does not announce IDLE, for the polling fallback."""
    yield from _started(idle=False)
