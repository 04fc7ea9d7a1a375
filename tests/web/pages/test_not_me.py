"""The "this wasn't me" link in a real browser (Chromium): a stranger signs in as the owner from another
browser; the owner opens the new-sign-in email from the development mailbox and presses the button;
the stranger is signed out and a reset link arrives. On SQLite and PostgreSQL.

Screenshots: docs/screenshots/not-me-*.png and not-me-done-*.png, saved there with
FRONTDESK_SCREENSHOTS=1 (as tests/web/pages/test_look.py does).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.live import LiveServer
from tests.web.helpers import latest_email, log_in, token_in, unique
from tests.web.helpers import sign_up as api_sign_up
from tests.web.pages.conftest import FIREFOX_UA, OpenPage
from tests.web.pages.journeys import expect_on_login, expect_signed_in, open_email_link, sign_in, sign_up
from tests.web.pages.test_look import DOCS_SCREENSHOTS, UPDATE_DOCS, WIDTHS
from tests.web.pages.test_look_answers import photograph

BUTTON = re.compile("^This wasn.t me")


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = DOCS_SCREENSHOTS if UPDATE_DOCS else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_this_wasnt_me_signs_the_stranger_out_and_sends_a_reset(open_page: OpenPage) -> None:
    username = unique("nm")
    owner = open_page()  # Chrome on Mac OS X: the signup's device, the account's first
    email = sign_up(owner, username)
    stranger = open_page(user_agent=FIREFOX_UA)  # a second browser, another user agent
    sign_in(stranger, username)
    expect_signed_in(stranger, username)

    open_email_link(owner, email, "/sign-ins/not-me")
    expect(owner.get_by_role("heading", name="Was this sign-in you?")).to_be_visible()
    expect(owner.get_by_text("Firefox on Windows")).to_be_visible()
    owner.reload()  # opening the page (as a mail scanner would) used nothing
    owner.get_by_role("button", name=BUTTON).click()
    expect(owner.get_by_role("heading", name="Device signed out")).to_be_visible()
    expect(owner.get_by_role("status")).to_contain_text("link to choose a new password")

    stranger.goto("/account")  # the stranger's next page load: signed out
    expect_on_login(stranger)
    owner.goto("/account")  # the owner's own browser stays signed in
    expect_signed_in(owner, username)
    open_email_link(owner, email, "/reset-password")  # the reset link arrived
    expect(owner.get_by_role("heading", name="Choose a new password")).to_be_visible()


def test_every_device_signed_out_when_asked(open_page: OpenPage) -> None:
    username = unique("nm")
    owner = open_page()
    email = sign_up(owner, username)
    stranger = open_page(user_agent=FIREFOX_UA)
    sign_in(stranger, username)
    expect_signed_in(stranger, username)
    open_email_link(owner, email, "/sign-ins/not-me")
    owner.get_by_label("Also sign out every other device and API key").check()
    owner.get_by_role("button", name=BUTTON).click()
    expect(owner.get_by_role("heading", name="Everyone signed out")).to_be_visible()
    for page in (stranger, owner):
        page.goto("/account")
        expect_on_login(page)
    open_email_link(owner, email, "/sign-ins/not-me")  # the used link: explained, nothing more happens
    expect(owner.get_by_role("heading", name="This link no longer works")).to_be_visible()


@pytest.mark.slow
@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_the_not_me_pages_photographed_and_accessible(
    sqlite_server: LiveServer, open_sqlite_page: OpenPage, width: str, screenshots: Path
) -> None:
    with sqlite_server.client() as api:
        api_sign_up(api, "olive")
        with sqlite_server.client(headers={"User-Agent": FIREFOX_UA}) as elsewhere:
            assert log_in(elsewhere, "olive").status_code == 200
        token = token_in(latest_email(api, "olive@example.com", "new sign-in"))
    viewport, user_agent = WIDTHS[width]
    page = open_sqlite_page(viewport=viewport, user_agent=user_agent, bypass_csp=True)
    page.goto(f"/sign-ins/not-me?token={token}")
    expect(page.get_by_role("button", name=BUTTON)).to_be_visible()
    photograph(page, screenshots / f"not-me-{width}.png")
    page.get_by_role("button", name=BUTTON).click()
    expect(page.get_by_role("heading", name="Device signed out")).to_be_visible()
    photograph(page, screenshots / f"not-me-done-{width}.png")
