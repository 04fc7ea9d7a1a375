"""Per-form CSRF tokens for the hosted pages, on top of the Origin check in `web/middleware.py`.

Each browser gets a random `frontdesk-csrf` cookie (HttpOnly, SameSite=Lax). A form's token is
HMAC-SHA256 over that cookie and the path the form posts to, keyed with a key derived from
`FRONTDESK_SECRET`; so a token works only in the browser it was given to and only for its form.

The key is never empty: production requires a secret, and development without one uses the
random secret kept next to the database (`frontdesk.devsecret`), which every worker and restart
shares, so forms keep working across `--workers` and restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from pydantic import SecretStr
from starlette.requests import HTTPConnection
from starlette.responses import Response

from frontdesk.errors import ConfigurationError
from frontdesk.settings import Settings

CSRF_COOKIE = "frontdesk-csrf"
CSRF_FIELD = "csrf_token"
_COOKIE_SHAPE = re.compile(r"[A-Za-z0-9_\-]{43}")
_PURPOSE = b"frontdesk/pages/csrf/v1"


def _key(secret: SecretStr | None) -> bytes:
    if secret is None or not secret.get_secret_value():
        raise ConfigurationError("form tokens need FRONTDESK_SECRET")
    return hmac.new(secret.get_secret_value().encode(), _PURPOSE, hashlib.sha256).digest()


class CsrfTokens:
    """Makes and checks form tokens for one app."""

    def __init__(self, settings: Settings) -> None:
        self._key = _key(settings.secret)
        self._secure = settings.secure_cookies

    def __repr__(self) -> str:
        return "CsrfTokens(key=<hidden>)"

    @staticmethod
    def browser_secret(conn: HTTPConnection) -> tuple[str, bool]:
        """The browser's CSRF cookie and whether it is new (then it must be set on the response)."""
        value = conn.cookies.get(CSRF_COOKIE, "")
        if _COOKIE_SHAPE.fullmatch(value):
            return value, False
        return secrets.token_urlsafe(32), True

    def token(self, browser_secret: str, action: str) -> str:
        message = f"{browser_secret}|{action}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def check(self, browser_secret: str, action: str, presented: str) -> bool:
        if not presented or len(presented) != 64:
            return False
        return hmac.compare_digest(self.token(browser_secret, action), presented)

    def set_cookie(self, response: Response, browser_secret: str) -> None:
        # a browser-session cookie: a restored tab whose cookie is gone gets "please try again"
        response.set_cookie(CSRF_COOKIE, browser_secret, path="/", secure=self._secure, httponly=True, samesite="lax")
