"""Benchmark: arrival-to-reply latency of the daemon (`intake run`, IMAP IDLE), one mail at a time.

    .venv/bin/python bench/latency.py --mails 200                  # the issue's figure, ~5 min
    .venv/bin/python bench/latency.py --mails 20 --floor-mails 5   # smoke test, ~1.5 min
    .venv/bin/python bench/latency.py --database-url postgresql://postgres@127.0.0.1:5432/intake_bench
    .venv/bin/python bench/latency.py --mails 100 --stages         # + wall-clock timers per stage

(A database of its own: its intake tables are dropped, and the test suite's `test` database is
emptied by test runs, which made a daemon there answer mails twice.)

What it does (bench/README.md has the why and the figures):

1. Starts Dovecot (Maildir on tmpfs) and an aiosmtpd server, builds a register of 200 units
   and N + 1 mails with 2-page text-PDF protokollsutdrag, all with bench/poll_once.py's
   helpers (the same sample data as the throughput benchmark).
2. The floor: an IMAPClient IDLEs on a folder of its own while another connection APPENDs
   `--floor-mails` mails there one at a time; each sample is the time from just before the
   APPEND to the EXISTS push reaching the idler. Dovecot waits about 0.5 s after a change
   before it tells an idling client, so no IDLE client can answer faster than this.
3. A fresh database + `intake units import`, then `intake run` (the daemon) in a child
   process, with `imap.poll_interval` 60 s by default (the bot's default: it IDLEs for up to
   that long between rounds). One warm-up mail, whose reply shows the daemon is up.
4. N mails, one at a time, each APPENDed on an open connection to the folder the daemon
   watches; the next one only after the reply to this one reached the SMTP server (matched
   by In-Reply-To) and a random gap of 0.1-0.5 s. Latency = the time the SMTP server
   received the reply minus the time just before the APPEND (the same clock: the server
   runs in a thread of this process). Meanwhile an observer IDLEs on the same folder and
   notes when each mail's EXISTS push came (that mail's own floor), and the daemon's log
   (INFO, millisecond timestamps) splits the rest into stages.
5. SIGTERM; the daemon must exit 0. Then the checks: one reply per mail, to its sender;
   `intake messages --json` lists N + 1 mails, all `confirmed`, each reply `sent`.

Memory: the daemon's VmHWM (its own peak RSS, reset at exec, unlike ru_maxrss) and VmRSS of
the process tree sampled every 0.1 s. Writes bench/results/latency.json (latency-postgresql.json
with --database-url postgresql://...) and prints Markdown tables; the exit status is 1 if a
check fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.poll_once import (  # noqa: E402
    RESULTS,
    SHM,
    Bench,
    BenchMail,
    LeanHandler,
    _descendants,
    build_mails,
    build_register,
    check_messages,
    check_pdf_pages,
    check_replies,
    code_version,
    register_csv,
    sender_pool,
    servers,
)

TARGET_SECONDS = 1.0  # the target: p95 under 1 s for text PDFs
REPLY_TIMEOUT = 60.0  # seconds to wait for one reply before counting it missing
STARTUP_TIMEOUT = 120.0  # the daemon's start and the warm-up reply
STOP_TIMEOUT = 120.0  # more than imap.timeout (60 s in the config): a stuck LOGOUT shows as slow
GAP = (0.1, 0.5)  # seconds between a reply and the next APPEND
SAMPLE_SECONDS = 0.1
FLOOR_FOLDER = "Floor"
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (\w+) ([\w.]+): (.*)$")


# --- the SMTP side: when each reply arrived -------------------------------------------------


class TimedHandler(LeanHandler):
    """LeanHandler that also notes when each message arrived (perf_counter) and wakes waiters."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition(self.lock)
        self.arrivals: list[tuple[float, bytes]] = []  # never emptied by take()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.perf_counter()
        raw = envelope.original_content or b""
        with self.changed:
            self.received.append((tuple(envelope.rcpt_tos), raw))
            self.arrivals.append((now, raw))
            self.changed.notify_all()
        return "250 OK"

    def arrivals_after(self, seen: int, timeout: float) -> list[tuple[float, bytes]]:
        """The arrivals after the first `seen`, waiting up to `timeout` s for at least one."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.arrivals) > seen, max(timeout, 0.0))
            return self.arrivals[seen:]


class ReplyClock:
    """Reads what the SMTP server received: In-Reply-To -> arrival times."""

    def __init__(self, handler: TimedHandler) -> None:
        self.handler = handler
        self.seen = 0
        self.times: dict[str, list[float]] = {}
        self._parser = BytesHeaderParser()

    def wait_for(self, message_id: str, deadline: float) -> float | None:
        while message_id not in self.times:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            for at, raw in self.handler.arrivals_after(self.seen, left):
                self.seen += 1
                original = str(self._parser.parsebytes(raw).get("In-Reply-To", ""))
                self.times.setdefault(original, []).append(at)
        return self.times[message_id][0]


# --- the IMAP side: when an idling client hears of a new mail ----------------------------------


class Observer(threading.Thread):
    """An IMAPClient IDLEing on `folder` that notes when each EXISTS push arrives."""

    def __init__(self, dovecot: Any, folder: str) -> None:
        super().__init__(name=f"observer-{folder}", daemon=True)
        self.dovecot = dovecot
        self.folder = folder
        self.changed = threading.Condition()
        self.pushes: list[tuple[float, int]] = []  # (perf_counter, EXISTS count)
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from imapclient import IMAPClient

        try:
            imap = IMAPClient(self.dovecot.host, self.dovecot.port, ssl=False, timeout=30)
            imap.login(self.dovecot.user, self.dovecot.password)
            imap.select_folder(self.folder, readonly=True)
            imap.idle()
            self.ready.set()
            while not self.stopping.is_set():
                responses = imap.idle_check(timeout=0.5)
                now = time.perf_counter()
                counts = [int(r[0]) for r in responses if len(r) >= 2 and r[1] == b"EXISTS"]
                if counts:
                    with self.changed:
                        self.pushes.extend((now, count) for count in counts)
                        self.changed.notify_all()
            imap.idle_done()
            imap.logout()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
            self.ready.set()

    def start_idling(self) -> Observer:
        self.start()
        if not self.ready.wait(30) or self.error is not None:
            raise SystemExit(f"the IDLE observer on {self.folder} did not start: {self.error}")
        return self

    def time_of(self, count: int, deadline: float) -> float | None:
        """When the server first announced at least `count` messages (None: not by the deadline)."""

        def found() -> float | None:
            return next((at for at, exists in self.pushes if exists >= count), None)

        with self.changed:
            self.changed.wait_for(lambda: found() is not None, max(deadline - time.perf_counter(), 0.0))
            return found()

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


def measure_floor(dovecot: Any, mails: Sequence[BenchMail], rng: random.Random) -> list[float]:
    """Seconds from just before each APPEND to the EXISTS push reaching a client idling there."""
    with dovecot.client() as appender:
        if not appender.folder_exists(FLOOR_FOLDER):
            appender.create_folder(FLOOR_FOLDER)
        observer = Observer(dovecot, FLOOR_FOLDER).start_idling()
        time.sleep(0.2)
        samples = []
        try:
            for index, item in enumerate(mails, start=1):
                t0 = time.perf_counter()
                appender.append(FLOOR_FOLDER, item.raw, msg_time=item.received_at)
                pushed = observer.time_of(index, t0 + 10)
                if pushed is None:
                    raise SystemExit(f"no EXISTS push within 10 s for floor mail {index}")
                samples.append(pushed - t0)
                time.sleep(rng.uniform(*GAP))
        finally:
            observer.stop()
    return samples


# --- the daemon -------------------------------------------------------------------------------


class MemorySampler(threading.Thread):
    """VmRSS of the daemon and of its whole process tree, every SAMPLE_SECONDS."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="memory", daemon=True)
        self.pid = pid
        self.stopping = threading.Event()
        self.peak_rss_kib = 0
        self.peak_tree_rss_kib = 0
        self.most_processes = 0

    def run(self) -> None:
        while not self.stopping.wait(SAMPLE_SECONDS):
            tree = _descendants(self.pid)
            sizes = [status_kib(pid, "VmRSS") for pid in tree]
            if not sizes or sizes[0] == 0:
                continue
            self.peak_rss_kib = max(self.peak_rss_kib, sizes[0])
            self.peak_tree_rss_kib = max(self.peak_tree_rss_kib, sum(sizes))
            self.most_processes = max(self.most_processes, len(tree))

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


def status_kib(pid: int, field: str) -> int:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM), 0 if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_daemon(bench: Bench, config: Path, stages: Path | None) -> tuple[subprocess.Popen[bytes], Path]:
    """`intake run` in a child; with `stages`, under wall-clock timers that write that file at exit."""
    log_path = bench.log_dir / "daemon.err"
    command = ["-m", "intake.cli", "run"] if stages is None else [__file__, "--daemon-stages", str(stages)]
    with log_path.open("wb") as err, (bench.log_dir / "daemon.out").open("wb") as out:
        daemon = subprocess.Popen(
            [sys.executable, *command],
            env=bench.env(config),
            cwd=bench.work,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    return daemon, log_path


def daemon_with_timers(out: Path) -> int:
    """The child of --stages: `intake run` with bench/stage_timer.py's timers and the daemon's own."""
    from bench import stage_timer as timer
    from intake import daemon as daemon_module
    from intake.mailbox.imap import IMAPClient, ImapSource
    from intake.outbox.smtp import SmtpMailer
    from intake.storage import store

    timer.install()
    timer.patch(daemon_module.Daemon, "run_once", "Daemon.run_once (one round)")
    timer.patch(daemon_module.Daemon, "_after_round", "Daemon._after_round (heartbeat, watchdog)")
    timer.patch(timer.pipeline, "check_auto_reminder", "poll_once.check_auto_reminder")
    timer.patch(ImapSource, "wait", "ImapSource.wait (IDLE: mostly waiting for mail)")
    timer.patch(ImapSource, "_examine", "ImapSource._examine (EXAMINE)")
    timer.patch(IMAPClient, "search", "IMAPClient.search (SEARCH ALL)")
    timer.patch(IMAPClient, "idle_done", "IMAPClient.idle_done (DONE round trip)")
    timer.patch(store, "known_keys", "store.known_keys")
    timer.patch(SmtpMailer, "_connect", "SmtpMailer._connect (connect, EHLO)")
    timer.patch(SmtpMailer, "close", "SmtpMailer.close (QUIT)")
    status = timer.cli.main(["run"])
    report = {
        "not_found": timer.SKIPPED,
        "stages": {
            name: {"seconds": timer.TOTALS[name], "calls": timer.CALLS[name]} for name in timer.TOTALS
        },
    }
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return int(status or 0)


def stages_table(report: dict[str, Any], rounds: int) -> str:
    lines = [
        f"stage-timed daemon: inclusive wall time per round ({rounds} rounds of one mail each)",
        "| stage | calls | ms per call | ms per round |",
        "|---|---|---|---|",
    ]
    if report.get("not_found"):
        lines.insert(1, f"(not in this version of intake/: {', '.join(report['not_found'])})")
    stages = report["stages"]
    for name in sorted(stages, key=lambda key: -stages[key]["seconds"]):
        row = stages[name]
        if row["calls"]:
            lines.append(f"| {name} | {row['calls']} | {row['seconds'] / row['calls'] * 1000:.1f} "
                         f"| {row['seconds'] / rounds * 1000:.1f} |")  # fmt: skip
    return "\n".join(lines)


def stop_daemon(daemon: subprocess.Popen[bytes]) -> tuple[int | None, float]:
    """SIGTERM; (exit status, seconds to exit). None: it had to be killed."""
    started = time.perf_counter()
    daemon.send_signal(signal.SIGTERM)
    try:
        status: int | None = daemon.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
        status = None
    return status, time.perf_counter() - started


def log_events(path: Path) -> list[tuple[float, str, str]]:
    """(wall-clock time, logger, message) of each line of the daemon's log."""
    events = []
    for line in path.read_text(errors="replace").splitlines():
        found = LOG_LINE.match(line)
        if found:
            stamp = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").timestamp()
            events.append((stamp + int(found.group(2)) / 1000, found.group(4), found.group(5)))
    return events


def stages_from_log(events: list[tuple[float, str, str]], samples: list[dict[str, Any]]) -> None:
    """Add each mail's stage times (seconds after its APPEND) from the daemon's log, in place.

    seen: the round's `N new message(s)` line (after the wake-up, EXAMINE, SEARCH and the
    database's known keys); processed: the `message <id> from ...: outcome` line (fetched,
    stored, analysed, decided, reply queued; written just before that transaction commits);
    round_end: the daemon's `stored 1, processed 1, sent 1` line."""

    def first(lines: list[tuple[float, str, str]], logger: str, part: str, after: float) -> float | None:
        found = (at for at, name, text in lines if name == logger and part in text and at >= after)
        return next(found, None)

    for index, sample in enumerate(samples):
        start = sample["append_wall"]
        end = samples[index + 1]["append_wall"] if index + 1 < len(samples) else math.inf
        window = [(at, name, text) for at, name, text in events if start <= at < end]
        seen = first(window, "intake.pipeline.ingest", "new message(s) in", start)
        processed = first(events, "intake.pipeline.process", f"message {sample['message_id']} from ", start)
        after = processed if processed is not None else start
        round_end = first(window, "intake.daemon", "stored ", after)
        for key, at in (("seen", seen), ("processed", processed), ("round_end", round_end)):
            sample[f"{key}_s"] = None if at is None else at - start


# --- statistics and report ---------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(values: Sequence[float]) -> dict[str, float]:
    values = [v for v in values if v is not None]
    if not values:
        return {}
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values),
        "min": min(values),
        "mean": statistics.fmean(values),
    }


def ms(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value * 1000:.0f} ms"


def markdown(summary: dict[str, Any]) -> str:
    lat, floor, push, after = (
        summary["latency"], summary["floor"], summary["push_during_run"], summary["after_push"]
    )  # fmt: skip
    load = summary["load_average_1min"]
    memory = summary["memory"]
    rows = [
        ("mails, one at a time", f"{summary['mails']} (after 1 warm-up), gap {GAP[0]}-{GAP[1]} s"),
        ("latency p50 / p95 / p99", f"**{ms(lat['p50'])}** / **{ms(lat['p95'])}** / {ms(lat['p99'])}"),
        ("latency max / mean / min", f"{ms(lat['max'])} / {ms(lat['mean'])} / {ms(lat['min'])}"),
        (
            f"over {TARGET_SECONDS:g} s",
            f"{summary['over_target']} of {summary['mails']}; target p95 < {TARGET_SECONDS:g} s "
            + ("met" if summary["target_met"] else "**missed**"),
        ),
        (
            f"Dovecot floor ({floor.get('count', 0)} mails, APPEND → EXISTS push) p50 / p95 / max",
            f"{ms(floor.get('p50'))} / {ms(floor.get('p95'))} / {ms(floor.get('max'))}",
        ),
        (
            "the same push during the run, per mail, p50 / p95 / max",
            f"{ms(push.get('p50'))} / {ms(push.get('p95'))} / {ms(push.get('max'))}",
        ),
        (
            "bot after the push (latency − push) p50 / p95 / max",
            f"{ms(after.get('p50'))} / {ms(after.get('p95'))} / {ms(after.get('max'))}",
        ),
        (
            "daemon peak RSS (VmHWM) / sampled VmRSS max",
            f"**{memory['vmhwm_mib']:.0f} MiB** / {memory['sampled_peak_rss_mib']:.0f} MiB "
            f"(tree {memory['sampled_peak_tree_rss_mib']:.0f} MiB, {memory['most_processes']} process(es))",
        ),
        (
            "daemon RSS after warm-up → at the end",
            f"{memory['rss_after_warmup_mib']:.0f} → {memory['rss_at_end_mib']:.0f} MiB",
        ),
        ("daemon CPU time per mail", f"{summary['daemon_cpu_ms_per_mail']:.0f} ms"),
        (
            "load average (1 min): start / during (median, max) / end",
            f"{load['start']:.2f} / {load['median']:.2f}, {load['max']:.2f} / {load['end']:.2f} "
            f"({summary['cpus']} CPUs)",
        ),
        (
            "daemon exit on SIGTERM",
            f"status {summary['exit_status']} in {summary['stop_seconds']:.2f} s"
            + (" (slow: its LOGOUT inside IDLE waits imap.timeout)" if summary["stop_seconds"] > 5 else ""),
        ),
        ("correct (one reply each, all confirmed and sent)", "yes" if not summary["problems"] else "**NO**"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'measure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    stages = summary["stages"]
    lines += [
        "",
        "| from the APPEND to … (the daemon's log, ms timestamps) | p50 | p95 | max |",
        "|---|---|---|---|",
    ]
    for key, label in (
        ("push", "the observer's EXISTS push"),
        ("seen", "`N new message(s)`: woken, EXAMINE + SEARCH + known keys"),
        ("processed", "`message … confirmed`: fetched, stored, analysed, reply queued"),
        ("reply", "the reply at the SMTP server"),
        ("round_end", "`stored 1, processed 1, sent 1`"),
    ):
        row = stages.get(key, {})
        lines.append(f"| {label} | {ms(row.get('p50'))} | {ms(row.get('p95'))} | {ms(row.get('max'))} |")
    return "\n".join(lines)


# --- the benchmark -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mails", type=int, default=200, help="N, mails sent one at a time (default 200)")
    parser.add_argument(
        "--floor-mails", type=int, default=20, help="mails for the Dovecot floor (default 20)"
    )
    parser.add_argument(
        "--database-url",
        help="e.g. postgresql://postgres@127.0.0.1:5432/test (its intake tables are DROPPED); "
        "default a fresh SQLite file on /dev/shm",
    )
    parser.add_argument(
        "--poll-interval",
        type=int,
        default=60,
        help="imap.poll_interval: the daemon IDLEs this long between rounds (default 60, the bot's)",
    )
    parser.add_argument("--units", type=int, default=200, help="registered units, two per committee")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random gaps")
    parser.add_argument(
        "--stages", action="store_true", help="run the daemon under wall-clock timers (bench/stage_timer.py)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, database)")
    parser.add_argument("--daemon-stages", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.daemon_stages:
        return daemon_with_timers(args.daemon_stages)
    if args.mails < 1 or args.floor_mails < 1:
        parser.error("--mails and --floor-mails must be at least 1")

    base = SHM if SHM.is_dir() and os.access(SHM, os.W_OK) else Path(tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="intake-latency-", dir=base))
    print(f"work folder {work}", file=sys.stderr)
    try:
        return run(args, work)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    n = args.mails
    code_at_start = code_version()
    load_start = os.getloadavg()[0]
    rng = random.Random(args.seed)
    boards = build_register(args.units)
    register = work / "register.csv"
    register.write_text(register_csv(boards), encoding="utf-8")
    mails = build_mails(n + 1, boards, sender_pool(250))  # mails[0] is the warm-up
    check_pdf_pages(mails[0].raw)
    print(f"built {n + 1} mails ({statistics.mean(len(m.raw) for m in mails) / 1024:.1f} KiB each)",
          file=sys.stderr)  # fmt: skip

    handler = TimedHandler()
    problems: list[str] = []
    samples: list[dict[str, Any]] = []
    loads: list[float] = []
    with servers(handler) as (dovecot, smtp, _):
        floor = measure_floor(dovecot, mails[: args.floor_mails], rng)
        print(f"Dovecot floor over {len(floor)} mails: p50 {ms(percentile(floor, 50))}, "
              f"max {ms(max(floor))}", file=sys.stderr)  # fmt: skip

        bench = Bench(
            work, dovecot.port, dovecot.user, dovecot.password, smtp.port, args.database_url,
            replies_per_hour=100_000, register=register, poll_interval=args.poll_interval,
        )  # fmt: skip
        config = bench.prepared("INBOX")
        clock = ReplyClock(handler)
        observer = Observer(dovecot, "INBOX").start_idling()
        stages_path = work / "stages.json" if args.stages else None
        daemon, log_path = start_daemon(bench, config, stages_path)
        sampler = MemorySampler(daemon.pid)
        sampler.start()
        try:
            with dovecot.client() as appender:
                # warm-up: the daemon starts, EXAMINEs, processes this one mail, IDLEs
                started = time.perf_counter()
                appender.append("INBOX", mails[0].raw, msg_time=mails[0].received_at)
                if clock.wait_for(mails[0].message_id, started + STARTUP_TIMEOUT) is None:
                    raise SystemExit(f"no reply to the warm-up mail:\n{log_path.read_text()[-3000:]}")
                print(f"daemon up, warm-up answered after {time.perf_counter() - started:.1f} s",
                      file=sys.stderr)  # fmt: skip
                time.sleep(1.0)  # let it finish the round and go back to IDLE
                rss_after_warmup = status_kib(daemon.pid, "VmRSS")
                cpu_before = cpu_seconds(daemon.pid)
                missing_in_a_row = 0
                for index, item in enumerate(mails[1:], start=1):
                    if daemon.poll() is not None:
                        raise SystemExit(f"the daemon exited ({daemon.returncode}):\n"
                                         f"{log_path.read_text()[-3000:]}")  # fmt: skip
                    loads.append(os.getloadavg()[0])
                    append_wall, t0 = time.time(), time.perf_counter()
                    appender.append("INBOX", item.raw, msg_time=item.received_at)
                    appended = time.perf_counter()
                    replied = clock.wait_for(item.message_id, t0 + REPLY_TIMEOUT)
                    pushed = observer.time_of(index + 1, time.perf_counter() + 2)
                    samples.append({
                        "mail": index,
                        "message_id": item.message_id,
                        "append_wall": append_wall,
                        "append_s": appended - t0,
                        "push_s": None if pushed is None else pushed - t0,
                        "latency_s": None if replied is None else replied - t0,
                    })  # fmt: skip
                    if replied is None:
                        problems.append(f"no reply to mail {index} within {REPLY_TIMEOUT:.0f} s")
                        missing_in_a_row += 1
                        if missing_in_a_row >= 3:
                            problems.append("stopped after 3 mails in a row got no reply")
                            break
                    else:
                        missing_in_a_row = 0
                    if index % 50 == 0:
                        done = [s["latency_s"] for s in samples if s["latency_s"] is not None]
                        print(f"{index}/{n}: p50 {ms(percentile(done, 50))}, p95 {ms(percentile(done, 95))}, "
                              f"load {loads[-1]:.2f}", file=sys.stderr)  # fmt: skip
                    time.sleep(rng.uniform(*GAP))
            time.sleep(0.5)
            cpu_used = cpu_seconds(daemon.pid) - cpu_before
            vmhwm = status_kib(daemon.pid, "VmHWM")
            rss_at_end = status_kib(daemon.pid, "VmRSS")
        finally:
            sampler.stop()
            if daemon.poll() is None:
                exit_status, stop_seconds = stop_daemon(daemon)
            else:
                exit_status, stop_seconds = daemon.returncode, 0.0
            observer.stop()
        if exit_status != 0:
            problems.append(f"the daemon exited with status {exit_status} after SIGTERM")
        # every reply the server got (warm-up included), and the database's view
        problems += check_replies(handler.take(), mails)
        problems += check_messages(bench.messages(config), mails)

    stages_from_log(log_events(log_path), samples)
    latencies = [s["latency_s"] for s in samples if s["latency_s"] is not None]
    for sample in samples:
        if sample["latency_s"] is not None and sample["push_s"] is not None:
            sample["after_push_s"] = sample["latency_s"] - sample["push_s"]
    lat = spread(latencies)
    over = sum(1 for value in latencies if value > TARGET_SECONDS)
    summary: dict[str, Any] = {
        "mails": n,
        "latency": lat,
        "over_target": over,
        "target_seconds": TARGET_SECONDS,
        "target_met": bool(latencies) and lat["p95"] < TARGET_SECONDS and len(latencies) == n,
        "floor": spread(floor),
        "push_during_run": spread([s["push_s"] for s in samples]),
        "after_push": spread([s.get("after_push_s") for s in samples]),
        "append": spread([s["append_s"] for s in samples]),
        "stages": {
            "push": spread([s["push_s"] for s in samples]),
            "seen": spread([s.get("seen_s") for s in samples]),
            "processed": spread([s.get("processed_s") for s in samples]),
            "reply": lat,
            "round_end": spread([s.get("round_end_s") for s in samples]),
        },
        "memory": {
            "vmhwm_mib": vmhwm / 1024,
            "sampled_peak_rss_mib": sampler.peak_rss_kib / 1024,
            "sampled_peak_tree_rss_mib": sampler.peak_tree_rss_kib / 1024,
            "most_processes": sampler.most_processes,
            "rss_after_warmup_mib": rss_after_warmup / 1024,
            "rss_at_end_mib": rss_at_end / 1024,
        },
        "daemon_cpu_seconds": cpu_used,
        "daemon_cpu_ms_per_mail": cpu_used / max(len(samples), 1) * 1000,
        "load_average_1min": {
            "start": load_start,
            "median": statistics.median(loads) if loads else math.nan,
            "max": max(loads) if loads else math.nan,
            "end": os.getloadavg()[0],
        },
        "cpus": os.cpu_count(),
        "exit_status": exit_status,
        "stop_seconds": stop_seconds,
        "problems": problems,
    }
    environment = {
        "code": code_at_start
        if code_version() == code_at_start
        else f"{code_at_start} then {code_version()} (changed during the run!)",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "database": "sqlite on /dev/shm" if args.database_url is None else args.database_url.split("@")[-1],
        "poll_interval": args.poll_interval,
        "units": args.units,
        "date": datetime.now().isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.database_url is None else "-" + args.database_url.split(":", 1)[0].split("+")[0]
    out = RESULTS / f"latency{suffix}.json"
    out.write_text(
        json.dumps({"summary": summary, "environment": environment, "mails": samples, "floor": floor},
                   indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    print(markdown(summary))
    print(f"\ncode {environment['code']}, {environment['database']}, {environment['date']}")
    print(f"results: {out.relative_to(ROOT)}")
    if stages_path is not None and stages_path.exists():
        print("\n" + stages_table(json.loads(stages_path.read_text(encoding="utf-8")), len(samples) + 1))
    slowest = sorted((s for s in samples if s["latency_s"] is not None), key=lambda s: -s["latency_s"])[:5]
    if slowest:
        print("\nslowest mails (s after APPEND: push, seen, processed, reply, round end):")
        for s in slowest:
            parts = [s.get(k) for k in ("push_s", "seen_s", "processed_s", "latency_s", "round_end_s")]
            print(f"  mail {s['mail']}: " + ", ".join("–" if p is None else f"{p:.3f}" for p in parts))
    if problems:
        print("\nCORRECTNESS PROBLEMS:\n  " + "\n  ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
