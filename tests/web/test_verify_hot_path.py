"""`GET /v1/verify` through a real server: every rule holds on the very next request, uses are
counted within a second and survive a graceful shutdown. On PostgreSQL this is the asyncpg fast path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from frontdesk.models import User, UserSession
from frontdesk.runtime import Frontdesk
from frontdesk.settings import Settings
from frontdesk.web.app import create_server_app
from frontdesk.web.fastverify import VerifyFastPath
from tests.live import LiveServer, start_server
from tests.waiting import wait_until
from tests.web.helpers import sign_up


@pytest.fixture
def db_fd(database_url: str) -> Iterator[Frontdesk]:
    fd = Frontdesk(Settings(database_url=database_url))
    yield fd
    fd.close()


def session_row(fd: Frontdesk, session_id: int) -> UserSession:
    with fd.factory() as db:
        row = db.get(UserSession, session_id)
        assert row is not None
        return row


def set_session(fd: Frontdesk, session_id: int, **values: object) -> None:
    with fd.factory.begin() as db:
        db.execute(update(UserSession).where(UserSession.id == session_id).values(**values))


def cookie_header(token: str) -> dict[str, str]:
    return {"Cookie": f"frontdesk-session={token}"}


def anonymous(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10)


def test_verify_answers_with_identity_headers(live_server: LiveServer) -> None:
    with live_server.client() as browser:
        result = sign_up(browser, "verifier")
        token = browser.cookies["frontdesk-session"]
    with anonymous(live_server) as client:
        ok = client.get("/v1/verify", headers=cookie_header(token))
        assert ok.status_code == 200
        assert ok.headers["x-frontdesk-user-id"] == str(result["user_id"])
        assert ok.headers["x-frontdesk-username"] == "verifier"
        assert ok.headers["x-frontdesk-session-id"] == str(result["session"]["id"])
        assert ok.headers["cache-control"] == "no-store"
        # a cookie token presented as a bearer does not match (cookie sessions and API keys are apart)
        wrong_kind = client.get("/v1/verify", headers={"Authorization": f"Bearer {token}"})
        assert wrong_kind.status_code == 401
        both = client.get("/v1/verify", headers={**cookie_header(token), "Authorization": "Bearer x"})
        assert both.status_code == 401 and both.json()["error"]["code"] == "ambiguous_credentials"
        for junk in ("Bearer x", "Bearer fdk_" + "A" * 43, "Bearer " + "A" * 5000, "Basic dXNlcjpwYXNz", "Bearer"):
            denied = client.get("/v1/verify", headers={"Authorization": junk})
            assert denied.status_code == 401 and denied.json()["error"]["code"] == "unauthenticated"
        assert client.get("/v1/verify").status_code == 401


def test_api_key_verifies_as_bearer_only(live_server: LiveServer) -> None:
    with live_server.client() as browser:
        sign_up(browser, "keyholder")
        created = browser.post("/v1/api-keys", json={"password": "correct horse battery staple", "name": "ci"})
        assert created.status_code == 201, created.text
        key = created.json()["token"]
    with anonymous(live_server) as client:
        assert client.get("/v1/verify", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert client.get("/v1/verify", headers=cookie_header(key)).status_code == 401


def test_revocation_ban_expiry_and_idleness_hold_on_the_next_request(live_server: LiveServer, db_fd: Frontdesk) -> None:
    with live_server.client() as browser:
        result = sign_up(browser, "ruled")
        token = browser.cookies["frontdesk-session"]
    session_id = result["session"]["id"]
    user_id = result["user_id"]
    cookie = cookie_header(token)
    now = datetime.now(UTC)
    calls_before = session_row(db_fd, session_id).api_calls
    with anonymous(live_server) as client:
        assert client.get("/v1/verify", headers=cookie).status_code == 200
        set_session(db_fd, session_id, expiry=now - timedelta(seconds=1))
        assert client.get("/v1/verify", headers=cookie).status_code == 401
        set_session(db_fd, session_id, expiry=now + timedelta(days=1))
        assert client.get("/v1/verify", headers=cookie).status_code == 200
        # a short-lived session unused for 168 hours is dead (first let the two pending uses be written)
        assert wait_until(lambda: session_row(db_fd, session_id).api_calls == calls_before + 2, 5)
        set_session(db_fd, session_id, last_seen=now - timedelta(hours=168, seconds=5))
        assert client.get("/v1/verify", headers=cookie).status_code == 401
        set_session(db_fd, session_id, last_seen=now)
        assert client.get("/v1/verify", headers=cookie).status_code == 200
        with db_fd.factory.begin() as db:
            db.execute(update(User).where(User.id == user_id).values(is_banned=True))
        assert client.get("/v1/verify", headers=cookie).status_code == 401
        with db_fd.factory.begin() as db:
            db.execute(update(User).where(User.id == user_id).values(is_banned=False))
        assert client.get("/v1/verify", headers=cookie).status_code == 200
        set_session(db_fd, session_id, deleted=now)
        assert client.get("/v1/verify", headers=cookie).status_code == 401


def test_uses_are_counted_within_a_second(live_server: LiveServer, db_fd: Frontdesk) -> None:
    with live_server.client() as browser:
        result = sign_up(browser, "counted")
        token = browser.cookies["frontdesk-session"]
    session_id = result["session"]["id"]
    before = session_row(db_fd, session_id)
    with anonymous(live_server) as client:
        for _ in range(25):
            assert client.get("/v1/verify", headers=cookie_header(token)).status_code == 200
    assert wait_until(lambda: session_row(db_fd, session_id).api_calls - before.api_calls == 25, 1.0)
    after = session_row(db_fd, session_id)
    assert after.last_seen > before.last_seen


def test_graceful_shutdown_writes_every_pending_use(database_url: str, tmp_path: Path, db_fd: Frontdesk) -> None:
    # a long flush interval: only the shutdown flush can write these uses
    server = start_server(database_url, tmp_path, extra_env={"FRONTDESK_TOUCH_FLUSH_INTERVAL": "600"})
    try:
        with server.client() as browser:
            result = sign_up(browser, "shutdown")
            token = browser.cookies["frontdesk-session"]
        session_id = result["session"]["id"]
        before = session_row(db_fd, session_id).api_calls
        with anonymous(server) as client:
            for _ in range(40):
                assert client.get("/v1/verify", headers=cookie_header(token)).status_code == 200
        assert session_row(db_fd, session_id).api_calls == before
    finally:
        # uvicorn re-raises the SIGTERM it handled once shutdown is complete
        assert server.stop() in (0, -15)
    assert "Application shutdown complete" in server.log()
    assert session_row(db_fd, session_id).api_calls == before + 40


def test_verify_is_counted_in_the_per_route_metrics(live_server: LiveServer) -> None:
    with anonymous(live_server) as client:
        for _ in range(3):
            client.get("/v1/verify")
        metrics = client.get("/metrics").text
    assert 'frontdesk_verifications_total{result="denied"} 3.0' in metrics
    assert 'frontdesk_http_requests_total{method="GET",route="/v1/verify",status="401"} 3.0' in metrics
    assert 'frontdesk_http_request_seconds_count{route="/v1/verify"} 3.0' in metrics


def test_the_server_answers_verify_in_front_of_the_framework_on_postgresql(database_url: str) -> None:
    app = create_server_app(Settings(database_url=database_url))
    assert isinstance(app, VerifyFastPath) is database_url.startswith("postgresql")
