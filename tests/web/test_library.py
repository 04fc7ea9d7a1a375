"""frontdesk.web.library.FrontdeskAuth beyond the example: browser-only routes, refusals without
install(), an unreachable database, and the step-up dependencies."""

# No `from __future__ import annotations`: FastAPI must evaluate the endpoints' annotations, which
# name the local `auth`.
from datetime import timedelta
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI

from frontdesk import FrontdeskAuth, Principal, Settings
from frontdesk.clock import FrozenClock
from frontdesk.runtime import Frontdesk
from tests.factories import make_session, make_user
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


def test_require_aal_and_require_fresh(fd: Frontdesk, clock: FrozenClock) -> None:
    """The step-up dependencies answer as `GET /v1/verify?aal=2` and `?max_age=N` do (RFC 9470)."""
    auth = FrontdeskAuth(frontdesk=fd)
    app = FastAPI()
    auth.install(app)

    @app.get("/strong")
    def strong(user: Annotated[Principal, Depends(auth.require_aal(2))]) -> dict[str, int]:
        return {"aal": user.aal}

    @app.get("/recent")
    def recent(user: Annotated[Principal, Depends(auth.require_fresh(300))]) -> dict[str, int]:
        return {"user_id": user.user_id}

    @app.get("/recent-by-default")
    def recent_by_default(user: Annotated[Principal, Depends(auth.require_fresh())]) -> dict[str, int]:
        return {"user_id": user.user_id}

    user = make_user(fd)
    one = make_session(fd, user, factors=("password",)).token
    two = make_session(fd, user, factors=("password", "totp"), aal=2).token
    key = make_session(fd, user, is_api_key=True, long_lived=True).token
    step_up = 'Bearer error="insufficient_user_authentication"'

    def get(path: str, headers: dict[str, str]) -> httpx.Response:
        return asgi_request(app, "GET", path, headers=headers)

    assert get("/strong", cookie(two)).json() == {"aal": 2}
    for weak in (cookie(one), bearer(key)):
        refused = get("/strong", weak)
        assert error_code(refused, 401) == "insufficient_user_authentication"
        assert refused.headers["www-authenticate"] == f'{step_up}, acr_values="aal2"'
    assert error_code(get("/strong", {}), 401) == "unauthenticated"
    clock.advance(timedelta(seconds=300))
    assert get("/recent", cookie(one)).status_code == 200
    clock.advance(timedelta(seconds=1))
    stale = get("/recent", cookie(one))
    assert error_code(stale, 401) == "insufficient_user_authentication"
    assert stale.headers["www-authenticate"] == f"{step_up}, max_age=300"
    assert get("/recent-by-default", cookie(one)).status_code == 200, "REAUTH_MAX_AGE is 10 minutes"
    clock.advance(timedelta(minutes=5))
    assert get("/recent-by-default", cookie(one)).headers["www-authenticate"] == f"{step_up}, max_age=600"
    with pytest.raises(ValueError):
        auth.require_aal(3)
    with pytest.raises(ValueError):
        auth.require_fresh(-1)
