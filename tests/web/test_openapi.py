"""The OpenAPI document and /docs: every endpoint and error described, and real responses conforming to it.
Also: every route declares who may call it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from frontdesk.settings import Settings
from frontdesk.web.app import create_app
from frontdesk.web.deps import Access, access_of, require_principal, require_superuser
from frontdesk.web.pages.page import require_signed_in
from tests.web.helpers import (
    BACKENDS,
    FOREIGN_ORIGIN,
    PASSWORD,
    RFC3339_Z,
    latest_email,
    log_in,
    make_account,
    shared_server,
    signed_in,
    token_in,
    unique,
)

UNSAFE = {"post", "put", "patch", "delete"}
# The contract's tables: every endpoint, and the error codes it names (with their statuses).
CONTRACT: dict[tuple[str, str], dict[str, int]] = {
    ("post", "/v1/signup"): {
        "invalid_email": 400,
        "invalid_username": 400,
        "password_too_short": 400,
        "password_too_long": 400,
        "insecure_password": 400,
        "username_taken": 409,
    },
    ("post", "/v1/signup/confirm"): {"invalid_token": 400},
    ("get", "/v1/usernames/{username}"): {},
    ("post", "/v1/login"): {"invalid_credentials": 401, "account_suspended": 403, "rate_limited": 429},
    ("post", "/v1/logout"): {},
    ("get", "/v1/session"): {},
    ("post", "/v1/login-link"): {"rate_limited": 429},
    ("post", "/v1/login-link/confirm"): {"invalid_token": 400, "invalid_code": 401, "rate_limited": 429},
    ("post", "/v1/password-reset"): {"rate_limited": 429},
    ("post", "/v1/password-reset/confirm"): {
        "invalid_token": 400,
        "password_too_short": 400,
        "password_too_long": 400,
        "insecure_password": 400,
    },
    ("get", "/v1/sessions"): {"unauthenticated": 401, "invalid_request": 400},
    ("delete", "/v1/sessions/{session_id}"): {
        "unauthenticated": 401,
        "not_found": 404,
        "cannot_delete_current_session": 400,
    },
    ("post", "/v1/sessions/revoke-others"): {"unauthenticated": 401, "must_confirm": 400},
    ("post", "/v1/password"): {
        "unauthenticated": 401,
        "invalid_credentials": 401,
        "password_too_short": 400,
        "password_too_long": 400,
        "insecure_password": 400,
        "rate_limited": 429,
    },
    ("post", "/v1/api-keys"): {
        "unauthenticated": 401,
        "invalid_credentials": 401,
        "forbidden": 403,
        "rate_limited": 429,  # wrong passwords count against the account's login limit
    },
    ("post", "/v1/admin/users/{user_id}/ban"): {"forbidden": 403},
    ("post", "/v1/admin/users/{user_id}/unban"): {"forbidden": 403},
    ("post", "/v1/admin/users/{user_id}/revoke-sessions"): {"forbidden": 403},
    ("post", "/v1/admin/users/{user_id}/api-keys"): {"forbidden": 403},
    ("post", "/v1/admin/users/{user_id}/reset-second-factors"): {"forbidden": 403},
    ("post", "/v1/sign-ins/not-me"): {"invalid_token": 400},
    ("get", "/v1/verify"): {"unauthenticated": 401, "ambiguous_credentials": 401},
    ("get", "/healthz"): {},  # its 503 is checked below
    ("get", "/metrics"): {"unauthenticated": 401, "forbidden": 403},  # a wrong token; production, not local
    ("get", "/dev/mail"): {"not_found": 404},  # production, or not a local client
    ("get", "/dev/mail.json"): {"not_found": 404},
}
# Every unsafe request can be refused for its origin or its size, and any body for its shape.
EVERY_UNSAFE = {"csrf_failed": 403, "payload_too_large": 413, "invalid_request": 400}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The app in this process (never started: these tests only read its routes and document)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('routes') / 'unused.db'}"
    return create_app(Settings(database_url=url), send_mail=False)


@pytest.fixture(scope="module")
def app_routes(app: FastAPI) -> list[object]:
    return [context.original_route for context in iter_route_contexts(app.routes)]


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def dependency_calls(dependant: Any) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from dependency_calls(sub)


def test_every_route_declares_who_may_call_it(app_routes: list[object]) -> None:
    """Every route of the app (API, pages, operations, development, static files, the framework's
    own documentation) declares its access, and a route is for signed-in users or administrators
    exactly when it depends on what enforces that."""
    undeclared = [getattr(r, "path", repr(r)) for r in app_routes if access_of(getattr(r, "endpoint", None)) is None]
    assert undeclared == [], "routes without @access(...)"
    api_routes = [route for route in app_routes if isinstance(route, APIRoute)]
    assert len(api_routes) >= len(CONTRACT)
    paths = {getattr(route, "path", "") for route in app_routes}
    assert {"/v1/verify", "/account", "/healthz", "/dev/mail", "/static/frontdesk.css", "/docs"} <= paths
    for route in api_routes:
        calls = set(dependency_calls(route.dependant))
        level = access_of(route.endpoint)
        signed_in_only = require_principal in calls or require_signed_in in calls
        assert signed_in_only is (level is Access.USER), route.path
        assert (require_superuser in calls) is (level is Access.ADMIN), route.path


def documented_codes(operation: dict[str, Any]) -> dict[str, set[int]]:
    codes: dict[str, set[int]] = {}
    for status, response in operation["responses"].items():
        match = re.fullmatch(r"Error codes: (.+)", response.get("description", ""))
        for code in match.group(1).split(", ") if match else ():
            codes.setdefault(code, set()).add(int(status))
    return codes


def test_openapi_describes_every_endpoint_and_its_errors(document: dict[str, Any]) -> None:
    operations = {(m, p): op for p, item in document["paths"].items() for m, op in item.items()}
    missing = set(CONTRACT) - set(operations)
    assert not missing, f"undocumented endpoints: {missing}"
    for key, named in CONTRACT.items():
        method, path = key
        operation = operations[key]
        expected = {**named, **(EVERY_UNSAFE if method in UNSAFE else {})}
        codes = documented_codes(operation)
        for code, status in expected.items():
            assert status in codes.get(code, set()), f"{method.upper()} {path}: {code} ({status}) not documented"
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)
        assert "422" not in operation["responses"], f"{path}: documents 422, which frontdesk never answers"
    assert operations["get", "/healthz"]["responses"]["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    known = set(document["components"]["schemas"]["ErrorCode"]["enum"])
    assert {code for named in CONTRACT.values() for code in named} | set(EVERY_UNSAFE) <= known


def test_openapi_and_docs_are_served(request: pytest.FixtureRequest) -> None:
    server = shared_server(request, "sqlite")
    with httpx.Client(base_url=server.url) as client:
        doc = client.get("/openapi.json")
        assert doc.status_code == 200 and doc.json()["openapi"].startswith("3.")
        assert set(CONTRACT) <= {(m, p) for p, item in doc.json()["paths"].items() for m in item}
        docs = client.get("/docs")
        assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
        assert "/openapi.json" in docs.text and "swagger" in docs.text.lower()


# --- conformance of real responses --------------------------------------------------------------


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def check(document: dict[str, Any], schema: dict[str, Any], value: object, where: str) -> None:
    """A small JSON Schema check (the subset FastAPI emits), strict about undocumented fields."""
    schema = resolve(document, schema)
    if "anyOf" in schema:
        failures = []
        for option in schema["anyOf"]:
            try:
                check(document, option, value, where)
                return
            except AssertionError as exc:
                failures.append(str(exc))
        raise AssertionError(f"{where}: matches no option: {failures}")
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    kind = schema.get("type")
    if kind == "object":
        assert isinstance(value, dict), f"{where}: not an object"
        properties = schema.get("properties", {})
        assert set(schema.get("required", ())) <= set(value), f"{where}: missing {set(schema['required']) - set(value)}"
        assert set(value) <= set(properties), f"{where}: undocumented {set(value) - set(properties)}"
        for key, item in value.items():
            check(document, properties[key], item, f"{where}.{key}")
    elif kind == "array":
        assert isinstance(value, list), f"{where}: not an array"
        for index, item in enumerate(value):
            check(document, schema.get("items", {}), item, f"{where}[{index}]")
    elif kind == "string":
        assert isinstance(value, str), f"{where}: not a string"
        if schema.get("format") == "date-time":
            assert RFC3339_Z.fullmatch(value), f"{where}: {value!r} is not RFC 3339 UTC"
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: not an integer"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{where}: not a boolean"
    elif kind == "null":
        assert value is None, f"{where}: not null"


class Recorder:
    """Checks each response against the operation and status the document gives for it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        # literal paths first: /v1/sessions/revoke-others is not /v1/sessions/{session_id}
        self.templates = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in sorted(document["paths"], key=lambda p: p.count("{"))
        ]
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, response: httpx.Response) -> httpx.Response:
        method, path = response.request.method.lower(), response.request.url.path
        template = next(t for p, t in self.templates if p.match(path) and method in self.document["paths"][t])
        operation = self.document["paths"][template][method]
        documented = operation["responses"].get(str(response.status_code))
        assert documented, f"{method.upper()} {template} answered {response.status_code}, which is not documented"
        self.seen.add((method, template, response.status_code))
        if response.status_code == 204 or not response.content:
            return response
        schema = documented["content"]["application/json"]["schema"]
        check(self.document, schema, response.json(), f"{method.upper()} {template} {response.status_code}")
        return response


@pytest.mark.parametrize("backend", BACKENDS)
def test_responses_conform_to_the_document(request: pytest.FixtureRequest, backend: str) -> None:
    server = shared_server(request, backend)
    with httpx.Client(base_url=server.url) as plain:
        document = plain.get("/openapi.json").json()
    record = Recorder(document)

    def hook(response: httpx.Response) -> None:
        response.read()
        record(response)

    username = unique("doc")
    email = f"{username}@example.com"
    admin, target = make_account(server, superuser=True), make_account(server)
    with server.client(event_hooks={"response": [hook]}) as c:
        c.get(f"/v1/usernames/{username}")
        c.get("/v1/session")
        c.post("/v1/signup", json={"email": email, "username": username, "password": PASSWORD, "name": "Doc"})
        c.post("/v1/signup", json={"email": email, "username": "no", "password": PASSWORD, "name": "Doc"})
        c.post("/v1/signup", json={"email": email, "username": username})
        c.post("/v1/signup/confirm", json={"token": "nope"})
        c.post("/v1/signup/confirm", json={"token": token_in(latest_email(c, email, "confirm"))})
        c.post("/v1/signup", json={"email": email, "username": username, "password": PASSWORD, "name": "Doc"})
        c.get("/v1/session")
        c.get("/v1/verify")
        session_id = c.get("/v1/sessions").json()["sessions"][0]["id"]
        c.get("/v1/sessions", params={"page_token": "bad"})
        c.delete(f"/v1/sessions/{session_id}")
        c.delete("/v1/sessions/999999999")
        key = c.post("/v1/api-keys", json={"password": PASSWORD, "name": "doc"}).json()
        c.post("/v1/api-keys", json={"password": "wrong password", "name": "doc"})
        c.post("/v1/sessions/revoke-others", json={})
        c.post("/v1/sessions/revoke-others", json={"confirm": True})
        c.post("/v1/password", json={"old_password": PASSWORD, "new_password": "short"})
        c.post("/v1/login-link", json={"user": username})
        c.post("/v1/login-link/confirm", json={"token": "nope"})
        c.post("/v1/login-link/confirm", json={"user": username, "code": "123456"})
        c.post("/v1/login-link/confirm", json={"token": "nope", "user": username, "code": "123456"})
        c.post("/v1/password-reset", json={"user": username})
        c.post("/v1/password-reset/confirm", json={"token": "nope", "new_password": PASSWORD})
        c.post("/v1/sign-ins/not-me", json={"token": "nope", "end_all": True})
        c.post(f"/v1/admin/users/{target.user_id}/ban")
        c.post("/v1/login", json={"user": username}, headers={"Origin": FOREIGN_ORIGIN})
        c.post("/v1/login", content=b"x" * 70_000, headers={"Content-Type": "application/json"})
        c.post("/v1/logout")
        c.get("/v1/verify")
        log_in(c, username, "wrong password")
        log_in(c, username)
        c.get("/v1/session", headers={"Authorization": f"Bearer {key['token']}"})
        c.get("/healthz")
    with signed_in(server, admin, event_hooks={"response": [hook]}) as boss:
        boss.post("/v1/admin/users/999999999/ban")
        boss.post(f"/v1/admin/users/{target.user_id}/ban")
        boss.post(f"/v1/admin/users/{target.user_id}/revoke-sessions")
        boss.post(f"/v1/admin/users/{target.user_id}/api-keys", json={"expiry_days": 1})
        boss.post(f"/v1/admin/users/{target.user_id}/unban")
    statuses = {status for _, _, status in record.seen}
    assert {200, 201, 202, 204, 400, 401, 403, 404, 409, 413} <= statuses, statuses
    assert len(record.seen) >= 35


@pytest.mark.parametrize("backend", BACKENDS)
def test_password_checks_of_a_signed_in_user_can_answer_the_documented_429(
    request: pytest.FixtureRequest, backend: str
) -> None:
    """Before: POST /v1/api-keys answered 429 (schemathesis' status-code conformance) undocumented."""
    server = shared_server(request, backend)  # 10 failures per account
    document = httpx.get(f"{server.url}/openapi.json").json()
    account = make_account(server)
    with signed_in(server, account) as browser:
        for path, body in (
            ("/v1/api-keys", {"password": "not the password", "name": "k"}),
            ("/v1/password", {"old_password": "not the password", "new_password": "a new long passphrase"}),
        ):
            statuses = {browser.post(path, json=body).status_code for _ in range(11)}
            assert 429 in statuses, (path, statuses)
            assert statuses <= {int(s) for s in document["paths"][path]["post"]["responses"]}, (path, statuses)
