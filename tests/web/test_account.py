"""Account endpoints (contract section 3): your sessions, password and API keys, through a real server."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from frontdesk.models import UserSession
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user
from frontdesk.service.context import RequestContext
from tests.live import LiveServer, start_server
from tests.waiting import wait_until
from tests.web.helpers import (
    PASSWORD,
    Account,
    bearer,
    create_api_key,
    error_code,
    latest_email,
    log_in,
    make_account,
    signed_in,
    utc_time,
)

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID_SAMSUNG = (
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 "
    "(KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36"
)
UBUNTU_FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0"

SLACK = timedelta(seconds=5)  # a Date header has whole seconds; the server may lag the test
SESSION_FIELDS = {
    "id",
    "name",
    "created",
    "expiry",
    "last_seen",
    "api_calls",
    "long_lived",
    "is_api_key",
    "is_current",
    "aal",
    "factors",
    "authenticated_at",
    "ip_address",
    "user_agent",
    "browser",
    "operating_system",
    "device",
    "approximate_location",
}


def list_all(client: httpx.Client) -> list[dict[str, object]]:
    response = client.get("/v1/sessions", params={"page_size": 100})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"sessions", "next_page_token"} and body["next_page_token"] is None
    return list(body["sessions"])


def sign_in_with_agent(server: LiveServer, account: Account, agent: str) -> int:
    """A new cookie session from a device with this user agent; returns its id."""
    with server.client(headers={"User-Agent": agent}) as device:
        response = log_in(device, account.username)
        assert response.status_code == 200, response.text
        return int(response.json()["session"]["id"])


@pytest.mark.parametrize(
    "path", ["/v1/sessions", "/v1/sessions/1", "/v1/sessions/revoke-others", "/v1/password", "/v1/api-keys"]
)
def test_account_endpoints_need_a_session(server: LiveServer, path: str) -> None:
    method = "GET" if path == "/v1/sessions" else ("DELETE" if path == "/v1/sessions/1" else "POST")
    body = {
        "/v1/sessions/revoke-others": {"confirm": True},
        "/v1/password": {"old_password": "whatever1", "new_password": "whatever2"},
        "/v1/api-keys": {"password": "whatever1", "name": "k"},
    }.get(path)
    with server.client() as anonymous:
        assert error_code(anonymous.request(method, path, json=body), 401) == "unauthenticated"
    with server.client(cookies={"frontdesk-session": "forged"}) as forged:
        assert error_code(forged.request(method, path, json=body), 401) == "unauthenticated"
    with server.client(headers=bearer("fdk_forged")) as forged_key:
        assert error_code(forged_key.request(method, path, json=body), 401) == "unauthenticated"


def test_sessions_list_shape_and_times(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account, remember=True) as browser:
        key = create_api_key(browser, account, name="deploy bot")
        sessions = list_all(browser)
    assert len(sessions) == 2
    for item in sessions:
        assert set(item) == SESSION_FIELDS
        created, expiry, last_seen = (utc_time(item[k]) for k in ("created", "expiry", "last_seen"))
        assert created <= last_seen < expiry
        assert isinstance(item["api_calls"], int) and item["api_calls"] >= 0
        assert item["ip_address"] == "127.0.0.1"
        assert item["approximate_location"] == "Unknown", "loopback has no location"
    by_kind = {bool(s["is_api_key"]): s for s in sessions}
    assert by_kind[True]["id"] == key["id"] and by_kind[True]["name"] == "deploy bot"
    assert by_kind[True]["expiry"] == key["expiry"] and by_kind[True]["is_current"] is False
    assert by_kind[False]["name"] is None and by_kind[False]["is_current"] is True
    assert by_kind[False]["long_lived"] is True and by_kind[False]["user_agent"] == "frontdesk-tests"
    assert by_kind[False]["browser"] == "Other" and by_kind[False]["operating_system"] == "Other"
    assert all("fdk_" not in str(value) for item in sessions for value in item.values()), "a token leaked"


def test_five_sessions_in_pages_of_three(server: LiveServer) -> None:
    account = make_account(server)
    for _ in range(4):
        sign_in_with_agent(server, account, "pager")
    with signed_in(server, account) as browser:
        first = browser.get("/v1/sessions", params={"page_size": 3})
        assert first.status_code == 200, first.text
        page_one = first.json()
        assert len(page_one["sessions"]) == 3 and isinstance(page_one["next_page_token"], str)
        second = browser.get("/v1/sessions", params={"page_size": 3, "page_token": page_one["next_page_token"]})
        assert second.status_code == 200, second.text
        page_two = second.json()
        assert len(page_two["sessions"]) == 2 and page_two["next_page_token"] is None
    listed = page_one["sessions"] + page_two["sessions"]
    assert len({s["id"] for s in listed}) == 5
    seen = [(utc_time(s["last_seen"]), s["id"]) for s in listed]
    assert seen == sorted(seen, reverse=True), "not most recently seen first"
    assert listed[0]["is_current"] is True, "the session in use is the most recently seen"


@pytest.mark.parametrize(
    "params",
    [{"page_token": "garbage!"}, {"page_token": "W10"}, {"page_size": 0}, {"page_size": 101}, {"page_size": "ten"}],
)
def test_bad_page_token_or_size_is_invalid_request(server: LiveServer, params: dict[str, str | int]) -> None:
    with signed_in(server, make_account(server)) as browser:
        assert error_code(browser.get("/v1/sessions", params=params), 400) == "invalid_request"


def test_devices_are_described_from_the_user_agent(server: LiveServer) -> None:
    account = make_account(server)
    agents = (IPHONE_SAFARI, ANDROID_SAMSUNG, UBUNTU_FIREFOX)
    ids = {agent: sign_in_with_agent(server, account, agent) for agent in agents}
    with signed_in(server, account) as browser:
        by_id = {s["id"]: s for s in list_all(browser)}
    described = {
        agent: (by_id[i]["operating_system"], by_id[i]["browser"], by_id[i]["device"], by_id[i]["user_agent"])
        for agent, i in ids.items()
    }
    assert described[IPHONE_SAFARI] == ("iOS", "Mobile Safari", "iPhone", IPHONE_SAFARI)
    assert described[ANDROID_SAMSUNG] == ("Android", "Samsung Internet", "Samsung SM-S911B", ANDROID_SAMSUNG)
    assert described[UBUNTU_FIREFOX] == ("Ubuntu", "Firefox", "Other", UBUNTU_FIREFOX)


def test_deleting_a_session_stops_it_at_once_and_leaves_the_others(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as victim, signed_in(server, account) as bystander:
        victim_id = int(victim.get("/v1/verify").headers["x-frontdesk-session-id"])
        with signed_in(server, account) as browser:
            key = create_api_key(browser, account)
            before = {s["id"]: s for s in list_all(browser)}
            assert browser.delete(f"/v1/sessions/{victim_id}").status_code == 204
            assert error_code(victim.get("/v1/sessions"), 401) == "unauthenticated"
            assert victim.get("/v1/verify").status_code == 401
            after = {s["id"]: s for s in list_all(browser)}
            assert set(after) == set(before) - {victim_id}
            for session_id, item in after.items():
                unchanged = {k: v for k, v in item.items() if k not in ("last_seen", "api_calls")}
                assert unchanged == {k: v for k, v in before[session_id].items() if k not in ("last_seen", "api_calls")}
            assert bystander.get("/v1/verify").status_code == 200
            with httpx.Client(base_url=server.url, headers=bearer(str(key["token"]))) as api:
                assert api.get("/v1/verify").status_code == 200
            assert error_code(browser.delete(f"/v1/sessions/{victim_id}"), 404) == "not_found"


def test_deleting_the_current_or_someone_elses_session_is_refused(server: LiveServer) -> None:
    owner, other = make_account(server), make_account(server)
    with signed_in(server, owner) as browser, signed_in(server, other) as stranger:
        mine = int(browser.get("/v1/verify").headers["x-frontdesk-session-id"])
        theirs = int(stranger.get("/v1/verify").headers["x-frontdesk-session-id"])
        assert error_code(browser.delete(f"/v1/sessions/{mine}"), 400) == "cannot_delete_current_session"
        assert error_code(browser.delete(f"/v1/sessions/{theirs}"), 404) == "not_found"
        assert stranger.get("/v1/verify").status_code == 200
        for bad in ("0", "-1", str(2**63), "99999999999"):
            assert error_code(browser.delete(f"/v1/sessions/{bad}"), 404) == "not_found"
        assert error_code(browser.delete("/v1/sessions/abc"), 404) == "not_found"  # no such route
        assert browser.get("/v1/verify").status_code == 200


def test_revoke_others_needs_confirm_and_leaves_exactly_the_current_session(server: LiveServer) -> None:
    account = make_account(server)
    for agent in (IPHONE_SAFARI, ANDROID_SAMSUNG, UBUNTU_FIREFOX):
        sign_in_with_agent(server, account, agent)
    with signed_in(server, account) as browser:
        current = int(browser.get("/v1/verify").headers["x-frontdesk-session-id"])
        for body in ({}, {"confirm": False}):
            assert error_code(browser.post("/v1/sessions/revoke-others", json=body), 400) == "must_confirm"
        assert len(list_all(browser)) == 4, "a refused revoke changed something"
        response = browser.post("/v1/sessions/revoke-others", json={"confirm": True})
        assert response.status_code == 200 and response.json() == {"revoked": 3}
        remaining = list_all(browser)
        assert [(s["id"], s["is_current"]) for s in remaining] == [(current, True)]
        again = browser.post("/v1/sessions/revoke-others", json={"confirm": True})
        assert again.json() == {"revoked": 0}


def test_revoke_others_spares_api_keys(server: LiveServer) -> None:
    account = make_account(server)
    sign_in_with_agent(server, account, "elsewhere")
    with signed_in(server, account) as browser:
        key = create_api_key(browser, account)
        assert browser.post("/v1/sessions/revoke-others", json={"confirm": True}).json() == {"revoked": 1}
        assert {s["id"] for s in list_all(browser)} == {
            int(browser.get("/v1/verify").headers["x-frontdesk-session-id"]),
            key["id"],
        }


def test_change_password(server: LiveServer) -> None:
    account = make_account(server)
    new_password = "another long passphrase"
    with signed_in(server, account) as browser, signed_in(server, account) as elsewhere:
        key = create_api_key(browser, account)
        wrong = browser.post("/v1/password", json={"old_password": "wrong password", "new_password": new_password})
        assert error_code(wrong, 401) == "invalid_credentials"
        weak = browser.post("/v1/password", json={"old_password": account.password, "new_password": "password"})
        assert error_code(weak, 400) == "insecure_password"
        short = browser.post("/v1/password", json={"old_password": account.password, "new_password": "2short"})
        assert error_code(short, 400) == "password_too_short"
        assert elsewhere.get("/v1/verify").status_code == 200, "a refused change ended sessions"

        done = browser.post("/v1/password", json={"old_password": account.password, "new_password": new_password})
        assert done.status_code == 204 and done.content == b""
        assert browser.get("/v1/verify").status_code == 200, "the current session survives"
        assert elsewhere.get("/v1/verify").status_code == 401, "other cookie sessions end"
        with httpx.Client(base_url=server.url, headers=bearer(str(key["token"]))) as api:
            assert api.get("/v1/verify").status_code == 401, "API keys end too"
        assert "password was changed" in latest_email(browser, account.email)["subject"].lower()
        kept = create_api_key(browser, dataclasses.replace(account, password=new_password))
        again = {"old_password": new_password, "new_password": "a third long passphrase", "keep_api_keys": True}
        assert browser.post("/v1/password", json=again).status_code == 204
        with httpx.Client(base_url=server.url, headers=bearer(str(kept["token"]))) as api:
            assert api.get("/v1/verify").status_code == 200, "keep_api_keys kept the key"
        assert latest_email(browser, account.email, "a new API key was created")
    with server.client() as fresh:
        assert error_code(log_in(fresh, account.username), 401) == "invalid_credentials"
        assert log_in(fresh, account.username, "a third long passphrase").status_code == 200


def test_api_keys(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser:
        response = browser.post("/v1/api-keys", json={"password": account.password, "name": "ci", "expiry_days": 3})
        assert response.status_code == 201, response.text
        key = response.json()
        assert set(key) == {"id", "token", "expiry"}
        token = str(key["token"])
        assert token.startswith("fdk_") and len(token) >= 40
        lifetime = utc_time(key["expiry"]) - parsedate_to_datetime(response.headers["date"])
        assert abs(lifetime - timedelta(days=3)) < SLACK
        default = browser.post("/v1/api-keys", json={"password": account.password, "name": "default"})
        expiry = utc_time(default.json()["expiry"])
        assert abs(expiry - parsedate_to_datetime(default.headers["date"]) - timedelta(days=365)) < SLACK

        wrong = browser.post("/v1/api-keys", json={"password": "not my password", "name": "x"})
        assert error_code(wrong, 401) == "invalid_credentials"
        for days in (0, 731, -5):
            bad = browser.post("/v1/api-keys", json={"password": account.password, "name": "x", "expiry_days": days})
            assert error_code(bad, 400) == "invalid_request"
        empty = browser.post("/v1/api-keys", json={"password": account.password, "name": ""})
        assert error_code(empty, 400) == "invalid_request"
    with httpx.Client(base_url=server.url, headers=bearer(token)) as api:
        verify = api.get("/v1/verify")
        assert verify.status_code == 200 and verify.headers["x-frontdesk-session-id"] == str(key["id"])
        nested = api.post("/v1/api-keys", json={"password": account.password, "name": "nested"})
        assert error_code(nested, 403) == "forbidden"
        listed = api.get("/v1/sessions").json()["sessions"]
        assert [s["is_current"] for s in listed if s["id"] == key["id"]] == [True]


def test_every_authenticated_request_counts_as_a_call(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser:
        key = create_api_key(browser, account)
        with httpx.Client(base_url=server.url, headers=bearer(str(key["token"]))) as api:
            for _ in range(5):
                assert api.get("/v1/verify").status_code == 200

        def listed() -> dict[str, object]:
            return next(s for s in list_all(browser) if s["id"] == key["id"])

        # the contract says within 1 s; the extra bounds the wait on a loaded machine
        assert wait_until(lambda: listed()["api_calls"] == 5, 3)
        item = listed()
        assert utc_time(item["last_seen"]) > utc_time(item["created"])


def test_api_keys_without_expiry_days_live_the_configured_default(
    fd: Frontdesk, database_url: str, tmp_path: Path
) -> None:
    """FRONTDESK_API_KEY_DEFAULT_DAYS holds for the caller's own keys and an administrator's."""
    ctx = RequestContext(ip_address="192.0.2.1", user_agent="tests")
    fd.call(
        create_user, email="boss@example.com", username="boss", password=PASSWORD, name="B", ctx=ctx, is_superuser=True
    )
    target = fd.call(create_user, email="kept@example.com", username="kept", password=PASSWORD, name="K", ctx=ctx)
    server = start_server(database_url, tmp_path, extra_env={"FRONTDESK_API_KEY_DEFAULT_DAYS": "30"})
    try:
        with server.client() as boss:
            assert log_in(boss, "boss").status_code == 200
            own = boss.post("/v1/api-keys", json={"password": PASSWORD, "name": "default"})
            assert own.status_code == 201, own.text
            lifetime = utc_time(own.json()["expiry"]) - parsedate_to_datetime(own.headers["date"])
            assert abs(lifetime - timedelta(days=30)) < SLACK
            assert error_code(
                boss.post("/v1/api-keys", json={"password": PASSWORD, "name": "n", "expiry_days": None}), 400
            )
            emailed = boss.post(f"/v1/admin/users/{target.id}/api-keys", json={})
            assert emailed.status_code == 202, emailed.text
    finally:
        server.stop()
    keys = fd.read(
        lambda db, _: list(
            db.scalars(select(UserSession).where(UserSession.user_id == target.id, UserSession.is_api_key))
        )
    )
    assert [key.expiry - key.created for key in keys] == [timedelta(days=30)]
