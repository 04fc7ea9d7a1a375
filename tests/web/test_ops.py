"""Operations and the development mailbox: /healthz, /metrics, /dev/mail(.json), and production's 404."""

from __future__ import annotations

import re

import httpx
import pytest

from frontdesk.settings import Settings
from frontdesk.web.app import create_app
from tests.live import LiveServer
from tests.waiting import wait_until
from tests.web.helpers import (
    BACKENDS,
    PASSWORD,
    STRICT_PUBLIC_URL,
    asgi_request,
    error_code,
    latest_email,
    make_account,
    outbox_to,
    shared_server,
    signed_in,
    unique,
    utc_time,
)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text, 0 when absent."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}\{{(.*)\}} (\S+)", line)
        if match and all(f'{k}="{v}"' in match.group(1).split(",") for k, v in labels.items()):
            return float(match.group(2))
    return 0.0


def test_healthz(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_healthz_and_every_endpoint_answer_503_when_the_database_does_not() -> None:
    app = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/nothing"), send_mail=False)
    assert error_code(asgi_request(app, "GET", "/healthz"), 503) == "service_unavailable"
    login = asgi_request(app, "POST", "/v1/login", json={"user": "someone", "password": PASSWORD})
    assert error_code(login, 503) == "service_unavailable"
    assert login.headers["retry-after"].isdigit()
    verify = asgi_request(app, "GET", "/v1/verify", headers={"Cookie": "frontdesk-session=abc"})
    assert error_code(verify, 503) == "service_unavailable"


def test_metrics_count_requests_and_verifications(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser:
        before = browser.get("/metrics")
        assert before.status_code == 200
        assert before.headers["content-type"].startswith("text/plain")
        for _ in range(3):
            assert browser.get("/v1/verify").status_code == 200
        with httpx.Client(base_url=server.url) as anonymous:
            assert anonymous.get("/v1/verify").status_code == 401
        assert browser.get("/v1/sessions").status_code == 200
        assert browser.delete("/v1/sessions/987654321").status_code == 404
        after = browser.get("/metrics").text
    allowed = metric(after, "frontdesk_verifications_total", result="allowed")
    assert allowed - metric(before.text, "frontdesk_verifications_total", result="allowed") == 3
    assert metric(after, "frontdesk_verifications_total", result="denied") >= 1
    # /v1/verify may be answered in front of the framework (the hot path): count another route
    sessions = metric(after, "frontdesk_http_requests_total", route="/v1/sessions", method="GET", status="200")
    assert sessions >= 1
    assert metric(after, "frontdesk_logins_total", method="password", result="success") >= 1
    assert "# TYPE frontdesk_http_request_seconds histogram" in after
    assert not re.search(r'route="[^"]*/\d+"', after), "raw paths (with ids) in labels"


def test_dev_mailbox_lists_emails_newest_first(server: LiveServer) -> None:
    username = unique("mail")
    email = f"{username}@example.com"
    with server.client() as client:
        body = {"email": email, "username": username, "password": PASSWORD, "name": "Mail <b>Reader</b>"}
        assert client.post("/v1/signup", json=body).status_code == 202
        assert client.post("/v1/login-link", json={"user": email}).status_code == 202  # not a user yet: nothing
        listing = client.get("/dev/mail.json")
        assert listing.status_code == 200 and listing.headers["content-type"].startswith("application/json")
        emails = listing.json()
        assert isinstance(emails, list) and emails
        for entry in emails:
            assert set(entry) == {"id", "to", "subject", "text", "html", "created"}
            utc_time(entry["created"])
        ids = [entry["id"] for entry in emails]
        assert ids == sorted(ids, reverse=True), "not newest first"
        mine = [entry for entry in emails if entry["to"] == email]
        assert len(mine) == 1 and "confirm" in mine[0]["subject"].lower()
        assert "token=" in mine[0]["text"] and "token=" in mine[0]["html"]
        assert latest_email(client, email)["id"] == mine[0]["id"]

        page = client.get("/dev/mail")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert mine[0]["subject"] in page.text and email in page.text
        assert "<b>Reader</b>" not in page.text, "the mailbox page does not escape what users typed"


@pytest.mark.parametrize("backend", BACKENDS)
def test_production_has_no_dev_mailbox_but_keeps_the_outbox(request: pytest.FixtureRequest, backend: str) -> None:
    strict = shared_server(request, backend, "strict")
    account = make_account(strict)
    with strict.client(headers={"Origin": STRICT_PUBLIC_URL}) as client:
        for path in ("/dev/mail", "/dev/mail.json"):
            assert error_code(client.get(path), 404) == "not_found"
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.post("/v1/password-reset", json={"user": account.email}).status_code == 202
    # the lookup and email happen after the 202 (contract section 4): wait for it
    assert wait_until(lambda: bool(outbox_to(strict, account.email)), timeout=10, interval=0.05)
    (reset,) = outbox_to(strict, account.email)
    assert reset.subject.lower().startswith("reset") and f"{STRICT_PUBLIC_URL}/" in reset.text
