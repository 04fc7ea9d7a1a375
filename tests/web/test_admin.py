"""Admin endpoints (contract section 3) through a real server: bans, revocation, API keys by email."""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest

from tests.live import LiveServer
from tests.web.helpers import (
    bearer,
    create_api_key,
    error_code,
    latest_email,
    log_in,
    make_account,
    signed_in,
    utc_time,
)

ACTIONS = [
    ("ban", None),
    ("unban", None),
    ("revoke-sessions", None),
    ("api-keys", {"expiry_days": 30}),
    ("reset-second-factors", None),
]


def newest_email_id(client: httpx.Client) -> int:
    emails = client.get("/dev/mail.json").json()
    return int(emails[0]["id"]) if emails else 0


@pytest.mark.parametrize(("action", "body"), ACTIONS)
def test_admin_endpoints_are_forbidden_to_everyone_else(
    server: LiveServer, action: str, body: dict[str, int] | None
) -> None:
    user, target = make_account(server), make_account(server)
    path = f"/v1/admin/users/{target.user_id}/{action}"
    with signed_in(server, target) as victim, signed_in(server, user) as browser:
        key = create_api_key(browser, user)
        before = newest_email_id(browser)
        assert error_code(browser.post(path, json=body), 403) == "forbidden"
        with server.client() as anonymous:
            assert error_code(anonymous.post(path, json=body), 403) == "forbidden"
        with httpx.Client(base_url=server.url, headers=bearer(str(key["token"]))) as api:
            assert error_code(api.post(path, json=body), 403) == "forbidden"
        assert victim.get("/v1/verify").status_code == 200, "a refused admin action changed something"
        assert newest_email_id(browser) == before, "a refused admin action sent an email"


def test_ban_stops_every_session_at_once_and_login_says_suspended_only_after_the_password(server: LiveServer) -> None:
    admin, target = make_account(server, superuser=True), make_account(server)
    with signed_in(server, admin) as boss, signed_in(server, target) as browser:
        key = create_api_key(browser, target)
        assert browser.get("/v1/verify").status_code == 200
        response = boss.post(f"/v1/admin/users/{target.user_id}/ban")
        assert response.status_code == 204 and response.content == b""

        assert browser.get("/v1/verify").status_code == 401, "a banned user's session still works"
        assert error_code(browser.get("/v1/sessions"), 401) == "unauthenticated"
        with httpx.Client(base_url=server.url, headers=bearer(str(key["token"]))) as api:
            assert api.get("/v1/verify").status_code == 401, "a banned user's API key still works"
        with server.client() as fresh:
            assert error_code(log_in(fresh, target.username, "a wrong password"), 401) == "invalid_credentials"
            assert error_code(log_in(fresh, target.username), 403) == "account_suspended"
            assert "set-cookie" not in log_in(fresh, target.email).headers
            before = newest_email_id(fresh)
            assert fresh.post("/v1/login-link", json={"user": target.username}).status_code == 202
            assert fresh.post("/v1/password-reset", json={"user": target.username}).status_code == 202
            assert newest_email_id(fresh) == before, "a banned user was emailed a way in"

        assert boss.post(f"/v1/admin/users/{target.user_id}/unban").status_code == 204
        assert browser.get("/v1/verify").status_code == 401, "an unban brought back a session"
        with httpx.Client(base_url=server.url, headers=bearer(str(key["token"]))) as api:
            assert api.get("/v1/verify").status_code == 401, "an unban brought back an API key"
        with server.client() as fresh:
            assert log_in(fresh, target.username).status_code == 200
        assert boss.get("/v1/verify").status_code == 200


def test_admin_actions_on_unknown_users(server: LiveServer) -> None:
    admin = make_account(server, superuser=True)
    with signed_in(server, admin) as boss:
        for action, body in ACTIONS:
            for user_id in ("0", "999999999", str(2**63)):
                response = boss.post(f"/v1/admin/users/{user_id}/{action}", json=body)
                assert error_code(response, 404) == "not_found", (action, user_id)
            assert error_code(boss.post(f"/v1/admin/users/abc/{action}", json=body), 400) == "invalid_request"


def test_revoke_sessions_ends_every_session_and_api_key(server: LiveServer) -> None:
    admin, target = make_account(server, superuser=True), make_account(server)
    with signed_in(server, admin) as boss, signed_in(server, target) as one, signed_in(server, target) as two:
        key = create_api_key(one, target)
        response = boss.post(f"/v1/admin/users/{target.user_id}/revoke-sessions")
        assert response.status_code == 200 and response.json() == {"revoked": 3}
        assert one.get("/v1/verify").status_code == 401 and two.get("/v1/verify").status_code == 401
        with httpx.Client(base_url=server.url, headers=bearer(str(key["token"]))) as api:
            assert api.get("/v1/verify").status_code == 401
        assert boss.post(f"/v1/admin/users/{target.user_id}/revoke-sessions").json() == {"revoked": 0}
        assert boss.get("/v1/verify").status_code == 200, "the admin's own session was revoked"
    with server.client() as fresh:
        assert log_in(fresh, target.username).status_code == 200, "revocation is not a ban"


def test_admin_api_key_is_emailed_and_never_returned(server: LiveServer) -> None:
    admin, target = make_account(server, superuser=True), make_account(server)
    with signed_in(server, admin) as boss:
        response = boss.post(f"/v1/admin/users/{target.user_id}/api-keys", json={"expiry_days": 7})
        assert response.status_code == 202, response.text
        assert "fdk_" not in response.text and not any("fdk_" in v for v in response.headers.values())
        email = latest_email(boss, target.email, "api key")
        match = re.search(r"fdk_[A-Za-z0-9_\-]+", email["text"])
        assert match, "the key is not in the email"
        for days in (0, 731):
            bad = boss.post(f"/v1/admin/users/{target.user_id}/api-keys", json={"expiry_days": days})
            assert error_code(bad, 400) == "invalid_request"
    with httpx.Client(base_url=server.url, headers=bearer(match.group(0))) as api:
        me = api.get("/v1/session").json()
        assert me["user_id"] == target.user_id and me["is_api_key"] is True
        lifetime = utc_time(me["expiry"]) - parsedate_to_datetime(response.headers["date"])
        assert abs(lifetime - timedelta(days=7)) < timedelta(seconds=10)
    with server.client() as anonymous:
        response = anonymous.get("/v1/sessions", headers=bearer(match.group(0) + "x"))
        assert error_code(response, 401) == "unauthenticated"
