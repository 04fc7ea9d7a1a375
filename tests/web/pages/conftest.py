"""Fixtures for the hosted pages: Debian's Chromium driven by Playwright.

The browser is `/usr/bin/chromium` (Debian's package; `make test` in CI installs it when missing),
never a browser downloaded by `playwright install`. Without it the browser tests skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from tests.databases import BACKENDS, empty_database
from tests.live import LiveServer, start_server

CHROMIUM = os.environ.get("FRONTDESK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
# Realistic user agents, so the account page shows "Chrome on Mac OS X" rather than "HeadlessChrome"
LAPTOP_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
FIREFOX_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
TIMEOUT_MS = 15_000

# --- in a browser -----------------------------------------------------------------------------


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Debian's Chromium under Playwright, closed after; the calling test skips without it."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module", params=BACKENDS)
def pages_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`frontdesk serve` on SQLite and on PostgreSQL, shared by one test module (each test uses its own
    users), so the many short journeys don't each pay for a server start. Otherwise like `live_server`."""
    url: str = request.getfixturevalue(f"{request.param}_database_url")
    empty_database(url)
    server = start_server(url, tmp_path_factory.mktemp("pages-server"))
    yield server
    server.stop()


@pytest.fixture
def sqlite_server(sqlite_database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A live server on SQLite only (for the screenshots and accessibility checks, taken once)."""
    empty_database(sqlite_database_url)
    server = start_server(sqlite_database_url, tmp_path)
    yield server
    server.stop()


OpenPage = Callable[..., Page]


def _opener(browser: Browser, server: LiveServer) -> Iterator[OpenPage]:
    contexts: list[BrowserContext] = []

    def open_page(viewport: ViewportSize = LAPTOP, user_agent: str = LAPTOP_UA, **options: object) -> Page:
        """A page in a new browser context: a separate browser with its own cookies."""
        context = browser.new_context(
            base_url=server.url,
            viewport=viewport,
            user_agent=user_agent,
            **options,  # type: ignore[arg-type]
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def open_page(browser: Browser, pages_server: LiveServer) -> Iterator[OpenPage]:
    """New browser contexts on the shared live server (SQLite and PostgreSQL)."""
    yield from _opener(browser, pages_server)


@pytest.fixture
def open_sqlite_page(browser: Browser, sqlite_server: LiveServer) -> Iterator[OpenPage]:
    yield from _opener(browser, sqlite_server)
