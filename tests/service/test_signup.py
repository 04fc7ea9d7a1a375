"""Signup: verification email first, user on confirmation, no enumeration."""

from __future__ import annotations

from datetime import timedelta

import pytest

from frontdesk.clock import FrozenClock
from frontdesk.errors import (
    InsecurePassword,
    InvalidEmail,
    InvalidUsername,
    PasswordTooLong,
    PasswordTooShort,
    RateLimited,
    TokenInvalid,
    UsernameTaken,
)
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import find_user
from frontdesk.service.context import RequestContext
from frontdesk.service.signup import confirm_signup, refused_signup, request_signup, username_status
from tests.factories import PASSWORD, make_user
from tests.mailbox import outbox, token_from

CTX = RequestContext(ip_address="198.51.100.9", user_agent="pytest")


def signup(fd: Frontdesk, **overrides: str) -> None:
    fields = {"email": "new@example.com", "username": "newbie", "password": PASSWORD, "name": "New Person"}
    fields.update(overrides)
    fd.call(request_signup, ctx=CTX, **fields)


def test_user_exists_only_after_confirmation(fd: Frontdesk) -> None:
    signup(fd)
    assert fd.read(lambda db, deps: find_user(db, "newbie")) is None
    token = token_from(outbox(fd, "signup_confirm", to="new@example.com")[0])
    result = fd.call(confirm_signup, token, CTX)
    assert result.user.username == "newbie" and not result.issued.session.long_lived
    with pytest.raises(TokenInvalid):
        fd.call(confirm_signup, token, CTX)


def test_signup_token_lasts_48_hours(fd: Frontdesk, clock: FrozenClock) -> None:
    signup(fd)
    token = token_from(outbox(fd, "signup_confirm")[0])
    clock.advance(timedelta(hours=48, seconds=1))
    with pytest.raises(TokenInvalid):
        fd.call(confirm_signup, token, CTX)


def test_existing_email_gets_a_warning_not_a_second_account(fd: Frontdesk) -> None:
    make_user(fd, email="taken@example.com", username="owner")
    signup(fd, email="Taken@Example.com", username="intruder")
    assert outbox(fd, "signup_confirm") == []
    warning = outbox(fd, "signup_existing", to="taken@example.com")
    assert len(warning) == 1


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("email", "not-an-email", InvalidEmail),
        ("username", "a", InvalidUsername),
        ("username", "has space", InvalidUsername),
        ("username", "ünïcode", InvalidUsername),
        ("password", "short", PasswordTooShort),
        ("password", "x" * 257, PasswordTooLong),
        ("password", "password1", InsecurePassword),
        ("password", "Qwerty123", InsecurePassword),
        ("password", "frontdesk", InsecurePassword),
    ],
)
def test_bad_signup_is_refused_and_changes_nothing(
    fd: Frontdesk, field: str, value: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        signup(fd, **{field: value})
    assert outbox(fd) == []


def test_password_limits_count_characters_as_typed(fd: Frontdesk) -> None:
    signup(fd, password="éè" * 128, username="accents")  # 256 characters, 512 bytes: allowed
    signup(fd, password="  spaces  ", username="blanks", email="s@example.com")  # kept as typed
    assert len(outbox(fd, "signup_confirm")) == 2


def test_username_taken_is_409_even_with_other_case(fd: Frontdesk) -> None:
    make_user(fd, username="popular")
    with pytest.raises(UsernameTaken):
        signup(fd, username="Popular")


def test_username_status(fd: Frontdesk) -> None:
    make_user(fd, username="exists")
    assert fd.read(lambda db, deps: username_status(db, "EXISTS")).available is False
    fresh = fd.read(lambda db, deps: username_status(db, "fresh_name"))
    assert fresh.valid and fresh.available
    assert fd.read(lambda db, deps: username_status(db, "!!")).valid is False


def test_two_pending_signups_for_one_username_make_one_user(fd: Frontdesk) -> None:
    signup(fd, email="one@example.com", username="contested")
    signup(fd, email="two@example.com", username="contested")
    first, second = (token_from(e) for e in outbox(fd, "signup_confirm"))
    fd.call(confirm_signup, first, CTX)
    with pytest.raises(UsernameTaken):
        fd.call(confirm_signup, second, CTX)


def test_the_confirmation_email_carries_nothing_the_requester_typed_but_the_address(fd: Frontdesk) -> None:
    spam = "Win a prize at evil.example"
    signup(fd, name=spam)
    [email] = outbox(fd, "signup_confirm", to="new@example.com")
    for body in (email.text_body, email.html_body, email.subject):
        assert "evil.example" not in body and "newbie" not in body
    result = fd.call(confirm_signup, token_from(email), CTX)
    assert result.user.name == spam  # the name is kept for the account, just not mailed unverified


def test_a_password_containing_the_username_or_email_is_refused_at_signup(fd: Frontdesk) -> None:
    for password in ("newbie is my name", "NEW-PERSON@home", "zzzzzzzzzz"):
        fields = {"username": "newbie", "email": "new-person@example.com", "password": password}
        with pytest.raises(InsecurePassword):
            signup(fd, **fields)
    assert outbox(fd) == []


def test_signups_are_limited_per_ip_before_any_hashing(fd: Frontdesk) -> None:
    strict = Frontdesk(fd.settings.model_copy(update={"signups_per_ip": 3}), clock=fd.deps.clock)
    hashes: list[str] = []
    real_hash = strict.deps.hasher.hash

    def counting(password: str) -> str:
        hashes.append(password)
        return real_hash(password)

    strict.deps.hasher.hash = counting  # type: ignore[method-assign]
    try:
        for i in range(3):
            strict.call(
                request_signup, ctx=CTX, email=f"n{i}@example.com", username=f"newbie{i}", password=PASSWORD, name="N"
            )
        hashed = len(hashes)
        with pytest.raises(RateLimited):
            strict.call(
                request_signup, ctx=CTX, email="n9@example.com", username="newbie9", password=PASSWORD, name="N"
            )
        assert len(hashes) == hashed, "an over-limit signup was hashed"
        assert len(outbox(strict, "signup_confirm")) == 3
    finally:
        strict.close()


def test_a_refused_address_is_remembered_until_its_window_ends_in_this_frontdesk_only(
    fd: Frontdesk, clock: FrozenClock
) -> None:
    """After the database refuses an address, this process answers its next signups alike without
    the database (`refused_signup`, which the web layer asks first), until the window ends."""
    strict = Frontdesk(fd.settings.model_copy(update={"signups_per_ip": 1}), clock=fd.deps.clock)
    other = Frontdesk(strict.settings, clock=fd.deps.clock)
    try:
        assert refused_signup(strict.deps, CTX.ip_address) is None
        strict.call(request_signup, ctx=CTX, email="n1@example.com", username="newbie1", password=PASSWORD, name="N")
        assert refused_signup(strict.deps, CTX.ip_address) is None, "a signup within the limit is no refusal"
        with pytest.raises(RateLimited) as refused:
            strict.call(
                request_signup, ctx=CTX, email="n2@example.com", username="newbie2", password=PASSWORD, name="N"
            )
        remembered = refused_signup(strict.deps, CTX.ip_address)
        assert remembered is not None and remembered.retry_after == refused.value.retry_after
        assert refused_signup(strict.deps, "198.51.100.7") is None, "another address is not refused"
        assert refused_signup(strict.deps, None) is None
        assert refused_signup(other.deps, CTX.ip_address) is None, "each Frontdesk remembers its own"
        clock.advance(refused.value.retry_after)
        assert refused_signup(strict.deps, CTX.ip_address) is None, "a new window forgets it"
        strict.call(request_signup, ctx=CTX, email="n3@example.com", username="newbie3", password=PASSWORD, name="N")
    finally:
        strict.close()
        other.close()


@pytest.mark.parametrize("email", ["fresh@example.com", "taken@example.com"])
def test_the_password_is_hashed_with_no_database_connection_held(
    fd: Frontdesk, monkeypatch: pytest.MonkeyPatch, email: str
) -> None:
    """Argon2 runs between the committed per-IP count and the rest, holding no connection (so no row
    lock, and on SQLite no write lock): a flood of signups can't starve other requests."""
    make_user(fd, email="taken@example.com", username="owner")
    hasher = fd.deps.hasher
    real_hash = hasher.hash
    held: list[int] = []

    def watched(password: str) -> str:
        held.append(fd.engine.pool.checkedout())  # type: ignore[attr-defined]
        return real_hash(password)

    monkeypatch.setattr(hasher, "hash", watched)
    monkeypatch.setattr(hasher, "burn", lambda _: pytest.fail("signup burns instead of hashing"))
    signup(fd, email=email, username="hashed_outside")
    assert held == [0], "a connection was checked out while Argon2 ran"
    assert len(outbox(fd, to=email)) == 1


# Latin "alice" with a Cyrillic a (U+0430) first; "Alice" with a Greek capital alpha (U+0391)
LOOK_ALIKES = ("\u0430lice@example.com", "\u0391lice@example.com", "\u0430\u0440\u0435@example.com")


@pytest.mark.parametrize("email", LOOK_ALIKES)
def test_a_look_alike_of_a_registered_email_is_refused_and_sends_nothing(fd: Frontdesk, email: str) -> None:
    make_user(fd, email="alice@example.com", username="alice")
    with pytest.raises(InvalidEmail, match="look alike"):
        signup(fd, email=email, username="mallory")
    assert outbox(fd, "signup_confirm") == [] and outbox(fd, "signup_existing") == []


def test_a_look_alike_is_refused_whether_or_not_its_original_is_registered(fd: Frontdesk) -> None:
    """The refusal depends on the address alone, so it tells nothing about who has an account."""
    for email in LOOK_ALIKES:
        with pytest.raises(InvalidEmail, match="look alike"):
            signup(fd, email=email, username="mallory")


@pytest.mark.parametrize(
    "email", ["jos\u00e9@example.com", "\u0438\u0432\u0430\u043d@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"]
)
def test_an_address_in_one_alphabet_is_welcome(fd: Frontdesk, email: str) -> None:
    signup(fd, email=email)
    assert len(outbox(fd, "signup_confirm")) == 1
