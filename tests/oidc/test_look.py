"""The social sign-in pages at phone and laptop width: screenshots for the docs and an axe-core check,
as `tests/web/pages/test_look.py` does for the other pages (FRONTDESK_SCREENSHOTS=1 saves them in
docs/screenshots). On SQLite only: the look does not depend on the database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.oidc.browser import SocialSite, cancel_at_provider, local_only, provider_sign_in
from tests.web.helpers import sign_up as api_sign_up
from tests.web.pages.conftest import TIMEOUT_MS
from tests.web.pages.journeys import expect_signed_in, sign_in
from tests.web.pages.test_look import WIDTHS, describe, run_axe, screenshots  # noqa: F401 (a fixture)

Steps = Callable[[Page], str | None]  # brings a page to the state photographed; the part to photograph


def _pages(site: SocialSite, width: str) -> list[tuple[str, Steps]]:
    username = f"uma_{width}"
    with site.server.client() as api:
        api_sign_up(api, username)

    def login(page: Page) -> None:
        page.goto("/login")
        expect(page.get_by_role("link", name="Continue with Corp")).to_be_visible()

    def cancelled(page: Page) -> None:
        page.goto("/login")
        page.get_by_role("link", name="Continue with Corp").click()
        cancel_at_provider(page, site, f"tess_{width}")
        expect(page.get_by_role("heading", name="Sign-in cancelled")).to_be_visible()

    def needs_link(page: Page) -> None:
        page.goto("/login")
        page.get_by_role("link", name="Continue with Corp").click()
        provider_sign_in(page, site, username)  # the email of uma's account, at a provider not trusted for it
        expect(page.get_by_role("heading", name="Sign in to link your account")).to_be_visible()

    def account(page: Page) -> str:
        sign_in(page, username)
        expect_signed_in(page, username)
        page.get_by_role("button", name="Link Corp", exact=True).click()
        provider_sign_in(page, site, username)
        expect(page.locator("#identities")).to_contain_text(f"{username}@example.com")
        return "#identities"

    return [
        ("login-continue-with", login),
        ("social-cancelled", cancelled),
        ("social-needs-link", needs_link),
        ("account-linked-sign-in", account),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_the_social_sign_in_pages_photographed_and_accessible(
    browser: Browser,
    sqlite_social_site: SocialSite,
    width: str,
    screenshots: Path,  # noqa: F811
) -> None:
    viewport, user_agent = WIDTHS[width]
    failures: dict[str, list[str]] = {}
    for name, steps in _pages(sqlite_social_site, width):
        # a browser of its own for each page (the provider's session would skip its sign-in page);
        # bypass_csp only lets axe-core's script run: test_journeys.py runs these under the real CSP
        context = browser.new_context(
            base_url=sqlite_social_site.url, viewport=viewport, user_agent=user_agent, bypass_csp=True
        )
        context.set_default_timeout(TIMEOUT_MS)
        local_only(context)
        try:
            page = context.new_page()
            part = steps(page)
            path = str(screenshots / f"{name}-{width}.png")
            if part:
                page.locator(part).screenshot(path=path)
            else:
                page.screenshot(path=path, full_page=True)
            violations = run_axe(page)
            if violations:
                failures[name] = describe(violations)
        finally:
            context.close()
    assert not failures, f"axe-core: {failures}"
