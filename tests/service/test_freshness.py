"""Fresh sessions (contract section 6), on both databases: what the principal says about how
strongly and how recently the caller signed in, and the one freshness rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from frontdesk.clock import FrozenClock
from frontdesk.errors import Forbidden, ReauthenticationRequired
from frontdesk.models import UserSession
from frontdesk.runtime import Frontdesk
from frontdesk.service import freshness
from frontdesk.service.context import Principal
from frontdesk.service.sessions import authenticate
from frontdesk.settings import Settings
from tests.factories import make_session, make_user


def principal(fd: Frontdesk, token: str, *, api: bool = False) -> Principal:
    found = fd.read(authenticate, token, is_api_key=api)
    assert found is not None
    return found


def test_the_principal_says_how_and_when_the_caller_signed_in(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    signed_in_at = clock.now()
    two = make_session(fd, user, factors=("password", "totp"), aal=2)
    key = make_session(fd, user, is_api_key=True, long_lived=True, factors=("password", "totp"), aal=2)
    clock.advance(timedelta(minutes=3))
    found = principal(fd, two.token)
    assert (found.aal, found.factors, found.authenticated_at) == (2, ("password", "totp"), signed_in_at)
    assert principal(fd, key.token, api=True).aal == 1, "API keys are always aal 1"


def test_a_session_older_than_second_factors_was_authenticated_when_it_was_created(
    fd: Frontdesk, clock: FrozenClock
) -> None:
    old = make_session(fd, make_user(fd))
    with fd.factory.begin() as db:
        db.execute(update(UserSession).where(UserSession.id == old.session.id).values(authenticated_at=None))
    created = clock.now()
    clock.advance(timedelta(hours=1))
    found = principal(fd, old.token)
    assert (found.aal, found.authenticated_at) == (1, created)


def test_fresh_for_exactly_reauth_max_age(fd: Frontdesk, clock: FrozenClock) -> None:
    issued = make_session(fd, make_user(fd))
    clock.advance(timedelta(minutes=10))
    assert freshness.ensure_fresh(fd.deps, principal(fd, issued.token)).session_id == issued.session.id
    clock.advance(timedelta(seconds=1))
    with pytest.raises(ReauthenticationRequired):
        freshness.ensure_fresh(fd.deps, principal(fd, issued.token))
    freshness.ensure_fresh(fd.deps, principal(fd, issued.token), max_age=timedelta(hours=1))


def test_an_api_key_is_never_fresh(fd: Frontdesk) -> None:
    key = make_session(fd, make_user(fd), is_api_key=True, long_lived=True)
    with pytest.raises(Forbidden):
        freshness.ensure_fresh(fd.deps, principal(fd, key.token, api=True))


def test_reauth_max_age_is_a_setting(database_url: str) -> None:
    assert Settings(database_url=database_url).reauth_max_age == timedelta(minutes=10)
    assert Settings(database_url=database_url, reauth_max_age="90s").reauth_max_age == timedelta(seconds=90)
    with pytest.raises(ValueError, match="reauth_max_age"):
        Settings(database_url=database_url, reauth_max_age="0")
