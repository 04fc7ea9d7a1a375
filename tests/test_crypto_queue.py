"""The password hasher sheds load instead of queueing without bound (issue 12 finding 2)."""

from __future__ import annotations

import threading

import pytest

from frontdesk.crypto import Argon2Parameters, PasswordHasher
from frontdesk.errors import Overloaded

CHEAP = Argon2Parameters(time_cost=1, memory_cost_kib=64, parallelism=1)


def test_a_full_hashing_queue_refuses_at_once() -> None:
    hasher = PasswordHasher(CHEAP, max_waiting=2)
    started, release = threading.Event(), threading.Event()
    real = hasher._verify

    def slow(hashed: str, password: str) -> bool:
        started.set()
        release.wait(10)
        return real(hashed, password)

    hasher._verify = slow  # type: ignore[method-assign]
    busy = [threading.Thread(target=hasher.burn, args=("x",)) for _ in range(2)]
    for thread in busy:
        thread.start()
    assert started.wait(5)
    try:
        with pytest.raises(Overloaded):
            hasher.hash("a third one")
    finally:
        release.set()
        for thread in busy:
            thread.join(10)
    assert hasher.verify(hasher.hash("now there is room"), "now there is room")
