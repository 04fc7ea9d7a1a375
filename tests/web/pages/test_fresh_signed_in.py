"""`FreshSignedIn`: the hosted pages' guard of sensitive forms (contract section 6). A stale session
is sent to `/reauthenticate?next=<back>`; on both databases, in process, with a clock that moves."""

# No `from __future__ import annotations`: FastAPI must evaluate the test route's annotations.
from datetime import timedelta

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from frontdesk.clock import FrozenClock
from frontdesk.runtime import Frontdesk
from frontdesk.web.app import create_app
from frontdesk.web.pages.page import FreshSignedIn
from tests.factories import make_session, make_user
from tests.web.helpers import asgi_request, cookie


def app_with_a_sensitive_page(fd: Frontdesk) -> FastAPI:
    app = create_app(frontdesk=fd, send_mail=False)

    @app.get("/sensitive")
    @app.post("/sensitive")
    def sensitive(caller: FreshSignedIn) -> PlainTextResponse:
        return PlainTextResponse(f"fresh {caller.username}")

    return app


def test_a_stale_session_is_sent_to_reauthenticate(fd: Frontdesk, clock: FrozenClock) -> None:
    app = app_with_a_sensitive_page(fd)
    user = make_user(fd)
    headers = {**cookie(make_session(fd, user).token), "Origin": "http://127.0.0.1:8000"}
    assert asgi_request(app, "GET", "/sensitive?x=1", headers=headers).text == f"fresh {user.username}"
    clock.advance(timedelta(minutes=10, seconds=1))
    page = asgi_request(app, "GET", "/sensitive?x=1", headers=headers)
    assert page.status_code == 303 and page.headers["location"] == "/reauthenticate?next=%2Fsensitive%3Fx%3D1"
    posted = asgi_request(app, "POST", "/sensitive", headers=headers)
    assert posted.status_code == 303 and posted.headers["location"] == "/reauthenticate?next=%2Faccount"
    anonymous = asgi_request(app, "GET", "/sensitive")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
