"""The collaborators every use case receives explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from frontdesk.clock import Clock, SystemClock
from frontdesk.crypto import Argon2Parameters, PasswordHasher
from frontdesk.service.refusals import RefusalMemo
from frontdesk.service.touches import TouchBuffer
from frontdesk.settings import Settings


@dataclass(frozen=True)
class Deps:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    touches: TouchBuffer = field(default_factory=TouchBuffer)
    refusals: RefusalMemo = field(default_factory=RefusalMemo)  # this process's, per Frontdesk

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Deps:
        params = Argon2Parameters(
            time_cost=settings.argon2_time_cost,
            memory_cost_kib=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
        )
        hasher = PasswordHasher(params, max_waiting=settings.hash_queue_limit)
        return cls(settings=settings, clock=clock or SystemClock(), hasher=hasher)
