"""What a browser sees when something is off, photographed and checked with axe-core: a device
whose session was revoked elsewhere lands on sign-in with the reason, a mistyped URL is an HTML
404 page, and the development mailbox reads on a phone.

Screenshots: docs/screenshots/revoked-device-*.png, not-found-*.png and dev-mail-phone.png, saved
there with FRONTDESK_SCREENSHOTS=1 (as tests/web/pages/test_look.py does).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.live import LiveServer
from tests.web.helpers import sign_up
from tests.web.pages.conftest import OpenPage
from tests.web.pages.journeys import PASSWORD
from tests.web.pages.test_look import DOCS_SCREENSHOTS, UPDATE_DOCS, WIDTHS, describe, run_axe


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = DOCS_SCREENSHOTS if UPDATE_DOCS else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def photograph(page: Page, path: Path) -> None:
    """A full-page screenshot, then axe-core: no violation of any impact."""
    page.screenshot(path=str(path), full_page=True)
    violations = run_axe(page)
    assert violations == [], describe(violations)


@pytest.mark.slow
@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_a_revoked_device_and_a_mistyped_url_are_explained(
    sqlite_server: LiveServer, open_sqlite_page: OpenPage, width: str, screenshots: Path
) -> None:
    viewport, user_agent = WIDTHS[width]
    with sqlite_server.client() as api:
        sign_up(api, "alice")
        page = open_sqlite_page(viewport=viewport, user_agent=user_agent, bypass_csp=True)
        page.goto("/login")
        page.get_by_label("Username or email").fill("alice")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("heading", name="Your account")).to_be_visible()
        # "sign out everywhere else" from the API client's session: the browser's session ends
        revoked = api.post("/v1/sessions/revoke-others", json={"confirm": True})
        assert revoked.status_code == 200, revoked.text

    page.goto("/account")
    expect(page).to_have_url(f"{sqlite_server.url}/login?next=%2Faccount&reason=signed_out")
    expect(page.get_by_text("You were signed out on this device")).to_be_visible()
    photograph(page, screenshots / f"revoked-device-{width}.png")

    answer = page.goto("/acount")  # mistyped
    assert answer is not None and answer.status == 404
    assert answer.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    photograph(page, screenshots / f"not-found-{width}.png")


@pytest.mark.slow
def test_the_development_mailbox_reads_on_a_phone(
    sqlite_server: LiveServer, open_sqlite_page: OpenPage, screenshots: Path
) -> None:
    with sqlite_server.client() as api:
        sign_up(api, "ada")
        assert api.post("/v1/login-link", json={"user": "ada"}).status_code == 202
    viewport, user_agent = WIDTHS["phone"]
    page = open_sqlite_page(viewport=viewport, user_agent=user_agent, bypass_csp=True)
    page.goto("/dev/mail")
    expect(page.get_by_text("Confirm your email").first).to_be_visible()
    # nothing wider than the phone: no sideways scrolling
    assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
    photograph(page, screenshots / "dev-mail-phone.png")
