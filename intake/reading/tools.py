"""Runs the external OCR tools (tesseract, pdftoppm) as killable, memory-capped child processes.

A pure stage can't interrupt a library call, but it can kill a child: each run is
given what is left of its page's and its document's time, and is killed when that
runs out. prlimit caps the child's address space, so a hostile page can't take the
machine's memory. OMP_THREAD_LIMIT=1: on two cores tesseract reads a page twice as
fast single-threaded as with its own threading, and without 30-second outliers.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)

TESSERACT = "tesseract"
PDFTOPPM = "pdftoppm"
PRLIMIT = "prlimit"  # util-linux, on every Debian; without it the children run uncapped
LANGUAGE = "swe"  # -l eng drops every å, ä and ö
CHILD_MEMORY_BYTES = 1 << 30  # tesseract needs ~100 MB for a page; a hostile page gets no more than this
TOOL_CHECK_SECONDS = 10
RENDER_DPI = 300
MAX_RENDER_PIXELS = 40_000_000  # A3 at 300 dpi is 17 M pixels; an oversized page is rendered coarser
# Environment variables a child may need from ours; the rest (secrets included) stay here.
PASSED_ENVIRONMENT = ("PATH", "TESSDATA_PREFIX", "TMPDIR")


class OcrError(Exception):
    """A page could not be read by OCR."""


class OcrUnavailable(OcrError):
    """tesseract (with Swedish) or pdftoppm is not installed: no page can be read."""


class OcrTimeout(OcrError):
    """The page's or the document's time ran out; the child was killed."""


def check(*, pdf: bool = False) -> None:
    """Raise OcrUnavailable unless tesseract reads Swedish here (and pdftoppm exists, for PDFs)."""
    if LANGUAGE not in languages():
        raise OcrUnavailable(f"{TESSERACT} with language {LANGUAGE!r} not found")
    if pdf and shutil.which(PDFTOPPM) is None:
        raise OcrUnavailable(f"{PDFTOPPM} not found")


def languages() -> frozenset[str]:
    """The languages the configured tesseract reads; empty when it is missing."""
    return _languages(TESSERACT)


def render_pdf_page(pdf_path: Path, number: int, size_points: tuple[float, float], deadline: float) -> Path:
    """Render one page (1-based) to an 8-bit grayscale PGM file beside the PDF."""
    width_inches, height_inches = (max(side, 1.0) / 72 for side in size_points)
    dpi = min(RENDER_DPI, int((MAX_RENDER_PIXELS / (width_inches * height_inches)) ** 0.5))
    base = pdf_path.with_name(f"page-{number}")
    # PGM, not PNG: compressing a 300-dpi page to PNG takes pdftoppm 1.7 s, writing PGM 0.25 s
    options = ["-r", str(max(dpi, 1)), "-f", str(number), "-l", str(number), "-gray", "-singlefile"]
    run([PDFTOPPM, *options, str(pdf_path), str(base)], deadline)
    return base.with_suffix(".pgm")


def run(args: list[str], deadline: float) -> bytes:
    """The tool's standard output; OcrTimeout, OcrUnavailable or OcrError otherwise."""
    timeout = deadline - time.monotonic()
    if timeout <= 0:
        raise OcrTimeout(f"no time left for {args[0]}")
    program = shutil.which(args[0])
    if program is None:
        raise OcrUnavailable(f"{args[0]} not found")
    command = [program, *args[1:]]
    limiter = shutil.which(PRLIMIT)
    if limiter is not None:  # prlimit execs the tool, so killing the child kills the tool itself
        command = [limiter, f"--as={CHILD_MEMORY_BYTES}", "--", *command]
    environment = {name: os.environ[name] for name in PASSED_ENVIRONMENT if name in os.environ}
    environment.update(OMP_THREAD_LIMIT="1", LC_ALL="C.UTF-8")
    try:
        # run() kills the child when the timeout expires, then reaps it
        done = subprocess.run(command, capture_output=True, timeout=timeout, env=environment, check=False)
    except subprocess.TimeoutExpired as exc:
        raise OcrTimeout(f"{args[0]} took more than {timeout:.1f} s") from exc
    except OSError as exc:
        raise OcrUnavailable(f"{args[0]} could not be started: {exc}") from exc
    if done.returncode != 0:
        problem = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise OcrError(f"{args[0]} exited with {done.returncode}: {problem[0]}")
    return done.stdout


@functools.cache
def _languages(tesseract: str) -> frozenset[str]:
    # asked once per process and tesseract binary: the answer costs a child process
    try:
        listed = run([tesseract, "--list-langs"], time.monotonic() + TOOL_CHECK_SECONDS)
    except OcrError as exc:
        log.error("OCR is not available: %s", exc)
        return frozenset()
    return frozenset(line.strip() for line in listed.decode("utf-8", "replace").splitlines()[1:])
