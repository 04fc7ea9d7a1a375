"""Reading who the caller is and where they come from: cookie or bearer token, client IP, user agent."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from starlette.requests import HTTPConnection, cookie_parser

from frontdesk.service.context import RequestContext
from frontdesk.settings import Settings
from frontdesk.web.errors import AmbiguousCredentials

SESSION_COOKIE = "frontdesk-session"
USER_ID_COOKIE = "frontdesk-user-id"
MAX_TOKEN_LENGTH = 512


@dataclass(frozen=True, slots=True)
class Credential:
    """A token and how it travelled: a cookie only matches cookie sessions, a bearer only API keys."""

    token: str
    kind: Literal["cookie", "bearer"]

    @property
    def is_api_key(self) -> bool:
        return self.kind == "bearer"

    def __repr__(self) -> str:
        return f"Credential(kind={self.kind!r}, token=<hidden>)"


def read_credential(conn: HTTPConnection) -> Credential | None:
    """The request's credential; AmbiguousCredentials when it carries both kinds.

    A malformed Authorization header or an over-long token counts as presented-but-invalid, so
    the caller answers 401 rather than treating it as anonymous and moving on.
    """
    cookie = conn.cookies.get(SESSION_COOKIE)
    header = conn.headers.get("authorization")
    if cookie is not None and header is not None:
        raise AmbiguousCredentials()
    if cookie is not None and _has_two_session_cookies(conn.headers.get("cookie", "")):
        # Two different session cookies (one planted for a parent domain or a narrower path:
        # "cookie tossing"): refuse rather than guess which one the user meant.
        raise AmbiguousCredentials()
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH or " " in token:
            return Credential("", "bearer")
        return Credential(token, "bearer")
    if cookie:
        return Credential(cookie if len(cookie) <= MAX_TOKEN_LENGTH else "", "cookie")
    return None


def _has_two_session_cookies(header: str) -> bool:
    if header.count(SESSION_COOKIE) < 2:  # the common case costs one scan
        return False
    values: set[str] = set()
    for chunk in header.split(";"):
        values.update(v for k, v in cookie_parser(chunk).items() if k == SESSION_COOKIE)
    return len(values) > 1


class ClientAddress:
    """The client's IP: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""

    def __init__(self, trusted_proxies: Sequence[str]) -> None:
        self._trusted = [ipaddress.ip_network(net, strict=False) for net in trusted_proxies]

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._trusted)

    def of(self, conn: HTTPConnection) -> str | None:
        peer = conn.client.host if conn.client else None
        if peer is None or not self._trusted or not self._is_trusted(peer):
            return peer
        forwarded = conn.headers.get("x-forwarded-for", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        # walk from the nearest hop; the first address not ours is the client
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer
        return hops[0] if hops else peer


class RequestInfo:
    """Per-app helper turning a request into the service's RequestContext."""

    def __init__(self, settings: Settings) -> None:
        self.address = ClientAddress(settings.trusted_proxies)

    def context(self, conn: HTTPConnection) -> RequestContext:
        return RequestContext(ip_address=self.address.of(conn), user_agent=conn.headers.get("user-agent"))
