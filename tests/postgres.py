"""Pytest plugin: a real, private PostgreSQL server for the tests that need one.

The tests that only PostgreSQL can run (two daemons on one database, advisory-lock
liveness, SIGKILL over a backlog on PostgreSQL, the image against PostgreSQL) used to
skip unless INTAKE_TEST_DATABASE_URL named a server, so CI never ran them. Now the
session starts its own cluster from Debian's PostgreSQL binaries (`initdb`, `postgres`):
a folder under /tmp, 127.0.0.1 on a free port, trust authentication, no durability
(fsync off: a test database needs none). Each test gets a database of its own,
created from the empty template and dropped afterwards, so two test runs on one
machine, or a test that kills its daemons, never disturb another.

With INTAKE_TEST_DATABASE_URL set, that server is used instead (its database is
emptied before each test, as the `database_url` fixture does) and no cluster starts.

Root cannot run PostgreSQL, so as root the cluster runs as the `postgres` user that
Debian's package creates. The postmaster dies with the test session
(PR_SET_PDEATHSIG), so a killed pytest leaves no server behind.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from intake.storage.database import make_engine
from intake.storage.models import Base

HOST = "127.0.0.1"
RUN_AS = "postgres"  # Debian's package creates this user; root cannot run the server
START_TIMEOUT = 30.0
TEST_DATABASE_VARIABLE = "INTAKE_TEST_DATABASE_URL"
# Speed over durability: nothing here must survive a crash of the machine.
SETTINGS = {
    "listen_addresses": HOST,
    "unix_socket_directories": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "logging_collector": "off",
}
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def binaries() -> Path | None:
    """The folder of Debian's newest PostgreSQL binaries, or of `initdb` on PATH; None without."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGQUIT)  # SIGQUIT: the postmaster's immediate shutdown


def sweep_stale(older_than: float = 3600.0) -> None:
    """Remove the folders of clusters whose test session was killed (their server died with it)."""
    for folder in Path(tempfile.gettempdir()).glob("intake-pg-*"):
        with contextlib.suppress(OSError, ValueError):
            if time.time() - folder.stat().st_mtime < older_than:
                continue  # maybe another session's, still starting
            pid_file = folder / "data" / "postmaster.pid"
            if pid_file.exists():
                pid = int(pid_file.read_text().split()[0])
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 0)
                    continue  # still running
            shutil.rmtree(folder, ignore_errors=True)


class PostgresCluster:
    """One private PostgreSQL server: initdb'd, started, stopped and removed by this class."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="intake-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.user: str | None = RUN_AS if os.geteuid() == 0 else None
        self.process: subprocess.Popen[bytes] | None = None
        self._names = count(1)

    def _owned(self, path: Path) -> None:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def start(self) -> PostgresCluster:
        self.root.chmod(0o755)
        self._owned(self.root)
        subprocess.run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync"],
                       user=self.user, check=True, capture_output=True, timeout=120)
        options = [arg for key, value in SETTINGS.items() for arg in ("-c", f"{key}={value}")]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), *options],
                user=self.user, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        atexit.register(self.stop)
        self._await_ready()
        return self

    def _await_ready(self) -> None:
        engine = create_engine(self.url("postgres"), pool_pre_ping=False)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                try:
                    with engine.connect() as connection:
                        connection.execute(text("SELECT 1"))
                    return
                except Exception as exc:
                    assert self.process is not None
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        log = self.log.read_text(errors="replace")
                        raise RuntimeError(f"PostgreSQL did not start:\n{log}") from exc
                    time.sleep(0.1)
        finally:
            engine.dispose()

    def url(self, database: str) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database of its own; its name."""
        name = f"intake_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        engine = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown: ends the sessions, no checkpoint wait
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def empty(url: str) -> None:
    """Drop the bot's tables (and Alembic's) from the database at `url`."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgresql_cluster() -> Iterator[PostgresCluster | None]:
    """The session's private PostgreSQL server, or None when INTAKE_TEST_DATABASE_URL names one."""
    if os.environ.get(TEST_DATABASE_VARIABLE):
        yield None
        return
    bindir = binaries()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries: install Debian's postgresql (./dev test does), "
                    f"or set {TEST_DATABASE_VARIABLE}")
    sweep_stale()
    cluster = PostgresCluster(bindir).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgresql_url(postgresql_cluster: PostgresCluster | None) -> Iterator[str]:
    """A PostgreSQL database for this test alone (or the emptied one INTAKE_TEST_DATABASE_URL names)."""
    if postgresql_cluster is None:
        url = os.environ[TEST_DATABASE_VARIABLE]
        empty(url)
        yield url
        return
    name = postgresql_cluster.create_database()
    try:
        yield postgresql_cluster.url(name)
    finally:
        with contextlib.suppress(Exception):  # a test that cut the server off may leave it unreachable
            postgresql_cluster.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def each_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The test runs twice: on SQLite in its temporary folder, and on its own PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'intake.db'}"
    return str(request.getfixturevalue("postgresql_url"))
