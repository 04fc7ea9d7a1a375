"""Step-up for proxies (contract section 6, RFC 9470): `GET /v1/verify` says how strongly and when
the session signed in, and `?aal=2` / `?max_age=N` demand more.

Through a real `frontdesk serve` on both databases: on PostgreSQL that is the asyncpg fast path in
front of the framework (checked through its batch metric), on SQLite the framework route. The
framework route on PostgreSQL is covered in-process, with a frozen clock.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from frontdesk.clock import FrozenClock
from frontdesk.runtime import Frontdesk
from frontdesk.web.app import create_app
from tests.factories import make_session, make_user
from tests.live import LiveServer
from tests.web.helpers import (
    asgi_request,
    bearer,
    cookie,
    create_api_key,
    error_code,
    log_in,
    make_account,
    signed_in,
    utc_time,
)
from tests.web.test_factors import enrol_totp, next_code
from tests.web.test_fresh import age

STEP_UP = 'Bearer error="insufficient_user_authentication"'


def verify(server: LiveServer, token: str, query: str = "", *, api: bool = False) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=10) as proxy:
        return proxy.get("/v1/verify" + query, headers=bearer(token) if api else cookie(token))


def refused_for_step_up(response: httpx.Response) -> str:
    """The RFC 9470 refusal; returns its WWW-Authenticate challenge."""
    assert error_code(response, 401) == "insufficient_user_authentication"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith(STEP_UP), challenge
    assert response.headers["cache-control"] == "no-store"
    return challenge


def fast_path_batches(server: LiveServer) -> float:
    with httpx.Client(base_url=server.url) as client:
        text = client.get("/metrics").text
    match = re.search(r"^frontdesk_verify_batch_size_count(?:\{[^}]*\})? ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.fixture
def on_the_fast_path(server: LiveServer) -> Iterator[None]:
    """On PostgreSQL, the test's verifications must have gone through the fast path."""
    before = fast_path_batches(server)
    yield
    if server.database_url.startswith("postgresql"):
        assert fast_path_batches(server) > before, "PostgreSQL verifications go through the fast path"


@pytest.mark.usefixtures("on_the_fast_path")
def test_verify_says_how_strongly_and_when(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser:
        token = browser.cookies["frontdesk-session"]
        key = str(create_api_key(browser, account)["token"])
        signed_in_at = utc_time(browser.get("/v1/session").json()["authenticated_at"])
    ok = verify(server, token)
    assert ok.status_code == 200
    assert ok.headers["x-frontdesk-aal"] == "1"
    assert int(ok.headers["x-frontdesk-auth-time"]) == int(signed_in_at.timestamp())
    assert abs(int(ok.headers["x-frontdesk-auth-time"]) - time.time()) < 60
    assert verify(server, key, api=True).headers["x-frontdesk-aal"] == "1"
    for query in ("?aal=1", "?max_age=600", "?aal=1&max_age=600", "?other=1"):
        assert verify(server, token, query).status_code == 200, query


@pytest.mark.usefixtures("on_the_fast_path")
def test_aal_2_needs_a_second_factor(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as other, signed_in(server, account) as browser:
        password_only = other.cookies["frontdesk-session"]
        key = str(create_api_key(browser, account)["token"])
        app, _ = enrol_totp(browser)
        enrolled = verify(server, browser.cookies["frontdesk-session"], "?aal=2")
        assert enrolled.headers["x-frontdesk-aal"] == "2", "confirming the app proved it in that session"
    assert refused_for_step_up(verify(server, password_only, "?aal=2")) == f'{STEP_UP}, acr_values="aal2"'
    assert refused_for_step_up(verify(server, key, "?aal=2", api=True)) == f'{STEP_UP}, acr_values="aal2"'
    with server.client() as browser:
        step = log_in(browser, account.username).json()
        done = browser.post("/v1/login/second-factor", json={"challenge": step["challenge"], "totp": next_code(app)})
        assert done.status_code == 200, done.text
        two = browser.cookies["frontdesk-session"]
        me = browser.get("/v1/session").json()
        assert (me["aal"], me["factors"]) == (2, ["password", "totp"])
        listed = {s["id"]: s for s in browser.get("/v1/sessions").json()["sessions"]}
        current = listed[done.json()["session"]["id"]]
        assert (current["aal"], current["factors"], current["is_current"]) == (2, ["password", "totp"], True)
        assert current["authenticated_at"] == me["authenticated_at"]
    strong = verify(server, two, "?aal=2")
    assert strong.status_code == 200 and strong.headers["x-frontdesk-aal"] == "2"


@pytest.mark.usefixtures("on_the_fast_path")
def test_max_age_needs_a_recent_sign_in(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser:
        token = browser.cookies["frontdesk-session"]
        age(server, browser, timedelta(minutes=30))
        assert verify(server, token, "?max_age=3600").status_code == 200
        assert refused_for_step_up(verify(server, token, "?max_age=600")) == f"{STEP_UP}, max_age=600"
        both = refused_for_step_up(verify(server, token, "?aal=2&max_age=60"))
        assert both == f'{STEP_UP}, acr_values="aal2", max_age=60'
        with httpx.Client(base_url=server.url) as proxy:
            head = proxy.head("/v1/verify?max_age=600", headers=cookie(token))
            assert head.status_code == 401 and head.headers["www-authenticate"] == f"{STEP_UP}, max_age=600"
        assert browser.post("/v1/reauthenticate", json={"password": account.password}).status_code == 204
        assert verify(server, token, "?max_age=600").status_code == 200, "re-authenticated: recent again"


def test_no_session_is_unauthenticated_whatever_is_demanded(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as proxy:
        for query in ("?aal=2", "?max_age=1"):
            answer = proxy.get("/v1/verify" + query)
            assert error_code(answer, 401) == "unauthenticated"
            assert "www-authenticate" not in answer.headers


BAD = [
    "?aal=3",
    "?aal=0",
    "?aal=",
    "?aal=two",
    "?aal=%00",
    "?aal=1&aal=2",
    "?max_age=-1",
    "?max_age=abc",
    "?max_age=1e3",
    "?max_age=1.5",
    "?max_age=",
    "?max_age=99999999999",
    "?max_age=%EF%BC%91",  # a fullwidth digit one
    "?max_age=10&max_age=20",
    "?" + "&".join(f"p{i}=1" for i in range(30)),
]


@pytest.mark.parametrize("query", BAD)
def test_bad_demands_are_400_never_500(server: LiveServer, query: str) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser:
        token = browser.cookies["frontdesk-session"]
    assert error_code(verify(server, token, query), 400) == "invalid_request"
    with httpx.Client(base_url=server.url) as proxy:
        assert error_code(proxy.get("/v1/verify" + query), 400) == "invalid_request"


# --- the framework route, with a clock that moves -----------------------------------------------


def test_the_framework_route_gives_the_same_answers(fd: Frontdesk, clock: FrozenClock) -> None:
    app = create_app(frontdesk=fd, send_mail=False)
    user = make_user(fd)
    one = make_session(fd, user, factors=("password",))
    two = make_session(fd, user, factors=("password", "totp"), aal=2)

    def get(token: str, query: str = "") -> httpx.Response:
        return asgi_request(app, "GET", "/v1/verify" + query, headers=cookie(token))

    ok = get(two.token, "?aal=2&max_age=600")
    assert ok.status_code == 200
    assert (ok.headers["x-frontdesk-aal"], ok.headers["x-frontdesk-auth-time"]) == (
        "2",
        str(int(clock.now().timestamp())),
    )
    assert refused_for_step_up(get(one.token, "?aal=2")) == f'{STEP_UP}, acr_values="aal2"'
    clock.advance(timedelta(seconds=600))
    assert get(two.token, "?max_age=600").status_code == 200, "exactly max_age old is recent enough"
    clock.advance(timedelta(seconds=1))
    assert refused_for_step_up(get(two.token, "?max_age=600")) == f"{STEP_UP}, max_age=600"
    for query in BAD:
        assert error_code(get(two.token, query), 400) == "invalid_request"
