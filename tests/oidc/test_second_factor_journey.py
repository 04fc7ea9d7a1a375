"""In Chromium: a social sign-in through the real provider's own login and consent pages, for a user
with an authenticator app, ends on frontdesk's second step; a code from the app signs in at aal 2.
And an account with no password re-authenticates by signing in again at its provider (SQLite and
PostgreSQL).

frontdesk is served on a fixed loopback port for this module, with that address as its public URL,
and the provider here (a second instance) has that address's callback registered.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from frontdesk.models import Identity, UserSession
from frontdesk.oidc_settings import parse_providers
from frontdesk.runtime import Frontdesk
from frontdesk.web.app import create_app
from tests.factories import PASSWORD, make_user
from tests.fast import fast_settings
from tests.live import free_port
from tests.oidc.conftest import provider_env, serve
from tests.oidc.rig import OidcProvider, start_provider
from tests.web.pages.conftest import LAPTOP, LAPTOP_UA, TIMEOUT_MS


@pytest.fixture(scope="module")
def site_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def journey_provider(site_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    provider = start_provider(tmp_path_factory.mktemp("journey-provider"), [f"{site_url}/v1/oauth/corp/callback"])
    yield provider
    provider.stop()


@pytest.fixture
def site_fd(database_url: str, site_url: str) -> Iterator[Frontdesk]:
    instance = Frontdesk(fast_settings(database_url, public_url=site_url))
    yield instance
    instance.close()


@pytest.fixture
def api(site_fd: Frontdesk, site_url: str, journey_provider: OidcProvider) -> Iterator[httpx.Client]:
    """frontdesk served at `site_url`; a plain client of it (for setting a user up)."""
    providers = parse_providers(provider_env(journey_provider.issuer))
    app = create_app(frontdesk=site_fd, send_mail=False, oidc_providers=providers)
    with serve(app, port=int(site_url.rsplit(":", 1)[1]), origin=site_url) as client:
        yield client


@pytest.fixture
def page(browser: Browser, api: httpx.Client, site_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=site_url, viewport=LAPTOP, user_agent=LAPTOP_UA)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def user_with_app_and_identity(fd: Frontdesk, api: httpx.Client, provider: OidcProvider, name: str) -> pyotp.TOTP:
    """An account with an authenticator app, and its identity at the provider (subject `name`) linked."""
    user = make_user(fd, username=name, email=f"{name}@example.com")
    assert api.post("/v1/login", json={"user": name, "password": PASSWORD}).status_code == 200
    app = pyotp.TOTP(api.post("/v1/second-factors/totp").json()["secret"])
    assert api.post("/v1/second-factors/totp/confirm", json={"totp": app.now()}).status_code == 200
    assert api.post("/v1/logout").status_code == 204
    with fd.factory.begin() as db:
        now = fd.deps.clock.now()
        db.add(
            Identity(
                user_id=user.id,
                provider="corp",
                issuer=provider.issuer,
                subject=name,
                email=f"{name}@example.com",
                created=now,
                last_used=now,
            )
        )
    return app


def through_the_provider(page: Page, login: str) -> None:
    """The provider's own pages: its sign-in form, then its consent page."""
    expect(page.locator("input[name=login]")).to_be_visible()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def test_a_social_sign_in_goes_on_to_the_second_step_and_a_code_signs_in(
    page: Page, api: httpx.Client, site_fd: Frontdesk, journey_provider: OidcProvider
) -> None:
    app = user_with_app_and_identity(site_fd, api, journey_provider, "wren")
    page.goto("/v1/oauth/corp/start?next=/account&remember_device=1")
    expect(page).to_have_url(re.compile(re.escape(journey_provider.issuer) + "/interaction/"))
    through_the_provider(page, "wren")

    expect(page).to_have_url(re.compile(r"/login/second-step\?challenge="))
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    assert page.request.get("/v1/session").json()["logged_in"] is False  # no session before the code
    code = page.get_by_label("Code from your authenticator app")
    code.fill("000000" if app.now() != "000000" else "111111")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")
    page.get_by_label("Code from your authenticator app").fill(app.at(time.time() + 30))
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Your account")).to_contain_text("wren")
    session = page.request.get("/v1/session").json()
    assert (session["aal"], session["factors"], session["long_lived"]) == (2, ["social", "totp"], True)


def test_an_account_without_a_password_confirms_its_a_person_by_signing_in_again_at_the_provider(
    page: Page, api: httpx.Client, site_fd: Frontdesk, site_url: str, journey_provider: OidcProvider
) -> None:
    page.goto("/v1/oauth/corp/start")
    through_the_provider(page, "yara")  # a new account, made by social sign-in: no password
    expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()
    with site_fd.factory.begin() as db:  # an hour later: the session is no longer fresh
        db.execute(update(UserSession).values(authenticated_at=datetime.now(UTC) - timedelta(hours=1)))

    page.goto("/reauthenticate?next=/account")
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    expect(page.get_by_label("Your password")).to_have_count(0)
    page.get_by_role("link", name="Sign in again with Corp").click()
    # the provider asks for a new sign-in (prompt=login), even though it still knows the person
    expect(page.locator("input[name=login]")).to_be_visible()
    page.locator("input[name=login]").fill("yara")
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    consent = page.get_by_role("button", name="Continue")
    page.wait_for_url(lambda url: url.startswith(site_url) or "/interaction/" in url)
    if "/interaction/" in page.url:
        consent.click()
    expect(page).to_have_url(f"{site_url}/account")
    session = page.request.get("/v1/session").json()
    assert session["username"] == "yara" and session["factors"] == ["social"]
    age = datetime.now(UTC) - datetime.fromisoformat(session["authenticated_at"].replace("Z", "+00:00"))
    assert age < timedelta(minutes=1)
