"""The /v1/verify fast path on PostgreSQL: concurrent checks batched into one statement must give
each credential exactly the answer the ORM path gives it, see revocations at once, and never
leave a check waiting when the database goes away."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import text, update

from frontdesk.clock import FrozenClock
from frontdesk.metrics import VERIFY_BATCH
from frontdesk.models import User, UserSession
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import set_banned
from frontdesk.service.context import NO_CONTEXT, Principal
from frontdesk.service.sessions import authenticate, authenticate_fast
from frontdesk.store.fastpath import UNAVAILABLE, AsyncPrincipalLookup
from tests.factories import make_session, make_user

T = TypeVar("T")
BOUND_S = 20  # no check may wait longer than this, whatever happens to the database


@pytest.fixture
def pg(fd: Frontdesk) -> Frontdesk:
    if fd.verify_lookup is None:
        pytest.skip("the fast path runs on PostgreSQL only")
    return fd


def run(fd: Frontdesk, body: Callable[[], Awaitable[T]]) -> T:
    """Run `body` in a fresh event loop, closing the lookup's connections in that loop after it."""

    async def main() -> T:
        try:
            return await asyncio.wait_for(body(), BOUND_S)
        finally:
            await fd.close_async()

    return asyncio.run(main())


def fast(fd: Frontdesk, token: str, api: bool) -> Awaitable[Principal | None]:
    assert fd.verify_lookup is not None
    return authenticate_fast(fd.verify_lookup, fd.deps, token, is_api_key=api)


def batches() -> float:
    metric = next(iter(VERIFY_BATCH.collect()))
    return float(next(s.value for s in metric.samples if s.name.endswith("_count")))


def _population(fd: Frontdesk, clock: FrozenClock) -> list[tuple[str, bool]]:
    """Credentials in every state the rule distinguishes, each presented as cookie and as bearer."""
    user, banned, gone = make_user(fd), make_user(fd), make_user(fd)
    issued = {
        "cookie": make_session(fd, user),
        "long cookie": make_session(fd, user, long_lived=True),
        "key": make_session(fd, user, is_api_key=True, long_lived=True),
        "idle short": make_session(fd, user),
        "idle long": make_session(fd, user, long_lived=True),
        "expired": make_session(fd, user, long_lived=True),
        "ended": make_session(fd, user),
        "banned": make_session(fd, banned, is_api_key=True, long_lived=True),
        "deleted user": make_session(fd, gone),
    }
    clock.advance(timedelta(hours=200))
    issued["fresh"] = make_session(fd, user)  # seen now, after the others went idle
    issued["two factors"] = make_session(fd, user, factors=("password", "totp"), aal=2)
    issued["older than factors"] = make_session(fd, user, factors=("password",))
    with fd.factory.begin() as db:
        ids = {name: s.session.id for name, s in issued.items()}
        db.execute(update(UserSession).where(UserSession.id == ids["expired"]).values(expiry=clock.now()))
        db.execute(update(UserSession).where(UserSession.id == ids["ended"]).values(deleted=clock.now()))
        seen_now = UserSession.id.in_([ids["cookie"], ids["key"]])
        db.execute(update(UserSession).where(seen_now).values(last_seen=clock.now()))
        db.execute(update(User).where(User.id == gone.id).values(is_deleted=True))
        older = UserSession.id == ids["older than factors"]
        db.execute(update(UserSession).where(older).values(authenticated_at=None, factors=""))
    fd.call(set_banned, banned.id, True, NO_CONTEXT, actor_id=None)
    clock.advance(timedelta(seconds=1))  # "expired" is now past its expiry
    tokens = [s.token for s in issued.values()] + ["unknown-token", "fdk_unknown", "x" * 600]
    return [(token, api) for token in tokens for api in (False, True)]


def test_batched_checks_agree_with_the_orm_path(pg: Frontdesk, clock: FrozenClock) -> None:
    credentials = _population(pg, clock)
    expected = {c: pg.read(authenticate, c[0], is_api_key=c[1]) for c in credentials}
    # valid: cookie, long cookie, key, idle long (long-lived sessions may idle), fresh, two factors, older
    assert sum(p is not None for p in expected.values()) == 7
    assert {(p.aal, p.factors) for p in expected.values() if p is not None} == {(1, ()), (2, ("password", "totp"))}
    checks = credentials * 5  # the same credential more than once in one batch
    random.Random(7).shuffle(checks)
    before = batches()

    async def body() -> list[Principal | None]:
        return await asyncio.gather(*(fast(pg, token, api) for token, api in checks))

    answers = run(pg, body)
    assert answers == [expected[c] for c in checks]
    statements = batches() - before
    assert 1 <= statements < len(checks) / 4  # far fewer statements than checks


def test_a_revocation_or_ban_is_seen_by_the_very_next_check(pg: Frontdesk) -> None:
    user = make_user(pg)
    one, two = make_session(pg, user), make_session(pg, user, is_api_key=True, long_lived=True)

    async def body() -> list[bool]:
        seen = [await fast(pg, one.token, False) is not None, await fast(pg, two.token, True) is not None]
        with pg.factory.begin() as db:
            db.execute(update(UserSession).where(UserSession.id == one.session.id).values(deleted=pg.deps.clock.now()))
        seen.append(await fast(pg, one.token, False) is not None)
        pg.call(set_banned, user.id, True, NO_CONTEXT, actor_id=None)
        seen.append(await fast(pg, two.token, True) is not None)
        return seen

    assert run(pg, body) == [True, True, False, False]


def test_every_use_is_recorded_once_per_check(pg: Frontdesk) -> None:
    issued = make_session(pg, make_user(pg))

    async def body() -> None:
        await asyncio.gather(*(fast(pg, issued.token, False) for _ in range(40)))

    run(pg, body)
    pg.flush_touches()
    with pg.factory() as db:
        row = db.get(UserSession, issued.session.id)
    assert row is not None and row.api_calls == 40


def test_a_connection_closed_by_the_server_while_idle_is_replaced_unnoticed(pg: Frontdesk) -> None:
    issued = make_session(pg, make_user(pg))

    verify_backends = (
        "FROM pg_stat_activity WHERE application_name = 'frontdesk-verify' AND datname = current_database()"
    )

    async def body() -> list[bool]:
        assert await fast(pg, issued.token, False) is not None
        with pg.factory.begin() as db:
            killed = db.execute(text(f"SELECT count(pg_terminate_backend(pid)) {verify_backends}")).scalar()
        assert killed and killed >= 1
        for _ in range(50):  # until the backend is gone (bounded: 5 s)
            with pg.factory() as db:
                if not db.execute(text(f"SELECT count(*) {verify_backends}")).scalar():
                    break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.2)  # the client reads the server's goodbye and marks the connection closed
        return [await fast(pg, issued.token, False) is not None for _ in range(3)]

    assert run(pg, body) == [True, True, True]


def test_every_waiting_check_fails_fast_when_the_database_is_unreachable(pg: Frontdesk) -> None:
    closed_port = pg.engine.url.set(port=1)
    lookup = AsyncPrincipalLookup(
        closed_port, connections=2, statement_timeout=timedelta(seconds=2), idle_ttl=timedelta(hours=168)
    )

    async def body() -> list[BaseException | Principal | None]:
        results = await asyncio.wait_for(
            asyncio.gather(
                *(authenticate_fast(lookup, pg.deps, f"token-{i}", is_api_key=False) for i in range(30)),
                return_exceptions=True,
            ),
            BOUND_S,
        )
        await lookup.close()
        return results

    results = asyncio.run(body())
    assert len(results) == 30
    assert all(isinstance(r, UNAVAILABLE) for r in results), {type(r).__name__ for r in results}


def test_close_refuses_new_checks(pg: Frontdesk) -> None:
    issued = make_session(pg, make_user(pg))
    lookup = pg.verify_lookup
    assert lookup is not None

    async def body() -> None:
        assert await fast(pg, issued.token, False) is not None
        await lookup.close()
        with pytest.raises(UNAVAILABLE):
            await fast(pg, issued.token, False)

    asyncio.run(body())
