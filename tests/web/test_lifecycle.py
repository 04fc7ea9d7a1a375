"""Account lifecycle endpoints (contract section 7) through a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from tests.live import LiveServer
from tests.web.helpers import (
    bearer,
    check_auth_result,
    create_api_key,
    error_code,
    latest_email,
    log_in,
    make_account,
    set_cookies,
    signed_in,
    token_in,
    utc_time,
)
from tests.web.test_fresh import age

NEW = "another good passphrase"


def test_every_route_needs_what_the_contract_says(server: LiveServer) -> None:
    with server.client() as anonymous:
        assert error_code(anonymous.post("/v1/email", json={"new_email": "x@example.com"}), 401) == "unauthenticated"
        assert error_code(anonymous.request("DELETE", "/v1/account", json={"confirm": True}), 401) == "unauthenticated"
        for path in ("/v1/email/confirm", "/v1/email/revert", "/v1/account/restore"):
            assert error_code(anonymous.post(path, json={"token": "x" * 43}), 400) == "invalid_token"
            assert error_code(anonymous.post(path, json={}), 400) == "invalid_request"
    alice = make_account(server)
    with signed_in(server, alice) as client:
        key = str(create_api_key(client, alice)["token"])
        assert error_code(client.post("/v1/email", json={"new_email": "nope"}), 400) == "invalid_email"
        assert error_code(client.request("DELETE", "/v1/account", json={}), 400) == "must_confirm"
        assert error_code(client.request("DELETE", "/v1/account", json={"confirm": False}), 400) == "must_confirm"
        assert client.get("/v1/session").json()["logged_in"] is True  # nothing happened
    with server.client(headers=bearer(key)) as script:
        assert error_code(script.post("/v1/email", json={"new_email": "k@example.com"}), 403) == "forbidden"
        assert error_code(script.request("DELETE", "/v1/account", json={"confirm": True}), 403) == "forbidden"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/email", {"new_email": "stale@example.com"}),
        ("DELETE", "/v1/account", {"confirm": True}),
        ("GET", "/v1/account/export", None),
    ],
)
def test_a_stale_session_must_reauthenticate_first(server: LiveServer, method: str, path: str, body: object) -> None:
    alice = make_account(server)
    with signed_in(server, alice) as client:
        age(server, client)
        refused = client.request(method, path, json=body) if body is not None else client.request(method, path)
        assert error_code(refused, 403) == "reauthentication_required"
        assert client.get("/v1/session").json()["logged_in"] is True
        assert client.post("/v1/reauthenticate", json={"password": alice.password}).status_code == 204
        again = client.request(method, path, json=body) if body is not None else client.request(method, path)
        assert again.status_code in (200, 202), again.text


def test_an_email_change_through_both_inboxes_and_its_undo(server: LiveServer) -> None:
    alice = make_account(server)
    new = f"new.{alice.username}@example.com"
    with signed_in(server, alice) as client:
        asked = client.post("/v1/email", json={"new_email": new})
        assert asked.status_code == 202 and asked.json() == {"status": "confirmation_sent"}
        latest_email(client, alice.email, "asked to change")
        confirm = token_in(latest_email(client, new, "confirm your new email"))
    with server.client() as elsewhere:  # the link needs no session
        confirmed = elsewhere.post("/v1/email/confirm", json={"token": confirm})
        assert confirmed.status_code == 200 and confirmed.json() == {"email": new}
        assert error_code(elsewhere.post("/v1/email/confirm", json={"token": confirm}), 400) == "invalid_token"
        undo = token_in(latest_email(elsewhere, alice.email, "was changed"))
        assert log_in(elsewhere, new).status_code == 200
    with signed_in(server, alice) as client:
        reverted = client.post("/v1/email/revert", json={"token": undo})
        assert reverted.status_code == 204
        assert client.get("/v1/session").json() == {"logged_in": False}  # every session ended
        assert error_code(client.post("/v1/email/revert", json={"token": undo}), 400) == "invalid_token"
        reset = token_in(latest_email(client, alice.email, "back"))
        assert client.post("/v1/password-reset/confirm", json={"token": reset, "new_password": NEW}).status_code == 200


def test_a_taken_address_answers_the_same_and_tells_its_owner(server: LiveServer) -> None:
    alice, bob = make_account(server), make_account(server)
    with signed_in(server, alice) as client:
        asked = client.post("/v1/email", json={"new_email": bob.email.upper()})
        assert asked.status_code == 202 and asked.json() == {"status": "confirmation_sent"}
        latest_email(client, bob.email, "tried to move")
        latest_email(client, alice.email, "asked to change")


def test_deleting_ends_everything_now_and_the_link_restores(server: LiveServer) -> None:
    alice = make_account(server)
    with signed_in(server, alice) as other, signed_in(server, alice) as client:
        key = str(create_api_key(client, alice)["token"])
        deleted = client.request("DELETE", "/v1/account", json={"confirm": True})
        assert deleted.status_code == 202, deleted.text
        assert deleted.json()["status"] == "deletion_scheduled"
        utc_time(deleted.json()["erase_after"])
        assert set_cookies(deleted)["frontdesk-session"].attributes.get("max-age") == "0"
        assert other.get("/v1/session").json() == {"logged_in": False}
        assert httpx.get(f"{server.url}/v1/verify", headers=bearer(key)).status_code == 401
        assert error_code(log_in(other, alice.username), 401) == "invalid_credentials"
        restore = token_in(latest_email(client, alice.email, "restore"))
    with server.client() as browser:
        restored = browser.post("/v1/account/restore", json={"token": restore})
        assert restored.status_code == 200, restored.text
        check_auth_result(restored.json(), alice.username, long_lived=False)
        assert "frontdesk-session" in set_cookies(restored)
        assert browser.get("/v1/session").json()["logged_in"] is True
        assert error_code(browser.post("/v1/account/restore", json={"token": restore}), 400) == "invalid_token"
