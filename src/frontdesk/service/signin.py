"""The last step of every sign-in: a new session carrying the factors proved."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from frontdesk.models import User
from frontdesk.service import audit, known_devices, notices
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.results import AuthResult
from frontdesk.service.sessions import issue_session

SECOND_FACTORS = frozenset({"totp", "webauthn", "recovery_code"})


def assurance_level(factors: Sequence[str]) -> int:
    """2 for a first factor plus a second factor, or a passkey (user-verified); else 1."""
    if "passkey" in factors:
        return 2
    return 2 if len(factors) >= 2 and any(f in SECOND_FACTORS for f in factors) else 1


def open_session(
    db: Session,
    deps: Deps,
    user: User,
    *,
    long_lived: bool,
    factors: Sequence[str],
    ctx: RequestContext,
    event: str = "login.succeeded",
    detail: str | None = None,
) -> AuthResult:
    """A new session for `user` at the assurance level of `factors`, recorded as a sign-in: audited
    as `event` (with `detail`, by default the factors), and told to the owner when it comes from
    a device the account has not used lately (`notices`).

    Every sign-in that makes a session ends here: password, sign-in link, passkey, social
    sign-in, the second step, a password reset, a restore link and the signup confirmation.
    """
    issued = issue_session(db, deps, user, ctx, long_lived=long_lived, factors=factors, aal=assurance_level(factors))
    user.last_active = deps.clock.now()
    audit.record(
        db,
        deps,
        event,
        ctx,
        user_id=user.id,
        session_id=issued.session.id,
        detail="+".join(factors) if detail is None else detail,
    )
    notices.note_sign_in(db, deps, user, issued.session, ctx)
    return AuthResult(user, issued, known_devices.remember(deps, ctx.device, user.id))
