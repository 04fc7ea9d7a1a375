"""`?next=`: where to send someone after they sign in, limited to origins we trust (no open redirect)."""

from __future__ import annotations

from urllib.parse import urlsplit

from frontdesk.settings import Settings

DEFAULT_NEXT = "/account"
MAX_LENGTH = 2048


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def trusted_origins(settings: Settings) -> frozenset[str]:
    origins = (_origin(u) for u in (settings.public_url, *settings.allowed_origins))
    return frozenset(o for o in origins if o)


def safe_next(value: str | None, settings: Settings) -> str:
    """`value` if it is a path on this site or a URL on the public or an allowed origin; else /account.

    Paths must start with a single `/`: `//evil.example` and `/\\evil.example` are other hosts to a
    browser. Control characters and backslashes are refused outright, since browsers strip or
    rewrite them in ways that can change the host.
    """
    if not value or len(value) > MAX_LENGTH:
        return DEFAULT_NEXT
    if "\\" in value or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        return DEFAULT_NEXT
    if value.startswith("/"):
        if value.startswith("//"):
            return DEFAULT_NEXT
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        return DEFAULT_NEXT
    if parts.username is not None or parts.password is not None:
        return DEFAULT_NEXT
    origin = _origin(value)
    if origin is None or origin not in trusted_origins(settings):
        return DEFAULT_NEXT
    return value
