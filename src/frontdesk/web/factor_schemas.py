"""Request and response bodies of second factors (contract section 6). Strict, as `schemas`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from frontdesk.web.schemas import Password, Strict, Text, Timestamp, Token

# a TOTP or recovery code as typed; the service answers 401 invalid_code for anything that is not one
Code = Annotated[Text, Field(min_length=1, max_length=64)]
# A WebAuthn response (RegistrationResponseJSON / AuthenticationResponseJSON) as the browser sends
# it; py_webauthn reads it, and anything it can't read is the request's fault, answered 4xx.
WebAuthnJson = dict[str, Any]


class MfaRequiredResponse(Strict):
    """202 of a first factor for a user with a second factor: finish with `POST /v1/login/second-factor`."""

    status: Literal["mfa_required"]
    challenge: str
    methods: list[Literal["totp", "webauthn", "recovery_code"]]
    expiry: Timestamp


class SecondFactorRequest(Strict):
    challenge: Token
    totp: Code | None = None
    recovery_code: Code | None = None
    webauthn: WebAuthnJson | None = None


class ReauthenticateRequest(Strict):
    """Exactly one: `password` (only for a user without a second factor), `totp`, `recovery_code`
    or `webauthn` (an AuthenticationResponseJSON to `POST /v1/reauthenticate/webauthn-options`)."""

    password: Password | None = None
    totp: Code | None = None
    recovery_code: Code | None = None
    webauthn: WebAuthnJson | None = None


class AuthenticationOptionsRequest(Strict):
    challenge: Token | None = None


class PasskeyLoginRequest(Strict):
    credential: WebAuthnJson
    remember_device: bool = False


class TotpConfirmRequest(Strict):
    totp: Code


class CredentialRequest(Strict):
    name: Annotated[Text, Field(max_length=100)]
    credential: WebAuthnJson


class OptionsResponse(Strict):
    options: dict[str, Any]


class TotpEnrolmentResponse(Strict):
    secret: str
    otpauth_uri: str
    qr_svg: str


class RecoveryCodesResponse(Strict):
    recovery_codes: list[str] | None


class CredentialCreatedResponse(Strict):
    id: int
    passkey: bool
    recovery_codes: list[str] | None


class CredentialItem(Strict):
    id: int
    name: str
    created: Timestamp
    last_used: Timestamp | None
    passkey: bool


class SecondFactorsResponse(Strict):
    totp: bool
    webauthn: list[CredentialItem]
    recovery_codes_left: int
