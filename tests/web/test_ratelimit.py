"""Rate limits (contract section 4) on a production-mode server with small limits:
3 failed logins per account, 5 per IP address, 2 emails per address (see helpers.STRICT_ENV)."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.live import LiveServer
from tests.waiting import wait_until
from tests.web.helpers import (
    BACKENDS,
    STRICT_PUBLIC_URL,
    TRUSTED_PROXY,
    error_code,
    log_in,
    make_account,
    outbox_to,
    shared_server,
    unique,
)

WINDOW_SECONDS = 15 * 60


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> LiveServer:
    return shared_server(request, request.param, "strict")


def new_ip() -> str:
    """A client address of its own for each test (the server trusts X-Forwarded-For from TRUSTED_PROXY)."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@contextmanager
def client_at(server: LiveServer, ip: str) -> Iterator[httpx.Client]:
    headers = {"Origin": STRICT_PUBLIC_URL, "X-Forwarded-For": ip}
    with server.client(headers=headers, transport=httpx.HTTPTransport(local_address=TRUSTED_PROXY)) as client:
        yield client


def check_limited(response: httpx.Response) -> int:
    assert error_code(response, 429) == "rate_limited"
    assert "set-cookie" not in response.headers
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= WINDOW_SECONDS
    return retry_after


def test_failed_logins_per_account(server: LiveServer) -> None:
    account, other = make_account(server), make_account(server)
    with client_at(server, new_ip()) as client:
        for _ in range(3):
            assert error_code(log_in(client, account.username, "wrong password"), 401) == "invalid_credentials"
        check_limited(log_in(client, account.username))  # even the right password, once over the limit
        # Another spelling of the account answers as an unknown email would (401, no real check),
        # so the 429 does not link the email to the username being guessed.
        assert error_code(log_in(client, account.email.upper()), 401) == "invalid_credentials"
        assert log_in(client, other.username).status_code == 200, "another account was limited"
    with client_at(server, new_ip()) as elsewhere:
        check_limited(log_in(elsewhere, account.username))


def test_failed_logins_per_ip_address(server: LiveServer) -> None:
    account = make_account(server)
    ip = new_ip()
    with client_at(server, ip) as client:
        for _ in range(5):  # five different (unknown) accounts, one failure each
            assert error_code(log_in(client, unique("guess"), "wrong password"), 401) == "invalid_credentials"
        check_limited(log_in(client, account.username))
    with client_at(server, new_ip()) as elsewhere:
        assert log_in(elsewhere, account.username).status_code == 200, "the account itself was limited"


def test_emails_stop_but_the_answer_does_not_change(server: LiveServer) -> None:
    account = make_account(server)
    with client_at(server, new_ip()) as client:
        answers = []

        def queued(n: int) -> bool:
            return len(outbox_to(server, account.email)) >= n

        for sent in (1, 2):  # each queued just after its answer (a sign-in link's code is hashed
            # first, so two requests in a row may finish out of order): wait for it
            answers.append(client.post("/v1/login-link", json={"user": account.username}))
            assert wait_until(functools.partial(queued, sent))
        answers.append(client.post("/v1/login-link", json={"user": account.username}))
        answers.append(client.post("/v1/password-reset", json={"user": account.email}))
        assert {(a.status_code, a.text) for a in answers} == {(202, answers[0].text)}
        assert all("retry-after" not in a.headers for a in answers)
    time.sleep(0.5)  # and no third one comes
    emails = outbox_to(server, account.email)
    assert len(emails) == 2, [e.subject for e in emails]
    assert all("sign-in link" in e.subject for e in emails)


def test_a_device_that_signed_in_before_passes_a_locked_address(server: LiveServer) -> None:
    account = make_account(server)
    ip = new_ip()
    with client_at(server, ip) as client:
        signed = log_in(client, account.username)
        assert signed.status_code == 200
        device = signed.cookies["frontdesk-device"]
        assert client.post("/v1/logout").status_code == 204
        for _ in range(5):  # someone else at this address guesses random names
            assert error_code(log_in(client, unique("guess"), "wrong password"), 401) == "invalid_credentials"
        check_limited(log_in(client, account.username))  # no device cookie: the address is locked
    headers = {"Cookie": f"frontdesk-device={device}"}  # the Secure cookie, sent by hand over plain http
    with client_at(server, ip) as client:
        assert log_in(client, account.username, remember=False).status_code == 429
        client.headers.update(headers)
        assert log_in(client, account.username).status_code == 200, "a known device was locked out"
        assert error_code(log_in(client, account.username, "wrong password"), 401) == "invalid_credentials"
        check_limited(log_in(client, unique("guess")))  # the cookie opens only its own accounts
