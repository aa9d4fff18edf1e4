"""A labelled corpus of award documents, generated deterministically from a seed.

    from tests.corpus import generate, write_corpus
    items = generate(seed=1, count=120)        # list[CorpusItem]: bytes + Label
    write_corpus(items, Path("/tmp/corpus"))   # the files and labels.json

`plan` draws every item's content and label (cheap); `render` turns one planned
item into bytes (scans and photos cost ~0.3–1 s). Each item has its own random
generator seeded from (seed, index), so an item is the same whether it is built
alone, in a list, or in another order. No document is tuned to pass: contents
come from the templates and pools; only the seeds are fixed text.
"""

from __future__ import annotations

import json
import pickle
import random
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from tests.corpus import imaging, render
from tests.corpus.compose import SEED_PREFIXES, Content, compose, mail_subject, minutes, seed_content
from tests.corpus.damage import PROFILES, damage_document
from tests.corpus.layout import Document
from tests.corpus.model import KINDS, OCR_KINDS, CorpusItem, Label
from tests.corpus.pools import person

__all__ = ["KINDS", "OCR_KINDS", "CorpusItem", "Label", "Planned", "generate", "long_scan", "plan", "render_item",
           "write_corpus"]

GENERATOR_VERSION = 1  # bump when templates or renderings change: it keys the disk cache
SHARES = {"text_pdf": 28, "docx": 14, "forwarded_eml": 12, "ocr_layer_pdf": 10, "long_minutes": 6,
          "scan_pdf": 18, "photo": 12}
SEED_KINDS = {"000": "text_pdf", "001": "text_pdf", "002": "ocr_layer_pdf", "003": "text_pdf"}
SCAN_DPI = (200, 300, 300)
PHOTO_DPI = (150, 170, 200)  # a phone photo of A4 resolves about this much
LONG_SCAN_DPI = 200  # the 40-page scan: a usual office scanner setting, and cheap to build
SANDWICH_SHARE = 0.35  # damaged text layers that lie under a scanned image, not visible text
PDF = "application/pdf"


@dataclass(frozen=True, slots=True)
class Planned:
    """One item's content before rendering."""

    index: int
    kind: str
    content: Content
    seed: int

    @property
    def name(self) -> str:
        return f"{self.index:03d}-{self.kind}-{self.content.variant}"

    def rng(self, purpose: str) -> random.Random:
        return random.Random(f"{self.seed}:{self.index}:{purpose}")


def _kinds(rng: random.Random, count: int) -> list[str]:
    """`count` kinds in SHARES proportions (largest remainder), shuffled."""
    total = sum(SHARES.values())
    exact = {kind: count * share / total for kind, share in SHARES.items()}
    counts = {kind: int(value) for kind, value in exact.items()}
    for kind in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[: count - sum(counts.values())]:
        counts[kind] += 1
    kinds = [kind for kind, n in counts.items() for _ in range(n)]
    rng.shuffle(kinds)
    return kinds


def plan(seed: int, count: int) -> list[Planned]:
    """Contents and labels of the corpus: the four seeds as they are, then `count - 4` generated items."""
    planned = [Planned(i, SEED_KINDS[p], seed_content(p), seed) for i, p in enumerate(SEED_PREFIXES[:count])]
    for kind in _kinds(random.Random(f"{seed}:kinds"), max(0, count - len(planned))):
        index = len(planned)
        planned.append(Planned(index, kind, compose(random.Random(f"{seed}:{index}:content"), kind), seed))
    return planned


def render_item(item: Planned) -> CorpusItem:
    """The file of a planned item, as a sender would attach it."""
    rng = item.rng("render")
    doc, stem, kind = item.content.document, item.content.stem, item.kind
    pages = 1
    if kind in ("text_pdf", "long_minutes"):
        data, pages = render.text_pdf(doc)
        filename, mime = f"{stem}.pdf", PDF
    elif kind == "ocr_layer_pdf":
        data, pages = _damaged_pdf(doc, rng, item.content.variant == "seed_002")
        filename, mime = f"{stem}.pdf", PDF
    elif kind == "scan_pdf":
        dpi = rng.choice(SCAN_DPI)
        colour = rng.random() < 0.5
        jpegs = [imaging.jpeg(imaging.scan(page, rng, dpi, colour), rng.randint(60, 85))
                 for page in imaging.page_images(doc, dpi)]
        data, pages = render.sandwich_pdf(jpegs, None), len(jpegs)
        filename, mime = f"{stem}.pdf", PDF
    elif kind == "photo":
        data, _ = imaging.photo(imaging.page_images(doc, rng.choice(PHOTO_DPI), max_pages=1)[0], rng)
        filename = rng.choice((f"IMG_{rng.randint(1000, 9999)}.JPG", "image001.jpg",
                               f"2017061{rng.randint(0, 9)}_{rng.randint(80000, 180000):06d}.jpg"))
        mime = "image/jpeg"
    elif kind == "docx":
        data = render.docx(doc, rng)
        filename, mime = f"{stem}.docx", render.DOCX_MIME
    elif kind == "forwarded_eml":
        data, filename, pages = _forwarded(doc, stem, item.content.label, rng)
        mime = "message/rfc822"
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return CorpusItem(item.name, kind, filename, mime, data, item.content.label, item.content.variant, pages)


def _damaged_pdf(doc: Document, rng: random.Random, already_damaged: bool) -> tuple[bytes, int]:
    # DejaVu has the stray glyphs of damaged layers (˛ ˙ ˚) that Helvetica's WinAnsi lacks
    layer = doc if already_damaged else replace(damage_document(doc, rng.choice(PROFILES), rng), font="DejaVuSans")
    if already_damaged or rng.random() >= SANDWICH_SHARE:
        return render.text_pdf(layer)
    images = imaging.page_images(doc, 200)
    jpegs = [imaging.jpeg(imaging.scan(page, rng, 200, False), 70) for page in images]
    return render.sandwich_pdf(jpegs, layer), len(jpegs)


def _forwarded(doc: Document, stem: str, label: Label, rng: random.Random) -> tuple[bytes, str, int]:
    if rng.random() < 0.8:
        data, pages = render.text_pdf(doc)
        inner = (f"{stem}.pdf", data, PDF)
    else:
        data, pages = render.docx(doc, rng), 1
        inner = (f"{stem}.docx", data, render.DOCX_MIME)
    subject = mail_subject(rng, label)
    sent = datetime(label.year or 2017, 6, rng.randint(1, 29), rng.randint(8, 16), rng.randint(0, 59))
    eml = render.forwarded_eml(rng, inner, sent, subject, person(rng), person(rng))
    return eml, rng.choice((f"VB {subject}.eml", "Vidarebefordrat meddelande.eml", "Fwd.eml")), pages


def generate(seed: int, count: int, cache_dir: Path | None = None) -> list[CorpusItem]:
    """The whole corpus, rendered. With `cache_dir`, reuses a pickle keyed by (seed, count, version)."""
    cached = cache_dir / f"corpus-v{GENERATOR_VERSION}-seed{seed}-n{count}.pickle" if cache_dir else None
    if cached and cached.exists():
        items: list[CorpusItem] = pickle.loads(cached.read_bytes())  # our own file, written below
        return items
    items = [render_item(item) for item in plan(seed, count)]
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(pickle.dumps(items))
    return items


def long_scan(seed: int, pages: int = 40) -> CorpusItem:
    """A full protokoll of about `pages` scanned pages, greyscale at 200 dpi: the memory benchmark's input."""
    rng = random.Random(f"{seed}:long_scan")
    content = minutes(rng, pages)
    jpegs = [imaging.jpeg(imaging.scan(page, rng, LONG_SCAN_DPI, False), 55)
             for page in imaging.page_images(content.document, LONG_SCAN_DPI)]
    data = render.sandwich_pdf(jpegs, None)
    return CorpusItem(f"long-scan-{len(jpegs)}p", "long_minutes", f"{content.stem}.pdf", PDF, data, content.label,
                      f"long_scan_{len(jpegs)}", len(jpegs))


def write_corpus(items: list[CorpusItem], folder: Path) -> Path:
    """Writes each item as `<name>-<filename>` and the labels to labels.json; returns the labels' path."""
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for item in items:
        path = folder / f"{item.name}-{item.filename.replace('/', '_')}"
        path.write_bytes(item.data)
        records.append({"name": item.name, "kind": item.kind, "variant": item.variant, "file": path.name,
                        "filename": item.filename, "content_type": item.content_type, "pages": item.pages,
                        "label": item.label.as_dict()})
    labels = folder / "labels.json"
    labels.write_text(json.dumps(records, ensure_ascii=False, indent=2), encoding="utf-8")
    return labels
