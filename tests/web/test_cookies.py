"""The login cookies exactly as the contract says, and cookie vs bearer credentials, through a real server."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest

from tests.live import LiveServer
from tests.web.helpers import (
    BACKENDS,
    STRICT_PUBLIC_URL,
    SetCookie,
    bearer,
    cookie,
    create_api_key,
    error_code,
    latest_email,
    log_in,
    make_account,
    set_cookies,
    shared_server,
    signed_in,
    token_in,
    unique,
    utc_time,
)

SESSION, USER_ID, DEVICE = "frontdesk-session", "frontdesk-user-id", "frontdesk-device"


def check_login_cookies(response: httpx.Response, *, secure: bool) -> str:
    """Both cookies as the contract says; returns the session token."""
    assert response.status_code == 200, response.text
    body = response.json()
    cookies = set_cookies(response)
    assert set(cookies) == {SESSION, USER_ID, DEVICE}
    check_device_cookie(cookies[DEVICE], secure=secure)
    session, user_id = cookies[SESSION], cookies[USER_ID]
    assert user_id.value == str(body["user_id"])
    assert len(session.value) >= 40
    expiry: datetime | None = utc_time(body["session"]["expiry"]) if body["session"]["long_lived"] else None
    for each in (session, user_id):
        attributes = each.attributes
        assert attributes.get("path") == "/"
        assert attributes.get("samesite", "").lower() == "lax"
        assert ("secure" in attributes) is secure, attributes
        assert "max-age" not in attributes and "domain" not in attributes
        if expiry is None:
            assert "expires" not in attributes, "a short-lived session's cookie must end with the browser"
        else:
            assert each.expires == expiry.replace(microsecond=0), "Expires is not the session's expiry"
    assert "httponly" in session.attributes, "the session cookie must be HttpOnly"
    assert "httponly" not in user_id.attributes, "the user id cookie is for scripts to read"
    return session.value


def check_device_cookie(device: SetCookie, *, secure: bool) -> None:
    """The device cookie: signed, HttpOnly, 400 days whatever the session's lifetime."""
    assert device.value.startswith("1.") and len(device.value.split(".")) == 4
    assert device.attributes.get("max-age") == str(400 * 86400)
    assert "httponly" in device.attributes and device.attributes.get("path") == "/"
    assert device.attributes.get("samesite", "").lower() == "lax"
    assert ("secure" in device.attributes) is secure


def check_cleared(response: httpx.Response, *, secure: bool) -> None:
    cookies = set_cookies(response)
    assert set(cookies) == {SESSION, USER_ID}
    for each in cookies.values():
        assert each.value == "" and each.attributes.get("max-age") == "0"
        assert each.attributes.get("path") == "/"
        assert ("secure" in each.attributes) is secure


def test_short_session_cookies_end_with_the_browser(server: LiveServer) -> None:
    account = make_account(server)
    with server.client() as browser:
        response = log_in(browser, account.username)
        token = check_login_cookies(response, secure=False)
        assert response.json()["session"]["long_lived"] is False
        assert browser.get("/v1/verify").headers["x-frontdesk-session-id"] == str(response.json()["session"]["id"])
        assert token == browser.cookies[SESSION]


def test_remembered_session_cookies_expire_with_the_session(server: LiveServer) -> None:
    account = make_account(server)
    with server.client() as browser:
        response = log_in(browser, account.username, remember=True)
        check_login_cookies(response, secure=False)
        assert response.json()["session"]["long_lived"] is True
        expires = set_cookies(response)[SESSION].expires
        assert expires is not None
        lifetime = expires - parsedate_to_datetime(response.headers["date"])
        assert abs(lifetime - timedelta(days=730)) < timedelta(seconds=10), "the default is 730 days"


def test_logout_clears_both_cookies_and_keeps_the_device_cookie(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser:
        device = browser.cookies[DEVICE]
        response = browser.post("/v1/logout")
        assert response.status_code == 204
        check_cleared(response, secure=False)
        assert SESSION not in browser.cookies and USER_ID not in browser.cookies
        assert browser.cookies[DEVICE] == device
    with server.client() as anonymous:
        check_cleared(anonymous.post("/v1/logout"), secure=False)


def test_every_sign_in_sets_the_cookies(server: LiveServer) -> None:
    username = unique("cookie")
    email = f"{username}@example.com"
    with server.client() as browser:
        body = {"email": email, "username": username, "password": "a fine passphrase", "name": "C"}
        assert browser.post("/v1/signup", json=body).status_code == 202
        signup = browser.post("/v1/signup/confirm", json={"token": token_in(latest_email(browser, email, "confirm"))})
        check_login_cookies(signup, secure=False)
        assert signup.json()["session"]["long_lived"] is False

        assert browser.post("/v1/login-link", json={"user": username}).status_code == 202
        link = token_in(latest_email(browser, email, "sign-in link"))
        by_link = browser.post("/v1/login-link/confirm", json={"token": link, "remember_device": True})
        check_login_cookies(by_link, secure=False)
        assert by_link.json()["session"]["long_lived"] is True

        assert browser.post("/v1/password-reset", json={"user": username}).status_code == 202
        reset = token_in(latest_email(browser, email, "reset"))
        by_reset = browser.post("/v1/password-reset/confirm", json={"token": reset, "new_password": "new passphrase!"})
        check_login_cookies(by_reset, secure=False)
        assert by_reset.json()["session"]["long_lived"] is False


@pytest.mark.parametrize("backend", BACKENDS)
def test_cookies_are_secure_behind_an_https_public_url(request: pytest.FixtureRequest, backend: str) -> None:
    strict = shared_server(request, backend, "strict")
    account = make_account(strict)
    with strict.client(headers={"Origin": STRICT_PUBLIC_URL}) as browser:
        for remember in (False, True):
            token = check_login_cookies(log_in(browser, account.username, remember=remember), secure=True)
        # a browser would not send a Secure cookie over http; send it by hand to log out
        logout = browser.post("/v1/logout", headers=cookie(token))
        assert logout.status_code == 204
        check_cleared(logout, secure=True)
        assert browser.get("/v1/verify", headers=cookie(token)).status_code == 401


# --- cookie vs bearer ---------------------------------------------------------------------------


def test_cookie_tokens_and_api_keys_do_not_cross(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser:
        cookie_token = browser.cookies[SESSION]
        api_key = str(create_api_key(browser, account)["token"])
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/v1/verify", headers=bearer(api_key)).status_code == 200
        assert client.get("/v1/verify", headers=cookie(cookie_token)).status_code == 200
        assert client.get("/v1/verify", headers=bearer(cookie_token)).status_code == 401
        assert client.get("/v1/verify", headers=cookie(api_key)).status_code == 401
        response = client.get("/v1/sessions", headers=bearer(cookie_token))
        assert error_code(response, 401) == "unauthenticated"
        assert client.get("/v1/session", headers=cookie(api_key)).json() == {"logged_in": False}
        for header in (f"Basic {api_key}", f"bearer {api_key} extra", "Bearer", f"Token {api_key}"):
            assert error_code(client.get("/v1/sessions", headers={"Authorization": header}), 401) == "unauthenticated"
        lower = client.get("/v1/verify", headers={"Authorization": f"bearer {api_key}"})
        assert lower.status_code == 200, "the scheme is case-insensitive (RFC 9110)"


@pytest.mark.parametrize("path", ["/v1/verify", "/v1/session", "/v1/sessions"])
def test_cookie_and_authorization_together_are_ambiguous(server: LiveServer, path: str) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser:
        cookie_token = browser.cookies[SESSION]
        api_key = str(create_api_key(browser, account)["token"])
    with httpx.Client(base_url=server.url) as client:
        for header in (bearer(api_key), bearer(cookie_token), {"Authorization": "Basic Zm9vOmJhcg=="}):
            response = client.get(path, headers={**header, **cookie(cookie_token)})
            assert error_code(response, 401) == "ambiguous_credentials"
