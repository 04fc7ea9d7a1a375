"""The test rig: every database test runs on SQLite and on PostgreSQL (throwaway databases from
`tests/databases.py`), and any test can have a live `frontdesk serve` (`tests/live.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from frontdesk.clock import FrozenClock
from frontdesk.db import make_engine
from frontdesk.runtime import Frontdesk
from frontdesk.settings import Settings
from tests.databases import BACKENDS, empty_database, throwaway_database
from tests.fast import fast_settings
from tests.live import LiveServer, start_server


@pytest.fixture(scope="session")
def postgresql_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session; dropped at the end."""
    url, drop = throwaway_database("postgresql", tmp_path_factory.mktemp("postgresql"))
    yield url
    drop()


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url, _ = throwaway_database("sqlite", tmp_path_factory.mktemp("sqlite"))
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a migrated, empty database; the test runs once per backend."""
    url: str = request.getfixturevalue(f"{request.param}_database_url")
    empty_database(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return fast_settings(database_url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """`frontdesk serve` on a free loopback port, on the test's database (SQLite and PostgreSQL).
    For other settings, call `tests.live.start_server(url, tmp_path, extra_env=...)` and stop it."""
    server = start_server(database_url, tmp_path)
    yield server
    server.stop()


@pytest.fixture
def fd(settings: Settings, clock: FrozenClock) -> Iterator[Frontdesk]:
    """The library entry point on the test database, with a frozen clock and cheap Argon2."""
    instance = Frontdesk(settings, clock=clock)
    yield instance
    instance.close()
