"""After the provider: second factors still apply, and linking and unlinking need a fresh session,
which an account with neither password nor second factor gets by signing in again through its
provider (contract sections 6 and 8; SQLite and PostgreSQL, against the real provider)."""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
from sqlalchemy import func, select, update

from frontdesk.models import AuthEvent, Identity, OAuthFlow, UserSession
from frontdesk.runtime import Frontdesk
from tests.oidc.journey import authorize, callback, start
from tests.oidc.tamper import TamperProxy


def sign_up_with_totp(frontdesk: httpx.Client, provider: httpx.Client, login: str) -> pyotp.TOTP:
    """A new account made by social sign-in, with an authenticator app enrolled; signed out after."""
    assert callback(frontdesk, authorize(provider, start(frontdesk), login)).status_code == 302
    began = frontdesk.post("/v1/second-factors/totp")
    assert began.status_code == 200, began.text
    app = pyotp.TOTP(began.json()["secret"])
    assert frontdesk.post("/v1/second-factors/totp/confirm", json={"totp": app.now()}).status_code == 200
    assert frontdesk.post("/v1/logout").status_code == 204
    return app


def next_code(app: pyotp.TOTP) -> str:
    """The next step's code: the current one confirmed the enrolment (one step of drift is allowed)."""
    return app.at(time.time() + 30)


def sessions(fd: Frontdesk) -> int:
    with fd.factory() as db:
        return int(db.scalar(select(func.count()).select_from(UserSession)) or 0)


def age_sessions(fd: Frontdesk, by: timedelta = timedelta(hours=1)) -> None:
    """Every session's last proved factor `by` ago: stale (REAUTH_MAX_AGE is 10 minutes)."""
    with fd.factory.begin() as db:
        db.execute(update(UserSession).values(authenticated_at=datetime.now(UTC) - by))


def test_a_user_with_a_second_factor_goes_from_the_callback_to_the_second_step(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    app = sign_up_with_totp(frontdesk, provider_browser, "tess")
    made = sessions(social_fd)
    url = authorize(provider_browser, start(frontdesk, query="?next=/welcome&remember_device=1"), "tess")
    answer = callback(frontdesk, url)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert location.path == "/login/second-step"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert set(query) == {"challenge", "next"} and query["next"] == "/welcome"
    assert "frontdesk-session" not in answer.headers.get("set-cookie", "")
    assert frontdesk.get("/v1/session").json()["logged_in"] is False
    assert sessions(social_fd) == made  # no session until the second step
    page = frontdesk.get(answer.headers["location"])
    assert page.status_code == 200 and "Code from your authenticator app" in page.text

    done = frontdesk.post("/v1/login/second-factor", json={"challenge": query["challenge"], "totp": next_code(app)})
    assert done.status_code == 200, done.text
    session = frontdesk.get("/v1/session").json()
    assert session["username"] == "tess" and session["aal"] == 2
    assert session["factors"] == ["social", "totp"] and session["long_lived"] is True  # remember_device carried
    with social_fd.factory() as db:
        details = list(db.scalars(select(AuthEvent.detail).where(AuthEvent.event == "login.succeeded")))
    assert details[-1] == "social+totp"


def test_a_social_sign_in_without_a_second_factor_records_the_social_factor(
    frontdesk: httpx.Client, provider_browser: httpx.Client
) -> None:
    assert callback(frontdesk, authorize(provider_browser, start(frontdesk), "uli")).status_code == 302
    session = frontdesk.get("/v1/session").json()
    assert (session["aal"], session["factors"]) == (1, ["social"])


def test_linking_and_unlinking_need_a_fresh_session(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    assert callback(frontdesk, authorize(provider_browser, start(frontdesk), "vera")).status_code == 302
    with social_fd.factory() as db:
        (identity,) = db.scalars(select(Identity))
        flows = int(db.scalar(select(func.count()).select_from(OAuthFlow)) or 0)
    age_sessions(social_fd)
    for refused in (frontdesk.post("/v1/identities/trusted"), frontdesk.delete(f"/v1/identities/{identity.id}")):
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "reauthentication_required"
    with social_fd.factory() as db:  # nothing changed: no flow started, the identity still there
        assert int(db.scalar(select(func.count()).select_from(OAuthFlow)) or 0) == flows
        assert [i.id for i in db.scalars(select(Identity))] == [identity.id]
    # no password, no second factor: the re-authentication page offers signing in again through the provider
    page = frontdesk.get("/reauthenticate?next=/account")
    assert page.status_code == 200 and 'name="password"' not in page.text
    link = re.search(r'<a href="(/v1/oauth/corp/start\?[^"]+)">Sign in again with Corp</a>', page.text)
    assert link, page.text
    assert html.unescape(link.group(1)) == "/v1/oauth/corp/start?reauth=1&next=%2Faccount"
    answer = callback(frontdesk, authorize(provider_browser, start(frontdesk, query="?reauth=1"), "vera"))
    assert answer.status_code == 302 and answer.headers["location"] == "/account"
    assert frontdesk.get("/v1/session").json()["username"] == "vera"
    started = frontdesk.post("/v1/identities/trusted")
    assert started.status_code == 200, started.text
    assert "prompt=login" not in started.json()["redirect"]
    with social_fd.factory() as db:  # the stale session was replaced, not kept beside the new one
        live = db.scalars(select(UserSession).where(UserSession.deleted.is_(None))).all()
    assert len(live) == 1


def test_signing_in_again_asks_the_provider_for_a_new_sign_in_and_accepts_only_the_same_identity(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    assert callback(frontdesk, authorize(provider_browser, start(frontdesk), "wade")).status_code == 302
    before = frontdesk.get("/v1/session").json()
    url = start(frontdesk, query="?reauth=1")
    assert "prompt=login" in url and "max_age=0" in url
    # at the provider, someone signs in as another person: refused, and the session stays as it was
    provider_browser.cookies.clear()  # (their own provider session, not wade's)
    answer = callback(frontdesk, authorize(provider_browser, url, "xena"))
    assert answer.status_code == 400 and "not linked to the account you are signed in to" in answer.text
    assert frontdesk.get("/v1/session").json() == before
    with social_fd.factory() as db:
        assert db.scalar(select(func.count()).select_from(Identity)) == 1  # no account for xena
        refusal = db.scalar(select(AuthEvent.detail).where(AuthEvent.event == "oauth.refused"))
    assert refusal == "corp:reauth_other_identity"


def test_signing_in_again_without_a_new_sign_in_at_the_provider_is_refused(
    tampered: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk, tamper: TamperProxy
) -> None:
    """A provider that ignored `prompt=login` (its `auth_time` is from before the flow began)."""
    assert callback(tampered, authorize(provider_browser, start(tampered), "yann")).status_code == 302
    age_sessions(social_fd)
    tamper.tamper = tamper.resign(auth_time=int(time.time()) - 3600)
    answer = callback(tampered, authorize(provider_browser, start(tampered, query="?reauth=1"), "yann"))
    assert answer.status_code == 400 and "did not ask you to sign in again" in answer.text
    assert tampered.post("/v1/identities/trusted").json()["error"]["code"] == "reauthentication_required"
