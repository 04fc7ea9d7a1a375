"""The development mailbox and the status numbers, as the edges read them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from frontdesk.clock import FrozenClock
from frontdesk.mail import MemoryTransport, deliver_pending, list_mailbox, outbox_status, purge_outbox
from frontdesk.settings import Settings
from tests.mail.helpers import TOKEN, enqueue


def test_mailbox_lists_newest_first_in_the_json_shape(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    enqueue(factory, settings, clock, kind="signup_confirm", to="old@example.com")
    clock.advance(timedelta(seconds=5))
    enqueue(factory, settings, clock, kind="login_link", to="new@example.com")
    with factory() as db:
        entries = list_mailbox(db)
    assert [e.to for e in entries] == ["new@example.com", "old@example.com"]
    first = entries[0].to_json()
    assert sorted(first) == ["created", "html", "id", "subject", "text", "to"]
    assert first["created"] == "2026-01-01T12:00:05Z"
    assert first["subject"] == "Your frontdesk sign-in link"
    assert TOKEN in str(first["text"]) and TOKEN in str(first["html"])
    assert TOKEN not in repr(entries[0])
    with factory() as db:
        assert len(list_mailbox(db, limit=1)) == 1


def test_status_counts_and_purge(factory: sessionmaker[Session], settings: Settings, clock: FrozenClock) -> None:
    enqueue(factory, settings, clock, count=2)
    clock.advance(timedelta(minutes=3))
    with factory() as db:
        status = outbox_status(db, clock.now())
    assert (status.pending, status.due, status.sent, status.oldest_pending_age) == (2, 2, 0, timedelta(minutes=3))
    deliver_pending(factory, MemoryTransport(), clock, settings)
    clock.advance(timedelta(days=31))
    with factory.begin() as db:
        assert outbox_status(db, clock.now()).sent == 2
        assert purge_outbox(db, now=clock.now()) == 2
        assert outbox_status(db, clock.now()).sent == 0
