"""The two-step verification pages at phone and laptop width: screenshots for the docs and an
axe-core check, as `test_look.py` does for the other pages (FRONTDESK_SCREENSHOTS=1 saves them in
docs/screenshots). On SQLite only: the look does not depend on the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.pages.conftest import TIMEOUT_MS
from tests.web.pages.journeys import sign_in
from tests.web.pages.test_look import WIDTHS, describe, run_axe, screenshots  # noqa: F401 (a fixture)
from tests.web.pages.test_two_step import (
    NO_AUTOFILL,
    PASSKEY,
    SECURITY_KEY,
    Site,
    add_authenticator,
    add_key,
    age_sessions,
    new_user,
    next_code,
    setup_key,
    sign_out,
    start_site,
)


@pytest.fixture
def sqlite_site(sqlite_database_url: str, tmp_path: Path) -> Iterator[Site]:
    started = start_site(sqlite_database_url, tmp_path)
    yield started
    started.server.stop()


Steps = Callable[[Page], str | None]  # brings a page to the state photographed; the part to photograph


def _pages(site: Site, username: str) -> list[tuple[str, Steps]]:
    state: dict[str, Any] = {}

    def off(page: Page) -> str:
        sign_in(page, username)
        page.evaluate("() => localStorage.setItem('no-autofill', '1')")  # the passkey would sign in at once
        page.goto("/account#two-step")
        return "#two-step"

    def app_setup(page: Page) -> str:
        page.get_by_role("button", name="Set up an authenticator app").click()
        expect(page.locator(".qr svg")).to_be_visible()
        state["secret"] = setup_key(page)
        return "#two-step"

    def app_wrong_code(page: Page) -> str:
        page.get_by_label("Code from the app").fill("000000" if pyotp.TOTP(state["secret"]).now() != "000000" else "1")
        page.get_by_role("button", name="Turn on").click()
        expect(page.get_by_role("alert")).to_be_visible()
        return "#two-step"

    def recovery_codes(page: Page) -> str:
        page.get_by_label("Code from the app").fill(pyotp.TOTP(state["secret"]).now())
        page.get_by_role("button", name="Turn on").click()
        expect(page.locator("ol.codes li")).to_have_count(10)
        return "#two-step"

    def on(page: Page) -> str:
        add_key(page, "YubiKey 5C")
        expect(page.get_by_role("status")).to_contain_text("is added")
        return "#two-step"

    def second_step(page: Page) -> None:
        sign_out(page)
        sign_in(page, username, path=None)
        expect(page.get_by_role("button", name="Use your security key or passkey")).to_be_visible()

    def second_step_error(page: Page) -> None:
        page.get_by_label("Code from your authenticator app").fill("12345")
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("alert")).to_be_visible()
        page.get_by_text("Use a recovery code instead").click()

    def second_step_expired(page: Page) -> None:
        page.goto("/login/second-step?challenge=used-or-expired-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")

    def login_with_passkey(page: Page) -> None:
        page.goto("/login")
        expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()

    def signed_in_again(page: Page) -> None:
        sign_in(page, username, path=None)
        page.get_by_label("Code from your authenticator app").fill(next_code(state["secret"]))
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="Your account")).to_be_visible()

    def reauthenticate_second_factor(page: Page) -> None:
        age_sessions(site, username)
        page.get_by_role("button", name="Make new recovery codes").click()
        expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()

    def reauthenticate(page: Page) -> None:
        page.goto("/account")
        sign_out(page)
        other = new_user(site)
        sign_in(page, other, path=None)
        age_sessions(site, other)
        page.get_by_role("button", name="Set up an authenticator app").click()
        expect(page.get_by_label("Your password")).to_be_visible()

    return [
        ("account-two-step-off", off),
        ("account-two-step-app-setup", app_setup),
        ("account-two-step-app-wrong-code", app_wrong_code),
        ("account-two-step-recovery-codes", recovery_codes),
        ("account-two-step-on", on),
        ("second-step", second_step),
        ("second-step-error", second_step_error),
        ("second-step-expired", second_step_expired),
        ("login-passkey", login_with_passkey),
        ("", signed_in_again),
        ("reauthenticate-second-factor", reauthenticate_second_factor),
        ("reauthenticate", reauthenticate),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_two_step_pages_photographed_and_without_accessibility_problems(
    browser: Browser,
    sqlite_site: Site,
    width: str,
    screenshots: Path,  # noqa: F811
) -> None:
    viewport, user_agent = WIDTHS[width]
    context = browser.new_context(
        base_url=sqlite_site.public_url, viewport=viewport, user_agent=user_agent, bypass_csp=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(NO_AUTOFILL)
    page = context.new_page()
    add_authenticator(page, SECURITY_KEY if width == "laptop" else PASSKEY)
    username = new_user(sqlite_site)
    problems: dict[str, list[str]] = {}
    try:
        for name, steps in _pages(sqlite_site, username):
            part = steps(page)
            if not name:
                continue
            path = str(screenshots / f"{name}-{width}.png")
            if part:
                page.locator(part).screenshot(path=path)
            else:
                page.screenshot(path=path, full_page=True)
            if violations := run_axe(page):
                problems[name] = describe(violations)
    finally:
        context.close()
    assert not problems, f"axe-core: {problems}"
