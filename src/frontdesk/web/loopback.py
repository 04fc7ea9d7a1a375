"""Is the caller a program on this machine talking to frontdesk directly?"""

from __future__ import annotations

import ipaddress

from starlette.requests import HTTPConnection

# a proxy on this machine connects from loopback; the client it forwards for is elsewhere
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host")


def is_local_client(conn: HTTPConnection) -> bool:
    """The socket peer is a loopback address and no proxy forwarded the request (any forwarding
    header counts, from a trusted proxy or not)."""
    if conn.client is None or any(name in conn.headers for name in FORWARDING_HEADERS):
        return False
    try:
        peer = ipaddress.ip_address(conn.client.host)
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    return peer.is_loopback
