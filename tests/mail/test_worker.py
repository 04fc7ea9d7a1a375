"""The worker against a real SMTP server on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import random
import time
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from frontdesk.availability import Outage
from frontdesk.clock import FrozenClock
from frontdesk.mail import (
    KINDS,
    ConsoleTransport,
    DeliveryReport,
    MailWorker,
    MemoryTransport,
    RetryPolicy,
    SmtpTransport,
    deliver_pending,
)
from frontdesk.settings import Settings
from frontdesk.store import outbox
from tests.mail.conftest import SmtpServer
from tests.mail.helpers import API_KEY, TOKEN, context, enqueue, rows
from tests.waiting import wait_until

NOMINAL = [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]  # seconds after failed attempts 1..9


def parts(message: EmailMessage) -> tuple[str, str]:
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    return plain.get_content(), html.get_content()


def test_every_kind_arrives_complete_then_its_secret_is_blanked(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock, smtp_server: SmtpServer
) -> None:
    for kind in sorted(KINDS):
        enqueue(factory, settings, clock, kind=kind, to=f"{kind}@example.com")
    report = deliver_pending(factory, SmtpTransport(smtp_server.url()), clock, settings)
    assert report == DeliveryReport(claimed=len(KINDS), sent=len(KINDS))
    received = {m["To"]: m for m in smtp_server.messages()}
    assert sorted(received) == sorted(f"{kind}@example.com" for kind in KINDS)
    for kind in KINDS:
        message = received[f"{kind}@example.com"]
        assert message.get_content_type() == "multipart/alternative"
        assert message["From"] == settings.mail_from
        assert settings.product_name in message["Subject"]
        assert message["X-Frontdesk-Kind"] == kind
        text, html = parts(message)
        for value in context(settings, kind).values():
            assert value in text
            assert value.replace("&", "&amp;") in html
    by_kind = {row.kind: row for row in rows(factory)}
    for kind, row in by_kind.items():
        assert (row.status, row.attempts, row.sent_at) == ("sent", 1, clock.now())
        if KINDS[kind].carries_secret:
            assert row.text_body.startswith("Delivered at") and TOKEN not in row.html_body
            assert API_KEY not in row.text_body
        else:  # a notice with no secret stays readable
            assert all(value in row.text_body for value in context(settings, kind).values())
    assert deliver_pending(factory, SmtpTransport(smtp_server.url()), clock, settings).claimed == 0


def test_outage_then_recovery_delivers_each_email_exactly_once(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock, smtp_down: SmtpServer
) -> None:
    enqueue(factory, settings, clock, to="ann@example.com", count=5)
    transport = SmtpTransport(smtp_down.url())
    rng = random.Random(7)

    def tick() -> DeliveryReport:
        return deliver_pending(factory, transport, clock, settings, rng=rng)

    assert tick() == DeliveryReport(claimed=5, retried=5)
    for attempt, nominal in ((1, 30), (2, 60)):
        waits = [(row.next_attempt_at - clock.now()).total_seconds() for row in rows(factory) if row.next_attempt_at]
        assert all(nominal * 0.8 <= w <= nominal * 1.2 for w in waits), waits
        assert all(r.attempts == attempt and "cannot connect" in (r.last_error or "") for r in rows(factory))
        clock.advance(timedelta(seconds=min(waits) - 1))
        assert tick().claimed == 0  # nothing is due before its time
        clock.advance(timedelta(seconds=max(waits) - min(waits) + 1))
        if attempt == 1:
            assert tick() == DeliveryReport(claimed=5, retried=5)
    smtp_down.start()
    assert tick() == DeliveryReport(claimed=5, sent=5)
    clock.advance(timedelta(hours=2))
    assert tick().claimed == 0
    received = smtp_down.messages()
    assert sorted(m["To"] for m in received) == [f"ann+{n}@example.com" for n in range(5)]
    assert len({m["Message-ID"] for m in received}) == 5
    assert all(row.status == "sent" and row.attempts == 3 and row.last_error is None for row in rows(factory))


def test_temporary_failures_follow_the_schedule_then_give_up(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock, smtp_server: SmtpServer
) -> None:
    enqueue(factory, settings, clock, to="busy@example.com")
    transport = SmtpTransport(smtp_server.url())
    waits = []
    for _ in range(10):
        report = deliver_pending(factory, transport, clock, settings)
        [row] = rows(factory)
        if row.status == "failed":
            break
        assert report.retried == 1
        assert row.next_attempt_at is not None
        waits.append((row.next_attempt_at - clock.now()).total_seconds())
        clock.set(row.next_attempt_at)
    assert len(waits) == len(NOMINAL)
    for wait, nominal in zip(waits, NOMINAL, strict=True):
        assert nominal * 0.8 <= wait <= nominal * 1.2
    [row] = rows(factory)
    assert (row.status, row.attempts) == ("failed", 10)
    assert row.last_error is not None and row.last_error.startswith("gave up after 10 attempts: recipient refused: 451")
    assert TOKEN not in row.text_body + row.html_body
    assert smtp_server.messages() == []


def test_permanent_failure_fails_at_once_and_the_batch_goes_on(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock, smtp_server: SmtpServer
) -> None:
    enqueue(factory, settings, clock, to="bounce@example.com")
    enqueue(factory, settings, clock, to="ann@example.com")
    report = deliver_pending(factory, SmtpTransport(smtp_server.url()), clock, settings)
    assert report == DeliveryReport(claimed=2, sent=1, failed=1)
    bounced, sent = rows(factory)
    assert (bounced.status, bounced.attempts) == ("failed", 1)
    assert bounced.last_error == "recipient refused: 550 5.1.1 No such user here"
    assert TOKEN not in bounced.text_body
    assert sent.status == "sent"


def test_retry_policy_delays() -> None:
    policy = RetryPolicy()
    rng = random.Random(1)
    for attempts, nominal in enumerate([*NOMINAL, 3600, 3600], start=1):
        for _ in range(20):
            assert nominal * 0.8 <= policy.delay(attempts, rng).total_seconds() <= nominal * 1.2
    assert RetryPolicy(jitter=0).delay(3, rng) == timedelta(minutes=2)


def test_dev_console_keeps_the_email_for_the_mailbox_and_logs_no_token(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    enqueue(factory, settings, clock, kind="api_key_created", to="ann@example.com")
    with caplog.at_level(logging.DEBUG):
        assert deliver_pending(factory, ConsoleTransport(), clock, settings).sent == 1
    [row] = rows(factory)
    assert row.status == "sent" and API_KEY in row.text_body  # /dev/mail still shows it
    assert "A new API key" in caplog.text
    assert TOKEN not in caplog.text and "ann@example.com" not in caplog.text


def test_email_of_a_dead_sender_is_sent_after_its_lease(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    enqueue(factory, settings, clock)
    with factory.begin() as db:  # a sender claims, then dies before sending
        outbox.claim_due(db, clock.now(), limit=10, lease=timedelta(minutes=10))
    transport = MemoryTransport()
    assert deliver_pending(factory, transport, clock, settings).claimed == 0
    clock.advance(timedelta(minutes=10))
    assert deliver_pending(factory, transport, clock, settings) == DeliveryReport(claimed=1, sent=1)
    assert len(transport.messages) == 1 and rows(factory)[0].attempts == 2


def test_unsent_rest_of_batch_is_handed_back_when_the_lease_runs_short(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    enqueue(factory, settings, clock, count=3)
    transport = MemoryTransport()
    report = deliver_pending(factory, transport, clock, settings, lease=-timedelta(microseconds=1))
    assert report == DeliveryReport(claimed=3, released=3)
    assert transport.messages == [] and [r.attempts for r in rows(factory)] == [0, 0, 0]


class ExplodingTransport(MemoryTransport):
    def send(self, message: EmailMessage) -> None:
        raise RuntimeError("bug in a transport")


def test_a_crashing_transport_only_delays_the_email(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    enqueue(factory, settings, clock)
    with caplog.at_level(logging.ERROR):
        assert deliver_pending(factory, ExplodingTransport(), clock, settings).retried == 1
    assert "mail.send_crashed" in caplog.text
    assert rows(factory)[0].last_error == "internal error: RuntimeError"


def test_worker_thread_sends_and_stops(factory: sessionmaker[Session], settings: Settings, clock: FrozenClock) -> None:
    transport = MemoryTransport()
    worker = MailWorker(factory, transport, clock, settings, poll_interval=timedelta(seconds=30))
    with worker:
        enqueue(factory, settings, clock, count=3)
        worker.wake()
        assert wait_until(lambda: len(transport.messages) == 3, 5)
        started = time.monotonic()
    assert time.monotonic() - started < 5  # stop does not wait out the 30 s poll
    assert worker.totals.sent == 3
    assert worker._thread is not None and not worker._thread.is_alive()


def test_worker_survives_a_broken_database(clock: FrozenClock, caplog: pytest.LogCaptureFixture) -> None:
    broken = sessionmaker(create_engine("sqlite:////nonexistent-dir/frontdesk.db"))
    outage = Outage(every=3600)
    worker = MailWorker(
        broken, MemoryTransport(), clock, Settings(), poll_interval=timedelta(milliseconds=5), outage=outage
    )
    with caplog.at_level(logging.ERROR), worker:
        assert wait_until(lambda: outage.failures >= 3, 5)
    assert worker._thread is not None and not worker._thread.is_alive()
    # the outage is said once, without a traceback, not once per failed tick
    assert caplog.text.count("database unavailable (mail worker)") == 1 and "Traceback" not in caplog.text
    broken.kw["bind"].dispose()
