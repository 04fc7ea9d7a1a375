"""CSRF (contract section 4) through a real server: Origin, Referer, Sec-Fetch-Site, bearer exemption, login CSRF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from frontdesk.settings import Settings
from frontdesk.web.app import create_app
from tests.live import LiveServer
from tests.web.helpers import (
    ALLOWED_ORIGIN,
    FOREIGN_ORIGIN,
    Account,
    asgi_request,
    bearer,
    cookie,
    create_api_key,
    error_code,
    latest_email,
    make_account,
    signed_in,
    unique,
)


@pytest.fixture
def account(server: LiveServer) -> Account:
    return make_account(server)


@pytest.fixture
def raw(server: LiveServer) -> Iterator[httpx.Client]:
    """A client that sends no Origin of its own: each test sets exactly the headers it checks."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def two_sessions(server: LiveServer, account: Account) -> tuple[str, str]:
    """Tokens of two fresh cookie sessions of `account`: (the one acting, the other)."""
    tokens = []
    for _ in range(2):
        with signed_in(server, account) as browser:
            tokens.append(browser.cookies["frontdesk-session"])
    return tokens[0], tokens[1]


def revoke_others(raw: httpx.Client, token: str, headers: dict[str, str]) -> httpx.Response:
    return raw.post("/v1/sessions/revoke-others", json={"confirm": True}, headers={**cookie(token), **headers})


def alive(raw: httpx.Client, token: str) -> bool:
    return raw.get("/v1/verify", headers=cookie(token)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": FOREIGN_ORIGIN},
        {"Origin": "null"},
        {"Origin": ""},
        {"Origin": FOREIGN_ORIGIN, "Sec-Fetch-Site": "same-origin"},
        {"Origin": FOREIGN_ORIGIN, "Referer": "{public}/account"},
        {"Referer": f"{FOREIGN_ORIGIN}/attack"},
        {"Sec-Fetch-Site": "cross-site"},
        {},
        {"Origin": "{public}.evil.example.test"},
        {"Origin": "https://127.0.0.1"},
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()) or "none",
)
def test_cookie_requests_from_elsewhere_are_refused_and_change_nothing(
    server: LiveServer, account: Account, raw: httpx.Client, headers: dict[str, str]
) -> None:
    actor, other = two_sessions(server, account)
    headers = {k: v.format(public=server.url) for k, v in headers.items()}
    assert error_code(revoke_others(raw, actor, headers), 403) == "csrf_failed"
    assert alive(raw, other), "a refused request revoked a session"
    victim = raw.get("/v1/verify", headers=cookie(other)).headers["x-frontdesk-session-id"]
    deleted = raw.delete(f"/v1/sessions/{victim}", headers={**cookie(actor), **headers})
    assert error_code(deleted, 403) == "csrf_failed"
    assert error_code(raw.post("/v1/logout", headers={**cookie(actor), **headers}), 403) == "csrf_failed"
    assert alive(raw, actor) and alive(raw, other)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "{public}"},
        {"Origin": ALLOWED_ORIGIN},
        {"Referer": "{public}/account/sessions?x=1"},
        {"Referer": f"{ALLOWED_ORIGIN}/settings"},
        {"Sec-Fetch-Site": "same-origin"},
    ],
    ids=["origin", "allowed-origin", "referer", "allowed-referer", "sec-fetch-site"],
)
def test_cookie_requests_from_the_public_or_an_allowed_origin_pass(
    server: LiveServer, account: Account, raw: httpx.Client, headers: dict[str, str]
) -> None:
    actor, other = two_sessions(server, account)
    headers = {k: v.format(public=server.url) for k, v in headers.items()}
    response = revoke_others(raw, actor, headers)
    assert response.status_code == 200 and response.json() == {"revoked": 1}
    assert alive(raw, actor) and not alive(raw, other)


def test_safe_methods_are_not_checked(server: LiveServer, account: Account, raw: httpx.Client) -> None:
    actor, _ = two_sessions(server, account)
    response = raw.get("/v1/sessions", headers={**cookie(actor), "Origin": FOREIGN_ORIGIN})
    assert response.status_code == 200


def test_bearer_only_requests_are_exempt(server: LiveServer, account: Account, raw: httpx.Client) -> None:
    actor, other = two_sessions(server, account)
    with signed_in(server, account) as browser:
        key = str(create_api_key(browser, account)["token"])
    response = raw.post(
        "/v1/sessions/revoke-others", json={"confirm": True}, headers={**bearer(key), "Origin": FOREIGN_ORIGIN}
    )
    assert response.status_code == 200, response.text
    assert not alive(raw, actor) and not alive(raw, other)
    # with the cookie as well, the cookie makes the request a browser's: checked (and then ambiguous)
    with signed_in(server, account) as browser:
        token = browser.cookies["frontdesk-session"]
    mixed = raw.post("/v1/logout", headers={**bearer(key), **cookie(token), "Origin": FOREIGN_ORIGIN})
    assert error_code(mixed, 403) == "csrf_failed"


def test_login_and_signup_from_a_foreign_origin_are_refused(
    server: LiveServer, account: Account, raw: httpx.Client
) -> None:
    login = {"user": account.username, "password": account.password}
    refused = raw.post("/v1/login", json=login, headers={"Origin": FOREIGN_ORIGIN})
    assert error_code(refused, 403) == "csrf_failed"
    assert "set-cookie" not in refused.headers
    username = unique("csrf")
    signup = {"email": f"{username}@example.com", "username": username, "password": account.password, "name": "X"}
    assert error_code(raw.post("/v1/signup", json=signup, headers={"Origin": FOREIGN_ORIGIN}), 403) == "csrf_failed"
    with pytest.raises(AssertionError):
        latest_email(raw, f"{username}@example.com")
    foreign_referer = raw.post("/v1/login", json=login, headers={"Referer": f"{FOREIGN_ORIGIN}/"})
    assert error_code(foreign_referer, 403) == "csrf_failed"

    # a login from the public origin, or from a client that sends no Origin at all (curl, servers)
    assert raw.post("/v1/login", json=login, headers={"Origin": server.url}).status_code == 200
    with httpx.Client(base_url=server.url, timeout=30) as curl:
        assert curl.post("/v1/login", json=login).status_code == 200
        # now holding the cookie, the same client needs an origin like any browser
        assert error_code(curl.post("/v1/login", json=login), 403) == "csrf_failed"


@pytest.mark.parametrize("header", ["frontdesk-session ={token}", "theme=dark; frontdesk-session\t= {token}"])
def test_a_cookie_the_server_reads_is_a_cookie_the_csrf_check_sees(
    server: LiveServer, account: Account, raw: httpx.Client, header: str
) -> None:
    """The check and the credential reader must parse the Cookie header alike: odd spacing that
    still authenticates must still need an allowed origin."""
    actor, other = two_sessions(server, account)
    spaced = {"Cookie": header.format(token=actor)}
    assert raw.get("/v1/verify", headers=spaced).status_code == 200, "the server reads this cookie"
    refused = raw.post("/v1/sessions/revoke-others", json={"confirm": True}, headers=spaced)
    assert error_code(refused, 403) == "csrf_failed"
    assert alive(raw, other)


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("https://auth.example.test", 204),
        ("https://AUTH.example.test", 204),
        ("https://auth.example.test:443", 204),
        ("http://app.example.test", 204),
        ("https://auth.example.test:8443", 403),
        ("http://auth.example.test", 403),
    ],
)
def test_default_ports_do_not_matter(tmp_path: Path, origin: str, status: int) -> None:
    """Browsers leave the default port out of Origin; a configuration may spell it out."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        public_url="https://auth.example.test:443",
        allowed_origins=("http://app.example.test:80",),
    )
    response = asgi_request(create_app(settings, send_mail=False), "POST", "/v1/logout", headers={"Origin": origin})
    assert response.status_code == status, response.text
