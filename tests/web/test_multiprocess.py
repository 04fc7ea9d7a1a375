"""Two `frontdesk serve` processes on one PostgreSQL: what one does, the other enforces on the very
next request (contract sections 1 and 4). Both run the production-mode configuration (small limits)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.live import LiveServer
from tests.web.helpers import (
    STRICT_PUBLIC_URL,
    TRUSTED_PROXY,
    Account,
    bearer,
    cookie,
    error_code,
    log_in,
    make_account,
    set_cookies,
    shared_server,
)


@pytest.fixture(scope="module")
def pair(request: pytest.FixtureRequest) -> tuple[LiveServer, LiveServer]:
    first = shared_server(request, "postgresql", "strict", instance=0)
    second = shared_server(request, "postgresql", "strict", instance=1)
    assert first.database_url == second.database_url and first.url != second.url
    return first, second


@contextmanager
def client(server: LiveServer, token: str | None = None, ip: str | None = None) -> Iterator[httpx.Client]:
    """A browser on the public origin; the session cookie is sent by hand (it is Secure, the server http)."""
    headers = {"Origin": STRICT_PUBLIC_URL, **(cookie(token) if token else {})}
    if ip is None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as plain:
            yield plain
        return
    transport = httpx.HTTPTransport(local_address=TRUSTED_PROXY)
    with httpx.Client(base_url=server.url, headers={**headers, "X-Forwarded-For": ip}, transport=transport) as via:
        yield via


def sign_in(server: LiveServer, account: Account) -> str:
    with client(server) as browser:
        response = log_in(browser, account.username)
        assert response.status_code == 200, response.text
    return set_cookies(response)["frontdesk-session"].value


def verify(server: LiveServer, token: str, *, api_key: bool = False) -> int:
    with client(server) as proxy:
        return proxy.get("/v1/verify", headers=bearer(token) if api_key else cookie(token)).status_code


def api_key(server: LiveServer, token: str, account: Account) -> str:
    with client(server, token) as browser:
        response = browser.post("/v1/api-keys", json={"password": account.password, "name": "two processes"})
        assert response.status_code == 201, response.text
    return str(response.json()["token"])


def test_a_ban_through_one_process_is_enforced_by_the_other(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    admin, target = make_account(a, superuser=True), make_account(a)
    admin_token, target_token = sign_in(a, admin), sign_in(b, target)
    key = api_key(b, target_token, target)
    assert verify(b, target_token) == 200 and verify(b, key, api_key=True) == 200  # warm: b has seen them

    with client(a, admin_token) as boss:
        assert boss.post(f"/v1/admin/users/{target.user_id}/ban").status_code == 204
    assert verify(b, target_token) == 401
    assert verify(b, key, api_key=True) == 401
    with client(b) as browser:
        assert error_code(log_in(browser, target.username), 403) == "account_suspended"

    with client(b, sign_in(b, admin)) as boss:
        assert boss.post(f"/v1/admin/users/{target.user_id}/unban").status_code == 204
    with client(a) as browser:
        assert log_in(browser, target.username).status_code == 200, "an unban through b is seen by a"


def test_a_revocation_through_one_process_is_enforced_by_the_other(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    admin, target = make_account(a, superuser=True), make_account(a)
    one, two, three = sign_in(a, target), sign_in(b, target), sign_in(a, target)
    assert verify(a, one) == verify(b, two) == verify(a, three) == 200

    with client(b, two) as browser:  # the user ends one session through b; a stops it
        session_id = browser.get("/v1/verify", headers=cookie(one)).headers["x-frontdesk-session-id"]
        assert browser.delete(f"/v1/sessions/{session_id}").status_code == 204
    assert verify(a, one) == 401

    with client(a, sign_in(a, admin)) as boss:  # an administrator revokes the rest through a; b stops them
        assert boss.post(f"/v1/admin/users/{target.user_id}/revoke-sessions").json() == {"revoked": 2}
    assert verify(b, two) == 401 and verify(b, three) == 401


def test_a_password_change_through_one_process_ends_sessions_on_the_other(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    target = make_account(a)
    kept, other = sign_in(a, target), sign_in(b, target)
    assert verify(b, other) == 200
    with client(a, kept) as browser:
        body = {"old_password": target.password, "new_password": "changed in process a"}
        assert browser.post("/v1/password", json=body).status_code == 204
    assert verify(b, other) == 401 and verify(b, kept) == 200


def test_failed_logins_through_both_processes_count_toward_one_limit(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    target = make_account(a)
    ip = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    for server in (a, b, a):  # the limit is 3 per account
        with client(server, ip=ip) as browser:
            assert error_code(log_in(browser, target.username, "wrong password"), 401) == "invalid_credentials"
    for server in (b, a):  # the same spelling is over its limit in both processes
        with client(server) as browser:
            assert error_code(log_in(browser, target.username, target.password), 429) == "rate_limited"
