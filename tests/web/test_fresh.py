"""Fresh sessions and re-authentication through a real server (contract section 6): every
sensitive action on a stale session answers 403 `reauthentication_required` and changes nothing;
`POST /v1/reauthenticate` makes the session fresh again.

A session is made stale by moving its `authenticated_at` back in the database (the server runs on
the real clock), which is what time passing does to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from frontdesk.models import UserSession
from frontdesk.service.deps import Deps
from tests.live import LiveServer
from tests.web.helpers import (
    PASSWORD,
    Account,
    create_api_key,
    error_code,
    log_in,
    make_account,
    service,
    signed_in,
)
from tests.web.pages.forms import submit
from tests.web.test_factors import enrol_totp, next_code, register_key

STALE = timedelta(minutes=11)  # past the default FRONTDESK_REAUTH_MAX_AGE of 10 minutes


def session_id(client: httpx.Client) -> int:
    verified = client.get("/v1/verify")
    assert verified.status_code == 200, verified.text
    return int(verified.headers["x-frontdesk-session-id"])


def age(server: LiveServer, client: httpx.Client, by: timedelta = STALE) -> int:
    """Make the client's session as if its last factor was proved `by` ago; returns its id."""
    sid = session_id(client)

    def move(db: Session, _deps: Deps) -> None:
        db.execute(update(UserSession).where(UserSession.id == sid).values(authenticated_at=datetime.now(UTC) - by))

    service(server).call(move)
    return sid


def session_row(server: LiveServer, sid: int) -> UserSession:
    return service(server).read(lambda db, _deps: db.scalars(select(UserSession).where(UserSession.id == sid)).one())


def is_stale(server: LiveServer, sid: int) -> bool:
    row = session_row(server, sid)
    return datetime.now(UTC) - (row.authenticated_at or row.created) > timedelta(minutes=10)


# --- every sensitive action refuses a stale session --------------------------------------------

Call = Callable[[httpx.Client, Account], httpx.Response]

SENSITIVE: dict[str, Call] = {
    "change password": lambda c, a: c.post(
        "/v1/password", json={"old_password": a.password, "new_password": "another long passphrase"}
    ),
    "create API key": lambda c, a: c.post("/v1/api-keys", json={"password": a.password, "name": "k"}),
    "begin TOTP": lambda c, _: c.post("/v1/second-factors/totp"),
    "confirm TOTP": lambda c, _: c.post("/v1/second-factors/totp/confirm", json={"totp": "123456"}),
    "remove TOTP": lambda c, _: c.delete("/v1/second-factors/totp"),
    "WebAuthn registration options": lambda c, _: c.post("/v1/webauthn/registration-options"),
    "add a key": lambda c, _: c.post("/v1/webauthn/credentials", json={"name": "k", "credential": {}}),
    "remove a key": lambda c, _: c.delete("/v1/webauthn/credentials/1"),
    "regenerate recovery codes": lambda c, _: c.post("/v1/second-factors/recovery-codes"),
}


@pytest.mark.parametrize("action", list(SENSITIVE))
def test_a_stale_session_must_reauthenticate(server: LiveServer, action: str) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        enrol_totp(client)  # with a second factor, not even the password in the request will do
        before = client.get("/v1/second-factors").json()
        keys_before = len(client.get("/v1/sessions").json()["sessions"])
        age(server, client)
        assert error_code(SENSITIVE[action](client, account), 403) == "reauthentication_required"
        assert client.get("/v1/second-factors").json() == before, "nothing changed"
        assert len(client.get("/v1/sessions").json()["sessions"]) == keys_before
    with server.client() as client:
        assert log_in(client, account.username).status_code == 202, "the password is unchanged"


def test_a_fresh_session_may(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        age(server, client, timedelta(minutes=9))
        enrol_totp(client)


def test_without_a_second_factor_the_password_in_the_request_reauthenticates(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        sid = age(server, client)
        wrong = client.post("/v1/api-keys", json={"password": "not my password", "name": "k"})
        assert error_code(wrong, 401) == "invalid_credentials"
        assert is_stale(server, sid), "a wrong password re-authenticates nothing"
        create_api_key(client, account)
        assert not is_stale(server, sid)
        age(server, client)
        new = "another long passphrase"
        changed = client.post("/v1/password", json={"old_password": account.password, "new_password": new})
        assert changed.status_code == 204, changed.text
        assert not is_stale(server, sid)
        assert client.post("/v1/second-factors/totp").status_code == 200, "fresh again"


def test_api_keys_are_refused_as_before(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        token = str(create_api_key(client, account)["token"])
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as api:
        for action in ("begin TOTP", "regenerate recovery codes", "create API key"):
            assert error_code(SENSITIVE[action](api, account), 403) == "forbidden"
        assert error_code(api.post("/v1/reauthenticate", json={"password": PASSWORD}), 403) == "forbidden"


# --- POST /v1/reauthenticate ------------------------------------------------------------------------


def test_reauthenticate_with_a_password_without_a_second_factor(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        sid = age(server, client)
        wrong = client.post("/v1/reauthenticate", json={"password": "not it"})
        assert error_code(wrong, 401) == "invalid_credentials"
        assert is_stale(server, sid)
        done = client.post("/v1/reauthenticate", json={"password": account.password})
        assert done.status_code == 204, done.text
        assert not is_stale(server, sid)
        row = session_row(server, sid)
        assert (row.aal, row.factor_list) == (1, ["password"])
        assert client.post("/v1/second-factors/totp").status_code == 200


def test_a_password_alone_does_not_reauthenticate_a_user_with_a_second_factor(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        app, codes = enrol_totp(client)
        sid = age(server, client)
        refused = client.post("/v1/reauthenticate", json={"password": account.password})
        assert error_code(refused, 403) == "reauthentication_required"
        assert "second factor" in refused.json()["error"]["message"]
        assert is_stale(server, sid)
        code = next_code(app)
        assert client.post("/v1/reauthenticate", json={"totp": code}).status_code == 204
        assert not is_stale(server, sid)
        row = session_row(server, sid)
        assert (row.aal, row.factor_list) == (2, ["password", "totp"]), "signed in with a password, then a code"
        age(server, client)
        replay = client.post("/v1/reauthenticate", json={"totp": code})
        assert error_code(replay, 401) == "invalid_code", "a TOTP code works once"
        assert client.post("/v1/reauthenticate", json={"recovery_code": codes[0]}).status_code == 204
        age(server, client)
        again = client.post("/v1/reauthenticate", json={"recovery_code": codes[0]})
        assert error_code(again, 401) == "invalid_code", "a recovery code works once"
        assert client.get("/v1/second-factors").json()["recovery_codes_left"] == 9


def test_reauthenticate_with_a_security_key(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        key, _ = register_key(client, server)
        sid = age(server, client)
        options = client.post("/v1/reauthenticate/webauthn-options")
        assert options.status_code == 200, options.text
        answer = key.assertion(options.json()["options"], user_verified=False)
        assert client.post("/v1/reauthenticate", json={"webauthn": answer}).status_code == 204
        assert not is_stale(server, sid)
        age(server, client)
        replay = client.post("/v1/reauthenticate", json={"webauthn": answer})
        assert error_code(replay, 401) == "invalid_code", "the challenge works once"
        # a second step's or a passkey sign-in's challenge does not re-authenticate
        passkey_options = client.post("/v1/webauthn/authentication-options", json={}).json()["options"]
        other = client.post("/v1/reauthenticate", json={"webauthn": key.assertion(passkey_options)})
        assert error_code(other, 401) == "invalid_code"
        assert is_stale(server, sid)


def test_wrong_reauthentication_answers_count_against_the_login_limit(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        app, _ = enrol_totp(client)
        age(server, client)
        for _ in range(10):  # FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT
            assert error_code(client.post("/v1/reauthenticate", json={"totp": "000000"}), 401) == "invalid_code"
        limited = client.post("/v1/reauthenticate", json={"totp": next_code(app)})
        assert error_code(limited, 429) == "rate_limited"
        assert "retry-after" in limited.headers


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"password": PASSWORD, "totp": "123456"},
        {"totp": 123456},
        {"totp": ""},
        {"webauthn": "not an object"},
        {"password": "x", "extra": 1},
    ],
)
def test_bad_input_to_reauthenticate(server: LiveServer, body: dict[str, object]) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        sid = age(server, client)
        assert error_code(client.post("/v1/reauthenticate", json=body), 400) == "invalid_request"
        assert is_stale(server, sid)


def test_reauthenticate_needs_a_session(server: LiveServer) -> None:
    with server.client() as client:
        assert error_code(client.post("/v1/reauthenticate", json={"password": PASSWORD}), 401) == "unauthenticated"
        assert error_code(client.post("/v1/reauthenticate/webauthn-options"), 401) == "unauthenticated"
    account = make_account(server)
    with signed_in(server, account) as client:
        no_keys = client.post("/v1/reauthenticate/webauthn-options")
        assert error_code(no_keys, 400) == "invalid_request"


# --- the hosted pages -------------------------------------------------------------------------------


def test_the_account_forms_send_a_stale_session_to_reauthenticate(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        enrol_totp(client)
        age(server, client)
        for path, form in (
            ("/account/password", {"current_password": account.password, "new_password": "another long passphrase"}),
            ("/account/api-keys", {"name": "k", "expiry_days": "30", "password": account.password}),
        ):
            answer = submit(client, "/account", path, **form)
            assert answer.status_code == 303, (path, answer.status_code, answer.text[:300])
            assert answer.headers["location"] == "/reauthenticate?next=%2Faccount"
        assert len(client.get("/v1/sessions").json()["sessions"]) == 1, "no API key was made"
