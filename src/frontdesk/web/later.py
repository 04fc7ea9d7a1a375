"""Work done after the response is sent: whatever differs between an account that exists and one
that doesn't (the lookup, the token, the email) must not show in the answer's timing (contract
section 4), so "email me a link" answers 202 first and does the work afterwards.

It runs in this process once the response is out (Starlette background tasks). A crash in
between loses that one request's email: the person sees no email and asks again. A failure is
logged, never shown: the answer was already the same for everyone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.background import BackgroundTask, BackgroundTasks

log = logging.getLogger(__name__)


def _quietly(work: Callable[[], object], event: str) -> None:
    try:
        work()
    except Exception:
        log.exception("after_response.failed", extra={"work": event})


def after_response(work: Callable[[], object], event: str) -> BackgroundTask:
    """A background task for `work`, logging (not raising) whatever goes wrong."""
    return BackgroundTask(_quietly, work, event)


def run_after(tasks: BackgroundTasks, work: Callable[[], object], event: str) -> None:
    """Add `work` to a route's background tasks (FastAPI's `BackgroundTasks` parameter)."""
    tasks.add_task(_quietly, work, event)
