"""Operations: /metrics, /healthz, logs without secrets, `intake check`, the watchdog and the daemon's backoff."""

from __future__ import annotations

import base64
import io
import json
import logging
import signal
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from intake.cli import mailer_opener, make_context
from intake.config import parse_settings
from intake.daemon import MAX_ERROR_BACKOFF, Daemon
from intake.errors import MailboxUnavailable
from intake.mailbox.imap import ImapSource
from intake.ops import heartbeat, watchdog
from intake.ops.heartbeat import Heartbeat
from intake.ops.logging import REDACTED, JsonFormatter, Redactor, install
from intake.ops.watchdog import Event, Limits, WatchState, stale_reason, step
from intake.pipeline import Context
from intake.samples import mail
from intake.storage import store
from intake.storage.models import AuditRow, ReplyRow
from intake.storage.reports import messages_report
from tests.bot import JUNE_19, Bot, protocol_mail, wait_until
from tests.desk import Desk, make_desk
from tests.dovecot import Dovecot, free_port
from tests.smtpserver import SmtpTestServer

ALERT_TO = "anna.samordnare@stockholm.se, Bo Samordnare <bo.samordnare@stockholm.se>"
COORDINATORS = {"anna.samordnare@stockholm.se", "bo.samordnare@stockholm.se"}
MAIL_BODY = "Här kommer protokollsutdraget."  # the body of tests.bot.protocol_mail


def scrape(desk: Desk, **headers: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """/metrics read with Prometheus's own parser: sample name -> sorted labels -> value."""
    response = desk.client().get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(metrics: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str, **labels: str) -> float:
    return metrics[name][tuple(sorted(labels.items()))]


# --- /metrics ---------------------------------------------------------------------------------


def test_metrics_count_what_the_desk_shows(desk: Desk) -> None:
    metrics = scrape(desk)
    with desk.ctx.sessions.begin() as db:
        report = messages_report(db)
        open_reviews = store.count_open_reviews(db)
        outbox = dict(db.execute(select(ReplyRow.status, func.count()).group_by(ReplyRow.status)).all())
        units = Counter(row.state for row in store.unit_rows(db, 2017))
    assert report, "the demo season has mails"
    outcomes = Counter(entry["outcome"] or "none" for entry in report)
    for outcome in ("confirmed", "incomplete", "needs_review", "ignored", "none"):
        assert value(metrics, "intake_messages", outcome=outcome) == outcomes[outcome], outcome
    statuses = Counter(entry["status"] for entry in report)
    for status in ("stored", "processed", "failed", "duplicate"):
        assert value(metrics, "intake_messages_by_status", status=status) == statuses[status], status
    assert value(metrics, "intake_review_queue_length") == open_reviews > 0
    for status in ("queued", "sending", "sent", "held", "failed", "uncertain"):
        assert value(metrics, "intake_outbox_mails", status=status) == outbox.get(status, 0), status
    assert value(metrics, "intake_outbox_backlog") == outbox.get("queued", 0)
    for state in ("awaiting_protocol", "confirmed", "needs_review"):
        assert value(metrics, "intake_units", state=state) == units[state], state

    handled = statuses["processed"] + statuses["failed"]
    buckets = metrics["intake_processing_seconds_bucket"]
    assert value(metrics, "intake_processing_seconds_count") == handled
    assert buckets[(("le", "+Inf"),)] == handled
    counts = [count for _, count in sorted(((float(dict(k)["le"]), v) for k, v in buckets.items()))]
    assert counts == sorted(counts), "buckets are cumulative"
    assert value(metrics, "intake_processing_seconds_sum") > 0

    now = desk.ctx.clock().timestamp()
    assert now - 120 < value(metrics, "intake_last_successful_poll_timestamp_seconds") <= now
    assert 0 <= value(metrics, "intake_last_successful_poll_age_seconds") < 120
    assert value(metrics, "intake_poll_consecutive_failures") == 0
    assert value(metrics, "intake_poll_stale") == 0
    assert value(metrics, "intake_watchdog_alerting") == 0

    desk.deliver(mail("Lena Murray <lena.murray@stockholm.se>", "Automatiskt svar: ledig", "Jag är ledig.",
                      JUNE_19, extra_headers=[("Auto-Submitted", "auto-replied")]).raw)
    desk.poll()
    after = scrape(desk)
    assert value(after, "intake_messages", outcome="ignored") == outcomes["ignored"] + 1
    assert value(after, "intake_processing_seconds_count") == handled + 1


def test_metrics_token_is_asked_for_when_set(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False, web='\n[ops]\nmetrics_token = "s3cret-metrics-token"')
    client = desk.client()
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Basic s3cret-metrics-token"}).status_code == 401
    assert "intake_messages" in scrape(desk, Authorization="Bearer s3cret-metrics-token")
    assert client.get("/healthz").status_code == 200  # the token is for /metrics only


# --- /healthz ---------------------------------------------------------------------------------


def test_healthz_is_fresh_after_a_poll_and_stale_when_none_for_too_long(desk: Desk) -> None:
    fresh = desk.client().get("/healthz")
    body = fresh.get_json()
    assert fresh.status_code == 200
    assert body["status"] == "ok" and body["database"] is True and body["poll"] == "ok"
    assert 0 <= body["last_poll_age_seconds"] < 120 and body["poll_failures"] == 0
    later = desk.ctx.clock() + timedelta(minutes=desk.settings.ops.alert_after_minutes, seconds=5)
    desk.ctx.clock = lambda: later  # the web desk reads the same context
    stale = desk.client().get("/healthz")
    assert stale.status_code == 503
    body = stale.get_json()
    assert body["status"] == "fel" and body["database"] is True and body["poll"] == "stale"
    assert body["last_poll_age_seconds"] >= 30 * 60


class BrokenSource:
    """A mailbox that can't be reached."""

    name = "imap://bot@imap.invalid:993/INBOX"

    def snapshot(self) -> tuple[str, list[str]]:
        raise MailboxUnavailable("cannot connect to IMAP server imap.invalid:993: refused")

    def fetch(self, keys: object) -> object:
        raise AssertionError("never reached")

    def wait(self, timeout: float) -> bool:
        return False

    def close(self) -> None:
        pass


def test_healthz_is_stale_after_failures_in_a_row_and_well_again_after_a_success(desk: Desk) -> None:
    from contextlib import nullcontext

    broken = Daemon(desk.ctx, BrokenSource(), lambda: nullcontext(None), wait_seconds=1)  # type: ignore[arg-type]
    for _ in range(desk.settings.ops.alert_after_failures):
        assert desk.client().get("/healthz").status_code == 200
        with pytest.raises(MailboxUnavailable):
            broken.run_once()
    unhealthy = desk.client().get("/healthz")
    assert unhealthy.status_code == 503 and unhealthy.get_json()["poll_failures"] == 10
    assert value(scrape(desk), "intake_poll_stale") == 1
    assert value(scrape(desk), "intake_watchdog_alerting") == 1  # alert_to is empty: no mail, but the state
    desk.poll()
    assert desk.client().get("/healthz").status_code == 200
    assert value(scrape(desk), "intake_watchdog_alerting") == 0


def test_healthz_before_any_round_is_not_an_error(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    response = desk.client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["poll"] == "unknown" and response.get_json()["last_poll"] is None


# --- logs -------------------------------------------------------------------------------------


def test_redactor_and_json_formatter() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    install([handler])
    redactor = next(f for f in handler.filters if isinstance(f, Redactor))
    redactor.set_secrets(["hemligt-losen-42"])
    logger = logging.getLogger("intake.test_ops")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("login with %s failed", "hemligt-losen-42", extra={"mailbox": "INBOX", "round": 3})
        logger.warning("sent Authorization: Bearer abc.DEF-123 and AUTH PLAIN AGJvdABodW50ZXIy")
        logger.warning("database postgresql://intake:pg-pass@db.example/intake; password=topsecret")
        try:
            raise RuntimeError("the server said hemligt-losen-42")
        except RuntimeError:
            logger.exception("round failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    for secret in ("hemligt-losen-42", "abc.DEF-123", "AGJvdABodW50ZXIy", "pg-pass", "topsecret"):
        assert secret not in text
    entries = [json.loads(line) for line in text.splitlines()]
    assert [set(e) >= {"time", "level", "logger", "message"} for e in entries] == [True] * 4
    assert entries[0]["message"] == f"login with {REDACTED} failed"
    assert entries[0]["mailbox"] == "INBOX" and entries[0]["round"] == 3 and entries[0]["level"] == "WARNING"
    assert entries[1]["message"] == f"sent Authorization: Bearer {REDACTED} and AUTH PLAIN {REDACTED}"
    assert "RuntimeError" in entries[3]["exception"] and REDACTED in entries[3]["exception"]
    assert datetime.fromisoformat(entries[0]["time"]).tzinfo is not None


def test_json_logs_of_a_poll_hold_no_password_and_no_mail_body(
    tmp_path: Path, dovecot: Dovecot, make_smtp_server, database_url: str  # type: ignore[no-untyped-def]
) -> None:
    smtp: SmtpTestServer = make_smtp_server(auth=True)
    bot = Bot(tmp_path, dovecot.port, dovecot.user, dovecot.password, smtp.port, database_url)
    bot.import_register()
    sample = protocol_mail()
    dovecot.append(sample.raw, internaldate=sample.received_at)
    done = bot.run("poll", "--once", "--log-level", "DEBUG", INTAKE_OPS_LOG_FORMAT="json",
                   INTAKE_SMTP_USERNAME=smtp.username, INTAKE_SMTP_PASSWORD=smtp.password)
    smtp.wait_for(1)
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    assert entries and all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert any("connected to imap://" in e["message"] for e in entries)
    assert any(e["logger"].startswith("imapclient") for e in entries)  # DEBUG: the IMAP dialogue too
    plain_auth = base64.b64encode(f"\0{smtp.username}\0{smtp.password}".encode()).decode()
    for secret in (dovecot.password, smtp.password, plain_auth):
        assert secret not in done.stderr
    assert MAIL_BODY not in done.stderr


# --- intake check -----------------------------------------------------------------------------


def test_check_says_ok_for_each_connection(bot: Bot) -> None:
    done = bot.run("check")
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["database", "imap", "smtp"]
    assert all(line.split(": ", 1)[1].startswith("ok") for line in lines), lines
    assert "schema up to date" in lines[0] and "0 mails" in lines[1]


def test_check_says_in_one_line_each_what_is_wrong(bot: Bot) -> None:
    closed = free_port()
    done = bot.run("check", check=False, INTAKE_IMAP_PASSWORD="fel-losenord",
                   INTAKE_SMTP_PORT=str(closed), INTAKE_DATABASE_URL=f"postgresql://intake@127.0.0.1:{closed}/x")
    assert done.returncode == 1
    database, imap, smtp = done.stdout.splitlines()
    assert database.startswith("database: cannot connect to postgresql://intake@127.0.0.1")
    assert imap.startswith("imap: IMAP login to 127.0.0.1") and "refused" in imap
    assert smtp.startswith(f"smtp: SMTP 127.0.0.1:{closed}") and "refused" in smtp.lower()
    assert "fel-losenord" not in done.stdout + done.stderr


def test_check_smtp_password_and_missing_folder(
    tmp_path: Path, dovecot: Dovecot, smtp_server_auth: SmtpTestServer, database_url: str
) -> None:
    bot = Bot(tmp_path, dovecot.port, dovecot.user, dovecot.password, smtp_server_auth.port, database_url)
    ok = bot.run("check", INTAKE_SMTP_USERNAME=smtp_server_auth.username,
                 INTAKE_SMTP_PASSWORD=smtp_server_auth.password)
    assert ok.stdout.splitlines()[2].startswith("smtp: ok")
    wrong = bot.run("check", check=False, INTAKE_SMTP_USERNAME=smtp_server_auth.username,
                    INTAKE_SMTP_PASSWORD="fel-losenord", INTAKE_IMAP_FOLDER="Finns-inte")
    assert wrong.returncode == 1
    _, imap, smtp = wrong.stdout.splitlines()
    assert imap.startswith("imap: could not list the folder") and "Finns-inte" in imap
    assert smtp.startswith("smtp: SMTP 127.0.0.1") and "535" in smtp


def test_check_for_a_maildir_and_a_files_outbox(tmp_path: Path, database_url: str) -> None:
    config = tmp_path / "maildir.toml"  # Bot writes intake.toml
    (tmp_path / "a-file").write_text("not a folder")
    config.write_text(f"""
[award]
year = 2017
mailbox = "kvalitetsutmarkelsen@stockholm.se"
protocol_deadline = 2017-06-30
[source]
kind = "maildir"
maildir = "{tmp_path / 'maildir'}"
[outbox]
transport = "files"
path = "{tmp_path / 'a-file'}"
[database]
url = "{database_url}"
""", encoding="utf-8")
    bot = Bot(tmp_path, 1, "x", "x", 1, database_url)
    done = bot.run("check", "--config", str(config), check=False)
    assert done.returncode == 1
    database, maildir, outbox = done.stdout.splitlines()
    assert database.startswith("database: ok")
    assert maildir.startswith("maildir: ok") and "created at the first start" in maildir
    assert outbox == f"outbox: {tmp_path / 'a-file'} is not a folder"


# --- the watchdog -----------------------------------------------------------------------------

LIMITS = Limits(timedelta(minutes=30), 10)
T0 = datetime(2017, 6, 19, 8, 0, tzinfo=UTC)


def test_watchdog_alerts_once_after_failures_and_recovers_once() -> None:
    beat, state = heartbeat.succeeded(Heartbeat(), T0, "imap://x"), WatchState()
    events = []
    now = T0
    for _ in range(25):  # a failure a minute: the tenth raises the alert, the rest say nothing
        now += timedelta(minutes=1)
        beat = heartbeat.failed(beat, now, "imap://x", "refused")
        state, event = step(state, beat, now, LIMITS)
        events.append(event)
    assert events.index(Event.ALERT) == 9 and events.count(Event.ALERT) == 1 and events.count(None) == 24
    assert state.alerting and state.reason == "10 misslyckade försök i rad att läsa brevlådan"
    for minute in range(5):
        now += timedelta(minutes=1)
        beat = heartbeat.succeeded(beat, now, "imap://x")
        state, event = step(state, beat, now, LIMITS)
        assert event == (Event.RECOVERY if minute == 0 else None)
    assert not state.alerting and beat.failures == 0


def test_watchdog_alerts_on_time_without_a_success() -> None:
    beat, state = heartbeat.succeeded(Heartbeat(), T0, "imap://x"), WatchState()
    events = []
    for minutes in range(5, 65, 5):  # few failures, far apart: the time limit decides
        now = T0 + timedelta(minutes=minutes)
        beat = heartbeat.failed(beat, now, "imap://x", "timeout")
        state, event = step(state, beat, now, LIMITS)
        events.append((minutes, event))
    assert [m for m, e in events if e is Event.ALERT] == [30]
    assert state.reason == "ingen lyckad läsning av brevlådan på 30 minuter"
    never = heartbeat.failed(Heartbeat(), T0, "imap://x", "refused")
    assert stale_reason(never, T0 + timedelta(minutes=29), LIMITS) is None
    assert stale_reason(never, T0 + timedelta(minutes=30), LIMITS) == "brevlådan har inte gått att läsa på 30 minuter"
    assert stale_reason(Heartbeat(), T0, LIMITS) is None  # nothing recorded: unknown, not stale
    idle = heartbeat.succeeded(Heartbeat(), T0, "imap://x")  # the daemon stopped or hangs after a success
    assert stale_reason(idle, T0 + timedelta(minutes=31), LIMITS) == "ingen lyckad läsning av brevlådan på 31 minuter"


def alerts(ctx: Context) -> list[ReplyRow]:
    with ctx.sessions.begin() as db:
        return list(db.scalars(select(ReplyRow).where(ReplyRow.kind == "alert").order_by(ReplyRow.id)))


def test_watchdog_queues_one_alert_and_one_recovery_mail_per_coordinator(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False,
                     web=f'\n[ops]\nalert_to = "{ALERT_TO}"\nalert_after_failures = 3')
    ctx, now = desk.ctx, [T0]
    ctx.clock = lambda: now[0]
    source = "imap://bot@imap.example.org:993/INBOX"
    error = MailboxUnavailable("cannot connect to IMAP server imap.example.org:993: Connection refused")
    assert watchdog.after_round(ctx, source, None) is None
    events = []
    for _ in range(20):
        now[0] += timedelta(minutes=1)
        events.append(watchdog.after_round(ctx, source, error))
    assert events == [None, None, Event.ALERT] + [None] * 17
    rows = alerts(ctx)
    assert {row.recipient for row in rows} == COORDINATORS and len(rows) == 2
    assert all(row.message_pk is None and row.status == "queued" for row in rows)
    message = message_from_bytes(rows[0].raw, policy=policy.default)
    assert message["Subject"] == "Larm: brevlådan kvalitetsutmarkelsen@stockholm.se läses inte"
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "3 misslyckade försök i rad" in text and "Connection refused" in text
    assert "2017-06-19 10:00" in text  # the last success, in the award's time zone

    for _ in range(5):
        now[0] += timedelta(minutes=1)
        events.append(watchdog.after_round(ctx, source, None))
    assert events[20:] == [Event.RECOVERY, None, None, None, None]
    rows = alerts(ctx)
    assert len(rows) == 4 and {row.recipient for row in rows[2:]} == COORDINATORS
    recovery = message_from_bytes(rows[2].raw, policy=policy.default)
    assert recovery["Subject"] == "Åter i drift: brevlådan kvalitetsutmarkelsen@stockholm.se läses igen"
    for _ in range(2):  # fewer failures than the limit: no new alert
        now[0] += timedelta(minutes=1)
        assert watchdog.after_round(ctx, source, error) is None
    assert len(alerts(ctx)) == 4
    with ctx.sessions.begin() as db:
        actions = list(db.scalars(select(AuditRow.action).where(AuditRow.subject == "ops:watchdog")))
    assert actions == ["watchdog_alert", "watchdog_recovery"]


# --- the daemon against a mail server that goes away ---------------------------------------------


def halt(dovecot: Dovecot) -> None:
    """Stop Dovecot but keep its folder, config and port, so start() brings the same server back."""
    assert dovecot._process is not None
    dovecot.kill_sessions()
    dovecot._process.send_signal(signal.SIGTERM)
    dovecot._reap_process()


def test_daemon_backoff_grows_and_is_capped() -> None:
    daemon = Daemon(None, BrokenSource(), lambda: None, wait_seconds=1)  # type: ignore[arg-type]
    assert [daemon.error_delay(n) for n in range(1, 11)] == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert daemon.error_delay(1000) == MAX_ERROR_BACKOFF


def test_daemon_records_failures_backs_off_alerts_and_recovers(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpTestServer, database_url: str
) -> None:
    settings = parse_settings(f"""
[award]
year = 2017
mailbox = "kvalitetsutmarkelsen@stockholm.se"
protocol_deadline = 2017-06-30
[imap]
host = "127.0.0.1"
port = {dovecot.port}
security = "none"
username = "{dovecot.user}"
password = "{dovecot.password}"
poll_interval = 1
timeout = 5
[smtp]
host = "127.0.0.1"
port = {smtp_server.port}
security = "none"
timeout = 5
[database]
url = "{database_url}"
[ops]
alert_to = "{ALERT_TO}"
alert_after_failures = 3
""", {})
    ctx = make_context(settings, {})
    daemon = Daemon(ctx, ImapSource(settings.imap), mailer_opener(settings), wait_seconds=1)
    daemon.first_error_delay = 0.1
    delays: list[float] = []
    backoff = daemon.error_delay

    def recorded(failures: int) -> float:
        delays.append(backoff(failures))
        return delays[-1]

    daemon.error_delay = recorded  # type: ignore[method-assign]

    def beat() -> Heartbeat:
        with ctx.sessions.begin() as db:
            return heartbeat.read(db)

    thread = threading.Thread(target=daemon.run, name="daemon")
    thread.start()
    try:
        wait_until(lambda: beat().last_success is not None, 30)
        halt(dovecot)
        [alert] = smtp_server.wait_for(1, timeout=60)
        assert beat().failures >= 3 and "127.0.0.1" in (beat().last_error or "")
        assert alert.message["Subject"].startswith("Larm:") and set(alert.rcpt_tos) <= COORDINATORS
        wait_until(lambda: len(smtp_server.messages) == 2, 10)  # one to each coordinator
        assert {m.rcpt_tos[0] for m in smtp_server.messages} == COORDINATORS
        wait_until(lambda: len(delays) >= 3, 10)  # the daemon reckons its delay after sending the alert
        assert delays[:3] == [0.1, 0.2, 0.4]  # growing while the server is away
        dovecot.start()
        messages = smtp_server.wait_for(4, timeout=60)
        assert all(m.message["Subject"].startswith("Åter i drift:") for m in messages[2:])
        wait_until(lambda: beat().failures == 0, 10)
    finally:
        daemon.stop()
        thread.join(60)
    assert not thread.is_alive()
    assert len(smtp_server.messages) == 4  # one alert and one recovery to each coordinator, never more
    with ctx.sessions.begin() as db:
        assert {row.status for row in db.scalars(select(ReplyRow).where(ReplyRow.kind == "alert"))} == {"sent"}


def test_worker_processes_log_through_the_bot_redacted_and_as_json() -> None:
    """Reading workers send their records to the bot's handlers: same JSON, same redaction, same
    level, named by the worker's pid; nothing reaches a worker's own stderr."""
    from email.message import EmailMessage

    from intake.pipeline.analysis import analyse_all

    def broken_zip_mail(number: int) -> bytes:
        message = EmailMessage()
        message["From"] = "registrator@stockholm.se"
        message["Subject"] = f"Protokollsutdrag {number}"
        message.set_content("Se bilaga.")
        message.add_attachment(b"PK\x03\x04 not a zip at all", maintype="application", subtype="zip",
                               filename=f"password=hemligt{number}.zip")
        return message.as_bytes()

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    install([handler])
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        raws = {pk: broken_zip_mail(pk) for pk in range(1, 7)}
        results = list(analyse_all(list(raws), raws.__getitem__, frozenset(), workers=2))
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert [pk for pk, _ in results] == list(raws)
    assert all(result is not None and not isinstance(result, BaseException) for _, result in results)
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    from_workers = [e for e in entries if "worker" in e]
    assert len(from_workers) >= len(raws), entries  # one "not opened" record per mail at least
    assert {e["logger"] for e in from_workers} == {"intake.reading.containers"}
    assert all(e["level"] == "INFO" and isinstance(e["worker"], int) for e in from_workers)
    assert "hemligt" not in stream.getvalue() and all(REDACTED in e["message"] for e in from_workers
                                                        if "not opened" in e["message"])
