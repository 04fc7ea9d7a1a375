"""The test rig: every database test runs on SQLite and on PostgreSQL.

PostgreSQL tests use a throwaway database per test session (created from the server named by
FRONTDESK_TEST_POSTGRES_URL), so parallel runs never share tables. They skip when no server
answers, unless FRONTDESK_TEST_REQUIRE_POSTGRES=1 (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from frontdesk.clock import FrozenClock
from frontdesk.db import make_engine, normalise_url
from frontdesk.migrate import upgrade
from frontdesk.models import Base
from frontdesk.runtime import Frontdesk
from frontdesk.settings import Settings

POSTGRES_URL = os.environ.get("FRONTDESK_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("FRONTDESK_TEST_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgresql"]

# Cheap Argon2 for tests only (production defaults live in Settings).
FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_cost_kib": 64, "argon2_parallelism": 1}


def _admin_engine() -> Engine:
    url = normalise_url(POSTGRES_URL).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


def _postgres_reachable() -> str | None:
    try:
        with _admin_engine().connect() as conn:
            conn.execute(text("select 1"))
        return None
    except Exception as exc:  # any failure means "no server here"
        return f"PostgreSQL not reachable at {make_url(POSTGRES_URL).render_as_string()}: {type(exc).__name__}"


@pytest.fixture(scope="session")
def postgresql_database_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session; dropped at the end."""
    problem = _postgres_reachable()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(problem + " (FRONTDESK_TEST_REQUIRE_POSTGRES=1)")
        pytest.skip(problem)
    name = f"frontdesk_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(Settings(database_url=url))
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "frontdesk.db"
    url = f"sqlite:///{path}"
    engine = make_engine(Settings(database_url=url))
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a migrated, empty database; the test runs once per backend."""
    url: str = request.getfixturevalue(f"{request.param}_database_url")
    _empty(url)
    return url


def _empty(url: str) -> None:
    engine = make_engine(Settings(database_url=url))
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, **FAST_ARGON2)  # type: ignore[arg-type]


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
def fd(settings: Settings, clock: FrozenClock) -> Iterator[Frontdesk]:
    """The library entry point on the test database, with a frozen clock and cheap Argon2."""
    instance = Frontdesk(settings, clock=clock)
    yield instance
    instance.close()
