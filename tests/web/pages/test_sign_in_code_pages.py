"""The sign-in code on the pages: "Check your email" and /login-link/code, over plain HTTP and in
Chromium, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.live import LiveServer
from tests.waiting import wait_until
from tests.web.helpers import code_in, token_in
from tests.web.helpers import sign_up as api_sign_up
from tests.web.pages.conftest import PHONE, PHONE_UA, OpenPage
from tests.web.pages.forms import csrf_token, error_of, submit, value_of
from tests.web.pages.journeys import expect_signed_in
from tests.web.test_factors import enrol_totp, next_code

SECOND_STEP = re.compile(r"^/login/second-step\?challenge=([A-Za-z0-9_-]{43})$")


def new_email(client: httpx.Client, to: str, seen: set[int]) -> dict[str, str]:
    """The sign-in email to `to` that is not in `seen` (it is written just after the answer)."""
    found: list[dict[str, str]] = []

    def arrived() -> bool:
        found[:] = [
            e
            for e in client.get("/dev/mail.json").json()
            if e["to"] == to and "sign-in link" in e["subject"].lower() and e["id"] not in seen
        ]
        return bool(found)

    assert wait_until(arrived, timeout=10, interval=0.05), f"no new sign-in email to {to}"
    return found[0]


def mail_ids(client: httpx.Client) -> set[int]:
    return {int(e["id"]) for e in client.get("/dev/mail.json").json()}


def other(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_check_your_email_has_a_code_form_carrying_what_was_typed(pages_server: LiveServer) -> None:
    with pages_server.client() as browser:
        api_sign_up(browser, "cora")
        browser.post("/v1/logout")
        seen = mail_ids(browser)
        asked = submit(browser, "/login-link", "/login-link", user="Cora")
        assert asked.status_code == 200 and "Check your email" in asked.text
        assert re.search(r'<input type="hidden" name="user" value="Cora">', asked.text)
        assert 'autocomplete="one-time-code"' in asked.text and 'inputmode="numeric"' in asked.text
        code = code_in(new_email(browser, "cora@example.com", seen))
        token = csrf_token(asked.text, "/login-link/code")

        wrong = browser.post("/login-link/code", data={"csrf_token": token, "user": "Cora", "code": other(code)})
        assert wrong.status_code == 401
        assert "That code is not right" in (error_of(wrong.text, "code") or "")
        assert value_of(wrong.text, "user") == "Cora" and value_of(wrong.text, "code") == ""
        assert other(code) not in wrong.text
        assert "frontdesk-session" not in browser.cookies

        done = browser.post(
            "/login-link/code",
            data={"csrf_token": csrf_token(wrong.text, "/login-link/code"), "user": "Cora", "code": code},
        )
        assert done.status_code == 303 and done.headers["location"] == "/account"
        assert browser.cookies.get("frontdesk-session")
        assert browser.get("/v1/session").json()["username"] == "cora"


def test_the_code_page_checks_its_fields_and_its_token(pages_server: LiveServer) -> None:
    with pages_server.client() as browser:
        api_sign_up(browser, "dina")
        browser.post("/v1/logout")
        seen = mail_ids(browser)
        browser.post("/v1/login-link", json={"user": "dina"})
        email = new_email(browser, "dina@example.com", seen)
        code = code_in(email)
        empty = submit(browser, "/login-link/code", "/login-link/code", user="", code="")
        assert empty.status_code == 400
        assert error_of(empty.text, "user") and error_of(empty.text, "code")
        short = submit(browser, "/login-link/code", "/login-link/code", user="dina", code="12 34")
        assert short.status_code == 400 and "6 digits" in (error_of(short.text, "code") or "")
        forged = browser.post("/login-link/code", data={"csrf_token": "0" * 64, "user": "dina", "code": code})
        assert forged.status_code == 403 and "This form had expired" in forged.text
        # none of that used the grant: the code still signs in (typed with a space), and then the link is dead
        spaced = f"{code[:3]} {code[3:]}"
        done = submit(browser, "/login-link/code", "/login-link/code", user="dina@example.com", code=spaced)
        assert done.status_code == 303
        dead = browser.get(f"/login-link/confirm?token={token_in(email)}")
        assert dead.status_code == 400 and "has expired or was already used" in dead.text


def wait_for_code(page: Page, to: str) -> str:
    """The code of the newest sign-in email to `to`, read from the development mailbox page."""
    email = page.locator("article").filter(has_text=f"To {to}").filter(has_text="sign-in link")
    for _ in range(40):
        page.goto("/dev/mail")
        if email.count():
            break
        page.wait_for_timeout(250)
    expect(email.first).to_be_visible()
    match = re.search(r"^\s*([0-9]{6})\s*$", email.first.inner_text(), re.MULTILINE)
    assert match, "no code in the email"
    return match.group(1)


def test_ask_on_one_device_type_the_code_on_another(pages_server: LiveServer, open_page: OpenPage) -> None:
    with pages_server.client() as api:
        api_sign_up(api, "erik")
    phone = open_page(viewport=PHONE, user_agent=PHONE_UA)
    phone.goto("/login-link")
    phone.get_by_label("Username or email").fill("erik")
    phone.get_by_role("button", name="Email me a link").click()
    expect(phone.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(phone.get_by_label("Code from the email")).to_be_visible()

    laptop = open_page()  # another browser: reads the email, and signs in with its code
    code = wait_for_code(laptop, "erik@example.com")
    laptop.goto("/login-link")
    laptop.get_by_role("link", name="I have a code from a sign-in email").click()
    expect(laptop.get_by_role("heading", name="Sign in with a code")).to_be_visible()
    laptop.get_by_label("Username or email").fill("erik@example.com")
    laptop.get_by_label("Code from the email").fill(other(code))
    laptop.get_by_role("button", name="Sign in with the code").click()
    expect(laptop.get_by_role("alert")).to_contain_text("That code is not right")
    expect(laptop.get_by_label("Code from the email")).to_be_focused()
    expect(laptop.get_by_label("Username or email")).to_have_value("erik@example.com")
    laptop.get_by_label("Code from the email").fill(code)
    laptop.get_by_role("button", name="Sign in with the code").click()
    expect_signed_in(laptop, "erik")

    # the phone's "Check your email" page is for the same grant: its code is used up now
    phone.get_by_label("Code from the email").fill(code)
    phone.get_by_role("button", name="Sign in with the code").click()
    expect(phone.get_by_role("alert")).to_contain_text("That code is not right")


def test_a_code_for_a_user_with_a_second_factor_goes_on_to_the_second_step(pages_server: LiveServer) -> None:
    with pages_server.client() as api:
        api_sign_up(api, "fern")
        app, _ = enrol_totp(api)
    with pages_server.client() as browser:
        seen = mail_ids(browser)
        asked = submit(browser, "/login-link", "/login-link", user="fern")
        code = code_in(new_email(browser, "fern@example.com", seen))
        sent = browser.post(
            "/login-link/code",
            data={"csrf_token": csrf_token(asked.text, "/login-link/code"), "user": "fern", "code": code},
        )
        assert sent.status_code == 303, sent.text
        assert SECOND_STEP.match(sent.headers["location"]), sent.headers["location"]
        assert "frontdesk-session" not in browser.cookies
        step = browser.get(sent.headers["location"])
        challenge = SECOND_STEP.match(sent.headers["location"])
        assert challenge and step.status_code == 200
        done = browser.post(
            "/login/second-step",
            data={
                "csrf_token": csrf_token(step.text, "/login/second-step"),
                "challenge": challenge.group(1),
                "totp": next_code(app),
            },
        )
        assert done.status_code == 303 and done.headers["location"] == "/account"
        assert browser.get("/v1/session").json()["factors"] == ["email_link", "totp"]
