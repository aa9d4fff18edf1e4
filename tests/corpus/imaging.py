"""Draws pages as images and ages them: scans (skew, noise, tinted paper, blur) and phone photos.

Pages are drawn with Pillow from the same layout as the text PDF (Liberation Sans
stands in for Helvetica: same metrics). Noise comes from the caller's seeded
generator, never from Pillow's own C `rand()`, so a corpus is reproducible.
"""

from __future__ import annotations

import io
import math
import random
from functools import cache

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps

from tests.corpus.layout import A4_HEIGHT, A4_WIDTH, FALLBACK, FONT_FILES, Document, font_family, paginate

NOISE_TILE = 509  # pixels; a prime so the tiled pattern never lines up with text lines
TRIANGULAR_SD = 52.0  # standard deviation of the mean of two uniform bytes
PAPERS = ((238, 238, 236), (244, 239, 222), (232, 230, 224), (241, 236, 214), (229, 229, 229))
DESKS = ((92, 74, 58), (60, 62, 66), (150, 140, 125), (35, 35, 38))
ORIENTATION_TAG = 0x0112
# EXIF orientation -> how the upright picture is rotated (counter-clockwise degrees) to store it
STORED_ROTATION = {3: 180, 6: 90, 8: 270}


@cache
def _font(family: str, bold: bool, pixels: int) -> ImageFont.FreeTypeFont:
    path = FONT_FILES[family][1 if bold else 0]
    if not path.exists():
        path = FONT_FILES[FALLBACK][1 if bold else 0]
    return ImageFont.truetype(str(path), pixels)


def page_images(doc: Document, dpi: int, max_pages: int | None = None) -> list[Image.Image]:
    """Each page as a white greyscale image with black text, `dpi` dots per inch."""
    family = font_family(doc.font)
    scale = dpi / 72
    size = (round(A4_WIDTH * scale), round(A4_HEIGHT * scale))
    images = []
    for number, runs in enumerate(paginate(doc)[:max_pages]):
        image = Image.new("L", size, 255)
        draw = ImageDraw.Draw(image)
        for run in runs:
            font = _font(family, run.bold, max(6, round(run.size * scale)))
            draw.text((run.x * scale, run.y * scale), run.text, fill=0, font=font, anchor="rs" if run.right else "ls")
        if number == 0 and doc.stamp:
            _stamp(image, doc.stamp, family, scale)
        images.append(image)
    return images


def _stamp(image: Image.Image, word: str, family: str, scale: float) -> None:
    font = _font(family, True, round(44 * scale))
    box = font.getbbox(word)
    mark = Image.new("L", (round(box[2]) + 20, round(box[3]) + 20), 0)
    ImageDraw.Draw(mark).text((10, 10), word, fill=150, font=font)
    mark = mark.rotate(18, expand=True, resample=Image.Resampling.BICUBIC)
    x, y = round(A4_WIDTH * 0.3 * scale), round(A4_HEIGHT * 0.3 * scale)
    image.paste(0, (x, y), mark)


def noise(size: tuple[int, int], sigma: float, rng: random.Random) -> Image.Image:
    """Grain centred on 128 with about `sigma` standard deviation, tiled from one seeded tile."""
    side = NOISE_TILE
    first = Image.frombytes("L", (side, side), rng.randbytes(side * side))
    second = Image.frombytes("L", (side, side), rng.randbytes(side * side))
    k = sigma / TRIANGULAR_SD
    tile = ImageChops.add(first, second, scale=2.0).point([max(0, min(255, round(128 + (v - 127.5) * k)))
                                                           for v in range(256)])
    grain = Image.new("L", size)
    for x in range(0, size[0], side):
        for y in range(0, size[1], side):
            grain.paste(tile, (x, y))
    return grain


def _add_noise(image: Image.Image, sigma: float, rng: random.Random) -> Image.Image:
    grain = noise(image.size, sigma, rng)
    if image.mode == "RGB":
        grain = Image.merge("RGB", (grain, grain, grain))
    return ImageChops.add(image, grain, scale=1.0, offset=-128)


def scan(page: Image.Image, rng: random.Random, dpi: int, colour: bool) -> Image.Image:
    """A scanned copy of a page: skew of 0.5–4°, grain, blur, grey ink on tinted paper, dust.

    Geometry and grain work on the greyscale page (a third of the pixels of colour);
    the paper tint comes last, as a linear map of grey, so the order changes nothing visible."""
    angle = rng.uniform(0.5, 4.0) * rng.choice((-1, 1))
    image = page.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=255)
    image = _add_noise(image, rng.uniform(4.0, 10.0), rng)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9) * dpi / 300))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(0, 30)):  # dust and toner specks
        x, y, r = rng.randrange(image.width), rng.randrange(image.height), rng.randint(1, 4) * dpi // 150
        draw.ellipse((x, y, x + r, y + r), fill=0)
    ink = rng.randint(15, 60)
    if colour:
        return ImageOps.colorize(image, black=(ink, ink, ink + 5), white=rng.choice(PAPERS))
    light = rng.randint(205, 240)
    return image.point([round(ink + (light - ink) * v / 255) for v in range(256)])


def jpeg(image: Image.Image, quality: int, exif: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif, dpi=(200, 200))
    return buffer.getvalue()


def _solve(rows: list[list[float]], rhs: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (8 unknowns: no numpy needed)."""
    n = len(rhs)
    m = [row[:] + [value] for row, value in zip(rows, rhs, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col:
                f = m[r][col] / m[col][col]
                m[r] = [a - f * b for a, b in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]


def _perspective(out_quad: list[tuple[float, float]], in_quad: list[tuple[float, float]]) -> list[float]:
    rows, rhs = [], []
    for (x, y), (u, v) in zip(out_quad, in_quad, strict=True):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    return _solve(rows, rhs)


def photo(page: Image.Image, rng: random.Random) -> tuple[bytes, int]:
    """A phone photo of a page on a desk: perspective, a few degrees of rotation, uneven light, JPEG.

    Returns (JPEG bytes, EXIF orientation); orientation 1 means the pixels are upright."""
    paper = (rng.randint(235, 252),) * 2 + (rng.randint(225, 245),)
    image = ImageOps.colorize(page, black=(40, 40, 46), white=paper)
    margin = round(image.width * rng.uniform(0.05, 0.12))
    desk = Image.new("RGB", (image.width + 2 * margin, image.height + 2 * margin), rng.choice(DESKS))
    desk.paste(image, (margin, margin))
    w, h = desk.size
    # One perspective transform does the tilt of the phone and a rotation of a few degrees.
    turn = math.radians(rng.uniform(-4.0, 4.0))
    cos, sin = math.cos(turn), math.sin(turn)
    corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]
    source = []
    for x, y in corners:
        dx, dy = x - w / 2, y - h / 2
        source.append((w / 2 + dx * cos - dy * sin + rng.uniform(-0.035, 0.035) * w,
                       h / 2 + dx * sin + dy * cos + rng.uniform(-0.035, 0.035) * h))
    desk = desk.transform((w, h), Image.Transform.PERSPECTIVE, _perspective(corners, source),
                          Image.Resampling.BILINEAR, fillcolor=desk.getpixel((0, 0)))
    # light falls off across the page in some direction: a gradient, rotated on a square that
    # covers the whole picture so no corner of it is left unlit
    side = math.ceil(math.hypot(w, h))
    light = Image.linear_gradient("L").resize((side, side), Image.Resampling.BILINEAR)
    light = light.rotate(rng.uniform(0, 360), resample=Image.Resampling.BILINEAR)
    light = light.crop(((side - w) // 2, (side - h) // 2, (side - w) // 2 + w, (side - h) // 2 + h))
    low = rng.randint(150, 200)
    light = light.point([round(low + (255 - low) * v / 255) for v in range(256)])
    desk = ImageChops.multiply(desk, Image.merge("RGB", (light, light, light)))
    desk = desk.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.1)))
    desk = _add_noise(desk, rng.uniform(3.0, 9.0), rng)
    orientation = rng.choices((1, 6, 8, 3), (65, 20, 10, 5))[0]
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Apple", rng.choice(("iPhone 8", "iPhone X", "iPhone 11"))
    if orientation != 1:
        desk = desk.rotate(STORED_ROTATION[orientation], expand=True)
        exif[ORIENTATION_TAG] = orientation
    return jpeg(desk, rng.randint(78, 92), exif.tobytes()), orientation
