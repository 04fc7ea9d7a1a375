"""Second factors over HTTP (contract section 6): the second step, passkey sign-in, and managing
an account's authenticator app, security keys, passkeys and recovery codes."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from frontdesk.service import factors, reauth, second_factor, totp, webauthn
from frontdesk.web.api.results import auth_response_with_cookies
from frontdesk.web.deps import FD, Access, Caller, Ctx, Fresh, access, open_while_enrolling
from frontdesk.web.errors import ErrorCode as C
from frontdesk.web.errors import responses
from frontdesk.web.factor_schemas import (
    AuthenticationOptionsRequest,
    CredentialCreatedResponse,
    CredentialItem,
    CredentialRequest,
    MfaRequiredResponse,
    OptionsResponse,
    PasskeyLoginRequest,
    RecoveryCodesResponse,
    SecondFactorRequest,
    SecondFactorsResponse,
    TotpConfirmRequest,
    TotpEnrolmentResponse,
)
from frontdesk.web.ids import CredentialId
from frontdesk.web.outcomes import counted
from frontdesk.web.schemas import AuthResponse

router = APIRouter(prefix="/v1", tags=["second factors"])
AUTH = (C.UNAUTHENTICATED, C.AMBIGUOUS_CREDENTIALS, C.FORBIDDEN)
# managing factors needs a fresh cookie session (an API key: 403 forbidden)
FRESH = (*AUTH, C.REAUTHENTICATION_REQUIRED)
NO_STORE = "no-store"
# the 202 of every first-factor route, for a user with a second factor
MFA_REQUIRED: dict[int | str, dict[str, object]] = {
    202: {"model": MfaRequiredResponse, "description": "A second factor is needed: POST /v1/login/second-factor."}
}


# --- signing in -----------------------------------------------------------------------------------


@router.post(
    "/login/second-factor",
    response_model=AuthResponse,
    responses=responses(C.INVALID_TOKEN, C.INVALID_CODE, C.RATE_LIMITED, C.CSRF_FAILED),
)
@access(Access.OPEN)
def login_second_factor(body: SecondFactorRequest, fd: FD, ctx: Ctx, response: Response) -> AuthResponse:
    """Finish a sign-in (or reset) answered `mfa_required` with one second factor; the session is aal 2."""
    result = counted(
        "second_factor",
        lambda: fd.call(
            second_factor.complete_second_factor,
            body.challenge,
            ctx,
            totp_code=body.totp,
            recovery_code=body.recovery_code,
            webauthn_response=body.webauthn,
        ),
    )
    return auth_response_with_cookies(response, result, fd.settings)


@router.post(
    "/webauthn/authentication-options",
    response_model=OptionsResponse,
    responses=responses(C.INVALID_TOKEN, C.CSRF_FAILED),
)
@access(Access.OPEN)
def authentication_options(body: AuthenticationOptionsRequest, fd: FD) -> OptionsResponse:
    """Options for `navigator.credentials.get()`: for a second step's keys, or (no challenge) a passkey."""
    return OptionsResponse(options=fd.call(second_factor.webauthn_authentication_options, body.challenge))


@router.post(
    "/login/passkey",
    response_model=AuthResponse,
    responses=responses(C.INVALID_CREDENTIALS, C.ACCOUNT_SUSPENDED, C.CSRF_FAILED),
)
@access(Access.OPEN)
def login_passkey(body: PasskeyLoginRequest, fd: FD, ctx: Ctx, response: Response) -> AuthResponse:
    """Sign in with a passkey alone (user-verified): aal 2, factors `["passkey"]`."""
    result = counted(
        "passkey",
        lambda: fd.call(second_factor.login_with_passkey, body.credential, body.remember_device, ctx),
    )
    return auth_response_with_cookies(response, result, fd.settings)


# --- managing factors -----------------------------------------------------------------------------


@router.get("/second-factors", response_model=SecondFactorsResponse, responses=responses(*AUTH))
@access(Access.USER)
@open_while_enrolling
def list_second_factors(caller: Caller, fd: FD) -> SecondFactorsResponse:
    """What you have enrolled: an authenticator app, keys and passkeys, recovery codes left."""
    found = fd.read(factors.overview, caller.user_id)
    return SecondFactorsResponse(
        totp=found.totp,
        webauthn=[CredentialItem.model_validate(c, from_attributes=True) for c in found.webauthn],
        recovery_codes_left=found.recovery_codes_left,
    )


@router.post("/second-factors/totp", response_model=TotpEnrolmentResponse, responses=responses(*FRESH, C.CSRF_FAILED))
@access(Access.USER)
@open_while_enrolling
def begin_totp(caller: Fresh, fd: FD, ctx: Ctx, response: Response) -> TotpEnrolmentResponse:
    """A new authenticator-app secret (QR code and text), pending until confirmed with a code."""
    enrolment = fd.call(totp.begin_totp_enrolment, caller.user_id, ctx)
    response.headers["Cache-Control"] = NO_STORE
    return TotpEnrolmentResponse(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg)


@router.post(
    "/second-factors/totp/confirm",
    response_model=RecoveryCodesResponse,
    responses=responses(*FRESH, C.INVALID_CODE, C.CSRF_FAILED),
)
@access(Access.USER)
@open_while_enrolling
def confirm_totp(
    body: TotpConfirmRequest, caller: Fresh, fd: FD, ctx: Ctx, response: Response
) -> RecoveryCodesResponse:
    """Activate the pending secret with a code from the app; recovery codes come with a first factor.
    The code proves the app in this session too: it becomes aal 2."""
    codes = fd.call(totp.confirm_totp, caller.user_id, body.totp, ctx)
    fd.call(reauth.proved_in_session, caller, "totp")
    response.headers["Cache-Control"] = NO_STORE
    return RecoveryCodesResponse(recovery_codes=codes)


@router.delete(
    "/second-factors/totp",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*FRESH, C.NOT_FOUND, C.CSRF_FAILED),
)
@access(Access.USER)
@open_while_enrolling
def remove_totp(caller: Fresh, fd: FD, ctx: Ctx) -> Response:
    """Remove the authenticator app; removing the last factor removes the recovery codes too."""
    fd.call(totp.remove_totp, caller.user_id, ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/webauthn/registration-options", response_model=OptionsResponse, responses=responses(*FRESH, C.CSRF_FAILED)
)
@access(Access.USER)
@open_while_enrolling
def registration_options(caller: Fresh, fd: FD) -> OptionsResponse:
    """Options for `navigator.credentials.create()`: resident key preferred, your keys excluded."""
    return OptionsResponse(options=fd.call(webauthn.registration_options, caller.user_id))


@router.post(
    "/webauthn/credentials",
    status_code=status.HTTP_201_CREATED,
    response_model=CredentialCreatedResponse,
    responses=responses(*FRESH, C.CSRF_FAILED),
)
@access(Access.USER)
@open_while_enrolling
def add_credential(
    body: CredentialRequest, caller: Fresh, fd: FD, ctx: Ctx, response: Response
) -> CredentialCreatedResponse:
    """Register a security key or passkey from the browser's answer to the registration options.
    The key is proved in this session too: it becomes aal 2."""
    made = fd.call(webauthn.register_credential, caller.user_id, body.name, body.credential, ctx)
    fd.call(reauth.proved_in_session, caller, "webauthn")
    response.headers["Cache-Control"] = NO_STORE
    return CredentialCreatedResponse(id=made.id, passkey=made.passkey, recovery_codes=made.recovery_codes)


@router.delete(
    "/webauthn/credentials/{credential_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*FRESH, C.NOT_FOUND, C.CSRF_FAILED),
)
@access(Access.USER)
@open_while_enrolling
def remove_credential(caller: Fresh, credential_id: CredentialId, fd: FD, ctx: Ctx) -> Response:
    """Remove one of your keys or passkeys."""
    fd.call(webauthn.remove_credential, caller.user_id, credential_id, ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/second-factors/recovery-codes",
    response_model=RecoveryCodesResponse,
    responses=responses(*FRESH, C.CSRF_FAILED),
)
@access(Access.USER)
@open_while_enrolling
def regenerate_recovery_codes(caller: Fresh, fd: FD, ctx: Ctx, response: Response) -> RecoveryCodesResponse:
    """A new set of 10 recovery codes, shown only here; the old set stops working."""
    codes = fd.call(factors.regenerate_recovery_codes, caller.user_id, ctx)
    response.headers["Cache-Control"] = NO_STORE
    return RecoveryCodesResponse(recovery_codes=codes)
