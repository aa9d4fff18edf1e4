"""The daemon: poll or IDLE, process, send, and stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from types import FrameType

from intake.domain import Mailer, MailSource
from intake.errors import TransientError
from intake.ops import watchdog
from intake.pipeline import Context, PollReport, poll_once, recover_interrupted_sends, send_due

log = logging.getLogger(__name__)
MAX_ERROR_BACKOFF = 300.0  # seconds between retries while a server is away
FIRST_ERROR_DELAY = 2.0  # seconds before the first retry; doubled with each failure in a row


class _Interrupt(Exception):
    """Raised from the signal handler only while the daemon waits, to end the wait at once."""


class Daemon:
    def __init__(
        self,
        ctx: Context,
        source: MailSource,
        open_mailer: Callable[[], AbstractContextManager[Mailer | None]],
        *,
        wait_seconds: float,
    ) -> None:
        self.ctx = ctx
        self.source = source
        self.open_mailer = open_mailer
        self.wait_seconds = wait_seconds
        self.stopping = threading.Event()
        self._waiting = False
        self.first_error_delay = FIRST_ERROR_DELAY

    def run_once(self) -> PollReport:
        """One round; its success or failure is recorded (heartbeat) and judged (watchdog)."""
        try:
            with self.open_mailer() as mailer:
                report = poll_once(self.ctx, self.source, mailer)
        except Exception as exc:
            self._after_round(exc)
            raise
        self._after_round(None)
        return report

    def error_delay(self, failures: int) -> float:
        """Seconds to wait after `failures` failed rounds in a row: 2, 4, 8, ... at most 5 minutes."""
        return float(min(self.first_error_delay * 2 ** max(failures - 1, 0), MAX_ERROR_BACKOFF))

    def _after_round(self, error: BaseException | None) -> None:
        try:
            event = watchdog.after_round(self.ctx, self.source.name, error)
        except Exception:  # noqa: BLE001 - the database may be what failed: never hide the round's error
            log.warning("could not record the round's heartbeat", exc_info=True)
            return
        if event is not None:
            self._send_outbox()  # the alert goes out now, even though the mailbox can't be read

    def _send_outbox(self) -> None:
        try:
            with self.open_mailer() as mailer:
                if mailer is not None:
                    send_due(self.ctx, mailer)
        except Exception:  # noqa: BLE001 - what can't be sent now waits in the outbox
            log.warning("the outbox could not be sent now; its mails wait there", exc_info=True)

    def stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        if not self.stopping.is_set():
            log.info("stopping (signal %s)", signum)
        self.stopping.set()
        if self._waiting and signum is not None:
            raise _Interrupt

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self) -> None:
        recovered = recover_interrupted_sends(self.ctx)
        if recovered:
            log.warning("%d reply(ies) interrupted while sending are now 'uncertain'", recovered)
        failures = 0
        log.info("watching %s", self.source.name)
        try:
            while not self.stopping.is_set():
                try:
                    report = self.run_once()
                    failures = 0
                    if report.stored or report.sent:
                        log.info("stored %d, processed %d, sent %d",
                                 report.stored, report.processed, report.sent)
                    self._wait(lambda: self.source.wait(self.wait_seconds))
                except TransientError as exc:
                    failures += 1
                    delay = self.error_delay(failures)
                    log.warning("%s; retrying in %.0f s", exc, delay)
                    self._wait(partial(self.stopping.wait, delay))
                except _Interrupt:
                    break
                except Exception:  # noqa: BLE001 - the daemon must outlive a bug in one round
                    failures += 1
                    delay = self.error_delay(failures)
                    log.exception("unexpected error; retrying in %.0f s", delay)
                    self._wait(partial(self.stopping.wait, delay))
        finally:
            self.source.close()
            log.info("stopped")

    def _wait(self, waiter: Callable[[], object]) -> None:
        if self.stopping.is_set():
            return
        self._waiting = True
        try:
            waiter()
        except _Interrupt:
            pass
        finally:
            self._waiting = False
