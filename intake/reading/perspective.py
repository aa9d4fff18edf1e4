"""Photos of a page: find the sheet of paper and flatten it (crop, undo the perspective), even the light.

A photo of a page on a desk shows the page as a light quadrilateral on a darker
background, its edges converging where the phone was tilted. Tesseract's layout
analysis then cuts long lines into columns and drops lines. Here the sheet is
found on a thumbnail: the text is wiped out by a maximum filter (paper is the
lightest thing around a letter), the light part is split from the dark by Otsu's
threshold, and the light region that holds the image's centre is taken as the
sheet (a minimum filter after the maximum puts its edges back where they were).
Its four corners are the region's extreme points along the diagonals, and
a perspective transform maps them to a rectangle.

Nothing is changed unless the evidence is clear: the sheet must cover a fair part
of the image, leave a real background around it, be much lighter than that
background, and have four well-separated corners. A flat scan (the paper fills
the image) and a close-up are left alone. Pure Pillow on a small thumbnail, plus
one transform of the full image: tens of milliseconds, about 0.1 s for 5 MP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from intake.reading.deskew import otsu

THUMBNAIL_SIDE = 320  # pixels: the sheet's edges stay sharp enough, the pixel loop stays cheap
TEXT_WIPE = 5  # maximum filter size on the thumbnail: wider than a letter's stroke, narrower than a margin
MIN_SHEET = 0.25  # the sheet covers at least this share of the image ...
MAX_SHEET = 0.94  # ... and leaves at least this much background, else the photo is the page
MIN_CONTRAST = 40  # gray levels between the sheet's median and the background's
MIN_BACKGROUND = 0.04  # share of the image that must be dark background, away from the sheet
MIN_SIDE = 0.2  # each side of the quadrilateral, as a share of the thumbnail's longer side
EDGE_SAMPLES = 20  # points sampled along each side of the sheet
EDGE_REACH = 3  # thumbnail pixels inside and outside a side where its two brightnesses are read
SHARP_SHARE = 0.75  # of the sampled points, at least this many must be a sharp step
EDGE_SLACK = 3  # thumbnail pixels a sheet's edge may stray from the line between its corners
MARKED = 128  # flood-fill value that marks the sheet on the binary mask
EVEN_ENOUGH = 24  # gray levels between the darkest and the lightest paper that need no evening
LIGHT_CELL = 16  # pixels averaged into one cell of the paper's brightness: wider than a letter


@dataclass(frozen=True, slots=True)
class Sheet:
    """The page's corners in full-image pixels: top-left, top-right, bottom-right, bottom-left."""

    corners: tuple[tuple[float, float], ...]

    @property
    def size(self) -> tuple[int, int]:
        """The flattened page's width and height: the mean of opposite sides."""
        (tl, tr, br, bl) = self.corners
        width = (_distance(tl, tr) + _distance(bl, br)) / 2
        height = (_distance(tl, bl) + _distance(tr, br)) / 2
        return max(1, round(width)), max(1, round(height))


def find_sheet(image: Image.Image) -> Sheet | None:
    """The light sheet of paper in a grayscale photo, when there clearly is one on a darker background."""
    scale = min(1.0, THUMBNAIL_SIDE / max(image.size))
    small = image if scale == 1.0 else image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BOX
    )
    if min(small.size) < 2 * TEXT_WIPE:
        return None
    # closing: the maximum filter wipes the text out, the minimum filter puts the sheet's edges back
    wiped = small.filter(ImageFilter.MaxFilter(TEXT_WIPE)).filter(ImageFilter.MinFilter(TEXT_WIPE))
    threshold = otsu(wiped.histogram())
    mask = wiped.point(lambda value: 255 if value >= threshold else 0)
    if mask.histogram()[255] > MAX_SHEET * small.width * small.height:
        return None  # light almost everywhere: a scan, or the page fills the photo
    centre = (small.width // 2, small.height // 2)
    if mask.getpixel(centre) != 255:
        return None  # the centre is dark: no sheet under the camera, or a dark page
    ImageDraw.floodfill(mask, centre, MARKED)
    data = mask.tobytes()
    total = small.width * small.height
    share = data.count(MARKED) / total
    if not MIN_SHEET <= share <= MAX_SHEET:
        return None
    points = _row_ends(data, small.width)
    corners = (
        min(points, key=lambda p: p[0] + p[1]),  # top-left
        max(points, key=lambda p: p[0] - p[1]),  # top-right
        max(points, key=lambda p: p[0] + p[1]),  # bottom-right
        min(points, key=lambda p: p[0] - p[1]),  # bottom-left
    )
    if not _plausible(corners, max(small.size), share, total) or not _straight_sides(points, corners):
        return None
    if not _sharp_edges(wiped, corners):
        return None
    if not _on_a_desk(small, mask, share):
        return None
    return Sheet(tuple(((x + 0.5) / scale, (y + 0.5) / scale) for x, y in corners))  # pixel centres


def flatten(image: Image.Image, sheet: Sheet, fill: int) -> Image.Image:
    """The sheet cut out of the image and seen from straight above."""
    width, height = sheet.size
    target = ((0.0, 0.0), (float(width), 0.0), (float(width), float(height)), (0.0, float(height)))
    coefficients = _perspective(target, sheet.corners)
    return image.transform(
        (width, height), Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR, fillcolor=fill
    )


def even_light(image: Image.Image) -> Image.Image:
    """The image with the paper made evenly white: the light falling off across a photo undone.

    The paper's brightness is estimated on a 1/16 reduction (each cell's mean, then the
    lightest of 3 x 3 cells, so a bold heading does not count as dark paper) and each
    pixel divided by it: light multiplies, so ink on paper in shadow gets back the
    contrast it has in full light. The division is a subtraction of logarithms, done
    with lookup tables and ImageChops in C. Tesseract binarises a page with one global
    threshold, which turns a dim corner of a photo into one black region and loses all
    the text in it (measured: a photo read as two lines out of twenty; evened, as all
    twenty). A scan lit evenly is left alone. About 20 ms for 1.4 MP."""
    if min(image.size) < 4 * LIGHT_CELL:
        return image
    small = image.resize((image.width // LIGHT_CELL, image.height // LIGHT_CELL), Image.Resampling.BOX)
    paper = small.filter(ImageFilter.MaxFilter(3)).filter(ImageFilter.GaussianBlur(2))
    darkest, lightest = paper.getextrema()
    assert isinstance(darkest, int) and isinstance(lightest, int)  # mode L
    if lightest - darkest < EVEN_ENOUGH:
        return image  # a scan: evenly lit already, and left as it is
    paper = paper.resize(image.size, Image.Resampling.BILINEAR)
    # log(paper) - log(pixel), clipped at 0 where the pixel is lighter than the paper
    shade = ImageChops.subtract(paper.point(_LOG), image.point(_LOG))
    return shade.point(_EXP)


_LOG_SCALE = 255 / math.log(256)
_LOG = [round(_LOG_SCALE * math.log(value + 1)) for value in range(256)]
_EXP = [round(255 * math.exp(-value / _LOG_SCALE)) for value in range(256)]


def _row_ends(data: bytes, width: int) -> list[tuple[int, int]]:
    """The first and last marked pixel of each row: the extreme points along any diagonal are among them."""
    ends: list[tuple[int, int]] = []
    marked = bytes((MARKED,))
    for y in range(len(data) // width):
        row = data[y * width:(y + 1) * width]
        first = row.find(marked)
        if first != -1:
            ends += ((first, y), (row.rfind(marked), y))
    return ends


def _plausible(corners: tuple[tuple[int, int], ...], side: int, share: float, total: int) -> bool:
    """Four separate corners whose quadrilateral is convex and about as large as the region."""
    sides = [_distance(corners[i], corners[(i + 1) % 4]) for i in range(4)]
    if min(sides) < MIN_SIDE * side:
        return False
    crosses = [_cross(corners[i], corners[(i + 1) % 4], corners[(i + 2) % 4]) for i in range(4)]
    if not (all(c > 0 for c in crosses) or all(c < 0 for c in crosses)):
        return False
    pairs = zip(corners, corners[1:] + corners[:1], strict=True)
    area = abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in pairs))
    # a sheet is a quadrilateral: its region fills the corners' polygon (an L-shaped glare would not)
    return 0.93 <= share * total / (area / 2) <= 1.07


def _straight_sides(ends: list[tuple[int, int]], corners: tuple[tuple[int, int], ...]) -> bool:
    """The region's left and right edges run straight from corner to corner, as a sheet's do.

    Checked on the rows between the corners: nine in ten of each row's ends lie within
    EDGE_SLACK pixels of the line between the corners (a torn-off shape, glare or a
    second paper bends them)."""
    (tl, tr, br, bl) = corners
    top, bottom = max(tl[1], tr[1]), min(bl[1], br[1])
    off = 0
    rows = 0
    for index in range(0, len(ends), 2):
        (left, y), (right, _) = ends[index], ends[index + 1]
        if not top < y < bottom:
            continue
        rows += 1
        off += abs(left - _x_at(tl, bl, y)) > EDGE_SLACK
        off += abs(right - _x_at(tr, br, y)) > EDGE_SLACK
    return rows > 0 and off <= 0.1 * 2 * rows


def _x_at(a: tuple[int, int], b: tuple[int, int], y: float) -> float:
    if a[1] == b[1]:
        return float(a[0])
    return a[0] + (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1])


def _on_a_desk(small: Image.Image, mask: Image.Image, share: float) -> bool:
    """The sheet is much lighter than what lies around it, and there is enough of that."""
    sheet_mask = mask.point(lambda value: 255 if value == MARKED else 0)
    background_mask = mask.point(lambda value: 255 if value == 0 else 0)
    background = background_mask.histogram()[255] / (small.width * small.height)
    if background < MIN_BACKGROUND or share + background > 1.0:
        return False
    light = _median(small.histogram(sheet_mask))
    dark = _median(small.histogram(background_mask))
    return light - dark >= MIN_CONTRAST


def _sharp_edges(wiped: Image.Image, corners: tuple[tuple[int, int], ...]) -> bool:
    """The quadrilateral's sides are steps from dark to light, as a sheet's edges on a desk are.

    Light falling off across a page (the phone's shadow) also splits it into a light and
    a dark part, but there the brightness changes slowly: a few gray levels across a
    side, where a sheet's edge jumps by tens. Sampled just inside and just outside each
    side; sides on the image's border can't be judged and are skipped."""
    judged = sharp = 0
    for index in range(4):
        (ax, ay), (bx, by) = corners[index], corners[(index + 1) % 4]
        length = math.hypot(bx - ax, by - ay)
        # corners run clockwise on screen (y down): (dy, -dx) points out of the sheet
        nx, ny = (by - ay) / length, -(bx - ax) / length
        for step in range(1, EDGE_SAMPLES):
            t = step / EDGE_SAMPLES
            x, y = ax + (bx - ax) * t, ay + (by - ay) * t
            outside = (round(x + nx * EDGE_REACH), round(y + ny * EDGE_REACH))
            inside = (round(x - nx * EDGE_REACH), round(y - ny * EDGE_REACH))
            if not all(0 <= px < wiped.width and 0 <= py < wiped.height for px, py in (outside, inside)):
                continue
            judged += 1
            sharp += _level(wiped, inside) - _level(wiped, outside) >= MIN_CONTRAST / 2
    return judged >= EDGE_SAMPLES and sharp >= SHARP_SHARE * judged


def _level(image: Image.Image, xy: tuple[int, int]) -> int:
    value = image.getpixel(xy)
    assert isinstance(value, int)  # mode L
    return value


def _median(histogram: list[int]) -> int:
    half = sum(histogram) / 2
    running = 0
    for level, count in enumerate(histogram):
        running += count
        if running >= half:
            return level
    return 0


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5)


def _cross(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
    return (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0])


def _perspective(
    target: tuple[tuple[float, float], ...], source: tuple[tuple[float, float], ...]
) -> tuple[float, ...]:
    """Pillow's eight PERSPECTIVE coefficients taking each output point in `target` to its `source` point.

    x_in = (a x + b y + c) / (g x + h y + 1), y_in = (d x + e y + f) / (g x + h y + 1)."""
    rows: list[list[float]] = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u])
        rows.append([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v])
    return tuple(_solve(rows))


def _solve(rows: list[list[float]]) -> list[float]:
    """Gaussian elimination with partial pivoting on an augmented n x (n+1) matrix."""
    size = len(rows)
    for column in range(size):
        pivot = max(range(column, size), key=lambda r: abs(rows[r][column]))
        if abs(rows[pivot][column]) < 1e-12:
            raise ValueError("degenerate quadrilateral")
        rows[column], rows[pivot] = rows[pivot], rows[column]
        for r in range(size):
            if r != column:
                factor = rows[r][column] / rows[column][column]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[column], strict=True)]
    return [rows[r][size] / rows[r][r] for r in range(size)]
