"""For reverse proxies: `GET /v1/verify`, and X-Forwarded-For honoured only from FRONTDESK_TRUSTED_PROXIES."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from starlette.requests import Request

from frontdesk.web.credentials import ClientAddress, parse_address
from tests.live import LiveServer
from tests.web.helpers import (
    TRUSTED_PROXY,
    Account,
    bearer,
    cookie,
    create_api_key,
    error_code,
    log_in,
    make_account,
    signed_in,
)


def test_verify_answers_with_identity_headers_for_a_cookie_or_an_api_key(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser:
        key = create_api_key(browser, account)
        token = browser.cookies["frontdesk-session"]
    with httpx.Client(base_url=server.url) as proxy:
        by_cookie = proxy.get("/v1/verify", headers=cookie(token))
        by_key = proxy.get("/v1/verify", headers=bearer(str(key["token"])))
    for response in (by_cookie, by_key):
        assert response.status_code == 200
        assert response.headers["x-frontdesk-user-id"] == str(account.user_id)
        assert response.headers["x-frontdesk-username"] == account.username
        assert response.headers["cache-control"] == "no-store"
        assert response.content == b""
    assert by_key.headers["x-frontdesk-session-id"] == str(key["id"])
    assert by_cookie.headers["x-frontdesk-session-id"] != str(key["id"])


@pytest.mark.parametrize(
    "headers",
    [
        {},
        cookie("not-a-session"),
        cookie(""),
        bearer("fdk_not_a_key"),
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": ""},
    ],
    ids=["anonymous", "bad-cookie", "empty-cookie", "bad-key", "basic", "empty-authorization"],
)
def test_verify_refuses_everyone_else_with_401(server: LiveServer, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=server.url) as proxy:
        response = proxy.get("/v1/verify", headers=headers)
    assert error_code(response, 401) == "unauthenticated"
    assert not any(name.startswith("x-frontdesk-") for name in response.headers)


def test_verify_refuses_an_ended_session_at_once(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser:
        token = browser.cookies["frontdesk-session"]
        assert browser.get("/v1/verify").status_code == 200
        assert browser.post("/v1/logout").status_code == 204
    with httpx.Client(base_url=server.url) as proxy:
        assert proxy.get("/v1/verify", headers=cookie(token)).status_code == 401


# --- X-Forwarded-For ----------------------------------------------------------------------------


@contextmanager
def client_from(server: LiveServer, source: str, forwarded_for: str | None) -> Iterator[httpx.Client]:
    """A browser connecting from loopback address `source`, optionally sending X-Forwarded-For."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    transport = httpx.HTTPTransport(local_address=source)
    with server.client(headers=headers, transport=transport) as client:
        yield client


def recorded_ip(server: LiveServer, account: Account, source: str, forwarded_for: str | None) -> tuple[str, str]:
    """Sign in through `source` and return the session's recorded (ip_address, approximate_location)."""
    with client_from(server, source, forwarded_for) as client:
        response = log_in(client, account.username)
        assert response.status_code == 200, response.text
        session_id = response.json()["session"]["id"]
        sessions = client.get("/v1/sessions").json()["sessions"]
    (item,) = [s for s in sessions if s["id"] == session_id]
    return item["ip_address"], item["approximate_location"]


@pytest.mark.parametrize(
    ("source", "forwarded_for", "expected"),
    [
        (TRUSTED_PROXY, "81.2.69.142", ("81.2.69.142", "United Kingdom")),
        (TRUSTED_PROXY, "198.51.100.1, 8.8.8.8", ("8.8.8.8", "United States")),
        (TRUSTED_PROXY, f"198.51.100.1, 1.1.1.1, {TRUSTED_PROXY}", ("1.1.1.1", "Australia")),
        (TRUSTED_PROXY, "not an address", (TRUSTED_PROXY, "Unknown")),
        (TRUSTED_PROXY, None, (TRUSTED_PROXY, "Unknown")),
        ("127.0.0.1", "81.2.69.142", ("127.0.0.1", "Unknown")),
        ("127.0.0.1", None, ("127.0.0.1", "Unknown")),
        ("127.0.0.3", "8.8.8.8", ("127.0.0.3", "Unknown")),
        (TRUSTED_PROXY, "81.2.69.142:4711", ("81.2.69.142", "United Kingdom")),
        (TRUSTED_PROXY, "[2001:db8::1]", ("2001:db8::1", "Unknown")),
        (TRUSTED_PROXY, "198.51.100.1, [2001:db8::1]:443", ("2001:db8::1", "Unknown")),
        (TRUSTED_PROXY, "[2001:db8::1]:x", (TRUSTED_PROXY, "Unknown")),
    ],
    ids=[
        "trusted",
        "trusted-chain",
        "trusted-hops",
        "trusted-garbage",
        "trusted-none",
        "untrusted",
        "direct",
        "other",
        "ipv4-port",
        "ipv6-brackets",
        "ipv6-brackets-port",
        "bad-port",
    ],
)
def test_forwarded_for_is_honoured_only_from_trusted_proxies(
    server: LiveServer, source: str, forwarded_for: str | None, expected: tuple[str, str]
) -> None:
    account = make_account(server)
    assert recorded_ip(server, account, source, forwarded_for) == expected


def connection_from(peer: str, forwarded_for: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 5000)})


def test_requests_from_a_private_address_without_trusted_proxies_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    address = ClientAddress(())
    with caplog.at_level(logging.WARNING, logger="frontdesk.web.credentials"):
        assert address.of(connection_from("8.8.8.8")) == "8.8.8.8"
        assert caplog.records == []
        for _ in range(3):
            assert address.of(connection_from("10.1.2.3", "81.2.69.142")) == "10.1.2.3"
    warnings = [r for r in caplog.records if r.getMessage() == "client_address.private_without_trusted_proxies"]
    assert len(warnings) == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="frontdesk.web.credentials"):
        assert ClientAddress(("10.0.0.0/8",)).of(connection_from("10.1.2.3", "81.2.69.142:80")) == "81.2.69.142"
    assert caplog.records == []


@pytest.mark.parametrize(
    ("entry", "address"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("203.0.113.9:4711", "203.0.113.9"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        (" 2001:DB8::1 ", "2001:db8::1"),
        ("203.0.113.9:port", None),
        ("[2001:db8::1", None),
        ("[2001:db8::1]443", None),
        ("unknown", None),
        ("", None),
    ],
)
def test_forwarded_for_entries_parse_to_their_address(entry: str, address: str | None) -> None:
    assert parse_address(entry) == address
