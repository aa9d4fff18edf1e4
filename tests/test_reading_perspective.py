"""Finding the sheet of paper in a photo and flattening it (intake.reading.perspective), and OCR of such a photo."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageDraw

from intake.reading import perspective, read_document
from tests.test_reading_pdf_ocr import LINES, assert_reads_all, attachment, encode, grainy, scan

LONG_LINES = LINES + (
    "Nämnden beslutar att anmäla Förskolan Kastanjen och Enheten för ekonomiskt bistånd till stadens pris.",
    "Förvaltningen redovisar i tjänsteutlåtande daterat 2024-05-28 de enheter som lämnat tävlingsbidrag.",
)


def photograph(page: Image.Image, corners: tuple[tuple[int, int], ...], size: tuple[int, int],
               desk: int = 40) -> Image.Image:
    """The page as a camera sees it on a dark desk: its corners at `corners` (tl, tr, br, bl)."""
    width, height = page.size
    target = ((0.0, 0.0), (float(width), 0.0), (float(width), float(height)), (0.0, float(height)))
    # the transform maps photo pixels back to page pixels: from the corners to the page's own
    coefficients = perspective._perspective(tuple((float(x), float(y)) for x, y in corners), target)
    warped = page.transform(size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR,
                            fillcolor=desk)
    inside = Image.new("L", size, 0)
    ImageDraw.Draw(inside).polygon(corners, fill=255)
    photo = Image.composite(warped, Image.new("L", size, desk), inside)
    return grainy(photo, 6.0)


CORNERS = ((140, 190), (1810, 95), (1835, 2445), (200, 2470))


def a4_page() -> Image.Image:
    page = Image.new("L", (1654, 2339), 232)  # A4 at 200 dpi, tinted paper
    text = scan(LONG_LINES, size=26, background=232)
    page.paste(text, (120, 200))
    return page


def test_sheet_on_a_desk_is_found_at_its_corners() -> None:
    photo = photograph(a4_page(), CORNERS, (1954, 2639))
    sheet = perspective.find_sheet(photo)
    assert sheet is not None
    for (x, y), (ex, ey) in zip(sheet.corners, CORNERS, strict=True):
        assert abs(x - ex) < 25 and abs(y - ey) < 25, sheet.corners
    width, height = sheet.size
    assert width == pytest.approx(1650, rel=0.03) and height == pytest.approx(2315, rel=0.03)


def test_flattened_sheet_has_straight_text_lines() -> None:
    photo = photograph(a4_page(), CORNERS, (1954, 2639))
    sheet = perspective.find_sheet(photo)
    assert sheet is not None
    flat = perspective.flatten(photo, sheet, fill=255)
    assert flat.size == sheet.size
    # the desk is gone: the flattened page's border is paper, not the dark desk
    border = [flat.getpixel((x, 3)) for x in range(10, flat.width - 10, 50)]
    assert min(border) > 150, border


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(lambda: scan(LINES, background=235), id="a flat scan: paper everywhere"),
        pytest.param(lambda: Image.new("L", (800, 1100), 30), id="dark everywhere"),
        pytest.param(lambda: Image.new("L", (800, 1100), 250), id="blank paper"),
        pytest.param(lambda: Image.new("L", (8, 8), 250), id="tiny"),
    ],
)
def test_nothing_to_flatten(image: object) -> None:
    assert callable(image)
    assert perspective.find_sheet(image()) is None


def test_light_shape_that_is_no_sheet_is_left_alone() -> None:
    """An L-shaped light region (glare, two papers) has no four corners: the photo is read as it is."""
    photo = Image.new("L", (1000, 1300), 40)
    draw = ImageDraw.Draw(photo)
    draw.polygon(((100, 100), (900, 100), (900, 500), (600, 500), (600, 1200), (100, 1200)), fill=235)
    assert perspective.find_sheet(photo) is None


def test_page_in_a_shadow_is_no_sheet_on_a_desk() -> None:
    """Light falling off across a page splits it into a light and a dark part, but the dark part is
    no desk: the light part must not be cut out as the sheet."""
    page = a4_page()
    light = Image.linear_gradient("L").rotate(90).resize(page.size).point(lambda v: 70 + v * 185 // 255)
    assert perspective.find_sheet(ImageChops.multiply(page, light)) is None


def test_light_desk_gives_no_sheet() -> None:
    """Paper on a light desk: too little contrast to tell the sheet, so nothing is cut away."""
    photo = photograph(a4_page(), CORNERS, (1954, 2639), desk=215)
    assert perspective.find_sheet(photo) is None


def test_photo_of_a_page_at_an_angle_is_read_whole() -> None:
    """A phone photo of a page on a desk, perspective and all: every line, long ones included."""
    photo = photograph(a4_page(), CORNERS, (1954, 2639)).convert("RGB")
    document = read_document(attachment(encode(photo, "JPEG", quality=88), "IMG_2041.JPG", "image/jpeg"))
    assert_reads_all(document)
    for phrase in ("Förskolan Kastanjen och Enheten för ekonomiskt bistånd", "de enheter som lämnat tävlingsbidrag"):
        assert phrase in " ".join(document.text.split()), document.text


def test_uneven_light_is_evened_and_an_even_scan_left_alone() -> None:
    """Light falling off across a photo: the dim side's paper is made as white as the bright side's."""
    page = a4_page()
    shade = Image.linear_gradient("L").resize(page.size).point(lambda v: v // 2)  # 0 at the top, 127 at the bottom
    photo = ImageChops.subtract(page, shade)
    evened = perspective.even_light(photo)
    top, bottom = evened.crop((0, 0, page.width, 100)), evened.crop((0, page.height - 100, page.width, page.height))
    assert abs(_median(top) - _median(bottom)) < 10
    assert _median(photo.crop((0, page.height - 100, page.width, page.height))) < 120  # it was dim
    # the text keeps its contrast: the darkest ink is still far below the paper
    assert evened.getextrema()[0] < 100
    assert perspective.even_light(page) is page


def _median(image: Image.Image) -> int:
    return perspective._median(image.histogram())


def test_dim_photo_is_read_whole() -> None:
    """A photo whose light falls off across the page (as a phone's does): every line read, not only the lit ones."""
    page = a4_page()
    light = Image.linear_gradient("L").rotate(90).resize(page.size).point(lambda v: 70 + v * 185 // 255)
    photo = ImageChops.multiply(page, light).convert("RGB")
    document = read_document(attachment(encode(photo, "JPEG", quality=88), "IMG_2042.JPG", "image/jpeg"))
    assert_reads_all(document)
    assert "de enheter som lämnat tävlingsbidrag" in " ".join(document.text.split()), document.text
