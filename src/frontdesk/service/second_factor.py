"""The second step of a sign-in or reset, and passkey sign-in (contract section 6).

A challenge is completed with one of a TOTP code, a recovery code or a WebAuthn assertion.
Each attempt is counted on the challenge *before* the factor is checked (5 end it), failures
also count against the account's login limit, and the challenge is used once: of any number
of concurrent completions, one session is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from frontdesk import crypto
from frontdesk.errors import AccountSuspended, InvalidCode, InvalidCredentials, InvalidInput, TokenInvalid
from frontdesk.models import SecondFactorChallenge
from frontdesk.service import audit, factor_events, ratelimit, recovery, totp, webauthn
from frontdesk.service.accounts import set_password_hash
from frontdesk.service.challenges import MAX_ATTEMPTS
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.factors import methods as factor_methods
from frontdesk.service.reset import finish_password_reset
from frontdesk.service.results import AuthResult
from frontdesk.service.signin import open_session
from frontdesk.store import challenges as store
from frontdesk.store import users as user_store

_EXPIRED = "This sign-in step has expired or was already used; start again."


def complete_second_factor(
    db: Session,
    deps: Deps,
    challenge: str,
    ctx: RequestContext,
    *,
    totp_code: str | None = None,
    recovery_code: str | None = None,
    webauthn_response: Mapping[str, Any] | None = None,
) -> AuthResult:
    """Finish a sign-in (or reset) with exactly one second factor; the session is aal 2.

    TokenInvalid for an unknown, used, expired or exhausted challenge; InvalidCode for a wrong
    code (counted); RateLimited when the account is over its login limit.
    """
    given = [(m, v) for m, v in (("totp", totp_code), ("recovery_code", recovery_code)) if v is not None]
    if webauthn_response is not None:
        given.append(("webauthn", ""))
    if len(given) != 1:
        raise InvalidInput("Send exactly one of totp, recovery_code or webauthn.")
    method = given[0][0]
    with factor_events.counted(method):
        now = deps.clock.now()
        if not 0 < len(challenge) <= 512:
            raise TokenInvalid(_EXPIRED)
        row = store.take_attempt(db, crypto.digest(challenge), now, MAX_ATTEMPTS)
        if row is None:
            raise TokenInvalid(_EXPIRED)
        bucket = ratelimit.account_key(row.user_id)
        ratelimit.ensure_below(db, deps, bucket, deps.settings.login_failures_per_account)
        if not _proves(db, deps, row, ctx, totp_code, recovery_code, webauthn_response):
            ratelimit.hit(db, deps, bucket)
            audit.record(
                db, deps, "second_factor.failed", ctx, user_id=row.user_id, detail=f"{method} try={row.attempts}"
            )
            raise InvalidCode()
        if not store.use(db, row.id, now):
            raise TokenInvalid(_EXPIRED)  # a concurrent completion won; this transaction rolls back
        audit.record(
            db, deps, "second_factor.succeeded", ctx, user_id=row.user_id, detail=f"{method} challenge={row.id}"
        )
        user = user_store.get(db, row.user_id)
        if user is None or not user.can_sign_in:
            raise TokenInvalid(_EXPIRED)
        factors = (row.first_factor, method)
        if row.purpose == "reset":
            if row.new_password_hash is None:
                raise TokenInvalid(_EXPIRED)
            set_password_hash(db, deps, user, row.new_password_hash, ctx)
            return finish_password_reset(db, deps, user, ctx, keep_api_keys=row.keep_api_keys, factors=factors)
        return open_session(db, deps, user, long_lived=row.remember_device, factors=factors, ctx=ctx)


def _proves(
    db: Session,
    deps: Deps,
    row: SecondFactorChallenge,
    ctx: RequestContext,
    totp_code: str | None,
    recovery_code: str | None,
    webauthn_response: Mapping[str, Any] | None,
) -> bool:
    if totp_code is not None:
        return totp.verify_totp(db, deps, row.user_id, totp_code)
    if recovery_code is not None:
        return recovery.use_recovery_code(db, deps, row.user_id, recovery_code, ctx)
    if webauthn_response is None:  # unreachable: the route sends exactly one of the three
        raise ValueError("a second step needs a code or a security key's answer")
    found = webauthn.verify_assertion(
        db, deps, webauthn_response, ctx, user_id=row.user_id, second_factor_challenge_id=row.id
    )
    return found is not None


def webauthn_authentication_options(db: Session, deps: Deps, challenge: str | None) -> dict[str, Any]:
    """`POST /v1/webauthn/authentication-options`: for a second step, the options for that user's
    keys (TokenInvalid unless the challenge is open); without one, for passkey sign-in."""
    if challenge is None:
        return webauthn.authentication_options(db, deps, user_id=None)
    row = store.get_open(db, crypto.digest(challenge), deps.clock.now(), MAX_ATTEMPTS) if challenge else None
    if row is None:
        raise TokenInvalid(_EXPIRED)
    return webauthn.authentication_options(db, deps, user_id=row.user_id, second_factor_challenge_id=row.id)


def login_with_passkey(
    db: Session, deps: Deps, credential: Mapping[str, Any], remember_device: bool, ctx: RequestContext
) -> AuthResult:
    """Sign in with a passkey alone (discoverable, user-verified): aal 2, factors `["passkey"]`."""
    with factor_events.counted("passkey"):
        found = webauthn.verify_assertion(db, deps, credential, ctx, user_id=None)
        user = user_store.get(db, found.user_id) if found is not None else None
        if user is None or user.is_deleted:
            audit.record(db, deps, "login.failed", ctx, detail="passkey")
            raise InvalidCredentials()
        if user.is_banned:
            audit.record(db, deps, "login.refused_suspended", ctx, user_id=user.id)
            raise AccountSuspended()
        return open_session(db, deps, user, long_lived=remember_device, factors=("passkey",), ctx=ctx)


def second_step_methods(db: Session, deps: Deps, challenge: str) -> list[str] | None:
    """The methods that can finish an open challenge (for the second-step page), or None when the
    challenge is unknown, used, expired or out of attempts. Reads only: no attempt is counted."""
    if not 0 < len(challenge) <= 512:
        return None
    row = store.get_open(db, crypto.digest(challenge), deps.clock.now(), MAX_ATTEMPTS)
    return None if row is None else factor_methods(db, deps, row.user_id)
