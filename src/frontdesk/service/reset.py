"""Password reset by email."""

from __future__ import annotations

from sqlalchemy.orm import Session

from frontdesk.models import PasswordResetToken
from frontdesk.service import audit
from frontdesk.service.accounts import set_password
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.links import send_user_link, use_user_link
from frontdesk.service.passwords import check_password
from frontdesk.service.results import AuthResult
from frontdesk.service.sessions import issue_session
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
    API keys end too unless `keep_api_keys` (whoever learned the old password may have made one)."""
    check_password(new_password, deps.settings.product_name, field="new_password")
    user = use_user_link(db, deps, PasswordResetToken, token)
    set_password(db, deps, user, new_password, ctx)
    ended = session_store.end_for_user(db, user.id, deps.clock.now(), cookies_only=keep_api_keys)
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
