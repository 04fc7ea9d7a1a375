"""Re-authentication (`POST /v1/reauthenticate`, contract section 6): prove a factor again in the
session in use, which makes it fresh (`service/freshness.py`) for REAUTH_MAX_AGE.

A user without a second factor re-authenticates with their password; a user with one, only with
a second factor (a TOTP code, a recovery code or a WebAuthn assertion): a password alone is
refused with 403 `reauthentication_required` and is not even checked. Wrong answers count
against the account's login limit; codes and assertions work once, as at sign-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from frontdesk.errors import Forbidden, InvalidCode, InvalidCredentials, InvalidInput, ReauthenticationRequired
from frontdesk.service import audit, factor_events, factors, freshness, ratelimit, recovery, totp, webauthn
from frontdesk.service.accounts import check_own_password
from frontdesk.service.context import Principal, RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.signin import assurance_level
from frontdesk.store import users as user_store

SECOND_FACTOR_NEEDED = (
    "This account has a second factor: re-authenticate with it (totp, webauthn or recovery_code); "
    "a password alone is not enough."
)


def reauthentication_methods(db: Session, deps: Deps, principal: Principal) -> list[str]:
    """What this caller can re-authenticate with here: their second factors, or else `password`
    (none for an account made by social sign-in that has no password yet: it signs in again
    through its provider, `service/identities.reauthentication_providers`)."""
    found = factors.methods(db, deps, principal.user_id)
    if found:
        return found
    user = user_store.get(db, principal.user_id)
    return ["password"] if user is not None and user.hashed_password is not None else []


def reauthenticate(
    db: Session,
    deps: Deps,
    principal: Principal,
    ctx: RequestContext,
    *,
    password: str | None = None,
    totp_code: str | None = None,
    recovery_code: str | None = None,
    webauthn_response: Mapping[str, Any] | None = None,
) -> None:
    """Prove one factor again in the caller's cookie session: `authenticated_at` becomes now, the
    factor joins the session's factors and its assurance level rises accordingly.

    InvalidCredentials (wrong password) or InvalidCode (wrong code or assertion), both counted;
    ReauthenticationRequired for a password from a user with a second factor; RateLimited when
    the account is over its login limit; Forbidden for an API key.
    """
    given_values = (("password", password), ("totp", totp_code), ("recovery_code", recovery_code))
    given = [m for m, v in given_values if v is not None]
    if webauthn_response is not None:
        given.append("webauthn")
    if len(given) != 1:
        raise InvalidInput("Send exactly one of password, totp, recovery_code or webauthn.")
    if principal.is_api_key:
        raise Forbidden(freshness.API_KEY_REFUSED)
    method = given[0]
    user = user_store.get(db, principal.user_id)
    if user is None:
        raise InvalidCredentials()
    if method == "password":
        if factors.has_second_factor(db, deps, user.id):
            raise ReauthenticationRequired(SECOND_FACTOR_NEEDED)
        check_own_password(db, deps, user, password or "", ctx, event="reauth.failed")
        freshness.renew(db, deps, principal, "password")
        audit.record(db, deps, "reauthenticated", ctx, user_id=user.id, session_id=principal.session_id, detail=method)
        return
    with factor_events.counted(method):
        bucket = ratelimit.account_key(user.id)
        ratelimit.ensure_below(db, deps, bucket, deps.settings.login_failures_per_account)
        if not _proves(db, deps, user.id, ctx, totp_code, recovery_code, webauthn_response):
            ratelimit.hit(db, deps, bucket)
            audit.record(
                db, deps, "reauth.failed", ctx, user_id=user.id, session_id=principal.session_id, detail=method
            )
            raise InvalidCode()
        proved_in_session(db, deps, principal, method)
        audit.record(db, deps, "reauthenticated", ctx, user_id=user.id, session_id=principal.session_id, detail=method)


def proved_in_session(db: Session, deps: Deps, principal: Principal, method: str) -> None:
    """A second factor was just proved in the caller's session (a re-authentication, or the code or
    key that confirmed an enrolment): the session is fresh, and aal 2 if a first factor came before."""
    freshness.renew(db, deps, principal, method, aal=assurance_level((*principal.factors, method)))


def _proves(
    db: Session,
    deps: Deps,
    user_id: int,
    ctx: RequestContext,
    totp_code: str | None,
    recovery_code: str | None,
    webauthn_response: Mapping[str, Any] | None,
) -> bool:
    if totp_code is not None:
        return totp.verify_totp(db, deps, user_id, totp_code)
    if recovery_code is not None:
        return recovery.use_recovery_code(db, deps, user_id, recovery_code, ctx)
    if webauthn_response is None:  # unreachable: exactly one was given
        raise ValueError("a re-authentication needs a code or a security key's answer")
    found = webauthn.verify_assertion(db, deps, webauthn_response, ctx, user_id=user_id, reauthentication=True)
    return found is not None


def reauthentication_options(db: Session, deps: Deps, principal: Principal) -> dict[str, Any]:
    """Options for `navigator.credentials.get()` to re-authenticate with one of the caller's keys."""
    if principal.is_api_key:
        raise Forbidden(freshness.API_KEY_REFUSED)
    if "webauthn" not in factors.methods(db, deps, principal.user_id):
        raise InvalidInput("No security key or passkey is registered on this account.")
    return webauthn.authentication_options(db, deps, user_id=principal.user_id, reauthentication=True)
