"""The web desk served by waitress on a free port, and Debian's Chromium driven by Playwright.

`live_desk` is the demo's season (sample register, mails processed, coordinator
samordnare/kvalitet-2017) behind a real HTTP server; `live_register` the same with the
register only. `page` is a fresh browser context (a laptop's 1366x900, Swedish locale,
downloads accepted) in headless Chromium, /usr/bin/chromium: nothing downloads a browser of
its own. Without that file the browser tests are skipped; `./dev test` installs it.

Loaded as a plugin by tests/test_browser.py, which imports its helpers first, so it is not
assertion-rewritten (it asserts nothing): PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, sync_playwright
from waitress import wasyncore
from waitress.server import create_server

from tests.desk import PASSWORD, USER, Desk, make_desk

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 900}  # a laptop
TIMEOUT_MS = 15_000  # any one wait in a test: the pages answer in well under a second
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


@dataclass
class LiveDesk:
    """The desk behind a real HTTP server at `url` (no trailing slash)."""

    url: str
    desk: Desk

    def at(self, path: str) -> str:
        return self.url + path


@contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve the WSGI app with waitress on a free local port in a daemon thread; yield its URL."""
    channels: dict[int, Any] = {}  # this server's own socket map, closed whole at the end
    server = create_server(app, map=channels, host="127.0.0.1", port=0, threads=4, ident="intake-test")
    thread = threading.Thread(target=server.run, name="waitress-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()  # the listening socket
        server.task_dispatcher.shutdown()
        wasyncore.close_all(channels)  # kept-alive connections too: the loop ends with an empty map
        thread.join(timeout=10)


@pytest.fixture
def live_desk(tmp_path: Path, database_url: str) -> Iterator[LiveDesk]:
    """The demo's season served over HTTP."""
    desk = make_desk(tmp_path, database_url)
    with served(desk.app) as url:
        yield LiveDesk(url, desk)


@pytest.fixture
def live_register(tmp_path: Path, database_url: str) -> Iterator[LiveDesk]:
    """The sample register without mails, served over HTTP: for a test that delivers its own."""
    desk = make_desk(tmp_path, database_url, mails=False)
    with served(desk.app) as url:
        yield LiveDesk(url, desk)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium, one per test module (each test gets its own context)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; "
                    "`./dev test` does); the browser tests never download a browser")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def new_page(browser: Browser, **options: Any) -> Iterator[Page]:
    """A page in a fresh context (no cookies): laptop viewport, sv-SE, downloads accepted."""
    context = browser.new_context(viewport=VIEWPORT, locale="sv-SE", accept_downloads=True, **options)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with new_page(browser) as fresh:
        yield fresh


def sign_in(page: Page, live: LiveDesk, username: str = USER, password: str = PASSWORD) -> None:
    """Through the sign-in form, by its labels; ends on the review queue."""
    page.goto(live.at("/logga-in"))
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    page.get_by_role("heading", level=1, name="Granskning").wait_for()


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG in docs/screenshots, for the README, once the page's PDFs are painted."""
    for frame in page.locator("iframe").all():
        wait_for_paint(frame)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for_paint(element: Locator, seconds: float = 10.0) -> None:
    """Until the element shows more than its dark background (Chromium's PDF viewer paints the
    page a moment after the frame has loaded), or `seconds` have passed: only a picture waits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        shot = Image.open(io.BytesIO(element.screenshot())).convert("L")
        light = sum(shot.histogram()[200:])
        if light > shot.width * shot.height // 10:
            return
        time.sleep(0.2)
