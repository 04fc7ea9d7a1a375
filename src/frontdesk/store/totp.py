"""Queries on `totp_factors`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from frontdesk.models import TotpFactor
from frontdesk.store.rows import changed


def get(db: Session, user_id: int, *, confirmed: bool) -> TotpFactor | None:
    """The user's active (`confirmed=True`) or pending factor."""
    query = select(TotpFactor).where(TotpFactor.user_id == user_id, TotpFactor.confirmed == confirmed)
    return db.scalars(query).first()


def replace_pending(db: Session, factor: TotpFactor) -> TotpFactor:
    """Store a new pending factor in place of the user's pending one, if any."""
    db.execute(
        delete(TotpFactor)
        .where(TotpFactor.user_id == factor.user_id, TotpFactor.confirmed.is_(False))
        .execution_options(synchronize_session=False)
    )
    db.add(factor)
    db.flush()
    return factor


def claim_step(db: Session, factor_id: int, step: int, now: datetime) -> bool:
    """Accept the 30-second `step` for this factor once: true for exactly one of any number of
    concurrent callers, and false for every step at or before the newest one accepted.

    One conditional UPDATE decides, so it holds across processes: PostgreSQL re-checks the WHERE
    after waiting for a competing writer's row lock, SQLite serialises writers.
    """
    result = db.execute(
        update(TotpFactor)
        .where(
            TotpFactor.id == factor_id,
            TotpFactor.last_used_step.is_(None) | (TotpFactor.last_used_step < step),
        )
        .values(last_used_step=step, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return changed(result) == 1


def activate(db: Session, factor_id: int, user_id: int, now: datetime) -> None:
    """Make the pending factor the user's active one, ending the previous active one."""
    db.execute(
        delete(TotpFactor)
        .where(TotpFactor.user_id == user_id, TotpFactor.confirmed.is_(True))
        .execution_options(synchronize_session=False)
    )
    db.execute(
        update(TotpFactor)
        .where(TotpFactor.id == factor_id)
        .values(confirmed=True, confirmed_at=now)
        .execution_options(synchronize_session=False)
    )


def delete_pending_before(db: Session, created_before: datetime, limit: int) -> int:
    """Delete up to `limit` pending (never confirmed) factors begun before `created_before`."""
    ids = select(TotpFactor.id).where(TotpFactor.confirmed.is_(False), TotpFactor.created < created_before).limit(limit)
    result = db.execute(delete(TotpFactor).where(TotpFactor.id.in_(ids)).execution_options(synchronize_session=False))
    return changed(result)


def remove(db: Session, user_id: int) -> int:
    """Delete every TOTP factor of the user, active and pending."""
    result = db.execute(
        delete(TotpFactor).where(TotpFactor.user_id == user_id).execution_options(synchronize_session=False)
    )
    return changed(result)
