"""Every page at phone and laptop width: a screenshot for the docs, and an axe-core accessibility check.

Screenshots are docs/screenshots/<page>-<phone|laptop>.png (committed; the README links them);
refresh them with `FRONTDESK_SCREENSHOTS=1 .venv/bin/python -m pytest tests/web/pages/test_look.py`.
axe-core is vendored from the npm package (tests/web/pages/vendor/axe.min.js, MPL-2.0), so no
network is needed. Serious and critical violations fail the test; the rest are listed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.live import LiveServer, start_server
from tests.web.helpers import latest_email, log_in, token_in
from tests.web.helpers import sign_up as api_sign_up
from tests.web.pages.conftest import (
    FIREFOX_UA,
    LAPTOP,
    LAPTOP_UA,
    PHONE,
    PHONE_UA,
    OpenPage,
)
from tests.web.pages.journeys import PASSWORD

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
# Every run takes the screenshots; FRONTDESK_SCREENSHOTS=1 saves them over the committed ones in
# docs/screenshots (otherwise they go to the test's temporary folder, so a run leaves the tree clean).
UPDATE_DOCS = os.environ.get("FRONTDESK_SCREENSHOTS") == "1"


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = DOCS_SCREENSHOTS if UPDATE_DOCS else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


AXE = Path(__file__).with_name("vendor") / "axe.min.js"
FAILING_IMPACTS = {"serious", "critical"}
WIDTHS = {"phone": (PHONE, PHONE_UA), "laptop": (LAPTOP, LAPTOP_UA)}


def run_axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (WCAG 2.x A/AA and best practices)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text("utf-8"))
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> list[str]:
    return [f"{v['impact']}: {v['id']} ({v['help']}) at {[n['target'] for n in v['nodes']][:3]}" for v in violations]


class Tokens:
    """Unused tokens for the pages behind email links (opening those pages never uses them)."""

    def __init__(self, server: LiveServer) -> None:
        with server.client() as api:
            api.post(
                "/v1/signup",
                json={"email": "new@example.com", "username": "newcomer", "password": PASSWORD, "name": "New"},
            )
            self.signup = token_in(latest_email(api, "new@example.com", "confirm"))
            api.post("/v1/login-link", json={"user": "alice"})
            self.login_link = token_in(latest_email(api, "alice@example.com", "sign-in link"))
            api.post("/v1/password-reset", json={"user": "alice"})
            self.reset = token_in(latest_email(api, "alice@example.com", "reset"))
        with server.client() as bob:  # the lifecycle links: bob changes his email, carol deletes her account
            api_sign_up(bob, "bob")
            assert bob.post("/v1/email", json={"new_email": "robert@example.com"}).status_code == 202
            first = token_in(latest_email(bob, "robert@example.com", "confirm your new email"))
            changed = bob.post("/v1/email/confirm", json={"token": first})
            assert changed.status_code == 200, changed.text
            self.email_revert = token_in(latest_email(bob, "bob@example.com", "was changed"))
            assert bob.post("/v1/email", json={"new_email": "bobby@example.com"}).status_code == 202
            self.email_confirm = token_in(latest_email(bob, "bobby@example.com", "confirm your new email"))
        with server.client() as carol:
            api_sign_up(carol, "carol")
            assert carol.request("DELETE", "/v1/account", json={"confirm": True}).status_code == 202
            self.restore = token_in(latest_email(carol, "carol@example.com", "restore"))


def _prepare(server: LiveServer) -> Tokens:
    """alice, signed in from a second browser (Firefox on Windows), with one API key."""
    with server.client() as api:
        api_sign_up(api, "alice")
        api.post("/v1/logout")  # leaves the account page with the two browsers below
    with server.client(headers={"User-Agent": FIREFOX_UA}) as firefox:
        assert log_in(firefox, "alice", remember=True).status_code == 200
        key = firefox.post("/v1/api-keys", json={"password": PASSWORD, "name": "backup script", "expiry_days": 90})
        assert key.status_code == 201, key.text
        used = httpx.get(f"{server.url}/v1/verify", headers={"Authorization": f"Bearer {key.json()['token']}"})
        assert used.status_code == 200
    return Tokens(server)


def _sign_in(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Username or email").fill("alice")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()


def _pages(tokens: Tokens) -> list[tuple[str, Callable[[Page], None]]]:
    """(name, steps that bring a page to the state photographed), signed out first, then signed in."""

    def go(path: str) -> Callable[[Page], None]:
        def steps(page: Page) -> None:
            page.goto(path)

        return steps

    def login_error(page: Page) -> None:
        page.goto("/login")
        page.get_by_label("Username or email").fill("alice")
        page.get_by_label("Password", exact=True).fill("not my password")
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("alert")).to_be_visible()

    def signup_errors(page: Page) -> None:
        page.goto("/signup")
        page.get_by_label("Your name").fill("Bea")
        page.get_by_label("Email address").fill("bea@example")
        page.get_by_label("Username", exact=True).fill("b")
        page.get_by_label("Password", exact=True).fill("short")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("alert")).to_be_visible()

    def check_email(page: Page) -> None:
        page.goto("/forgot-password")
        page.get_by_label("Username or email").fill("someone")
        page.get_by_role("button", name="Email me a link").click()
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    def check_email_for_a_link(page: Page) -> None:
        page.goto("/login-link")
        page.get_by_label("Username or email").fill("alice")
        page.get_by_role("button", name="Email me a link").click()
        expect(page.get_by_label("Code from the email")).to_be_visible()

    def wrong_code(page: Page) -> None:
        page.goto("/login-link/code")
        page.get_by_label("Username or email").fill("alice")
        page.get_by_label("Code from the email").fill("000000")
        page.get_by_role("button", name="Sign in with the code").click()
        expect(page.get_by_role("alert")).to_be_visible()

    def new_api_key(page: Page) -> None:
        page.goto("/account")
        page.get_by_text("Create an API key").click()
        page.get_by_label("Name", exact=True).fill("deploy bot")
        page.get_by_label("Your password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Create key").click()
        expect(page.get_by_label("API key", exact=True)).to_be_visible()

    return [
        ("login", go("/login")),
        ("login-error", login_error),
        ("signup", go("/signup")),
        ("signup-errors", signup_errors),
        ("check-email", check_email),
        ("signup-confirm", go(f"/signup/confirm?token={tokens.signup}")),
        ("login-link", go("/login-link")),
        ("login-link-confirm", go(f"/login-link/confirm?token={tokens.login_link}")),
        ("login-link-sent", check_email_for_a_link),
        ("login-code", go("/login-link/code")),
        ("login-code-wrong", wrong_code),
        ("forgot-password", go("/forgot-password")),
        ("reset-password", go(f"/reset-password?token={tokens.reset}")),
        ("link-expired", go("/reset-password?token=used-or-expired-token-AAAAAAAAAAAAAAAAAAAAAAA")),
        ("email-confirm", go(f"/email/confirm?token={tokens.email_confirm}")),
        ("email-revert", go(f"/email/revert?token={tokens.email_revert}")),
        ("account-restore", go(f"/account/restore?token={tokens.restore}")),
        ("sign-in", _sign_in),  # not photographed: signs the browser in for the pages below
        ("account", go("/account")),
        ("account-new-api-key", new_api_key),
        ("logout", go("/logout")),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_every_page_photographed_and_without_serious_accessibility_problems(
    sqlite_server: LiveServer, open_sqlite_page: OpenPage, width: str, screenshots: Path
) -> None:
    tokens = _prepare(sqlite_server)
    viewport, user_agent = WIDTHS[width]
    page = open_sqlite_page(viewport=viewport, user_agent=user_agent, bypass_csp=True)
    failures: dict[str, list[str]] = {}
    minor: dict[str, list[str]] = {}
    for name, steps in _pages(tokens):
        steps(page)
        if name == "sign-in":
            continue
        page.screenshot(path=str(screenshots / f"{name}-{width}.png"), full_page=True)
        violations = run_axe(page)
        bad = [v for v in violations if v["impact"] in FAILING_IMPACTS]
        if bad:
            failures[name] = describe(bad)
        if len(bad) < len(violations):
            minor[name] = describe([v for v in violations if v not in bad])
    assert not failures, f"axe-core: {failures}"
    assert not minor, f"axe-core (moderate/minor): {minor}"


@pytest.mark.slow
def test_a_deployers_colours_stay_readable(
    browser: Any, tmp_path: Path, sqlite_database_url: str, screenshots: Path
) -> None:
    """A pale brand colour on a dark background: text colours adapt, axe finds no contrast problem."""
    from tests.databases import empty_database

    empty_database(sqlite_database_url)
    env = {
        "FRONTDESK_PRODUCT_NAME": "Acme Cloud",
        "FRONTDESK_BRAND_COLOR": "#ffd23f",
        "FRONTDESK_BRAND_BACKGROUND": "#1f2433",
    }
    server = start_server(sqlite_database_url, tmp_path, extra_env=env)
    try:
        context = browser.new_context(base_url=server.url, viewport=LAPTOP, bypass_csp=True)
        page = context.new_page()
        page.goto("/login")
        expect(page).to_have_title("Sign in · Acme Cloud")
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Acme Cloud")
        page.screenshot(path=str(screenshots / "login-custom-brand-laptop.png"), full_page=True)
        violations = run_axe(page)
        assert violations == [], describe(violations)
        context.close()
    finally:
        server.stop()
