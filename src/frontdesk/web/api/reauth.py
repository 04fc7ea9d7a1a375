"""Re-authentication over HTTP (contract section 6): make the session in use fresh again."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from frontdesk.service import reauth
from frontdesk.web.deps import FD, Access, Caller, Ctx, access, open_while_enrolling
from frontdesk.web.errors import ErrorCode as C
from frontdesk.web.errors import responses
from frontdesk.web.factor_schemas import OptionsResponse, ReauthenticateRequest

router = APIRouter(prefix="/v1", tags=["second factors"])
AUTH = (C.UNAUTHENTICATED, C.AMBIGUOUS_CREDENTIALS, C.FORBIDDEN)


@router.post(
    "/reauthenticate",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(
        *AUTH,
        C.INVALID_CREDENTIALS,
        C.INVALID_CODE,
        C.REAUTHENTICATION_REQUIRED,  # a password from a user who has a second factor
        C.RATE_LIMITED,
        C.CSRF_FAILED,
    ),
)
@access(Access.USER)
@open_while_enrolling
def reauthenticate(body: ReauthenticateRequest, caller: Caller, fd: FD, ctx: Ctx) -> Response:
    """Prove a factor again: `password` (a user without a second factor), or `totp`,
    `recovery_code` or `webauthn`. The session is then fresh for FRONTDESK_REAUTH_MAX_AGE.
    Wrong answers count against the account's login limit."""
    fd.call(
        reauth.reauthenticate,
        caller,
        ctx,
        password=body.password,
        totp_code=body.totp,
        recovery_code=body.recovery_code,
        webauthn_response=body.webauthn,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/reauthenticate/webauthn-options",
    response_model=OptionsResponse,
    responses=responses(*AUTH, C.CSRF_FAILED),
)
@access(Access.USER)
@open_while_enrolling
def reauthentication_options(caller: Caller, fd: FD) -> OptionsResponse:
    """Options for `navigator.credentials.get()` with your keys and passkeys, to answer in the
    `webauthn` field of `POST /v1/reauthenticate` (400 when you have none)."""
    return OptionsResponse(options=fd.call(reauth.reauthentication_options, caller))
