"""Fixed-window counters in the database, so every process sees the same count."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from frontdesk.models import RateLimitBucket
from frontdesk.store.rows import changed


def hit(db: Session, key: str, window_start: datetime) -> int:
    """Add one to the counter and return the new count, atomically (an upsert)."""
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = (
        insert(RateLimitBucket)
        .values(key=key, window_start=window_start, count=1)
        .on_conflict_do_update(
            index_elements=[RateLimitBucket.key, RateLimitBucket.window_start],
            set_={"count": RateLimitBucket.count + 1},
        )
        .returning(RateLimitBucket.count)
    )
    return int(db.execute(upsert).scalar_one())


def unhit(db: Session, keys: Collection[str], window_start: datetime) -> None:
    """Take one back from each key's counter, in one statement (an attempt that turned out not to
    count, such as a correct password)."""
    db.execute(
        update(RateLimitBucket)
        .where(RateLimitBucket.key.in_(keys), RateLimitBucket.window_start == window_start, RateLimitBucket.count > 0)
        .values(count=RateLimitBucket.count - 1)
    )


def count(db: Session, key: str, window_start: datetime) -> int:
    value = db.scalar(
        select(RateLimitBucket.count).where(RateLimitBucket.key == key, RateLimitBucket.window_start == window_start)
    )
    return int(value or 0)


def delete_before(db: Session, cutoff: datetime) -> int:
    result = db.execute(delete(RateLimitBucket).where(RateLimitBucket.window_start < cutoff))
    return changed(result)
