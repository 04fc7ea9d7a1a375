"""What `frontdesk serve` decides before it listens: may it listen there, and which public URL.

Pure functions of the settings and the `--host`/`--port` asked for, so the rules are testable
without starting a server; `cli.serve` prints what they say and applies it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from frontdesk.origins import origin_of
from frontdesk.settings import Settings

WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 (names, not binds)


def is_loopback_host(host: str) -> bool:
    """Whether `--host` listens on this machine only (a loopback address or `localhost`)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def served_url(host: str, port: int) -> str:
    """The URL a browser on this machine uses for `--host`/`--port` (a wildcard means loopback)."""
    host = WILDCARD_HOSTS.get(host, host).strip("[]")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{port}"
    return f"http://[{literal}]:{port}" if literal.version == 6 else f"http://{literal}:{port}"


@dataclass(frozen=True)
class PublicUrlPlan:
    """`follow`: the public URL to serve with (set when it should follow the address), and a note."""

    follow: str | None
    note: str | None
    warning: bool = False


def plan_public_url(settings: Settings, host: str, port: int) -> PublicUrlPlan:
    """Development without FRONTDESK_PUBLIC_URL: the public URL follows the address served, so email
    links and the CSRF check match it. Set and different from it: say so (production is normally
    behind a proxy, whose address differs on purpose, so only development warns here)."""
    served = served_url(host, port)
    if settings.is_production:
        return PublicUrlPlan(None, None)
    if "public_url" not in settings.model_fields_set:
        return PublicUrlPlan(served, f"FRONTDESK_PUBLIC_URL is unset: it follows this server, {served}")
    if origin_of(settings.public_url) != origin_of(served):
        return PublicUrlPlan(
            None,
            f"FRONTDESK_PUBLIC_URL is {settings.public_url} but this server listens at {served}: email links "
            f"and the CSRF check use {settings.public_origin} (unset FRONTDESK_PUBLIC_URL to follow the server)",
            warning=True,
        )
    return PublicUrlPlan(None, None)
