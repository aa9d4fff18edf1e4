"""Measures a page image's small skew and its text line height from row profiles of ink.

Tesseract reads the words of slightly tilted text, but its layout analysis loses
whole lines of a page tilted by as little as 1.5°, and most of a page at 8–10°, a
usual tilt for a phone photo of a paper on a desk; so any tilt of MIN_SKEW or more
is levelled. The projection-profile method
finds the tilt: rotated to the right angle, text lines make the sums of ink per
row alternate sharply between lines and gaps. The same profile gives the height
of a text line, which says how much a small photo must be enlarged for OCR.
Pure Pillow on a thumbnail, so it costs tens of milliseconds per page.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from PIL import Image

THUMBNAIL_SIDE = 600  # pixels: lines stay several rows apart, rotations stay cheap
MAX_SKEW = 10.0  # degrees searched either way; more is a photo taken sideways (OSD's job)
COARSE_STEP = 1.0
FINE_STEP = 0.2
# Degrees below which a page is left as it is. Tesseract reads the words of a page tilted
# a few degrees, but its layout analysis drops whole lines and paragraphs of it now and
# then (measured on the corpus: a third of the unit names missed on scans were lines
# tilted 1.5-3.6° that tesseract never returned; levelled, they all read). Levelling an
# A4 page at 300 dpi costs 0.2 s (bilinear), the fine search step is 0.2°.
MIN_SKEW = 0.5
# The content box: thumbnail pixels darker than the paper by this much are content. Lenient on
# purpose (a BOX thumbnail averages grain away but keeps faint stamps and thin strokes at
# least this dark), so nothing that might be text is ever cut off.
CONTENT_DELTA = 24
CONTENT_MARGIN = 0.02  # of the longer side, kept around the content box
MIN_LINES = 3  # fewer text lines than this and the profile says nothing about line height
LINE_ROW_SHARE = 0.15  # a row belongs to a text line when its ink is above this share of the peak
INK = 255


@dataclass(frozen=True, slots=True)
class Layout:
    angle: float  # degrees to rotate the image (counter-clockwise, as Image.rotate) to level it
    line_height: float | None  # pixels of the full image, None when no text lines were found
    paper: int  # the commonest light gray level: the fill for corners uncovered by rotating
    # (left, upper, right, lower) in full-image pixels around everything darker than the paper,
    # with a margin; None when that is the whole image or the image is blank
    content: tuple[int, int, int, int] | None = None


def measure(image: Image.Image) -> Layout:
    """The tilt and the typical text line height of a grayscale page image."""
    scale = min(1.0, THUMBNAIL_SIDE / max(image.size))
    small = image if scale == 1.0 else image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BOX
    )
    histogram = small.histogram()
    threshold = otsu(histogram)
    paper = max(range(threshold, 256), key=histogram.__getitem__, default=255)
    mask = small.point(lambda value: INK if value < threshold else 0)
    best = _search(mask, [step * COARSE_STEP for step in range(-int(MAX_SKEW), int(MAX_SKEW) + 1)])
    fine = [best + step * FINE_STEP for step in range(-4, 5)]
    best = _search(mask, fine)
    heights = _line_heights(_profile(mask, best))
    line_height = statistics.median(heights) / scale if len(heights) >= MIN_LINES else None
    return Layout(angle=best if abs(best) >= MIN_SKEW else 0.0, line_height=line_height, paper=paper,
                  content=_content_box(small, paper, scale, image.size))


def _content_box(small: Image.Image, paper: int, scale: float,
                 size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The part of the page that holds anything darker than the paper, with a margin.

    Tesseract's time grows with the area it analyses, and levelling's with the area it
    rotates: white margins cost both and hold nothing."""
    box = small.point(lambda value: INK if value < paper - CONTENT_DELTA else 0).getbbox()
    if box is None:
        return None
    margin = CONTENT_MARGIN * max(size) + 1 / scale  # a thumbnail pixel's worth of rounding too
    left = max(0, int(box[0] / scale - margin))
    upper = max(0, int(box[1] / scale - margin))
    right = min(size[0], int(box[2] / scale + margin + 0.999))
    lower = min(size[1], int(box[3] / scale + margin + 0.999))
    if (left, upper, right, lower) == (0, 0, *size):
        return None
    return left, upper, right, lower


def otsu(histogram: list[int]) -> int:
    """The gray level that best splits ink from paper (Otsu's method); 128 for a flat image."""
    counts = histogram[:256]
    total = sum(counts)
    weighted = sum(level * count for level, count in enumerate(counts))
    below = below_weighted = 0.0
    best_level, best_variance = 128, -1.0
    for level, count in enumerate(counts):
        below += count
        if below == 0 or below == total:
            continue
        below_weighted += level * count
        mean_below = below_weighted / below
        mean_above = (weighted - below_weighted) / (total - below)
        variance = below * (total - below) * (mean_below - mean_above) ** 2
        if variance > best_variance:
            best_level, best_variance = level + 1, variance
    return best_level


def _search(mask: Image.Image, angles: list[float]) -> float:
    return max(angles, key=lambda angle: (_sharpness(_profile(mask, angle)), -abs(angle)))


def _profile(mask: Image.Image, angle: float) -> list[float]:
    rotated = mask.rotate(angle, resample=Image.Resampling.NEAREST, fillcolor=0) if angle else mask
    column = rotated.resize((1, rotated.height), Image.Resampling.BOX)  # mean ink per row
    return [float(value) for value in column.tobytes()]  # mode L: one byte a row


def _sharpness(profile: list[float]) -> float:
    return sum((after - before) ** 2 for before, after in zip(profile, profile[1:], strict=False))


def _line_heights(profile: list[float]) -> list[int]:
    peak = max(profile, default=0.0)
    if peak <= 0:
        return []
    heights: list[int] = []
    run = 0
    for value in [*profile, 0.0]:
        if value > peak * LINE_ROW_SHARE:
            run += 1
        elif run:
            if run > 1:  # a single row is a rule or a speck, not a line of text
                heights.append(run)
            run = 0
    return heights
