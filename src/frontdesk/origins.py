"""Web origins (`scheme://host[:port]`), compared the way browsers send them in `Origin`."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def origin_of(url: str) -> str | None:
    """The URL's origin, lower-cased and without a default port; None when it has none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    # browsers leave a default port out of Origin; a configured URL may spell it out
    default = DEFAULT_PORTS.get(parts.scheme.lower())
    return origin.removesuffix(default) if default else origin
