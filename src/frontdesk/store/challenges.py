"""Queries on `second_factor_challenges`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from frontdesk.models import SecondFactorChallenge
from frontdesk.store.rows import changed


def add(db: Session, challenge: SecondFactorChallenge) -> SecondFactorChallenge:
    db.add(challenge)
    db.flush()
    return challenge


def get_open(db: Session, token_hash: bytes, now: datetime, max_attempts: int) -> SecondFactorChallenge | None:
    """The challenge if it is still open (not used, not expired, attempts left), without changing it."""
    query = select(SecondFactorChallenge).where(
        SecondFactorChallenge.token_hash == token_hash, SecondFactorChallenge.is_open_at(now, max_attempts)
    )
    return db.scalars(query).first()


def take_attempt(db: Session, token_hash: bytes, now: datetime, max_attempts: int) -> SecondFactorChallenge | None:
    """Count one attempt on an open challenge before anything is checked, and return it; None if
    it is not open. The UPDATE queues concurrent attempts on the row, so at most `max_attempts`
    ever reach a check."""
    challenge_id = db.execute(
        update(SecondFactorChallenge)
        .where(SecondFactorChallenge.token_hash == token_hash, SecondFactorChallenge.is_open_at(now, max_attempts))
        .values(attempts=SecondFactorChallenge.attempts + 1)
        .returning(SecondFactorChallenge.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return None if challenge_id is None else db.get(SecondFactorChallenge, challenge_id, populate_existing=True)


def use(db: Session, challenge_id: int, now: datetime) -> bool:
    """Mark the challenge used: true for exactly one caller."""
    result = db.execute(
        update(SecondFactorChallenge)
        .where(SecondFactorChallenge.id == challenge_id, SecondFactorChallenge.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return changed(result) == 1


def end_for_user(db: Session, user_id: int, now: datetime) -> int:
    """Mark every open challenge of the user used (an administrator reset their factors)."""
    result = db.execute(
        update(SecondFactorChallenge)
        .where(SecondFactorChallenge.user_id == user_id, SecondFactorChallenge.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return changed(result)


def delete_dead(db: Session, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` challenges that expired or were used before `cutoff`."""
    ids = (
        select(SecondFactorChallenge.id)
        .where((SecondFactorChallenge.expiry < cutoff) | (SecondFactorChallenge.used_at < cutoff))
        .limit(limit)
    )
    result = db.execute(
        delete(SecondFactorChallenge)
        .where(SecondFactorChallenge.id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    return changed(result)
