"""Drain the outbox: claim due emails, send them outside any transaction, record each outcome.

Delivery is at least once: a sender that dies between the SMTP server's "250 OK" and recording
it sends that email again when its lease runs out (the Message-ID stays the same, so
downstream can tell). Everything else is exactly once.

Retry schedule for temporary failures (see `RetryPolicy`): 30 s after the 1st failed attempt,
then 1, 2, 4, 8, 16, 32 min, then every hour, each ±20 % (jitter spreads a backlog out), and
given up ("failed", with the reason) after the 10th attempt, about 3 h after the first.
Permanent failures (5xx for the recipient or message, unusable address) fail at once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from frontdesk.clock import Clock
from frontdesk.db import transaction
from frontdesk.mail.message import Outgoing, build_message, delivered_note, failed_note
from frontdesk.mail.render import SECRET_KINDS
from frontdesk.mail.transports import (
    PermanentDeliveryError,
    TemporaryDeliveryError,
    Transport,
    TransportUnavailable,
    redact,
)
from frontdesk.settings import Settings
from frontdesk.store import outbox

log = logging.getLogger(__name__)

DEFAULT_BATCH = 50
# How long a claim keeps other senders off a row. Far above one batch's worst case
# (the worker hands back what it has not tried once half of it is spent).
DEFAULT_LEASE = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: `base * 2**(n-1)`, capped, then ±`jitter`."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    jitter: float = 0.2
    max_attempts: int = 10

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """The wait after the `attempts`-th failed attempt (1-based)."""
        raw: timedelta = min(self.base * (2 ** max(attempts - 1, 0)), self.cap)
        factor: float = rng.uniform(1 - self.jitter, 1 + self.jitter)
        return raw * factor


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one tick did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    lost: int = 0  # outcomes not recorded because another sender took over the lease

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(*(a + b for a, b in zip(self._tuple(), other._tuple(), strict=True)))

    def _tuple(self) -> tuple[int, ...]:
        return (self.claimed, self.sent, self.retried, self.failed, self.released, self.lost)


@dataclass(slots=True)
class _Tally:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)


def deliver_pending(
    factory: sessionmaker[Session],
    transport: Transport,
    clock: Clock,
    settings: Settings,
    *,
    batch: int = DEFAULT_BATCH,
    policy: RetryPolicy | None = None,
    lease: timedelta = DEFAULT_LEASE,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """One tick: claim up to `batch` due emails and try each once. Never raises a delivery error."""
    policy = policy or RetryPolicy()
    rng = rng or random.Random()  # jitter, not a secret
    with transaction(factory) as db:
        claimed = [Outgoing.of(row) for row in outbox.claim_due(db, clock.now(), limit=batch, lease=lease)]
    if not claimed:
        return DeliveryReport()
    tally = _Tally()
    budget = time.monotonic() + lease.total_seconds() / 2
    unavailable: TransportUnavailable | None = None
    try:
        for email in claimed:
            if unavailable is not None:
                _retry(factory, clock, email, unavailable, policy, rng, tally)
            elif time.monotonic() > budget:
                with transaction(factory) as db:
                    _count(tally, "released", outbox.release(db, email.id, email.attempts, clock.now()))
            else:
                unavailable = _send_one(factory, transport, clock, settings, email, policy, rng, tally)
    finally:
        transport.close()
    return DeliveryReport(len(claimed), tally.sent, tally.retried, tally.failed, tally.released, tally.lost)


def _send_one(
    factory: sessionmaker[Session],
    transport: Transport,
    clock: Clock,
    settings: Settings,
    email: Outgoing,
    policy: RetryPolicy,
    rng: random.Random,
    tally: _Tally,
) -> TransportUnavailable | None:
    """Send one email and record the outcome; returns the error if the server is unusable."""
    try:
        transport.send(build_message(email, settings, clock.now()))
    except PermanentDeliveryError as exc:
        _fail(factory, email, exc.reason, tally)
    except TransportUnavailable as exc:
        _retry(factory, clock, email, exc, policy, rng, tally)
        return exc
    except TemporaryDeliveryError as exc:
        _retry(factory, clock, email, exc, policy, rng, tally)
    except Exception as exc:  # a bug must not stop the worker; the row retries, then fails
        log.exception("mail.send_crashed", extra={"email_id": email.id, "kind": email.kind})
        _retry(
            factory, clock, email, TemporaryDeliveryError(f"internal error: {type(exc).__name__}"), policy, rng, tally
        )
    else:
        now = clock.now()
        blank = delivered_note(now) if transport.delivers and email.kind in SECRET_KINDS else None
        with transaction(factory) as db:
            recorded = outbox.mark_sent(db, email.id, email.attempts, now, blank=blank)
        _count(tally, "sent", recorded)
        log.info("mail.sent", extra={"email_id": email.id, "kind": email.kind, "attempts": email.attempts})
    return None


def _retry(
    factory: sessionmaker[Session],
    clock: Clock,
    email: Outgoing,
    exc: TemporaryDeliveryError,
    policy: RetryPolicy,
    rng: random.Random,
    tally: _Tally,
) -> None:
    if email.attempts >= policy.max_attempts:
        _fail(factory, email, f"gave up after {email.attempts} attempts: {exc.reason}", tally)
        return
    at: datetime = clock.now() + policy.delay(email.attempts, rng)
    with transaction(factory) as db:
        _count(tally, "retried", outbox.mark_retry(db, email.id, email.attempts, at=at, error=exc.reason))
    log.warning(
        "mail.retry",
        extra={
            "email_id": email.id,
            "kind": email.kind,
            "attempts": email.attempts,
            "retry_at": at.isoformat(),
            "reason": redact(exc.reason),
        },
    )


def _fail(factory: sessionmaker[Session], email: Outgoing, reason: str, tally: _Tally) -> None:
    blank = failed_note() if email.kind in SECRET_KINDS else None
    with transaction(factory) as db:
        _count(tally, "failed", outbox.mark_failed(db, email.id, email.attempts, error=reason, blank=blank))
    log.error(
        "mail.failed",
        extra={"email_id": email.id, "kind": email.kind, "attempts": email.attempts, "reason": redact(reason)},
    )


def _count(tally: _Tally, outcome: str, recorded: bool) -> None:
    if recorded:
        setattr(tally, outcome, getattr(tally, outcome) + 1)
    else:
        tally.lost += 1
        log.warning("mail.lease_lost", extra={"outcome": outcome})


class MailWorker:
    """Runs `deliver_pending` in a loop on its own thread (in the server) or the caller's (a process).

    Drains back-to-back while there is a backlog, else waits `poll_interval` or until `wake()`.
    A failing database only slows it down (backoff up to 30 s); `stop()` ends it between ticks.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        transport: Transport,
        clock: Clock,
        settings: Settings,
        *,
        batch: int = DEFAULT_BATCH,
        poll_interval: timedelta = timedelta(seconds=1),
        policy: RetryPolicy | None = None,
    ) -> None:
        self._args = (factory, transport, clock, settings)
        self._batch = batch
        self._poll = poll_interval.total_seconds()
        self._policy = policy or RetryPolicy()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.totals = DeliveryReport()

    def start(self) -> None:
        """Run on a daemon thread (inside the server)."""
        if self._thread is not None:
            raise RuntimeError("mail worker already started")
        self._thread = threading.Thread(target=self.run, name="frontdesk-mail-worker", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Loop on the calling thread until `stop()` (or `request_stop()` from a signal handler)."""
        failures = 0
        while not self._stopping.is_set():
            try:
                report = deliver_pending(*self._args, batch=self._batch, policy=self._policy)
            except Exception:
                failures += 1
                log.exception("mail.tick_failed", extra={"failures": failures})
                self._pause(min(self._poll * 2 ** min(failures, 10), 30.0))
                continue
            failures = 0
            self.totals += report
            if report.claimed < self._batch:
                self._pause(self._poll)

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def wake(self) -> None:
        """Look at the outbox now instead of at the next poll."""
        self._wake.set()

    def request_stop(self) -> None:
        """Ask the loop to end after the current tick (safe from a signal handler)."""
        self._stopping.set()
        self._wake.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """End the loop and wait for the current tick to finish."""
        self.request_stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> MailWorker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
