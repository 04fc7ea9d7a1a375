"""Queries on the emailed single-use tokens (login links, password resets, signups)."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from frontdesk.models import (
    AccountRestoreToken,
    EmailChangeToken,
    EmailRevertToken,
    LoginToken,
    NewDeviceNotice,
    PasswordResetToken,
    SignupToken,
)
from frontdesk.store.rows import changed

# a user's emailed token (every kind but a signup's, which has no user yet)
UserToken = (
    LoginToken | PasswordResetToken | EmailChangeToken | EmailRevertToken | AccountRestoreToken | NewDeviceNotice
)
AnyToken = TypeVar("AnyToken", bound=UserToken | SignupToken)
TokenModel = type[UserToken] | type[SignupToken]
USER_TOKEN_MODELS: tuple[type[UserToken], ...] = (
    LoginToken,
    PasswordResetToken,
    EmailChangeToken,
    EmailRevertToken,
    AccountRestoreToken,
    NewDeviceNotice,
)


def add(db: Session, token: AnyToken) -> AnyToken:
    db.add(token)
    db.flush()
    return token


def consume(db: Session, model: type[AnyToken], token_hash: bytes, now: datetime) -> AnyToken | None:
    """Use a token once: of any number of concurrent calls with one token, exactly one gets the row.

    A single conditional UPDATE does it on both databases: PostgreSQL re-checks `used_at IS NULL`
    after waiting for a competing writer's row lock; SQLite serialises writers.
    """
    token_id = db.execute(
        update(model)
        .where(model.token_hash == token_hash, model.is_valid_at(now))
        .values(used_at=now)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if token_id is None:
        return None
    return db.get(model, token_id)


def peek(db: Session, model: type[AnyToken], token_hash: bytes, now: datetime) -> AnyToken | None:
    """A valid token without using it (for a confirmation page that shows who it is for)."""
    return db.scalars(select(model).where(model.token_hash == token_hash, model.is_valid_at(now))).first()


def revoke_for_user(db: Session, model: type[UserToken], user_id: int, now: datetime) -> int:
    """End every outstanding token of this kind for the user."""
    result = db.execute(
        update(model)
        .where(model.user_id == user_id, model.used_at.is_(None), model.expiry >= now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return changed(result)


def delete_dead(db: Session, model: TokenModel, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` tokens that expired or were used before `cutoff`."""
    ids = select(model.id).where((model.expiry < cutoff) | (model.used_at < cutoff)).limit(limit)
    result = db.execute(delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False))
    return changed(result)
