"""The one error tree of frontdesk. Nothing here knows about HTTP; `web/errors.py` maps these to statuses."""

from __future__ import annotations

from datetime import datetime, timedelta


class FrontdeskError(Exception):
    """Root of every error frontdesk raises on purpose.

    `keep_changes` marks errors that are outcomes rather than aborts: the edge still commits
    what the operation recorded before raising (an audit event, a rate-limit count).
    """

    keep_changes = False


class ConfigurationError(FrontdeskError):
    """The settings are unusable (missing secret in production, bad URL, ...)."""


class InvalidInput(FrontdeskError):
    """A value a client sent breaks a rule; `field` names it when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidEmail(InvalidInput):
    def __init__(self, message: str = "That is not a valid email address.") -> None:
        super().__init__(message, field="email")


class InvalidUsername(InvalidInput):
    def __init__(self, message: str) -> None:
        super().__init__(message, field="username")


class PasswordRejected(InvalidInput):
    """Base of the password-policy errors."""

    def __init__(self, message: str, field: str = "password") -> None:
        super().__init__(message, field=field)


class PasswordTooShort(PasswordRejected):
    pass


class PasswordTooLong(PasswordRejected):
    pass


class InsecurePassword(PasswordRejected):
    pass


class UsernameTaken(FrontdeskError):
    def __init__(self) -> None:
        super().__init__("That username is taken.")


class EmailTaken(FrontdeskError):
    """Only for administrative creation; public signup never reveals that an email is registered."""

    def __init__(self) -> None:
        super().__init__("That email address is already registered.")


class InvalidCredentials(FrontdeskError):
    keep_changes = True

    def __init__(self) -> None:
        super().__init__("The username, email or password is not right.")


class AccountSuspended(FrontdeskError):
    keep_changes = True

    def __init__(self) -> None:
        super().__init__("This account is suspended.")


class TokenInvalid(FrontdeskError):
    """A login, reset or signup token is unknown, used, expired or for a user who can't sign in."""

    def __init__(self, message: str = "This link is invalid or has expired.") -> None:
        super().__init__(message)


class NotFound(FrontdeskError):
    def __init__(self, what: str = "resource") -> None:
        super().__init__(f"No such {what}.")
        self.what = what


class CannotDeleteCurrentSession(FrontdeskError):
    def __init__(self) -> None:
        super().__init__("Use logout to end the session you are using.")


class MustConfirm(FrontdeskError):
    def __init__(self) -> None:
        super().__init__("Set confirm to true to do this.")


class Forbidden(FrontdeskError):
    def __init__(self, message: str = "You are not allowed to do this.") -> None:
        super().__init__(message)


class RateLimited(FrontdeskError):
    keep_changes = True

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__("Too many attempts; try again later.")
        self.retry_after = retry_after


class DatabaseUnavailable(FrontdeskError):
    """The database can't be reached or used (down, missing, wrong credentials, not migrated).
    The message is one line naming the database (password hidden) and what to do."""


# --- second factors (contract section 6) ---


class SealBroken(FrontdeskError):
    """An encrypted value does not open: wrong key (SECRET changed), wrong owner, or altered bytes."""

    def __init__(self) -> None:
        super().__init__("An encrypted value could not be opened.")


class InvalidCode(FrontdeskError):
    """A TOTP code, recovery code or WebAuthn assertion did not prove the factor (or was used before)."""

    keep_changes = True  # the failed attempt is counted

    def __init__(self, message: str = "That code is not right.") -> None:
        super().__init__(message)


class SecondFactorRequired(FrontdeskError):
    """A first factor succeeded for a user with a second factor: not an error but the first step's
    outcome (202 `mfa_required`). No session was made; `challenge` (the token, shown only to the
    client, never in the message or repr), `methods` and `expiry` say how to finish."""

    keep_changes = True  # the challenge (and the used-up email token) must be committed

    def __init__(self, challenge: str, methods: list[str], expiry: datetime) -> None:
        super().__init__("A second factor is required to finish signing in.")
        self.challenge = challenge
        self.methods = methods
        self.expiry = expiry

    def __repr__(self) -> str:
        return f"SecondFactorRequired(methods={self.methods!r}, challenge=<hidden>)"


class ReauthenticationRequired(FrontdeskError):
    """A sensitive action on a session whose last proved factor is older than REAUTH_MAX_AGE
    (403 `reauthentication_required`): `POST /v1/reauthenticate`, then try again."""

    def __init__(
        self, message: str = "Confirm it is you first: re-authenticate (POST /v1/reauthenticate), then try again."
    ) -> None:
        super().__init__(message)


class InsufficientAuthentication(FrontdeskError):
    """The caller is signed in, but not strongly or recently enough for what was asked: a proxy's
    `GET /v1/verify?aal=2` or `?max_age=N`, or a library route's `require_aal` / `require_fresh`
    (401 `insufficient_user_authentication`, the RFC 9470 step-up). `aal` and `max_age` (seconds)
    are what was demanded."""

    def __init__(self, *, aal: int | None = None, max_age: int | None = None) -> None:
        needs = " and ".join(
            n for n in ("a second factor" if aal else "", "a recent sign-in" if max_age is not None else "") if n
        )
        super().__init__(f"This needs {needs or 'a stronger sign-in'}: sign in again.")
        self.aal = aal
        self.max_age = max_age


class SecondFactorEnrolmentRequired(FrontdeskError):
    """FRONTDESK_REQUIRE_SECOND_FACTOR covers this user, who has no second factor yet: only enrolment
    is open (403 `second_factor_required`). Not `SecondFactorRequired`, the 202 of a first step."""

    def __init__(self) -> None:
        super().__init__("Set up a second factor (an authenticator app or a security key) before doing anything else.")


class SocialSignInFailed(FrontdeskError):
    """A social sign-in callback was refused (bad or used state, no binding cookie, a token that does
    not validate, ...). `reason` is a short machine word for logs and metrics, never shown with secrets.

    An outcome, not an abort: the flow it ended stays ended.
    """

    keep_changes = True

    def __init__(
        self, reason: str, message: str = "This sign-in did not work. Start again from the sign-in page."
    ) -> None:
        super().__init__(message)
        self.reason = reason


class ProviderUnavailable(SocialSignInFailed):
    """The provider did not answer, or answered something unusable (an outage, not an attack)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "The sign-in provider is not answering right now. Try again in a few minutes.")


class LastSignInMethod(FrontdeskError):
    def __init__(self) -> None:
        super().__init__("This is the only way to sign in to this account: set a password or link another first.")


class Overloaded(FrontdeskError):
    """Too much work is already waiting (password hashing): shed this request rather than queue it."""

    def __init__(self, retry_after: timedelta = timedelta(seconds=2)) -> None:
        super().__init__("The service is busy; try again in a moment.")
        self.retry_after = retry_after
