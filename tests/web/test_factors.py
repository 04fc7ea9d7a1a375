"""Second factors through a real server (contract section 6): enrolment, the 202 second step,
passkeys, recovery codes, and bad input answered 4xx."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pyotp
import pytest

from tests.live import LiveServer
from tests.service.authenticator import SoftAuthenticator
from tests.web.helpers import (
    PASSWORD,
    Account,
    check_auth_result,
    create_api_key,
    error_code,
    latest_email,
    log_in,
    make_account,
    signed_in,
    token_in,
    utc_time,
)


def enrol_totp(client: httpx.Client) -> tuple[pyotp.TOTP, list[str]]:
    """Enrol an authenticator app; returns it and the recovery codes it came with."""
    began = client.post("/v1/second-factors/totp")
    assert began.status_code == 200, began.text
    assert began.headers["cache-control"] == "no-store"
    body = began.json()
    assert set(body) == {"secret", "otpauth_uri", "qr_svg"} and body["qr_svg"].startswith("<svg")
    app = pyotp.TOTP(body["secret"])
    confirmed = client.post("/v1/second-factors/totp/confirm", json={"totp": app.now()})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.headers["cache-control"] == "no-store"
    codes = confirmed.json()["recovery_codes"]
    assert isinstance(codes, list) and len(codes) == 10
    return app, codes


def next_code(app: pyotp.TOTP) -> str:
    """The next step's code: the current one was used to confirm (one step of drift is allowed)."""
    return app.at(time.time() + 30)


def first_step(client: httpx.Client, account: Account) -> dict[str, Any]:
    response = log_in(client, account.username)
    assert response.status_code == 202, response.text
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert set(body) == {"status", "challenge", "methods", "expiry"} and body["status"] == "mfa_required"
    utc_time(body["expiry"])
    return body


def register_key(
    client: httpx.Client, server: LiveServer, name: str = "key"
) -> tuple[SoftAuthenticator, dict[str, Any]]:
    options = client.post("/v1/webauthn/registration-options")
    assert options.status_code == 200, options.text
    key = SoftAuthenticator(origin=server.url)
    made = client.post(
        "/v1/webauthn/credentials", json={"name": name, "credential": key.register(options.json()["options"])}
    )
    assert made.status_code == 201, made.text
    return key, dict(made.json())


def test_totp_enrolment_then_sign_in_in_two_steps(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        listed = client.get("/v1/second-factors")
        assert listed.json() == {"totp": False, "webauthn": [], "recovery_codes_left": 0}
        app, _ = enrol_totp(client)
        assert client.get("/v1/second-factors").json() == {"totp": True, "webauthn": [], "recovery_codes_left": 10}
    with server.client() as client:
        step = first_step(client, account)
        assert step["methods"] == ["totp", "recovery_code"]
        wrong = client.post("/v1/login/second-factor", json={"challenge": step["challenge"], "totp": "12345x"})
        assert error_code(wrong, 401) == "invalid_code"
        done = client.post("/v1/login/second-factor", json={"challenge": step["challenge"], "totp": next_code(app)})
        assert done.status_code == 200, done.text
        check_auth_result(done.json(), account.username, long_lived=False)
        assert client.get("/v1/session").json()["logged_in"] is True
        again = client.post("/v1/login/second-factor", json={"challenge": step["challenge"], "totp": next_code(app)})
        assert error_code(again, 400) == "invalid_token"


def test_a_recovery_code_signs_in_once(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        _, codes = enrol_totp(client)
    with server.client() as client:
        step = first_step(client, account)
        body = {"challenge": step["challenge"], "recovery_code": codes[0].lower()}
        assert client.post("/v1/login/second-factor", json=body).status_code == 200
        step = first_step(client, account)
        reused = client.post("/v1/login/second-factor", json={**body, "challenge": step["challenge"]})
        assert error_code(reused, 401) == "invalid_code"
        assert client.get("/v1/second-factors").json()["recovery_codes_left"] == 9
        regenerated = client.post("/v1/second-factors/recovery-codes")
        assert regenerated.status_code == 200 and regenerated.headers["cache-control"] == "no-store"
        assert len(regenerated.json()["recovery_codes"]) == 10
        assert client.get("/v1/second-factors").json()["recovery_codes_left"] == 10


def test_security_key_second_step_and_passkey_sign_in(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        key, made = register_key(client, server, "Desk key")
        assert made["passkey"] is True and len(made["recovery_codes"]) == 10
        listed = client.get("/v1/second-factors").json()["webauthn"]
        assert [(c["id"], c["name"], c["passkey"], c["last_used"]) for c in listed] == [
            (made["id"], "Desk key", True, None)
        ]
    with server.client() as client:
        step = first_step(client, account)
        assert step["methods"] == ["webauthn", "recovery_code"]
        options = client.post("/v1/webauthn/authentication-options", json={"challenge": step["challenge"]})
        assert options.status_code == 200, options.text
        answer = key.assertion(options.json()["options"], user_verified=False)
        done = client.post("/v1/login/second-factor", json={"challenge": step["challenge"], "webauthn": answer})
        assert done.status_code == 200, done.text
    with server.client() as client:
        options = client.post("/v1/webauthn/authentication-options", json={}).json()["options"]
        answer = key.assertion(options)
        done = client.post("/v1/login/passkey", json={"credential": answer, "remember_device": True})
        assert done.status_code == 200, done.text
        check_auth_result(done.json(), account.username, long_lived=True)
        replay = client.post("/v1/login/passkey", json={"credential": answer})
        assert error_code(replay, 401) == "invalid_credentials"
        assert client.delete(f"/v1/webauthn/credentials/{made['id']}").status_code == 204
        assert error_code(client.delete(f"/v1/webauthn/credentials/{made['id']}"), 404) == "not_found"
        assert client.get("/v1/second-factors").json() == {"totp": False, "webauthn": [], "recovery_codes_left": 0}
    with server.client() as client:
        assert log_in(client, account.username).status_code == 200  # no factor left: one step again


def test_a_reset_waits_for_the_second_step(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        app, _ = enrol_totp(client)
    new_password = "a brand new passphrase"
    with server.client() as client:
        assert client.post("/v1/password-reset", json={"user": account.username}).status_code == 202
        token = token_in(latest_email(client, account.email, "reset"))
        answer = client.post("/v1/password-reset/confirm", json={"token": token, "new_password": new_password})
        assert answer.status_code == 202, answer.text
        challenge = answer.json()["challenge"]
        assert first_step(client, account)["status"] == "mfa_required"  # the old password still works
        done = client.post("/v1/login/second-factor", json={"challenge": challenge, "totp": next_code(app)})
        assert done.status_code == 200, done.text
        assert error_code(log_in(client, account.username, PASSWORD), 401) == "invalid_credentials"


def test_removing_the_authenticator_app(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        enrol_totp(client)
        assert client.delete("/v1/second-factors/totp").status_code == 204
        assert error_code(client.delete("/v1/second-factors/totp"), 404) == "not_found"
        assert client.get("/v1/second-factors").json()["recovery_codes_left"] == 0


def test_api_keys_cannot_manage_factors(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        token = str(create_api_key(client, account)["token"])
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as api:
        assert error_code(api.post("/v1/second-factors/totp"), 403) == "forbidden"
        assert api.get("/v1/second-factors").status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/login/second-factor", {"challenge": "nope", "totp": "123456"}, 400, "invalid_token"),
        ("/v1/login/second-factor", {"challenge": "nope"}, 400, "invalid_request"),
        ("/v1/login/second-factor", {"challenge": "x", "totp": 123456}, 400, "invalid_request"),
        ("/v1/login/second-factor", {"challenge": "x", "webauthn": "not an object"}, 400, "invalid_request"),
        ("/v1/webauthn/authentication-options", {"challenge": "nope"}, 400, "invalid_token"),
        ("/v1/webauthn/authentication-options", {"challenge": 5}, 400, "invalid_request"),
        ("/v1/login/passkey", {"credential": {}}, 401, "invalid_credentials"),
        ("/v1/login/passkey", {"credential": {"id": "x", "rawId": "!!", "response": 3}}, 401, "invalid_credentials"),
        ("/v1/login/passkey", {}, 400, "invalid_request"),
    ],
)
def test_bad_input_to_open_routes(server: LiveServer, path: str, body: dict[str, Any], status: int, code: str) -> None:
    with server.client() as client:
        assert error_code(client.post(path, json=body), status) == code


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/second-factors/totp/confirm", {"totp": "123456"}),  # nothing pending
        ("/v1/second-factors/totp/confirm", {"totp": ["1"]}),
        ("/v1/webauthn/credentials", {"name": "k", "credential": {}}),
        ("/v1/webauthn/credentials", {"name": "k", "credential": {"id": "x", "response": {"clientDataJSON": "%%"}}}),
        ("/v1/webauthn/credentials", {"name": "", "credential": {}}),
        ("/v1/webauthn/credentials", {"name": "k\x00", "credential": {}}),
        ("/v1/second-factors/recovery-codes", {}),  # no second factor yet
    ],
)
def test_bad_input_to_account_routes_changes_nothing(server: LiveServer, path: str, body: dict[str, Any]) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        assert error_code(client.post(path, json=body), 400) == "invalid_request"
        assert client.get("/v1/second-factors").json() == {"totp": False, "webauthn": [], "recovery_codes_left": 0}


def test_a_wrong_method_names_every_method_of_the_path(server: LiveServer) -> None:
    """`/v1/second-factors/totp` has a POST and a DELETE route: a 405 lists both."""
    with server.client() as client:
        response = client.put("/v1/second-factors/totp")
        assert error_code(response, 405) == "method_not_allowed"
        assert response.headers["allow"] == "DELETE, POST"
