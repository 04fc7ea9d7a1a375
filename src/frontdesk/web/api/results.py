"""Turning service results into response bodies."""

from __future__ import annotations

from fastapi import Response

from frontdesk.service.results import AuthResult
from frontdesk.settings import Settings
from frontdesk.web.cookies import set_login_cookies
from frontdesk.web.schemas import AuthResponse, SessionSummary


def auth_response_with_cookies(response: Response, result: AuthResult, settings: Settings) -> AuthResponse:
    """The auth result body, with the login cookies set on the response."""
    set_login_cookies(response, result, settings)
    session = result.issued.session
    return AuthResponse(
        user_id=result.user.id,
        username=result.user.username,
        session=SessionSummary(id=session.id, expiry=session.expiry, long_lived=session.long_lived),
    )
