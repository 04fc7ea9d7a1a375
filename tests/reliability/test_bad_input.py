"""What attackers and broken clients send, against a real server on both databases.

Each test takes a snapshot of every table, sends one family of bad requests, checks that each
gets the contract's 4xx (never a 5xx) and then that the database is exactly as it was, apart
from what the contract says a refused attempt records (a failed login's audit event and
rate-limit count).
"""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine

from frontdesk.db import make_engine
from frontdesk.settings import Settings
from tests.databases import BACKENDS, empty_database
from tests.live import LiveServer
from tests.reliability.conftest import Account, api_key, diff, new_account, serve, snapshot
from tests.web.helpers import PASSWORD, latest_email


@dataclass
class Target:
    server: LiveServer
    engine: Engine
    alice: Account
    key: str  # alice's API key

    def client(self, **kwargs: Any) -> httpx.Client:
        return self.server.client(**kwargs)

    def raw(self, start: bytes, *headers: bytes, body: bytes = b"") -> tuple[int, bytes]:
        """Send bytes no well-behaved client would (`start` is e.g. b"GET /v1/verify"); read status and body."""
        parts = urlsplit(self.server.url)
        lines = [start + b" HTTP/1.1", b"Host: " + parts.netloc.encode(), *headers, b"Connection: close"]
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), body


@pytest.fixture(scope="module", params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """One server per backend for the whole module, with alice signed up and holding an API key."""
    url: str = request.getfixturevalue(f"{request.param}_database_url")
    empty_database(url)
    # wrong passwords for alice are part of the corpus; her account's lockout is tested elsewhere
    server = serve(url, tmp_path_factory.mktemp("bad-input"), env={"FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT": "100000"})
    engine = make_engine(Settings(database_url=url))
    try:
        alice = new_account(server, "alice")
        yield Target(server, engine, alice, api_key(server, alice))
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture
def unchanged(target: Target) -> Iterator[None]:
    """Fail the test if any watched row changed while it ran."""
    before = snapshot(target.engine)
    yield
    assert diff(before, snapshot(target.engine)) == {}


def error_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return str(response.json()["error"]["code"])


def expect(response: httpx.Response, status: int, code: str) -> None:
    assert (response.status_code, error_code(response)) == (status, code), response.text


# --- credentials -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("unchanged")
def test_malformed_and_duplicated_session_cookies(target: Target) -> None:
    good = target.alice.cookie
    other = target.alice.cookie[::-1]
    cookies = [
        "frontdesk-session=",
        "frontdesk-session=junk",
        f"frontdesk-session={good}x",
        f"frontdesk-session={good[:-1]}",
        f"frontdesk-session={'A' * 10_000}",
        f"frontdesk-session={good}; frontdesk-session={other}",  # cookie tossing: which one wins?
        f"frontdesk-session={other}; frontdesk-session={good}",
        "frontdesk-session=a=b=c; ;;; =; frontdesk-session",
        f"frontdesk-session ={good}x",
        f"frontdesk-session={target.key}",  # an API key is not a cookie session
        'frontdesk-session="%00"',
        "frontdesk-user-id=1",  # the readable cookie proves nothing
    ]
    with target.client() as client:
        for cookie in cookies:
            headers = {"Cookie": cookie}
            verify = client.get("/v1/verify", headers=headers)
            assert verify.status_code == 401, (cookie, verify.text)
            assert error_code(verify) in ("unauthenticated", "ambiguous_credentials")
            assert client.get("/v1/session", headers=headers).json() in (
                {"logged_in": False},
                {"error": {"code": "ambiguous_credentials", "message": verify.json()["error"]["message"]}},
            )
            listing = client.get("/v1/sessions", headers=headers)
            assert listing.status_code == 401, (cookie, listing.text)
            revoke = client.post("/v1/sessions/revoke-others", json={"confirm": True}, headers=headers)
            assert revoke.status_code == 401, (cookie, revoke.text)
        # the same cookie twice is merely redundant
        twice = client.get("/v1/verify", headers={"Cookie": f"frontdesk-session={good}; frontdesk-session={good}"})
        assert twice.status_code == 200


@pytest.mark.usefixtures("unchanged")
def test_malformed_bearer_tokens(target: Target) -> None:
    key = target.key
    headers = [
        "Bearer",
        f"Bearer {key} {key}",
        f"Bearer {key[:10]} {key[10:]}",
        f"Bearer {key}x",
        f"Bearer {'a' * 65536}",  # 64 KiB
        f"Basic {base64.b64encode(b'alice:' + PASSWORD.encode()).decode()}",
        f"Token {key}",
        f"Bearer {target.alice.cookie}",  # a cookie session is not an API key
        f"Bearer fdk_{'é' * 40}".encode().decode("latin-1"),  # UTF-8 bytes on the wire
        "Bearer fdk_\u0430\u0430\u0430".encode().decode("latin-1"),  # Cyrillic look-alikes
    ]
    with target.client() as client:
        for value in headers:
            for method, path in (("GET", "/v1/verify"), ("GET", "/v1/sessions"), ("POST", "/v1/api-keys")):
                body = {"password": PASSWORD, "name": "x"} if method == "POST" else None
                raw = {b"Authorization": value.encode("latin-1")}
                response = client.request(method, path, headers=raw, json=body)
                expect(response, 401, "unauthenticated")


@pytest.mark.usefixtures("unchanged")
def test_bearer_with_unicode_and_control_bytes(target: Target) -> None:
    for value in (
        b"Bearer ",
        b"Bearer      ",
        b"Bearer \xff\xfe\xfd",
        b"Bearer fdk_\xe2\x80\x8b",
        b"Bearer \x00",
        b"Bearer a\x7fb",
    ):
        status, _ = target.raw(b"GET /v1/verify", b"Authorization: " + value)
        assert status in (400, 401), value


@pytest.mark.usefixtures("unchanged")
def test_both_credentials_at_once(target: Target) -> None:
    """A cookie and an Authorization header together are refused, whichever is valid."""
    combos = [
        (target.alice.cookie, target.key),
        (target.alice.cookie, "junk"),
        ("junk", target.key),
        ("junk", "junk"),
    ]
    with target.client() as client:
        for cookie, bearer in combos:
            headers = {"Cookie": f"frontdesk-session={cookie}", "Authorization": f"Bearer {bearer}"}
            expect(client.get("/v1/verify", headers=headers), 401, "ambiguous_credentials")
            expect(client.get("/v1/sessions", headers=headers), 401, "ambiguous_credentials")
            expect(client.get("/v1/session", headers=headers), 401, "ambiguous_credentials")
            expect(
                client.post("/v1/sessions/revoke-others", json={"confirm": True}, headers=headers),
                401,
                "ambiguous_credentials",
            )
            expect(
                client.post("/v1/api-keys", json={"password": PASSWORD, "name": "x"}, headers=headers),
                401,
                "ambiguous_credentials",
            )


# --- bodies ------------------------------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}
FORM = "application/x-www-form-urlencoded"
BODY_ENDPOINTS = [
    "/v1/signup",
    "/v1/signup/confirm",
    "/v1/login",
    "/v1/login-link",
    "/v1/login-link/confirm",
    "/v1/password-reset",
    "/v1/password-reset/confirm",
]


@pytest.mark.usefixtures("unchanged")
def test_invalid_utf8_and_nul_bytes_in_bodies(target: Target) -> None:
    bodies = [
        b"\xff\xfe\xfd",
        b'{"user": "\xff\xfe", "password": "x"}',
        b'{"user": "al\xc3", "password": "x"}',  # truncated multi-byte sequence
        b'{"user": "\xed\xa0\x80", "password": "x"}',  # an encoded surrogate is not UTF-8
        b'{"user": "alice\x00", "password": "x"}',  # raw NUL inside a string: not JSON
        b'{"user": "alice\\u0000", "password": "x"}',  # escaped NUL: JSON, but refused
        b'{"user": "\\ud800", "password": "x"}',  # lone surrogate
        b'{"token": "\\u0000", "new_password": "\\u0000"}',
        b'{"email": "a\\u0000@example.com", "username": "a\\u0000b", "password": "x\\u0000", "name": "\\u0000"}',
        b"\x00" * 100,
        b'{"user": "alice"',  # truncated
        b"",
    ]
    with target.client() as client:
        for path in BODY_ENDPOINTS:
            for body in bodies:
                expect(client.post(path, content=body, headers=JSON), 400, "invalid_request")


@pytest.mark.usefixtures("unchanged")
def test_wrong_shapes_and_types(target: Target) -> None:
    login = {"user": "alice", "password": PASSWORD}
    bad: list[object] = [
        [],
        "alice",
        None,
        1,
        {**login, "user": 1},
        {**login, "user": None},
        {**login, "user": ["alice"]},
        {**login, "user": {"$ne": None}},  # NoSQL-style operator injection
        {**login, "password": True},
        {**login, "remember_device": "yes"},
        {**login, "remember_device": 1},
        {**login, "is_superuser": True},  # unknown fields are refused, not ignored
        {"user": "alice"},
        {**login, "user": ""},
        {**login, "user": "a" * 321},
        {**login, "password": "a" * 4097},
    ]
    with target.client() as client:
        for body in bad:
            expect(client.post("/v1/login", json=body), 400, "invalid_request")
        days: tuple[object, ...] = (0, 731, -1, 1e100, "365", True)
        for body in ({"password": PASSWORD, "name": "k", "expiry_days": d} for d in days):
            expect(client.post("/v1/api-keys", json=body, headers=target.alice.cookie_header()), 400, "invalid_request")
        expect(
            client.post("/v1/sessions/revoke-others", json={"confirm": "true"}, headers=target.alice.cookie_header()),
            400,
            "invalid_request",
        )
        expect(
            client.post("/v1/login", content=json.dumps(login), headers={"Content-Type": "text/plain"}),
            400,
            "invalid_request",
        )
        expect(
            client.post("/v1/login", content=b"user=alice&password=x", headers={"Content-Type": FORM}),
            400,
            "invalid_request",
        )


@pytest.mark.usefixtures("unchanged")
def test_ten_megabyte_bodies(target: Target) -> None:
    ten_mb = b'{"user": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    just_over = b'{"user": "' + b"a" * (64 * 1024) + b'"}'

    def streamed(data: bytes) -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for i in range(0, len(data), 256 * 1024):
            yield data[i : i + 256 * 1024]

    with target.client() as client:
        for path in ("/v1/login", "/v1/signup", "/v1/password-reset"):
            expect(client.post(path, content=ten_mb, headers=JSON), 413, "payload_too_large")
            expect(client.post(path, content=just_over, headers=JSON), 413, "payload_too_large")
            expect(client.post(path, content=streamed(ten_mb), headers=JSON), 413, "payload_too_large")
        expect(
            client.post("/v1/logout", content=ten_mb, headers={**JSON, **target.alice.cookie_header()}),
            413,
            "payload_too_large",
        )
    for length in (b"-1", b"abc", b"99999999999999999999", b"1e9"):
        status, _ = target.raw(
            b"POST /v1/login", b"Content-Type: application/json", b"Content-Length: " + length, body=b"{}"
        )
        assert 400 <= status < 500, length


@pytest.mark.usefixtures("unchanged")
def test_deeply_nested_json(target: Target) -> None:
    with target.client() as client:
        for depth in (1_000, 30_000):
            arrays = ("[" * depth + "]" * depth).encode()
            objects = ('{"user":' * depth + "1" + "}" * depth).encode()
            inside = ('{"user": "alice", "password": ' + "[" * depth + "]" * depth + "}").encode()
            for body in (arrays, objects, inside):
                if len(body) > 64 * 1024:
                    expect(client.post("/v1/login", content=body, headers=JSON), 413, "payload_too_large")
                else:
                    expect(client.post("/v1/login", content=body, headers=JSON), 400, "invalid_request")


# --- metacharacters and look-alikes -------------------------------------------------------------------

SQL = ["' OR '1'='1", "alice'--", "alice' /*", '"; DROP TABLE users; --', "1; SELECT pg_sleep(10)", "%", "_", "\\"]
TEMPLATES = ["{{7*7}}", "${7*7}", "{% for x in range(9999999) %}x{% endfor %}", "<%= 7*7 %>", "#{7*7}", "*{7*7}"]
MARKUP = ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "javascript:alert(1)"]


def test_sql_and_template_metacharacters(target: Target) -> None:
    """In the username or login field they are refused or simply don't match; as a display name they
    are kept as text and appear in emails literally (no template runs, HTML is escaped)."""
    before = snapshot(target.engine)
    with target.client() as client:
        for value in SQL + TEMPLATES + MARKUP:
            for login in ({"user": value, "password": value}, {"user": "alice", "password": value}):
                expect(client.post("/v1/login", json=login), 401, "invalid_credentials")
            assert client.post("/v1/login-link", json={"user": value}).status_code == 202
            assert client.post("/v1/password-reset", json={"user": value}).status_code == 202
            response = client.get(f"/v1/usernames/{value}")
            assert response.status_code in (200, 404), response.text
            if response.status_code == 200:
                assert response.json()["valid"] is False
            signup = {"email": "mallory@example.com", "username": value, "password": PASSWORD, "name": "M"}
            expect(client.post("/v1/signup", json=signup), 400, "invalid_username")
            expect(client.post("/v1/signup/confirm", json={"token": value}), 400, "invalid_token")
            expect(client.post("/v1/login-link/confirm", json={"token": value}), 400, "invalid_token")
            expect(
                client.post("/v1/password-reset/confirm", json={"token": value, "new_password": PASSWORD + "!"}),
                400,
                "invalid_token",
            )
    changes = diff(before, snapshot(target.engine))
    # a failed login is recorded (audit event, rate-limit count); nothing else may move
    assert set(changes) <= {"auth_events", "rate_limit_buckets"}, changes
    _, new_events = changes.get("auth_events", ([], []))
    assert {event for (_, event, _) in new_events} <= {"login.failed"}
    _, new_buckets = changes.get("rate_limit_buckets", ([], []))
    assert all(str(key).startswith("login:") for (key, _, _) in new_buckets)

    # the same characters as a display name: accepted and stored as plain text, and (unverified
    # text) never put into the confirmation email to a not-yet-verified address
    name = "{{7*7}} ${7*7} <script>x</script> ' OR 1=1 --"
    with target.client() as client:
        response = client.post(
            "/v1/signup",
            json={"email": "display@example.com", "username": "display_name", "password": PASSWORD, "name": name},
        )
        assert response.status_code == 202, response.text
        email = latest_email(client, "display@example.com", "confirm")
    assert "7*7" not in email["text"]  # the requester's text is not in it
    assert "<script>" not in email["html"] and "script&gt;" not in email["html"]


def test_lookalike_usernames_and_emails(target: Target) -> None:
    """NFKC and case folding make look-alikes one identity; non-ASCII usernames are refused."""
    before = snapshot(target.engine)
    taken = ["ALICE", "Alice", "\uff41\uff4c\uff49\uff43\uff45", "\uff21\uff2c\uff29\uff23\uff25", "alice "]
    invalid = ["\u0430lice", "al\u0131ce", "alice\u200b", "\u200balice", "a\u0301lice", "alic\u0435", "al ice"]
    with target.client() as client:
        for username in taken:
            body = {"email": "new@example.com", "username": username, "password": PASSWORD, "name": "N"}
            expect(client.post("/v1/signup", json=body), 409, "username_taken")
            assert client.get(f"/v1/usernames/{username.strip()}").json()["available"] is False
        for username in invalid:
            body = {"email": "new@example.com", "username": username, "password": PASSWORD, "name": "N"}
            expect(client.post("/v1/signup", json=body), 400, "invalid_username")
        for bad_email in ("alice", "alice@", "@example.com", "alice@@example.com", "alice@example..com", "a@b"):
            body = {"email": bad_email, "username": "newbie", "password": PASSWORD, "name": "N"}
            expect(client.post("/v1/signup", json=body), 400, "invalid_email")
        body = {"email": "a" * 310 + "@example.com", "username": "newbie", "password": PASSWORD, "name": "N"}
        response = client.post("/v1/signup", json=body)
        assert response.status_code == 400 and error_code(response) in ("invalid_email", "invalid_request")
    assert diff(before, snapshot(target.engine)) == {}

    # the same person typed differently: one account, signed in by any spelling
    for spelling in ("ALICE", "\uff41\uff4c\uff49\uff43\uff45", "ALICE@EXAMPLE.COM", "\uff41lice@example.com"):
        with target.client() as client:
            response = client.post("/v1/login", json={"user": spelling, "password": PASSWORD})
            assert response.status_code == 200, (spelling, response.text)
            assert response.json()["user_id"] == target.alice.user_id
    # a signup with the registered email in another form creates no second account
    users_before = snapshot(target.engine)["users"]
    with target.client() as client:
        for email in ("ALICE@example.com", "\uff41lice@EXAMPLE.com"):
            body = {"email": email, "username": "alice_twin", "password": PASSWORD, "name": "Twin"}
            assert client.post("/v1/signup", json=body).status_code == 202
        assert latest_email(client, "alice@example.com", "sign up")
    assert snapshot(target.engine)["users"] == users_before
    assert not [row for row in snapshot(target.engine)["signup_tokens"] if row not in before["signup_tokens"]]


# --- pagination, paths and headers ---------------------------------------------------------------------


def _page_token(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.usefixtures("unchanged")
def test_absurd_page_tokens_and_sizes(target: Target) -> None:
    sizes = ["0", "-1", "101", "10" * 15, "1e3", "1.5", "abc", "", "\u0661", "NaN", "0x10"]
    tokens = [
        "junk",
        "%00",
        "%ff%fe",
        "A" * 201,
        "A" * 10_000,
        _page_token([1, 2]),
        _page_token(["x", 1]),
        _page_token(["2020-01-01T00:00:00", 1]),  # no time zone
        _page_token(["2020-01-01T00:00:00Z", -1]),
        _page_token(["2020-01-01T00:00:00Z", 2**64]),
        _page_token(["2020-01-01T00:00:00Z", True]),
        _page_token(["2020-01-01T00:00:00Z", 1.5]),
        _page_token(["2020-01-01T00:00:00Z", 1, 2]),
        _page_token({"a": 1}),
        _page_token([[[[[]]]]]),
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
    ]
    with target.client(headers=target.alice.cookie_header()) as client:
        for size in sizes:
            response = client.get("/v1/sessions", params={"page_size": size})
            expect(response, 400, "invalid_request")
        for token in tokens:
            response = client.get(f"/v1/sessions?page_token={token}")
            expect(response, 400, "invalid_request")
        assert client.get("/v1/sessions", params={"page_size": "100"}).status_code == 200


@pytest.mark.usefixtures("unchanged")
def test_absurd_path_parameters(target: Target) -> None:
    with target.client(headers=target.alice.cookie_header()) as client:
        for session_id in ("0", "-1", str(2**63), str(2**64), "9" * 100, "1e3", "abc", "%00", "1;DROP TABLE sessions"):
            response = client.delete(f"/v1/sessions/{session_id}")
            assert response.status_code in (400, 404), (session_id, response.text)
            assert error_code(response) in ("invalid_request", "not_found")
        for user_id in ("0", "-1", str(2**64), "abc", str(target.alice.user_id)):
            for action in ("ban", "unban", "revoke-sessions", "reset-second-factors"):
                response = client.post(f"/v1/admin/users/{user_id}/{action}")
                assert response.status_code in (400, 403), response.text  # alice is no administrator
        for username in ("a" * 10_000, "%00", "..%2f..%2fetc%2fpasswd", "%ff"):
            assert client.get(f"/v1/usernames/{username}").status_code in (200, 404)


@pytest.mark.usefixtures("unchanged")
def test_absurd_headers(target: Target) -> None:
    cookie = target.alice.cookie_header()
    with target.client() as client:
        # a huge user agent or forwarded-for header is not a reason to fail or to trust it
        assert client.get("/v1/verify", headers={**cookie, "User-Agent": "x" * 60_000}).status_code == 200
        forwarded = ", ".join(["1.2.3.4"] * 2000)
        assert client.get("/v1/verify", headers={**cookie, "X-Forwarded-For": forwarded}).status_code == 200
        # CSRF: foreign, malformed or "null" origins are refused before anything happens
        for origin in ("null", "http://evil.example", "http://127.0.0.1.evil.example", "javascript:", "\u2603"):
            response = client.post(
                "/v1/sessions/revoke-others",
                json={"confirm": True},
                headers={**{k.encode(): v.encode() for k, v in cookie.items()}, b"Origin": origin.encode("utf-8")},
            )
            expect(response, 403, "csrf_failed")
            response = client.post(
                "/v1/login", json={"user": "alice", "password": PASSWORD}, headers={b"Origin": origin.encode()}
            )
            expect(response, 403, "csrf_failed")
    garbage: list[tuple[bytes, list[bytes], bytes]] = [
        (b"GET /v1/verify", [b"Cookie: frontdesk-session=\x00"], b""),
        (b"GET /v1/verify", [b"X-\x01: y"], b""),
        (b"GET /v1/verify", [b"X-Junk: y"] * 500, b""),
        (b"GET /v1/verify\x00", [], b""),
        (b"POST /v1/login", [b"Content-Length: 2", b"Content-Length: 9"], b"{}"),
        (b"POST /v1/login", [b"Transfer-Encoding: chunked", b"Content-Length: 2"], b"zz\r\n"),  # request smuggling
    ]
    for start, headers, body in garbage:
        status, _ = target.raw(start, *headers, body=body)
        assert 400 <= status < 500, (start, headers[:2])


def test_corpus_server_logged_no_error(target: Target, tmp_path: Path) -> None:
    """Nothing above reached an unhandled exception (the server logs a traceback for those)."""
    log = target.server.log()
    assert "Traceback" not in log, log[-4000:]
    assert "Exception in ASGI application" not in log


@pytest.mark.usefixtures("unchanged")
def test_wrong_methods_get_405_naming_the_documented_ones(target: Target) -> None:
    """Every path, asked with a method it does not have, answers 405 `method_not_allowed` and its
    Allow header lists exactly the methods `/openapi.json` documents for that path."""
    with target.client(headers=target.alice.cookie_header()) as client:
        paths = client.get("/openapi.json").json()["paths"]
        # templates that name the same concrete path share its Allow list
        by_path: dict[str, set[str]] = {}
        for template, operations in paths.items():
            concrete = re.sub(r"\{[^/]+\}", "1", template.replace("{username}", "x"))
            by_path.setdefault(concrete, set()).update(method.upper() for method in operations)
        for template in paths:
            path = re.sub(r"\{[^/]+\}", "1", template.replace("{username}", "x"))
            documented = by_path[path]
            for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} - documented):
                response = client.request(method, path)
                expect(response, 405, "method_not_allowed")
                allowed = {m.strip() for m in response.headers["allow"].split(",")} - {"HEAD"}
                assert allowed == documented - {"HEAD"}, (method, template, response.headers["allow"])
