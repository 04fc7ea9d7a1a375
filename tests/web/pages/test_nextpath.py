"""`?next=` after sign-in: this site and the allowed origins only (no open redirect)."""

from __future__ import annotations

import pytest

from frontdesk.settings import Settings
from frontdesk.web.pages.nextpath import DEFAULT_NEXT, safe_next

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
