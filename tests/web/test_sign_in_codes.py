"""`POST /v1/login-link/confirm` with `user` + `code` (contract section 7), through a real server on
SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from tests.live import LiveServer
from tests.waiting import wait_until
from tests.web.helpers import (
    check_auth_result,
    code_in,
    error_code,
    log_in,
    make_account,
    token_in,
    unique,
)

CONFIRM = "/v1/login-link/confirm"


def ask(client: httpx.Client, user: str, email: str) -> tuple[str, str]:
    """Ask for a sign-in link; the new email's (token, code). It is written just after the 202."""
    seen = {e["id"] for e in client.get("/dev/mail.json").json()}
    assert client.post("/v1/login-link", json={"user": user}).status_code == 202
    found: list[dict[str, str]] = []

    def arrived() -> bool:
        found[:] = [
            e
            for e in client.get("/dev/mail.json").json()
            if e["to"] == email and "sign-in link" in e["subject"].lower() and e["id"] not in seen
        ]
        return bool(found)

    assert wait_until(arrived, timeout=10, interval=0.05), "no new sign-in email"
    return token_in(found[0]), code_in(found[0])


def other(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_the_code_signs_in_on_another_device_and_the_link_then_fails(server: LiveServer) -> None:
    account = make_account(server)
    with server.client() as asking, server.client() as other_device:
        token, code = ask(asking, account.username, account.email)
        done = other_device.post(CONFIRM, json={"user": account.email, "code": code, "remember_device": True})
        assert done.status_code == 200, done.text
        check_auth_result(done.json(), account.username, long_lived=True)
        assert other_device.get("/v1/verify").headers["x-frontdesk-user-id"] == str(account.user_id)
        assert error_code(asking.post(CONFIRM, json={"token": token}), 400) == "invalid_token"
        again = other_device.post(CONFIRM, json={"user": account.username, "code": code})
        assert error_code(again, 401) == "invalid_code"


def test_a_used_link_kills_the_code(server: LiveServer) -> None:
    account = make_account(server)
    with server.client() as client:
        token, code = ask(client, account.username, account.email)
        assert client.post(CONFIRM, json={"token": token}).status_code == 200
        assert error_code(client.post(CONFIRM, json={"user": account.username, "code": code}), 401) == "invalid_code"


def test_wrong_code_unknown_user_and_no_grant_get_the_same_answer(server: LiveServer) -> None:
    account, idle = make_account(server), make_account(server)
    with server.client() as client:
        _, code = ask(client, account.username, account.email)
        answers = [
            client.post(CONFIRM, json={"user": account.username, "code": other(code)}),
            client.post(CONFIRM, json={"user": unique("nobody"), "code": code}),
            client.post(CONFIRM, json={"user": idle.username, "code": code}),
        ]
        assert [error_code(a, 401) for a in answers] == ["invalid_code"] * 3
        assert len({a.text for a in answers}) == 1
        assert all("set-cookie" not in a.headers for a in answers)


def test_five_wrong_codes_end_the_grant_and_its_link(server: LiveServer) -> None:
    account = make_account(server)
    with server.client() as client:
        token, code = ask(client, account.username, account.email)
        for _ in range(5):
            wrong = client.post(CONFIRM, json={"user": account.username, "code": other(code)})
            assert error_code(wrong, 401) == "invalid_code"
        assert error_code(client.post(CONFIRM, json={"user": account.username, "code": code}), 401) == "invalid_code"
        assert error_code(client.post(CONFIRM, json={"token": token}), 400) == "invalid_token"


def test_wrong_codes_count_against_the_login_limit(server: LiveServer) -> None:
    account = make_account(server)  # the shared server allows 10 failures per account
    with server.client() as client:
        for _ in range(2):  # two grants of five wrong codes each
            _, code = ask(client, account.username, account.email)
            for _ in range(5):
                assert client.post(CONFIRM, json={"user": account.username, "code": other(code)}).status_code == 401
        limited = client.post(CONFIRM, json={"user": account.username, "code": "000000"})
        assert error_code(limited, 429) == "rate_limited" and int(limited.headers["retry-after"]) > 0
        assert error_code(log_in(client, account.username), 429) == "rate_limited"


def test_the_body_is_a_token_or_a_user_and_a_code(server: LiveServer) -> None:
    account = make_account(server)
    with server.client() as client:
        token, code = ask(client, account.username, account.email)
        for body in (
            {},
            {"remember_device": True},
            {"user": account.username},
            {"code": code},
            {"token": token, "code": code},
            {"token": token, "user": account.username, "code": code},
            {"user": account.username, "code": code[:5]},
            {"user": account.username, "code": code + "0"},
            {"user": account.username, "code": f"{code[:3]} {code[3:]}"},
            {"user": account.username, "code": int(code)},
            {"user": "", "code": code},
        ):
            assert error_code(client.post(CONFIRM, json=body), 400) == "invalid_request", body
        # nothing was used or counted: the code still works
        assert client.post(CONFIRM, json={"user": account.username, "code": code}).status_code == 200
