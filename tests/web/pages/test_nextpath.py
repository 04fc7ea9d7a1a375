"""`?next=` after sign-in: this site and the allowed origins only (no open redirect)."""

from __future__ import annotations

import pytest

from frontdesk.settings import Settings
from frontdesk.web.pages.nextpath import DEFAULT_NEXT, safe_next, trusted_origins

SETTINGS = Settings(public_url="https://auth.example.com", allowed_origins=("https://app.example.com:8443",))


@pytest.mark.parametrize(
    "target",
    [
        "/account",
        "/account?notice=welcome#top",
        "https://auth.example.com/account",
        "https://auth.example.com:443/x",
        "https://app.example.com:8443/dashboard?tab=1",
        "HTTPS://APP.EXAMPLE.COM:8443/",
    ],
)
def test_trusted_targets_are_kept(target: str) -> None:
    assert safe_next(target, SETTINGS) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "https://evil.example/",
        "http://auth.example.com/account",  # another scheme is another origin
        "https://app.example.com/",  # another port
        "https://auth.example.com.evil.example/",
        "https://auth.example.com@evil.example/",
        "https://user:pass@auth.example.com/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "/account\r\nSet-Cookie: x=1",
        "/\tevil",
        "https://auth.example.com:99999/",
        "account",
        "/" + "a" * 3000,
    ],
)
def test_anything_else_goes_to_the_account_page(target: str | None) -> None:
    assert safe_next(target, SETTINGS) == DEFAULT_NEXT


def test_the_length_limit_is_2048_characters() -> None:
    longest = "/" + "a" * (2048 - 1)
    assert safe_next(longest, SETTINGS) == longest
    assert safe_next(longest + "a", SETTINGS) == DEFAULT_NEXT


@pytest.mark.parametrize("char", [" ", "\x00", "\x1f", "\x7f"])
def test_spaces_and_control_characters_are_refused(char: str) -> None:
    assert safe_next(f"/account{char}x", SETTINGS) == DEFAULT_NEXT


@pytest.mark.parametrize("char", ["!", "~", "\u00e9"])
def test_the_printable_neighbours_of_refused_characters_are_kept(char: str) -> None:
    assert safe_next(f"/account{char}x", SETTINGS) == f"/account{char}x"


@pytest.mark.parametrize(
    "target",
    [
        "https://user@auth.example.com/",  # a username alone
        "https://:pass@auth.example.com/",  # a password alone
        "https://[auth.example.com/",  # not a URL
        "ftp://auth.example.com/",
        "https:///account",  # no host
    ],
)
def test_credentials_in_a_url_or_no_url_at_all_go_to_the_account_page(target: str) -> None:
    assert safe_next(target, SETTINGS) == DEFAULT_NEXT


@pytest.mark.parametrize(
    ("public_url", "target"),
    [
        ("http://localhost", "http://localhost:80/x"),  # http's default port, written or not
        ("http://localhost:80", "http://localhost/x"),
        ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443/x"),  # an IPv6 host keeps its brackets
        ("https://[2001:db8::1]", "https://[2001:db8::1]:443/x"),
    ],
)
def test_default_ports_and_ipv6_hosts_name_the_same_origin(public_url: str, target: str) -> None:
    assert safe_next(target, Settings(public_url=public_url)) == target


def test_another_port_of_an_http_or_ipv6_origin_is_another_origin() -> None:
    assert safe_next("http://localhost:8080/x", Settings(public_url="http://localhost")) == DEFAULT_NEXT
    assert safe_next("https://[2001:db8::1]:9443/", Settings(public_url="https://[2001:db8::1]:8443")) == DEFAULT_NEXT


def test_a_malformed_allowed_origin_trusts_nothing() -> None:
    settings = Settings(public_url="https://auth.example.com", allowed_origins=("https://app.example.com:99999",))
    assert safe_next("https://app.example.com:99999/", settings) == DEFAULT_NEXT
    assert safe_next("https://auth.example.com/x", settings) == "https://auth.example.com/x"


def test_trusted_origins_are_written_as_browsers_write_an_origin() -> None:
    """They are also the page's CSP `form-action` sources: lower case, no default port, IPv6 in brackets."""
    settings = Settings(
        public_url="https://Auth.Example.com:443",
        allowed_origins=("https://[2001:db8::1]:8443", "http://app.example.com:80"),
    )
    assert trusted_origins(settings) == {
        "https://auth.example.com",
        "https://[2001:db8::1]:8443",
        "http://app.example.com",
    }
