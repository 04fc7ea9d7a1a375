"""Where a request comes from (`web/credentials.py`), read without a server: the client address
behind trusted proxies, and the request's context for the service."""

from __future__ import annotations

import logging

import pytest
from starlette.requests import Request

from frontdesk.settings import Settings
from frontdesk.web.credentials import DEVICE_COOKIE, ClientAddress, RequestInfo, parse_address

PROXIES = ("10.0.0.0/8", "2001:db8:f::/48")


def request(peer: str | None, *headers: tuple[str, str]) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(name.encode(), value.encode()) for name, value in headers],
        "client": (peer, 5000) if peer is not None else None,
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("entry", "address"),
    [
        ("[2001:db8::1]:", None),  # a colon and no port
        ("[2001:db8::1]:44x", None),
        ("[::1]:x4", None),
        ("[]", None),
        ("]2001:db8::1[", None),
        ("203.0.113.9:", None),
        ("203.0.113.9:80:80", None),
        ("\t203.0.113.9\t", "203.0.113.9"),
        ("::ffff:203.0.113.9", "::ffff:cb00:7109"),
    ],
)
def test_odd_forwarded_for_entries(entry: str, address: str | None) -> None:
    assert parse_address(entry) == address


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("10.1.2.3", "81.2.69.142", "81.2.69.142"),  # from a trusted proxy
        ("10.1.2.3", "81.2.69.142, 10.9.9.9", "81.2.69.142"),  # through two of ours
        ("10.1.2.3", "8.8.8.8, 81.2.69.142, 10.9.9.9", "81.2.69.142"),  # the nearest address not ours
        ("10.1.2.3", "10.7.7.7, 10.9.9.9", "10.7.7.7"),  # every hop ours: the farthest
        ("10.1.2.3", "10.7.7.7", "10.7.7.7"),  # one hop, ours
        ("10.1.2.3", "81.2.69.142, garbage, 10.9.9.9", "10.1.2.3"),  # an unreadable hop: the peer
        ("10.1.2.3", " , ", "10.1.2.3"),  # nothing forwarded
        ("10.1.2.3", None, "10.1.2.3"),
        ("2001:db8:f::1", "2001:db8::7", "2001:db8::7"),
        ("[2001:db8:f::1]", "2001:db8::7", "2001:db8::7"),  # a bracketed peer is read as its address
        ("81.2.69.142", "8.8.8.8", "81.2.69.142"),  # not a proxy of ours: the header is ignored
        ("not an address", "8.8.8.8", "not an address"),
    ],
)
def test_forwarded_for_is_read_only_from_trusted_proxies(peer: str, forwarded_for: str | None, client: str) -> None:
    headers = [("x-forwarded-for", forwarded_for)] if forwarded_for is not None else []
    assert ClientAddress(PROXIES).of(request(peer, *headers)) == client


def test_no_peer_is_no_address() -> None:
    assert ClientAddress(PROXIES).of(request(None, ("x-forwarded-for", "8.8.8.8"))) is None
    assert ClientAddress(()).of(request(None)) is None


def test_without_trusted_proxies_the_peer_is_the_client_and_a_private_one_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    address = ClientAddress(())
    with caplog.at_level(logging.WARNING, logger="frontdesk.web.credentials"):
        assert address.of(request("81.2.69.142", ("x-forwarded-for", "8.8.8.8"))) == "81.2.69.142"
        assert address.of(request("not an address")) == "not an address"
        assert caplog.records == []
        assert address.of(request("192.168.1.2", ("x-forwarded-for", "8.8.8.8"))) == "192.168.1.2"
        assert address.of(request("10.1.1.1")) == "10.1.1.1"
    assert [r.getMessage() for r in caplog.records] == ["client_address.private_without_trusted_proxies"]
    assert "FRONTDESK_TRUSTED_PROXIES" in caplog.records[0].hint  # type: ignore[attr-defined]


def test_the_request_context_carries_address_browser_and_device() -> None:
    info = RequestInfo(Settings(trusted_proxies=PROXIES))
    ctx = info.context(
        request(
            "10.1.2.3",
            ("x-forwarded-for", "81.2.69.142"),
            ("user-agent", "Firefox"),
            ("cookie", f"other=1; {DEVICE_COOKIE}=signed.value"),
        )
    )
    assert (ctx.ip_address, ctx.user_agent, ctx.device) == ("81.2.69.142", "Firefox", "signed.value")
    bare = info.context(request("81.2.69.142"))
    assert (bare.ip_address, bare.user_agent, bare.device) == ("81.2.69.142", None, None)


@pytest.mark.parametrize(("entry", "address"), [("[::12]", "::12"), ("[::12]:80", "::12"), ("[::1]", "::1")])
def test_bracketed_addresses_of_any_length(entry: str, address: str) -> None:
    """The `]` may fall at an odd or an even index."""
    assert parse_address(entry) == address


def test_a_trusted_network_may_be_written_with_host_bits_set() -> None:
    """`10.9.9.9/8` means 10.0.0.0/8, as an operator writing it means."""
    address = ClientAddress(("10.9.9.9/8",))
    assert address.of(request("10.1.2.3", ("x-forwarded-for", "81.2.69.142"))) == "81.2.69.142"
