"""FRONTDESK_REQUIRE_SECOND_FACTOR (contract section 6): a covered user without a second factor
signs in at aal 1 and may only enrol one; every other account or admin route answers 403
`second_factor_required`. On both databases, in process (the app and its rules, no server)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pyotp
import pytest

from frontdesk.clock import FrozenClock
from frontdesk.models import User
from frontdesk.runtime import Frontdesk
from frontdesk.web.app import create_app
from tests.factories import make_session, make_user
from tests.fast import fast_settings
from tests.web.helpers import asgi_request, cookie, error_code

ORIGIN = {"Origin": "http://127.0.0.1:8000"}  # the default public URL: the CSRF check passes


@pytest.fixture(params=["everyone", "superusers"])
def policy(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def covered_fd(database_url: str, clock: FrozenClock, policy: str) -> Iterator[Frontdesk]:
    fd = Frontdesk(fast_settings(database_url, require_second_factor=policy), clock=clock)
    yield fd
    fd.close()


class Browser:
    """One signed-in browser on the app, in process."""

    def __init__(self, fd: Frontdesk, user: User) -> None:
        self.app = create_app(frontdesk=fd, send_mail=False)
        self.headers = {**cookie(make_session(fd, user, factors=("password",)).token), **ORIGIN}

    def __call__(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return asgi_request(self.app, method, path, headers=self.headers, **kwargs)


def test_a_covered_user_may_only_enrol(covered_fd: Frontdesk) -> None:
    user = make_user(covered_fd, is_superuser=True)
    browser = Browser(covered_fd, user)
    me = browser("GET", "/v1/session").json()
    assert (me["logged_in"], me["aal"]) == (True, 1), "signed in, at aal 1"
    assert browser("GET", "/v1/verify").status_code == 200, "verify is the proxies' (they ask ?aal=2)"
    for method, path, body in [
        ("GET", "/v1/sessions", None),
        ("POST", "/v1/api-keys", {"password": "x", "name": "k"}),
        ("POST", "/v1/password", {"old_password": "x", "new_password": "a long new passphrase"}),
        ("POST", f"/v1/admin/users/{user.id}/revoke-sessions", None),
    ]:
        refused = browser(method, path, json=body)
        assert error_code(refused, 403) == "second_factor_required", path
    assert browser("GET", "/v1/second-factors").status_code == 200
    assert browser("POST", "/v1/reauthenticate", json={"password": "not it"}).status_code == 401, "open"
    page = browser("GET", "/account")
    assert page.status_code == 200, "the page where factors are set up"
    refused_page = browser("POST", "/account/sessions/revoke-others", data={"csrf_token": "x"})
    assert refused_page.status_code == 403 and "two-step verification" in refused_page.text.lower()
    began = browser("POST", "/v1/second-factors/totp")
    assert began.status_code == 200, began.text
    code = pyotp.TOTP(began.json()["secret"]).at(covered_fd.deps.clock.now())
    confirmed = browser("POST", "/v1/second-factors/totp/confirm", json={"totp": code})
    assert confirmed.status_code == 200, confirmed.text
    assert browser("GET", "/v1/sessions").status_code == 200, "enrolled: everything is open again"
    assert browser("GET", "/v1/session").json()["aal"] == 2, "the code proved the app in this session"


def test_the_superusers_policy_leaves_other_users_alone(covered_fd: Frontdesk, policy: str) -> None:
    browser = Browser(covered_fd, make_user(covered_fd))
    expected = 403 if policy == "everyone" else 200
    assert browser("GET", "/v1/sessions").status_code == expected


def test_nobody_is_covered_by_default(fd: Frontdesk) -> None:
    assert fd.settings.require_second_factor == "none"
    browser = Browser(fd, make_user(fd, is_superuser=True))
    assert browser("GET", "/v1/sessions").status_code == 200
