"""Password reset by email."""

from __future__ import annotations

from sqlalchemy.orm import Session

from frontdesk import crypto
from frontdesk.errors import TokenInvalid
from frontdesk.models import PasswordResetToken
from frontdesk.service import audit, emails
from frontdesk.service.accounts import find_user, set_password
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.passwords import check_password
from frontdesk.service.results import AuthResult
from frontdesk.service.sessions import issue_session
from frontdesk.store import sessions as session_store
from frontdesk.store import tokens as token_store
from frontdesk.store import users as user_store


def request_password_reset(db: Session, deps: Deps, login: str, ctx: RequestContext) -> None:
    """Email a reset link if the user exists and may sign in; the caller answers 202 either way."""
    user = find_user(db, login)
    if user is None or not user.can_sign_in:
        return
    if not emails.may_send(db, deps, user.email_key, ctx):
        return
    token = crypto.new_email_token()
    now = deps.clock.now()
    token_store.add(
        db,
        PasswordResetToken(
            token_hash=crypto.digest(token),
            user_id=user.id,
            created=now,
            expiry=now + deps.settings.reset_token_ttl,
        ),
    )
    emails.send(
        db,
        deps,
        kind="password_reset",
        to=user.email,
        context={"name": user.name, "link": emails.link(deps, "password_reset", token)},
    )
    audit.record(db, deps, "password_reset.requested", ctx, user_id=user.id)


def complete_password_reset(db: Session, deps: Deps, token: str, new_password: str, ctx: RequestContext) -> AuthResult:
    """Use the reset link once, in one transaction: new password, every cookie session and every
    outstanding login/reset token ended, a notice emailed, and a new short-lived session.
    API keys survive (they are credentials of their own, managed on the account page)."""
    check_password(new_password, deps.settings.product_name, field="new_password")
    row = token_store.consume(db, PasswordResetToken, crypto.digest(token), deps.clock.now())
    user = user_store.get(db, row.user_id) if row else None
    if user is None or not user.can_sign_in:
        raise TokenInvalid()
    set_password(db, deps, user, new_password, ctx)
    ended = session_store.end_for_user(db, user.id, deps.clock.now(), cookies_only=True)
    issued = issue_session(db, deps, user, ctx, long_lived=False)
    audit.record(
        db,
        deps,
        "password_reset.completed",
        ctx,
        user_id=user.id,
        session_id=issued.session.id,
        detail=f"sessions_ended={ended}",
    )
    return AuthResult(user, issued)
