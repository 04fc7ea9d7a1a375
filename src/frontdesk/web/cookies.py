"""The two login cookies and their lifetimes (contract section 3), and the device cookie (section 4)."""

from __future__ import annotations

from starlette.responses import Response

from frontdesk.runtime import Frontdesk
from frontdesk.service import known_devices
from frontdesk.service.context import Principal, RequestContext
from frontdesk.service.results import AuthResult
from frontdesk.service.sessions import end_current_session
from frontdesk.settings import Settings
from frontdesk.web.authn import SESSION_COOKIE, USER_ID_COOKIE, Headers, identify
from frontdesk.web.credentials import DEVICE_COOKIE


def no_store(response: Response) -> None:
    """Keep a response that carries a secret (a new API key, a session token) out of every cache."""
    response.headers["Cache-Control"] = "no-store"


def set_login_cookies(response: Response, result: AuthResult, settings: Settings) -> None:
    """`frontdesk-session` (HttpOnly) and `frontdesk-user-id` (readable by scripts), same lifetime.

    A long-lived session's cookies expire with the session; a short-lived one's are browser-session
    cookies (no Expires or Max-Age), so closing the browser ends them. The response carries the
    session token, so it is `Cache-Control: no-store`.
    """
    no_store(response)
    session = result.issued.session
    expires = session.expiry if session.long_lived else None
    secure = settings.secure_cookies
    response.set_cookie(
        SESSION_COOKIE, result.issued.token, expires=expires, path="/", secure=secure, httponly=True, samesite="lax"
    )
    response.set_cookie(
        USER_ID_COOKIE, str(result.user.id), expires=expires, path="/", secure=secure, httponly=False, samesite="lax"
    )
    if result.device:
        # kept on logout: it only says this browser has signed in to these accounts before
        response.set_cookie(
            DEVICE_COOKIE,
            result.device,
            max_age=int(known_devices.LIFETIME.total_seconds()),
            path="/",
            secure=secure,
            httponly=True,
            samesite="lax",
        )


def clear_login_cookies(response: Response, settings: Settings) -> None:
    for name, httponly in ((SESSION_COOKIE, True), (USER_ID_COOKIE, False)):
        response.set_cookie(
            name, "", max_age=0, path="/", secure=settings.secure_cookies, httponly=httponly, samesite="lax"
        )


def end_replaced_session(fd: Frontdesk, headers: Headers, result: AuthResult, ctx: RequestContext) -> None:
    """A browser that signs in again while its cookie still holds a valid session of the same user
    gets the new session instead of a second one: the old one is ended (a logout)."""
    old = identify(fd, headers, bearer=False)
    if isinstance(old, Principal) and old.user_id == result.user.id and old.session_id != result.issued.session.id:
        fd.call(end_current_session, old, ctx)
