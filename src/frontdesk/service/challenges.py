"""Second-factor challenges: the single-use state between a first factor and the second step.

`require_second_factor` is what a first-factor path calls for a user with a second factor: it
stores the challenge (only the SHA-256 of a 256-bit token) and raises SecondFactorRequired,
whose outcome the edge answers with 202 `mfa_required`.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from frontdesk import crypto
from frontdesk.errors import SecondFactorRequired
from frontdesk.models import SecondFactorChallenge, User
from frontdesk.service import audit, factors
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.store import challenges as store

CHALLENGE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
PURPOSES = ("login", "reset")


def needs_second_factor(db: Session, deps: Deps, user_id: int) -> bool:
    """Whether a first-factor success for this user must go on to a second step."""
    return factors.has_second_factor(db, deps, user_id)


def require_second_factor(
    db: Session,
    deps: Deps,
    user: User,
    ctx: RequestContext,
    *,
    purpose: str,
    first_factor: str,
    remember_device: bool = False,
    new_password_hash: str | None = None,
    keep_api_keys: bool = False,
) -> SecondFactorRequired:
    """Store a challenge for the second step and return the outcome for the caller to raise."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown second-factor purpose {purpose!r}")
    token = crypto.new_email_token()  # 256 random bits, URL-safe
    now = deps.clock.now()
    row = store.add(
        db,
        SecondFactorChallenge(
            token_hash=crypto.digest(token),
            user_id=user.id,
            purpose=purpose,
            first_factor=first_factor,
            remember_device=remember_device,
            new_password_hash=new_password_hash,
            keep_api_keys=keep_api_keys,
            created=now,
            expiry=now + CHALLENGE_TTL,
        ),
    )
    audit.record(db, deps, "second_factor.required", ctx, user_id=user.id, detail=f"{purpose} challenge={row.id}")
    return SecondFactorRequired(token, factors.methods(db, deps, user.id), row.expiry)
