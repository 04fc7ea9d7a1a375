"""enqueue_email: a row in the caller's transaction, or nothing at all."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from frontdesk.clock import FrozenClock
from frontdesk.mail import MemoryTransport, deliver_pending, enqueue_email
from frontdesk.settings import Settings
from tests.mail.helpers import TOKEN, context, enqueue, rows


def test_enqueued_email_waits_in_the_outbox(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    enqueue(factory, settings, clock, kind="password_reset", to="ann@example.com")
    [row] = rows(factory)
    assert (row.kind, row.to_address, row.status, row.attempts) == ("password_reset", "ann@example.com", "pending", 0)
    assert row.created == clock.now() == row.next_attempt_at
    assert row.subject == "Reset your frontdesk password"
    assert f"{settings.public_url}/reset-password?token={TOKEN}" in row.text_body
    assert TOKEN not in repr(row)


def test_rollback_after_enqueue_sends_nothing(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    with pytest.raises(RuntimeError), factory.begin() as db:
        enqueue_email(
            db, settings, clock.now(), kind="login_link", to="ann@example.com", context=context(settings, "login_link")
        )
        raise RuntimeError("the action failed after queueing its email")
    transport = MemoryTransport()
    assert deliver_pending(factory, transport, clock, settings).claimed == 0
    assert transport.messages == []
    assert rows(factory) == []


def test_enqueue_never_commits(factory: sessionmaker[Session], settings: Settings, clock: FrozenClock) -> None:
    with factory() as db:
        enqueue_email(
            db, settings, clock.now(), kind="login_link", to="ann@example.com", context=context(settings, "login_link")
        )
        db.rollback()
    assert rows(factory) == []


@pytest.mark.parametrize(
    ("kind", "to", "message"),
    [
        ("newsletter", "ann@example.com", "unknown email kind"),
        ("login_link", "ann@example.com\r\nBcc: x@example.com", "plain email address"),
        ("login_link", "", "plain email address"),
    ],
)
def test_bad_requests_raise_and_add_nothing(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock, kind: str, to: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message), factory.begin() as db:
        enqueue_email(db, settings, clock.now(), kind=kind, to=to, context=context(settings, "login_link"))
    assert rows(factory) == []
