"""Run the mail worker as its own process (`run_worker`, behind `frontdesk mail-worker`) or on a
thread inside the server (`start_worker`)."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from frontdesk.clock import Clock, SystemClock
from frontdesk.db import make_engine, make_sessionmaker
from frontdesk.mail.transports import Transport, transport_from_settings
from frontdesk.mail.worker import DEFAULT_BATCH, DeliveryReport, MailWorker, deliver_pending
from frontdesk.settings import Settings

log = logging.getLogger(__name__)


def drain(
    factory: sessionmaker[Session], transport: Transport, clock: Clock, settings: Settings, *, batch: int
) -> DeliveryReport:
    """Tick until nothing is due (emails set to retry later stay for a later run)."""
    total = DeliveryReport()
    while True:
        report = deliver_pending(factory, transport, clock, settings, batch=batch)
        total += report
        if report.claimed == 0:
            return total


def start_worker(
    settings: Settings,
    factory: sessionmaker[Session],
    *,
    clock: Clock | None = None,
    transport: Transport | None = None,
    poll_interval: timedelta = timedelta(seconds=1),
) -> MailWorker:
    """Start a worker thread inside the server; call `.stop()` on shutdown.

    Raises `ConfigurationError` in production without `FRONTDESK_SMTP_URL`.
    """
    worker = MailWorker(
        factory,
        transport or transport_from_settings(settings),
        clock or SystemClock(),
        settings,
        poll_interval=poll_interval,
    )
    worker.start()
    return worker


def run_worker(
    settings: Settings,
    *,
    once: bool = False,
    batch: int = DEFAULT_BATCH,
    poll_interval: timedelta = timedelta(seconds=1),
) -> DeliveryReport:
    """The `frontdesk mail-worker` command: loop until SIGTERM/SIGINT, or with `once` drain and exit."""
    transport = transport_from_settings(settings)
    engine = make_engine(settings)
    factory = make_sessionmaker(engine)
    try:
        if once:
            return drain(factory, transport, SystemClock(), settings, batch=batch)
        worker = MailWorker(factory, transport, SystemClock(), settings, batch=batch, poll_interval=poll_interval)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda _signo, _frame: worker.request_stop())
        log.info("mail.worker_started", extra={"transport": repr(transport), "batch": batch})
        worker.run()
        return worker.totals
    finally:
        engine.dispose()
