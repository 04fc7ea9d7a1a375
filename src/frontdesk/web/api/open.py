"""Open endpoints: signup, login, logout, magic links, password reset (contract section 3)."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, Response, status

from frontdesk.service import login as login_service
from frontdesk.service import reset, signup
from frontdesk.service.sessions import end_current_session
from frontdesk.web.api.factors import MFA_REQUIRED
from frontdesk.web.api.results import auth_response_with_cookies
from frontdesk.web.authn import Refused, identify
from frontdesk.web.cookies import clear_login_cookies, end_replaced_session
from frontdesk.web.deps import FD, Access, Ctx, MaybeCaller, access, open_while_enrolling
from frontdesk.web.errors import ErrorCode as C
from frontdesk.web.errors import responses
from frontdesk.web.later import require_database, run_after
from frontdesk.web.outcomes import counted
from frontdesk.web.schemas import (
    AuthResponse,
    CurrentSessionResponse,
    LoginCodeConfirmRequest,
    LoginLinkConfirmation,
    LoginRequest,
    PasswordResetConfirmRequest,
    SignupRequest,
    StatusResponse,
    TokenRequest,
    UsernameResponse,
    UserRequest,
)

router = APIRouter(prefix="/v1", tags=["open"])
PASSWORD_ERRORS = (C.PASSWORD_TOO_SHORT, C.PASSWORD_TOO_LONG, C.INSECURE_PASSWORD)


@router.post(
    "/signup",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=StatusResponse,
    responses=responses(
        C.INVALID_EMAIL, C.INVALID_USERNAME, *PASSWORD_ERRORS, C.USERNAME_TAKEN, C.RATE_LIMITED, C.CSRF_FAILED
    ),
)
@access(Access.OPEN)
def request_signup(body: SignupRequest, fd: FD, ctx: Ctx) -> StatusResponse:
    """Email a confirmation link. An already registered email gets the same answer (its owner is warned)."""
    fd.call(
        signup.request_signup, email=body.email, username=body.username, password=body.password, name=body.name, ctx=ctx
    )
    return StatusResponse(status="verification_sent")


@router.post("/signup/confirm", response_model=AuthResponse, responses=responses(C.INVALID_TOKEN, C.USERNAME_TAKEN))
@access(Access.OPEN)
def confirm_signup(body: TokenRequest, fd: FD, ctx: Ctx, response: Response) -> AuthResponse:
    """Use the emailed link: the user now exists and is signed in with a short-lived session."""
    return auth_response_with_cookies(response, fd.call(signup.confirm_signup, body.token, ctx), fd.settings)


@router.get("/usernames/{username}", response_model=UsernameResponse, responses=responses())
@access(Access.OPEN)
def username_status(username: str, fd: FD) -> UsernameResponse:
    result = fd.read(lambda db, _deps: signup.username_status(db, username[:200]))
    return UsernameResponse(username=result.username, valid=result.valid, available=result.available)


@router.post(
    "/login",
    response_model=AuthResponse,
    responses={**responses(C.INVALID_CREDENTIALS, C.ACCOUNT_SUSPENDED, C.RATE_LIMITED, C.CSRF_FAILED), **MFA_REQUIRED},
)
@access(Access.OPEN)
def login(request: Request, body: LoginRequest, fd: FD, ctx: Ctx, response: Response) -> AuthResponse:
    """Sign in with a username or email and a password (a session this browser already had for the
    same user is replaced, not kept alongside)."""
    result = counted(
        "password",
        lambda: fd.call(login_service.login_with_password, body.user, body.password, body.remember_device, ctx),
    )
    end_replaced_session(fd, request.scope["headers"], result, ctx)
    return auth_response_with_cookies(response, result, fd.settings)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=responses(C.CSRF_FAILED))
@access(Access.OPEN)
def logout(request: Request, fd: FD, ctx: Ctx) -> Response:
    """End the cookie session (if any) and clear both cookies; 204 whatever the state.

    Only a cookie session is ended here (end an API key with `DELETE /v1/sessions/{id}`), so an
    Authorization header is not read; with two different session cookies neither is ended (which
    one is this browser's can't be told), but both cookies are still cleared.
    """
    caller = identify(fd, request.scope["headers"], bearer=False)
    if caller is not None and not isinstance(caller, Refused):
        fd.call(end_current_session, caller, ctx)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_login_cookies(response, fd.settings)
    return response


@router.get(
    "/session",
    response_model=CurrentSessionResponse,
    response_model_exclude_none=True,
    responses=responses(C.AMBIGUOUS_CREDENTIALS),
)
@access(Access.OPEN)
@open_while_enrolling
def current_session(principal: MaybeCaller) -> CurrentSessionResponse:
    if principal is None:
        return CurrentSessionResponse(logged_in=False)
    return CurrentSessionResponse(
        logged_in=True,
        user_id=principal.user_id,
        username=principal.username,
        expiry=principal.expiry,
        long_lived=principal.long_lived,
        is_api_key=principal.is_api_key,
        aal=principal.aal,
        factors=list(principal.factors),
        authenticated_at=principal.authenticated_at,
    )


@router.post(
    "/login-link",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=StatusResponse,
    responses=responses(C.RATE_LIMITED),
)
@access(Access.OPEN)
def request_login_link(body: UserRequest, fd: FD, ctx: Ctx, tasks: BackgroundTasks) -> StatusResponse:
    """Email a one-time sign-in link if the user exists; the answer is the same either way, and
    comes before the lookup (which happens after the response, so timing tells nothing)."""
    require_database(fd)
    run_after(tasks, lambda: fd.call(login_service.request_login_link, body.user, ctx), "login_link")
    return StatusResponse(status="accepted")


@router.post(
    "/login-link/confirm",
    response_model=AuthResponse,
    responses={**responses(C.INVALID_TOKEN, C.INVALID_CODE, C.RATE_LIMITED), **MFA_REQUIRED},
)
@access(Access.OPEN)
def confirm_login_link(
    request: Request, body: LoginLinkConfirmation, fd: FD, ctx: Ctx, response: Response
) -> AuthResponse:
    """Sign in with the emailed link's `token`, or with `user` + the 6-digit `code` from the same
    email (for another device). The link and the code are one grant: using either uses both.
    A wrong code (or an unknown user, or no live grant: the same answer after the same work)
    is 401 `invalid_code` and counts against the account's login limit; 5 wrong codes end the grant."""
    if isinstance(body, LoginCodeConfirmRequest):
        by_code = body
        result = counted(
            "login_code",
            lambda: fd.call(login_service.login_with_code, by_code.user, by_code.code, by_code.remember_device, ctx),
        )
    else:
        by_link = body
        result = counted(
            "login_link", lambda: fd.call(login_service.consume_login_link, by_link.token, by_link.remember_device, ctx)
        )
    end_replaced_session(fd, request.scope["headers"], result, ctx)
    return auth_response_with_cookies(response, result, fd.settings)


@router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=StatusResponse,
    responses=responses(C.RATE_LIMITED),
)
@access(Access.OPEN)
def request_password_reset(body: UserRequest, fd: FD, ctx: Ctx, tasks: BackgroundTasks) -> StatusResponse:
    """Email a reset link if the user exists; the answer is the same either way, and comes before
    the lookup (which happens after the response, so timing tells nothing)."""
    require_database(fd)
    run_after(tasks, lambda: fd.call(reset.request_password_reset, body.user, ctx), "reset")
    return StatusResponse(status="accepted")


@router.post(
    "/password-reset/confirm",
    response_model=AuthResponse,
    responses={**responses(C.INVALID_TOKEN, *PASSWORD_ERRORS), **MFA_REQUIRED},
)
@access(Access.OPEN)
def confirm_password_reset(body: PasswordResetConfirmRequest, fd: FD, ctx: Ctx, response: Response) -> AuthResponse:
    """New password; every session and outstanding link ends, API keys too unless `keep_api_keys`;
    a new short-lived session starts."""
    result = fd.call(
        reset.complete_password_reset, body.token, body.new_password, ctx, keep_api_keys=body.keep_api_keys
    )
    return auth_response_with_cookies(response, result, fd.settings)
