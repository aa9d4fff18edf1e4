"""Benchmark: intake.reading on text PDFs, on a scanned page against plain tesseract, and its memory.

    .venv/bin/python bench/reading.py                  # the issue's figures, ~4 min
    .venv/bin/python bench/reading.py --scan-pages 5   # smoke test, ~40 s

1. Text PDFs: read_document on 50 one-page text PDFs (reportlab, ~40 Swedish lines a
   page); the median time per page, beside pypdf's extract_text alone on the same
   files, and a 50-page PDF's time divided by 50.
2. OCR of one dense A4 page at 300 dpi (34 lines of DejaVu Sans 10 pt, skewed 1.5°, faint grain):
   read_document on its PNG (decode, level, scale, tesseract) and on a one-page scanned
   PDF (pdftoppm + the same), against plain `tesseract PAGE.png - -l swe` on the same
   image with OMP_THREAD_LIMIT=1 (the fair floor) and with tesseract's default threading.
   Medians of --runs runs; the ratio is ours / plain (target <= 1.2), in wall time and
   in CPU time (this process and its children), which other work on the machine
   doesn't inflate.
3. Memory: read_document on a --scan-pages page scanned PDF (JPEG pages, as office
   scanners write them) in a child process, all pages read (the per-document OCR
   budget and the size limit are lifted for it: ~0.6 MB a page). A
   sampler sums the RSS of the child and its own children (pdftoppm, tesseract) every
   50 ms; the peak of that sum is reported (target < 300 MB), with ru_maxrss of the
   child and of its largest child for comparison.

Prints a Markdown table and writes bench/results/reading.json (git-ignored).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageChops, ImageDraw, ImageFont  # noqa: E402
from pypdf import PdfReader  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

import intake.reading as reading  # noqa: E402
from intake.domain import Attachment  # noqa: E402

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
A4_300_DPI = (2480, 3508)
SAMPLE_SECONDS = 0.05
PARAGRAPH = (
    "Stadsdelsnämnden godkänner att Förskolan Solrosen deltar i Stockholms stads "
    "kvalitetsutmärkelse 2024. Förvaltningen föreslår att nämnden beslutar enligt "
    "förslaget och att protokollsutdraget skickas till stadsledningskontoret. "
    "Sammanträdesdatum 2024-03-14, § 12, dnr SDN 2024/123. Kvalitetsutmärkelsen är "
    "stadens årliga pris för att uppmärksamma och belöna framgångsrik verksamhetsutveckling. "
)


def lines_of(count: int, width: int) -> list[str]:
    words = (PARAGRAPH * (count // 2 + 2)).split()
    lines: list[str] = []
    while len(lines) < count:
        line = []
        while words and len(" ".join([*line, words[0]])) <= width:
            line.append(words.pop(0))
        lines.append(" ".join(line))
    return lines


def text_pdf(pages: int) -> bytes:
    buffer = io.BytesIO()
    drawing = canvas.Canvas(buffer)
    for number in range(pages):
        text = drawing.beginText(56, 790)
        text.setFont("Helvetica", 10)
        for line in lines_of(40, 95):
            text.textLine(line)
        text.textLine(f"Sida {number + 1}")
        drawing.drawText(text)
        drawing.showPage()
    drawing.save()
    return buffer.getvalue()


def scanned_page(seed: int = 0, grain: bool = True) -> Image.Image:
    font = ImageFont.truetype(FONT, 40)  # 10 points at 300 dpi
    page = Image.new("L", A4_300_DPI, 245)
    draw = ImageDraw.Draw(page)
    for index, line in enumerate(lines_of(34, 85)):
        draw.text((200, 250 + index * 88), line, font=font, fill=20)
    page = page.rotate(1.5 + seed % 3 * 0.2, resample=Image.Resampling.BICUBIC, fillcolor=245)
    if not grain:
        return page
    noise = Image.effect_noise(page.size, 4)  # a clean office scanner: faint grain
    return ImageChops.add(page, noise, offset=-128)


def timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def cpu_seconds() -> float:
    """User + system time of this process and its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def wall_and_cpu(action: Any) -> tuple[float, float]:
    """Wall and CPU seconds of the action; CPU time isn't inflated by other work on the machine."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    action()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def read(data: bytes, name: str) -> Any:
    document = reading.read_document(Attachment(name, "application/octet-stream", data))
    assert document.unreadable is None, document.unreadable
    return document


def bench_text(pages: int) -> dict[str, float]:
    singles = [text_pdf(1) for _ in range(pages)]
    times = [timed(lambda data=data: read(data, "p.pdf")) for data in singles]
    bare = [timed(lambda data=data: PdfReader(io.BytesIO(data)).pages[0].extract_text()) for data in singles]
    whole = text_pdf(pages)
    document = read(whole, "p.pdf")
    assert all(page.method == "text" for page in document.pages)
    total = min(timed(lambda: read(whole, "p.pdf")) for _ in range(3))
    return {
        "pages": pages,
        "median_ms_per_one_page_pdf": round(statistics.median(times) * 1000, 2),
        "median_ms_pypdf_alone": round(statistics.median(bare) * 1000, 2),
        "ms_per_page_of_a_long_pdf": round(total / pages * 1000, 2),
    }


def bench_ocr(runs: int, folder: Path) -> dict[str, float]:
    page = scanned_page()
    png = folder / "page.png"
    page.save(png, dpi=(300, 300))
    png_bytes = png.read_bytes()
    pdf_buffer = io.BytesIO()
    page.save(pdf_buffer, "PDF", resolution=300.0)
    pdf_bytes = pdf_buffer.getvalue()

    def plain(threads: str | None) -> None:
        environment = dict(os.environ)
        environment.pop("OMP_THREAD_LIMIT", None)
        if threads:
            environment["OMP_THREAD_LIMIT"] = threads
        command = ["tesseract", str(png), "-", "-l", "swe"]
        subprocess.run(command, capture_output=True, check=True, env=environment)

    document = read(png_bytes, "page.png")
    assert document.pages[0].method == "ocr" and not document.low_confidence, document.pages[0].confidence
    variants = {
        "plain_tesseract": lambda: plain("1"),
        "ours_image": lambda: read(png_bytes, "page.png"),
        "ours_scanned_pdf": lambda: read(pdf_bytes, "page.pdf"),
        "plain_tesseract_default_threads": lambda: plain(None),
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(runs):  # interleaved, so a change in the machine's load hits every variant alike
        for name, action in variants.items():
            samples[name].append(wall_and_cpu(action))
    results = {"confidence": document.pages[0].confidence or 0.0}
    for name, pairs in samples.items():
        results[f"{name}_s"] = statistics.median(wall for wall, _ in pairs)
        results[f"{name}_cpu_s"] = statistics.median(cpu for _, cpu in pairs)
    for ours in ("image", "scanned_pdf"):
        results[f"ratio_{ours}"] = results[f"ours_{ours}_s"] / results["plain_tesseract_s"]
        results[f"cpu_ratio_{ours}"] = results[f"ours_{ours}_cpu_s"] / results["plain_tesseract_cpu_s"]
    return {key: round(value, 3) for key, value in results.items()}


CHILD = """
import sys, json, resource, time
sys.path.insert(0, {root!r})
import intake.reading as reading
from intake.domain import Attachment
reading.OCR_SECONDS_PER_DOCUMENT = 10_000.0  # the benchmark reads every page
reading.MAX_ATTACHMENT_BYTES = 1 << 30  # and of a file near or past the mail size limit
data = open({path!r}, "rb").read()
started = time.perf_counter()
document = reading.read_document(Attachment("skanning.pdf", "application/pdf", data))
print(json.dumps({{
    "seconds": time.perf_counter() - started,
    "pages": len(document.pages),
    "ocr_pages": sum(page.method == "ocr" for page in document.pages),
    "unreadable": document.unreadable,
    "notes": list(document.notes),
    "low_confidence_pages": sum((page.confidence or 0) < 60 for page in document.pages),
    "cpu_seconds": sum(getattr(resource.getrusage(who), field) for who in (resource.RUSAGE_SELF,
                       resource.RUSAGE_CHILDREN) for field in ("ru_utime", "ru_stime")),
    "self_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "children_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}}))
"""


def tree_rss_kb(pid: int) -> int:
    """RSS of a process and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, StopIteration, ValueError):
            continue  # the process ended between two reads
    return total


def make_scan(path: Path, pages: int) -> None:
    # without grain, which JPEG can't compress: 40 grainy pages would pass the 25 MB limit
    scans = [scanned_page(seed, grain=False) for seed in range(pages)]
    scans[0].save(path, "PDF", resolution=300.0, save_all=True, append_images=scans[1:], quality=60)


def bench_memory(pages: int, folder: Path) -> dict[str, Any]:
    path = folder / "scan.pdf"
    # made in a child of its own: on Linux ru_maxrss survives fork and exec, so the reader
    # forked from a process that had held 40 page images would report their memory as its own
    make = [sys.executable, __file__, "--make-scan", str(path), "--scan-pages", str(pages)]
    subprocess.run(make, check=True)
    script = CHILD.format(root=str(ROOT), path=str(path))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kb(child.pid))
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample)
    sampler.start()
    output, _ = child.communicate()
    done.set()
    sampler.join()
    result: dict[str, Any] = json.loads(output)
    result["file_mb"] = round(path.stat().st_size / 1e6, 1)
    result["peak_tree_rss_mb"] = round(peak / 1024, 1)
    result["seconds_per_page"] = round(result["seconds"] / max(1, result["pages"]), 2)
    result["cpu_seconds_per_page"] = round(result["cpu_seconds"] / max(1, result["pages"]), 2)
    result["cpu_seconds"] = round(result["cpu_seconds"], 1)
    result["seconds"] = round(result["seconds"], 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text-pages", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scan-pages", type=int, default=40)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "reading.json")
    parser.add_argument("--make-scan", type=Path, help=argparse.SUPPRESS)  # the child that draws the PDF
    options = parser.parse_args()
    if options.make_scan:
        make_scan(options.make_scan, options.scan_pages)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-reading-") as name:
        folder = Path(name)
        memory = bench_memory(options.scan_pages, folder)  # first, while this process is small
        text = bench_text(options.text_pages)
        ocr = bench_ocr(options.runs, folder)
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "text_pdf": text,
        "ocr_page": ocr,
        "scanned_pdf": memory,
        "bench_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    rows = [
        (
            "text PDF, median per one-page PDF (pypdf alone)",
            f"{text['median_ms_per_one_page_pdf']} ms ({text['median_ms_pypdf_alone']} ms)",
        ),
        (f"text PDF, {text['pages']}-page PDF per page", f"{text['ms_per_page_of_a_long_pdf']} ms"),
        ("plain tesseract -l swe, A4 300 dpi (OMP_THREAD_LIMIT=1)", f"{ocr['plain_tesseract_s']} s"),
        ("plain tesseract, default threading", f"{ocr['plain_tesseract_default_threads_s']} s"),
        ("ours, PNG of the same page", f"{ocr['ours_image_s']} s (ratio {ocr['ratio_image']})"),
        (
            "ours, one-page scanned PDF (pdftoppm + OCR)",
            f"{ocr['ours_scanned_pdf_s']} s (ratio {ocr['ratio_scanned_pdf']})",
        ),
        (
            "CPU time: plain / ours PNG / ours PDF",
            f"{ocr['plain_tesseract_cpu_s']} / {ocr['ours_image_cpu_s']} / {ocr['ours_scanned_pdf_cpu_s']} s "
            f"(ratios {ocr['cpu_ratio_image']}, {ocr['cpu_ratio_scanned_pdf']})",
        ),
        ("mean word confidence of that page", f"{ocr['confidence']}"),
        (f"{memory['pages']}-page scanned PDF ({memory['file_mb']} MB): time", f"{memory['seconds']} s "
         f"({memory['seconds_per_page']} s/page, CPU {memory['cpu_seconds_per_page']} s/page, "
         f"{memory['ocr_pages']} by OCR)"),
        ("  peak RSS, reader + its children (sampled sum)", f"{memory['peak_tree_rss_mb']} MB"),
        ("  ru_maxrss: reader / largest child", f"{memory['self_maxrss_kb'] // 1024} MB / "
         f"{memory['children_maxrss_kb'] // 1024} MB"),
    ]
    print("| measure | value |\n| --- | --- |")
    for label, value in rows:
        print(f"| {label} | {value} |")
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {options.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
