"""Races in the service layer: N threads released together, each on its own database connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from frontdesk.clock import FrozenClock
from frontdesk.db import make_engine
from frontdesk.runtime import Frontdesk
from frontdesk.settings import Settings
from tests.reliability.conftest import all_at_once

N = 50

__all__ = ["N", "all_at_once", "racing_frontdesk"]


@contextmanager
def racing_frontdesk(settings: Settings, clock: FrozenClock) -> Iterator[Frontdesk]:
    """A Frontdesk whose pool holds a connection for each of N racers, so none waits for another's."""
    fd = Frontdesk(settings, clock=clock, engine=make_engine(settings, pool_size=N, max_overflow=0))
    try:
        yield fd
    finally:
        fd.close()
