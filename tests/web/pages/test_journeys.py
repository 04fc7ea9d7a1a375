"""Whole journeys through the hosted pages in a real browser (Debian's Chromium), on both databases."""

from __future__ import annotations

import re
import time
from email.utils import parsedate_to_datetime

import httpx
from playwright.sync_api import Page, expect

from tests.live import LiveServer
from tests.web.helpers import sign_up as api_sign_up
from tests.web.pages.conftest import FIREFOX_UA, PHONE, PHONE_UA, OpenPage
from tests.web.pages.journeys import (
    NEW_PASSWORD,
    PASSWORD,
    expect_on_login,
    expect_signed_in,
    open_email_link,
    sign_in,
    sign_up,
)


def _create_user(server: LiveServer, username: str) -> None:
    with server.client() as api:
        api_sign_up(api, username)


def test_sign_up_then_confirm_from_the_mailbox_signs_you_in(open_page: OpenPage) -> None:
    page = open_page(viewport=PHONE, user_agent=PHONE_UA)
    sign_up(page, "alice")
    expect_signed_in(page, "alice")
    expect(page.get_by_role("status")).to_contain_text("Your email address is confirmed")
    this_device = page.locator("li.session").filter(has_text="This device")
    expect(this_device).to_have_count(1)
    expect(this_device).to_contain_text("Chrome Mobile on Android")
    expect(this_device).to_contain_text("127.0.0.1")
    # the confirmation link worked once: opening it again says so at once, and offers a new one
    open_email_link(page, "alice@example.com", "/signup/confirm")
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("has expired or was already used")
    expect(page.get_by_role("button", name="Confirm and sign in")).to_have_count(0)
    expect(page.get_by_role("link", name="Sign up again for a new link")).to_be_visible()


def test_a_session_revoked_on_the_account_page_is_signed_out_on_its_next_page(
    pages_server: LiveServer, open_page: OpenPage
) -> None:
    _create_user(pages_server, "bob")
    first = open_page()
    sign_in(first, "bob")
    expect_signed_in(first, "bob")
    second = open_page(user_agent=FIREFOX_UA)
    sign_in(second, "bob@example.com")
    expect_signed_in(second, "bob")

    first.goto("/account")
    firefox = first.locator("li.session").filter(has_text="Firefox on Windows")
    expect(firefox).to_have_count(1)
    firefox.get_by_role("button", name=re.compile("^Sign out")).click()
    expect(first.get_by_role("status")).to_contain_text("That session is signed out")
    expect(first.locator("li.session").filter(has_text="Firefox on Windows")).to_have_count(0)

    second.goto("/account")
    expect_on_login(second)
    assert "next=%2Faccount" in second.url

    # "sign out everywhere else" ends every other browser too, and keeps this one
    third = open_page(viewport=PHONE, user_agent=PHONE_UA)
    sign_in(third, "bob")
    expect_signed_in(third, "bob")
    first.goto("/account")
    first.get_by_role("button", name="Sign out everywhere else").click()
    expect(first.get_by_role("status")).to_contain_text("Every other browser is signed out")
    expect(first.locator("li.session")).to_have_count(1)
    third.reload()
    expect_on_login(third)


def test_forgot_password_then_email_then_new_password_ends_old_sessions(
    pages_server: LiveServer, open_page: OpenPage
) -> None:
    _create_user(pages_server, "carol")
    old = open_page()
    sign_in(old, "carol", remember=True)
    expect_signed_in(old, "carol")

    page = open_page(viewport=PHONE, user_agent=PHONE_UA)
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Username or email").fill("carol@example.com")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    open_email_link(page, "carol@example.com", "/reset-password")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save and sign in").click()
    expect(page).to_have_url(re.compile(r"/account\?notice=password-reset$"))
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")

    old.goto("/account")
    expect_on_login(old)
    sign_in(old, "carol", PASSWORD)
    expect(old.get_by_role("alert")).to_contain_text("not right")
    expect(old.get_by_label("Username or email")).to_have_value("carol")
    expect(old.get_by_label("Password", exact=True)).to_have_value("")
    sign_in(old, "carol", NEW_PASSWORD, path=None)
    expect_signed_in(old, "carol")


def test_magic_link_signs_in_and_opening_it_never_uses_it(pages_server: LiveServer, open_page: OpenPage) -> None:
    _create_user(pages_server, "dave")
    page = open_page()
    page.goto("/login")
    page.get_by_role("link", name="Email me a sign-in link instead").click()
    page.get_by_label("Username or email").fill("DAVE")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    open_email_link(page, "dave@example.com", "/login-link/confirm")
    link = page.url

    # mail scanners and link previews fetch the link: a GET alone must not use the token
    for _ in range(2):
        assert httpx.get(link, timeout=10).status_code == 200
    page.reload()
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect_signed_in(page, "dave")

    again = open_page()
    again.goto(link)  # used: said on opening, with the way to a new link
    expect(again.get_by_role("alert")).to_contain_text("has expired or was already used")
    expect(again.get_by_role("button", name="Sign in", exact=True)).to_have_count(0)
    again.get_by_role("link", name="Email me a new sign-in link").click()
    expect(again.get_by_role("heading", name="Sign in with a link")).to_be_visible()


def test_remember_this_browser_gives_a_persistent_cookie_and_unticked_a_session_one(
    pages_server: LiveServer, open_page: OpenPage
) -> None:
    _create_user(pages_server, "erin")
    remembered = open_page()
    with remembered.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login")) as login:
        sign_in(remembered, "erin", remember=True)
    expect_signed_in(remembered, "erin")
    set_cookies = [
        v for k, v in ((h["name"].lower(), h["value"]) for h in login.value.headers_array()) if k == "set-cookie"
    ]
    expiry = next(c for c in set_cookies if c.startswith("frontdesk-session=")).split("expires=")[1].split(";")[0]
    # the server asks for the session's whole life (730 days); Chromium keeps cookies at most 400 days
    assert parsedate_to_datetime(expiry).timestamp() > time.time() + 729 * 86400
    forgotten = open_page()
    sign_in(forgotten, "erin")
    expect_signed_in(forgotten, "erin")

    def cookies(page: Page) -> dict[str, dict[str, object]]:
        return {c["name"]: dict(c) for c in page.context.cookies()}

    kept = cookies(remembered)
    for name in ("frontdesk-session", "frontdesk-user-id"):
        assert float(kept[name]["expires"]) > time.time() + 399 * 86400, name  # type: ignore[arg-type]
    assert kept["frontdesk-session"]["httpOnly"] is True
    assert kept["frontdesk-session"]["sameSite"] == "Lax"
    assert kept["frontdesk-user-id"]["httpOnly"] is False

    session_only = cookies(forgotten)
    for name in ("frontdesk-session", "frontdesk-user-id"):
        assert session_only[name]["expires"] == -1, name  # a browser-session cookie
    expect(remembered.locator("li.session.current")).to_contain_text("yes, until")
    expect(forgotten.locator("li.session.current")).to_contain_text("ends when the browser closes")


def test_sign_in_returns_to_next_but_never_to_another_site(pages_server: LiveServer, open_page: OpenPage) -> None:
    _create_user(pages_server, "fay")
    page = open_page()
    page.goto("/account?notice=others-revoked")
    expect_on_login(page)
    sign_in(page, "fay", path=None)
    expect(page).to_have_url(re.compile(r"/account\?notice=others-revoked$"))

    elsewhere = open_page()
    sign_in(elsewhere, "fay", path="/login?next=https://evil.example/steal")
    expect(elsewhere).to_have_url(re.compile(r"/account$"))


def test_field_errors_sit_next_to_their_field_and_keep_what_was_typed(open_page: OpenPage) -> None:
    page = open_page()
    page.goto("/signup")
    page.get_by_label("Your name").fill("Gus <b>G</b>")
    page.get_by_label("Email address").fill("not-an-email")
    page.get_by_label("Username", exact=True).fill("gus")
    page.get_by_label("Password", exact=True).fill("correct horse battery staple")
    page.get_by_role("button", name="Create account").click()

    email = page.get_by_label("Email address")
    expect(page.get_by_role("alert")).to_contain_text("not a valid email address")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_be_focused()
    described = email.get_attribute("aria-describedby") or ""
    error_id = next(part for part in described.split() if part.endswith("-error"))
    expect(page.locator(f"#{error_id}")).to_contain_text("not a valid email address")
    expect(email).to_have_value("not-an-email")
    expect(page.get_by_label("Your name")).to_have_value("Gus <b>G</b>")  # kept, and escaped
    expect(page.get_by_label("Password", exact=True)).to_have_value("")  # never sent back


def test_keyboard_focus_follows_the_page_order(open_page: OpenPage) -> None:
    page = open_page()
    page.goto("/login")
    order = []
    for _ in range(9):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => { const e = document.activeElement; return e.id || e.textContent.trim(); }"))
    assert order == [
        "Skip to main content",
        "frontdesk",
        "user",
        "password",
        "remember_device",
        "Sign in",
        "Sign in with a passkey",
        "Forgot your password?",
        "Email me a sign-in link instead",
    ]
