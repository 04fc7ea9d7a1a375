"""`response_mode=form_post` (Apple's preset) against the real provider: the provider sends the
browser back with a cross-site form POST, which the callback takes with the same checks as a GET;
only that callback is exempt from the origin check (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from frontdesk.models import AuthEvent, Identity, User, UserSession
from frontdesk.oidc_settings import parse_providers
from frontdesk.runtime import Frontdesk
from frontdesk.web.app import create_app
from tests.fast import fast_settings
from tests.oidc.conftest import provider_env, serve
from tests.oidc.journey import MAX_HOPS, start
from tests.oidc.rig import PUBLIC_URL, OidcProvider

_FORM = re.compile(r"<form([^>]*)>(.*?)</form>", re.S | re.I)
_ACTION = re.compile(r'action="([^"]+)"', re.I)
_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.I)


@pytest.fixture
def form_posting(social_fd: Frontdesk, oidc_provider: OidcProvider) -> Iterator[httpx.Client]:
    """frontdesk with "corp" set to `response_mode=form_post` ("trusted" stays on query)."""
    env = provider_env(oidc_provider.issuer, FRONTDESK_OIDC_CORP_RESPONSE_MODE="form_post")
    app = create_app(frontdesk=social_fd, send_mail=False, oidc_providers=parse_providers(env))
    with serve(app) as client:
        yield client


def authorize_form_post(provider: httpx.Client, url: str, login: str) -> tuple[str, dict[str, str]]:
    """Walk the provider's login and consent pages until its page that posts the answer to
    frontdesk (which a browser submits by itself); returns that form's action and fields."""
    for _ in range(MAX_HOPS):
        response = provider.get(url)
        while response.status_code == 200:
            match = _FORM.search(response.text)
            assert match, f"no form on the provider's page:\n{response.text[:2000]}"
            action_match = _ACTION.search(match.group(1))
            assert action_match
            action = html.unescape(action_match.group(1))
            fields = {name: html.unescape(value) for name, value in _HIDDEN.findall(match.group(2))}
            target = str(httpx.URL(str(response.url)).join(action))
            if target.startswith(PUBLIC_URL):
                return target, fields
            if fields.get("prompt") == "login":
                fields.update({"login": login, "password": "any password"})
            response = provider.post(target, data=fields)
        assert response.status_code in (302, 303), f"{response.status_code}: {response.text[:500]}"
        url = str(httpx.URL(str(response.url)).join(response.headers["location"]))
        assert not url.startswith(PUBLIC_URL), "the provider answered with a redirect, not a form POST"
    raise AssertionError("the provider never posted back")


def post_back(frontdesk: httpx.Client, provider: OidcProvider, target: str, fields: dict[str, str]) -> httpx.Response:
    """The browser submits the provider's form: a cross-site POST (Origin: the provider)."""
    return frontdesk.post(urlsplit(target).path, data=fields, headers={"Origin": provider.issuer})


def test_a_form_post_answer_signs_in(
    form_posting: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk, oidc_provider: OidcProvider
) -> None:
    url = start(form_posting, query="?next=/welcome")
    assert "response_mode=form_post" in url
    target, fields = authorize_form_post(provider_browser, url, "zoe")
    assert set(fields) >= {"code", "state", "iss"}
    answer = post_back(form_posting, oidc_provider, target, fields)
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"] == "/welcome"
    assert form_posting.get("/v1/session").json()["username"] == "zoe"


def test_a_form_post_answer_is_checked_like_a_query_one(
    form_posting: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk, oidc_provider: OidcProvider
) -> None:
    """Another state, then a browser without the binding cookie: refused, nothing made, the flow ended."""
    target, fields = authorize_form_post(provider_browser, start(form_posting), "mallory")
    refused = post_back(form_posting, oidc_provider, target, {**fields, "state": "not-the-state"})
    assert refused.status_code == 400 and "Nothing was changed" in refused.text
    form_posting.cookies.clear()
    refused = post_back(form_posting, oidc_provider, target, fields)
    assert refused.status_code == 400 and "Nothing was changed" in refused.text
    with social_fd.factory() as db:
        made = [db.scalar(select(func.count()).select_from(m)) for m in (User, Identity, UserSession)]
        reasons = list(db.scalars(select(AuthEvent.detail).where(AuthEvent.event == "oauth.refused")))
    assert made == [0, 0, 0]
    assert reasons == ["corp:unknown_or_used_state", "corp:browser_binding"]


def test_only_a_form_post_providers_callback_takes_a_cross_site_post(
    form_posting: httpx.Client, oidc_provider: OidcProvider
) -> None:
    """ "trusted" answers with a query: a POST to its callback from another site is the origin check's
    403; from this site, a page that changes nothing. Other routes keep the origin check."""
    cross_site = {"Origin": oidc_provider.issuer}
    assert form_posting.post("/v1/oauth/trusted/callback", data={"state": "x"}, headers=cross_site).status_code == 403
    same_site = form_posting.post("/v1/oauth/trusted/callback", data={"state": "x"})
    assert same_site.status_code == 400 and "Nothing was changed" in same_site.text
    assert form_posting.post("/v1/logout", headers=cross_site).status_code == 403


def test_the_binding_cookie_of_a_form_post_provider_is_samesite_none_over_https(database_url: str) -> None:
    """A cross-site POST carries only SameSite=None cookies (which browsers take only when Secure)."""
    env = provider_env("https://id.example.com", FRONTDESK_OIDC_CORP_RESPONSE_MODE="form_post")
    fd = Frontdesk(fast_settings(database_url, public_url="https://auth.example.com"))
    app = create_app(frontdesk=fd, send_mail=False, oidc_providers=parse_providers(env))
    discovery = {
        "issuer": "https://id.example.com",
        "authorization_endpoint": "https://id.example.com/auth",
        "token_endpoint": "https://id.example.com/token",
        "jwks_uri": "https://id.example.com/jwks",
    }
    for name in ("corp", "trusted"):  # no network: discovery as if fetched
        client = app.state.oidc.get(name)
        client._metadata = (discovery, fd.deps.clock.now())

    async def run(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://auth.example.com") as client:
            return await client.get(path)

    try:
        form_post = asyncio.run(run("/v1/oauth/corp/start")).headers["set-cookie"].lower()
        query = asyncio.run(run("/v1/oauth/trusted/start")).headers["set-cookie"].lower()
    finally:
        fd.close()
    assert "samesite=none" in form_post and "secure" in form_post and "httponly" in form_post
    assert "samesite=lax" in query
