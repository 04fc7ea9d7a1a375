"""examples/embedded_app.py: a FastAPI app authenticating against a real frontdesk server's database,
in-process (both databases)."""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from fastapi import FastAPI

from frontdesk import Settings
from tests.live import LiveServer
from tests.web.helpers import (
    BACKENDS,
    FOREIGN_ORIGIN,
    bearer,
    cookie,
    create_api_key,
    error_code,
    make_account,
    run_async,
    session_token,
    shared_server,
    signed_in,
)
from tests.web.test_fresh import age

EXAMPLE = Path(__file__).parents[2] / "examples" / "embedded_app.py"
APP_ORIGIN = "http://127.0.0.1:3000"


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> LiveServer:
    return shared_server(request, request.param)


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("embedded_app", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_app(app: FastAPI, steps: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
    """Start the app (its lifespan included), run `steps` against it in this process, shut it down."""

    async def main() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url=APP_ORIGIN) as client:
                await steps(client)

    run_async(main)


def build(example: ModuleType, server: LiveServer) -> FastAPI:
    # as in the example's instructions: frontdesk's public URL, the app's origin allowed
    settings = Settings(database_url=server.database_url, public_url=server.url, allowed_origins=(APP_ORIGIN,))
    app: FastAPI = example.create_app(settings)
    return app


def test_the_example_app_knows_frontdesk_users(server: LiveServer, example: ModuleType) -> None:
    user, admin = make_account(server), make_account(server, superuser=True)
    with signed_in(server, user) as browser, signed_in(server, admin) as boss:
        token, admin_token = session_token(browser), session_token(boss)
        key = str(create_api_key(browser, user)["token"])

        async def steps(app: httpx.AsyncClient) -> None:
            assert (await app.get("/")).json() == {"hello": "stranger"}
            assert (await app.get("/", headers=cookie(token))).json() == {"hello": user.username}
            assert error_code(await app.get("/notes"), 401) == "unauthenticated"
            assert (await app.get("/notes", headers=cookie(token))).json() == []

            written = await app.post("/notes", json={"text": "hi"}, headers={**cookie(token), "Origin": APP_ORIGIN})
            assert written.status_code == 201, written.text
            assert written.json() == {"id": 1, "author": user.username, "text": "hi"}
            forged = await app.post("/notes", json={"text": "x"}, headers={**cookie(token), "Origin": FOREIGN_ORIGIN})
            assert error_code(forged, 403) == "csrf_failed"
            by_key = await app.post("/notes", json={"text": "by key"}, headers=bearer(key))
            assert by_key.status_code == 201, "bearer-only requests are exempt from the origin check"
            assert [n["text"] for n in (await app.get("/notes", headers=bearer(key))).json()] == ["hi", "by key"]

            both = await app.get("/notes", headers={**cookie(token), **bearer(key)})
            assert error_code(both, 401) == "ambiguous_credentials"
            assert error_code(await app.get("/notes", headers=bearer(token)), 401) == "unauthenticated"
            assert error_code(await app.get("/notes", headers=cookie(key)), 401) == "unauthenticated"

            assert error_code(await app.get("/admin/stats", headers=cookie(token)), 403) == "forbidden"
            stats = await app.get("/admin/stats", headers=cookie(admin_token))
            assert stats.status_code == 200 and stats.json() == {"authors": 1, "notes": 2}

            # erasing needs a recent sign-in (require_fresh(300))
            fresh = await app.delete("/notes", headers={**cookie(admin_token), "Origin": APP_ORIGIN})
            assert fresh.status_code == 204, fresh.text
            age(server, browser, timedelta(minutes=6))
            stale = await app.delete("/notes", headers={**cookie(token), "Origin": APP_ORIGIN})
            assert error_code(stale, 401) == "insufficient_user_authentication"
            assert stale.headers["www-authenticate"] == 'Bearer error="insufficient_user_authentication", max_age=300'

            # what the server does is enforced here on the next request
            assert browser.post("/v1/logout").status_code == 204
            assert error_code(await app.get("/notes", headers=cookie(token)), 401) == "unauthenticated"
            assert boss.post(f"/v1/admin/users/{user.user_id}/ban").status_code == 204
            assert error_code(await app.get("/notes", headers=bearer(key)), 401) == "unauthenticated"

        run_app(build(example, server), steps)


def test_the_example_app_counts_each_use(server: LiveServer, example: ModuleType) -> None:
    user = make_account(server)
    with signed_in(server, user) as browser:
        key = create_api_key(browser, user)

        async def steps(app: httpx.AsyncClient) -> None:
            for _ in range(3):
                assert (await app.get("/notes", headers=bearer(str(key["token"])))).status_code == 200

        run_app(build(example, server), steps)  # shutting down writes the pending uses
        (item,) = [s for s in browser.get("/v1/sessions").json()["sessions"] if s["id"] == key["id"]]
    assert item["api_calls"] == 3
