"""Work done after the response is sent: whatever differs between an account that exists and one
that doesn't (the lookup, the token, the email) must not show in the answer's timing (contract
section 4), so "email me a link" answers 202 first and does the work afterwards.

It runs in this process once the response is out (Starlette background tasks). A crash in
between loses that one request's email: the person sees no email and asks again. A failure is
logged, never shown: the answer was already the same for everyone. The API routes first check that
the database answers (`require_database`: 503 during an outage, as every other route answers), and
work that meets an outage anyway is retried for a while (the outage is logged once, not per try).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask, BackgroundTasks

from frontdesk.availability import DATABASE_OUTAGE, UNAVAILABLE
from frontdesk.runtime import Frontdesk
from frontdesk.service.deps import Deps

log = logging.getLogger(__name__)

RETRY_FOR = 30.0  # seconds an accepted request's work keeps retrying while the database is down
_FIRST_DELAY, _MAX_DELAY = 0.25, 4.0


def _quietly(work: Callable[[], object], event: str) -> None:
    deadline = time.monotonic() + RETRY_FOR
    delay = _FIRST_DELAY
    while True:
        try:
            work()  # one transaction: rolled back on failure, so a retry starts clean
        except UNAVAILABLE as exc:
            DATABASE_OUTAGE.failed(exc, f"after the response: {event}")
            if time.monotonic() + delay > deadline:
                log.warning("after_response.gave_up", extra={"work": event, "seconds": RETRY_FOR})
                return
            time.sleep(delay)
            delay = min(delay * 2, _MAX_DELAY)
            continue
        except Exception:
            log.exception("after_response.failed", extra={"work": event})
        return


def _select_one(db: Session, _: Deps) -> None:
    db.execute(text("SELECT 1"))


def require_database(fd: Frontdesk) -> None:
    """One round trip, the same whoever asks (so timing still tells nothing): while the database is
    down this raises its error, which answers 503, instead of accepting work that can't be done."""
    fd.read(_select_one)


def after_response(work: Callable[[], object], event: str) -> BackgroundTask:
    """A background task for `work`, logging (not raising) whatever goes wrong."""
    return BackgroundTask(_quietly, work, event)


def run_after(tasks: BackgroundTasks, work: Callable[[], object], event: str) -> None:
    """Add `work` to a route's background tasks (FastAPI's `BackgroundTasks` parameter)."""
    tasks.add_task(_quietly, work, event)
