"""Password reset and password change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from frontdesk.clock import FrozenClock
from frontdesk.errors import InsecurePassword, InvalidCredentials, RateLimited, TokenInvalid
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import change_password
from frontdesk.service.context import RequestContext
from frontdesk.service.login import consume_login_link, login_with_password, request_login_link
from frontdesk.service.reset import complete_password_reset, request_password_reset
from frontdesk.service.sessions import authenticate, create_api_key
from frontdesk.settings import Settings
from tests.factories import PASSWORD, make_session, make_user
from tests.mailbox import outbox, token_from

CTX = RequestContext(
    ip_address="192.0.2.1", user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
)
NEW = "a brand new passphrase"


def test_reset_revokes_sessions_api_keys_and_tokens(fd: Frontdesk) -> None:
    user = make_user(fd, username="lena")
    cookies = [make_session(fd, user) for _ in range(2)]
    key = make_session(fd, user, is_api_key=True, long_lived=True)
    fd.call(request_login_link, "lena", CTX)
    login_token = token_from(outbox(fd, "login_link")[-1])
    fd.call(request_password_reset, "lena", CTX)
    fd.call(request_password_reset, "lena", CTX)
    first_reset, second_reset = (token_from(e) for e in outbox(fd, "password_reset"))

    result = fd.call(complete_password_reset, second_reset, NEW, CTX)

    assert all(fd.read(authenticate, c.token, is_api_key=False) is None for c in cookies)
    assert fd.read(authenticate, key.token, is_api_key=True) is None
    assert fd.read(authenticate, result.issued.token, is_api_key=False) is not None
    assert not result.issued.session.long_lived
    uses: list[Callable[[], object]] = [
        lambda: fd.call(consume_login_link, login_token, False, CTX),
        lambda: fd.call(complete_password_reset, first_reset, NEW, CTX),
        lambda: fd.call(complete_password_reset, second_reset, NEW, CTX),
    ]
    for use in uses:
        with pytest.raises(TokenInvalid):
            use()
    with pytest.raises(InvalidCredentials):
        fd.call(login_with_password, "lena", PASSWORD, False, CTX)
    assert fd.call(login_with_password, "lena", NEW, False, CTX)
    notice = outbox(fd, "password_changed", to=user.email)
    assert len(notice) == 1 and "192.0.2.1" in notice[0].text_body and "Firefox" in notice[0].text_body


def test_reset_keeps_api_keys_only_when_asked(fd: Frontdesk) -> None:
    user = make_user(fd, username="lara")
    cookie = make_session(fd, user)
    key = make_session(fd, user, is_api_key=True, long_lived=True)
    fd.call(request_password_reset, "lara", CTX)
    fd.call(complete_password_reset, token_from(outbox(fd, "password_reset")[-1]), NEW, CTX, keep_api_keys=True)
    assert fd.read(authenticate, cookie.token, is_api_key=False) is None
    assert fd.read(authenticate, key.token, is_api_key=True) is not None


def test_reset_for_unknown_user_sends_nothing(fd: Frontdesk) -> None:
    fd.call(request_password_reset, "ghost@example.com", CTX)
    assert outbox(fd) == []


def test_reset_token_expires_after_two_hours(fd: Frontdesk, clock: FrozenClock) -> None:
    make_user(fd, username="mona")
    fd.call(request_password_reset, "mona", CTX)
    token = token_from(outbox(fd, "password_reset")[-1])
    clock.advance(timedelta(hours=2, seconds=1))
    with pytest.raises(TokenInvalid):
        fd.call(complete_password_reset, token, NEW, CTX)


def test_bad_new_password_leaves_the_token_usable(fd: Frontdesk) -> None:
    make_user(fd, username="nina")
    fd.call(request_password_reset, "nina", CTX)
    token = token_from(outbox(fd, "password_reset")[-1])
    with pytest.raises(InsecurePassword):
        fd.call(complete_password_reset, token, "password", CTX)
    assert fd.call(complete_password_reset, token, NEW, CTX)


def test_change_password_needs_old_one_and_ends_other_sessions_and_api_keys(fd: Frontdesk) -> None:
    user = make_user(fd, username="omar")
    current, other = make_session(fd, user), make_session(fd, user)
    key = make_session(fd, user, is_api_key=True, long_lived=True)
    me = fd.read(authenticate, current.token, is_api_key=False)
    assert me is not None
    with pytest.raises(InvalidCredentials):
        fd.call(change_password, me, "not my password", NEW, CTX)
    assert fd.call(change_password, me, PASSWORD, NEW, CTX) == 2
    assert fd.read(authenticate, other.token, is_api_key=False) is None
    assert fd.read(authenticate, current.token, is_api_key=False) is not None
    assert fd.read(authenticate, key.token, is_api_key=True) is None
    assert len(outbox(fd, "password_changed")) == 1


def test_change_password_keeps_api_keys_only_when_asked(fd: Frontdesk) -> None:
    user = make_user(fd, username="olga")
    current, other = make_session(fd, user), make_session(fd, user)
    key = make_session(fd, user, is_api_key=True, long_lived=True)
    me = fd.read(authenticate, current.token, is_api_key=False)
    assert me is not None
    assert fd.call(change_password, me, PASSWORD, NEW, CTX, keep_api_keys=True) == 1
    assert fd.read(authenticate, other.token, is_api_key=False) is None
    assert fd.read(authenticate, key.token, is_api_key=True) is not None


def test_password_guesses_with_a_stolen_session_are_limited(fd: Frontdesk, settings: Settings) -> None:
    user = make_user(fd, username="pia")
    me = fd.read(authenticate, make_session(fd, user).token, is_api_key=False)
    assert me is not None
    for _ in range(settings.login_failures_per_account):
        with pytest.raises(InvalidCredentials):
            fd.call(change_password, me, "a wrong guess!", NEW, CTX)
    with pytest.raises(RateLimited):
        fd.call(change_password, me, PASSWORD, NEW, CTX)
    with pytest.raises(RateLimited):
        fd.call(create_api_key, me, PASSWORD, "k", 30, CTX)
    # one cap per account; a name's own 429 bucket is fresh, so it answers as a wrong password
    with pytest.raises(InvalidCredentials):
        fd.call(login_with_password, "pia", PASSWORD, False, CTX)
