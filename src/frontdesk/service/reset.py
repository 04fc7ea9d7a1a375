"""Password reset by email."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from frontdesk.models import PasswordResetToken, User
from frontdesk.service.accounts import set_password
from frontdesk.service.challenges import needs_second_factor, require_second_factor
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.links import send_user_link, use_user_link
from frontdesk.service.passwords import check_password
from frontdesk.service.results import AuthResult
from frontdesk.service.signin import open_session
from frontdesk.store import sessions as session_store


def request_password_reset(db: Session, deps: Deps, login: str, ctx: RequestContext) -> None:
    """Email a reset link if the user exists and may sign in; the caller answers 202 either way."""
    send_user_link(
        db,
        deps,
        login,
        ctx,
        model=PasswordResetToken,
        ttl=deps.settings.reset_token_ttl,
        kind="password_reset",
        event="password_reset.requested",
    )


def complete_password_reset(
    db: Session, deps: Deps, token: str, new_password: str, ctx: RequestContext, *, keep_api_keys: bool = False
) -> AuthResult:
    """Use the reset link once, in one transaction: new password, every session and every
    outstanding login/reset token ended, a notice emailed, and a new short-lived session.
    API keys end too unless `keep_api_keys` (whoever learned the old password may have made one).
    A user with a second factor gets SecondFactorRequired instead: the reset happens after it."""
    check_password(new_password, deps.settings.product_name, field="new_password")
    user = use_user_link(db, deps, PasswordResetToken, token)
    # refused here, the transaction rolls back and the link stays usable
    check_password(
        new_password, deps.settings.product_name, field="new_password", username=user.username, email=user.email
    )
    if needs_second_factor(db, deps, user.id):
        # the link is used up; the new password waits (hashed) for the second step
        raise require_second_factor(
            db,
            deps,
            user,
            ctx,
            purpose="reset",
            first_factor="email_link",
            new_password_hash=deps.hasher.hash(new_password),
            keep_api_keys=keep_api_keys,
        )
    set_password(db, deps, user, new_password, ctx)
    return finish_password_reset(db, deps, user, ctx, keep_api_keys=keep_api_keys, factors=("email_link",))


def finish_password_reset(
    db: Session, deps: Deps, user: User, ctx: RequestContext, *, keep_api_keys: bool, factors: Sequence[str]
) -> AuthResult:
    """After the new password is stored: end the other sessions (API keys too unless
    `keep_api_keys`) and open a new short-lived session proved by `factors`."""
    ended = session_store.end_for_user(db, user.id, deps.clock.now(), cookies_only=keep_api_keys)
    return open_session(
        db,
        deps,
        user,
        long_lived=False,
        factors=factors,
        ctx=ctx,
        event="password_reset.completed",
        detail=f"sessions_ended={ended}",
    )
