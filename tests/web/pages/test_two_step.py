"""Two-step verification in a real browser (Debian's Chromium), on SQLite and PostgreSQL.

Security keys and passkeys are Chromium's virtual authenticators (the DevTools protocol's
`WebAuthn` domain, through Playwright's CDP session); authenticator-app codes are computed here
with pyotp from the setup key the page shows. The flows that need no WebAuthn run with
JavaScript turned off, proving they work without it.

WebAuthn needs a real host name as relying-party id, so this module's server has its public URL
on `http://localhost:<port>` (the browser's address); the API client of the test reaches it on
127.0.0.1, an allowed origin.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect

from tests.databases import BACKENDS, empty_database
from tests.live import LiveServer, free_port, start_server
from tests.web.helpers import sign_up as api_sign_up
from tests.web.helpers import unique
from tests.web.pages.conftest import LAPTOP, LAPTOP_UA, TIMEOUT_MS
from tests.web.pages.journeys import PASSWORD, expect_on_login, expect_signed_in, sign_in

SECURITY_KEY = {"protocol": "ctap2", "transport": "usb", "hasResidentKey": False}
PASSKEY = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True}


class Site:
    """The module's server, with the address the browser uses (`localhost`) beside the API's."""

    def __init__(self, server: LiveServer, public_url: str) -> None:
        self.server = server
        self.public_url = public_url

    def api(self) -> httpx.Client:
        return self.server.client()


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    database_url: str = request.getfixturevalue(f"{request.param}_database_url")
    empty_database(database_url)
    port = free_port()
    public_url = f"http://localhost:{port}"
    env = {"FRONTDESK_PUBLIC_URL": public_url, "FRONTDESK_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}"}
    server = start_server(database_url, tmp_path_factory.mktemp("two-step"), port=port, extra_env=env)
    yield Site(server, public_url)
    server.stop()


@pytest.fixture
def contexts(browser: Browser, site: Site) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


@pytest.fixture
def new_page(browser: Browser, site: Site, contexts: list[BrowserContext]) -> Any:
    def open_page(*, javascript: bool = True, **options: Any) -> Page:
        context = browser.new_context(
            base_url=site.public_url,
            viewport=options.pop("viewport", LAPTOP),
            user_agent=LAPTOP_UA,
            java_script_enabled=javascript,
            accept_downloads=True,
            **options,
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(NO_AUTOFILL)
        contexts.append(context)
        return context.new_page()

    return open_page


# A browser without autofill of passkeys (conditional mediation), while localStorage says so
NO_AUTOFILL = """
if (localStorage.getItem("no-autofill") === "1" && window.PublicKeyCredential) {
  PublicKeyCredential.isConditionalMediationAvailable = async () => false;
}
"""


def add_authenticator(page: Page, options: dict[str, Any]) -> tuple[CDPSession, str]:
    """A virtual authenticator in this page's browser: present and user-verifying on every use."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    full = {"hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True, **options}
    answer = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": full})
    return cdp, str(answer["authenticatorId"])


def credentials_in(cdp: CDPSession, authenticator: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    return found


def new_user(site: Site) -> str:
    username = unique("tsv")
    with site.api() as api:
        api_sign_up(api, username)
    return username


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").first.click()
    expect_on_login(page)


def add_key(page: Page, name: str) -> None:
    page.goto("/account")
    page.locator("#keys summary").click()
    page.get_by_label("Key or passkey name").fill(name)
    page.get_by_role("button", name="Add it").click()


# --- passkeys -------------------------------------------------------------------------------------


def test_a_passkey_added_on_the_account_page_signs_in_with_the_button_and_from_autofill(
    site: Site, new_page: Any
) -> None:
    username = new_user(site)
    page = new_page()
    cdp, authenticator = add_authenticator(page, PASSKEY)
    sign_in(page, username)
    expect_signed_in(page, username)
    add_key(page, "This laptop")
    expect(page.get_by_role("status")).to_contain_text("Save your recovery codes")
    expect(page.locator("#keys li.session")).to_contain_text("This laptop")
    expect(page.locator("#keys li.session")).to_contain_text("Passkey")
    assert len(credentials_in(cdp, authenticator)) == 1

    # the button (autofill held back, as in a browser without it)
    page.evaluate("() => localStorage.setItem('no-autofill', '1')")
    sign_out(page)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect_signed_in(page, username)
    sign_out(page)

    # autofill: Chromium's virtual authenticator answers the conditional request at once
    page.evaluate("() => localStorage.removeItem('no-autofill')")
    page.goto("/login")
    expect_signed_in(page, username)
