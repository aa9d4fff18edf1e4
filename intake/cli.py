"""The `intake` command line: the only code that reads files and the environment and sets up logging."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from importlib import resources
from pathlib import Path
from typing import Any

from intake import __version__
from intake.config import Settings, parse_settings
from intake.daemon import Daemon
from intake.domain import ImportReport, Mailer, MailSource
from intake.errors import ConfigError, IntakeError, StorageUnavailable
from intake.mailbox.graph import GraphSource
from intake.mailbox.imap import ImapSource
from intake.mailbox.maildir import MaildirSource
from intake.oauth import graph_scope, shared_provider
from intake.ops import logging as ops_logging
from intake.ops.check import run_checks
from intake.outbox.files import FileMailer
from intake.outbox.graph import GraphMailer
from intake.outbox.smtp import SmtpMailer
from intake.pipeline import (
    Context,
    accept_match,
    import_register,
    open_items,
    recover_interrupted_sends,
    reprocess,
)
from intake.replies import ReplyRenderer
from intake.storage import export, store
from intake.storage.database import make_engine, migrate, session_factory
from intake.storage.reports import messages_report, status_report
from intake.storage.store import queued_replies

log = logging.getLogger("intake")
DEFAULT_CONFIG = "config/intake.toml"
CRASHPOINT_VARIABLE = "INTAKE_TEST_CRASHPOINT"  # fault injection for the crash-safety tests
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
MAX_START_DELAY = 300.0  # seconds between attempts to reach the database at start-up


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intake", description="Kvalitetsutmärkelsen intake bot")
    parser.add_argument("--version", action="version", version=f"intake {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help=f"configuration file (default: $INTAKE_CONFIG or {DEFAULT_CONFIG})")
    common.add_argument("--log-level", default=os.environ.get("INTAKE_LOG_LEVEL", "INFO"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    units = commands.add_parser("units", help="the register of units").add_subparsers(
        dest="units_command", required=True, metavar="SUBCOMMAND")
    importer = units.add_parser("import", parents=[common], help="import the register (CSV or XLSX)")
    importer.add_argument("file", type=Path)
    exporter = units.add_parser("export", parents=[common],
                                help="write the register with states to FILE (.xlsx or .csv)")
    exporter.add_argument("file", type=Path)
    aliases = units.add_parser("alias", help="spellings that mean a unit").add_subparsers(
        dest="alias_command", required=True, metavar="ACTION")
    aliases.add_parser("list", parents=[common], help="every alias of this year's units")
    adder = aliases.add_parser("add", parents=[common], help="let a spelling mean a unit")
    adder.add_argument("unit_id", metavar="UNIT_ID")
    adder.add_argument("alias", metavar="SPELLING")
    remover = aliases.add_parser("remove", parents=[common], help="remove an alias by its number")
    remover.add_argument("alias_id", metavar="ALIAS_NUMBER", type=int)

    poll = commands.add_parser("poll", parents=[common], help="process new mail once and exit")
    poll.add_argument("--once", action="store_true", required=True,
                      help="process every new message, send due replies, exit")
    poll.add_argument("--dry-run", action="store_true",
                      help="print the queued replies instead of sending them (they stay queued)")

    run = commands.add_parser("run", parents=[common], help="the daemon (IMAP IDLE or polling)")
    run.add_argument("--web", action="store_true",
                     help="also serve the web desk (and /healthz) on web.host:web.port, in this process")

    for name, text in (("status", "units and their state"), ("messages", "every message and its outcome")):
        report = commands.add_parser(name, parents=[common], help=text)
        report.add_argument("--json", action="store_true", required=True, help="print JSON")

    again = commands.add_parser("reprocess", parents=[common], help="run the pipeline again on a stored mail")
    again.add_argument("message_id", metavar="MESSAGE_ID")
    again.add_argument("--reply", action="store_true", help="queue a new reply to the sender")

    review = commands.add_parser("review", help="the review queue").add_subparsers(
        dest="review_command", required=True, metavar="ACTION")
    review.add_parser("list", parents=[common], help="open review items, oldest first")
    accept = review.add_parser("accept", parents=[common],
                               help="a name in a mail means a unit: remember it, settle the mail, answer")
    accept.add_argument("message_id", metavar="MESSAGE_ID")
    accept.add_argument("unit_id", metavar="UNIT_ID")
    accept.add_argument("mention", metavar="NAME_AS_WRITTEN")
    accept.add_argument("--no-reply", action="store_true", help="settle the mail, do not answer the sender")

    users = commands.add_parser("users", help="coordinator accounts for the web desk").add_subparsers(
        dest="users_command", required=True, metavar="ACTION")
    user_add = users.add_parser("add", parents=[common],
                                help="add a coordinator, or set a new password for one")
    user_add.add_argument("username")
    user_add.add_argument("--name", default="", help="the coordinator's full name")
    user_add.add_argument("--password-stdin", action="store_true",
                          help="read the password from standard input instead of asking")
    user_add.add_argument("--sso", action="store_true",
                          help="no password: the account signs in only through the proxy's header")
    users.add_parser("list", parents=[common], help="every coordinator account")
    web = commands.add_parser("web", parents=[common], help="the coordinators' web desk")
    web.add_argument("--host", help="address to listen on (default: web.host)")
    web.add_argument("--port", type=int, help="port to listen on (default: web.port)")
    commands.add_parser("check", parents=[common],
                        help="try the database, mailbox and outbox; one line each, exit 1 if any failed")
    demo = commands.add_parser("demo", parents=[common],
                               help="the whole bot on the embedded default with sample data")
    demo.add_argument("--dir", type=Path, default=Path("var/demo"), help="where the demo keeps its data")
    demo.add_argument("--fresh", action="store_true", help="start the demo from scratch")
    demo.add_argument("--once", action="store_true", help="process the sample mails and exit")
    demo.add_argument("--port", type=int, default=8080, help="the web desk's port on 127.0.0.1")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ops_logging.install()  # no password or token reaches a log; ops.log_format is applied in load_settings
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations speak only when they fail
    logging.getLogger("mailparser").setLevel(logging.ERROR)  # warns about every unnamed part
    try:
        return COMMANDS[args.command](args)
    except (IntakeError, LookupError, OSError) as exc:
        print(f"intake: {exc}", file=sys.stderr)
        return 1


# --- wiring -------------------------------------------------------------------------


def load_settings(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Settings:
    path = Path(args.config or environ.get("INTAKE_CONFIG") or DEFAULT_CONFIG)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"configuration file {path} not found (copy config/intake.example.toml or pass --config)"
        ) from None
    settings = parse_settings(text, environ)
    ops_logging.configure(settings)
    return settings


def make_context(settings: Settings, environ: Mapping[str, str] = os.environ) -> Context:
    engine = make_engine(settings.database.url)
    migrate(engine)
    return Context(settings=settings, sessions=session_factory(engine),
                   renderer=ReplyRenderer(template_dir()), crashpoint=_crashpoint(environ))


def template_dir() -> Path:
    """templates/ of a source checkout, else the copy a wheel installs as intake.templates."""
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if checkout.is_dir():
        return checkout
    # intake.templates has no __init__.py: files() of a namespace package is a MultiplexedPath,
    # whose str() is no folder; a file inside it is a plain path
    return Path(str(resources.files("intake.templates").joinpath("_base.txt"))).parent


def _crashpoint(environ: Mapping[str, str]) -> Callable[[str], None]:
    wanted = environ.get(CRASHPOINT_VARIABLE)

    def crash(point: str) -> None:
        if point == wanted:
            os.kill(os.getpid(), signal.SIGKILL)

    return crash


def poll_interval(settings: Settings) -> int:
    """Seconds between polls where the source can't push: Graph's own setting, else IMAP's."""
    return settings.graph.poll_interval if settings.source.kind == "graph" else settings.imap.poll_interval


def make_source(settings: Settings) -> MailSource:
    if settings.source.kind == "maildir":
        return MaildirSource(settings.source.maildir)
    if settings.source.kind == "graph":
        token = shared_provider(settings.oauth).source(graph_scope(settings.graph.base_url))
        return GraphSource(settings.graph, settings.graph.mailbox or settings.award.mailbox, token)
    if settings.imap.auth == "xoauth2":
        return ImapSource(settings.imap, token=shared_provider(settings.oauth).source(settings.oauth.scope))
    return ImapSource(settings.imap)


def mailer_opener(settings: Settings, dry_run: bool = False
                  ) -> Callable[[], AbstractContextManager[Mailer | None]]:
    @contextlib.contextmanager
    def open_mailer() -> Iterator[Mailer | None]:
        if dry_run:
            yield None  # nothing is sent; the replies stay queued
        elif settings.outbox.transport == "files":
            yield FileMailer(Path(settings.outbox.path))
        elif settings.outbox.transport == "graph":
            graph_token = shared_provider(settings.oauth).source(graph_scope(settings.graph.base_url))
            sender = settings.graph.mailbox or settings.award.mailbox  # the mailbox GraphSource reads
            with GraphMailer(settings.graph, sender, graph_token) as graph_mailer:
                yield graph_mailer
        else:
            token = None
            if settings.smtp.auth == "xoauth2":
                token = shared_provider(settings.oauth).source(settings.oauth.scope)
            with SmtpMailer(settings.smtp, token=token) as mailer:
                yield mailer

    return open_mailer


# --- commands -----------------------------------------------------------------------


def cmd_units(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    ctx = make_context(settings)
    if args.units_command == "alias":
        return _aliases(ctx, args)
    if args.units_command == "export":
        fmt = export.export_format(args.file)
        year = settings.award.year
        with ctx.sessions.begin() as session:
            entries = export.register_entries(session, year, settings.award.tz)
            store.audit(session, f"cli:{_user()}", "register_exported", f"register:{year}", format=fmt,
                        units=len(entries), filtered=False)
            args.file.write_bytes(export.export_bytes(entries, fmt, year))  # no audit entry if this fails
        print(f"{len(entries)} enheter exporterade till {args.file}")
        return 0
    report = import_register(ctx, args.file.name, args.file.read_bytes(), actor=f"cli:{_user()}")
    for line, reason in report.errors:
        print(f"{args.file.name}: rad {line}: {reason}", file=sys.stderr)
    print(import_summary(report))
    return 0


def _aliases(ctx: Context, args: argparse.Namespace) -> int:
    year = ctx.settings.award.year
    actor = f"cli:{_user()}"
    with ctx.sessions.begin() as session:
        if args.alias_command == "add":
            found = store.units_by_ids(session, year, [args.unit_id])
            if not found:
                raise LookupError(f"ingen enhet med id {args.unit_id} för {year}")
            unit = found[0]
            row = store.add_alias(session, unit, args.alias, actor)
            print(f"{row.id}\t{unit.unit_id}\t{unit.name}\t{row.alias}")
        elif args.alias_command == "remove":
            if store.remove_alias(session, args.alias_id, actor) is None:
                raise LookupError(f"inget alias med nummer {args.alias_id}")
        else:
            for row in store.aliases(session, year):
                print(f"{row.id}\t{row.unit.unit_id}\t{row.unit.name}\t{row.alias}\t{row.created_by}")
    return 0


def cmd_poll(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    daemon = Daemon(make_context(settings), make_source(settings),
                    mailer_opener(settings, args.dry_run), wait_seconds=poll_interval(settings))
    try:
        recover_interrupted_sends(daemon.ctx)
        report = daemon.run_once()
    finally:
        daemon.source.close()
    if args.dry_run:
        with daemon.ctx.sessions.begin() as session:
            for reply in queued_replies(session):
                sys.stdout.write(reply.raw.decode("utf-8", "replace") + "\n")
    log.info("poll: stored %d, processed %d, sent %d", report.stored, report.processed, report.sent)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    ctx = _context_when_reachable(settings)
    if ctx is None:  # stopped while the database was away
        return 0
    daemon = Daemon(ctx, make_source(settings), mailer_opener(settings),
                    wait_seconds=poll_interval(settings))
    daemon.install_signal_handlers()
    server = None
    if args.web:
        from intake.web import create_app, serve_in_background

        server = serve_in_background(create_app(ctx), settings.web.host, settings.web.port)
    try:
        daemon.run()
    finally:
        if server is not None:
            server.close()
    return 0


def _context_when_reachable(settings: Settings) -> Context | None:
    """The daemon's context once the database answers: while it is away at start-up, wait and
    retry (1, 2, 4 ... 300 s) instead of exiting; None if SIGTERM or SIGINT came meanwhile."""
    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in STOP_SIGNALS}
    delay = 1.0
    try:
        while True:
            try:
                return make_context(settings)
            except StorageUnavailable as exc:
                log.warning("%s; retrying in %.0f s", exc, delay)
            if stop.wait(delay):
                log.info("stopped before the database answered")
                return None
            delay = min(delay * 2, MAX_START_DELAY)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def cmd_status(args: argparse.Namespace) -> int:
    ctx = make_context(load_settings(args))
    with ctx.sessions.begin() as session:
        _print_json(status_report(session))
    return 0


def cmd_messages(args: argparse.Namespace) -> int:
    ctx = make_context(load_settings(args))
    with ctx.sessions.begin() as session:
        _print_json(messages_report(session))
    return 0


def cmd_reprocess(args: argparse.Namespace) -> int:
    ctx = make_context(load_settings(args))
    outcome = reprocess(ctx, args.message_id, reply=args.reply)
    print(f"{args.message_id}: {outcome}")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    ctx = make_context(load_settings(args))
    if args.review_command == "accept":
        outcome = accept_match(ctx, args.message_id, args.unit_id, args.mention, f"cli:{_user()}",
                               reply=not args.no_reply)
        print(f"{args.message_id}: {outcome}")
        return 0
    for item in open_items(ctx):
        print("\t".join((item.message_id, item.received_at.isoformat(), item.sender, item.reference or "",
                         item.subject, item.reason)))
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from intake.web.accounts import AccountError, add_user

    ctx = make_context(load_settings(args))
    if args.users_command == "list":
        with ctx.sessions.begin() as session:
            for user in store.users(session):
                state = "aktiv" if user.active else "avstängd"
                last = user.last_login_at.isoformat() if user.last_login_at else "-"
                print("\t".join((user.username, user.display_name, state, last)))
        return 0
    password = None if args.sso else _new_password(args.password_stdin)
    try:
        with ctx.sessions.begin() as session:
            user = add_user(session, args.username, password, f"cli:{_user()}", args.name)
            print(f"{user.username}: kontot är sparat")
    except AccountError as exc:
        print(f"intake: {exc}", file=sys.stderr)
        return 1
    return 0


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Lösenord: ")
    if getpass.getpass("Samma lösenord igen: ") != first:
        raise ConfigError("lösenorden var inte lika; inget sparades")
    return first


def cmd_web(args: argparse.Namespace) -> int:
    from intake.web import create_app, serve

    settings = load_settings(args)
    app = create_app(make_context(settings))
    serve(app, args.host or settings.web.host, args.port or settings.web.port)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    results = run_checks(settings, lambda: make_source(settings), mailer_opener(settings))
    for result in results:
        print(result.line())
    return 0 if all(result.ok for result in results) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from intake.demo import run_demo

    return run_demo(args.dir, fresh=args.fresh, once=args.once, port=args.port, make_context=make_context,
                    import_summary=import_summary)


def import_summary(report: ImportReport) -> str:
    return (f"{report.added} tillagda, {report.updated} uppdaterade, {report.unchanged} oförändrade"
            + (f", {len(report.errors)} rader kunde inte läsas" if report.errors else "")
            + (f"; {len(report.rematched)} väntande mejl matchades om" if report.rematched else ""))


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _user() -> str:
    return os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "units": cmd_units,
    "poll": cmd_poll,
    "run": cmd_run,
    "status": cmd_status,
    "messages": cmd_messages,
    "reprocess": cmd_reprocess,
    "review": cmd_review,
    "users": cmd_users,
    "web": cmd_web,
    "demo": cmd_demo,
    "check": cmd_check,
}

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
