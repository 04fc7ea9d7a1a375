"""Request and response bodies. Strict: wrong types, unknown fields and NUL bytes are refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from frontdesk.crypto import MAX_TOKEN_LENGTH
from frontdesk.settings import API_KEY_MAX_DAYS, API_KEY_MIN_DAYS


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


Text = Annotated[str, AfterValidator(_no_nul)]
Password = Annotated[str, Field(max_length=4096), AfterValidator(_no_nul)]
# No schema cap on a new password: the policy answers `password_too_long` for anything over 256
# characters, before any hashing, and the 64 KiB body limit bounds the size.
NewPassword = Annotated[str, AfterValidator(_no_nul)]
Login = Annotated[str, Field(min_length=1, max_length=320), AfterValidator(_no_nul)]
Token = Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_LENGTH), AfterValidator(_no_nul)]
Timestamp = Annotated[
    datetime,
    PlainSerializer(_rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


# --- requests -----------------------------------------------------------------------------------


class SignupRequest(Strict):
    email: Annotated[str, Field(max_length=320), AfterValidator(_no_nul)]
    username: Annotated[str, Field(max_length=64), AfterValidator(_no_nul)]
    password: NewPassword
    name: Annotated[str, Field(max_length=200), AfterValidator(_no_nul)]


class TokenRequest(Strict):
    token: Token


class LoginRequest(Strict):
    user: Login
    password: Password
    remember_device: bool = False


class LoginLinkConfirmRequest(Strict):
    """Sign in with the link's token."""

    token: Token
    remember_device: bool = False


class LoginCodeConfirmRequest(Strict):
    """Sign in with the 6-digit code from the same email, on another device: the username or
    email typed when the link was asked for, and the code."""

    user: Login
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$", description="The 6 digits from the sign-in email.")]
    remember_device: bool = False


# Exactly one of the two shapes (anything else is 400 invalid_request)
LoginLinkConfirmation = LoginLinkConfirmRequest | LoginCodeConfirmRequest


class UserRequest(Strict):
    user: Login


class PasswordResetConfirmRequest(Strict):
    token: Token
    new_password: NewPassword
    keep_api_keys: bool = Field(default=False, description="Keep the account's API keys (by default they end too).")


class ConfirmRequest(Strict):
    confirm: bool = False


class ChangePasswordRequest(Strict):
    old_password: Password
    new_password: NewPassword
    keep_api_keys: bool = Field(default=False, description="Keep the account's API keys (by default they end too).")


def _given(value: object) -> object:
    if value is None:
        raise ValueError("must be a whole number of days, or left out")
    return value


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # the default is a setting, not a value of the schema


# Left out, it is None and the key lives FRONTDESK_API_KEY_DEFAULT_DAYS; an explicit null is refused.
ExpiryDays = Annotated[
    Annotated[int, Field(ge=API_KEY_MIN_DAYS, le=API_KEY_MAX_DAYS)] | None,
    BeforeValidator(_given),
    WithJsonSchema(
        {
            "type": "integer",
            "minimum": API_KEY_MIN_DAYS,
            "maximum": API_KEY_MAX_DAYS,
            "description": "Days until the key expires; FRONTDESK_API_KEY_DEFAULT_DAYS when left out.",
        }
    ),
]


class ApiKeyRequest(Strict):
    password: Password
    name: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_no_nul)]
    expiry_days: ExpiryDays = Field(default=None, json_schema_extra=_no_default)


class AdminApiKeyRequest(Strict):
    expiry_days: ExpiryDays = Field(default=None, json_schema_extra=_no_default)


# --- responses ----------------------------------------------------------------------------------


class StatusResponse(BaseModel):
    status: str


class SessionSummary(BaseModel):
    id: int
    expiry: Timestamp
    long_lived: bool


class AuthResponse(BaseModel):
    user_id: int
    username: str
    session: SessionSummary


class UsernameResponse(BaseModel):
    username: str
    valid: bool
    available: bool


class CurrentSessionResponse(BaseModel):
    logged_in: bool
    user_id: int | None = None
    username: str | None = None
    expiry: Timestamp | None = None
    long_lived: bool | None = None
    is_api_key: bool | None = None
    # how strongly and how recently the caller signed in (contract section 6)
    aal: int | None = Field(default=None, description="Authentication assurance level: 1 or 2.")
    factors: list[str] | None = Field(default=None, description='The factors proved, e.g. ["password", "totp"].')
    authenticated_at: Timestamp | None = Field(default=None, description="The last time a factor was proved.")


class SessionItem(BaseModel):
    id: int
    name: str | None
    created: Timestamp
    expiry: Timestamp
    last_seen: Timestamp
    api_calls: int
    long_lived: bool
    is_api_key: bool
    is_current: bool
    aal: int = Field(description="Authentication assurance level: 1, or 2 (two factors, or a passkey).")
    factors: list[str] = Field(description='The factors proved in this session, e.g. ["password", "totp"].')
    authenticated_at: Timestamp = Field(description="The last time a factor was proved in this session.")
    ip_address: str | None
    user_agent: str | None
    browser: str
    operating_system: str
    device: str
    approximate_location: str


class SessionListResponse(BaseModel):
    sessions: list[SessionItem]
    next_page_token: str | None


class RevokedResponse(BaseModel):
    revoked: int


class ApiKeyResponse(BaseModel):
    id: int
    token: str
    expiry: Timestamp


class HealthResponse(BaseModel):
    status: str


# --- social sign-in -------------------------------------------------------------------------------


class IdentityItem(BaseModel):
    """A linked sign-in provider account."""

    id: int
    provider: str
    email: str | None
    created: Timestamp
    last_used: Timestamp


class IdentityListResponse(BaseModel):
    identities: list[IdentityItem]


class RedirectBody(BaseModel):
    """Where to send the browser next."""

    redirect: str
