"""Human descriptions of a session's device: browser, OS and device from the user agent, country from the IP."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from ua_parser import parse

UNKNOWN = "Other"
UNKNOWN_LOCATION = "Unknown"


@dataclass(frozen=True, slots=True)
class Device:
    browser: str
    operating_system: str
    device: str


@lru_cache(maxsize=4096)
def describe(user_agent: str | None) -> Device:
    """Browser, OS and device family via ua-parser (the maintained uap-core rules); "Other" when unknown."""
    if not user_agent:
        return Device(UNKNOWN, UNKNOWN, UNKNOWN)
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else UNKNOWN
    os_name = result.os.family if result.os else UNKNOWN
    device = result.device.family if result.device else UNKNOWN
    return Device(browser or UNKNOWN, os_name or UNKNOWN, device or UNKNOWN)


@cache
def _geoip() -> Any:
    """geoip2fast's reader, or None without it (it comes with the `frontdesk[server]` extra)."""
    try:
        from geoip2fast import GeoIP2Fast
    except ImportError:
        return None
    return GeoIP2Fast(verbose=False)


@lru_cache(maxsize=4096)
def locate(ip_address: str | None) -> str:
    """Approximate location (country) from the offline GeoIP database shipped with geoip2fast
    (unknown when geoip2fast is not installed)."""
    if not ip_address:
        return UNKNOWN_LOCATION
    try:
        address = ipaddress.ip_address(ip_address)
    except ValueError:
        return UNKNOWN_LOCATION
    if not address.is_global:
        return UNKNOWN_LOCATION
    reader = _geoip()
    if reader is None:
        return UNKNOWN_LOCATION
    result = reader.lookup(str(address))
    name = getattr(result, "country_name", "") or ""
    return name if name and not name.startswith("<") else UNKNOWN_LOCATION
