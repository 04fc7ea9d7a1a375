"""Signing in with a password or a link; rate limits; equal answers for unknown users."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from frontdesk.clock import FrozenClock
from frontdesk.errors import AccountSuspended, InvalidCredentials, RateLimited, TokenInvalid
from frontdesk.models import AuthEvent, User
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import delete_user, set_banned
from frontdesk.service.context import NO_CONTEXT, RequestContext
from frontdesk.service.login import consume_login_link, login_with_password, request_login_link
from frontdesk.service.sessions import authenticate
from frontdesk.settings import Settings
from tests.factories import PASSWORD, make_user
from tests.mailbox import outbox, token_from

CTX = RequestContext(ip_address="198.51.100.4", user_agent="pytest")


def events(fd: Frontdesk, name: str) -> list[AuthEvent]:
    with fd.factory() as db:
        return list(db.scalars(select(AuthEvent).where(AuthEvent.event == name)))


@pytest.mark.parametrize(
    "login", ["Alice", "alice", "ALICE@Example.com", "alice@example.com", "\uff41\uff4c\uff49\uff43\uff45"]
)
def test_login_by_username_or_email_case_insensitively(fd: Frontdesk, login: str) -> None:
    make_user(fd, username="alice", email="alice@example.com")
    result = fd.call(login_with_password, login, PASSWORD, False, CTX)
    assert result.user.username == "alice"
    assert fd.read(authenticate, result.issued.token, is_api_key=False) is not None
    assert events(fd, "login.succeeded")[0].ip_address == "198.51.100.4"


def test_password_is_checked_exactly_as_typed(fd: Frontdesk) -> None:
    make_user(fd, username="bob")
    for wrong in (PASSWORD.upper(), PASSWORD + " ", " " + PASSWORD, PASSWORD[:-1]):
        with pytest.raises(InvalidCredentials):
            fd.call(login_with_password, "bob", wrong, False, CTX)


def test_unknown_user_and_wrong_password_look_the_same(fd: Frontdesk) -> None:
    make_user(fd, username="carol")
    errors = []
    for login in ("carol", "nobody"):
        with pytest.raises(InvalidCredentials) as caught:
            fd.call(login_with_password, login, "wrong password!", False, CTX)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert len(events(fd, "login.failed")) == 2  # kept although the call failed


def test_banned_user_is_told_only_after_a_correct_password(fd: Frontdesk) -> None:
    user = make_user(fd, username="dave")
    fd.call(set_banned, user.id, True, NO_CONTEXT, actor_id=None)
    with pytest.raises(InvalidCredentials):
        fd.call(login_with_password, "dave", "wrong password!", False, CTX)
    with pytest.raises(AccountSuspended):
        fd.call(login_with_password, "dave", PASSWORD, False, CTX)


def test_deleted_user_cannot_log_in(fd: Frontdesk) -> None:
    user = make_user(fd, username="erin")
    fd.call(delete_user, user.id, NO_CONTEXT, actor_id=None)
    with pytest.raises(InvalidCredentials):
        fd.call(login_with_password, "erin", PASSWORD, False, CTX)


def test_remember_device_gives_long_lived_session(fd: Frontdesk, clock: FrozenClock) -> None:
    make_user(fd, username="frank")
    long = fd.call(login_with_password, "frank", PASSWORD, True, CTX).issued.session
    short = fd.call(login_with_password, "frank", PASSWORD, False, CTX).issued.session
    assert long.long_lived and not short.long_lived
    assert long.expiry == clock.now() + timedelta(days=730)


def test_failed_logins_are_limited_per_account(fd: Frontdesk, settings: Settings, clock: FrozenClock) -> None:
    make_user(fd, username="gina")
    for _ in range(settings.login_failures_per_account):
        with pytest.raises(InvalidCredentials):
            fd.call(login_with_password, "gina", "wrong password!", False, CTX)
    with pytest.raises(RateLimited) as caught:
        fd.call(login_with_password, "gina", PASSWORD, False, CTX)
    assert timedelta(0) < caught.value.retry_after <= settings.rate_limit_window
    clock.advance(settings.rate_limit_window)
    assert fd.call(login_with_password, "gina", PASSWORD, False, CTX).user.username == "gina"


def test_rehash_on_login_when_parameters_change(fd: Frontdesk, settings: Settings) -> None:
    user = make_user(fd, username="hank")
    stronger = Frontdesk(settings.model_copy(update={"argon2_time_cost": 2}), clock=fd.deps.clock)
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(stronger.engine, "before_cursor_execute", record)
    try:
        stronger.call(login_with_password, "hank", PASSWORD, False, CTX)
        assert sum("hashed_password" in s for s in statements if s.startswith("UPDATE users")) == 1
        with stronger.factory() as db:
            stored = db.get(User, user.id)
            assert stored is not None
            assert stored.hashed_password != user.hashed_password
            assert stored.hashed_password is not None and "t=2" in stored.hashed_password
    finally:
        stronger.close()
    assert fd.call(login_with_password, "hank", PASSWORD, False, CTX)  # old parameters still verify


def test_login_link_works_once_and_expires(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd, username="ivy")
    fd.call(request_login_link, "ivy", CTX)
    token = token_from(outbox(fd, "login_link", to=user.email)[-1])
    result = fd.call(consume_login_link, token, False, CTX)
    assert result.user.id == user.id
    with pytest.raises(TokenInvalid):
        fd.call(consume_login_link, token, False, CTX)
    fd.call(request_login_link, "ivy", CTX)
    late = token_from(outbox(fd, "login_link")[-1])
    clock.advance(timedelta(minutes=10, seconds=1))
    with pytest.raises(TokenInvalid):
        fd.call(consume_login_link, late, False, CTX)


def test_login_link_for_unknown_user_sends_nothing(fd: Frontdesk) -> None:
    fd.call(request_login_link, "nobody@example.com", CTX)
    assert outbox(fd) == []


def test_emails_stop_silently_over_the_per_address_limit(fd: Frontdesk, settings: Settings) -> None:
    make_user(fd, username="jack")
    for _ in range(settings.emails_per_address + 3):
        fd.call(request_login_link, "jack", CTX)
    assert len(outbox(fd, "login_link")) == settings.emails_per_address


def test_login_token_consumed_exactly_once_by_20_threads(fd: Frontdesk) -> None:
    make_user(fd, username="kim")
    fd.call(request_login_link, "kim", CTX)
    token = token_from(outbox(fd, "login_link")[-1])
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def use() -> None:
        barrier.wait()
        try:
            fd.call(consume_login_link, token, False, CTX)
            outcomes.append("ok")
        except TokenInvalid:
            outcomes.append("invalid")

    threads = [threading.Thread(target=use) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["invalid"] * 19 + ["ok"]
