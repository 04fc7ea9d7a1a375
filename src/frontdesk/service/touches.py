"""Coalesced `last_seen`/`api_calls` writes.

Every authenticated request counts as a use of its session. Writing a row per request would cap
throughput at the database's update rate, so uses are gathered in memory per process and written
in one batched UPDATE every `touch_flush_interval` (250 ms by default; the contract allows up to
1 s) and on shutdown. Validity never depends on this buffer: revocation, bans and expiry are read
from the database on every request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from frontdesk.availability import DATABASE_OUTAGE, UNAVAILABLE
from frontdesk.db import transaction
from frontdesk.store import sessions as session_store
from frontdesk.store.sessions import Touch

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    last_seen: datetime
    calls: int


class TouchBuffer:
    """Thread-safe map of session id → (newest use, calls since the last write)."""

    def __init__(self) -> None:
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()

    def record(self, session_id: int, when: datetime, calls: int = 1) -> None:
        with self._lock:
            entry = self._pending.get(session_id)
            if entry is None:
                self._pending[session_id] = _Pending(when, calls)
            else:
                entry.last_seen = max(entry.last_seen, when)
                entry.calls += calls

    def drain(self) -> list[Touch]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return [Touch(sid, p.last_seen, p.calls) for sid, p in pending.items()]

    def restore(self, touches: list[Touch]) -> None:
        """Put back touches whose write failed, so they are retried rather than lost."""
        for touch in touches:
            self.record(touch.session_id, touch.last_seen, touch.calls)

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self, factory: sessionmaker[Session]) -> int:
        """Write everything pending in one transaction; returns the number of sessions written."""
        touches = self.drain()
        if not touches:
            return 0
        try:
            with transaction(factory) as db:
                session_store.apply_touches(db, touches)
        except Exception:
            self.restore(touches)
            raise
        return len(touches)


class TouchFlusher:
    """A daemon thread that flushes a TouchBuffer on an interval, and once more when stopped."""

    def __init__(self, flush: Callable[[], int], interval_seconds: float) -> None:
        self._flush = flush
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="frontdesk-touch-flusher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._flush_logged()

    def _flush_logged(self) -> None:
        try:
            written = self._flush()
        except UNAVAILABLE as exc:  # kept in the buffer for the next flush; the outage is logged once
            DATABASE_OUTAGE.failed(exc, "session touches")
        except Exception:
            log.warning("touch.flush_failed", exc_info=True)
        else:
            if written:
                DATABASE_OUTAGE.recovered()

    def stop(self) -> None:
        """Stop the thread and write what is pending (graceful shutdown loses no touch)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._flush_logged()
