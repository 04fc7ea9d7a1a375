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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from frontdesk.models import User, UserSession
from frontdesk.runtime import Frontdesk
from frontdesk.service.deps import Deps
from tests.databases import BACKENDS, empty_database
from tests.fast import fast_settings
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


def start_site(database_url: str, folder: Path) -> Site:
    empty_database(database_url)
    port = free_port()
    public_url = f"http://localhost:{port}"
    env = {"FRONTDESK_PUBLIC_URL": public_url, "FRONTDESK_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}"}
    return Site(start_server(database_url, folder, port=port, extra_env=env), public_url)


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    database_url: str = request.getfixturevalue(f"{request.param}_database_url")
    started = start_site(database_url, tmp_path_factory.mktemp("two-step"))
    yield started
    started.server.stop()


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

# A browser without WebAuthn's JSON helpers (older than Chromium 129, say): webauthn.js converts itself
NO_JSON_HELPERS = """
delete PublicKeyCredential.parseCreationOptionsFromJSON;
delete PublicKeyCredential.parseRequestOptionsFromJSON;
delete PublicKeyCredential.prototype.toJSON;
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


def age_sessions(site: Site, username: str) -> None:
    """As if the user's last factor was proved 11 minutes ago (FRONTDESK_REAUTH_MAX_AGE is 10)."""

    def move(db: Session, _deps: Deps) -> None:
        user_id = db.scalars(select(User.id).where(User.username == username)).one()
        then = datetime.now(UTC) - timedelta(minutes=11)
        db.execute(update(UserSession).where(UserSession.user_id == user_id).values(authenticated_at=then))

    library = Frontdesk(fast_settings(site.server.database_url))
    try:
        library.call(move)
    finally:
        library.close()


def expect_reauthentication(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/reauthenticate\?next=%2Faccount$"))
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()


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
    helpers = (
        "() => [typeof PublicKeyCredential.parseCreationOptionsFromJSON, typeof PublicKeyCredential.prototype.toJSON]"
    )
    assert page.evaluate(helpers) == ["function", "function"]  # this test uses the browser's JSON helpers
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


def test_a_security_key_is_the_second_step_after_the_password(site: Site, new_page: Any) -> None:
    username = new_user(site)
    page = new_page()
    page.context.add_init_script(NO_JSON_HELPERS)  # this test uses webauthn.js's own conversions
    cdp, authenticator = add_authenticator(page, SECURITY_KEY)
    sign_in(page, username)
    assert page.evaluate("() => typeof PublicKeyCredential.parseRequestOptionsFromJSON") == "undefined"
    add_key(page, "YubiKey")
    expect(page.get_by_role("status")).to_contain_text("Two-step verification is on")
    expect(page.locator("ol.codes li")).to_have_count(10)
    key = page.locator("#keys li.session")
    expect(key).to_contain_text("YubiKey")
    expect(key).to_contain_text("Security key")
    assert [c["isResidentCredential"] for c in credentials_in(cdp, authenticator)] == [False]
    sign_out(page)

    sign_in(page, username, path=None)
    expect(page).to_have_url(re.compile(r"/login/second-step\?challenge=[A-Za-z0-9_-]{43}$"))
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    page.get_by_role("button", name="Use your security key or passkey").click()
    expect_signed_in(page, username)
    page.goto("/account")
    expect(page.locator("#keys li.session")).not_to_contain_text("never")  # last used: just now

    # removing it needs a fresh session: the key again (a password alone is not enough)
    age_sessions(site, username)
    page.get_by_role("button", name="Remove YubiKey").click()
    expect_reauthentication(page)
    expect(page.get_by_label("Your password")).to_have_count(0)
    page.get_by_role("button", name="Use your security key or passkey").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    # removed, it no longer signs in; with no second factor left, the password alone does
    page.get_by_role("button", name="Remove YubiKey").click()
    expect(page.get_by_role("status")).to_contain_text("removed")
    expect(page.locator("#two-step .badge").first).to_have_text("Off")
    sign_out(page)
    sign_in(page, username, path=None)
    expect_signed_in(page, username)


# --- authenticator apps and recovery codes, without JavaScript -------------------------------------


def setup_key(page: Page) -> str:
    return page.locator("#totp-secret").inner_text().replace(" ", "")


def next_code(secret: str) -> str:
    """The code of the next 30-second step: the current one may have been used already."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_an_authenticator_app_set_up_and_used_without_javascript(site: Site, new_page: Any, tmp_path: Path) -> None:
    username = new_user(site)
    page = new_page(javascript=False)
    page.goto("/login")
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_hidden()
    sign_in(page, username, path=None)
    expect(page.get_by_text("Adding a security key or passkey needs JavaScript")).to_be_visible()
    expect(page.get_by_role("button", name="Add it")).to_be_hidden()
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.locator(".qr svg")).to_be_visible()
    secret = setup_key(page)
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)

    page.get_by_label("Code from the app").fill("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    assert setup_key(page) == secret  # the same key, shown again
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("status")).to_contain_text("Two-step verification is on")
    codes = page.locator("ol.codes li").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"([0-9A-Z]{5}-){4}[0-9A-Z]{5}", c) for c in codes)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the codes (.txt)").click()
    assert download.value.suggested_filename == "frontdesk-recovery-codes.txt"
    saved = tmp_path / "codes.txt"
    download.value.save_as(saved)
    assert saved.read_text().split()[-10:] == codes
    page.goto("/account")
    expect(page.locator("ol.codes")).to_have_count(0)  # shown once
    expect(page.locator("#recovery")).to_contain_text("10 of 10 left")
    sign_out(page)

    sign_in(page, username, path=None)
    expect(page).to_have_url(re.compile(r"/login/second-step\?challenge="))
    expect(page.get_by_role("button", name="Use your security key or passkey")).to_have_count(0)
    page.get_by_label("Code from your authenticator app").fill("12345")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    page.get_by_label("Code from your authenticator app").fill(next_code(secret))
    page.get_by_role("button", name="Continue").click()
    expect_signed_in(page, username)
    sign_out(page)

    # a recovery code, once
    for attempt in ("first", "again"):
        sign_in(page, username, path=None)
        page.get_by_text("Use a recovery code instead").click()
        page.get_by_label("Recovery code").fill(codes[0].lower().replace("-", " "))
        page.get_by_role("button", name="Use this code").click()
        if attempt == "first":
            expect_signed_in(page, username)
            expect(page.locator("#recovery")).to_contain_text("9 of 10 left")
            sign_out(page)
    expect(page.get_by_role("alert")).to_contain_text("That recovery code is not right, or was already used")
    expect(page.get_by_label("Recovery code")).to_be_visible()  # the form stays open


def enrol_totp(site: Site) -> tuple[str, str, list[str]]:
    """A new user with an authenticator app (set up through the API): username, secret, recovery codes."""
    username = unique("app")
    with site.api() as api:
        api_sign_up(api, username)
        secret = api.post("/v1/second-factors/totp").json()["secret"]
        confirmed = api.post("/v1/second-factors/totp/confirm", json={"totp": pyotp.TOTP(secret).now()})
        assert confirmed.status_code == 200, confirmed.text
    return username, secret, confirmed.json()["recovery_codes"]


def test_five_wrong_codes_end_the_second_step_and_next_survives_it(site: Site, new_page: Any) -> None:
    username, secret, _ = enrol_totp(site)
    page = new_page(javascript=False)
    sign_in(page, username, path="/login?next=/account%3Fnotice%3Dkey-added")
    expect(page).to_have_url(re.compile(r"/login/second-step\?challenge=.+&next="))
    step = page.url
    wrong = "000000" if next_code(secret) != "000000" else "111111"
    for _ in range(4):
        page.get_by_label("Code from your authenticator app").fill(wrong)
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    page.get_by_label("Code from your authenticator app").fill(wrong)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="This sign-in step has expired")).to_be_visible()
    page.goto(step)  # the challenge is over
    expect(page.get_by_role("heading", name="This sign-in step has expired")).to_be_visible()
    expect(page.get_by_label("Code from your authenticator app")).to_have_count(0)
    # a new sign-in works, and goes where it was asked to
    sign_in(page, username, path="/login?next=/account%3Fnotice%3Dkey-added")
    page.get_by_label("Code from your authenticator app").fill(next_code(secret))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/account\?notice=key-added$"))


# --- re-authentication ----------------------------------------------------------------------------


def test_a_stale_session_confirms_the_password_before_setting_up_an_app_without_javascript(
    site: Site, new_page: Any
) -> None:
    username = new_user(site)
    page = new_page(javascript=False)
    sign_in(page, username)
    age_sessions(site, username)
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect_reauthentication(page)
    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("That is not your password")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.locator(".qr svg")).to_be_visible()


def test_a_user_with_an_app_reauthenticates_with_a_code_and_signs_in_with_a_recovery_code(
    site: Site, new_page: Any
) -> None:
    username, secret, codes = enrol_totp(site)
    page = new_page(javascript=False)
    sign_in(page, username)
    page.get_by_text("Use a recovery code instead").click()
    page.get_by_label("Recovery code").fill(codes[3])
    page.get_by_role("button", name="Use this code").click()
    expect_signed_in(page, username)
    age_sessions(site, username)
    page.get_by_role("button", name="Make new recovery codes").click()
    expect_reauthentication(page)
    expect(page.get_by_label("Your password")).to_have_count(0)
    page.get_by_label("Code from your authenticator app").fill(next_code(secret))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    page.get_by_role("button", name="Make new recovery codes").click()
    expect(page.get_by_role("status")).to_contain_text("your old codes no longer work")
    fresh = page.locator("ol.codes li").all_inner_texts()
    assert len(fresh) == 10 and not set(fresh) & set(codes)
