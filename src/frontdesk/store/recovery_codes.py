"""Queries on `recovery_codes`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from frontdesk.models import RecoveryCode
from frontdesk.store.rows import changed


def replace_all(db: Session, user_id: int, code_hashes: Sequence[bytes], now: datetime) -> None:
    """End the user's set (used or not) and store a new one."""
    remove_all(db, user_id)
    db.add_all(RecoveryCode(user_id=user_id, code_hash=h, created=now, position=i) for i, h in enumerate(code_hashes))
    db.flush()


def use(db: Session, user_id: int, code_hash: bytes, now: datetime) -> bool:
    """Use one code once: true for exactly one of any number of concurrent callers."""
    result = db.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.code_hash == code_hash, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return changed(result) == 1


def count_left(db: Session, user_id: int) -> int:
    value = db.scalar(select(func.count()).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)))
    return int(value or 0)


def remove_all(db: Session, user_id: int) -> int:
    result = db.execute(
        delete(RecoveryCode).where(RecoveryCode.user_id == user_id).execution_options(synchronize_session=False)
    )
    return changed(result)
