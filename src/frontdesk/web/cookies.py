"""The two login cookies and their lifetimes (contract section 3)."""

from __future__ import annotations

from starlette.responses import Response

from frontdesk.service.results import AuthResult
from frontdesk.settings import Settings
from frontdesk.web.authn import SESSION_COOKIE, USER_ID_COOKIE


def set_login_cookies(response: Response, result: AuthResult, settings: Settings) -> None:
    """`frontdesk-session` (HttpOnly) and `frontdesk-user-id` (readable by scripts), same lifetime.

    A long-lived session's cookies expire with the session; a short-lived one's are browser-session
    cookies (no Expires or Max-Age), so closing the browser ends them.
    """
    session = result.issued.session
    expires = session.expiry if session.long_lived else None
    secure = settings.secure_cookies
    response.set_cookie(
        SESSION_COOKIE, result.issued.token, expires=expires, path="/", secure=secure, httponly=True, samesite="lax"
    )
    response.set_cookie(
        USER_ID_COOKIE, str(result.user.id), expires=expires, path="/", secure=secure, httponly=False, samesite="lax"
    )


def clear_login_cookies(response: Response, settings: Settings) -> None:
    for name, httponly in ((SESSION_COOKIE, True), (USER_ID_COOKIE, False)):
        response.set_cookie(
            name, "", max_age=0, path="/", secure=settings.secure_cookies, httponly=httponly, samesite="lax"
        )
