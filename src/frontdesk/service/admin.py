"""Administrator actions that are more than a flag: API keys delivered by email, and the reset
of a user's second factors."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from frontdesk.errors import Forbidden, NotFound
from frontdesk.models import LoginToken, PasswordResetToken
from frontdesk.service import audit, emails, factor_events
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.sessions import IssuedSession, api_key_ttl, issue_session
from frontdesk.store import challenges as challenge_store
from frontdesk.store import recovery_codes as code_store
from frontdesk.store import sessions as session_store
from frontdesk.store import tokens as token_store
from frontdesk.store import totp as totp_store
from frontdesk.store import users as user_store
from frontdesk.store import webauthn as webauthn_store


def issue_api_key(
    db: Session,
    deps: Deps,
    user_id: int,
    expiry_days: int | None,
    ctx: RequestContext,
    *,
    actor_id: int | None,
    name: str = "Issued by an administrator",
    email_it: bool = True,
) -> IssuedSession:
    """Create an API key for a user. Through the API it is emailed to the user and never returned
    to the administrator (as Couchers does); the CLI prints it once instead. It lives `expiry_days`
    (FRONTDESK_API_KEY_DEFAULT_DAYS when None)."""
    ttl = api_key_ttl(deps, expiry_days)
    user = user_store.get(db, user_id)
    if user is None or user.is_deleted:
        raise NotFound("user")
    if user.is_banned:
        raise Forbidden("That user is suspended; unban them first.")
    issued = issue_session(db, deps, user, ctx, long_lived=True, is_api_key=True, name=name, ttl=ttl)
    if email_it:
        emails.send(
            db,
            deps,
            kind="api_key_created",
            to=user.email,
            context={
                "name": user.name,
                "key_name": name,
                "token": issued.token,
                "expiry": issued.session.expiry.strftime("%Y-%m-%d"),
            },
        )
    audit.record(
        db,
        deps,
        "api_key.created",
        ctx,
        user_id=user.id,
        session_id=issued.session.id,
        detail=f"by={actor_id}",
    )
    return issued


@dataclass(frozen=True, slots=True)
class FactorReset:
    """What an administrator's reset removed and ended."""

    totp: int
    webauthn: int
    recovery_codes: int
    sessions: int


def reset_second_factors(
    db: Session, deps: Deps, user_id: int, ctx: RequestContext, *, actor_id: int | None
) -> FactorReset:
    """For a user who lost their second factor: remove every factor (authenticator app, pending
    or not, security keys, passkeys) and recovery code, end every session and API key, every
    open second step and emailed sign-in or reset link, and email the user. NotFound for an
    unknown or deleted user. The user signs in again with the first factor alone."""
    user = user_store.get(db, user_id)
    if user is None or user.is_deleted:
        raise NotFound("user")
    now = deps.clock.now()
    report = FactorReset(
        totp=totp_store.remove(db, user_id),
        webauthn=webauthn_store.remove_all_credentials(db, user_id),
        recovery_codes=code_store.remove_all(db, user_id),
        sessions=session_store.end_for_user(db, user_id, now),
    )
    challenge_store.end_for_user(db, user_id, now)
    token_store.revoke_for_user(db, LoginToken, user_id, now)
    token_store.revoke_for_user(db, PasswordResetToken, user_id, now)
    detail = f"totp={report.totp} webauthn={report.webauthn} codes={report.recovery_codes} sessions={report.sessions}"
    factor_events.all_reset(db, deps, user_id, ctx, actor_id=actor_id, detail=detail)
    return report
