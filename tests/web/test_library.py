"""frontdesk.web.library.FrontdeskAuth beyond the example: browser-only routes, refusals without
install(), and an unreachable database."""

# No `from __future__ import annotations`: FastAPI must evaluate the endpoints' annotations, which
# name the local `auth`.
from typing import Annotated

from fastapi import Depends, FastAPI

from frontdesk import FrontdeskAuth, Principal, Settings
from tests.live import LiveServer
from tests.web.helpers import (
    asgi_request,
    bearer,
    cookie,
    create_api_key,
    error_code,
    make_account,
    session_token,
    signed_in,
)


def make_app(auth: FrontdeskAuth, *, install: bool = True) -> FastAPI:
    app = FastAPI()
    if install:
        auth.install(app)

    @app.get("/me")
    def me(user: Annotated[Principal, Depends(auth.require_user)]) -> dict[str, object]:
        return {"user_id": user.user_id, "is_api_key": user.is_api_key, "session_id": user.session_id}

    @app.get("/browser-only")
    def browser_only(user: Annotated[Principal, Depends(auth.require_browser)]) -> dict[str, int]:
        return {"user_id": user.user_id}

    return app


def test_principal_for_cookie_and_key_and_browser_only_routes(server: LiveServer) -> None:
    account = make_account(server)
    auth = FrontdeskAuth(Settings(database_url=server.database_url))
    app = make_app(auth)
    try:
        with signed_in(server, account) as browser:
            token = session_token(browser)
            key = create_api_key(browser, account)
            session_id = int(browser.get("/v1/verify").headers["x-frontdesk-session-id"])
        by_cookie = asgi_request(app, "GET", "/me", headers=cookie(token))
        assert by_cookie.json() == {"user_id": account.user_id, "is_api_key": False, "session_id": session_id}
        by_key = asgi_request(app, "GET", "/me", headers=bearer(str(key["token"])))
        assert by_key.json() == {"user_id": account.user_id, "is_api_key": True, "session_id": key["id"]}
        assert asgi_request(app, "GET", "/browser-only", headers=cookie(token)).status_code == 200
        refused = asgi_request(app, "GET", "/browser-only", headers=bearer(str(key["token"])))
        assert error_code(refused, 403) == "forbidden"
    finally:
        auth.close()


def test_without_install_refusals_use_fastapis_shape(server: LiveServer) -> None:
    auth = FrontdeskAuth(Settings(database_url=server.database_url))
    try:
        response = asgi_request(make_app(auth, install=False), "GET", "/me")
        assert response.status_code == 401 and response.json() == {"detail": "Sign in first."}
    finally:
        auth.close()


def test_an_unreachable_database_is_503() -> None:
    auth = FrontdeskAuth(Settings(database_url="postgresql://nobody@127.0.0.1:1/nothing"))
    response = asgi_request(make_app(auth), "GET", "/me", headers=cookie("x" * 43))
    assert error_code(response, 503) == "service_unavailable"
    assert asgi_request(make_app(auth), "GET", "/me").status_code == 401, "no credential: no database needed"
