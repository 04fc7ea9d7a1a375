"""Rate limits that hold across processes: fixed windows counted in the database."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from frontdesk.errors import RateLimited
from frontdesk.service.deps import Deps
from frontdesk.store import ratelimits as store

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def subject_key(kind: str, subject: str) -> str:
    """A bucket key; the subject is hashed so emails and logins are not stored in clear."""
    return f"{kind}:{hashlib.sha256(subject.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


def account_key(user_id: int) -> str:
    """The bucket of failed password checks for one account, however it was named."""
    return subject_key("login:user", str(user_id))


def _window(deps: Deps) -> tuple[datetime, timedelta]:
    size = deps.settings.rate_limit_window
    now = deps.clock.now()
    start = _EPOCH + ((now - _EPOCH) // size) * size
    return start, start + size - now


def ensure_below(db: Session, deps: Deps, key: str, limit: int) -> None:
    """Raise RateLimited (with Retry-After) when the key already reached its limit this window."""
    start, remaining = _window(deps)
    if store.count(db, key, start) >= limit:
        raise RateLimited(retry_after=remaining)


def take(db: Session, deps: Deps, key: str, limit: int) -> None:
    """Count one attempt first, then raise RateLimited when it is over the limit.

    Exact under any concurrency: the count is one upsert, which queues on the bucket's row, so
    of N simultaneous attempts exactly `limit` go on (the rest are refused before any check).
    `give_back` undoes the count for an attempt that turns out not to be a failure.
    """
    start, remaining = _window(deps)
    if store.hit(db, key, start) > limit:
        raise RateLimited(retry_after=remaining)


def give_back(db: Session, deps: Deps, *keys: str) -> None:
    """Undo one `take` of each key in this window (the attempt succeeded, so it is not a failure);
    one statement however many keys (a sign-in gives back three)."""
    start, _ = _window(deps)
    if keys:
        store.unhit(db, keys, start)


def hit(db: Session, deps: Deps, key: str) -> int:
    """Count one event against the key; returns the count in the current window."""
    start, _ = _window(deps)
    return store.hit(db, key, start)


def allow(db: Session, deps: Deps, key: str, limit: int) -> bool:
    """Count one event and say whether it is still within the limit (for silent limits like email)."""
    return hit(db, deps, key) <= limit
