"""Fixed-window counters in the database, so every process sees the same count.

Every sign-in runs these statements, so they are Core statements built once per dialect (and
per number of keys) with bound parameters, run on the session's connection: building an ORM
upsert or bulk UPDATE on each call cost more CPU than everything else a login does in SQL
(`docs/performance.md`, "Login path cost").
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from frontdesk.models import RateLimitBucket
from frontdesk.store.rows import changed

_BUCKETS = RateLimitBucket.metadata.tables[RateLimitBucket.__tablename__]
_KEYS: BindParameter[list[str]] = bindparam("keys", expanding=True)
_WINDOW: BindParameter[datetime] = bindparam("window")
_UNHIT = (
    update(_BUCKETS)
    .where(_BUCKETS.c.key.in_(_KEYS), _BUCKETS.c.window_start == _WINDOW, _BUCKETS.c.count > 0)
    .values(count=_BUCKETS.c.count - 1)
)
# withdrawing an attempt: a row only it made goes (refused attempts leave no rows behind), others lose one
_FORGET = delete(_BUCKETS).where(_BUCKETS.c.key.in_(_KEYS), _BUCKETS.c.window_start == _WINDOW, _BUCKETS.c.count == 1)
_UNHIT_SHARED = (
    update(_BUCKETS)
    .where(_BUCKETS.c.key.in_(_KEYS), _BUCKETS.c.window_start == _WINDOW, _BUCKETS.c.count > 1)
    .values(count=_BUCKETS.c.count - 1)
)
_COUNT = select(_BUCKETS.c.count).where(_BUCKETS.c.key == bindparam("key"), _BUCKETS.c.window_start == _WINDOW)


@lru_cache(maxsize=16)
def _upsert(dialect: str, keys: int) -> Any:
    """`INSERT ... VALUES (k0, w, 1), (k1, w, 1) ... ON CONFLICT DO UPDATE SET count = count + 1
    RETURNING key, count` for `keys` keys (PostgreSQL, and SQLite >= 3.35)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [{"key": bindparam(f"k{i}"), "window_start": _WINDOW, "count": 1} for i in range(keys)]
    return (
        insert(_BUCKETS)
        .values(rows)
        .on_conflict_do_update(
            index_elements=[_BUCKETS.c.key, _BUCKETS.c.window_start],
            set_={"count": _BUCKETS.c.count + 1},
        )
        .returning(_BUCKETS.c.key, _BUCKETS.c.count)
    )


def hit_all(db: Session, keys: Sequence[str], window_start: datetime) -> dict[str, int]:
    """Add one to each key's counter and return the new counts, atomically, in one statement.

    The rows are written (and, on PostgreSQL, locked until the transaction ends) in the order of
    `keys`, so callers that always list their kinds of key in the same order can't deadlock.
    """
    if not keys:
        return {}
    if len(set(keys)) != len(keys):
        raise ValueError("each key may be counted once per statement")
    conn = db.connection()
    params: dict[str, Any] = {f"k{i}": key for i, key in enumerate(keys)}
    params["window"] = window_start
    rows = conn.execute(_upsert(conn.dialect.name, len(keys)), params).all()
    return {str(key): int(count) for key, count in rows}


def hit(db: Session, key: str, window_start: datetime) -> int:
    """Add one to the counter and return the new count, atomically (an upsert)."""
    return hit_all(db, (key,), window_start)[key]


def unhit(db: Session, keys: Collection[str], window_start: datetime) -> None:
    """Take one back from each key's counter, in one statement (an attempt that turned out not to
    count, such as a correct password)."""
    if keys:
        db.connection().execute(_UNHIT, {"keys": list(keys), "window": window_start})


def forget(db: Session, keys: Collection[str], window_start: datetime) -> None:
    """Withdraw one hit of each key made earlier in this transaction (whose rows it still holds):
    a row that hit made goes again, the others are decremented; two statements."""
    if keys:
        conn = db.connection()
        params = {"keys": list(keys), "window": window_start}
        conn.execute(_FORGET, params)
        conn.execute(_UNHIT_SHARED, params)


def count(db: Session, key: str, window_start: datetime) -> int:
    value = db.connection().execute(_COUNT, {"key": key, "window": window_start}).scalar()
    return int(value or 0)


def delete_before(db: Session, cutoff: datetime) -> int:
    result = db.execute(delete(RateLimitBucket).where(RateLimitBucket.window_start < cutoff))
    return changed(result)
