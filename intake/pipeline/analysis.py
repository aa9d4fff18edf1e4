"""The pure, CPU-heavy part of processing a mail (parse, read, understand), in worker processes.

pypdf (and OCR later) dominate the time per mail and need no database, so a batch
of stored mails is analysed by a pool of worker processes while the main process
does the database work, decides and renders replies for the mails already
analysed. Results come back in the order the mails were given.

The workers log nothing themselves: each sends its log records over a queue to the
bot's process, where they pass through the bot's own loggers and handlers, so they get
the same redaction, the same format (JSON when `ops.log_format = "json"`) and the same
level as the rest, with a `worker` field naming the process.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import logging
import logging.handlers
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.queues import Queue

from intake.automail import automatic_reason
from intake.domain import Attachment, DocumentText, ParsedMail, Understanding
from intake.errors import MailParseError
from intake.parsing import parse_mail
from intake.reading import is_document_candidate, read_document
from intake.reading.containers import expand_attachments
from intake.understanding import understand

log = logging.getLogger(__name__)
POOL_MIN_MAILS = 4  # fewer mails than this are analysed in the main process: a pool costs a start-up
WINDOW_PER_WORKER = 3  # mails in flight per worker: enough to keep it busy, bounded in memory


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the pure stages make of one raw mail."""

    mail: ParsedMail | None
    parse_error: str | None = None
    automatic: str | None = None
    candidates: tuple[Attachment, ...] = ()  # attachments that could be a protokollsutdrag
    documents: tuple[DocumentText, ...] = ()  # one per candidate, same order
    understandings: tuple[Understanding, ...] = ()  # one per readable document


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def end_with_parent() -> None:
    """In a worker: be sent SIGTERM when the bot dies, even by SIGKILL or the OOM killer, instead
    of waiting for work forever as an orphan. Linux only; elsewhere nothing happens."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux, or no prctl
        return
    if os.getppid() == 1:  # the parent died before the call: nobody will be told
        os._exit(0)


class _ToParent(logging.handlers.QueueHandler):
    """A worker's handler: the record, made picklable, with its traceback as text, to the bot."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        prepared = copy.copy(record)
        prepared.msg, prepared.args = record.getMessage(), None
        if record.exc_info:
            prepared.exc_text = logging.Formatter().formatException(record.exc_info)
        prepared.exc_info = None
        prepared.worker = os.getpid()
        return prepared


class _FromWorkers(logging.Handler):
    """The bot's side: hand each worker's record to the bot's logger of the same name."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


def start_worker(records: Queue[logging.LogRecord] | None, level: int) -> None:
    """A worker's initializer: end with the bot, and log through it."""
    end_with_parent()
    if records is not None:
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.addHandler(_ToParent(records))
        root.setLevel(level)


@contextlib.contextmanager
def worker_logs(context: multiprocessing.context.SpawnContext) -> Iterator[Queue[logging.LogRecord]]:
    """A queue for the workers' log records, and a thread that logs them in this process."""
    records: Queue[logging.LogRecord] = context.Queue()
    listener = logging.handlers.QueueListener(records, _FromWorkers())
    listener.start()
    try:
        yield records
    finally:
        listener.stop()  # logs what is still queued, then ends the thread
        records.close()
        records.join_thread()


def analyse(raw: bytes, own_addresses: frozenset[str]) -> Analysis:
    try:
        mail = parse_mail(raw)
    except MailParseError as exc:
        return Analysis(mail=None, parse_error=str(exc))
    # ZIP files, forwarded .eml/.msg, winmail.dat and signed S/MIME are opened to their files.
    leaves = expand_attachments(mail.all_attachments(), parse_mail)
    candidates = tuple(a for a in leaves if is_document_candidate(a))
    documents = tuple(read_document(a) for a in candidates)
    return Analysis(
        mail=mail,
        automatic=automatic_reason(mail, own_addresses),
        candidates=candidates,
        documents=documents,
        understandings=tuple(understand(d) for d in documents if d.unreadable is None and d.text.strip()),
    )


def worker_count(configured: int) -> int:
    """0 means one worker per CPU."""
    return configured if configured > 0 else (os.cpu_count() or 1)


def analyse_all(
    pks: Sequence[int],
    load_raw: Callable[[int], bytes],
    own_addresses: frozenset[str],
    workers: int,
) -> Iterator[tuple[int, Analysis | BaseException | None]]:
    """Yield (pk, analysis) in order; None means "analyse it in the caller" (no pool used).

    An exception in a worker comes back in place of the analysis, so the caller
    shunts that one mail. If a worker process dies (a crash inside a library),
    the mail it was working on is reported with the error and the rest of the
    batch is left for the next round.
    """
    if workers <= 1 or len(pks) < POOL_MIN_MAILS:
        for pk in pks:
            yield pk, None
        return
    # spawn, not fork: a forked child would share the parent's database connections.
    context = multiprocessing.get_context("spawn")
    with worker_logs(context) as records:
        yield from _analyse_in_pool(pks, load_raw, own_addresses, workers, context, records)


def _analyse_in_pool(
    pks: Sequence[int],
    load_raw: Callable[[int], bytes],
    own_addresses: frozenset[str],
    workers: int,
    context: multiprocessing.context.SpawnContext,
    records: Queue[logging.LogRecord],
) -> Iterator[tuple[int, Analysis | BaseException]]:
    level = logging.getLogger().getEffectiveLevel()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=start_worker,
                               initargs=(records, level))
    try:
        queue: deque[tuple[int, Future[Analysis]]] = deque()
        upcoming = iter(pks)

        def submit_next() -> None:
            pk = next(upcoming, None)
            if pk is not None:
                queue.append((pk, pool.submit(analyse, load_raw(pk), own_addresses)))

        for _ in range(workers * WINDOW_PER_WORKER):
            submit_next()
        while queue:
            pk, future = queue.popleft()
            try:
                result: Analysis | BaseException = future.result()
            except BrokenProcessPool as exc:
                log.error("a worker process died while analysing message %d", pk)
                yield pk, exc
                return
            except Exception as exc:  # noqa: BLE001 - handed to the caller to shunt this mail
                result = exc
            submit_next()
            yield pk, result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
