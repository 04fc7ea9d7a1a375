"""The rate-limit counters themselves (`service/ratelimit.py`): fixed windows aligned to the
window size, counted in the database, exact at each limit, with the Retry-After of the window."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from frontdesk.clock import FrozenClock
from frontdesk.errors import RateLimited
from frontdesk.runtime import Frontdesk
from frontdesk.service import ratelimit

KEY = "test:bucket"
WINDOW = timedelta(minutes=15)  # the default FRONTDESK_RATE_LIMIT_WINDOW


def test_bucket_keys_hash_their_subject() -> None:
    key = ratelimit.subject_key("login:name", "alice@example.com")
    assert key == "login:name:" + hashlib.sha256(b"alice@example.com").hexdigest()[:32]
    assert "alice" not in key and key != ratelimit.subject_key("login:name", "bob@example.com")
    assert ratelimit.subject_key("x", "\ud800").startswith("x:")  # a lone surrogate does not raise
    assert ratelimit.account_key(7) == ratelimit.subject_key("login:user", "7") != ratelimit.account_key(8)


def test_take_lets_exactly_the_limit_through_with_the_rest_of_the_window_as_retry_after(
    fd: Frontdesk, clock: FrozenClock
) -> None:
    assert fd.settings.rate_limit_window == WINDOW
    clock.set(datetime(2026, 3, 4, 10, 7, 30, tzinfo=UTC))  # windows start at :00, :15, :30, :45
    for _ in range(3):
        fd.call(ratelimit.take, KEY, 3)
    with pytest.raises(RateLimited) as refused:
        fd.call(ratelimit.take, KEY, 3)
    assert refused.value.retry_after == timedelta(minutes=7, seconds=30)
    clock.set(datetime(2026, 3, 4, 10, 14, 59, tzinfo=UTC))  # the same window
    with pytest.raises(RateLimited) as again:
        fd.call(ratelimit.take, KEY, 3)
    assert again.value.retry_after == timedelta(seconds=1)
    clock.set(datetime(2026, 3, 4, 10, 15, tzinfo=UTC))  # a new window: counting starts again
    fd.call(ratelimit.take, KEY, 3)
    assert fd.call(ratelimit.hit, KEY) == 2


def test_windows_are_aligned_to_their_size_from_2000(fd: Frontdesk, clock: FrozenClock) -> None:
    clock.set(datetime(2026, 3, 4, 9, 59, 59, tzinfo=UTC))
    assert fd.call(ratelimit.hit, KEY) == 1
    clock.set(datetime(2026, 3, 4, 10, 0, tzinfo=UTC))
    assert fd.call(ratelimit.hit, KEY) == 1
    clock.set(datetime(2026, 3, 4, 10, 14, 59, 999999, tzinfo=UTC))
    assert fd.call(ratelimit.hit, KEY) == 2


def test_ensure_below_refuses_at_the_limit_without_counting(fd: Frontdesk, clock: FrozenClock) -> None:
    clock.set(datetime(2026, 3, 4, 10, 5, tzinfo=UTC))
    fd.call(ratelimit.hit, KEY)
    fd.call(ratelimit.ensure_below, KEY, 2)
    fd.call(ratelimit.ensure_below, KEY, 2)  # only reads
    fd.call(ratelimit.hit, KEY)
    with pytest.raises(RateLimited) as refused:
        fd.call(ratelimit.ensure_below, KEY, 2)
    assert refused.value.retry_after == timedelta(minutes=10)
    fd.call(ratelimit.ensure_below, KEY, 3)


def test_allow_says_whether_the_count_is_within_the_limit(fd: Frontdesk) -> None:
    assert fd.call(ratelimit.allow, KEY, 2)
    assert fd.call(ratelimit.allow, KEY, 2)
    assert not fd.call(ratelimit.allow, KEY, 2)


def test_give_back_undoes_one_take_of_each_key_in_this_window(fd: Frontdesk, clock: FrozenClock) -> None:
    clock.set(datetime(2026, 3, 4, 10, 5, tzinfo=UTC))
    for key in (KEY, "other"):
        fd.call(ratelimit.take, key, 1)
    fd.call(ratelimit.give_back, KEY, "other")
    fd.call(ratelimit.give_back)  # no keys: nothing to do
    fd.call(ratelimit.take, KEY, 1)
    fd.call(ratelimit.take, "other", 1)
    with pytest.raises(RateLimited):
        fd.call(ratelimit.take, KEY, 1)
    clock.set(datetime(2026, 3, 4, 10, 20, tzinfo=UTC))
    fd.call(ratelimit.give_back, "other")  # nothing taken in this window: no count below zero
    assert fd.call(ratelimit.hit, "other") == 1


def test_windows_of_any_size_are_counted_from_2000_01_01_utc(fd: Frontdesk, clock: FrozenClock) -> None:
    """Every process, and a restart, agrees on the windows: a 7-minute one (not dividing an hour)
    that holds 2026-03-04 10:07:30 began at 10:03:00, 1,966,509 windows after 2000-01-01 00:00 UTC."""
    seven = Frontdesk(fd.settings.model_copy(update={"rate_limit_window": timedelta(minutes=7)}), clock=clock)
    try:
        clock.set(datetime(2026, 3, 4, 10, 7, 30, tzinfo=UTC))
        seven.call(ratelimit.take, KEY, 1)
        with pytest.raises(RateLimited) as refused:
            seven.call(ratelimit.take, KEY, 1)
        assert refused.value.retry_after == timedelta(minutes=2, seconds=30)
    finally:
        seven.close()


def test_ensure_below_refuses_past_the_limit_too(fd: Frontdesk) -> None:
    for _ in range(3):  # `take` and `hit` count on past the limit
        fd.call(ratelimit.hit, KEY)
    with pytest.raises(RateLimited):
        fd.call(ratelimit.ensure_below, KEY, 2)
