"""A 429 is sent FRONTDESK_RATE_LIMITED_DELAY after it was decided (issue 12: a signup flood from one
address), while the waiting refusals hold nothing that other requests need."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from frontdesk.db import make_engine
from frontdesk.models import RateLimitBucket
from tests.fast import fast_settings
from tests.live import LiveServer, start_server
from tests.web.helpers import run_async

DELAY = 2.0
PASSWORD = "correct horse battery staple"


@pytest.fixture
def slow_refusals(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    # one signup per address per week: a window never rolls over during the test (windows of the
    # default 15 minutes did, once, and let a flooding signup through)
    env = {
        "FRONTDESK_RATE_LIMITED_DELAY": str(DELAY),
        "FRONTDESK_SIGNUPS_PER_IP": "1",
        "FRONTDESK_RATE_LIMIT_WINDOW": "7d",
    }
    server = start_server(database_url, tmp_path, extra_env=env)
    yield server
    server.stop()


def _signup(name: str) -> dict[str, str]:
    return {"email": f"{name}@example.com", "username": name, "password": PASSWORD, "name": name.title()}


def test_a_refusal_waits_the_delay_and_holds_nothing_while_it_waits(slow_refusals: LiveServer) -> None:
    with slow_refusals.client() as api:
        assert api.post("/v1/signup", json=_signup("first")).status_code == 202
        started = time.monotonic()
        refused = api.post("/v1/signup", json=_signup("second"))
        refused_took = time.monotonic() - started
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    assert refused_took >= DELAY

    # Sixty refusals wait at once (more than the worker's threads and database connections): a
    # request sent after them all is answered before any of them (and answers that are not 429s
    # never wait).
    async def flood_then_ask() -> tuple[list[float], float, list[int]]:
        async with httpx.AsyncClient(base_url=slow_refusals.url, timeout=30) as client:

            async def refused(i: int) -> tuple[int, float]:
                answer = await client.post("/v1/signup", json=_signup(f"flood{i}"))
                return answer.status_code, time.monotonic()

            flood = [asyncio.create_task(refused(i)) for i in range(60)]
            await asyncio.sleep(DELAY / 4)  # every refusal decided and waiting
            health = await client.get("/healthz")
            asked_done = time.monotonic()
            assert health.status_code == 200
            results = await asyncio.gather(*flood)
            return [done for _, done in results], asked_done, [status for status, _ in results]

    refusals_done, asked_done, statuses = run_async(flood_then_ask)
    assert statuses == [429] * 60
    assert asked_done < min(refusals_done)
    # once the database refused the address, the server answered the flood from memory
    # (SignupGateMiddleware): the address's count stayed at the one allowed and the one refused
    assert _signup_counts(slow_refusals.database_url) == [2]


def _signup_counts(database_url: str) -> list[int]:
    engine = make_engine(fast_settings(database_url))
    try:
        with Session(engine) as db:
            rows = db.scalars(select(RateLimitBucket.count).where(RateLimitBucket.key.like("signup:ip:%")))
            return list(rows)
    finally:
        engine.dispose()
