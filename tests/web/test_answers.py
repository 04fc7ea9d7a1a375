"""What answers say and carry: one error table for pages and API, ids from paths through one
parser, `no-store` and `nosniff`, a second sign-in replacing the first, pages that explain where
they send you, and validation messages a person can act on."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select
from sqlalchemy.orm import Session

from frontdesk import errors as e
from frontdesk.models import User, UserSession
from frontdesk.settings import Settings
from frontdesk.web.app import create_app
from frontdesk.web.errors import status_for
from frontdesk.web.ids import MAX_ID
from frontdesk.web.pages.forms import Form
from tests.live import LiveServer
from tests.web.helpers import (
    PASSWORD,
    Account,
    asgi_request,
    bearer,
    create_api_key,
    error_code,
    log_in,
    make_account,
    service,
    signed_in,
)
from tests.web.pages.forms import csrf_token, submit

# --- one error table -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (e.EmailTaken(), 409),
        (e.UsernameTaken(), 409),
        (e.NotFound("session"), 404),
        (e.InvalidCredentials(), 401),
        (e.AccountSuspended(), 403),
        (e.TokenInvalid(), 400),
        (e.RateLimited(timedelta(seconds=61.2)), 429),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_pages_answer_an_error_with_the_apis_status(error: e.FrontdeskError, status: int) -> None:
    form = Form().error(error)
    assert form.status == status_for(error) == status
    if isinstance(error, e.RateLimited):
        assert form.headers == {"Retry-After": "62"}


# --- ids from paths ------------------------------------------------------------------------------

BAD_IDS = ("0", str(MAX_ID + 1), str(2**64), "9" * 40)


def path_routes() -> list[tuple[str, str]]:
    """Every (method, path template) of the app with a path parameter."""
    app = create_app(Settings(database_url="sqlite://"), send_mail=False)
    return sorted(
        (method, route.path)
        for route in (context.original_route for context in iter_route_contexts(app.routes))
        if isinstance(route, APIRoute) and "{" in route.path
        for method in route.methods or ()
        if method != "HEAD"
    )


def test_every_route_with_a_path_id_is_covered_below() -> None:
    assert path_routes() == sorted(ID_ROUTES), "a route with a path parameter is missing from ID_ROUTES"


ID_ROUTES = [
    ("DELETE", "/v1/sessions/{session_id:int}"),
    ("POST", "/v1/admin/users/{user_id}/ban"),
    ("POST", "/v1/admin/users/{user_id}/unban"),
    ("POST", "/v1/admin/users/{user_id}/revoke-sessions"),
    ("POST", "/v1/admin/users/{user_id}/api-keys"),
    ("POST", "/v1/admin/users/{user_id}/reset-second-factors"),
    ("POST", "/account/sessions/{session_id:int}/revoke"),
    ("POST", "/account/two-step/keys/{credential_id:int}/remove"),
    ("POST", "/account/identities/{identity_id:int}/unlink"),
    ("POST", "/account/identities/{provider}/link"),  # a provider's name: an unknown one says so (404)
    ("DELETE", "/v1/webauthn/credentials/{credential_id:int}"),
    ("DELETE", "/v1/identities/{identity}"),
    ("GET", "/v1/usernames/{username}"),
    ("GET", "/v1/oauth/{provider}/start"),
    ("GET", "/v1/oauth/{provider}/callback"),
    ("POST", "/v1/oauth/{provider}/callback"),  # response_mode=form_post
    ("POST", "/v1/identities/{identity}"),  # a provider's name: an unknown one is 404 too
    ("GET", "/docs/assets/{name}"),
]


def _state(server: LiveServer) -> list[tuple[object, ...]]:
    """Every session's end and every user's ban, as stored."""

    def read(db: Session, _deps: object) -> list[tuple[object, ...]]:
        sessions = db.execute(select(UserSession.id, UserSession.deleted).order_by(UserSession.id)).all()
        users = db.execute(select(User.id, User.is_banned).order_by(User.id)).all()
        return [tuple(row) for row in (*sessions, *users)]

    return service(server).read(read)


def test_absurd_ids_in_every_path_are_4xx_and_change_nothing(server: LiveServer) -> None:
    admin = make_account(server, superuser=True)
    with signed_in(server, admin) as browser:
        assert browser.get("/account").status_code == 200
        before = _state(server)
        for method, template in ID_ROUTES:
            if "{username}" in template or "{name}" in template or "{provider}" in template:
                continue  # a name, not an id (a username's status; a file of the API docs)
            for bad in BAD_IDS:
                path = re.sub(r"\{[\w:]+\}", bad, template)
                data = {"csrf_token": "0" * 64}  # a form token is per path: none exists for these
                if template.startswith("/account"):
                    response = browser.request(method, path, data=data, follow_redirects=False)
                else:
                    body = {"expiry_days": 30} if template.endswith("api-keys") else None
                    response = browser.request(method, path, json=body)
                assert 400 <= response.status_code < 500, (method, path, response.status_code, response.text)
                if template.startswith("/v1/"):
                    assert error_code(response, 404) == "not_found", (method, path)
        assert _state(server) == before
        assert browser.get("/v1/verify").status_code == 200


# --- headers -------------------------------------------------------------------------------------


def test_answers_carrying_a_token_are_no_store(server: LiveServer) -> None:
    account = make_account(server)
    with server.client() as browser:
        login = log_in(browser, account.username)
        assert login.status_code == 200 and login.headers["cache-control"] == "no-store"
        created = browser.post("/v1/api-keys", json={"password": PASSWORD, "name": "ci", "expiry_days": 3})
        assert created.status_code == 201 and created.headers["cache-control"] == "no-store"


def test_every_json_answer_is_nosniff(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser, server.client() as anonymous:
        answers = [
            browser.get("/v1/session"),
            browser.get("/v1/sessions"),
            anonymous.get("/healthz"),
            anonymous.get("/v1/sessions"),  # 401
            anonymous.get("/v1/verify"),  # 401
            anonymous.get("/no-such-path"),  # 404
            anonymous.post("/v1/login", json={"user": "x"}),  # 400
            anonymous.post("/v1/login", json={}, headers={"Origin": "https://evil.example"}),  # 403 csrf
            anonymous.post("/v1/login", content=b"x" * 70_000, headers={"Content-Type": "application/json"}),  # 413
        ]
    for response in answers:
        assert response.headers["content-type"].startswith("application/json"), response.request.url
        assert response.headers["x-content-type-options"] == "nosniff", (response.request.url, response.status_code)


# --- signing in again ----------------------------------------------------------------------------


def live_sessions(server: LiveServer, account: Account) -> set[int]:
    with signed_in(server, account) as probe:
        listed = {s["id"] for s in probe.get("/v1/sessions").json()["sessions"] if not s["is_current"]}
        assert probe.post("/v1/logout").status_code == 204
    return listed


def test_signing_in_again_replaces_this_browsers_session(server: LiveServer) -> None:
    account, other = make_account(server), make_account(server)
    with server.client() as browser:
        form_token = csrf_token(browser.get("/login").text, "/login")  # taken while signed out
        first = log_in(browser, account.username).json()["session"]["id"]
        # the API login, presenting the first session's cookie
        again = log_in(browser, account.username)
        assert again.status_code == 200
        second = again.json()["session"]["id"]
        assert second != first and live_sessions(server, account) == {second}
        # the page login, presenting the second session's cookie
        fields = {"user": account.username, "password": PASSWORD, "csrf_token": form_token}
        done = browser.post("/login", data=fields, follow_redirects=False)
        assert done.status_code == 303
        third = int(browser.get("/v1/verify").headers["x-frontdesk-session-id"])
        assert third not in (first, second) and live_sessions(server, account) == {third}
        # a different user signing in on this browser leaves the first user's session alone
        assert log_in(browser, other.username).status_code == 200
        assert live_sessions(server, account) == {third}


# --- pages that explain ---------------------------------------------------------------------------


def test_signed_out_pages_go_to_sign_in_and_come_back(server: LiveServer) -> None:
    with server.client() as browser:
        for method, path in (("GET", "/account"), ("GET", "/account?notice=welcome"), ("POST", "/account/password")):
            response = browser.request(method, path, follow_redirects=False)
            assert response.status_code in (303, 307), (method, path)
            location = response.headers["location"]
            assert location.startswith("/login?next=%2Faccount"), location
            assert "reason=" not in location, "never signed in here: nothing to explain"


def test_an_ended_session_is_sent_to_sign_in_with_an_explanation(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser, signed_in(server, account) as elsewhere:
        mine = int(browser.get("/v1/verify").headers["x-frontdesk-session-id"])
        assert elsewhere.delete(f"/v1/sessions/{mine}").status_code == 204
        response = browser.get("/account", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Faccount&reason=signed_out"
        assert "frontdesk-session" not in browser.cookies, "the dead cookie is cleared"
        login = browser.get(response.headers["location"])
        assert login.status_code == 200 and "You were signed out on this device" in login.text


def test_revoking_an_api_key_on_the_account_page_says_a_key_was_revoked(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser:
        key = create_api_key(browser, account)
        action = f"/account/sessions/{key['id']}/revoke"
        done = submit(browser, "/account", action)
        assert done.status_code == 303 and done.headers["location"] == "/account?notice=key-revoked"
        page = browser.get(done.headers["location"])
        assert "That API key is revoked" in page.text and "That session is signed out" not in page.text
        with server.client() as api:
            assert api.get("/v1/verify", headers=bearer(str(key["token"]))).status_code == 401


def test_a_mistyped_address_is_an_html_page_for_browsers_and_json_for_api_clients(server: LiveServer) -> None:
    with server.client() as client:
        page = client.get("/acount", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "Page not found" in page.text
        assert error_code(client.get("/acount"), 404) == "not_found"
        assert error_code(client.get("/v1/nope", headers={"Accept": "application/json"}), 404) == "not_found"


# --- messages ------------------------------------------------------------------------------------

APP = create_app(Settings(database_url="sqlite://"), send_mail=False)
JSON = {"Content-Type": "application/json"}


def message(response: httpx.Response) -> str:
    assert error_code(response, 400) == "invalid_request"
    return str(response.json()["error"]["message"])


def test_malformed_json_names_the_position_and_asks_for_json() -> None:
    text = message(asgi_request(APP, "POST", "/v1/login", content=b'{"user": "a",', headers=JSON))
    assert "not valid JSON" in text and "character 13" in text and "application/json" in text


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_a_body_that_is_not_json_says_send_json(content_type: str) -> None:
    response = asgi_request(
        APP, "POST", "/v1/login", content=b"user=a&password=b", headers={"Content-Type": content_type}
    )
    text = message(response)
    assert "application/json" in text and "dictionary" not in text


def test_a_long_username_states_the_real_rule() -> None:
    body = {"email": "a@example.com", "username": "a" * 78, "password": PASSWORD, "name": "A"}
    text = message(asgi_request(APP, "POST", "/v1/signup", json=body))
    assert "3 to 32 characters" in text and "64" not in text
