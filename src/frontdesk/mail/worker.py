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
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from frontdesk.availability import DATABASE_OUTAGE, UNAVAILABLE, Outage
from frontdesk.clock import Clock
from frontdesk.db import transaction
from frontdesk.mail.kinds import carries_secret
from frontdesk.mail.message import Outgoing, build_message, delivered_note, failed_note
from frontdesk.mail.transports import (
    PermanentDeliveryError,
    TemporaryDeliveryError,
    Transport,
    TransportUnavailable,
    redact,
)
from frontdesk.metrics import EMAILS
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


# Outcomes are written together at most this often (and at the end of each batch): far fewer
# commits under a backlog, while a crash re-sends at most this much of a batch.
RECORD_EVERY = 0.5  # seconds


@dataclass(frozen=True, slots=True)
class _Outcome:
    email: Outgoing
    status: str  # "sent", "retried", "failed" or "released"
    at: datetime  # sent at / due again at / released at
    error: str = ""
    blank: tuple[str, str] | None = None


class _Tick:
    """One tick's bookkeeping: decides each email's outcome and writes outcomes in groups."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock, policy: RetryPolicy, rng: random.Random) -> None:
        self.factory, self.clock, self.policy, self.rng = factory, clock, policy, rng
        self.outcomes: list[_Outcome] = []
        self.counts = dict.fromkeys(("sent", "retried", "failed", "released", "lost"), 0)
        self._flushed_at = time.monotonic()

    def sent(self, email: Outgoing, *, delivers: bool) -> None:
        now = self.clock.now()
        blank = delivered_note(now) if delivers and carries_secret(email.kind) else None
        self.outcomes.append(_Outcome(email, "sent", now, blank=blank))
        log.info("mail.sent", extra={"email_id": email.id, "kind": email.kind, "attempts": email.attempts})

    def retry(self, email: Outgoing, exc: TemporaryDeliveryError) -> None:
        if email.attempts >= self.policy.max_attempts:
            self.fail(email, f"gave up after {email.attempts} attempts: {exc.reason}")
            return
        at = self.clock.now() + self.policy.delay(email.attempts, self.rng)
        self.outcomes.append(_Outcome(email, "retried", at, error=exc.reason))
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

    def fail(self, email: Outgoing, reason: str) -> None:
        blank = failed_note() if carries_secret(email.kind) else None
        self.outcomes.append(_Outcome(email, "failed", self.clock.now(), error=reason, blank=blank))
        log.error(
            "mail.failed",
            extra={"email_id": email.id, "kind": email.kind, "attempts": email.attempts, "reason": redact(reason)},
        )

    def release(self, email: Outgoing) -> None:
        self.outcomes.append(_Outcome(email, "released", self.clock.now()))

    def maybe_flush(self) -> None:
        if time.monotonic() - self._flushed_at >= RECORD_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write the outcomes so far in one transaction (each fenced by its attempt count)."""
        if self.outcomes:
            with transaction(self.factory) as db:
                for outcome in self.outcomes:
                    status = outcome.status if _apply(db, outcome) else "lost"
                    self.counts[status] += 1
                    if status == "lost":
                        log.warning("mail.lease_lost", extra={"email_id": outcome.email.id})
            self.outcomes.clear()
        self._flushed_at = time.monotonic()


def _apply(db: Session, o: _Outcome) -> bool:
    e = o.email
    if o.status == "sent":
        return outbox.mark_sent(db, e.id, e.attempts, o.at, blank=o.blank)
    if o.status == "retried":
        return outbox.mark_retry(db, e.id, e.attempts, at=o.at, error=o.error)
    if o.status == "failed":
        return outbox.mark_failed(db, e.id, e.attempts, error=o.error, blank=o.blank)
    return outbox.release(db, e.id, e.attempts, o.at)


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
    with transaction(factory) as db:
        claimed = [Outgoing.of(row) for row in outbox.claim_due(db, clock.now(), limit=batch, lease=lease)]
    if not claimed:
        return DeliveryReport()
    tick = _Tick(factory, clock, policy or RetryPolicy(), rng or random.Random())  # jitter, not a secret
    budget = time.monotonic() + lease.total_seconds() / 2
    unavailable: TransportUnavailable | None = None
    try:
        for email in claimed:
            if unavailable is not None:
                tick.retry(email, unavailable)
            elif time.monotonic() > budget:
                tick.release(email)
            else:
                unavailable = _send_one(transport, settings, email, tick)
            tick.maybe_flush()
    finally:
        transport.close()
        tick.flush()
    c = tick.counts
    for outcome in ("sent", "retried", "failed"):
        if c[outcome]:
            EMAILS.labels(outcome).inc(c[outcome])
    return DeliveryReport(len(claimed), c["sent"], c["retried"], c["failed"], c["released"], c["lost"])


def _send_one(transport: Transport, settings: Settings, email: Outgoing, tick: _Tick) -> TransportUnavailable | None:
    """Send one email and note the outcome; returns the error if the server is unusable."""
    try:
        transport.send(build_message(email, settings, tick.clock.now()))
    except PermanentDeliveryError as exc:
        tick.fail(email, exc.reason)
    except TransportUnavailable as exc:
        tick.retry(email, exc)
        return exc
    except TemporaryDeliveryError as exc:
        tick.retry(email, exc)
    except Exception as exc:  # a bug must not stop the worker; the row retries, then fails
        log.exception("mail.send_crashed", extra={"email_id": email.id, "kind": email.kind})
        tick.retry(email, TemporaryDeliveryError(f"internal error: {type(exc).__name__}"))
    else:
        tick.sent(email, delivers=transport.delivers)
    return None


class MailWorker:
    """Runs `deliver_pending` in a loop on its own thread (in the server) or the caller's (a process).

    Drains back-to-back while there is a backlog, else waits `poll_interval` or until `wake()`.
    A failing database only slows it down (backoff up to 30 s) and is reported through `outage`
    (once when it starts, a summary while it lasts, its end); `stop()` ends it between ticks.
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
        outage: Outage = DATABASE_OUTAGE,
    ) -> None:
        self._args = (factory, transport, clock, settings)
        self._outage = outage
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
            except UNAVAILABLE as exc:
                failures += 1
                self._outage.failed(exc, "mail worker")
                self._pause(min(self._poll * 2 ** min(failures, 10), 30.0))
                continue
            except Exception:  # a bug: say where, in full
                failures += 1
                log.exception("mail.tick_failed", extra={"failures": failures})
                self._pause(min(self._poll * 2 ** min(failures, 10), 30.0))
                continue
            failures = 0
            self._outage.recovered()
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
