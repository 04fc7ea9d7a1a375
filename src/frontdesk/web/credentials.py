"""Where a request comes from: the client IP (X-Forwarded-For from trusted proxies only) and user agent.

Who the caller is, is decided in `web/authn.py`."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import HTTPConnection

from frontdesk.service.context import RequestContext
from frontdesk.settings import Settings


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
