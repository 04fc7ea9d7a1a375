"""The social sign-in parts of the hosted pages over plain HTTP, against the real provider (SQLite and
PostgreSQL): "Continue with" on /login and /signup, the account's "Linked sign-in methods" (link,
unlink, fresh sessions, the last way in), its CSP, and the callback's error pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, update

from frontdesk.models import Identity, OAuthFlow, User, UserSession
from frontdesk.oidc_settings import parse_providers
from frontdesk.runtime import Frontdesk
from frontdesk.web.app import create_app
from frontdesk.web.pages.csrf import CsrfTokens
from frontdesk.web.pages.identities import LAST_WAY_IN
from tests.factories import PASSWORD, make_user
from tests.live import free_port
from tests.mailbox import outbox
from tests.oidc.journey import authorize, callback, start, with_query
from tests.oidc.rig import OidcProvider
from tests.web.helpers import asgi_request, run_async
from tests.web.pages.forms import csrf_token, submit


def identities(fd: Frontdesk) -> list[Identity]:
    with fd.factory() as db:
        return list(db.scalars(select(Identity).order_by(Identity.id)))


def flows(fd: Frontdesk) -> int:
    with fd.factory() as db:
        return int(db.scalar(select(func.count()).select_from(OAuthFlow)) or 0)


def sign_in(frontdesk: httpx.Client, fd: Frontdesk, username: str) -> User:
    user = make_user(fd, username=username, email=f"{username}@example.com")
    assert frontdesk.post("/v1/login", json={"user": username, "password": PASSWORD}).status_code == 200
    return user


def age_sessions(fd: Frontdesk, user_id: int) -> None:
    """As if the user's last factor was proved 11 minutes ago (FRONTDESK_REAUTH_MAX_AGE is 10)."""
    with fd.factory() as db:
        then = datetime.now(UTC) - timedelta(minutes=11)
        db.execute(update(UserSession).where(UserSession.user_id == user_id).values(authenticated_at=then))
        db.commit()


def form_action(response: httpx.Response) -> str:
    match = re.search(r"form-action ([^;]+)", response.headers["content-security-policy"])
    assert match, response.headers["content-security-policy"]
    return match.group(1)


# --- Continue with ------------------------------------------------------------------------------


def test_login_and_signup_offer_each_provider_as_a_plain_link(frontdesk: httpx.Client) -> None:
    login = frontdesk.get("/login?next=/welcome")
    assert login.status_code == 200
    links = re.findall(r'<a class="button secondary" href="([^"]+)">Continue with ([^<]+)</a>', login.text)
    assert links == [
        ("/v1/oauth/corp/start?next=%2Fwelcome", "Corp"),
        ("/v1/oauth/trusted/start?next=%2Fwelcome", "Trusted"),
    ]
    signup = frontdesk.get("/signup")
    assert re.findall(r'href="(/v1/oauth/[^"]+)">Continue with', signup.text) == [
        "/v1/oauth/corp/start",
        "/v1/oauth/trusted/start",
    ]
    # a sign-in form that came back with "Remember this browser" ticked: the links carry it
    token = csrf_token(login.text, "/login")
    data = {"csrf_token": token, "user": "nobody", "password": "wrong", "next": "/welcome", "remember_device": "1"}
    again = frontdesk.post("/login", data=data)
    assert again.status_code == 401
    assert 'href="/v1/oauth/corp/start?next=%2Fwelcome&amp;remember_device=1"' in again.text
    # and the link starts the flow
    started = frontdesk.get("/v1/oauth/corp/start?next=%2Fwelcome&remember_device=1")
    assert started.status_code == 302 and "code_challenge_method=S256" in started.headers["location"]


def test_without_providers_there_is_no_continue_with(social_fd: Frontdesk) -> None:
    app = create_app(frontdesk=social_fd, send_mail=False, oidc_providers=parse_providers({}))
    for path in ("/login", "/signup"):
        page = asgi_request(app, "GET", path)
        assert page.status_code == 200 and "Continue with" not in page.text and "/v1/oauth/" not in page.text


# --- the account page -----------------------------------------------------------------------------


def test_linking_from_the_account_page_then_unlinking(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.issuer
    owner = sign_in(frontdesk, social_fd, "bob")
    account = frontdesk.get("/account")
    assert "Linked sign-in methods" in account.text and "None linked yet." in account.text
    assert re.findall(r'<button type="submit" class="secondary">(Link [^<]+)</button>', account.text) == [
        "Link Corp",
        "Link Trusted",
    ]
    # Chromium checks form-action on the Link form's redirect to the provider
    assert issuer in form_action(account).split()

    started = submit(frontdesk, "/account", "/account/identities/corp/link")
    assert started.status_code == 303, started.text
    assert started.headers["location"].startswith(f"{issuer}/")
    answer = callback(frontdesk, authorize(provider_browser, started.headers["location"], "bob-elsewhere"))
    assert answer.status_code == 302 and answer.headers["location"] == "/account?notice=identity-linked#identities"
    (identity,) = identities(social_fd)
    assert (identity.user_id, identity.provider, identity.subject) == (owner.id, "corp", "bob-elsewhere")

    linked = frontdesk.get("/account?notice=identity-linked")
    assert "The sign-in method is linked" in linked.text
    section = linked.text[linked.text.index('id="identities"') :]
    assert "<h3>Corp</h3>" in section and "bob-elsewhere@example.com" in section
    assert "Link Corp" not in section and "Link Trusted" in section

    unlinked = submit(frontdesk, "/account", f"/account/identities/{identity.id}/unlink")
    assert unlinked.status_code == 303
    assert unlinked.headers["location"] == "/account?notice=identity-unlinked#identities"
    assert identities(social_fd) == []
    assert [e.to_address for e in outbox(social_fd, "identity_unlinked")] == ["bob@example.com"]
    # the same form again (another tab): already gone, said so
    token = csrf_token(linked.text, f"/account/identities/{identity.id}/unlink")
    gone = frontdesk.post(f"/account/identities/{identity.id}/unlink", data={"csrf_token": token})
    assert gone.status_code == 303 and gone.headers["location"] == "/account?notice=identity-gone#identities"


def test_the_only_way_into_an_account_is_not_unlinked(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    assert callback(frontdesk, authorize(provider_browser, start(frontdesk), "hana")).status_code == 302
    (identity,) = identities(social_fd)
    refused = submit(frontdesk, "/account", f"/account/identities/{identity.id}/unlink")
    assert refused.status_code == 400
    assert LAST_WAY_IN.replace("'", "&#39;") in refused.text and 'href="/forgot-password"' in refused.text
    assert len(identities(social_fd)) == 1 and outbox(social_fd, "identity_unlinked") == []


def test_a_stale_session_confirms_it_is_you_before_linking_or_unlinking(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    owner = sign_in(frontdesk, social_fd, "carl")
    started = submit(frontdesk, "/account", "/account/identities/trusted/link")
    callback(frontdesk, authorize(provider_browser, started.headers["location"], "carl"))
    (identity,) = identities(social_fd)
    before = flows(social_fd)
    account = frontdesk.get("/account").text
    age_sessions(social_fd, owner.id)
    for action in ("/account/identities/corp/link", f"/account/identities/{identity.id}/unlink"):
        sent = frontdesk.post(action, data={"csrf_token": csrf_token(account, action)})
        assert sent.status_code == 303 and sent.headers["location"] == "/reauthenticate?next=%2Faccount"
    assert flows(social_fd) == before and len(identities(social_fd)) == 1


def test_a_link_form_without_its_token_starts_nothing(frontdesk: httpx.Client, social_fd: Frontdesk) -> None:
    sign_in(frontdesk, social_fd, "dora")
    frontdesk.get("/account")
    for action in ("/account/identities/corp/link", "/account/identities/nope/link"):
        refused = frontdesk.post(action, data={"csrf_token": "0" * 64})
        assert refused.status_code == 403 and "This form had expired" in refused.text
    assert flows(social_fd) == 0
    assert submit(frontdesk, "/account", "/account/identities/corp/link").status_code == 303
    assert flows(social_fd) == 1
    # a provider nobody configured, with a token that is right for its path: said so, nothing started
    tokens = CsrfTokens(social_fd.settings)
    token = tokens.token(frontdesk.cookies["frontdesk-csrf"], "/account/identities/nope/link")
    unknown = frontdesk.post("/account/identities/nope/link", data={"csrf_token": token})
    assert unknown.status_code == 404 and "There is no sign-in provider of that name here." in unknown.text
    assert flows(social_fd) == 1


def test_linking_a_provider_that_does_not_answer_says_so_on_the_account_page(social_fd: Frontdesk) -> None:
    env = {
        "FRONTDESK_OIDC_PROVIDERS": "down",
        "FRONTDESK_OIDC_DOWN_ISSUER": f"http://127.0.0.1:{free_port()}",
        "FRONTDESK_OIDC_DOWN_CLIENT_ID": "x",
        "FRONTDESK_OIDC_DOWN_CLIENT_SECRET": "y",
    }
    app = create_app(frontdesk=social_fd, send_mail=False, oidc_providers=parse_providers(env))
    user = make_user(social_fd, username="erik", email="erik@example.com")
    transport = httpx.ASGITransport(app=app)
    headers = {"Origin": "http://127.0.0.1:8000"}

    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000", headers=headers) as c:
            assert (await c.post("/v1/login", json={"user": user.username, "password": PASSWORD})).status_code == 200
            account = await c.get("/account")
            # the issuer's origin is allowed before any discovery (the page never waits on a provider)
            assert env["FRONTDESK_OIDC_DOWN_ISSUER"] in form_action(account).split()
            token = csrf_token(account.text, "/account/identities/down/link")
            return await c.post("/account/identities/down/link", data={"csrf_token": token})

    answer = run_async(run)
    assert answer.status_code == 502 and "not answering" in answer.text and "Your account" in answer.text
    assert flows(social_fd) == 0


# --- the callback's pages -------------------------------------------------------------------------


def test_each_refusal_has_a_page_that_says_what_happened(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    denied = callback(
        frontdesk, with_query(authorize(provider_browser, start(frontdesk), "ann"), code=None, error="access_denied")
    )
    assert denied.status_code == 400
    assert "<h1>Sign-in cancelled</h1>" in denied.text and "cancelled at Corp" in denied.text

    used = authorize(provider_browser, start(frontdesk), "ann")
    bad_state = callback(frontdesk, with_query(used, state="not-the-state"))
    assert bad_state.status_code == 400 and "<h1>This sign-in can&#39;t be finished</h1>" in bad_state.text

    late = authorize(provider_browser, start(frontdesk), "ann")
    with social_fd.factory() as db:
        db.execute(update(OAuthFlow).values(expiry=datetime.now(UTC) - timedelta(seconds=1)))
        db.commit()
    expired = callback(frontdesk, late)
    assert expired.status_code == 400 and "<h1>This sign-in took too long</h1>" in expired.text
    for page in (denied, bad_state, expired):
        assert "Nothing was changed." in page.text and 'href="/login">Start again' in page.text
    assert identities(social_fd) == [] and frontdesk.get("/v1/session").json()["logged_in"] is False
