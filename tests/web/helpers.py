"""Journeys through the HTTP API that many tests need: sign up, confirm, sign in."""

from __future__ import annotations

import re

import httpx

PASSWORD = "correct horse battery staple"


def latest_email(client: httpx.Client, to: str, subject_has: str = "") -> dict[str, str]:
    for email in client.get("/dev/mail.json").json():
        if email["to"] == to and subject_has.lower() in email["subject"].lower():
            return dict(email)
    raise AssertionError(f"no email to {to} containing {subject_has!r}")


def token_in(email: dict[str, str]) -> str:
    match = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", email["text"])
    assert match, "no link with a token in the email"
    return match.group(1)


def sign_up(
    client: httpx.Client, username: str, email: str | None = None, password: str = PASSWORD
) -> dict[str, object]:
    """Sign up and confirm through the API; the client ends up signed in. Returns the auth result."""
    email = email or f"{username}@example.com"
    response = client.post(
        "/v1/signup", json={"email": email, "username": username, "password": password, "name": username.title()}
    )
    assert response.status_code == 202, response.text
    token = token_in(latest_email(client, email, "confirm"))
    confirmed = client.post("/v1/signup/confirm", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    return dict(confirmed.json())


def log_in(client: httpx.Client, user: str, password: str = PASSWORD, remember: bool = False) -> httpx.Response:
    return client.post("/v1/login", json={"user": user, "password": password, "remember_device": remember})
