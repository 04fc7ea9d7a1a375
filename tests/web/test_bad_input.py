"""Bad input of every kind gets a 4xx `invalid_request` (or `payload_too_large`), never a 5xx, and changes nothing."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping

import httpx
import pytest

from tests.live import LiveServer
from tests.web.helpers import (
    PASSWORD,
    Account,
    bearer,
    cookie,
    error_code,
    log_in,
    make_account,
    signed_in,
    unique,
)

LIMIT = 64 * 1024
TOKEN = "t" * 43
# A good body per endpoint (with the account's name filled in) and which fields may be left out.
GOOD: dict[str, tuple[dict[str, object], set[str]]] = {
    "/v1/signup": ({"email": "{u}@example.com", "username": "{u}", "password": PASSWORD, "name": "N"}, set()),
    "/v1/signup/confirm": ({"token": TOKEN}, set()),
    "/v1/login": ({"user": "{u}", "password": PASSWORD, "remember_device": True}, {"remember_device"}),
    "/v1/login-link": ({"user": "{u}"}, set()),
    "/v1/login-link/confirm": ({"token": TOKEN, "remember_device": False}, {"remember_device"}),
    "/v1/password-reset": ({"user": "{u}"}, set()),
    "/v1/password-reset/confirm": ({"token": TOKEN, "new_password": "new passphrase"}, set()),
    "/v1/sessions/revoke-others": ({"confirm": True}, {"confirm"}),  # missing: must_confirm
    "/v1/password": ({"old_password": PASSWORD, "new_password": "new passphrase"}, set()),
    "/v1/api-keys": ({"password": PASSWORD, "name": "k", "expiry_days": 30}, {"expiry_days"}),
    "/v1/admin/users/{id}/api-keys": ({"expiry_days": 30}, {"expiry_days"}),
}
NOT_JSON_OBJECTS = [
    b'{"user": ',
    b"{'user': 'x'}",
    b"[]",
    b"null",
    b'"text"',
    b"42",
    b"",
    b'{"user": "\xff\xfe", "password": "\xc3"}',
    b"\xff\xfe{\x00}",
    b"[" * 10_000 + b"]" * 10_000,
    b'{"a": NaN}',
]


@pytest.fixture
def admin(server: LiveServer) -> Iterator[tuple[Account, httpx.Client]]:
    """A superuser and a raw client carrying its cookie and the public Origin."""
    account = make_account(server, superuser=True)
    with signed_in(server, account) as browser:
        token = browser.cookies["frontdesk-session"]
    headers = {**cookie(token), "Origin": server.url, "User-Agent": "bad-input"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        yield account, client


def snapshot(server: LiveServer, client: httpx.Client, account: Account) -> tuple[object, ...]:
    """What a wrongly accepted request could change: sessions, keys, emails, users."""
    sessions = client.get("/v1/sessions", params={"page_size": 100}).json()["sessions"]
    emails = client.get("/dev/mail.json").json()
    with server.client() as anonymous:
        available = anonymous.get(f"/v1/usernames/{account.username}x").json()["available"]
    return (sorted(s["id"] for s in sessions), emails[0]["id"] if emails else None, available)


def mutations(body: dict[str, object], optional: set[str]) -> Iterator[dict[str, object]]:
    """Wrong types, missing fields, unknown fields, NUL bytes: each alone, the rest left good."""
    for key, value in body.items():
        wrong: list[object] = [None, [value], {"v": value}]
        if isinstance(value, bool):
            wrong += ["true", 1, "yes"]
        elif isinstance(value, int):
            wrong += [str(value), float(value) + 0.5, True]
        else:
            wrong += [123, True, f"{value}\x00", f"\x00{value}"]
        for bad in wrong:
            yield {**body, key: bad}
        if key not in optional:
            yield {k: v for k, v in body.items() if k != key}
    yield {**body, "unexpected": 1}
    yield {**body, "is_superuser": True}


def test_malformed_bodies_are_refused_everywhere_and_change_nothing(
    server: LiveServer, admin: tuple[Account, httpx.Client]
) -> None:
    account, client = admin
    before = snapshot(server, client, account)
    checked = 0
    for path, (template, optional) in GOOD.items():
        path = path.format(id=account.user_id)
        good = json.loads(json.dumps(template).replace("{u}", account.username))
        for raw in NOT_JSON_OBJECTS:
            response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
            assert error_code(response, 400) == "invalid_request", (path, raw[:40])
            checked += 1
        for body in mutations(good, optional):
            response = client.post(path, json=body)
            assert error_code(response, 400) == "invalid_request", (path, body)
            checked += 1
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            response = client.post(path, content=json.dumps(good), headers={"Content-Type": content_type})
            assert error_code(response, 400) == "invalid_request", (path, content_type)
    assert checked > 300
    assert snapshot(server, client, account) == before, "a refused request changed something"
    with server.client() as fresh:
        assert log_in(fresh, account.username).status_code == 200, "the password changed"
    assert "Traceback" not in server.log()


def test_bodies_over_64_kib_are_refused(server: LiveServer, admin: tuple[Account, httpx.Client]) -> None:
    account, client = admin
    before = snapshot(server, client, account)
    padding = json.dumps({"user": account.username, "password": PASSWORD, "remember_device": True, "x": ""})
    at_limit = padding[:-2] + "p" * (LIMIT - len(padding)) + '"}'
    assert len(at_limit) == LIMIT
    response = client.post("/v1/login", content=at_limit, headers={"Content-Type": "application/json"})
    assert error_code(response, 400) == "invalid_request", "exactly 64 KiB is allowed through to validation"

    over = at_limit[:-2] + 'p"}'
    response = client.post("/v1/login", content=over, headers={"Content-Type": "application/json"})
    assert error_code(response, 413) == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold for streamed bodies too
        yield over.encode()[: LIMIT // 2]
        yield over.encode()[LIMIT // 2 :]

    response = client.post("/v1/login", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert error_code(response, 413) == "payload_too_large"
    huge = client.post("/v1/signup", content=b"x" * (4 * 1024 * 1024), headers={"Content-Type": "application/json"})
    assert error_code(huge, 413) == "payload_too_large"
    assert snapshot(server, client, account) == before


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "latin-1"])
def test_json_that_is_not_utf8_is_refused(server: LiveServer, encoding: str) -> None:
    """Python's json.loads guesses UTF-16 and UTF-32 from the bytes; the contract says UTF-8."""
    username = unique("enc")
    body = {"email": f"{username}@example.com", "username": username, "password": PASSWORD, "name": "Zoë"}
    with server.client() as client:
        response = client.post(
            "/v1/signup",
            content=json.dumps(body, ensure_ascii=False).encode(encoding),
            headers={"Content-Type": "application/json"},
        )
        assert error_code(response, 400) == "invalid_request"
        untyped = client.post("/v1/signup", content=json.dumps(body, ensure_ascii=False).encode(encoding))
        assert error_code(untyped, 400) == "invalid_request"
        assert client.get(f"/v1/usernames/{username}").json()["available"] is True
        assert not [e for e in client.get("/dev/mail.json").json() if e["to"] == body["email"]]
        utf8 = client.post(
            "/v1/signup",
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        assert utf8.status_code == 202, utf8.text


def raw_request(server: LiveServer, request: bytes) -> bytes:
    """Send bytes httpx would refuse to send; return the response head and body."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_absurd_headers_get_4xx_never_5xx(server: LiveServer) -> None:
    account = make_account(server)
    body = json.dumps({"user": account.username, "password": "wrong password"}).encode()
    login = b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
    # refused by the HTTP parser before frontdesk sees them: a plain 400 (not the JSON error shape)
    for length in (b"abc", b"-1", b"5\r\nContent-Length: 6"):
        assert status_of(raw_request(server, login + b"Content-Length: " + length + b"\r\n\r\n" + body)) == 400
    odd_headers = [
        b"Content-Length: 99999999999999999999999",
        b"Cookie: frontdesk-session=\xff\xfe",
        b"Authorization: Bearer \xff\xfe",
        b"User-Agent: \xff\xfe\x01",
        b"Origin: \xff",
        b"X-Forwarded-For: \xff, 999.1.1.1",
        b"Cookie: " + b"a" * 60_000,
    ]
    for header in odd_headers:
        response = raw_request(server, login + header + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        assert 400 <= status_of(response) < 500, (header[:40], response[:200])
    with server.client() as client:
        cases: tuple[Mapping[str, str] | Mapping[bytes, bytes], ...] = (
            bearer("x" * 10_000),
            {"Authorization": "Bearer a b c"},
            {b"Authorization": b"Bearer " + "é".encode() * 10},
            cookie("y" * 10_000),
        )
        for headers in cases:
            answer = client.get("/v1/sessions", headers=headers)
            assert error_code(answer, 401) in ("unauthenticated", "ambiguous_credentials")


def test_an_absurd_user_agent_is_kept_bounded(server: LiveServer) -> None:
    account = make_account(server)
    agent = "Mozilla/5.0 " + "x" * 5000
    with server.client(headers={"User-Agent": agent}) as browser:
        assert log_in(browser, account.username).status_code == 200
        (item,) = browser.get("/v1/sessions").json()["sessions"]
    assert agent.startswith(item["user_agent"]) and 0 < len(item["user_agent"]) <= 512


def test_new_passwords_longer_than_the_schema_allows_are_still_password_too_long(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser:
        for length in (257, 5000, 60_000):
            password = "p" * length
            changed = browser.post("/v1/password", json={"old_password": PASSWORD, "new_password": password})
            assert error_code(changed, 400) == "password_too_long", length
            reset = browser.post("/v1/password-reset/confirm", json={"token": TOKEN, "new_password": password})
            assert error_code(reset, 400) == "password_too_long", length
            username = unique("long")
            signup = {"email": f"{username}@example.com", "username": username, "password": password, "name": "L"}
            assert error_code(browser.post("/v1/signup", json=signup), 400) == "password_too_long", length
        assert log_in(browser, account.username).status_code == 200
