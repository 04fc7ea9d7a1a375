"""Rate limits that hold across processes: fixed windows counted in the database."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
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


def take(db: Session, deps: Deps, key: str, limit: int, *, remember: bool = False) -> None:
    """Count one attempt first, then raise RateLimited when it is over the limit.

    Exact under any concurrency: the count is one upsert, which queues on the bucket's row, so
    of N simultaneous attempts exactly `limit` go on (the rest are refused before any check).
    `give_back` undoes the count for an attempt that turns out not to be a failure.
    `remember` (only for keys never given back): this process remembers the refusal until the
    window ends, so `remembered_refusal` can answer the next attempts without the database.
    """
    start, remaining = _window(deps)
    if store.hit(db, key, start) > limit:
        if remember:
            deps.refusals.remember(key, start + deps.settings.rate_limit_window, deps.clock.now())
        raise RateLimited(retry_after=remaining)


def remembered_refusal(deps: Deps, key: str) -> RateLimited | None:
    """The refusal of `key` this process saw in the current window (see `take`), or None."""
    now = deps.clock.now()
    until = deps.refusals.until(key, now)
    return RateLimited(retry_after=until - now) if until is not None else None


@dataclass(frozen=True, slots=True)
class Taken:
    """One attempt counted against several keys at once (`take_all`): each key's count in the
    window, this attempt included."""

    window_start: datetime
    retry_after: timedelta
    counts: Mapping[str, int]

    def over(self, key: str | None, limit: int) -> bool:
        """Whether this attempt is over `limit` for `key` (never for no key)."""
        return key is not None and self.counts[key] > limit

    def refusal(self) -> RateLimited:
        return RateLimited(retry_after=self.retry_after)


def take_all(db: Session, deps: Deps, *keys: str) -> Taken:
    """Count one attempt against every key in one statement (a multi-row upsert); the caller
    decides which limits refuse it.

    Exact under any concurrency as `take` is: each row is counted, and locked until the
    transaction ends, in the order given, so keep the kinds of key in one order everywhere. An
    attempt refused by one key that should not have counted against the others withdraws them
    (`withdraw`) in the same transaction, while it still holds their rows: no other attempt
    ever sees those counts.
    """
    start, remaining = _window(deps)
    return Taken(start, remaining, store.hit_all(db, keys, start))


def withdraw(db: Session, taken: Taken, *keys: str | None) -> None:
    """Undo `taken`'s count of `keys` in its own transaction, as if they were never counted
    (a row that count made goes again, so refused attempts leave no rows behind)."""
    store.forget(db, [key for key in keys if key], taken.window_start)


def give_back_taken(db: Session, taken: Taken, *keys: str | None) -> None:
    """`give_back` of keys counted by `take_all`, in the window they were counted in, in one
    statement (also after a `checkpoint`)."""
    store.unhit(db, [key for key in keys if key], taken.window_start)


def give_back(db: Session, deps: Deps, *keys: str) -> None:
    """Undo one `take` of each key in this window (the attempt succeeded, so it is not a failure);
    one statement however many keys."""
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
