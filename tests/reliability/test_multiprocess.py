"""Two frontdesk servers on one PostgreSQL behave as one service.

Server A and server B are separate `frontdesk serve` processes (as on two machines behind a
load balancer). What one does, the other sees on its very next request: bans, revocations,
password changes, rate limits, single-use tokens, and the use counters.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine, select

from frontdesk.crypto import digest
from frontdesk.db import make_engine
from frontdesk.models import OutboxEmail, UserSession
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
from tests.web.helpers import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FAILURES_PER_ACCOUNT = 6
EMAILS_PER_ADDRESS = 3


@dataclass
class Pair:
    a: LiveServer
    b: LiveServer
    engine: Engine
    database_url: str


@pytest.fixture(scope="module")
def pair(postgresql_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    empty_database(postgresql_database_url)
    env = {
        "FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT": str(FAILURES_PER_ACCOUNT),
        "FRONTDESK_EMAILS_PER_ADDRESS": str(EMAILS_PER_ADDRESS),
    }
    a = serve(postgresql_database_url, tmp_path_factory.mktemp("server-a"), env=env)
    b = serve(postgresql_database_url, tmp_path_factory.mktemp("server-b"), env=env)
    engine = make_engine(Settings(database_url=postgresql_database_url))
    try:
        yield Pair(a, b, engine, postgresql_database_url)
    finally:
        a.stop()
        b.stop()
        engine.dispose()


def verify(server: LiveServer, headers: dict[str, str]) -> int:
    with server.client(headers=headers) as client:
        return client.get("/v1/verify").status_code


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"frontdesk-session={token}"}


def test_a_ban_on_one_server_holds_on_the_other_at_once(pair: Pair) -> None:
    user = new_account(pair.a, "banned_user")
    admin = new_account(pair.a, "ban_admin")
    make_superuser(pair.database_url, admin.user_id)
    key = api_key(pair.b, user)
    assert verify(pair.b, user.cookie_header()) == 200
    with pair.a.client(headers=admin.cookie_header()) as client:
        assert client.post(f"/v1/admin/users/{user.user_id}/ban").status_code == 204
    assert verify(pair.b, user.cookie_header()) == 401
    assert verify(pair.b, {"Authorization": f"Bearer {key}"}) == 401
    with pair.b.client() as client:
        refused = client.post("/v1/login", json={"user": "banned_user", "password": PASSWORD})
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "account_suspended")
    with pair.b.client(headers=admin.cookie_header()) as client:
        assert client.post(f"/v1/admin/users/{user.user_id}/unban").status_code == 204
    with pair.a.client() as client:
        assert client.post("/v1/login", json={"user": "banned_user", "password": PASSWORD}).status_code == 200


def test_revocations_on_one_server_hold_on_the_other_at_once(pair: Pair) -> None:
    user = new_account(pair.a, "revoked_user")
    other = log_in_fresh(pair.b, "revoked_user")
    with pair.b.client(headers=cookie(other)) as client:
        other_id = next(s["id"] for s in client.get("/v1/sessions").json()["sessions"] if s["is_current"])
    # one session deleted on A: dead on B
    assert verify(pair.b, cookie(other)) == 200
    with pair.a.client(headers=user.cookie_header()) as client:
        assert client.delete(f"/v1/sessions/{other_id}").status_code == 204
    assert verify(pair.b, cookie(other)) == 401
    # "sign out everywhere else" on B: dead on A
    third = log_in_fresh(pair.a, "revoked_user")
    with pair.b.client(headers=user.cookie_header()) as client:
        assert client.post("/v1/sessions/revoke-others", json={"confirm": True}).json() == {"revoked": 1}
    assert verify(pair.a, cookie(third)) == 401
    # password changed on A, keeping API keys: the other browser session, on B, is dead; the key is not
    fourth = log_in_fresh(pair.b, "revoked_user")
    key = api_key(pair.a, user)
    with pair.a.client(headers=user.cookie_header()) as client:
        body = {"old_password": PASSWORD, "new_password": PASSWORD + "!", "keep_api_keys": True}
        assert client.post("/v1/password", json=body).status_code == 204
    assert verify(pair.b, cookie(fourth)) == 401
    assert verify(pair.b, {"Authorization": f"Bearer {key}"}) == 200
    # password changed again on A, the default way (contract section 3): the API key is dead on B too
    with pair.a.client(headers=user.cookie_header()) as client:
        body = {"old_password": PASSWORD + "!", "new_password": PASSWORD + "!!"}
        assert client.post("/v1/password", json=body).status_code == 204
    assert verify(pair.b, {"Authorization": f"Bearer {key}"}) == 401
    # logout on B: dead on A
    fifth = log_in_fresh(pair.b, "revoked_user", PASSWORD + "!!")
    with pair.b.client(headers=cookie(fifth)) as client:
        assert client.post("/v1/logout").status_code == 204
    assert verify(pair.a, cookie(fifth)) == 401


def test_login_rate_limit_counts_failures_from_every_server(pair: Pair) -> None:
    new_account(pair.a, "limited_user")
    servers = [pair.a, pair.b]
    codes = []
    for attempt in range(FAILURES_PER_ACCOUNT + 2):
        with servers[attempt % 2].client() as client:
            response = client.post("/v1/login", json={"user": "limited_user", "password": f"wrong {attempt}"})
            codes.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
    assert codes == [401] * FAILURES_PER_ACCOUNT + [429, 429]
    for server in servers:  # even the right password waits out the window, on either server
        with server.client() as client:
            assert client.post("/v1/login", json={"user": "limited_user", "password": PASSWORD}).status_code == 429


def test_email_limit_counts_emails_from_every_server(pair: Pair) -> None:
    user = new_account(pair.a, "mailed_user")  # its signup email is the first of the window
    for attempt in range(2 * EMAILS_PER_ADDRESS):
        with [pair.a, pair.b][attempt % 2].client() as client:
            assert client.post("/v1/login-link", json={"user": "mailed_user"}).status_code == 202
    assert count_rows(pair.engine, OutboxEmail, OutboxEmail.to_address == user.email) == EMAILS_PER_ADDRESS


def test_a_login_link_used_on_both_servers_at_once_signs_in_once(pair: Pair) -> None:
    user = new_account(pair.a, "token_user")
    with pair.b.client() as client:
        assert client.post("/v1/login-link", json={"user": "token_user"}).status_code == 202
    token = emailed_token(pair.a, user.email, "sign-in link")  # not "Confirm ... signing up"

    def confirm(i: int) -> int:
        with [pair.a, pair.b][i % 2].client() as client:
            return client.post("/v1/login-link/confirm", json={"token": token}).status_code

    assert sorted(all_at_once(40, confirm)) == [200] + [400] * 39


def test_uses_counted_by_both_servers_add_up_within_a_second(pair: Pair) -> None:
    new_account(pair.a, "counted_user")
    token = log_in_fresh(pair.a, "counted_user")
    for _ in range(25):
        assert verify(pair.a, cookie(token)) == 200
        assert verify(pair.b, cookie(token)) == 200
    done = time.monotonic()

    def calls() -> int:
        with pair.engine.connect() as conn:
            return int(conn.scalar(select(UserSession.api_calls).where(UserSession.token_hash == digest(token))) or 0)

    assert wait_until(lambda: calls() == 50, timeout=1.5), calls()
    assert time.monotonic() - done < 1.5


def test_either_server_answers_for_sessions_the_other_issued(pair: Pair) -> None:
    user = new_account(pair.b, "roaming_user")
    for server in (pair.a, pair.b):
        with server.client(headers=user.cookie_header()) as client:
            me = client.get("/v1/session").json()
            assert me["logged_in"] is True and me["username"] == "roaming_user"
    with httpx.Client(base_url=pair.a.url, headers=user.cookie_header()) as client:
        assert client.get("/v1/sessions").status_code == 200
