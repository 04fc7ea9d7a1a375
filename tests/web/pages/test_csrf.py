"""Per-form CSRF tokens: bound to one browser's cookie and one form, keyed by the secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.responses import Response

from frontdesk.errors import ConfigurationError
from frontdesk.settings import Settings
from frontdesk.web.pages.csrf import CSRF_COOKIE, CsrfTokens

BROWSER = "b" * 43
OTHER_BROWSER = "c" * 43


def test_a_token_works_for_its_browser_and_form_only() -> None:
    tokens = CsrfTokens(Settings(secret=SecretStr("s" * 32)))
    token = tokens.token(BROWSER, "/login")
    assert tokens.check(BROWSER, "/login", token)
    assert not tokens.check(BROWSER, "/signup", token)
    assert not tokens.check(OTHER_BROWSER, "/login", token)
    assert not tokens.check(BROWSER, "/login", "")
    assert not tokens.check(BROWSER, "/login", token[:-1])
    assert not tokens.check(BROWSER, "/login", token.upper() if token != token.upper() else "0" * 64)


def test_the_key_comes_from_the_secret() -> None:
    one = CsrfTokens(Settings(secret=SecretStr("s" * 32)))
    two = CsrfTokens(Settings(secret=SecretStr("t" * 32)))
    assert one.token(BROWSER, "/login") != two.token(BROWSER, "/login")
    assert "s" * 32 not in repr(one)


def test_without_a_secret_tokens_still_agree_across_processes(tmp_path: Path) -> None:
    """Development without FRONTDESK_SECRET: every worker reads the same kept secret (never an empty key)."""
    url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    first, second = CsrfTokens(Settings(database_url=url)), CsrfTokens(Settings(database_url=url))
    assert second.check(BROWSER, "/login", first.token(BROWSER, "/login"))


@pytest.mark.parametrize("secret", [None, SecretStr("")], ids=["none", "empty"])
def test_forms_refuse_to_run_on_an_empty_key(secret: SecretStr | None) -> None:
    """A form key derived from nothing would be the same for every installation."""
    settings = Settings(secret=SecretStr("s" * 32)).model_copy(update={"secret": secret})
    with pytest.raises(ConfigurationError, match="FRONTDESK_SECRET"):
        CsrfTokens(settings)


@pytest.mark.parametrize(
    ("public_url", "secure"), [("https://auth.example.com", True), ("http://localhost:8000", False)]
)
def test_the_browser_cookie_is_httponly_lax_and_secure_as_configured(public_url: str, secure: bool) -> None:
    """Script on the page never reads the cookie a form's token is bound to."""
    tokens = CsrfTokens(Settings(secret=SecretStr("s" * 32), public_url=public_url))
    response = Response()
    tokens.set_cookie(response, BROWSER)
    header = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert header.startswith(f"{CSRF_COOKIE}={BROWSER};")
    assert {"httponly", "path", "samesite"} <= attributes and "max-age" not in attributes
    assert "samesite=lax" in header.lower() and ("secure" in attributes) is secure
