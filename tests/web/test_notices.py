"""New-device notices and `POST /v1/sign-ins/not-me` through a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import httpx

from tests.live import LiveServer
from tests.web.helpers import (
    TRUSTED_PROXY,
    bearer,
    create_api_key,
    error_code,
    latest_email,
    log_in,
    make_account,
    run_async,
    signed_in,
    token_in,
)

STRANGER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
GERMANY = "85.214.132.117"


def stranger(server: LiveServer) -> httpx.Client:
    """A client on another browser and OS, from an address in Germany (through the trusted proxy)."""
    return server.client(
        headers={"User-Agent": STRANGER_UA, "X-Forwarded-For": GERMANY},
        transport=httpx.HTTPTransport(local_address=TRUSTED_PROXY),
    )


def test_a_stranger_is_signed_out_from_the_email_and_a_reset_arrives(server: LiveServer) -> None:
    alice = make_account(server)
    with signed_in(server, alice) as mine, stranger(server) as theirs:
        assert log_in(theirs, alice.username).status_code == 200
        email = latest_email(mine, alice.email, "new sign-in")
        assert "Firefox on Windows" in email["text"] and "Germany" in email["text"] and GERMANY in email["text"]
        token = token_in(email)
        page = mine.get("/sign-ins/not-me", params={"token": token})  # a mail scanner's visit uses nothing
        assert page.status_code == 200 and "Firefox on Windows" in page.text
        with server.client() as anyone:  # the link needs no session
            assert anyone.post("/v1/sign-ins/not-me", json={"token": token}).status_code == 204
            assert error_code(anyone.post("/v1/sign-ins/not-me", json={"token": token}), 400) == "invalid_token"
        assert theirs.get("/v1/session").json()["logged_in"] is False
        assert mine.get("/v1/session").json()["logged_in"] is True
        reset = token_in(latest_email(mine, alice.email, "choose a new password"))
        assert mine.get("/reset-password", params={"token": reset}).status_code == 200


def test_end_all_ends_every_session_and_api_key(server: LiveServer) -> None:
    alice = make_account(server)
    with signed_in(server, alice) as mine, stranger(server) as theirs:
        key = str(create_api_key(mine, alice)["token"])
        assert log_in(theirs, alice.username).status_code == 200
        token = token_in(latest_email(mine, alice.email, "new sign-in"))
        assert mine.post("/v1/sign-ins/not-me", json={"token": token, "end_all": True}).status_code == 204
        assert theirs.get("/v1/session").json()["logged_in"] is False
        assert mine.get("/v1/session").json()["logged_in"] is False
        assert httpx.get(f"{server.url}/v1/verify", headers=bearer(key)).status_code == 401
        latest_email(mine, alice.email, "choose a new password")


def test_bad_bodies_and_tokens_change_nothing(server: LiveServer) -> None:
    alice = make_account(server)
    with signed_in(server, alice) as mine, stranger(server) as theirs:
        assert log_in(theirs, alice.username).status_code == 200
        token = token_in(latest_email(mine, alice.email, "new sign-in"))
        for body in ({}, {"token": ""}, {"token": token, "end_all": "yes"}, {"token": token, "extra": 1}):
            assert error_code(mine.post("/v1/sign-ins/not-me", json=body), 400) == "invalid_request", body
        for bad in ("x" * 43, token[:-1]):
            assert error_code(mine.post("/v1/sign-ins/not-me", json={"token": bad}), 400) == "invalid_token"
        assert theirs.get("/v1/session").json()["logged_in"] is True
        dead = mine.get("/sign-ins/not-me", params={"token": "x" * 43})
        assert dead.status_code == 400 and "no longer works" in dead.text
        assert mine.post("/v1/sign-ins/not-me", json={"token": token}).status_code == 204  # still usable


def test_a_link_used_50_times_at_once_answers_204_once(server: LiveServer) -> None:
    alice = make_account(server)
    with signed_in(server, alice) as mine, stranger(server) as theirs:
        assert log_in(theirs, alice.username).status_code == 200
        token = token_in(latest_email(mine, alice.email, "new sign-in"))

    async def race() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, headers={"Origin": server.url}, timeout=60) as client:
            answers = await asyncio.gather(
                *(client.post("/v1/sign-ins/not-me", json={"token": token, "end_all": n % 2 == 0}) for n in range(50))
            )
        return [a.status_code for a in answers]

    statuses = run_async(race)
    assert statuses.count(204) == 1 and statuses.count(400) == 49, statuses
    with server.client() as mailbox:
        resets = [m for m in mailbox.get("/dev/mail.json").json() if m["to"] == alice.email]
    assert len([m for m in resets if "choose a new password" in m["subject"].lower()]) == 1
