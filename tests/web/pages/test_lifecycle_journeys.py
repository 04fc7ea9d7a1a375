"""Account lifecycle in a real browser (Chromium), with email through a real SMTP server: changing
the email address through both inboxes and undoing it; deleting the account and restoring it.
On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user
from frontdesk.service.context import RequestContext
from tests.databases import BACKENDS, empty_database
from tests.fast import fast_settings
from tests.live import LiveServer, free_port, start_server
from tests.mail.conftest import Collector, SmtpServer
from tests.waiting import wait_until
from tests.web.helpers import unique
from tests.web.pages.conftest import LAPTOP, LAPTOP_UA, PHONE, PHONE_UA, TIMEOUT_MS
from tests.web.pages.journeys import PASSWORD, expect_on_login, expect_signed_in, sign_in


class Rig:
    """A server whose mail goes over SMTP to a collector, and the library on its database."""

    def __init__(self, server: LiveServer, smtp: SmtpServer, fd: Frontdesk) -> None:
        self.server, self.smtp, self.fd = server, smtp, fd

    def account(self) -> tuple[str, str]:
        username = unique("lc")
        email = f"{username}@example.com"
        ctx = RequestContext(ip_address="192.0.2.1", user_agent="tests")
        self.fd.call(create_user, email=email, username=username, password=PASSWORD, name=username, ctx=ctx)
        return username, email

    def link(self, to: str, path: str) -> str:
        """The newest link to `path` in an email delivered over SMTP to `to` (waiting for the sender)."""
        pattern = re.compile(re.escape(self.server.url) + re.escape(path) + r"\?token=[A-Za-z0-9_\-]+")
        found: list[str] = []

        def look() -> bool:
            for message in reversed(self.smtp.messages()):
                if message["To"] == to:
                    match = pattern.search(_text(message))
                    if match:
                        found.append(match.group(0))
                        return True
            return False

        assert wait_until(look, timeout=20, interval=0.1), f"no email to {to} with a link to {path}"
        return found[0]


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


@pytest.fixture(scope="module", params=BACKENDS)
def rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    url: str = request.getfixturevalue(f"{request.param}_database_url")
    empty_database(url)
    smtp = SmtpServer(free_port(), Collector()).start()
    server = _start(url, tmp_path_factory, smtp)
    fd = Frontdesk(fast_settings(url))
    yield Rig(server, smtp, fd)
    fd.close()
    server.stop()
    smtp.stop()


def _start(url: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> LiveServer:
    """The server; a second try when the first start is too slow (the test machine may be busy)."""
    for attempt in range(2):
        try:
            return start_server(
                url, Path(tmp_path_factory.mktemp("lifecycle")), extra_env={"FRONTDESK_SMTP_URL": smtp.url()}
            )
        except RuntimeError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def browser_page(browser: Browser, rig: Rig, *, phone: bool = False) -> Page:
    context = browser.new_context(
        base_url=rig.server.url, viewport=PHONE if phone else LAPTOP, user_agent=PHONE_UA if phone else LAPTOP_UA
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def test_change_email_through_both_inboxes_then_undo(browser: Browser, rig: Rig) -> None:
    username, old = rig.account()
    new = f"new.{username}@example.com"
    page = browser_page(browser, rig)
    sign_in(page, username)
    expect_signed_in(page, username)
    page.get_by_label("New email address").fill(new)
    page.get_by_role("button", name="Change email").click()
    expect(page).to_have_url(re.compile(r"/account\?notice=email-change-sent$"))
    expect(page.get_by_role("status")).to_contain_text("Check the inbox of your new address")

    # the new inbox, opened on a phone that is not signed in
    phone = browser_page(browser, rig, phone=True)
    phone.goto(rig.link(new, "/email/confirm"))
    phone.get_by_role("button", name="Confirm new email address").click()
    expect(phone.get_by_role("heading", name="Email address changed")).to_be_visible()
    expect(phone.get_by_role("status")).to_contain_text(new)

    # the old inbox: "this wasn't me"
    undo = browser_page(browser, rig)
    undo.goto(rig.link(old, "/email/revert"))
    undo.get_by_role("button", name=re.compile("Undo the change")).click()
    expect(undo.get_by_role("heading", name="Email change undone")).to_be_visible()
    page.goto("/account")  # every session ended, this browser's too
    expect_on_login(page)
    undo.goto(rig.link(old, "/reset-password"))  # the reset link reached the old inbox
    expect(undo.get_by_role("heading", name="Choose a new password")).to_be_visible()
    sign_in(undo, old)  # the old address signs in again, with the same password
    expect_signed_in(undo, username)
    undo.context.close()
    phone.context.close()
    page.context.close()


def test_delete_then_restore_from_the_email(browser: Browser, rig: Rig) -> None:
    username, email = rig.account()
    page = browser_page(browser, rig)
    sign_in(page, username)
    expect_signed_in(page, username)
    page.get_by_role("button", name="Delete my account").click()  # without the box ticked
    expect(page.get_by_role("link", name=re.compile("Tick the box to confirm"))).to_be_visible()
    page.get_by_label("Yes, delete my account").check()
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Your account is deleted")).to_be_visible()
    sign_in(page, username)
    expect(page.get_by_role("alert")).to_be_visible()  # refused, like a wrong password
    page.goto(rig.link(email, "/account/restore"))
    page.get_by_role("button", name="Restore my account").click()
    expect(page).to_have_url(re.compile(r"/account\?notice=restored$"))
    expect_signed_in(page, username)
    page.context.close()
