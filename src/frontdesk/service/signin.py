"""The last step of every sign-in: a new session carrying the factors proved."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from frontdesk.models import User
from frontdesk.service import audit, known_devices
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
    db: Session, deps: Deps, user: User, *, long_lived: bool, factors: Sequence[str], ctx: RequestContext
) -> AuthResult:
    """A new session for `user` at the assurance level of `factors`, recorded as a sign-in."""
    issued = issue_session(db, deps, user, ctx, long_lived=long_lived, factors=factors, aal=assurance_level(factors))
    user.last_active = deps.clock.now()
    audit.record(
        db, deps, "login.succeeded", ctx, user_id=user.id, session_id=issued.session.id, detail="+".join(factors)
    )
    return AuthResult(user, issued, known_devices.remember(deps, ctx.device, user.id))
