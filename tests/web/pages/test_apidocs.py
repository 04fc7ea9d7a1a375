"""The API reference renders offline: Swagger UI at /docs and Redoc at /redoc in headless Chromium
with every request that is not to this machine aborted, and no Content-Security-Policy violation.

The screenshots are docs/screenshots/api-docs-laptop.png and api-redoc-laptop.png (saved there
with FRONTDESK_SCREENSHOTS=1, as test_look.py does).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect

from tests.web.pages.conftest import OpenPage

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
UPDATE_DOCS = os.environ.get("FRONTDESK_SCREENSHOTS") == "1"
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = DOCS_SCREENSHOTS if UPDATE_DOCS else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Offline:
    """Aborts every request to anything but loopback and records what was asked for, and any
    console message about the Content-Security-Policy."""

    def __init__(self, page: Page) -> None:
        self.aborted: list[str] = []
        self.violations: list[str] = []
        page.route("**/*", self._route)
        page.on("console", self._console)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.aborted.append(url)
            route.abort()

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.violations.append(message.text)


def operations(page: Page) -> list[dict[str, object]]:
    """The operations /openapi.json describes (what the page should list)."""
    document = page.request.get("/openapi.json").json()
    return [operation for item in document["paths"].values() for method, operation in item.items() if method in METHODS]


def operation_ids(page: Page) -> set[str]:
    return {str(operation["operationId"]) for operation in operations(page)}


def test_swagger_ui_lists_the_operations_offline(open_sqlite_page: OpenPage, screenshots: Path) -> None:
    page = open_sqlite_page()
    offline = Offline(page)
    response = page.goto("/docs")
    assert response is not None and response.ok
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".opblock")).to_have_count(len(operations(page)))
    assert page.locator(".opblock-summary-path", has_text="/v1/login").first.is_visible()
    page.screenshot(path=str(screenshots / "api-docs-laptop.png"), full_page=False)
    page.locator(".opblock-summary", has_text="/v1/verify").first.click()  # open one: its responses show
    page.locator(".responses-table").first.wait_for()
    assert offline.aborted == [], f"the page reached beyond this machine: {offline.aborted}"
    assert offline.violations == []


def test_redoc_lists_the_operations_offline(open_sqlite_page: OpenPage, screenshots: Path) -> None:
    page = open_sqlite_page()
    offline = Offline(page)
    response = page.goto("/redoc")
    assert response is not None and response.ok
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator("[data-section-id*='operation/']").first.wait_for()
    sections: list[str] = page.evaluate(
        "() => [...document.querySelectorAll('[data-section-id]')].map(e => e.dataset.sectionId)"
    )
    shown = {section.rsplit("operation/", 1)[1] for section in sections if "operation/" in section}
    assert shown == operation_ids(page), "the operation list did not render"
    page.screenshot(path=str(screenshots / "api-redoc-laptop.png"), full_page=False)
    assert offline.aborted == [], f"the page reached beyond this machine: {offline.aborted}"
    # Redoc 2 always tries its "by Redocly" logo from its CDN and hides it when that fails: the
    # CSP blocks it before any request leaves, and that is the one refusal the page causes.
    assert [v for v in offline.violations if REDOC_LOGO not in v] == []
