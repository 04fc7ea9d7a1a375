"""Races through the HTTP API against PostgreSQL, on a server with two worker processes.

50 requests released together by a barrier use one token: exactly one wins. Revocation races
with verification: once the revoking request has answered, no verification succeeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from frontdesk.db import make_engine
from frontdesk.models import AuthEvent, SignupToken, User, UserSession
from frontdesk.settings import Settings
from tests.databases import empty_database
from tests.live import LiveServer
from tests.reliability.conftest import (
    all_at_once,
    api_key,
    count_rows,
    emailed_token,
    log_in_fresh,
    make_superuser,
    new_account,
    serve,
)
from tests.waiting import wait_until
from tests.web.helpers import PASSWORD, code_in, latest_email, token_in

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

N = 50


@pytest.fixture(scope="module")
def server(postgresql_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One two-worker server for the module (each test uses its own accounts)."""
    empty_database(postgresql_database_url)
    live = serve(postgresql_database_url, tmp_path_factory.mktemp("races"), workers=2)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def engine(postgresql_database_url: str) -> Iterator[Engine]:
    engine = make_engine(Settings(database_url=postgresql_database_url))
    yield engine
    engine.dispose()


def post_all(server: LiveServer, path: str, bodies: Callable[[int], dict[str, object]]) -> list[httpx.Response]:
    """N POSTs released at once, each on its own connection."""

    def one(i: int) -> httpx.Response:
        with server.client() as client:
            return client.post(path, json=bodies(i))

    return all_at_once(N, one)


def outcome(responses: list[httpx.Response]) -> dict[tuple[int, str], int]:
    counts: dict[tuple[int, str], int] = {}
    for r in responses:
        key = (r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else "ok")
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_one_login_link_used_50_times_at_once_signs_in_once(server: LiveServer, engine: Engine) -> None:
    alice = new_account(server, "link_user")
    with server.client() as client:
        assert client.post("/v1/login-link", json={"user": "link_user"}).status_code == 202
    token = emailed_token(server, alice.email, "sign-in link")  # not "Confirm ... signing up"
    sessions_before = count_rows(engine, UserSession)
    responses = post_all(server, "/v1/login-link/confirm", lambda _: {"token": token})
    assert outcome(responses) == {(200, "ok"): 1, (400, "invalid_token"): N - 1}
    assert count_rows(engine, UserSession) == sessions_before + 1
    assert count_rows(engine, AuthEvent, AuthEvent.event == "login.succeeded", AuthEvent.detail == "login_link") == 1


def test_one_sign_in_code_used_50_times_at_once_signs_in_once(server: LiveServer, engine: Engine) -> None:
    """The code of a sign-in email, 50 times at once on two worker processes: one session; the
    rest are a wrong code's 401 or, past the account's login limit, 429; and its link is dead."""
    alice = new_account(server, "code_user")
    with server.client() as client:
        assert client.post("/v1/login-link", json={"user": "code_user"}).status_code == 202
        email = latest_email(client, alice.email, "sign-in link")
    token, code = token_in(email), code_in(email)
    sessions_before = count_rows(engine, UserSession)
    responses = post_all(server, "/v1/login-link/confirm", lambda _: {"user": "code_user", "code": code})
    counts = outcome(responses)
    assert counts.get((200, "ok")) == 1, counts
    assert set(counts) <= {(200, "ok"), (401, "invalid_code"), (429, "rate_limited")}, counts
    assert count_rows(engine, UserSession) == sessions_before + 1
    assert count_rows(engine, AuthEvent, AuthEvent.event == "login.succeeded", AuthEvent.detail == "login_code") == 1
    with server.client() as client:
        assert client.post("/v1/login-link/confirm", json={"token": token}).status_code == 400


def test_one_reset_link_used_50_times_at_once_resets_once(server: LiveServer, engine: Engine) -> None:
    alice = new_account(server, "reset_user")
    with server.client() as client:
        assert client.post("/v1/password-reset", json={"user": "reset_user"}).status_code == 202
    token = emailed_token(server, alice.email, "reset")
    responses = post_all(
        server, "/v1/password-reset/confirm", lambda i: {"token": token, "new_password": f"{PASSWORD} {i:02d}"}
    )
    assert outcome(responses) == {(200, "ok"): 1, (400, "invalid_token"): N - 1}
    winner = next(i for i, r in enumerate(responses) if r.status_code == 200)
    # the password is the winner's, and only the winner's
    with server.client() as client:
        won = {"user": "reset_user", "password": f"{PASSWORD} {winner:02d}"}
        assert client.post("/v1/login", json=won).status_code == 200
        lost = {"user": "reset_user", "password": f"{PASSWORD} {(winner + 1) % N:02d}"}
        assert client.post("/v1/login", json=lost).status_code == 401
    assert count_rows(engine, AuthEvent, AuthEvent.event == "password_reset.completed") == 1


def test_one_signup_link_used_50_times_at_once_creates_one_user(server: LiveServer, engine: Engine) -> None:
    with server.client() as client:
        body = {"email": "bob@example.com", "username": "bob", "password": PASSWORD, "name": "Bob"}
        assert client.post("/v1/signup", json=body).status_code == 202
    token = emailed_token(server, "bob@example.com", "confirm")
    responses = post_all(server, "/v1/signup/confirm", lambda _: {"token": token})
    assert outcome(responses) == {(200, "ok"): 1, (400, "invalid_token"): N - 1}
    assert count_rows(engine, User, User.username_key == "bob") == 1


def test_50_signups_of_one_username_make_one_user(server: LiveServer, engine: Engine) -> None:
    """50 people ask for "racer" at once (each with their own email), then all confirm at once."""
    requests = post_all(
        server,
        "/v1/signup",
        lambda i: {"email": f"racer{i}@example.com", "username": "Racer", "password": PASSWORD, "name": f"R {i}"},
    )
    assert outcome(requests) == {(202, "ok"): N}
    assert count_rows(engine, SignupToken, SignupToken.username_key == "racer") == N
    tokens = [emailed_token(server, f"racer{i}@example.com", "confirm") for i in range(N)]
    confirms = post_all(server, "/v1/signup/confirm", lambda i: {"token": tokens[i]})
    assert outcome(confirms) == {(200, "ok"): 1, (409, "username_taken"): N - 1}
    assert count_rows(engine, User, User.username_key == "racer") == 1
    # and nobody can take it afterwards
    with server.client() as client:
        late = {"email": "late@example.com", "username": "RACER", "password": PASSWORD, "name": "Late"}
        assert client.post("/v1/signup", json=late).status_code == 409


def test_50_signups_of_one_email_make_one_user(server: LiveServer, engine: Engine) -> None:
    requests = post_all(
        server,
        "/v1/signup",
        lambda i: {"email": "same@example.com", "username": f"same{i}", "password": PASSWORD, "name": f"S {i}"},
    )
    assert {r.status_code for r in requests} == {202}
    tokens = {t for t in _all_tokens(server, "same@example.com")}
    assert 1 <= len(tokens) <= N
    ordered = sorted(tokens)
    confirms = post_all(server, "/v1/signup/confirm", lambda i: {"token": ordered[i % len(ordered)]})
    assert sum(r.status_code == 200 for r in confirms) == 1
    assert all(r.status_code in (200, 400) for r in confirms), outcome(confirms)
    assert count_rows(engine, User, User.email_key == "same@example.com") == 1


def _all_tokens(server: LiveServer, to: str) -> list[str]:
    import re

    with server.client() as client:
        mails = client.get("/dev/mail.json").json()
    found = []
    for mail in mails:
        if mail["to"] == to and "confirm" in mail["subject"].lower():
            match = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", mail["text"])
            if match:
                found.append(match.group(1))
    return found


# --- revocation against verification -------------------------------------------------------------


class Verifier:
    """Threads calling /v1/verify with one credential as fast as they can, recording when each
    request was sent and what it got."""

    def __init__(self, server: LiveServer, headers: dict[str, str], threads: int = 6) -> None:
        self.server = server
        self.headers = headers
        self.results: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.server.url, headers=self.headers, timeout=20) as client:
            while not self._stop.is_set():
                sent = time.monotonic()
                status = client.get("/v1/verify").status_code
                with self._lock:
                    self.results.append((sent, status))

    def __enter__(self) -> Verifier:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def succeeded_after(self, moment: float) -> list[tuple[float, int]]:
        return [(t, s) for t, s in self.results if t > moment and s == 200]

    def sent_after(self, moment: float) -> int:
        return sum(t > moment for t, _ in self.results)


def race(server: LiveServer, headers: dict[str, str], revoke: Callable[[], httpx.Response], expect: int) -> None:
    with Verifier(server, headers) as verifier:
        # verifications succeed while the credential lives...
        assert wait_until(lambda: len(verifier.succeeded_after(0)) >= 5, 10)
        response = revoke()
        answered = time.monotonic()
        assert response.status_code == expect, response.text
        # ...and keep coming after the revocation answered
        assert wait_until(lambda: verifier.sent_after(answered) >= 30, 10)
    assert any(s == 200 and t < answered for t, s in verifier.results), "no verification succeeded before"
    assert verifier.sent_after(answered) >= 5
    assert verifier.succeeded_after(answered) == []


def _cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"frontdesk-session={token}"}


def test_no_verification_succeeds_once_a_revocation_has_answered(
    server: LiveServer, postgresql_database_url: str
) -> None:
    alice = new_account(server, "alice")
    admin = new_account(server, "boss")
    make_superuser(postgresql_database_url, admin.user_id)

    def session_id_of(token: str) -> int:
        with server.client(headers=_cookie(token)) as client:
            return int(next(s["id"] for s in client.get("/v1/sessions").json()["sessions"] if s["is_current"]))

    def with_alice(method: str, path: str, **kwargs: Any) -> Callable[[], httpx.Response]:
        def call() -> httpx.Response:
            with server.client(headers=alice.cookie_header()) as client:
                return client.request(method, path, **kwargs)

        return call

    def as_admin(path: str) -> Callable[[], httpx.Response]:
        def call() -> httpx.Response:
            with server.client(headers=admin.cookie_header()) as client:
                return client.post(path)

        return call

    # 1. the owner ends one of their sessions from another browser
    victim = log_in_fresh(server, "alice")
    race(server, _cookie(victim), with_alice("DELETE", f"/v1/sessions/{session_id_of(victim)}"), 204)
    # 2. logout of the session itself
    victim = log_in_fresh(server, "alice")

    def logout() -> httpx.Response:
        with server.client(headers=_cookie(victim)) as client:
            return client.post("/v1/logout")

    race(server, _cookie(victim), logout, 204)
    # 3. "sign out everywhere else"
    victim = log_in_fresh(server, "alice")
    race(server, _cookie(victim), with_alice("POST", "/v1/sessions/revoke-others", json={"confirm": True}), 200)
    # 4. an API key revoked by its owner
    key = api_key(server, alice)
    with server.client(headers={"Authorization": f"Bearer {key}"}) as client:
        key_id = int(next(s["id"] for s in client.get("/v1/sessions").json()["sessions"] if s["is_current"]))
    race(server, {"Authorization": f"Bearer {key}"}, with_alice("DELETE", f"/v1/sessions/{key_id}"), 204)
    # 5. password change ends the other browser sessions
    victim = log_in_fresh(server, "alice")
    new_password = PASSWORD + " 2"
    race(
        server,
        _cookie(victim),
        with_alice("POST", "/v1/password", json={"old_password": PASSWORD, "new_password": new_password}),
        204,
    )
    # 6. an administrator revokes everything, 7. bans
    victim = log_in_fresh(server, "alice", new_password)
    race(server, _cookie(victim), as_admin(f"/v1/admin/users/{alice.user_id}/revoke-sessions"), 200)
    victim = log_in_fresh(server, "alice", new_password)
    race(server, _cookie(victim), as_admin(f"/v1/admin/users/{alice.user_id}/ban"), 204)
