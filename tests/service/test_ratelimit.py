"""Rate limits on signing in: counted first, so they are exact under any concurrency, and an
over-limit answer says nothing about which identifiers name accounts (contract section 4)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from frontdesk.clock import FrozenClock
from frontdesk.crypto import Argon2Parameters, PasswordHasher
from frontdesk.errors import InvalidCredentials, RateLimited
from frontdesk.runtime import Frontdesk
from frontdesk.service.context import RequestContext
from frontdesk.service.login import login_with_password
from frontdesk.service.results import AuthResult
from frontdesk.settings import Settings
from tests.factories import PASSWORD, make_user


class CountingHasher(PasswordHasher):
    """A cheap Argon2 hasher that counts password checks (a real hash, or the decoy for an unknown
    user) and makes each one slow enough that concurrent checks overlap."""

    def __init__(self, delay: float = 0.02) -> None:
        super().__init__(Argon2Parameters(time_cost=1, memory_cost_kib=64, parallelism=1))
        self.delay = delay
        self.checks = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.checks += 1
        time.sleep(self.delay)

    def verify(self, hashed: str | None, password: str) -> bool:
        self._count()
        return super().verify(hashed, password)

    def burn(self, password: str) -> None:
        self._count()
        super().burn(password)


@pytest.fixture
def hasher(fd: Frontdesk) -> Iterator[CountingHasher]:
    counting = CountingHasher()
    original = fd.deps
    fd.deps = dataclasses.replace(original, hasher=counting)
    yield counting
    fd.deps = original


def at(n: int) -> RequestContext:
    """A context from an address of its own, so only the per-account limit is in play."""
    return RequestContext(ip_address=f"198.51.{n // 250}.{n % 250 + 1}", user_agent="pytest")


def concurrently(count: int, attempt: Callable[[int], object]) -> list[str]:
    """Run `attempt(i)` on `count` threads released at once; the outcome names, sorted."""
    barrier = threading.Barrier(count)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            attempt(i)
            outcome = "ok"
        except InvalidCredentials:
            outcome = "invalid"
        except RateLimited:
            outcome = "limited"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return sorted(outcomes)


def test_40_concurrent_wrong_guesses_make_exactly_10_password_checks(
    fd: Frontdesk, settings: Settings, hasher: CountingHasher
) -> None:
    assert settings.login_failures_per_account == 10
    make_user(fd, username="victim")
    hasher.checks = 0
    outcomes = concurrently(40, lambda i: fd.call(login_with_password, "victim", f"wrong guess {i}", False, at(i)))
    assert hasher.checks == 10
    assert outcomes == ["invalid"] * 10 + ["limited"] * 30
    with pytest.raises(RateLimited):  # the right password too, once over the limit
        fd.call(login_with_password, "victim", PASSWORD, False, at(99))


def failures(fd: Frontdesk, login: str, count: int) -> None:
    for i in range(count):
        with pytest.raises(InvalidCredentials):
            fd.call(login_with_password, login, f"wrong guess {i}", False, at(200))


def test_over_limit_answer_is_the_same_whether_or_not_the_identifier_names_an_account(
    fd: Frontdesk, settings: Settings
) -> None:
    make_user(fd, username="grace", email="grace@example.com")
    limit = settings.login_failures_per_account
    for login in ("grace", "nobody"):  # an account's name and a name that is no account
        failures(fd, login, limit)
        with pytest.raises(RateLimited):
            fd.call(login_with_password, login, PASSWORD, False, at(201))
    # Another spelling of the guessed account answers as any other email does: its own bucket is
    # fresh, and the account's cap on real checks shows as a wrong password, not as a 429.
    for other in ("grace@example.com", "someone@example.com"):
        with pytest.raises(InvalidCredentials):
            fd.call(login_with_password, other, PASSWORD, False, at(202))


def test_an_account_gets_no_more_real_checks_through_its_other_spellings(
    fd: Frontdesk, settings: Settings, hasher: CountingHasher, clock: FrozenClock
) -> None:
    user = make_user(fd, username="heidi", email="heidi@example.com")
    limit = settings.login_failures_per_account
    real: list[str | None] = []
    check = hasher.verify

    def recording(hashed: str | None, password: str) -> bool:
        real.append(hashed)
        return check(hashed, password)

    hasher.verify = recording  # type: ignore[method-assign]
    failures(fd, "heidi", limit)
    failures(fd, "heidi@example.com", 3)
    assert sum(1 for h in real if h == user.hashed_password) == limit
    clock.advance(settings.rate_limit_window)
    assert fd.call(login_with_password, "heidi@example.com", PASSWORD, False, at(203)).user.id == user.id


def test_a_device_that_signed_in_before_is_never_locked_out_by_the_per_ip_limit(fd: Frontdesk) -> None:
    strict = Frontdesk(fd.settings.model_copy(update={"login_failures_per_ip": 3}), clock=fd.deps.clock)
    try:
        shared = "203.0.113.50"  # every client behind one address
        alice = make_user(strict, username="alice")
        bob = make_user(strict, username="bob")
        device = strict.call(login_with_password, "alice", PASSWORD, False, RequestContext(ip_address=shared)).device
        assert device is not None
        for i in range(3):  # one attacker's guesses at random names use up the address's limit
            with pytest.raises(InvalidCredentials):
                strict.call(login_with_password, f"random{i}", "wrong guess", False, RequestContext(ip_address=shared))

        def attempt(login: str, password: str, cookie: str | None) -> AuthResult:
            return strict.call(
                login_with_password, login, password, False, RequestContext(ip_address=shared, device=cookie)
            )

        assert attempt("alice", PASSWORD, device).user.id == alice.id
        with pytest.raises(InvalidCredentials):  # recognised, but the password is still checked
            attempt("alice", "wrong guess", device)
        for login, cookie in (("alice", None), ("bob", device), ("nobody", device), ("alice", device[:-2] + "xx")):
            with pytest.raises(RateLimited):
                attempt(login, PASSWORD, cookie)
        assert bob.id != alice.id
    finally:
        strict.close()


def test_40_concurrent_wrong_guesses_from_one_address_make_exactly_the_ip_limit_of_checks(
    fd: Frontdesk, hasher: CountingHasher
) -> None:
    """The per-IP limit counts first too (the same `take` as the per-account one), so it is exact:
    each guess names a different account (or none), so only the address's bucket is shared."""
    limit = 7
    settings = fd.deps.settings.model_copy(update={"login_failures_per_ip": limit})
    fd.deps = dataclasses.replace(fd.deps, settings=settings)  # the hasher fixture puts the original back
    for i in range(0, 40, 2):
        make_user(fd, username=f"target{i}")
    one_address = RequestContext(ip_address="203.0.113.77", user_agent="pytest")
    hasher.checks = 0
    outcomes = concurrently(
        40, lambda i: fd.call(login_with_password, f"target{i}", f"wrong guess {i}", False, one_address)
    )
    assert hasher.checks == limit
    assert outcomes == ["invalid"] * limit + ["limited"] * (40 - limit)


def test_attempts_refused_by_a_name_limit_do_not_count_against_the_address(fd: Frontdesk) -> None:
    strict = Frontdesk(
        fd.settings.model_copy(update={"login_failures_per_account": 2, "login_failures_per_ip": 5}),
        clock=fd.deps.clock,
    )
    try:
        make_user(strict, username="victim")
        one_address = RequestContext(ip_address="203.0.113.60", user_agent="pytest")

        def attempt(login: str) -> None:
            strict.call(login_with_password, login, "wrong guess", False, one_address)

        for _ in range(2):
            with pytest.raises(InvalidCredentials):
                attempt("victim")
        for _ in range(5):  # over the name's limit: refused before any check, so no failure here
            with pytest.raises(RateLimited):
                attempt("victim")
        for i in range(3):  # the address has had 2 failures of its 5
            with pytest.raises(InvalidCredentials):
                attempt(f"other{i}")
        with pytest.raises(RateLimited):
            attempt("other3")
    finally:
        strict.close()
