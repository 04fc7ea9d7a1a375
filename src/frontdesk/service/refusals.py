"""Rate-limit refusals this process has seen, until their window ends.

A bucket's count only grows within its window (for the limits that never give back, such as
signups per address), so once the database has refused a key, every attempt on that key refuses
until the window ends. Remembering that lets the web layer answer a flood of refused attempts
without the framework, the body, or a database round trip (issue 12: a signup flood from one
address). Each process keeps its own: the database stays the one place that decides.
"""

from __future__ import annotations

import threading
from datetime import datetime

MAX_KEYS = 10_000  # a flood from many addresses fills it; then the expired go, or all of it


class RefusalMemo:
    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def remember(self, key: str, until: datetime, now: datetime) -> None:
        """`key` is refused until `until` (its window's end)."""
        with self._lock:
            if len(self._until) >= MAX_KEYS:
                self._until = {k: end for k, end in self._until.items() if end > now}
                if len(self._until) >= MAX_KEYS:
                    self._until.clear()
            self._until[key] = until

    def until(self, key: str, now: datetime) -> datetime | None:
        """When `key`'s remembered refusal ends, or None if there is none now."""
        end = self._until.get(key)
        return end if end is not None and end > now else None
