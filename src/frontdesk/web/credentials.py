"""Where a request comes from: the client IP (X-Forwarded-For from trusted proxies only) and user agent.

Who the caller is, is decided in `web/authn.py`."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

from starlette.requests import HTTPConnection

from frontdesk.service.context import RequestContext
from frontdesk.settings import Settings

log = logging.getLogger(__name__)
DEVICE_COOKIE = "frontdesk-device"  # set at sign-in by `web/cookies.py`; see `service/known_devices.py`


def parse_address(text: str) -> str | None:
    """The IP address in an X-Forwarded-For entry, which may carry a port or brackets
    (`203.0.113.9:4711`, `[2001:db8::1]`, `[2001:db8::1]:443`); None when there is none."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        rest = text[end + 1 :] if end > 0 else "x"
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # IPv4 with a port (a bare IPv6 address has several colons)
        text, _, port = text.partition(":")
        if not port.isdigit():
            return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


class ClientAddress:
    """The client's IP: the socket peer, or X-Forwarded-For when the peer is a trusted proxy.

    Without TRUSTED_PROXIES, the first request from a private address (a reverse proxy on the
    same machine or network, most likely) logs a warning once: every client then shares that
    proxy's address, and per-IP limits count them all together.
    """

    def __init__(self, trusted_proxies: Sequence[str]) -> None:
        self._trusted = [ipaddress.ip_network(net, strict=False) for net in trusted_proxies]
        self._warned = False

    def _is_trusted(self, address: str | None) -> bool:
        if address is None:
            return False
        ip = ipaddress.ip_address(address)
        return any(ip in net for net in self._trusted)

    def _warn_if_private(self, peer: str) -> None:
        parsed = parse_address(peer)
        if parsed is not None and ipaddress.ip_address(parsed).is_private:
            self._warned = True
            log.warning(
                "client_address.private_without_trusted_proxies",
                extra={
                    "hint": "requests arrive from a private address and FRONTDESK_TRUSTED_PROXIES is unset: "
                    "if a reverse proxy is in front, set it, or every client shares one per-IP limit"
                },
            )

    def of(self, conn: HTTPConnection) -> str | None:
        peer = conn.client.host if conn.client else None
        if peer is None:
            return None
        if not self._trusted:
            if not self._warned:
                self._warn_if_private(peer)
            return peer
        if not self._is_trusted(parse_address(peer)):
            return peer
        forwarded = conn.headers.get("x-forwarded-for", "")
        hops = [parse_address(hop) for hop in forwarded.split(",") if hop.strip()]
        # walk from the nearest hop; the first address not ours is the client
        for hop in reversed(hops):
            if hop is None:
                return peer
            if not self._is_trusted(hop):
                return hop
        return hops[0] if hops and hops[0] else peer


class RequestInfo:
    """Per-app helper turning a request into the service's RequestContext."""

    def __init__(self, settings: Settings) -> None:
        self.address = ClientAddress(settings.trusted_proxies)

    def context(self, conn: HTTPConnection) -> RequestContext:
        return RequestContext(
            ip_address=self.address.of(conn),
            user_agent=conn.headers.get("user-agent"),
            device=conn.cookies.get(DEVICE_COOKIE),
        )
