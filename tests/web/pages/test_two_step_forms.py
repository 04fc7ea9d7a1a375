"""The two-step pages driven without a browser (forms posted with their CSRF tokens), on both
databases: every first-factor page goes on to the second step, a reset's new password waits for
it, and bad input to every new form is a clear 4xx that changes nothing."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp

from tests.live import LiveServer
from tests.service.authenticator import SoftAuthenticator
from tests.web.helpers import latest_email, log_in, token_in, unique
from tests.web.helpers import sign_up as api_sign_up
from tests.web.pages.forms import csrf_token, submit
from tests.web.pages.journeys import NEW_PASSWORD, PASSWORD
from tests.web.test_factors import enrol_totp, next_code, register_key

SECOND_STEP = re.compile(r"^/login/second-step\?challenge=([A-Za-z0-9_-]{43})(&next=.*)?$")


def _user_with_app(server: LiveServer) -> tuple[str, pyotp.TOTP, list[str]]:
    username = unique("fm")
    with server.client() as api:
        api_sign_up(api, username)
        app, codes = enrol_totp(api)
    return username, app, codes


def _challenge_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    match = SECOND_STEP.match(response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def test_a_sign_in_link_goes_on_to_the_second_step(pages_server: LiveServer) -> None:
    username, app, _ = _user_with_app(pages_server)
    with pages_server.client() as browser:
        browser.post("/v1/login-link", json={"user": username})
        token = token_in(latest_email(browser, f"{username}@example.com", "sign-in link"))
        sent = submit(browser, f"/login-link/confirm?token={token}", "/login-link/confirm", token=token)
        challenge = _challenge_of(sent)
        assert "frontdesk-session" not in browser.cookies
        step = browser.get(sent.headers["location"])
        assert step.status_code == 200 and "Code from your authenticator app" in step.text
        # an app only: no security key, so no script on this page
        assert "<script" not in step.text and "script-src" not in step.headers["content-security-policy"]
        done = browser.post(
            "/login/second-step",
            data={
                "csrf_token": csrf_token(step.text, "/login/second-step"),
                "challenge": challenge,
                "totp": next_code(app),
            },
        )
        assert done.status_code == 303 and done.headers["location"] == "/account"
        assert browser.get("/v1/session").json()["aal"] == 2


def test_a_reset_password_applies_only_after_the_second_step(pages_server: LiveServer) -> None:
    username, _, codes = _user_with_app(pages_server)
    with pages_server.client() as browser:
        browser.post("/v1/password-reset", json={"user": username})
        token = token_in(latest_email(browser, f"{username}@example.com", "reset"))
        sent = submit(
            browser, f"/reset-password?token={token}", "/reset-password", token=token, new_password=NEW_PASSWORD
        )
        challenge = _challenge_of(sent)
        assert parse_qs(urlsplit(sent.headers["location"]).query)["next"] == ["/account?notice=password-reset"]
        with pages_server.client() as other:
            assert log_in(other, username, PASSWORD).status_code == 202  # not yet changed
            assert log_in(other, username, NEW_PASSWORD).status_code == 401
        step = browser.get(sent.headers["location"])
        done = browser.post(
            "/login/second-step",
            data={
                "csrf_token": csrf_token(step.text, "/login/second-step"),
                "challenge": challenge,
                "next": "/account?notice=password-reset",
                "recovery_code": codes[0],
            },
        )
        assert done.status_code == 303 and done.headers["location"] == "/account?notice=password-reset"
        with pages_server.client() as other:
            assert log_in(other, username, NEW_PASSWORD).status_code == 202
            assert log_in(other, username, PASSWORD).status_code == 401


def test_bad_second_steps_are_refused_and_use_nothing(pages_server: LiveServer) -> None:
    username, app, _ = _user_with_app(pages_server)
    with pages_server.client() as browser:
        for query in ("", "?challenge=", "?challenge=not-a-challenge", "?challenge=" + "A" * 5000):
            dead = browser.get("/login/second-step" + query)
            assert dead.status_code == 400 and "This sign-in step has expired" in dead.text
        sent = submit(browser, "/login", "/login", user=username, password=PASSWORD)
        challenge = _challenge_of(sent)
        step = browser.get(sent.headers["location"])
        token = csrf_token(step.text, "/login/second-step")
        base = {"challenge": challenge}
        cases = [
            ({"csrf_token": "0" * 64, "totp": next_code(app)}, 403, "This form had expired"),
            ({"csrf_token": token}, 400, "Type the code, or use your security key"),
            ({"csrf_token": token, "totp": "  "}, 400, "Type the code."),
            ({"csrf_token": token, "credential": "{not json"}, 400, "Type the code, or use your security key"),
            ({"csrf_token": token, "credential": "[1, 2]"}, 400, "Type the code, or use your security key"),
        ]
        for fields, status, message in cases:
            answer = browser.post("/login/second-step", data={**base, **fields})
            assert answer.status_code == status, (fields, answer.text)
            assert message in answer.text
        # none of those counted as an attempt or used the challenge: the right code still works
        done = browser.post("/login/second-step", data={**base, "csrf_token": token, "totp": next_code(app)})
        assert done.status_code == 303 and done.headers["location"] == "/account"


def test_key_and_passkey_forms_without_a_browser_answer_change_nothing(pages_server: LiveServer) -> None:
    username = unique("fk")
    with pages_server.client() as browser:
        api_sign_up(browser, username)
        account = browser.get("/account").text
        token = csrf_token(account, "/account/two-step/keys")
        cases = [
            ({"name": "k"}, 400, "needs JavaScript"),
            ({"name": "k", "credential": "{}"}, 400, "could not be verified"),
            ({"name": "", "credential": "{}"}, 400, "Name it"),
            ({"name": "k" * 101, "credential": "{}"}, 400, "1 to 100 characters"),
        ]
        for fields, status, message in cases:
            answer = browser.post("/account/two-step/keys", data={"csrf_token": token, **fields})
            assert answer.status_code == status, (fields, answer.text)
            assert message in answer.text
        assert browser.get("/v1/second-factors").json() == {"totp": False, "webauthn": [], "recovery_codes_left": 0}
        # and the account page's script and policy are in place for the real thing
        page = browser.get("/account")
        assert "script-src 'self'; connect-src 'self';" in page.headers["content-security-policy"]
        assert 'data-webauthn="create" data-options="/v1/webauthn/registration-options"' in page.text
        # a key registered elsewhere signs in as a second step through the page, from its answer
        key, _ = register_key(browser, pages_server, "soft key")
        browser.post("/v1/logout")
    with pages_server.client() as browser:
        sent = submit(browser, "/login", "/login", user=username, password=PASSWORD)
        challenge = _challenge_of(sent)
        step = browser.get(sent.headers["location"])
        assert "Use your security key or passkey" in step.text
        options = browser.post("/v1/webauthn/authentication-options", json={"challenge": challenge}).json()["options"]
        done = browser.post(
            "/login/second-step",
            data={
                "csrf_token": csrf_token(step.text, "/login/second-step"),
                "challenge": challenge,
                "credential": json.dumps(key.assertion(options)),
            },
        )
        assert done.status_code == 303, done.text
        assert browser.get("/v1/session").json()["factors"] == ["password", "webauthn"]


def test_passkey_sign_in_without_an_answer_or_with_a_stranger_is_refused(pages_server: LiveServer) -> None:
    with pages_server.client() as browser:
        login = browser.get("/login").text
        token = csrf_token(login, "/login/passkey")
        missing = browser.post("/login/passkey", data={"csrf_token": token})
        assert missing.status_code == 400 and "needs JavaScript" in missing.text
        stranger = SoftAuthenticator(origin=pages_server.url)
        options = browser.post("/v1/webauthn/authentication-options", json={}).json()["options"]
        answer = json.dumps(stranger.assertion(options))
        refused = browser.post("/login/passkey", data={"csrf_token": token, "credential": answer})
        assert refused.status_code == 401 and "That passkey is not registered here" in refused.text
        assert "frontdesk-session" not in browser.cookies
