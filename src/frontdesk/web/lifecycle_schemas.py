"""Request and response bodies of the account lifecycle (contract section 7). Strict, as `schemas`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from frontdesk.web.schemas import Strict, Timestamp, Token, _no_nul


class EmailChangeRequest(Strict):
    new_email: Annotated[str, Field(min_length=1, max_length=320), AfterValidator(_no_nul)]


class EmailChangeTokenRequest(Strict):
    token: Token


class EmailResponse(BaseModel):
    """The account's address after a confirmed change."""

    email: str


class DeleteAccountRequest(Strict):
    confirm: bool = Field(default=False, description="Must be true: deleting is not done by accident.")


class DeletionScheduledResponse(BaseModel):
    status: Literal["deletion_scheduled"]
    erase_after: Timestamp = Field(description="When `frontdesk cleanup` may erase the account, unless it is restored.")


class RestoreRequest(Strict):
    token: Token
    remember_device: bool = False


class NotMeRequest(Strict):
    token: Token
    end_all: bool = Field(
        default=False, description="Also end every other session and API key of the account, not only that device's."
    )


# --- GET /v1/account/export -----------------------------------------------------------------------


class ExportProfile(BaseModel):
    id: int
    username: str
    email: str
    name: str
    created: str
    last_active: str
    is_superuser: bool
    has_password: bool
    is_banned: bool


class ExportSession(BaseModel):
    id: int
    created: str
    expiry: str
    ended: str | None
    last_seen: str
    api_calls: int
    long_lived: bool
    ip_address: str | None
    user_agent: str | None
    browser: str
    operating_system: str
    device: str
    approximate_location: str
    aal: int
    factors: list[str]
    authenticated_at: str


class ExportApiKey(BaseModel):
    """An API key without its token (only a hash of it is held, and that is not exported either)."""

    id: int
    name: str | None
    created: str
    expiry: str
    ended: str | None
    last_seen: str
    api_calls: int
    ip_address: str | None
    user_agent: str | None


class ExportTotp(BaseModel):
    id: int
    confirmed: bool
    created: str
    confirmed_at: str | None
    last_used_at: str | None


class ExportWebAuthn(BaseModel):
    id: int
    name: str
    passkey: bool
    created: str
    last_used: str | None
    transports: list[str]
    authenticator_model: str
    backed_up: bool


class ExportRecoveryCode(BaseModel):
    id: int
    created: str
    used_at: str | None


class ExportSecondFactors(BaseModel):
    """Second factors without their secrets (no TOTP secret, no public key, no code)."""

    totp: list[ExportTotp]
    webauthn: list[ExportWebAuthn]
    recovery_codes: list[ExportRecoveryCode]


class ExportIdentity(BaseModel):
    id: int
    provider: str
    issuer: str
    subject: str
    email: str | None
    created: str
    last_used: str


class ExportLink(BaseModel):
    """An emailed link (its token is never held, only a hash, which is not exported)."""

    kind: str
    id: int
    created: str
    expiry: str
    used_at: str | None
    email: str | None


class ExportInProgress(BaseModel):
    kind: str
    id: int
    purpose: str
    created: str
    expiry: str
    used_at: str | None


class ExportAuditEvent(BaseModel):
    id: int
    created: str
    event: str
    session_id: int | None
    ip_address: str | None
    user_agent: str | None
    detail: str | None


class ExportEmail(BaseModel):
    """An email sent to the account: its kind and when (bodies are not kept for long, nor exported)."""

    id: int
    kind: str
    created: str
    status: str
    sent_at: str | None


class ExportSignInDevice(BaseModel):
    """A device the account signed in from, as new-device notices tell them apart."""

    id: int
    browser: str
    operating_system: str
    country: str
    first_used: str
    last_used: str


class ExportNewDeviceNotice(BaseModel):
    """A new-sign-in email's "this wasn't me" link (its token is never held, only a hash)."""

    id: int
    session_id: int
    browser: str
    operating_system: str
    country: str
    ip_address: str | None
    created: str
    expiry: str
    used_at: str | None


class AccountExport(BaseModel):
    exported_at: str
    profile: ExportProfile
    sessions: list[ExportSession]
    api_keys: list[ExportApiKey]
    second_factors: ExportSecondFactors
    identities: list[ExportIdentity]
    links: list[ExportLink]
    sign_ins_in_progress: list[ExportInProgress]
    sign_in_devices: list[ExportSignInDevice]
    new_device_notices: list[ExportNewDeviceNotice]
    audit_events: list[ExportAuditEvent]
    emails: list[ExportEmail]
