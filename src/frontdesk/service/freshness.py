"""Fresh sessions (contract section 6): a sensitive action needs a session in which a factor was
proved within FRONTDESK_REAUTH_MAX_AGE. The rule is written here once; the API (`web/deps.Fresh`),
the hosted pages (`FreshSignedIn`) and the library mode (`require_fresh`) all ask it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from frontdesk.errors import Forbidden, ReauthenticationRequired
from frontdesk.service import factors
from frontdesk.service.context import Principal
from frontdesk.service.deps import Deps
from frontdesk.store import sessions as session_store

API_KEY_REFUSED = "Do this from a signed-in browser, not with an API key."


def is_fresh(principal: Principal, now: datetime, max_age: timedelta) -> bool:
    """Whether a factor was proved in this session at most `max_age` ago."""
    return now - principal.authenticated_at <= max_age


def ensure_fresh(deps: Deps, principal: Principal, max_age: timedelta | None = None) -> Principal:
    """The caller, if theirs is a fresh cookie session (`max_age`, default REAUTH_MAX_AGE).

    403 `forbidden` for an API key (it can't re-authenticate); 403 `reauthentication_required`
    for a cookie session whose last proved factor is older.
    """
    if principal.is_api_key:
        raise Forbidden(API_KEY_REFUSED)
    if not is_fresh(principal, deps.clock.now(), deps.settings.reauth_max_age if max_age is None else max_age):
        raise ReauthenticationRequired()
    return principal


def password_may_reauthenticate(db: Session, deps: Deps, principal: Principal) -> bool:
    """For the actions that check the caller's password anyway (`/v1/password`, `/v1/api-keys`).

    False when the session is fresh. True when it is stale and the user has no second factor:
    the password checked in this request then counts as the re-authentication. Stale for a user
    with a second factor: 403 `reauthentication_required` (a password alone is not enough).
    """
    if not principal.is_api_key and is_fresh(principal, deps.clock.now(), deps.settings.reauth_max_age):
        return False
    if factors.has_second_factor(db, deps, principal.user_id):
        raise ReauthenticationRequired()
    return True


def renew(db: Session, deps: Deps, principal: Principal, method: str, *, aal: int | None = None) -> None:
    """Record a re-authentication of the caller's session with `method`: `authenticated_at` = now,
    `method` added to its factors, and its assurance level raised to `aal` (never lowered)."""
    if principal.is_api_key:
        return
    proved = principal.factors if method in principal.factors else (*principal.factors, method)
    session_store.reauthenticated(
        db, principal.session_id, deps.clock.now(), factors=",".join(proved), aal=max(principal.aal, aal or 1)
    )


def satisfies(principal: Principal, now: datetime, *, aal: int | None = None, max_age: timedelta | None = None) -> bool:
    """Whether the caller signed in at least at assurance level `aal` and proved a factor within
    `max_age` (the step-up demands of `GET /v1/verify?aal=&max_age=` and the library's `require_aal`
    / `require_fresh`; either may be None, asking nothing)."""
    if aal is not None and principal.aal < aal:
        return False
    return max_age is None or is_fresh(principal, now, max_age)
