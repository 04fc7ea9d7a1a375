"""Shared rig for the reliability suite: live servers, database snapshots, concurrency helpers.

Modules marked `slow` (fuzzing, races, faults, several processes) run only when
FRONTDESK_TEST_SLOW=1, which `make test-slow` sets; `make test` still runs the bad-input corpus.
Every server here listens on 127.0.0.1 and every load is bounded in count and time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import ColumnElement, Table, inspect, select, update
from sqlalchemy.engine import Engine

from frontdesk.db import make_engine
from frontdesk.models import (
    AuthEvent,
    Base,
    LoginToken,
    OutboxEmail,
    PasswordResetToken,
    RateLimitBucket,
    SignupToken,
    User,
    UserSession,
)
from frontdesk.settings import Settings
from tests.databases import empty_database
from tests.live import LiveServer, start_server
from tests.web.helpers import PASSWORD, latest_email, sign_up, token_in

RUN_SLOW = os.environ.get("FRONTDESK_TEST_SLOW") == "1"
T = TypeVar("T")

# Limits high enough that a test's own traffic from 127.0.0.1 never trips them by accident;
# tests of the limits themselves set their own.
ROOMY_LIMITS = {
    "FRONTDESK_LOGIN_FAILURES_PER_IP": "100000",
    "FRONTDESK_EMAILS_PER_IP": "100000",
    "FRONTDESK_EMAILS_PER_ADDRESS": "1000",
    "FRONTDESK_SIGNUPS_PER_IP": "100000",
    # the hash queue sheds load with 503; a race of 50 requests must reach the code that races
    "FRONTDESK_HASH_QUEUE_LIMIT": "1000",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if RUN_SLOW:
        return
    skip = pytest.mark.skip(reason="slow reliability test: run with `make test-slow` (FRONTDESK_TEST_SLOW=1)")
    for item in items:
        if "slow" in item.keywords and "reliability" in str(item.fspath):
            item.add_marker(skip)


# --- servers ------------------------------------------------------------------------------------


def serve(database_url: str, log_dir: Path, *, workers: int = 1, env: dict[str, str] | None = None) -> LiveServer:
    """`frontdesk serve` on loopback with roomy rate limits (overridable through `env`)."""
    return start_server(database_url, log_dir, workers=workers, extra_env={**ROOMY_LIMITS, **(env or {})})


@pytest.fixture
def pg_url(postgresql_database_url: str) -> str:
    """The session's throwaway PostgreSQL database, emptied for this test."""
    empty_database(postgresql_database_url)
    return postgresql_database_url


def browser(server: LiveServer, **kwargs: Any) -> httpx.Client:
    return server.client(**kwargs)


# --- accounts through the API -------------------------------------------------------------------


@dataclass
class Account:
    username: str
    email: str
    user_id: int
    cookie: str  # a live cookie session's token

    def cookie_header(self) -> dict[str, str]:
        return {"Cookie": f"frontdesk-session={self.cookie}"}


def new_account(server: LiveServer, username: str, email: str | None = None) -> Account:
    """Sign up and confirm through the API (the confirm gives the first cookie session)."""
    with server.client() as client:
        result = sign_up(client, username, email)
        cookie = client.cookies.get("frontdesk-session")
        assert cookie
        return Account(username, email or f"{username}@example.com", int(str(result["user_id"])), cookie)


def log_in_fresh(server: LiveServer, user: str, password: str = PASSWORD) -> str:
    """A new cookie session's token."""
    with server.client() as client:
        response = client.post("/v1/login", json={"user": user, "password": password})
        assert response.status_code == 200, response.text
        token = client.cookies.get("frontdesk-session")
        assert token
        return token


def api_key(server: LiveServer, account: Account, name: str = "test key") -> str:
    with server.client(headers=account.cookie_header()) as client:
        response = client.post("/v1/api-keys", json={"password": PASSWORD, "name": name})
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


def emailed_token(server: LiveServer, to: str, subject_has: str) -> str:
    with server.client() as client:
        return token_in(latest_email(client, to, subject_has))


def make_superuser(database_url: str, user_id: int) -> None:
    engine = make_engine(Settings(database_url=database_url))
    with engine.begin() as conn:
        conn.execute(update(User).where(User.id == user_id).values(is_superuser=True))
    engine.dispose()


# --- the database, seen from outside --------------------------------------------------------------

# What "changed" means: rows appearing or disappearing, and the columns that carry state.
# `last_seen`/`api_calls` (touches) and the outbox's delivery columns are left out on purpose:
# the background flusher and mail sender write them on their own schedule.
_WATCHED = {
    User: ("id", "username_key", "email_key", "hashed_password", "is_banned", "is_deleted", "is_superuser"),
    UserSession: ("id", "user_id", "deleted", "expiry", "is_api_key"),
    LoginToken: ("id", "used_at"),
    PasswordResetToken: ("id", "used_at"),
    SignupToken: ("id", "used_at"),
    OutboxEmail: ("id", "to_address", "kind"),
    AuthEvent: ("id", "event", "user_id"),
    RateLimitBucket: ("key", "window_start", "count"),
}

Snapshot = dict[str, list[tuple[object, ...]]]


def snapshot(engine: Engine) -> Snapshot:
    """Every watched row of every table, in primary-key order."""
    state: Snapshot = {}
    with engine.connect() as conn:
        for model, columns in _WATCHED.items():
            table = inspect(model).local_table
            assert isinstance(table, Table)
            cols = [table.c[name] for name in columns]
            rows = conn.execute(select(*cols).order_by(*table.primary_key.columns)).all()
            state[table.name] = [tuple(row) for row in rows]
    return state


def diff(before: Snapshot, after: Snapshot) -> dict[str, tuple[list[tuple[object, ...]], list[tuple[object, ...]]]]:
    """Per table: (rows gone, rows new or changed). Empty when nothing changed."""
    changes = {}
    for table in before:
        gone = [r for r in before[table] if r not in after[table]]
        new = [r for r in after[table] if r not in before[table]]
        if gone or new:
            changes[table] = (gone, new)
    return changes


def count_rows(engine: Engine, model: type[Base], *where: ColumnElement[bool]) -> int:
    from sqlalchemy import func

    with engine.connect() as conn:
        stmt = select(func.count()).select_from(inspect(model).local_table)
        for clause in where:
            stmt = stmt.where(clause)
        return int(conn.execute(stmt).scalar_one())


@pytest.fixture
def engine_for() -> Iterator[Callable[[str], Engine]]:
    """Engines on any URL, disposed at the end of the test."""
    made: list[Engine] = []

    def make(url: str) -> Engine:
        engine = make_engine(Settings(database_url=url))
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


# --- concurrency ----------------------------------------------------------------------------------


def all_at_once(n: int, action: Callable[[int], T], timeout: float = 60) -> list[T]:
    """Run `action(i)` for i in range(n) on n threads released together by a barrier."""
    barrier = threading.Barrier(n, timeout=timeout)

    def run(i: int) -> T:
        barrier.wait()
        return action(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n), timeout=timeout))


def statuses(responses: Iterable[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)
