"""Run `intake poll --once` in this process with wall-clock timers around its stages.

    INTAKE_CONFIG=... INTAKE_IMAP_PASSWORD=... python bench/stage_timer.py OUT.json

A low-overhead alternative to cProfile (which doubles this workload's run time and
inflates pure-Python code such as pypdf and text folding far more than C code such
as regex scans and SQLite): each wrapped function is called ~1,000 times, so the
timers cost microseconds. Times are inclusive and some stages nest (see NESTING);
nothing in intake/ is changed, the wrappers are installed at run time.
Used by `bench/poll_once.py --stages`.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

started = time.perf_counter()
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy.orm.session as sa_session  # noqa: E402

import intake.cli as cli  # noqa: E402
import intake.pipeline as pipeline  # noqa: E402
import intake.pipeline.process as process  # noqa: E402
import intake.pipeline.replying as replying  # noqa: E402
import intake.pipeline.send as send  # noqa: E402
import intake.reading  # noqa: E402,F401  (loads pypdf before the timers start)
from intake.mailbox.imap import ImapSource  # noqa: E402
from intake.outbox.smtp import SmtpMailer  # noqa: E402
from intake.replies import ReplyRenderer  # noqa: E402
from intake.storage import store  # noqa: E402

# `intake.pipeline.ingest` is the function the package re-exports; the module is here:
ingest = importlib.import_module("intake.pipeline.ingest")
try:  # since bc033e4 parse, read and understand live in intake.pipeline.analysis
    analysis: Any = importlib.import_module("intake.pipeline.analysis")
except ImportError:
    analysis = None
imported = time.perf_counter()
TOTALS: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)
NESTING = {
    "process_message": "poll_once.process_pending",
    "analyse (parse + read + understand)": "process_message (with processing.workers = 1)",
    "parse_mail": "process_message",
    "read_document": "process_message",
    "pypdf extract_text": "read_document",
    "understand": "process_message",
    "match_units": "process_message",
    "store.unit_rows": "process_message (before 71edbf0: 2 calls per mail, _process and _record)",
    "store.units_by_ids": "_record",
    "store.to_unit": "process_message",
    "_record": "process_message",
    "queue_reply": "process_message",
    "compose_reply": "queue_reply",
    "replying._subject (re-parse of the reply)": "queue_reply",
    "store.auto_reply_for": "queue_reply (includes the autoflush it triggers)",
    "store.replies_to_since": "queue_reply",
    "transaction commit": "every stage's `with sessions.begin()`",
    "session flush (incl. autoflush)": "commit and queries",
    "store_raw": "poll_once.ingest",
    "ImapSource._fetch": "poll_once.ingest",
    "SmtpMailer.send": "poll_once.send_due",
}


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            TOTALS[name] += time.perf_counter() - t0
            CALLS[name] += 1

    return wrapper


SKIPPED: list[str] = []  # stages this version of intake/ does not have (the code moves on)


def patch(owner: Any, attribute: str, name: str) -> None:
    if not hasattr(owner, attribute):
        SKIPPED.append(f"{getattr(owner, '__name__', owner)}.{attribute}")
        return
    setattr(owner, attribute, timed(name, getattr(owner, attribute)))


def install() -> None:
    patch(pipeline, "ingest", "poll_once.ingest")
    patch(pipeline, "process_pending", "poll_once.process_pending")
    patch(pipeline, "send_due", "poll_once.send_due")
    patch(ingest, "store_raw", "store_raw")
    patch(ImapSource, "_fetch", "ImapSource._fetch")
    patch(ImapSource, "snapshot", "ImapSource.snapshot")
    patch(process, "process_message", "process_message")
    patch(process, "load_register", "process.load_register (once per batch)")
    for module in (process, analysis) if analysis is not None else (process,):
        if hasattr(module, "analyse"):
            patch(module, "analyse", "analyse (parse + read + understand)")
        for function in ("parse_mail", "read_document", "understand"):
            if hasattr(module, function) or module is process:
                patch(module, function, function)
    patch(process, "match_units", "match_units")
    patch(process, "decide", "decide")
    patch(process, "_record", "_record")
    patch(process, "queue_reply", "queue_reply")
    patch(store, "unit_rows", "store.unit_rows")
    patch(store, "to_unit", "store.to_unit")
    patch(store, "units_by_ids", "store.units_by_ids")
    patch(store, "auto_reply_for", "store.auto_reply_for")
    patch(store, "replies_to_since", "store.replies_to_since")
    patch(replying, "_subject", "replying._subject (re-parse of the reply)")
    patch(ReplyRenderer, "compose_reply", "compose_reply")
    patch(SmtpMailer, "send", "SmtpMailer.send")
    patch(send, "_send_one", "send._send_one")
    patch(sa_session.SessionTransaction, "commit", "transaction commit")
    patch(sa_session.Session, "_flush", "session flush (incl. autoflush)")
    patch(cli, "make_context", "cli.make_context (engine, migrate, templates)")
    import pypdf._page

    patch(pypdf._page.PageObject, "extract_text", "pypdf extract_text")


def main() -> int:
    out = Path(sys.argv[1])
    install()
    t0 = time.perf_counter()
    status = cli.main(["poll", "--once"])
    t1 = time.perf_counter()
    report = {
        "imports_s": imported - started,
        "main_s": t1 - t0,
        "not_found": SKIPPED,
        "stages": {
            name: {
                "seconds": TOTALS[name],
                "calls": CALLS[name],
                "share_of_main": TOTALS[name] / (t1 - t0),
                "inside": NESTING.get(name, ""),
            }
            for name in sorted(TOTALS, key=TOTALS.__getitem__, reverse=True)
        },
    }
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
