"""Who is calling: the one place that reads a request's credentials and decides.

A request is *anonymous* (`None`: no credential, or one that matches no valid session), a
*principal* (a valid session or API key of a user who may sign in), or *refused* (`Refused`: its
credentials can't be read as one). Every caller asks here:

- the API routes (`web/deps.py`) and the framework's `GET /v1/verify` (`web/api/proxy.py`),
  through `identify`;
- the hosted pages (`web/pages/page.py`), through `identify` with `bearer=False` (pages never
  take bearer tokens);
- the library mode (`web/library.py`), through `identify`;
- `GET /v1/verify` on the fast path (`web/fastverify.py`), through `identify_fast`: the same
  reading and rule, with the lookup on the asyncpg connections;
- the CSRF middleware (`web/middleware.py`), through `has_session_cookie`.

The database lookup is sync (`Frontdesk.read`) or async (the fast path); the reading of every
`Cookie` header and the decision are here. Every principal carries how strongly and how
recently the caller signed in (`aal`, `factors`, `authenticated_at`); what a route demands of
that is decided once each: freshness in `service/freshness.py`, the second-factor policy in
`web/deps.ensure_enrolled`, verify's `?aal=` / `?max_age=` in `web/verdict.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from starlette.requests import cookie_parser

from frontdesk.crypto import MAX_TOKEN_LENGTH
from frontdesk.runtime import Frontdesk
from frontdesk.service.context import Principal
from frontdesk.service.sessions import authenticate, authenticate_fast

SESSION_COOKIE = "frontdesk-session"
USER_ID_COOKIE = "frontdesk-user-id"
Headers = Iterable[tuple[bytes, bytes]]  # an ASGI scope's raw headers: lower-cased names, latin-1 bytes


@dataclass(frozen=True, slots=True)
class Credential:
    """A token and how it travelled: a cookie only matches cookie sessions, a bearer only API keys.

    An empty token means one was presented but can't be valid (a malformed Authorization header,
    an over-long token): the request is then not signed in, and no database is asked.
    """

    token: str
    kind: Literal["cookie", "bearer"]

    @property
    def is_api_key(self) -> bool:
        return self.kind == "bearer"

    def __repr__(self) -> str:
        return f"Credential(kind={self.kind!r}, token=<hidden>)"


@dataclass(frozen=True, slots=True)
class Refused:
    """Credentials that can't be read as one, refused rather than guessed (401 `ambiguous_credentials`)."""

    message: str


TWO_SESSION_COOKIES = Refused(
    "This request carries two different frontdesk-session cookies (one may have been set for a parent "
    "domain by another site). Clear this site's cookies and sign in again."
)
COOKIE_AND_HEADER = Refused(
    "This request carries both a frontdesk-session cookie and an Authorization header. "
    "Send a session cookie or an Authorization header, not both."
)
TWO_AUTHORIZATION_HEADERS = Refused("This request carries two different Authorization headers. Send one.")

Caller = Principal | Refused | None
"""Who is calling: a principal, a refusal, or anonymous (None)."""


def session_cookies(header: str) -> list[str]:
    """The `frontdesk-session` values in one `Cookie` header (parsed as Starlette parses cookies)."""
    if SESSION_COOKIE not in header:  # the common case costs one scan
        return []
    return [
        value
        for chunk in header.split(";")
        if SESSION_COOKIE in chunk
        for name, value in cookie_parser(chunk).items()
        if name == SESSION_COOKIE
    ]


def has_session_cookie(headers: Headers) -> bool:
    """Whether any `Cookie` header of the request carries `frontdesk-session`."""
    return any(name == b"cookie" and session_cookies(value.decode("latin-1")) for name, value in headers)


def read_credential(headers: Headers, *, bearer: bool = True) -> Credential | Refused | None:
    """The request's one credential, read from every `Cookie` and `Authorization` header.

    With `bearer=False` Authorization headers are not credentials at all (the hosted pages).
    """
    cookie: str | None = None
    authorization: str | None = None
    for name, raw in headers:
        if name == b"cookie":
            for value in session_cookies(raw.decode("latin-1")):
                if cookie is not None and value != cookie:
                    return TWO_SESSION_COOKIES
                cookie = value
        elif name == b"authorization" and bearer:
            value = raw.decode("latin-1")
            if authorization is not None and value != authorization:
                return TWO_AUTHORIZATION_HEADERS
            authorization = value
    if authorization is not None:
        if cookie is not None:
            return COOKIE_AND_HEADER
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH or " " in token:
            return Credential("", "bearer")
        return Credential(token, "bearer")
    if cookie:
        return Credential(cookie if len(cookie) <= MAX_TOKEN_LENGTH else "", "cookie")
    return None


def identify(fd: Frontdesk, headers: Headers, *, bearer: bool = True) -> Caller:
    """Who is calling, looked up with the sync database session (the framework's routes)."""
    credential = read_credential(headers, bearer=bearer)
    if not isinstance(credential, Credential):
        return credential
    if not credential.token:
        return None
    return _admit(fd.read(authenticate, credential.token, is_api_key=credential.is_api_key))


async def identify_fast(fd: Frontdesk, headers: Headers) -> Caller:
    """Who is calling, looked up on the fast path's asyncpg connections (PostgreSQL only)."""
    credential = read_credential(headers)
    if not isinstance(credential, Credential):
        return credential
    if not credential.token:
        return None
    lookup = fd.verify_lookup
    if lookup is None:
        raise RuntimeError("the fast path needs PostgreSQL (Frontdesk.verify_lookup)")
    return _admit(await authenticate_fast(lookup, fd.deps, credential.token, is_api_key=credential.is_api_key))


def _admit(principal: Principal | None) -> Principal | None:
    """The last word on a found session, for every caller alike: a valid session is enough here
    (demands on aal and freshness are per route; see the module docstring)."""
    return principal
