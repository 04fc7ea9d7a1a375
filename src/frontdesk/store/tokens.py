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


def take_code_attempt(db: Session, user_id: int, now: datetime, max_attempts: int) -> LoginToken | None:
    """Count one code attempt on the user's newest live sign-in grant that has a code, before the
    code is checked, and return that grant; None when there is none or it is out of attempts.

    The UPDATE queues concurrent attempts on the row (PostgreSQL re-checks `code_attempts` after
    a competing writer's lock; SQLite serialises writers), so at most `max_attempts` codes are
    ever checked against one grant.
    """
    newest = (
        select(LoginToken.id)
        .where(LoginToken.user_id == user_id, LoginToken.code_hash.is_not(None), LoginToken.is_valid_at(now))
        .order_by(LoginToken.created.desc(), LoginToken.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    grant_id = db.execute(
        update(LoginToken)
        .where(LoginToken.id == newest, LoginToken.is_valid_at(now), LoginToken.code_attempts < max_attempts)
        .values(code_attempts=LoginToken.code_attempts + 1)
        .returning(LoginToken.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return None if grant_id is None else db.get(LoginToken, grant_id, populate_existing=True)


def use_grant(db: Session, grant_id: int, now: datetime) -> bool:
    """Use a sign-in grant (its link and its code at once): true for exactly one caller, and only
    while it is still valid."""
    result = db.execute(
        update(LoginToken)
        .where(LoginToken.id == grant_id, LoginToken.is_valid_at(now))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return changed(result) == 1
