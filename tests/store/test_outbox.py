"""Outbox queries on both databases: claiming, leases, fencing, counts, listing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from frontdesk.clock import FrozenClock
from frontdesk.db import is_sqlite
from frontdesk.store import outbox

LEASE = timedelta(minutes=10)


def add(factory: sessionmaker[Session], clock: FrozenClock, n: int = 1, kind: str = "login_link") -> list[int]:
    with factory.begin() as db:
        rows = [
            outbox.add(db, now=clock.now(), kind=kind, to=f"u{i}@example.com", subject=f"s{i}", text="t", html="h")
            for i in range(n)
        ]
        return [row.id for row in rows]


def test_added_email_is_pending_and_due_at_once(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    [email_id] = add(factory, clock)
    with factory() as db:
        row = outbox.get(db, email_id)
        assert row is not None
        assert (row.status, row.attempts, row.next_attempt_at, row.created) == ("pending", 0, clock.now(), clock.now())


def test_claim_takes_due_rows_oldest_first_and_leases_them(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    first = add(factory, clock, 2)
    clock.advance(timedelta(seconds=1))
    later = add(factory, clock, 2)
    with factory.begin() as db:
        claimed = outbox.claim_due(db, clock.now(), limit=3, lease=LEASE)
        assert [r.id for r in claimed] == [*first, later[0]]
        assert all(r.attempts == 1 and r.next_attempt_at == clock.now() + LEASE for r in claimed)
    with factory.begin() as db:  # leased rows are not due; the 4th is
        assert [r.id for r in outbox.claim_due(db, clock.now(), limit=10, lease=LEASE)] == [later[1]]
    clock.advance(LEASE)
    with factory.begin() as db:  # leases ran out: the sender died, so they are due again
        again = outbox.claim_due(db, clock.now(), limit=10, lease=LEASE)
        assert [r.id for r in again] == [*first, *later]
        assert [r.attempts for r in again] == [2, 2, 2, 2]


def test_outcomes_are_fenced_by_the_attempt_count(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    [email_id] = add(factory, clock)
    with factory.begin() as db:
        outbox.claim_due(db, clock.now(), limit=1, lease=LEASE)
    clock.advance(LEASE)
    with factory.begin() as db:
        outbox.claim_due(db, clock.now(), limit=1, lease=LEASE)  # another sender takes over: attempts=2
    with factory.begin() as db:
        assert outbox.mark_sent(db, email_id, 1, clock.now()) is False  # the first sender's late result
        assert outbox.mark_sent(db, email_id, 2, clock.now(), blank=("gone", "<p>gone</p>")) is True
        assert outbox.mark_sent(db, email_id, 2, clock.now()) is False  # not pending any more
    with factory() as db:
        row = outbox.get(db, email_id)
        assert row is not None
        assert (row.status, row.sent_at, row.text_body, row.html_body) == ("sent", clock.now(), "gone", "<p>gone</p>")


def test_retry_failed_and_release(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    a, b, c = add(factory, clock, 3)
    with factory.begin() as db:
        outbox.claim_due(db, clock.now(), limit=3, lease=LEASE)
        later = clock.now() + timedelta(seconds=30)
        assert outbox.mark_retry(db, a, 1, at=later, error="451 busy " * 100)
        assert outbox.mark_failed(db, b, 1, error="550 no such user", blank=("x", "y"))
        assert outbox.release(db, c, 1, clock.now())
    with factory() as db:
        ra, rb, rc = (outbox.get(db, i) for i in (a, b, c))
        assert ra is not None and rb is not None and rc is not None
        assert (ra.status, ra.next_attempt_at, ra.attempts) == ("pending", later, 1)
        assert ra.last_error is not None and len(ra.last_error) == 500
        assert (rb.status, rb.last_error, rb.text_body, rb.next_attempt_at) == ("failed", "550 no such user", "x", None)
        assert (rc.status, rc.attempts, rc.next_attempt_at) == ("pending", 0, clock.now())
    with factory.begin() as db:
        assert [r.id for r in outbox.claim_due(db, clock.now(), limit=9, lease=LEASE)] == [c]


def test_counts_and_oldest_pending_age(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    with factory() as db:
        empty = outbox.counts(db, clock.now())
    assert (empty.pending, empty.sent, empty.failed, empty.due, empty.oldest_pending_age) == (0, 0, 0, 0, None)
    a, b, _c, _d = add(factory, clock, 4)
    clock.advance(timedelta(minutes=5))
    with factory.begin() as db:
        outbox.claim_due(db, clock.now(), limit=3, lease=LEASE)
        outbox.mark_sent(db, a, 1, clock.now())
        outbox.mark_failed(db, b, 1, error="550")
    with factory() as db:
        counts = outbox.counts(db, clock.now())
    assert (counts.pending, counts.sent, counts.failed, counts.due) == (2, 1, 1, 1)
    assert counts.oldest_pending_age == timedelta(minutes=5)


def test_list_recent_is_newest_first(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    ids = []
    for _ in range(3):
        ids += add(factory, clock)
        clock.advance(timedelta(seconds=1))
    with factory() as db:
        assert [r.id for r in outbox.list_recent(db, limit=2)] == [ids[2], ids[1]]


def test_purge_keeps_pending_and_recent(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    old_sent, old_pending = add(factory, clock, 2)
    with factory.begin() as db:
        outbox.claim_due(db, clock.now(), limit=1, lease=LEASE)
        outbox.mark_sent(db, old_sent, 1, clock.now())
    clock.advance(timedelta(days=31))
    [new] = add(factory, clock)
    with factory.begin() as db:
        assert outbox.purge(db, before=clock.now() - timedelta(days=30)) == 1
    with factory() as db:
        assert {r.id for r in outbox.list_recent(db)} == {old_pending, new}


def test_concurrent_claims_skip_locked_rows(engine: Engine, factory: sessionmaker[Session], clock: FrozenClock) -> None:
    """PostgreSQL: a second sender neither waits for nor takes the rows the first one holds."""
    if is_sqlite(engine):
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE); one sender is enough there")
    add(factory, clock, 5)
    with factory.begin() as first, factory.begin() as second:
        mine = {r.id for r in outbox.claim_due(first, clock.now(), limit=3, lease=LEASE)}
        theirs = {r.id for r in outbox.claim_due(second, clock.now(), limit=3, lease=LEASE)}
        assert len(mine) == 3 and len(theirs) == 2 and not mine & theirs
