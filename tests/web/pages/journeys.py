"""Steps that browser tests share: signing up, signing in, opening a link from the dev mailbox."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a completely different phrase"
MAILBOX_RELOADS = 40


def open_email_link(page: Page, to: str, path: str) -> None:
    """Open the development mailbox and follow the newest link to `path` in an email to `to`.

    Some emails are written after the response that asked for them (sign-in links and resets do their
    lookup then, so both answers cost the same), so the mailbox is reloaded until the email is there:
    at most MAILBOX_RELOADS times, a quarter of a second apart.
    """
    email = page.locator("article").filter(has_text=f"To {to}").filter(has=page.locator(f"a[href*='{path}?']"))
    for _ in range(MAILBOX_RELOADS):
        page.goto("/dev/mail")
        if email.count():
            break
        page.wait_for_timeout(250)
    expect(email.first).to_be_visible()
    email.first.locator(f"a[href*='{path}?']").first.click()
    expect(page).to_have_url(re.compile(re.escape(path) + r"\?token="))


def sign_up(page: Page, username: str, password: str = PASSWORD) -> str:
    """Sign up through the pages and confirm from the mailbox; the page ends on /account, signed in."""
    email = f"{username}@example.com"
    page.goto("/signup")
    page.get_by_label("Your name").fill(username.title())
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    open_email_link(page, email, "/signup/confirm")
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page).to_have_url(re.compile(r"/account\?notice=welcome$"))
    return email


def sign_in(
    page: Page, user: str, password: str = PASSWORD, *, remember: bool = False, path: str | None = "/login"
) -> None:
    """Fill in and send the sign-in form (at `path`, or on the page already open when None)."""
    if path is not None:
        page.goto(path)
    page.get_by_label("Username or email").fill(user)
    page.get_by_label("Password", exact=True).fill(password)
    if remember:
        page.get_by_label("Remember this browser").check()
    page.get_by_role("button", name="Sign in", exact=True).click()


def expect_signed_in(page: Page, username: str) -> None:
    expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Your account")).to_contain_text(username)


def expect_on_login(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/login(\?|$)"))
    expect(page.get_by_role("heading", name=re.compile("^Sign in to"))).to_be_visible()
