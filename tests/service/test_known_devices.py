"""The device cookie: signed, listing the accounts a browser has signed in to, expiring."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from pydantic import SecretStr

from frontdesk.clock import FrozenClock
from frontdesk.service import known_devices
from frontdesk.service.deps import Deps
from frontdesk.settings import Settings


@pytest.fixture
def deps() -> Deps:
    return Deps(settings=Settings(secret=SecretStr("s" * 40)), clock=FrozenClock())


def test_remembers_accounts_most_recent_first(deps: Deps) -> None:
    one = known_devices.remember(deps, None, 7)
    two = known_devices.remember(deps, one, 9)
    assert known_devices.accounts_on(deps, two) == (9, 7)
    assert known_devices.accounts_on(deps, known_devices.remember(deps, two, 7)) == (7, 9)
    many = None
    for user_id in range(20):
        many = known_devices.remember(deps, many, user_id)
    assert len(known_devices.accounts_on(deps, many)) == known_devices.MAX_ACCOUNTS


@pytest.mark.parametrize(
    "edit",
    [lambda v: v.replace(".7.", ".8."), lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"), lambda v: "2" + v[1:]],
)
def test_an_edited_cookie_names_no_account(deps: Deps, edit: Callable[[str], str]) -> None:
    value = known_devices.remember(deps, None, 7)
    assert known_devices.knows(deps, value, 7)
    assert not known_devices.knows(deps, edit(value), 7)
    assert not known_devices.knows(deps, edit(value), 8)


def test_another_secret_or_age_or_garbage_names_no_account(deps: Deps) -> None:
    value = known_devices.remember(deps, None, 7)
    other = Deps(settings=Settings(secret=SecretStr("t" * 40)), clock=deps.clock)
    assert not known_devices.knows(other, value, 7)
    assert isinstance(deps.clock, FrozenClock)
    deps.clock.advance(known_devices.LIFETIME + timedelta(seconds=1))
    assert not known_devices.knows(deps, value, 7)
    for garbage in ("", "1", "1.2.3", "1.x.7.abc", "....", "1.0.7." + "a" * 600):
        assert known_devices.accounts_on(deps, garbage) == ()
