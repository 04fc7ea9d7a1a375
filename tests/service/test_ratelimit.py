"""Rate limits on signing in: counted first, so they are exact under any concurrency, and an
over-limit answer says nothing about which identifiers name accounts (contract section 4)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import event, select

from frontdesk.clock import FrozenClock
from frontdesk.crypto import Argon2Parameters, PasswordHasher
from frontdesk.errors import InvalidCredentials, RateLimited
from frontdesk.models import RateLimitBucket
from frontdesk.runtime import Frontdesk
from frontdesk.service import ratelimit
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


def buckets(fd: Frontdesk) -> dict[str, int]:
    with fd.factory() as db:
        return {row.key: row.count for row in db.scalars(select(RateLimitBucket))}


def bucket_statements(fd: Frontdesk) -> list[str]:
    """The statements on the bucket table from now on (recorded until the engine is closed)."""
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "rate_limit_buckets" in statement:
            seen.append(statement.split(None, 1)[0].upper())

    event.listen(fd.engine, "before_cursor_execute", record)
    return seen


def test_a_sign_in_counts_its_three_buckets_in_one_statement_and_gives_them_back_in_one(fd: Frontdesk) -> None:
    make_user(fd, username="ivan")
    seen = bucket_statements(fd)
    fd.call(login_with_password, "ivan", PASSWORD, False, at(300))
    assert seen == ["INSERT", "UPDATE"]
    assert sorted(buckets(fd).values()) == [0, 0, 0]  # ip, name and account: a success is no failure
    seen.clear()
    with pytest.raises(InvalidCredentials):
        fd.call(login_with_password, "ivan", "wrong guess", False, at(300))
    assert seen == ["INSERT"]
    assert sorted(buckets(fd).values()) == [1, 1, 1]


def test_take_all_counts_each_key_once_and_refuses_a_repeated_key(fd: Frontdesk) -> None:
    with fd.transaction() as db:
        first = ratelimit.take_all(db, fd.deps, "test:a", "test:b")
        again = ratelimit.take_all(db, fd.deps, "test:b", "test:c")
        assert dict(first.counts) == {"test:a": 1, "test:b": 1}
        assert dict(again.counts) == {"test:b": 2, "test:c": 1}
        assert again.over("test:b", 1) and not again.over("test:b", 2) and not again.over(None, 0)
        assert ratelimit.take_all(db, fd.deps).counts == {}
        with pytest.raises(ValueError, match="once"):
            ratelimit.take_all(db, fd.deps, "test:d", "test:d")


def test_withdrawing_removes_the_rows_an_attempt_made_and_decrements_the_others(fd: Frontdesk) -> None:
    with fd.transaction() as db:
        ratelimit.take_all(db, fd.deps, "test:shared")
        ratelimit.take_all(db, fd.deps, "test:zero")
        ratelimit.give_back(db, fd.deps, "test:zero")  # a row at 0, as a success leaves it
        taken = ratelimit.take_all(db, fd.deps, "test:shared", "test:new", "test:zero", "test:kept")
        ratelimit.withdraw(db, taken, "test:shared", "test:new", "test:zero", None)
    assert buckets(fd) == {"test:shared": 1, "test:kept": 1}


def test_an_attempt_refused_by_the_address_leaves_no_other_count_and_no_row(fd: Frontdesk) -> None:
    strict = Frontdesk(fd.settings.model_copy(update={"login_failures_per_ip": 2}), clock=fd.deps.clock)
    try:
        make_user(strict, username="judy")
        address = RequestContext(ip_address="203.0.113.60")
        for i in range(2):
            with pytest.raises(InvalidCredentials):
                strict.call(login_with_password, f"nobody{i}", "wrong guess", False, address)
        before = buckets(strict)
        for login in ("judy", "nobody5", "nobody6"):  # refused before any name or account is counted
            with pytest.raises(RateLimited):
                strict.call(login_with_password, login, PASSWORD, False, address)
        after = buckets(strict)
        ip = ratelimit.subject_key("login:ip", "203.0.113.60")
        assert after.pop(ip) == before.pop(ip) + 3  # refusals by address count against it, as before
        assert after == before
    finally:
        strict.close()


def test_an_attempt_refused_by_name_counts_against_neither_address_nor_account(
    fd: Frontdesk, settings: Settings
) -> None:
    user = make_user(fd, username="kim")
    failures(fd, "kim", settings.login_failures_per_account)
    with pytest.raises(RateLimited):
        fd.call(login_with_password, "kim", PASSWORD, False, at(301))
    counts = buckets(fd)
    assert ratelimit.subject_key("login:ip", at(301).ip_address or "") not in counts  # its row went again
    assert counts[ratelimit.account_key(user.id)] == settings.login_failures_per_account
    assert counts[ratelimit.subject_key("login:name", "kim")] == settings.login_failures_per_account + 1


def test_40_concurrent_wrong_guesses_from_one_address_at_one_account_check_exactly_the_ip_limit(
    fd: Frontdesk, hasher: CountingHasher
) -> None:
    """Both limits at once, through both spellings of the account: what the address refuses is
    withdrawn from the name and account counts while their rows are still held, so afterwards
    they hold exactly the checks made, and the lock order (address, name, account) can't deadlock."""
    limit = 7
    settings = fd.deps.settings.model_copy(update={"login_failures_per_ip": limit})
    fd.deps = dataclasses.replace(fd.deps, settings=settings)  # the hasher fixture puts the original back
    user = make_user(fd, username="lena", email="lena@example.com")
    one_address = RequestContext(ip_address="203.0.113.78", user_agent="pytest")
    hasher.checks = 0
    spellings = ("lena", "lena@example.com")
    outcomes = concurrently(
        40, lambda i: fd.call(login_with_password, spellings[i % 2], f"wrong guess {i}", False, one_address)
    )
    assert hasher.checks == limit
    assert outcomes == ["invalid"] * limit + ["limited"] * (40 - limit)
    counts = buckets(fd)
    assert counts[ratelimit.account_key(user.id)] == limit
    assert sum(counts[ratelimit.subject_key("login:name", name)] for name in spellings) == limit
    assert counts[ratelimit.subject_key("login:ip", "203.0.113.78")] == 40


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
