"""Driving a sign-in through the real provider's own login and consent pages, as a browser would.

`frontdesk` is a client of the app (cookies kept: the browser's cookie jar for frontdesk);
`provider` is a plain HTTP client with its own cookies (the same browser's jar for the provider).
Redirects are followed by hand so each hop can be inspected or tampered with.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.oidc.rig import PUBLIC_URL

MAX_HOPS = 20
_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>(.*?)</form>', re.S | re.I)
_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.I)


def start(frontdesk: httpx.Client, provider: str = "corp", query: str = "") -> str:
    """GET /v1/oauth/{provider}/start: the provider's authorization URL."""
    response = frontdesk.get(f"/v1/oauth/{provider}/start{query}")
    assert response.status_code == 302, response.text
    return str(response.headers["location"])


def authorize(provider: httpx.Client, url: str, login: str) -> str:
    """Walk the provider's pages from the authorization URL (signing in as `login`, consenting)
    until it redirects back to frontdesk; returns that callback URL (code, state, iss)."""
    for _ in range(MAX_HOPS):
        response = provider.get(url)
        while response.status_code == 200:
            match = _FORM.search(response.text)
            assert match, f"no form on the provider's page:\n{response.text[:2000]}"
            action, body = html.unescape(match.group(1)), match.group(2)
            fields = dict(_HIDDEN.findall(body))
            if fields.get("prompt") == "login":
                fields.update({"login": login, "password": "any password"})
            response = provider.post(str(httpx.URL(str(response.url)).join(action)), data=fields)
        assert response.status_code in (302, 303), f"{response.status_code}: {response.text[:500]}"
        url = str(httpx.URL(str(response.url)).join(response.headers["location"]))
        if url.startswith(PUBLIC_URL):
            return url
    raise AssertionError("the provider never redirected back")


def callback(frontdesk: httpx.Client, url: str) -> httpx.Response:
    """Follow the provider's redirect to frontdesk's callback (with this browser's cookies)."""
    parts = urlsplit(url)
    return frontdesk.get(f"{parts.path}?{parts.query}")


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, **changes: str | None) -> str:
    """`url` with query parameters replaced (None removes one)."""
    parts = urlsplit(url)
    query = query_of(url)
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return str(httpx.URL(f"{parts.scheme}://{parts.netloc}{parts.path}", params=query))
