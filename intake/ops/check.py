"""`intake check`: try the configured database, mailbox and outbox, and say in one line each what is wrong.

Nothing is changed: the database is connected to and its schema revision read (not
migrated), the mailbox folder is listed as the bot lists it (IMAP: login, EXAMINE, read-only),
the SMTP session (EHLO, STARTTLS and AUTH as configured) ends with QUIT before any mail, a Graph
outbox gets a token and reads the inbox folder's id (nothing is sent). A Maildir or a files
outbox is checked for being a folder the bot can write to. The mailbox and the mailer are
made by the caller (the cli), so they are the ones the bot would use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from intake.config import Settings
from intake.domain import Mailer, MailSource
from intake.errors import IntakeError
from intake.ops.heartbeat import one_line
from intake.outbox.graph import GraphMailer
from intake.storage.database import alembic_config, make_engine


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str  # database | imap | maildir | smtp | outbox
    ok: bool
    detail: str  # what was found (ok) or what is wrong (not ok), one line

    def line(self) -> str:
        if self.ok:
            return f"{self.name}: ok" + (f" ({self.detail})" if self.detail else "")
        return f"{self.name}: {self.detail}"


def run_checks(settings: Settings, make_source: Callable[[], MailSource],
               open_mailer: Callable[[], AbstractContextManager[Mailer | None]]) -> list[CheckResult]:
    """The database, then the mailbox (IMAP, or another source kind, or a Maildir), then the outbox
    (SMTP, Microsoft Graph or a folder of files); each line named by what it checked."""
    checks: list[tuple[str, Callable[[], str]]] = [
        ("database", lambda: check_database(settings.database.url))]
    if settings.source.kind == "maildir":
        checks.append(("maildir", lambda: check_folder(settings.source.maildir)))
    else:
        checks.append((settings.source.kind, lambda: check_source(make_source)))
    if settings.outbox.transport == "files":
        checks.append(("outbox", lambda: check_folder(settings.outbox.path)))
    elif settings.outbox.transport == "graph":
        checks.append(("outbox", lambda: check_graph_outbox(open_mailer)))
    else:
        checks.append(("smtp", lambda: check_smtp(settings, open_mailer)))
    return [_run(name, check) for name, check in checks]


class CheckFailed(Exception):
    """What is wrong, in one line."""


def _run(name: str, check: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(name, True, one_line(check()))
    except CheckFailed as exc:
        return CheckResult(name, False, one_line(str(exc)))
    except IntakeError as exc:
        return CheckResult(name, False, one_line(str(exc)))
    except Exception as exc:  # noqa: BLE001 - a check reports, it never crashes the others
        return CheckResult(name, False, one_line(f"{type(exc).__name__}: {exc}"))


def check_database(url: str) -> str:
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "")
        if not path.exists():
            _writable_or_creatable(path.parent)
            return f"{path} does not exist yet; it is created at the first start"
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        raise CheckFailed(f"cannot connect to {shown}: {getattr(exc, 'orig', None) or exc}") from None
    finally:
        engine.dispose()
    script = ScriptDirectory.from_config(alembic_config(engine))
    heads = set(script.get_heads())
    if not current:
        return "empty database; the schema is created at the first start"
    unknown = sorted(rev for rev in current if not _known(script, rev))
    if unknown:
        raise CheckFailed(f"schema revision {', '.join(unknown)} is newer than this intake knows "
                          f"({', '.join(sorted(heads))}): install the newer intake")
    if current == heads:
        return f"schema up to date ({', '.join(sorted(heads))})"
    return f"schema at {', '.join(sorted(current))}; migrated to {', '.join(sorted(heads))} at the next start"


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:  # noqa: BLE001 - alembic raises several kinds for an unknown revision
        return False


def check_source(make_source: Callable[[], MailSource]) -> str:
    source = make_source()
    try:
        _, keys = source.snapshot()  # IMAP: connect, (STARTTLS,) LOGIN, EXAMINE folder, UID SEARCH ALL
    finally:
        source.close()
    return f"{source.name}: {len(keys)} mails"


def check_smtp(settings: Settings, open_mailer: Callable[[], AbstractContextManager[Mailer | None]]) -> str:
    with open_mailer() as mailer:
        connect = getattr(mailer, "open", None)
        if callable(connect):
            connect()  # SmtpMailer: connect, EHLO, STARTTLS and AUTH as configured; leaving says QUIT
    smtp = settings.smtp
    signed_in = f", signed in as {smtp.username}" if smtp.username else ""
    return f"{smtp.host}:{smtp.port}, {smtp.security}{signed_in}"


def check_graph_outbox(open_mailer: Callable[[], AbstractContextManager[Mailer | None]]) -> str:
    with open_mailer() as mailer:
        if not isinstance(mailer, GraphMailer):
            raise CheckFailed("outbox.transport is graph, but no Graph mailer was made")
        return mailer.check()  # a token, then a GET of the inbox folder; nothing is sent


def check_folder(folder: str) -> str:
    path = Path(folder)
    if path.exists():
        if not path.is_dir():
            raise CheckFailed(f"{path} is not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise CheckFailed(f"{path}: no permission to write there")
        return f"{path} exists and is writable"
    _writable_or_creatable(path)
    return f"{path} does not exist yet; it is created at the first start"


def _writable_or_creatable(path: Path) -> None:
    """Fail unless `path` is a writable folder or could be made (its nearest existing parent is writable)."""
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise CheckFailed(f"{probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CheckFailed(f"{path} can't be created: no permission to write in {probe}")
