"""`intake demo`: the whole bot on its embedded default (local Maildir, SQLite, replies as files).

It imports a sample register, drops the sample season's mails into a Maildir,
processes them end to end, prints what happened, then keeps watching the Maildir
and serves the coordinators' web desk on http://127.0.0.1:8080 with a printed demo
login, so a new user sees the whole product with one command.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from intake.config import Settings, parse_settings
from intake.daemon import Daemon
from intake.domain import ImportReport, Mailer
from intake.mailbox.maildir import MaildirSource, deliver
from intake.outbox.files import FileMailer
from intake.pipeline import Context, import_register
from intake.samples import demo_mails, register_csv
from intake.storage import store
from intake.storage.reports import messages_report, status_report
from intake.web import create_app, serve_in_background
from intake.web.accounts import add_user

DEMO_CONFIG = """
[award]
year = 2017
mailbox = "kvalitetsutmarkelsen@stockholm.se"
protocol_deadline = 2017-06-30

[source]
kind = "maildir"
maildir = "{dir}/maildir"

[smtp]
from = "Kvalitetsutmärkelsen <kvalitetsutmarkelsen@stockholm.se>"

[outbox]
transport = "files"
path = "{dir}/outbox"
replies_per_hour = 20

[database]
url = "sqlite:///{dir}/intake.db"

[imap]
poll_interval = 2

[web]
host = "127.0.0.1"
port = {port}
"""
DEMO_USER = "demo"
DEMO_PASSWORD = "kvalitet-demo"  # printed at start; the demo listens on the loopback address only

OUTCOME_WORDS = {
    "confirmed": "bekräftat",
    "incomplete": "ofullständigt",
    "needs_review": "granskas",
    "ignored": "ignorerat",
    None: "ej behandlat",
}
STATE_WORDS = {
    "confirmed": "bekräftad",
    "awaiting_protocol": "väntar på protokoll",
    "needs_review": "granskas",
}


def demo_settings(directory: Path, port: int = 8080) -> Settings:
    return parse_settings(DEMO_CONFIG.format(dir=directory.resolve().as_posix(), port=port), {})


def run_demo(
    directory: Path,
    *,
    fresh: bool,
    once: bool,
    port: int = 8080,
    make_context: Callable[[Settings], Context],
    import_summary: Callable[[ImportReport], str],
) -> int:
    if fresh and directory.exists():
        shutil.rmtree(directory)
    first_time = not (directory / "intake.db").exists()
    settings = demo_settings(directory, port)
    ctx = make_context(settings)
    maildir = Path(settings.source.maildir)
    source = MaildirSource(maildir, poll_interval=settings.imap.poll_interval)

    if first_time:
        report = load_samples(ctx, maildir)
        print(f"Registret för 2017: {import_summary(report)}")

    daemon = Daemon(ctx, source, _file_mailer(settings), wait_seconds=settings.imap.poll_interval)
    daemon.run_once()
    print_summary(ctx, settings)
    if once:
        source.close()
        return 0
    server = _start_web(ctx, settings)
    print(f"\nSamordnarnas sidor: http://{settings.web.host}:{settings.web.port}/"
          f"  (logga in som {DEMO_USER}, lösenord {DEMO_PASSWORD})")
    print(f"Boten bevakar nu {maildir}/new: lägg dit ett mejl (.eml) så besvaras det.")
    print("Avsluta med Ctrl-C.", flush=True)
    daemon.install_signal_handlers()
    try:
        daemon.run()
    finally:
        server.close()
    return 0


def _start_web(ctx: Context, settings: Settings) -> Any:
    """The web desk in a background thread (waitress), with the demo's coordinator account."""
    with ctx.sessions.begin() as session:
        if store.user_by_name(session, DEMO_USER) is None:
            add_user(session, DEMO_USER, DEMO_PASSWORD, "demo", "Demoanvändare")
    return serve_in_background(create_app(ctx), settings.web.host, settings.web.port)


def load_samples(ctx: Context, maildir: Path) -> ImportReport:
    """The sample register imported, the sample season's mails in the Maildir as they arrived."""
    report = import_register(ctx, "register.csv", register_csv(), actor="demo")
    for sample in demo_mails():
        key = deliver(maildir, sample.raw)
        stamp = sample.received_at.timestamp()
        for sub in ("new", "cur"):
            path = maildir / sub / key
            if path.exists():
                os.utime(path, (stamp, stamp))
    return report


def _file_mailer(settings: Settings) -> Callable[[], AbstractContextManager[Mailer | None]]:
    return lambda: nullcontext(FileMailer(Path(settings.outbox.path)))


def print_summary(ctx: Context, settings: Settings) -> None:
    with ctx.sessions.begin() as session:
        messages = messages_report(session)
        units = status_report(session, settings.award.year)
    print(f"\nMejl i brevlådan ({len(messages)}):")
    for item in messages:
        missing = ", ".join(item["missing"])
        print(f"  {item['received_at'][:10]}  {item['from']:<32} {OUTCOME_WORDS[item['outcome']]:<14}"
              f" {missing}")
        print(f"      {item['subject']}")
    print(f"\nEnheter ({len(units)}):")
    for unit in units:
        protocol = unit["protocol"]
        detail = f" ({protocol['paragraph']}, {protocol['meeting_date']})" if protocol else ""
        state = STATE_WORDS.get(unit["state"], unit["state"])
        print(f"  {state:<20} {unit['unit']}, {unit['board']}{detail}")
    print(f"\nSvaren till avsändarna finns som .eml-filer i {settings.outbox.path}")
    print(f"Databasen: {settings.database.url}")
