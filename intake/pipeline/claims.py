"""Which bot instance this is, which others are alive, and what a claim is worth.

Several instances (daemons, `poll --once`, the web desk) may share one PostgreSQL
database. Each instance has a random key and, on PostgreSQL, holds a session
advisory lock on it over a connection of its own for as long as it lives: the
server drops the lock the moment that connection ends, so `pg_locks` lists the
instances alive right now. A claim (a mail being processed, a reply being sent) is
held while its owner is alive and its time has not run out; anything else may be
taken over. SQLite cannot tell who is alive: there a claim holds until its time runs
out, and a bot starting up gives up every claim left behind (one bot per SQLite
database). docs/ROBUSTNESS.md tells the whole story.

The claims only keep instances from doing the same work twice; what makes a mail
processed once and a reply sent once are the conditional UPDATEs the claims are
changed with (intake.storage.store, "multi-instance").
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from intake.errors import StorageUnavailable
from intake.pipeline.context import Context
from intake.storage import store

log = logging.getLogger(__name__)
KEY_ATTEMPTS = 5  # tries to find a key no live instance holds (2**31 keys: one is plenty)
SAME_KEY_ATTEMPTS = 10  # tries to take this instance's own key again after its connection was lost
SAME_KEY_PAUSE = 0.2  # seconds between them


def unavailable(exc: BaseException) -> bool:
    """Whether a database error means "not reachable now" (retry later), not a bug."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


@contextmanager
def database_errors(what: str) -> Iterator[None]:
    """Turn "the database is away" into StorageUnavailable: the round stops and is retried."""
    try:
        yield
    except DBAPIError as exc:
        if not unavailable(exc):
            raise
        raise StorageUnavailable(f"database unavailable while {what}: {exc.orig or exc}") from exc


def owner_key(token: str | None) -> int | None:
    if not token:
        return None
    head = token.split(":", 1)[0]
    return int(head) if head.isdigit() else None


@dataclass(frozen=True, slots=True)
class Liveness:
    """Who is alive, as the database sees it at one moment."""

    me: frozenset[int]  # this instance's keys (a new one only if its own was taken while it was away)
    others: frozenset[int] | None  # None: the database cannot tell (SQLite)

    def alive(self, owner: str | None) -> bool:
        key = owner_key(owner)
        if key is None:
            return False
        if key in self.me or self.others is None:
            return True
        return key in self.others

    def held(self, claim: store.Claim, now: datetime) -> bool:
        """Whether someone holds this claim now: its owner is alive and its time not out."""
        return (claim.owner is not None and claim.until is not None and claim.until > now
                and self.alive(claim.owner))


@dataclass
class Instance:
    """This process's identity towards the database (one per session factory)."""

    engine: Engine
    key: int = field(default_factory=lambda: secrets.randbelow(2**31 - 2) + 1)
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    keys: set[int] = field(default_factory=set)  # every key this instance has held
    # replies handed to SMTP (or about to be), and sends whose end is not yet in the database,
    # each with the token it was claimed under
    handing: dict[int, str] = field(default_factory=dict)
    unrecorded: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    guard: threading.RLock = field(default_factory=threading.RLock)
    _connection: Connection | None = None
    _registered: bool = False

    def token(self, role: str) -> str:
        """What this instance writes into claimed_by: key, role, host:pid (for people)."""
        return f"{self.key}:{role}:{self.name}"

    def __post_init__(self) -> None:
        self.keys.add(self.key)

    def mine(self, owner: str | None) -> bool:
        return owner_key(owner) in self.keys

    @property
    def postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def ensure(self) -> None:
        """Make sure this instance is seen alive: hold its advisory lock (PostgreSQL), taking it
        again over a new connection if the old one was lost (the database went away)."""
        if not self.postgresql:
            return
        with self.guard:
            if self._connection is not None:
                try:
                    self._connection.execute(text("SELECT 1"))
                    self._connection.commit()
                    return
                except DBAPIError:
                    log.warning("instance %s lost its database connection; taking its lock again", self.name)
                    self._drop()
            with database_errors("registering this instance"):
                self._register()

    def _register(self) -> None:
        connection = self.engine.connect()
        # Taking our own key again after a lost connection: the server process of the old one
        # may not have noticed yet; give it a moment before settling for a new key.
        patience = SAME_KEY_ATTEMPTS if self._registered else 0
        try:
            for _ in range(KEY_ATTEMPTS + patience):
                got = connection.execute(
                    text("SELECT pg_try_advisory_lock(:ns, CAST(:key AS integer))"),
                    {"ns": store.ADVISORY_NAMESPACE, "key": self.key},
                ).scalar()
                connection.commit()
                if got:
                    self._connection, self._registered = connection, True
                    log.debug("instance %s registered as %d", self.name, self.key)
                    return
                if patience:
                    patience -= 1
                    time.sleep(SAME_KEY_PAUSE)
                    continue
                self.key = secrets.randbelow(2**31 - 2) + 1  # held by another live instance
                self.keys.add(self.key)
            raise StorageUnavailable("no free instance key (advisory locks) in the database")
        except BaseException:
            connection.invalidate()
            connection.close()
            raise

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()  # never back to the pool: it may still hold the lock
                self._connection.close()
            except Exception:  # noqa: BLE001 - it is gone either way
                log.debug("closing a lost connection", exc_info=True)
            self._connection = None

    def close(self) -> None:
        with self.guard:
            self._drop()

    def liveness(self, session: Session) -> Liveness:
        return Liveness(frozenset(self.keys), store.live_instance_keys(session))


_instances: weakref.WeakKeyDictionary[sessionmaker[Session], Instance] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def instance(ctx: Context) -> Instance:
    """This process's instance for ctx's database (the daemon, its web desk and commands share it)."""
    with _registry_lock:
        found = _instances.get(ctx.sessions)
        if found is None:
            engine = ctx.sessions.kw["bind"]
            found = _instances[ctx.sessions] = Instance(engine)
        return found
